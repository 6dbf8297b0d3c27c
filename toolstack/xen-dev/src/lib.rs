//! Safe wrappers over the Linux Xen devices under `/dev/xen/`, shared by the toolstack
//! (`rxl-xen`) and the xenstore daemon (`rxl-xenstore`).
//!
//! | device | module | what it does |
//! | --- | --- | --- |
//! | `/dev/xen/evtchn` | [`evtchn`] | bind, notify, unbind and wait for event channels |
//! | `/dev/xen/gntdev` | [`grant`] | map pages other domains grant to us |
//! | `/dev/xen/gntalloc` | [`grant`] | grant our pages to other domains |
//! | `/dev/xen/privcmd` | [`privcmd`] | hypercalls, foreign-frame and resource mappings |
//! | `/dev/xen/xenbus_backend` | [`xenbus_backend`] | dom0's own xenstore page and port |
//!
//! Every `unsafe` of the two users' device access lives here, each behind a safe type that
//! owns what it maps (pages are unmapped and grants released on drop). Errors are one typed
//! [`XenDevError`]; each user maps it onto its own error type.
//!
//! # Why the ioctl structs are declared here, not taken from `xen-sys`
//!
//! `xen-sys` binds the *hypervisor's* public interface (`xen.h`, `domctl.h`, ...). The ioctl
//! argument structs belong to the *Linux* drivers' UAPI headers (`<xen/evtchn.h>`,
//! `<xen/gntdev.h>`, `<xen/gntalloc.h>` from linux-libc-dev, `<xen/sys/privcmd.h>` and
//! `<xen/sys/xenbus_dev.h>` from libxen-dev), which `xen-sys` does not bind — and the
//! kernel's `xen/privcmd.h` cannot even be included outside a kernel tree. They are ten
//! small `#[repr(C)]` structs, so they are written out in [`abi`], using `xen-sys`'s scalar
//! types (`domid_t`, `grant_ref_t`, `evtchn_port_t`) where the headers do, and unit tests
//! pin every size, offset and request number to what a C program including those headers
//! printed on Debian 12 (the program is reproduced in `abi.rs`).
//!
//! # Why hand-written
//!
//! No crate on the registry this project uses wraps these devices (`xen-ioctls`,
//! `xen-bindings` and `xen-store` are not published there; checked with `cargo info` in
//! November 2026), and the ioctls are few and stable UAPI.
//!
//! Raw `libc::ioctl` is used through two small helpers rather than nix's `ioctl_*_bad!`
//! macros: the macros generate one `unsafe fn` per request, and the safety argument is the
//! same for all of them, so one audited helper is smaller than fourteen macro calls.

pub mod abi;
pub mod error;
pub mod evtchn;
pub mod grant;
mod ioctl;
pub mod privcmd;
pub mod xenbus_backend;

pub use error::XenDevError;
pub use evtchn::EventChannels;
pub use grant::{GrantAlloc, GrantDev, GrantPage};
pub use ioctl::open_device;
pub use privcmd::{ForeignMapping, Privcmd};
pub use xenbus_backend::BackendPage;

/// Size of a Xen page on x86 (and of every mapping this crate makes per frame).
pub const PAGE_SIZE: usize = 4096;
