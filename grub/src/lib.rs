//! Boot configuration for installing Xen: /etc/default/grub edits and the dom0_mem grammar.
