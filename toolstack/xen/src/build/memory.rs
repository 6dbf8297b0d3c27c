//! Guest memory population (`XENMEM_populate_physmap`).

use super::hcall::BuildCalls;
use crate::ctl::Xen;
use crate::error::XenError;

/// Extents per hypercall: bounds the hypercall buffer (8 bytes each).
const BATCH: usize = 512;
/// 2 MiB superpages.
const SUPERPAGE_ORDER: u32 = 9;
const SUPERPAGE: u64 = 1 << SUPERPAGE_ORDER;

/// Populates pfns `0..nr_pages` and returns the p2m: the machine frame of each pfn for a PV
/// domain (for a translated PVH domain Xen leaves the frames as given: the identity). Uses 2 MiB extents where it can, as libxenguest's `meminit_pv` does, and falls
/// back to 4 KiB pages when Xen has no free superpage.
pub fn populate(xen: &Xen, domid: u32, nr_pages: u64) -> Result<Vec<u64>, XenError> {
    let mut p2m = vec![u64::MAX; nr_pages as usize];
    let supers = nr_pages / SUPERPAGE;
    let mut next = 0u64;
    let mut superpages_ok = true;
    while superpages_ok && next / SUPERPAGE < supers {
        let first = next / SUPERPAGE;
        let n = ((supers - first) as usize).min(BATCH);
        let mut list: Vec<u64> = (0..n as u64).map(|i| (first + i) * SUPERPAGE).collect();
        let done = xen.populate_physmap(domid, SUPERPAGE_ORDER, &mut list)?;
        for (i, mfn) in list.iter().take(done).enumerate() {
            let base = (first + i as u64) * SUPERPAGE;
            for j in 0..SUPERPAGE {
                p2m[(base + j) as usize] = mfn + j;
            }
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
            p2m[next as usize + i] = *mfn;
        }
        next += done as u64;
    }
    Ok(p2m)
}
