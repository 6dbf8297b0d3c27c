//! The typed errors of the Xen control layer.

use std::path::PathBuf;

/// Everything that can go wrong talking to Xen from dom0.
#[derive(Debug, thiserror::Error)]
pub enum XenError {
    /// No hypervisor interface on this machine at all.
    #[error(
        "Xen is not running here: {path} does not exist (boot the Xen entry in GRUB, \
         or load the xen-privcmd module: `modprobe xen-privcmd`)"
    )]
    NoXen {
        /// The device or file that is missing.
        path: PathBuf,
    },
    /// Xen runs, but this is not the control domain.
    #[error(
        "this domain is not the Xen control domain (/proc/xen/capabilities has no \
         'control_d'); run rxl in dom0"
    )]
    NotControlDomain,
    /// The caller lacks the privilege to open a Xen device.
    #[error("permission denied opening {path}: rxl must run as root in dom0 (try sudo)")]
    NotRoot {
        /// The device that refused.
        path: PathBuf,
    },
    /// The hypervisor speaks a domctl/sysctl interface this build of rxl does not.
    #[error(
        "unsupported Xen {xen_version}: it speaks the {iface} interface version {found}, \
         rxl was built for {expected:#04x} (Xen 4.17); use a Xen 4.17 hypervisor or an rxl \
         built for this one"
    )]
    UnsupportedXen {
        /// "4.18.0" as the hypervisor reports it.
        xen_version: String,
        /// "domctl" or "sysctl".
        iface: &'static str,
        /// The version the hypervisor accepted, "0x16", or "none of 0x10..0x20".
        found: String,
        /// The version compiled into rxl.
        expected: u32,
    },
    /// A Xen device could not be opened or used for another reason.
    #[error("{path}: {source}")]
    Device {
        /// The device.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A hypercall failed.
    #[error("hypercall {op} failed: {source}")]
    Hypercall {
        /// Which operation, e.g. "domctl getdomaininfo".
        op: &'static str,
        /// The errno Xen (or privcmd) returned.
        #[source]
        source: std::io::Error,
    },
    /// No domain with this id exists.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// No domain has this name.
    #[error("domain '{0}' does not exist (see `rxl list`)")]
    UnknownDomain(String),
    /// Xenstore failed.
    #[error("xenstore: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A value the hypervisor returned makes no sense.
    #[error("unexpected answer from Xen: {0}")]
    Protocol(String),
    /// A request was invalid before reaching Xen.
    #[error("{0}")]
    Invalid(String),
    /// A domain's console cannot be reached or served.
    #[error("console of domain {domid}: {why}")]
    Console {
        /// The domain.
        domid: u32,
        /// What went wrong and what to do.
        why: String,
    },
}

impl XenError {
    /// A hypercall error from an errno value.
    pub(crate) fn hcall(op: &'static str, errno: i32) -> Self {
        XenError::Hypercall {
            op,
            source: std::io::Error::from_raw_os_error(errno),
        }
    }

    /// The errno of a failed hypercall, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            XenError::Hypercall { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = XenError> = std::result::Result<T, E>;
