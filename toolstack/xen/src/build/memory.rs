//! Guest memory population (`XENMEM_populate_physmap`).

use super::hcall::BuildCalls;
use crate::ctl::Xen;
use crate::error::XenError;

/// Extents per hypercall: bounds the hypercall buffer (8 bytes each).
const BATCH: usize = 512;
/// 2 MiB superpages.
const SUPERPAGE_ORDER: u32 = 9;
const SUPERPAGE: u64 = 1 << SUPERPAGE_ORDER;

/// Populates pfns `0..nr_pages` of a PV domain and returns its p2m: the machine frame of
/// each pfn. Uses 2 MiB extents where it can, as libxenguest's `meminit_pv` does, and falls
/// back to 4 KiB pages when Xen has no free superpage.
pub fn populate(xen: &Xen, domid: u32, nr_pages: u64) -> Result<Vec<u64>, XenError> {
    let mut p2m = vec![u64::MAX; nr_pages as usize];
    populate_each(xen, domid, nr_pages, |pfn, mfn, n| {
        for j in 0..n {
            p2m[(pfn + j) as usize] = mfn + j;
        }
    })?;
    Ok(p2m)
}

/// [`populate`] for a translated (PVH) domain, whose frames are its pfns: no p2m is kept
/// (building one would cost a page fault per 512 pages of guest memory for nothing).
pub fn populate_translated(xen: &Xen, domid: u32, nr_pages: u64) -> Result<(), XenError> {
    populate_each(xen, domid, nr_pages, |_, _, _| {})
}

/// Populates pfns `0..nr_pages`, calling `got(pfn, mfn, n)` for each run of `n` frames.
fn populate_each(
    xen: &Xen,
    domid: u32,
    nr_pages: u64,
    mut got: impl FnMut(u64, u64, u64),
) -> Result<(), XenError> {
    let supers = nr_pages / SUPERPAGE;
    let mut next = 0u64;
    let mut superpages_ok = true;
    while superpages_ok && next / SUPERPAGE < supers {
        let first = next / SUPERPAGE;
        let n = ((supers - first) as usize).min(BATCH);
        let mut list: Vec<u64> = (0..n as u64).map(|i| (first + i) * SUPERPAGE).collect();
        let done = xen.populate_physmap(domid, SUPERPAGE_ORDER, &mut list)?;
        for (i, mfn) in list.iter().take(done).enumerate() {
            got((first + i as u64) * SUPERPAGE, *mfn, SUPERPAGE);
        }
        next += done as u64 * SUPERPAGE;
        superpages_ok = done == n;
    }
    while next < nr_pages {
        let n = ((nr_pages - next) as usize).min(BATCH);
        let mut list: Vec<u64> = (next..next + n as u64).collect();
        let done = xen.populate_physmap(domid, 0, &mut list)?;
        if done == 0 {
            return Err(XenError::Hypercall {
                op: "memory_op populate_physmap",
                source: std::io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        for (i, mfn) in list.iter().take(done).enumerate() {
            got(next + i as u64, *mfn, 1);
        }
        next += done as u64;
    }
    Ok(())
}
