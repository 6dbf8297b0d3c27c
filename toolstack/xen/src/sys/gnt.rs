//! `/dev/xen/gntdev` (map pages other domains grant us) and `/dev/xen/gntalloc` (grant our
//! pages to other domains).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

use super::hcall_buf::PAGE_SIZE;
use super::{IOC_NONE, ioc, ioctl_ptr, open_device};
use crate::error::XenError;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct GrantRef {
    domid: u32,
    gref: u32,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct MapGrantRef {
    count: u32,
    pad: u32,
    index: u64,
    refs: [GrantRef; 1],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct UnmapGrantRef {
    index: u64,
    count: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct AllocGref {
    domid: u16,
    flags: u16,
    count: u32,
    index: u64,
    gref_ids: [u32; 1],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct DeallocGref {
    index: u64,
    count: u32,
}

const GNTDEV_MAP: libc::c_ulong = ioc(IOC_NONE, b'G', 0, std::mem::size_of::<MapGrantRef>());
const GNTDEV_UNMAP: libc::c_ulong = ioc(IOC_NONE, b'G', 1, std::mem::size_of::<UnmapGrantRef>());
const GNTALLOC_ALLOC: libc::c_ulong = ioc(IOC_NONE, b'G', 5, std::mem::size_of::<AllocGref>());
const GNTALLOC_DEALLOC: libc::c_ulong = ioc(IOC_NONE, b'G', 6, std::mem::size_of::<DeallocGref>());

/// A page mapped through gntdev or gntalloc; unmapped (and released) on drop.
#[derive(Debug)]
pub struct GrantPage<'a> {
    dev: &'a File,
    ptr: NonNull<u8>,
    index: u64,
    unmap_req: libc::c_ulong,
    /// The grant reference (for gntalloc pages: the one to give the other domain).
    pub gref: u32,
}

impl GrantPage<'_> {
    /// Address of the page in this process.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
}

impl Drop for GrantPage<'_> {
    fn drop(&mut self) {
        // SAFETY: exactly the one-page mapping made in `map_page`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), PAGE_SIZE) };
        let res = if self.unmap_req == GNTDEV_UNMAP {
            let mut u = UnmapGrantRef {
                index: self.index,
                count: 1,
                pad: 0,
            };
            ioctl_ptr(self.dev, self.unmap_req, &mut u)
        } else {
            let mut d = DeallocGref {
                index: self.index,
                count: 1,
            };
            ioctl_ptr(self.dev, self.unmap_req, &mut d)
        };
        if let Err(e) = res {
            tracing::warn!("releasing grant page: {e}");
        }
    }
}

fn map_page(dev: &File, index: u64) -> Result<NonNull<u8>, XenError> {
    let offset = libc::off_t::try_from(index)
        .map_err(|_| XenError::Protocol(format!("grant mapping offset {index}")))?;
    // SAFETY: a fresh shared mapping of the grant device at the offset the ioctl returned;
    // it aliases no Rust object and is checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            dev.as_raw_fd(),
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(XenError::Hypercall {
            op: "mmap of grant page",
            source: std::io::Error::last_os_error(),
        });
    }
    NonNull::new(p.cast()).ok_or_else(|| XenError::Protocol("mmap returned NULL".into()))
}

/// `/dev/xen/gntdev`: maps pages granted to dom0.
#[derive(Debug)]
pub struct GrantDev {
    file: File,
}

impl GrantDev {
    /// Opens `/dev/xen/gntdev`.
    pub fn open() -> Result<Self, XenError> {
        Ok(GrantDev {
            file: open_device(Path::new("/dev/xen/gntdev"))?,
        })
    }

    /// Maps grant `gref` of domain `domid` read-write.
    pub fn map(&self, domid: u32, gref: u32) -> Result<GrantPage<'_>, XenError> {
        let mut m = MapGrantRef {
            count: 1,
            refs: [GrantRef { domid, gref }],
            ..Default::default()
        };
        ioctl_ptr(&self.file, GNTDEV_MAP, &mut m).map_err(|source| XenError::Hypercall {
            op: "gntdev map_grant_ref",
            source,
        })?;
        let ptr = map_page(&self.file, m.index)?;
        Ok(GrantPage {
            dev: &self.file,
            ptr,
            index: m.index,
            unmap_req: GNTDEV_UNMAP,
            gref,
        })
    }
}

/// `/dev/xen/gntalloc`: shares dom0 pages with another domain.
#[derive(Debug)]
pub struct GrantAlloc {
    file: File,
}

impl GrantAlloc {
    /// Opens `/dev/xen/gntalloc`.
    pub fn open() -> Result<Self, XenError> {
        Ok(GrantAlloc {
            file: open_device(Path::new("/dev/xen/gntalloc"))?,
        })
    }

    /// Allocates one zeroed page granted to `domid` (writable by it).
    pub fn share(&self, domid: u16) -> Result<GrantPage<'_>, XenError> {
        let mut a = AllocGref {
            domid,
            flags: 1, // GNTALLOC_FLAG_WRITABLE
            count: 1,
            ..Default::default()
        };
        ioctl_ptr(&self.file, GNTALLOC_ALLOC, &mut a).map_err(|source| XenError::Hypercall {
            op: "gntalloc alloc_gref",
            source,
        })?;
        let ptr = map_page(&self.file, a.index)?;
        Ok(GrantPage {
            dev: &self.file,
            ptr,
            index: a.index,
            unmap_req: GNTALLOC_DEALLOC,
            gref: a.gref_ids[0],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_match_the_c_headers() {
        assert_eq!(GNTDEV_MAP, 0x184700);
        assert_eq!(GNTALLOC_ALLOC, 0x184705);
        assert_eq!(GNTALLOC_DEALLOC, 0x104706);
    }
}
