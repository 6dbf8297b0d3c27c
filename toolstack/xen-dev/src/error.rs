//! The typed errors of the device layer.

use std::io;

/// Everything that can go wrong opening or driving a `/dev/xen/*` device.
///
/// Each user maps this onto its own error type; [`XenDevError::op`] and
/// [`XenDevError::into_io_error`] serve users whose errors carry an operation name and an
/// [`io::Error`].
#[derive(Debug, thiserror::Error)]
pub enum XenDevError {
    /// The device node does not exist: not running on Xen, or the driver is not loaded.
    #[error(
        "{path} does not exist: this is not a Xen domain, or its driver is not loaded \
         (boot the Xen entry in GRUB; `modprobe xen-evtchn xen-gntdev xen-gntalloc xen-privcmd`)"
    )]
    Missing {
        /// The device node.
        path: &'static str,
    },
    /// The device exists but this process may not open it.
    #[error("permission denied opening {path}: run as root in dom0 (try sudo)")]
    PermissionDenied {
        /// The device node.
        path: &'static str,
    },
    /// Xen runs, but this domain is not the control domain (privcmd needs dom0).
    #[error(
        "this domain is not the Xen control domain (/proc/xen/capabilities has no \
         'control_d'); run in dom0"
    )]
    NotControlDomain,
    /// Opening the device failed for another reason.
    #[error("opening {path}: {source}")]
    Open {
        /// The device node.
        path: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An ioctl, read, write or mmap on an open device failed.
    #[error("{op} failed: {source}")]
    Io {
        /// The operation, e.g. `"IOCTL_EVTCHN_BIND_INTERDOMAIN"`.
        op: &'static str,
        /// The errno the kernel (or Xen through it) returned.
        #[source]
        source: io::Error,
    },
    /// An argument was rejected before reaching the kernel.
    #[error("{op}: {detail}")]
    Invalid {
        /// The operation.
        op: &'static str,
        /// What is wrong with the argument.
        detail: String,
    },
    /// The kernel answered with a value that makes no sense (a port beyond `u32`, ...).
    #[error("{op}: unexpected answer from the kernel: {detail}")]
    Unexpected {
        /// The operation.
        op: &'static str,
        /// The value and why it is wrong.
        detail: String,
    },
}

impl XenDevError {
    /// Classifies a failure to open device `path`.
    pub(crate) fn open(path: &'static str, source: io::Error) -> XenDevError {
        match source.kind() {
            io::ErrorKind::NotFound => XenDevError::Missing { path },
            io::ErrorKind::PermissionDenied => XenDevError::PermissionDenied { path },
            _ => XenDevError::Open { path, source },
        }
    }

    /// A closure turning an [`io::Error`] of operation `op` into [`XenDevError::Io`].
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> XenDevError {
        move |source| XenDevError::Io { op, source }
    }

    /// The device or operation the error is about (a device path for open failures).
    pub fn op(&self) -> &'static str {
        match self {
            XenDevError::Missing { path }
            | XenDevError::PermissionDenied { path }
            | XenDevError::Open { path, .. } => path,
            XenDevError::NotControlDomain => "/proc/xen/capabilities",
            XenDevError::Io { op, .. }
            | XenDevError::Invalid { op, .. }
            | XenDevError::Unexpected { op, .. } => op,
        }
    }

    /// The error as an [`io::Error`]: the OS error itself where there is one, otherwise a
    /// new one of the fitting kind carrying this error (so its message is not lost).
    pub fn into_io_error(self) -> io::Error {
        match self {
            XenDevError::Open { source, .. } | XenDevError::Io { source, .. } => source,
            XenDevError::Missing { .. } => io::Error::new(io::ErrorKind::NotFound, self),
            XenDevError::PermissionDenied { .. } | XenDevError::NotControlDomain => {
                io::Error::new(io::ErrorKind::PermissionDenied, self)
            }
            XenDevError::Invalid { .. } => io::Error::new(io::ErrorKind::InvalidInput, self),
            XenDevError::Unexpected { .. } => io::Error::new(io::ErrorKind::InvalidData, self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_failures_are_classified_by_kind() {
        let p = "/dev/xen/evtchn";
        let e = XenDevError::open(p, io::Error::from_raw_os_error(libc::ENOENT));
        assert!(matches!(e, XenDevError::Missing { path } if path == p));
        assert!(e.to_string().contains("modprobe"), "{e}");
        let e = XenDevError::open(p, io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(e, XenDevError::PermissionDenied { .. }));
        let e = XenDevError::open(p, io::Error::from_raw_os_error(libc::ENXIO));
        assert!(matches!(e, XenDevError::Open { .. }));
        assert_eq!(e.op(), p);
    }

    #[test]
    fn into_io_error_keeps_the_os_errno_and_the_message() {
        let e = XenDevError::Io {
            op: "IOCTL_EVTCHN_NOTIFY",
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        assert_eq!(e.op(), "IOCTL_EVTCHN_NOTIFY");
        assert_eq!(e.into_io_error().raw_os_error(), Some(libc::EINVAL));
        let e = XenDevError::Missing {
            path: "/dev/xen/gntdev",
        }
        .into_io_error();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/dev/xen/gntdev"), "{e}");
    }
}
