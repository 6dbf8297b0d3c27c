//! The Linux Xen devices under `/dev/xen/`: every `unsafe` of the crate lives in this module,
//! each in a small safe wrapper.

pub mod evtchn;
pub mod gnt;
pub mod hcall_buf;
pub mod privcmd;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::XenError;

/// `_IOC(dir, type, nr, size)` as Linux defines it on x86 (the Xen headers use `_IOC` directly
/// with `_IOC_NONE` even for commands that pass data, so nix's typed macros do not fit).
pub(crate) const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> libc::c_ulong {
    ((dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32) as libc::c_ulong
}

/// `_IOC_NONE`.
pub(crate) const IOC_NONE: u32 = 0;

/// Opens a Xen device read-write, turning the usual failures into their typed errors.
pub(crate) fn open_device(path: &Path) -> Result<File, XenError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => XenError::NoXen {
                path: path.to_owned(),
            },
            io::ErrorKind::PermissionDenied => XenError::NotRoot {
                path: path.to_owned(),
            },
            _ => XenError::Device {
                path: path.to_owned(),
                source: e,
            },
        })
}

/// Issues an ioctl whose argument is a pointer to `arg`, returning the non-negative result.
///
/// The caller picks `req` so that the kernel reads/writes at most `size_of::<T>()` bytes of
/// `arg` (plus whatever memory the pointers inside `arg` describe, which the caller vouches
/// for separately).
pub(crate) fn ioctl_ptr<T>(file: &File, req: libc::c_ulong, arg: &mut T) -> io::Result<i64> {
    // SAFETY: `arg` is a live, exclusively borrowed `T` for the duration of the call, and the
    // request number encodes that size; the fd is owned by `file` and stays open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), req, arg as *mut T) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i64::from(rc))
    }
}

/// Issues an ioctl whose argument is a plain integer.
pub(crate) fn ioctl_val(file: &File, req: libc::c_ulong, arg: libc::c_ulong) -> io::Result<i64> {
    // SAFETY: the argument is passed by value; no memory is shared with the kernel.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), req, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i64::from(rc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioc_matches_the_c_headers() {
        // Values printed by a C program including <xen/sys/privcmd.h> etc. on Debian 12.
        assert_eq!(ioc(IOC_NONE, b'P', 0, 48), 0x305000);
        assert_eq!(ioc(IOC_NONE, b'P', 4, 32), 0x205004);
        assert_eq!(ioc(IOC_NONE, b'P', 7, 32), 0x205007);
        assert_eq!(ioc(IOC_NONE, b'E', 1, 8), 0x84501);
        assert_eq!(ioc(IOC_NONE, b'E', 5, 0), 0x4505);
        assert_eq!(ioc(IOC_NONE, b'G', 0, 24), 0x184700);
        assert_eq!(ioc(IOC_NONE, b'G', 6, 16), 0x104706);
    }
}
