//! `/dev/xen/privcmd`: hypercalls and foreign memory mappings from dom0.

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;

use crate::abi::{
    IOCTL_PRIVCMD_HYPERCALL, IOCTL_PRIVCMD_MMAP_RESOURCE, IOCTL_PRIVCMD_MMAPBATCH_V2,
    PrivcmdHypercall, PrivcmdMmapResource, PrivcmdMmapbatchV2,
};
use crate::ioctl::{ioctl_ptr, mmap_shared, munmap, open_device};
use crate::{PAGE_SIZE, XenDevError};

/// Path of the privcmd device.
pub const PRIVCMD_PATH: &str = "/dev/xen/privcmd";

/// Where xenfs says which domain this is.
const CAPABILITIES: &str = "/proc/xen/capabilities";

/// An open privcmd device.
#[derive(Debug)]
pub struct Privcmd {
    file: File,
}

impl Privcmd {
    /// Opens `/dev/xen/privcmd` after checking that this is the Xen control domain.
    pub fn open() -> Result<Privcmd, XenDevError> {
        if !Path::new(PRIVCMD_PATH).exists() {
            // Without xenfs the capabilities file is missing too; the device is what matters.
            return Err(XenDevError::Missing { path: PRIVCMD_PATH });
        }
        if let Ok(caps) = std::fs::read_to_string(CAPABILITIES)
            && !is_control_domain(&caps)
        {
            return Err(XenDevError::NotControlDomain);
        }
        Ok(Privcmd {
            file: open_device(PRIVCMD_PATH)?,
        })
    }

    /// Issues hypercall `op` with raw arguments; returns Xen's non-negative result, or the
    /// errno (positive) it failed with.
    ///
    /// # Safety
    ///
    /// Xen dereferences pointer arguments: every address in `args` that `op` treats as a
    /// pointer must reach memory of the size `op` reads or writes, locked against paging
    /// (`rxl-xen`'s hypercall buffers), and stay valid for the whole call.
    pub unsafe fn hypercall(&self, op: u32, args: [u64; 5]) -> Result<i64, i32> {
        let mut call = PrivcmdHypercall {
            op: u64::from(op),
            arg: args,
        };
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_HYPERCALL, &mut call)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// Maps the guest frames `gfns` of domain `dom` into this process.
    ///
    /// Returns the mapping and one status per frame: 0, or a negative errno for a frame that
    /// could not be mapped (its page faults on access).
    pub fn map_foreign(
        &self,
        dom: u16,
        gfns: &[u64],
        writable: bool,
    ) -> Result<(ForeignMapping, Vec<i32>), XenDevError> {
        const OP: &str = "IOCTL_PRIVCMD_MMAPBATCH_V2";
        let num = frame_count(OP, gfns.len())?;
        let map = self.reserve(gfns.len() * PAGE_SIZE, writable)?;
        let mut errs = vec![0i32; gfns.len()];
        let mut batch = PrivcmdMmapbatchV2 {
            num,
            dom,
            pad: 0,
            addr: map.addr(),
            arr: gfns.as_ptr(),
            err: errs.as_mut_ptr(),
        };
        // The kernel reads `num` frames from `arr`, writes `num` statuses to `err` and fills
        // `num` pages at `addr`: both slices have exactly that length, the reserved VMA has
        // that many pages, and all three outlive the call.
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAPBATCH_V2, &mut batch)
            .map_err(XenDevError::io(OP))?;
        Ok((map, errs))
    }

    /// Number of frames of resource `ty`/`id` of domain `dom` (`XENMEM_acquire_resource`
    /// size query).
    pub fn resource_size(&self, dom: u16, ty: u32, id: u32) -> Result<u64, XenDevError> {
        let mut r = PrivcmdMmapResource {
            dom,
            ty,
            id,
            ..Default::default()
        };
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAP_RESOURCE, &mut r)
            .map_err(XenDevError::io("IOCTL_PRIVCMD_MMAP_RESOURCE (size query)"))?;
        Ok(r.num)
    }

    /// Maps `num` frames of resource `ty`/`id` (a grant table, an ioreq server, ...) of
    /// domain `dom`, starting at frame `idx`.
    pub fn map_resource(
        &self,
        dom: u16,
        ty: u32,
        id: u32,
        idx: u32,
        num: u64,
    ) -> Result<ForeignMapping, XenDevError> {
        const OP: &str = "IOCTL_PRIVCMD_MMAP_RESOURCE";
        let len = usize::try_from(num)
            .ok()
            .and_then(|n| n.checked_mul(PAGE_SIZE))
            .filter(|&l| l > 0)
            .ok_or_else(|| XenDevError::Invalid {
                op: OP,
                detail: format!("cannot map {num} resource frames"),
            })?;
        let map = self.reserve(len, true)?;
        let mut r = PrivcmdMmapResource {
            dom,
            ty,
            id,
            idx,
            num,
            addr: map.addr(),
        };
        // The kernel fills `num` pages at `addr`: exactly the VMA just reserved.
        ioctl_ptr(&self.file, IOCTL_PRIVCMD_MMAP_RESOURCE, &mut r).map_err(XenDevError::io(OP))?;
        Ok(map)
    }

    /// Reserves a privcmd VMA of `len` bytes that the mapping ioctls then fill.
    fn reserve(&self, len: usize, writable: bool) -> Result<ForeignMapping, XenDevError> {
        let ptr = mmap_shared(&self.file, len, 0, writable, "mmap /dev/xen/privcmd")?;
        Ok(ForeignMapping { ptr, len })
    }
}

/// Whether `/proc/xen/capabilities` says this is the control domain.
fn is_control_domain(caps: &str) -> bool {
    caps.split(|c: char| c == ',' || c.is_whitespace())
        .any(|c| c == "control_d")
}

/// The frame count of a batch, checked to be non-zero and to fit the ioctl's `u32`.
fn frame_count(op: &'static str, n: usize) -> Result<u32, XenDevError> {
    if n == 0 {
        return Err(XenDevError::Invalid {
            op,
            detail: "no frames to map".into(),
        });
    }
    u32::try_from(n).map_err(|_| XenDevError::Invalid {
        op,
        detail: format!("{n} frames is too many for one batch"),
    })
}

/// Memory of another domain mapped into this process; unmapped on drop.
#[derive(Debug)]
pub struct ForeignMapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl ForeignMapping {
    /// Start of the mapping.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

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
    ///
    /// # Panics
    ///
    /// If the range reaches beyond the mapping (a caller bug, not a guest's doing).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        assert!(
            offset
                .checked_add(buf.len())
                .is_some_and(|end| end <= self.len),
            "read beyond foreign mapping"
        );
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); volatile because another domain owns it.
            *b = unsafe { std::ptr::read_volatile(self.ptr.as_ptr().add(offset + i)) };
        }
    }

    /// Writes `data` at `offset` with volatile stores.
    ///
    /// # Panics
    ///
    /// If the range reaches beyond the mapping (a caller bug, not a guest's doing).
    pub fn write(&self, offset: usize, data: &[u8]) {
        assert!(
            offset
                .checked_add(data.len())
                .is_some_and(|end| end <= self.len),
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
        // SAFETY: exactly the mapping `reserve` made, unmapped once; `read`/`write` copy
        // bytes out and in, so no reference into it survives.
        unsafe { munmap(self.ptr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_domain_is_read_from_the_capabilities_list() {
        assert!(is_control_domain("control_d\n"));
        assert!(is_control_domain("foo,control_d"));
        assert!(!is_control_domain(""));
        assert!(!is_control_domain("not_control_d"));
    }

    #[test]
    fn batches_must_have_one_to_u32_max_frames() {
        assert_eq!(frame_count("op", 1).unwrap(), 1);
        assert!(matches!(
            frame_count("op", 0),
            Err(XenDevError::Invalid { .. })
        ));
        #[cfg(target_pointer_width = "64")]
        assert!(matches!(
            frame_count("op", 1 << 33),
            Err(XenDevError::Invalid { .. })
        ));
    }

    #[test]
    fn opening_without_xen_is_missing_not_a_panic() {
        if Path::new(PRIVCMD_PATH).exists() {
            eprintln!("skipped: {PRIVCMD_PATH} exists (running on Xen); the lab covers it");
            return;
        }
        let e = Privcmd::open().unwrap_err();
        assert!(
            matches!(e, XenDevError::Missing { path: PRIVCMD_PATH }),
            "{e}"
        );
    }
}
