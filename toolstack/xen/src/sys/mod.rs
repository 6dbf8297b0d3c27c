//! The Linux Xen devices under `/dev/xen/`.
//!
//! The device wrappers (evtchn, gntdev/gntalloc, privcmd) live in crate `rxl-xendev`, which
//! rxenstored shares; this module re-exports them under their historical paths, maps their
//! [`XenDevError`] onto [`XenError`], and owns the hypercall buffers, which only the
//! toolstack needs.

pub mod evtchn;
pub mod gnt;
pub mod hcall_buf;
pub mod privcmd;

use std::fs::File;

use rxl_xendev::XenDevError;

use crate::error::XenError;

impl From<XenDevError> for XenError {
    fn from(e: XenDevError) -> XenError {
        match e {
            XenDevError::Missing { path } => XenError::NoXen { path: path.into() },
            XenDevError::PermissionDenied { path } => XenError::NotRoot { path: path.into() },
            XenDevError::NotControlDomain => XenError::NotControlDomain,
            XenDevError::Open { path, source } => XenError::Device {
                path: path.into(),
                source,
            },
            XenDevError::Io { op, source } => XenError::Hypercall { op, source },
            XenDevError::Invalid { op, detail } => XenError::Invalid(format!("{op}: {detail}")),
            XenDevError::Unexpected { op, detail } => XenError::Protocol(format!("{op}: {detail}")),
        }
    }
}

/// Opens a Xen device read-write, turning the usual failures into their typed errors.
pub(crate) fn open_device(path: &'static str) -> Result<File, XenError> {
    Ok(rxl_xendev::open_device(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_keep_their_meaning_as_xen_errors() {
        let e = XenError::from(XenDevError::Missing {
            path: "/dev/xen/privcmd",
        });
        assert!(
            matches!(&e, XenError::NoXen { path } if path.ends_with("privcmd")),
            "{e}"
        );
        let e = XenError::from(XenDevError::PermissionDenied {
            path: "/dev/xen/evtchn",
        });
        assert!(matches!(e, XenError::NotRoot { .. }), "{e}");
        let e = XenError::from(XenDevError::Io {
            op: "IOCTL_PRIVCMD_MMAPBATCH_V2",
            source: std::io::Error::from_raw_os_error(libc::EFAULT),
        });
        assert!(
            matches!(&e, XenError::Hypercall { op: "IOCTL_PRIVCMD_MMAPBATCH_V2", source }
                if source.raw_os_error() == Some(libc::EFAULT)),
            "{e}"
        );
        assert!(matches!(
            XenError::from(XenDevError::NotControlDomain),
            XenError::NotControlDomain
        ));
    }
}
