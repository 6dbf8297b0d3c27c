//! Boot configuration for installing Xen: `/etc/default/grub` edits and the dom0_mem grammar.
//!
//! The crate owns what `rxl grub` needs and nothing about running domains:
//! - [`xen_size`] and [`dom0_mem`]: Xen's number/size rules and the exact x86 `dom0_mem=` grammar
//!   with [`dom0_mem::Dom0Mem::resolve`] (reused by the control plane's `rxl dom0-mem`);
//! - [`xen_cmdline`]: splitting a Xen command line and validating options whose grammar is known;
//! - [`vars`] and [`defaults`]: `/etc/default/grub` + `grub.d/*.cfg` as shell-variable files,
//!   edited in place, with effective values computed by `sh` as `grub-mkconfig` sources them;
//! - [`atomic`]: all-or-nothing multi-file writes with `.bak` copies and unified diffs;
//! - [`distro`], [`boot`], [`grub_cfg`], [`running`], [`xl_conf`]: what the root and the running
//!   system look like;
//! - [`xen_first`], [`grubenv`]: the RHEL-family default (Xen scripts first, `saved_entry`);
//! - [`edit`], [`apply`], [`status`]: the `rxl grub` verbs.

pub mod apply;
pub mod atomic;
pub mod boot;
pub mod defaults;
pub mod distro;
pub mod dom0_mem;
pub mod edit;
pub mod grub_cfg;
pub mod grubenv;
pub mod running;
pub mod status;
pub mod vars;
pub mod xen_cmdline;
pub mod xen_first;
pub mod xen_size;
pub mod xl_conf;
