//! Xen control from dom0: hypercalls through `/dev/xen/privcmd`, domain control, and the
//! xl-compatible control plane (`rxl info`, `list`, `pause`, `mem-set`, ...).
//!
//! Layers, bottom up:
//! - [`sys`]: the Linux Xen devices (privcmd, hypercall buffers, evtchn, gntdev/gntalloc);
//!   all `unsafe` code lives there, in small safe wrappers;
//! - [`ctl`]: typed domctl/sysctl/xen_version calls with interface-version probing;
//! - [`store`]: the xenstore requests the control verbs make (over `rxl-xenstore`'s client);
//! - [`control`]: the verbs' logic (name lookup, memory targets, vCPU online state);
//! - [`report`]: xl's text formats, as pure functions;
//! - [`devices`]: PV disks and network interfaces of guests (xenstore nodes, hotplug scripts);
//! - [`backend`]: [`XenBackend`], the `rxl_hypervisor::Backend` for Xen.

pub mod backend;
pub mod build;
pub mod console;
pub mod control;
pub mod ctl;
pub mod devices;
pub mod dom0_mem;
pub mod error;
pub mod report;
pub mod store;
pub mod sys;

pub use backend::XenBackend;
pub use control::Control;
pub use ctl::Xen;
pub use error::XenError;
