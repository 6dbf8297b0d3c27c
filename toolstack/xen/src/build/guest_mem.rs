//! A window of the new guest's memory mapped into rxl, for loading the kernel and boot data.

use super::image::Bytes;
use crate::ctl::Xen;
use crate::error::XenError;
use crate::sys::privcmd::ForeignMapping;

/// Copies at least this large use two threads ([`GuestMem::write_from`]).
const PARALLEL_COPY_MIN: usize = 4 << 20;

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

    /// Byte offset of `gpa..gpa + len` in the mapping; panics outside it.
    fn offset(&self, gpa: u64, len: usize) -> usize {
        let off = gpa
            .checked_sub(self.first_pfn * 4096)
            .and_then(|o| usize::try_from(o).ok())
            .expect("address below the mapped window");
        assert!(
            off.checked_add(len)
                .is_some_and(|end| end <= self.map.len()),
            "write beyond the mapped window"
        );
        off
    }

    /// Copies `data` to guest-physical byte address `gpa`.
    pub fn write(&mut self, gpa: u64, data: &[u8]) {
        self.with_slice(gpa, data.len(), |dst| dst.copy_from_slice(data));
    }

    /// Copies `len` bytes of `src` from `offset` to `gpa`; a file-backed image is read
    /// straight into guest memory (see [`Bytes::copy_to`]). A large copy is split between
    /// two threads: the copy is CPU-bound (a vmlinux is ~60 MiB, ~250 ms on one vCPU of the
    /// lab's emulated dom0) and dom0 has more than one vCPU.
    pub fn write_from(&mut self, gpa: u64, src: &Bytes, offset: usize, len: usize) {
        self.with_slice(gpa, len, |dst| {
            if dst.len() < PARALLEL_COPY_MIN {
                src.copy_to(offset, dst);
                return;
            }
            let half = dst.len() / 2;
            let (head, tail) = dst.split_at_mut(half);
            // Whoever takes the head copies it: the helper thread, or this one if no thread
            // could be started.
            let head = std::sync::Mutex::new(Some(head));
            let copy_head = || {
                let taken = head.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(h) = taken {
                    src.copy_to(offset, h);
                }
            };
            std::thread::scope(|s| {
                let helper = std::thread::Builder::new().spawn_scoped(s, copy_head);
                src.copy_to(offset + half, tail);
                if helper.is_err() {
                    copy_head();
                }
            });
        });
    }

    /// Zeroes `len` bytes at `gpa`.
    pub fn zero(&mut self, gpa: u64, len: u64) {
        let len = usize::try_from(len).expect("zeroed range fits the address space");
        self.with_slice(gpa, len, |dst| dst.fill(0));
    }

    /// Runs `f` on the guest bytes `gpa..gpa + len`, e.g. to build a table in place.
    pub fn with_slice<R>(&mut self, gpa: u64, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let off = self.offset(gpa, len);
        // SAFETY: the range lies inside the mapping (checked by `offset`), which stays mapped
        // while `self` lives; `&mut self` makes this the only slice over it, and the guest is
        // paused and has never run, so nothing else writes these pages meanwhile.
        let dst =
            unsafe { std::slice::from_raw_parts_mut((self.map.addr() as *mut u8).add(off), len) };
        f(dst)
    }
}
