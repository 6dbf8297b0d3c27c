//! `/dev/xen/gntdev` (map pages other domains grant us) and `/dev/xen/gntalloc` (grant our
//! pages to other domains).
//!
//! A [`GrantPage`] shares its device's open file (an `Arc`), so it may outlive the
//! [`GrantDev`]/[`GrantAlloc`] it came from: the grant is released through that file on
//! drop, and the kernel forgets all grants of a file when its last handle closes anyway.

use std::fs::File;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::abi::{
    GNTALLOC_FLAG_WRITABLE, GntallocAllocGref, GntallocDeallocGref, GntdevGrantRef,
    GntdevMapGrantRef, GntdevUnmapGrantRef, IOCTL_GNTALLOC_ALLOC_GREF, IOCTL_GNTALLOC_DEALLOC_GREF,
    IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF,
};
use crate::ioctl::{ioctl_ptr, mmap_shared, munmap, open_device};
use crate::{PAGE_SIZE, XenDevError};

/// Path of the grant-mapping device.
pub const GNTDEV_PATH: &str = "/dev/xen/gntdev";
/// Path of the grant-allocation device.
pub const GNTALLOC_PATH: &str = "/dev/xen/gntalloc";

/// Which device a page came from, hence how it is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Mapped with `IOCTL_GNTDEV_MAP_GRANT_REF`.
    Gntdev,
    /// Allocated with `IOCTL_GNTALLOC_ALLOC_GREF`.
    Gntalloc,
}

/// Releases grant `index` of `dev` (the counterpart of a successful map or alloc ioctl).
fn release(dev: &File, source: Source, index: u64) -> std::io::Result<i64> {
    match source {
        Source::Gntdev => {
            let mut u = GntdevUnmapGrantRef {
                index,
                count: 1,
                pad: 0,
            };
            ioctl_ptr(dev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &mut u)
        }
        Source::Gntalloc => {
            let mut d = GntallocDeallocGref { index, count: 1 };
            ioctl_ptr(dev, IOCTL_GNTALLOC_DEALLOC_GREF, &mut d)
        }
    }
}

/// Maps the page the kernel set up at `index`; releases the grant if that fails.
fn map_page(
    dev: &Arc<File>,
    source: Source,
    index: u64,
    gref: u32,
    op: &'static str,
) -> Result<GrantPage, XenDevError> {
    match mmap_shared(dev, PAGE_SIZE, index, true, op) {
        Ok(ptr) => Ok(GrantPage {
            dev: Arc::clone(dev),
            source,
            ptr,
            index,
            gref,
        }),
        Err(e) => {
            if let Err(r) = release(dev, source, index) {
                tracing::warn!("releasing grant {gref} after failed mmap: {r}");
            }
            Err(e)
        }
    }
}

/// One page mapped through gntdev or allocated through gntalloc; unmapped and released on
/// drop.
#[derive(Debug)]
pub struct GrantPage {
    dev: Arc<File>,
    source: Source,
    ptr: NonNull<u8>,
    index: u64,
    gref: u32,
}

impl GrantPage {
    /// Start of the page in this process.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Start of the page as an integer address.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// The grant reference: the one mapped, or (for gntalloc pages) the one to hand to the
    /// other domain.
    pub fn gref(&self) -> u32 {
        self.gref
    }
}

impl Drop for GrantPage {
    fn drop(&mut self) {
        // SAFETY: exactly the one-page mapping `map_page` made, unmapped once; callers only
        // reach the page through `as_ptr`, whose users are bound to this value's lifetime.
        unsafe { munmap(self.ptr, PAGE_SIZE) };
        if let Err(e) = release(&self.dev, self.source, self.index) {
            tracing::warn!("releasing grant {}: {e}", self.gref);
        }
    }
}

/// `/dev/xen/gntdev`: maps pages granted to this domain.
#[derive(Debug)]
pub struct GrantDev {
    file: Arc<File>,
}

impl GrantDev {
    /// Opens `/dev/xen/gntdev`.
    pub fn open() -> Result<GrantDev, XenDevError> {
        Ok(GrantDev {
            file: Arc::new(open_device(GNTDEV_PATH)?),
        })
    }

    /// Maps grant `gref` of domain `domid` read-write.
    pub fn map(&self, domid: u32, gref: u32) -> Result<GrantPage, XenDevError> {
        let mut m = GntdevMapGrantRef {
            count: 1,
            refs: [GntdevGrantRef { domid, gref }],
            ..Default::default()
        };
        ioctl_ptr(&self.file, IOCTL_GNTDEV_MAP_GRANT_REF, &mut m)
            .map_err(XenDevError::io("IOCTL_GNTDEV_MAP_GRANT_REF"))?;
        map_page(
            &self.file,
            Source::Gntdev,
            m.index,
            gref,
            "mmap /dev/xen/gntdev",
        )
    }
}

/// `/dev/xen/gntalloc`: shares this domain's pages with another domain.
#[derive(Debug)]
pub struct GrantAlloc {
    file: Arc<File>,
}

impl GrantAlloc {
    /// Opens `/dev/xen/gntalloc`.
    pub fn open() -> Result<GrantAlloc, XenDevError> {
        Ok(GrantAlloc {
            file: Arc::new(open_device(GNTALLOC_PATH)?),
        })
    }

    /// Allocates one zeroed page granted to `domid`, writable by it.
    pub fn share(&self, domid: u16) -> Result<GrantPage, XenDevError> {
        let mut a = GntallocAllocGref {
            domid,
            flags: GNTALLOC_FLAG_WRITABLE,
            count: 1,
            ..Default::default()
        };
        ioctl_ptr(&self.file, IOCTL_GNTALLOC_ALLOC_GREF, &mut a)
            .map_err(XenDevError::io("IOCTL_GNTALLOC_ALLOC_GREF"))?;
        map_page(
            &self.file,
            Source::Gntalloc,
            a.index,
            a.gref_ids[0],
            "mmap /dev/xen/gntalloc",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_without_xen_names_the_device() {
        for (path, res) in [
            (GNTDEV_PATH, GrantDev::open().map(drop)),
            (GNTALLOC_PATH, GrantAlloc::open().map(drop)),
        ] {
            if std::path::Path::new(path).exists() {
                eprintln!("skipped: {path} exists (running on Xen); the lab covers it");
                continue;
            }
            let e = res.unwrap_err();
            assert!(
                matches!(e, XenDevError::Missing { path: p } if p == path),
                "{e}"
            );
        }
    }
}
