//! Sub-grammars of the device and CPU specs inside xl.cfg strings (disk, vif, pci, ...).
