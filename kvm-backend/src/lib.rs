//! rxl-kvm: a rust-vmm microVM on kvm-ioctls that boots xl.cfg domain files.
