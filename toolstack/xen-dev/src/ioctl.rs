//! The few raw system calls every device module needs: open, ioctl, mmap, munmap.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use crate::XenDevError;

/// `_IOC(_IOC_NONE, ty, nr, size)` as Linux encodes it on x86. The Xen drivers declare
/// their requests with `_IOC_NONE` even when they pass data, so the direction bits stay 0
/// while the size bits are set — nix's typed `request_code_*` helpers do not fit.
pub(crate) const fn ioc_none(ty: u8, nr: u8, size: usize) -> libc::c_ulong {
    ((size as libc::c_ulong) << 16) | ((ty as libc::c_ulong) << 8) | nr as libc::c_ulong
}

/// Opens a Xen device node read-write (and close-on-exec), classifying the usual failures:
/// a missing node is [`XenDevError::Missing`], a refused one
/// [`XenDevError::PermissionDenied`].
pub fn open_device(path: &'static str) -> Result<File, XenDevError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| XenDevError::open(path, e))
}

/// Issues ioctl `req` with a pointer to `arg`; returns the non-negative result.
///
/// The caller picks `req` so that the kernel reads and writes at most `size_of::<T>()`
/// bytes of `arg`, plus whatever memory the pointers inside `arg` describe, which the
/// caller vouches for separately at its call site.
pub(crate) fn ioctl_ptr<T>(file: &File, req: libc::c_ulong, arg: &mut T) -> io::Result<i64> {
    // SAFETY: `arg` is a live, exclusively borrowed `T` for the duration of the call and the
    // request number encodes that size; the fd is owned by `file` and stays open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), req, std::ptr::from_mut(arg)) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i64::from(rc))
    }
}

/// Issues ioctl `req` whose argument is a plain integer (or unused).
pub(crate) fn ioctl_val(file: &File, req: libc::c_ulong, arg: libc::c_ulong) -> io::Result<i64> {
    // SAFETY: the argument is passed by value; no memory is shared with the kernel.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), req, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i64::from(rc))
    }
}

/// Maps `len` bytes of device `file` at `offset`, shared, at a kernel-chosen address.
pub(crate) fn mmap_shared(
    file: &File,
    len: usize,
    offset: u64,
    writable: bool,
    op: &'static str,
) -> Result<NonNull<u8>, XenDevError> {
    let offset = libc::off_t::try_from(offset).map_err(|_| XenDevError::Unexpected {
        op,
        detail: format!("mapping offset {offset:#x} beyond off_t"),
    })?;
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    // SAFETY: a fresh shared mapping at an address the kernel picks, so it aliases no Rust
    // object; the result is checked for MAP_FAILED and owned (and unmapped) by the caller.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(XenDevError::Io {
            op,
            source: io::Error::last_os_error(),
        });
    }
    NonNull::new(p.cast()).ok_or_else(|| XenDevError::Unexpected {
        op,
        detail: "mmap returned NULL".into(),
    })
}

/// Unmaps a mapping made by [`mmap_shared`].
///
/// # Safety
///
/// `ptr`/`len` must be exactly one mapping returned by [`mmap_shared`], not yet unmapped,
/// and no reference into it may be used afterwards.
pub(crate) unsafe fn munmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: guaranteed by the caller (see above).
    if unsafe { libc::munmap(ptr.as_ptr().cast(), len) } != 0 {
        tracing::warn!("munmap: {}", io::Error::last_os_error());
    }
}
