//! The builder's typed errors.

use super::image::ImageError;
use super::pv::layout::TooSmall;
use crate::error::XenError;

/// Why `rxl create` could not build a domain.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A key the builder needs is missing or unusable.
    #[error("{key}: {why}")]
    Config {
        /// The xl.cfg key.
        key: &'static str,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// Another domain has the name.
    #[error(
        "name={name:?}: domain {domid} already has this name; pick another name or \
             `rxl destroy {name}` first"
    )]
    NameInUse {
        /// The name.
        name: String,
        /// The domain holding it.
        domid: u32,
    },
    /// The kernel or ramdisk is unusable.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A PVH guest's kernel has no 32-bit entry point.
    #[error(
        "kernel {path} has no XEN_ELFNOTE_PHYS32_ENTRY note, so it cannot boot as PVH \
             (Linux needs CONFIG_PVH=y); use type=\"pv\" or a PVH-capable kernel"
    )]
    NoPvhEntry {
        /// The kernel.
        path: String,
    },
    /// A PV guest's kernel lacks the Xen notes.
    #[error(
        "kernel {path} has no Xen ELF notes (no XEN_ELFNOTE_VIRT_BASE/ENTRY), so it is not \
             a Xen PV kernel (Linux needs CONFIG_XEN_PV=y)"
    )]
    NotXenPv {
        /// The kernel.
        path: String,
    },
    /// The guest's memory cannot hold its boot data.
    #[error(transparent)]
    GuestTooSmall(#[from] TooSmall),
    /// The host has too little free memory.
    #[error(
        "not enough free memory: the guest needs {need_kib} KiB, Xen has {free_kib} KiB \
             free ({missing_kib} KiB missing); {advice}"
    )]
    HostTooSmall {
        /// KiB the guest needs.
        need_kib: u64,
        /// KiB free.
        free_kib: u64,
        /// Difference.
        missing_kib: u64,
        /// Why rxl did not (or could not) balloon dom0, and what to change.
        advice: String,
    },
    /// A hypercall failed.
    #[error("{step}: {source}")]
    Xen {
        /// The build step.
        step: &'static str,
        /// The hypercall error.
        #[source]
        source: XenError,
    },
    /// Xenstore failed.
    #[error("{step}: xenstore: {source}")]
    Store {
        /// The build step.
        step: &'static str,
        /// The client error.
        #[source]
        source: rxl_xenstore::client::ClientError,
    },
    /// A disk or vif could not be added (or a device list is not supported).
    #[error(transparent)]
    Device(#[from] crate::devices::DeviceError),
    /// `RXL_FAULT_INJECT` named this step.
    #[error("injected failure before step {0:?} (RXL_FAULT_INJECT)")]
    Injected(&'static str),
    /// The build failed and so did part of the cleanup.
    #[error("{error} (cleanup also failed: {})", problems.join("; "))]
    CleanupFailed {
        /// The build error.
        error: Box<BuildError>,
        /// What could not be undone.
        problems: Vec<String>,
    },
}

/// Adds the step to a hypercall error.
pub(crate) fn at(step: &'static str) -> impl FnOnce(XenError) -> BuildError {
    move |source| BuildError::Xen { step, source }
}

/// Adds the step to a xenstore error.
pub(crate) fn xs_at(
    step: &'static str,
) -> impl FnOnce(rxl_xenstore::client::ClientError) -> BuildError {
    move |source| BuildError::Store { step, source }
}
