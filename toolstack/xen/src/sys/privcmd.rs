//! `/dev/xen/privcmd`: hypercalls and foreign memory mappings from dom0.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

use super::hcall_buf::PAGE_SIZE;
use super::{IOC_NONE, ioc, ioctl_ptr, open_device};
use crate::error::XenError;

/// Path of the privcmd device.
pub const PRIVCMD_PATH: &str = "/dev/xen/privcmd";

/// `struct privcmd_hypercall` (`<xen/sys/privcmd.h>`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct PrivcmdHypercall {
    op: u64,
    arg: [u64; 5],
}

/// `struct privcmd_mmapbatch_v2`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct PrivcmdMmapbatchV2 {
    num: u32,
    dom: u16,
    addr: u64,
    arr: *const u64,
    err: *mut i32,
}

/// `struct privcmd_mmap_resource`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct PrivcmdMmapResource {
    dom: u16,
    ty: u32,
    id: u32,
    idx: u32,
    num: u64,
    addr: u64,
}

const IOCTL_PRIVCMD_HYPERCALL: libc::c_ulong =
    ioc(IOC_NONE, b'P', 0, std::mem::size_of::<PrivcmdHypercall>());
const IOCTL_PRIVCMD_MMAPBATCH_V2: libc::c_ulong =
    ioc(IOC_NONE, b'P', 4, std::mem::size_of::<PrivcmdMmapbatchV2>());
const IOCTL_PRIVCMD_MMAP_RESOURCE: libc::c_ulong = ioc(
    IOC_NONE,
    b'P',
    7,
    std::mem::size_of::<PrivcmdMmapResource>(),
);

/// An open privcmd device.
#[derive(Debug)]
pub struct Privcmd {
    file: File,
}

impl Privcmd {
    /// Opens `/dev/xen/privcmd` after checking that this is the Xen control domain.
    pub fn open() -> Result<Self, XenError> {
        let path = Path::new(PRIVCMD_PATH);
        if !path.exists() {
            // Without xenfs the capabilities file is missing too; the device is what matters.
            return Err(XenError::NoXen {
                path: path.to_owned(),
            });
        }
        if let Ok(caps) = std::fs::read_to_string("/proc/xen/capabilities")
            && !caps.contains("control_d")
        {
            return Err(XenError::NotControlDomain);
        }
        Ok(Privcmd {
            file: open_device(path)?,
        })
    }

    /// Issues hypercall `op` with raw arguments; returns Xen's non-negative result or errno.
    ///
    /// Pointer arguments must point into [`super::hcall_buf::HypercallBuf`]s that outlive
    /// the call: Xen dereferences them. This is why the function is crate-private: every
    /// public caller builds its arguments in such buffers.
    pub(crate) fn hypercall(&self, op: u32, args: [u64; 5]) -> Result<i64, i32> {
        let mut call = PrivcmdHypercall {
            op: u64::from(op),
            arg: args,
        };
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_HYPERCALL, &mut call)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// Maps the guest frames `gfns` of domain `dom` into this process.
    ///
    /// Returns the mapping and one status per frame (0, or a negative errno for frames that
    /// could not be mapped; their pages fault on access).
    pub fn map_foreign(
        &self,
        dom: u16,
        gfns: &[u64],
        writable: bool,
    ) -> Result<(ForeignMapping, Vec<i32>), XenError> {
        if gfns.is_empty() {
            return Err(XenError::Invalid("no frames to map".into()));
        }
        let num = u32::try_from(gfns.len())
            .map_err(|_| XenError::Invalid(format!("{} frames is too many", gfns.len())))?;
        let map = self.reserve(gfns.len() * PAGE_SIZE, writable)?;
        let mut errs = vec![0i32; gfns.len()];
        let mut batch = PrivcmdMmapbatchV2 {
            num,
            dom,
            addr: map.addr(),
            arr: gfns.as_ptr(),
            err: errs.as_mut_ptr(),
        };
        // The kernel reads `num` frames from `arr` and writes `num` statuses to `err`; both
        // vectors have exactly that length and outlive the call.
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAPBATCH_V2, &mut batch).map_err(|e| {
            XenError::Hypercall {
                op: "privcmd mmapbatch_v2",
                source: e,
            }
        })?;
        Ok((map, errs))
    }

    /// Number of frames of resource `ty`/`id` of domain `dom` (XENMEM_acquire_resource query).
    pub fn resource_size(&self, dom: u16, ty: u32, id: u32) -> Result<u64, XenError> {
        let mut r = PrivcmdMmapResource {
            dom,
            ty,
            id,
            ..Default::default()
        };
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAP_RESOURCE, &mut r).map_err(|e| {
            XenError::Hypercall {
                op: "privcmd mmap_resource (size query)",
                source: e,
            }
        })?;
        Ok(r.num)
    }

    /// Maps `num` frames of resource `ty`/`id` (e.g. a grant table or ioreq server) of
    /// domain `dom`, starting at frame `idx`.
    pub fn map_resource(
        &self,
        dom: u16,
        ty: u32,
        id: u32,
        idx: u32,
        num: u64,
    ) -> Result<ForeignMapping, XenError> {
        let len = usize::try_from(num)
            .ok()
            .and_then(|n| n.checked_mul(PAGE_SIZE))
            .filter(|&l| l > 0)
            .ok_or_else(|| XenError::Invalid(format!("cannot map {num} resource frames")))?;
        let map = self.reserve(len, true)?;
        let mut r = PrivcmdMmapResource {
            dom,
            ty,
            id,
            idx,
            num,
            addr: map.addr(),
        };
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAP_RESOURCE, &mut r).map_err(|e| {
            XenError::Hypercall {
                op: "privcmd mmap_resource",
                source: e,
            }
        })?;
        Ok(map)
    }

    /// Reserves a privcmd VMA that the mapping ioctls then fill.
    fn reserve(&self, len: usize, writable: bool) -> Result<ForeignMapping, XenError> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping of the privcmd device at a kernel-chosen address;
        // it aliases no Rust object and is checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(XenError::Device {
                path: PRIVCMD_PATH.into(),
                source: std::io::Error::last_os_error(),
            });
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| XenError::Device {
            path: PRIVCMD_PATH.into(),
            source: std::io::Error::other("mmap returned NULL"),
        })?;
        Ok(ForeignMapping { ptr, len })
    }
}

/// Memory of another domain mapped into this process; unmapped on drop.
#[derive(Debug)]
pub struct ForeignMapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl ForeignMapping {
    /// Start address of the mapping.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: mappings have at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Reads `buf.len()` bytes at `offset` with volatile loads (the other domain may write
    /// concurrently, so the bytes are a snapshot, never a Rust reference into the page).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        assert!(
            offset + buf.len() <= self.len,
            "read beyond foreign mapping"
        );
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); volatile because another domain owns it.
            *b = unsafe { std::ptr::read_volatile(self.ptr.as_ptr().add(offset + i)) };
        }
    }

    /// Writes `data` at `offset` with volatile stores.
    pub fn write(&self, offset: usize, data: &[u8]) {
        assert!(
            offset + data.len() <= self.len,
            "write beyond foreign mapping"
        );
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked above); volatile because another domain reads it.
            unsafe { std::ptr::write_volatile(self.ptr.as_ptr().add(offset + i), *b) };
        }
    }
}

impl Drop for ForeignMapping {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping created in `reserve`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_structs_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<PrivcmdHypercall>(), 48);
        assert_eq!(std::mem::size_of::<PrivcmdMmapbatchV2>(), 32);
        assert_eq!(std::mem::size_of::<PrivcmdMmapResource>(), 32);
        assert_eq!(IOCTL_PRIVCMD_HYPERCALL, 0x305000);
    }
}
