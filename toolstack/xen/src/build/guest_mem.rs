//! A window of the new guest's memory mapped into rxl, for loading the kernel and boot data.

use crate::ctl::Xen;
use crate::error::XenError;
use crate::sys::privcmd::ForeignMapping;

/// Guest frames `[first_pfn, first_pfn + pages)` mapped writable.
#[derive(Debug)]
pub struct GuestMem {
    map: ForeignMapping,
    first_pfn: u64,
}

impl GuestMem {
    /// Maps the guest frames whose mapping handles (machine frames for PV, guest frames for
    /// PVH) are `frames`, the first being pfn `first_pfn`.
    pub fn map(xen: &Xen, domid: u32, first_pfn: u64, frames: &[u64]) -> Result<Self, XenError> {
        let dom =
            u16::try_from(domid).map_err(|_| XenError::Invalid(format!("domain id {domid}")))?;
        let (map, errs) = xen.privcmd().map_foreign(dom, frames, true)?;
        if let Some((i, e)) = errs.iter().enumerate().find(|(_, e)| **e != 0) {
            tracing::debug!(pfn = first_pfn + i as u64, "frame failed to map");
            return Err(XenError::Hypercall {
                op: "privcmd mmapbatch (guest memory)",
                source: std::io::Error::from_raw_os_error(-e),
            });
        }
        Ok(GuestMem { map, first_pfn })
    }

    /// Copies `data` to guest-physical byte address `gpa`.
    pub fn write(&self, gpa: u64, data: &[u8]) {
        let off = gpa
            .checked_sub(self.first_pfn * 4096)
            .and_then(|o| usize::try_from(o).ok())
            .expect("address below the mapped window");
        assert!(
            off + data.len() <= self.map.len(),
            "write beyond the mapped window"
        );
        // SAFETY: the range lies inside the mapping (checked above), which stays mapped while
        // `self` lives; no Rust reference points into it, and the guest is paused and has
        // never run, so nothing else writes these pages during the copy.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                (self.map.addr() as *mut u8).add(off),
                data.len(),
            );
        }
    }

    /// Zeroes `len` bytes at `gpa`.
    pub fn zero(&self, gpa: u64, len: u64) {
        const CHUNK: usize = 1 << 20;
        let zeros = vec![0u8; CHUNK];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            self.write(gpa + done, &zeros[..n]);
            done += n as u64;
        }
    }
}
