//! Where the daemon is, resolved exactly as libxenstore's `xs_open(0)` does.
//!
//! 1. The daemon socket: `$XENSTORED_PATH`, else `$XENSTORED_RUNDIR/socket`, else
//!    `/var/run/xenstored/socket` (the same file as `/run/xenstored/socket` on Debian).
//! 2. If that fails, the device: `$XENSTORED_PATH` again if set, else `/dev/xen/xenbus`.
//!
//! Each candidate is `stat()`ed: a socket is connected to, anything else is opened
//! read/write as a device.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Default run directory (`XEN_RUN_STORED`).
pub const DEFAULT_RUNDIR: &str = "/var/run/xenstored";
/// Default device (`xs_domain_dev()` on Linux).
pub const DEFAULT_DEVICE: &str = "/dev/xen/xenbus";

/// An opened endpoint.
#[derive(Debug)]
pub enum Stream {
    /// A unix socket to the daemon.
    Socket(UnixStream),
    /// The kernel's xenbus device.
    Device(File),
}

/// The candidate paths in the order libxenstore tries them, given the environment.
pub fn candidates(xenstored_path: Option<&str>, rundir: Option<&str>) -> [PathBuf; 2] {
    let socket = match (xenstored_path, rundir) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(r)) => Path::new(r).join("socket"),
        (None, None) => Path::new(DEFAULT_RUNDIR).join("socket"),
    };
    let device = PathBuf::from(xenstored_path.unwrap_or(DEFAULT_DEVICE));
    [socket, device]
}

/// Opens `path` the way libxenstore's `get_handle` does.
pub fn open_path(path: &Path) -> std::io::Result<Stream> {
    let meta = std::fs::metadata(path)?;
    if meta.file_type().is_socket() {
        Ok(Stream::Socket(UnixStream::connect(path)?))
    } else {
        Ok(Stream::Device(
            OpenOptions::new().read(true).write(true).open(path)?,
        ))
    }
}

/// Resolves from the process environment and opens the first candidate that works.
/// On failure returns each path tried with its error.
pub fn open_default() -> Result<(PathBuf, Stream), Vec<(PathBuf, std::io::Error)>> {
    let xp = std::env::var("XENSTORED_PATH").ok();
    let rd = std::env::var("XENSTORED_RUNDIR").ok();
    let mut errors = Vec::new();
    for p in candidates(xp.as_deref(), rd.as_deref()) {
        match open_path(&p) {
            Ok(s) => return Ok((p, s)),
            Err(e) => errors.push((p, e)),
        }
    }
    Err(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_order_matches_libxenstore() {
        assert_eq!(
            candidates(None, None),
            [
                PathBuf::from("/var/run/xenstored/socket"),
                PathBuf::from("/dev/xen/xenbus")
            ]
        );
        assert_eq!(
            candidates(None, Some("/tmp/r")),
            [
                PathBuf::from("/tmp/r/socket"),
                PathBuf::from("/dev/xen/xenbus")
            ]
        );
        assert_eq!(
            candidates(Some("/tmp/s"), Some("/tmp/r")),
            [PathBuf::from("/tmp/s"), PathBuf::from("/tmp/s")]
        );
    }

    #[test]
    fn non_socket_is_opened_as_device() {
        let f = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(open_path(f.path()).unwrap(), Stream::Device(_)));
        assert!(open_path(Path::new("/nonexistent/xs")).is_err());
    }
}
