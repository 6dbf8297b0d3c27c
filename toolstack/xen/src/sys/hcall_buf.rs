//! Hypercall buffers: memory Xen may read and write while a hypercall runs.
//!
//! Xen accesses hypercall arguments by guest-virtual address. Ordinary heap or stack memory
//! can be paged out, migrated or compacted under the call, which makes Xen fail with EFAULT
//! or worse, so like libxencall every argument is bounced through pages that stay put:
//! pages mapped from `/dev/xen/hypercall` (the kernel hands out dedicated, pinned pages), or,
//! on kernels without that device, anonymous `MAP_LOCKED` pages excluded from `fork`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use crate::error::XenError;

pub use rxl_xendev::PAGE_SIZE;

/// Where buffers come from: the hypercall device if the kernel has one.
#[derive(Debug)]
pub struct BufferSource {
    dev: Option<File>,
}

impl BufferSource {
    /// Opens `/dev/xen/hypercall`, or falls back to locked anonymous memory without it.
    pub fn open() -> Result<Self, XenError> {
        match super::open_device("/dev/xen/hypercall") {
            Ok(f) => Ok(BufferSource { dev: Some(f) }),
            Err(XenError::NoXen { .. }) => {
                tracing::debug!("no /dev/xen/hypercall; using mlock'd anonymous pages");
                Ok(BufferSource { dev: None })
            }
            Err(e) => Err(e),
        }
    }

    /// A source that never uses the device (for tests and non-Xen hosts).
    pub fn anonymous() -> Self {
        BufferSource { dev: None }
    }

    /// Whether buffers come from `/dev/xen/hypercall`.
    pub fn uses_device(&self) -> bool {
        self.dev.is_some()
    }

    /// Allocates a zeroed buffer of at least `len` bytes (whole pages).
    pub fn alloc(&self, len: usize) -> Result<HypercallBuf, XenError> {
        let len = len.max(1).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let ptr = match &self.dev {
            Some(dev) => map_device(dev, len)?,
            None => map_anonymous(len)?,
        };
        Ok(HypercallBuf { ptr, len })
    }
}

fn mmap_err(what: &str, len: usize) -> XenError {
    XenError::Device {
        path: what.into(),
        source: std::io::Error::other(format!(
            "cannot map {len} bytes of hypercall buffer: {}",
            std::io::Error::last_os_error()
        )),
    }
}

fn map_device(dev: &File, len: usize) -> Result<NonNull<u8>, XenError> {
    // SAFETY: a fresh shared mapping of the hypercall device at a kernel-chosen address; it
    // aliases no Rust object. Failure is reported as MAP_FAILED and checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            dev.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(mmap_err("/dev/xen/hypercall", len));
    }
    NonNull::new(p.cast()).ok_or_else(|| mmap_err("/dev/xen/hypercall", len))
}

fn map_anonymous(len: usize) -> Result<NonNull<u8>, XenError> {
    // SAFETY: a fresh private anonymous mapping; it aliases no Rust object.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_LOCKED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(mmap_err("anonymous memory", len));
    }
    // A child of fork() must not get copy-on-write copies of pages Xen writes to.
    // SAFETY: `p` is the mapping just created, `len` its length.
    unsafe { libc::madvise(p, len, libc::MADV_DONTFORK) };
    NonNull::new(p.cast()).ok_or_else(|| mmap_err("anonymous memory", len))
}

/// A page-aligned, zero-initialised buffer of hypercall memory, unmapped on drop.
#[derive(Debug)]
pub struct HypercallBuf {
    ptr: NonNull<u8>,
    len: usize,
}

impl HypercallBuf {
    /// Length in bytes (a multiple of the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a buffer has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The address to hand to Xen.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// The address of byte `offset`, for guest handles inside the buffer.
    pub fn addr_at(&self, offset: usize) -> u64 {
        assert!(
            offset <= self.len,
            "offset {offset} beyond buffer of {}",
            self.len
        );
        self.addr() + offset as u64
    }

    /// The bytes of the buffer.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for the life of `self`; the hypervisor only
        // writes them during a hypercall, which takes `&mut self` or happens before this borrow.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes of the buffer, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Copies `value` in at byte `offset`.
    ///
    /// `T` must be a plain C struct from `xen-sys` (`Copy`, no references).
    pub fn write<T: Copy>(&mut self, offset: usize, value: &T) {
        let size = std::mem::size_of::<T>();
        assert!(offset + size <= self.len, "write beyond hypercall buffer");
        // SAFETY: the range [offset, offset+size) lies inside the mapping (checked above);
        // `write_unaligned` tolerates any alignment and `T: Copy` has no drop glue.
        unsafe { std::ptr::write_unaligned(self.ptr.as_ptr().add(offset).cast::<T>(), *value) };
    }

    /// Copies a `T` out of byte `offset`.
    ///
    /// `T` must be a plain C struct from `xen-sys` for which every bit pattern is valid
    /// (integers, arrays and unions of them), which holds for the Xen ABI types.
    pub fn read<T: Copy>(&self, offset: usize) -> T {
        let size = std::mem::size_of::<T>();
        assert!(offset + size <= self.len, "read beyond hypercall buffer");
        // SAFETY: the range lies inside the mapping (checked above); the Xen ABI types are
        // integers, arrays and unions of them, valid for any bit pattern.
        unsafe { std::ptr::read_unaligned(self.ptr.as_ptr().add(offset).cast::<T>()) }
    }
}

impl Drop for HypercallBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping created in `alloc`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_buffers_are_zeroed_page_multiples() {
        let src = BufferSource::anonymous();
        // MAP_LOCKED may exceed RLIMIT_MEMLOCK for unprivileged test runs; one page is fine.
        let mut b = src.alloc(10).expect("one locked page");
        assert_eq!(b.len(), PAGE_SIZE);
        assert_eq!(b.addr() % PAGE_SIZE as u64, 0);
        assert!(b.bytes().iter().all(|&x| x == 0));
        b.write(8, &0x1122_3344_5566_7788u64);
        assert_eq!(b.read::<u64>(8), 0x1122_3344_5566_7788);
        assert_eq!(b.bytes()[8], 0x88);
    }

    #[test]
    #[should_panic(expected = "beyond")]
    fn out_of_range_write_is_refused() {
        let mut b = BufferSource::anonymous().alloc(1).expect("one page");
        b.write(PAGE_SIZE - 4, &0u64);
    }
}
