//! Xen control: hypercalls through /dev/xen/privcmd, domain control, builders.
