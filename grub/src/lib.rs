//! Boot configuration for installing Xen: `/etc/default/grub` edits and the dom0_mem grammar.
//!
//! The crate owns what `rxl grub` needs and nothing about running domains:
//! - [`xen_size`] and [`dom0_mem`]: Xen's number/size rules and the exact x86 `dom0_mem=` grammar
//!   (reusable by `rxl dom0-mem`);
//! - [`xen_cmdline`]: splitting and validating a Xen command line option by option;

pub mod apply;
pub mod atomic;
pub mod boot;
pub mod defaults;
pub mod distro;
pub mod dom0_mem;
pub mod edit;
pub mod grub_cfg;
pub mod running;
pub mod status;
pub mod vars;
pub mod xen_cmdline;
pub mod xen_size;
pub mod xl_conf;
