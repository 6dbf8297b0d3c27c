//! Guests' xenstore rings: the `xenstore_domain_interface` page and the Xen devices that
//! reach it.
//!
//! [`RingPage`] is the protocol on one shared 4 KiB page (`docs/misc/xenstore-ring.txt`):
//! free-running u32 indices masked with 1023, the producer never more than 1024 ahead.
//! It works on any page, so it is unit-tested here on ordinary memory. [`RingConn`] is a
//! ring as the server holds it: on Xen the guest's page mapped through grant reference 1
//! (`GNTTAB_RESERVED_XENSTORE`) or, failing that, by frame number, or dom0's own page, plus
//! the bound event channel (devices in [`super::xendev`]).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

use super::xendev::{BackendMap, EventChannels, ForeignMap, GrantMap};
use crate::wire::XsErrno;

/// Bytes in each direction's ring.
pub const RING_SIZE: u32 = 1024;
const REQ: usize = 0;
const RSP: usize = 1024;
const REQ_CONS: usize = 2048;
const REQ_PROD: usize = 2052;
const RSP_CONS: usize = 2056;
const RSP_PROD: usize = 2060;
const SERVER_FEATURES: usize = 2064;
const CONNECTION: usize = 2068;
const ERROR: usize = 2072;
/// Size of the shared page.
pub const PAGE_SIZE: usize = 4096;
/// `error` value: the guest's indices are inconsistent.
pub const ERROR_RINGIDX: u32 = 2;
/// `error` value: the guest broke the protocol.
pub const ERROR_PROTO: u32 = 3;
/// Grant reference the domain builder reserves for the xenstore page.
pub const GNTTAB_RESERVED_XENSTORE: u32 = 1;

/// Ring and device errors.
#[derive(Debug, Error)]
pub enum RingError {
    /// The guest's producer/consumer indices are more than a ring apart.
    #[error("domain {domid}: ring indices inconsistent (prod {prod}, cons {cons})")]
    BadIndex {
        /// Domain.
        domid: u32,
        /// Producer index.
        prod: u32,
        /// Consumer index.
        cons: u32,
    },
    /// A Xen device could not be opened or an ioctl failed.
    #[error("{what}: {source}")]
    Device {
        /// Device and operation.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
}

impl RingError {
    /// The xenstore error name a failed INTRODUCE answers with: the device's errno when
    /// it has a xenstore name (ENOENT, EACCES, EPERM, ENOMEM, EBUSY, ...), else `EINVAL`.
    pub fn errno(&self) -> XsErrno {
        let RingError::Device { source, .. } = self else {
            return XsErrno::EINVAL;
        };
        let name = source
            .raw_os_error()
            .map(nix::errno::Errno::from_raw)
            .map(|e| format!("{e:?}"))
            .unwrap_or_default();
        XsErrno::from_name(&name)
    }
}

/// How a guest's page is mapped on INTRODUCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapMode {
    /// Grant reference 1 through `/dev/xen/gntdev`, the frame number through
    /// `/dev/xen/privcmd` if that fails (the C daemon's order).
    #[default]
    GrantThenFrame,
    /// The frame number only (skips gntdev): the fallback path, forced for tests.
    FrameOnly,
}

/// A `xenstore_domain_interface` page seen from the server side.
pub struct RingPage {
    base: NonNull<u8>,
    domid: u32,
}

impl RingPage {
    /// Wraps a page.
    ///
    /// # Safety
    /// `base` must point to `PAGE_SIZE` bytes, 4-byte aligned, valid for reads and writes
    /// for the lifetime of the returned value (the other side may write concurrently:
    /// every access here is atomic or volatile).
    pub unsafe fn new(base: NonNull<u8>, domid: u32) -> RingPage {
        RingPage { base, domid }
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off % 4 == 0 && off + 4 <= PAGE_SIZE);
        // SAFETY: `new`'s contract: the page is valid, aligned and outlives `self`; the
        // offsets are fixed in-page, 4-aligned fields; AtomicU32 has u32's layout.
        unsafe { &*(self.base.as_ptr().add(off) as *const AtomicU32) }
    }

    fn byte_read(&self, off: usize) -> u8 {
        debug_assert!(off < PAGE_SIZE);
        // SAFETY: in-page offset (masked by the callers); volatile because the guest may
        // write the page concurrently.
        unsafe { self.base.as_ptr().add(off).read_volatile() }
    }

    fn byte_write(&self, off: usize, v: u8) {
        debug_assert!(off < PAGE_SIZE);
        // SAFETY: as for `byte_read`.
        unsafe { self.base.as_ptr().add(off).write_volatile(v) }
    }

    /// Advertises the server's features.
    pub fn set_features(&self, f: u32) {
        self.word(SERVER_FEATURES).store(f, Ordering::Release);
    }

    /// Reports an error to the guest (feature bit 2).
    pub fn set_error(&self, e: u32) {
        self.word(ERROR).store(e, Ordering::Release);
    }

    /// Whether the guest asked for a reconnection.
    pub fn reconnect_requested(&self) -> bool {
        self.word(CONNECTION).load(Ordering::Acquire) == 1
    }

    /// Completes a reconnection: empties both rings and clears `connection`.
    pub fn reset(&self) {
        let req = self.word(REQ_PROD).load(Ordering::Acquire);
        self.word(REQ_CONS).store(req, Ordering::Release);
        let rsp = self.word(RSP_PROD).load(Ordering::Acquire);
        self.word(RSP_CONS).store(rsp, Ordering::Release);
        self.word(CONNECTION).store(0, Ordering::Release);
    }

    /// Moves request bytes from the ring into `out`; returns how many.
    pub fn read_requests(&self, out: &mut Vec<u8>) -> Result<usize, RingError> {
        let cons = self.word(REQ_CONS).load(Ordering::Relaxed);
        let prod = self.word(REQ_PROD).load(Ordering::Acquire);
        let avail = prod.wrapping_sub(cons);
        if avail > RING_SIZE {
            return Err(RingError::BadIndex {
                domid: self.domid,
                prod,
                cons,
            });
        }
        for i in 0..avail {
            out.push(self.byte_read(REQ + (cons.wrapping_add(i) & (RING_SIZE - 1)) as usize));
        }
        self.word(REQ_CONS)
            .store(cons.wrapping_add(avail), Ordering::Release);
        Ok(avail as usize)
    }

    /// Copies as much of `data` into the response ring as fits; returns how many bytes.
    pub fn write_responses(&self, data: &[u8]) -> Result<usize, RingError> {
        let cons = self.word(RSP_CONS).load(Ordering::Acquire);
        let prod = self.word(RSP_PROD).load(Ordering::Relaxed);
        let used = prod.wrapping_sub(cons);
        if used > RING_SIZE {
            return Err(RingError::BadIndex {
                domid: self.domid,
                prod,
                cons,
            });
        }
        let n = (RING_SIZE - used).min(data.len() as u32);
        for i in 0..n {
            self.byte_write(
                RSP + (prod.wrapping_add(i) & (RING_SIZE - 1)) as usize,
                data[i as usize],
            );
        }
        self.word(RSP_PROD)
            .store(prod.wrapping_add(n), Ordering::Release);
        Ok(n as usize)
    }
}

/// What keeps a ring's page mapped.
enum Mapping {
    Grant(GrantMap),
    Foreign(ForeignMap),
    Backend(BackendMap),
}

/// A ring as the server holds it: the page, the mapping that keeps it alive (`None` for
/// an in-process page in tests) and our local event-channel port.
pub struct RingConn {
    page: RingPage,
    /// Our local port bound to the guest's xenstore event channel (`None`: no Xen).
    pub port: Option<u32>,
    _map: Option<Mapping>,
}

impl RingConn {
    /// Maps `domid`'s xenstore page — by grant reference 1, else (or only, with
    /// [`MapMode::FrameOnly`]) by frame `gfn` (foreign mapping) — and binds its
    /// `remote_port`. On error nothing stays mapped or bound.
    pub fn attach(
        ev: &EventChannels,
        domid: u32,
        gfn: i64,
        remote_port: u32,
        features: u32,
        mode: MapMode,
    ) -> Result<RingConn, RingError> {
        let by_frame = |why: &dyn std::fmt::Display| {
            if gfn < 0 {
                return Err(RingError::Device {
                    what: "foreign map of the xenstore page",
                    source: std::io::Error::from_raw_os_error(libc::EINVAL),
                });
            }
            tracing::info!(domid, gfn, reason = %why, "mapping the ring by frame (privcmd)");
            ForeignMap::map(domid, gfn as u64).map(Mapping::Foreign)
        };
        let map = match mode {
            MapMode::FrameOnly => by_frame(&"grant mapping disabled (--map-by-frame)")?,
            MapMode::GrantThenFrame => match GrantMap::map(domid, GNTTAB_RESERVED_XENSTORE) {
                Ok(g) => Mapping::Grant(g),
                Err(e) if gfn >= 0 => by_frame(&e)?,
                Err(e) => return Err(e),
            },
        };
        let page = match &map {
            Mapping::Grant(g) => g.ring(domid),
            Mapping::Foreign(f) => f.ring(domid),
            Mapping::Backend(b) => b.ring(),
        };
        let port = ev.bind(domid, remote_port)?;
        page.set_features(features);
        Ok(RingConn {
            page,
            port: Some(port),
            _map: Some(map),
        })
    }

    /// dom0's own ring through `/dev/xen/xenbus_backend`.
    pub fn attach_dom0(ev: &EventChannels, features: u32) -> Result<RingConn, RingError> {
        let b = BackendMap::open()?;
        let port = ev.bind(0, b.port)?;
        let page = b.ring();
        page.set_features(features);
        Ok(RingConn {
            page,
            port: Some(port),
            _map: Some(Mapping::Backend(b)),
        })
    }

    /// Wraps a page without Xen (tests, or a page mapped by other means).
    pub fn from_page(page: RingPage) -> RingConn {
        RingConn {
            page,
            port: None,
            _map: None,
        }
    }

    /// The page.
    pub fn page(&self) -> &RingPage {
        &self.page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(4096))]
    struct Page([u8; PAGE_SIZE]);

    fn put(page: &mut Page, off: usize, v: u32) {
        page.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn get(page: &Page, off: usize) -> u32 {
        u32::from_ne_bytes(page.0[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn requests_wrap_around_and_indices_advance() {
        let mut page = Box::new(Page([0; PAGE_SIZE]));
        // Guest produced 10 bytes starting at index 1020 (wraps after 4).
        put(&mut page, REQ_CONS, 1020);
        put(&mut page, REQ_PROD, 1030);
        for i in 0..10u32 {
            page.0[REQ + ((1020 + i) & 1023) as usize] = i as u8;
        }
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        {
            // SAFETY: the boxed page is aligned, 4096 bytes and outlives `ring`.
            let ring = unsafe { RingPage::new(base, 3) };
            let mut out = Vec::new();
            assert_eq!(ring.read_requests(&mut out).unwrap(), 10);
            assert_eq!(out, (0..10).collect::<Vec<u8>>());
        }
        assert_eq!(get(&page, REQ_CONS), 1030);
    }

    #[test]
    fn responses_stop_at_a_full_ring_and_bad_indices_are_refused() {
        let mut page = Box::new(Page([0; PAGE_SIZE]));
        put(&mut page, RSP_CONS, u32::MAX - 5);
        put(&mut page, RSP_PROD, u32::MAX - 5);
        let base = NonNull::new(page.0.as_mut_ptr()).unwrap();
        {
            // SAFETY: as above.
            let ring = unsafe { RingPage::new(base, 3) };
            assert_eq!(ring.write_responses(&[7; 2000]).unwrap(), 1024);
            assert_eq!(ring.write_responses(&[7; 10]).unwrap(), 0);
        }
        assert_eq!(get(&page, RSP_PROD), (u32::MAX - 5).wrapping_add(1024));
        put(&mut page, REQ_PROD, 5000);
        // SAFETY: as above.
        let ring = unsafe { RingPage::new(base, 3) };
        assert!(matches!(
            ring.read_requests(&mut Vec::new()),
            Err(RingError::BadIndex { .. })
        ));
        ring.set_features(7);
        ring.reset();
        assert!(!ring.reconnect_requested());
    }

    #[test]
    fn device_errors_become_xenstore_error_names() {
        let dev = |errno| RingError::Device {
            what: "map",
            source: std::io::Error::from_raw_os_error(errno),
        };
        assert_eq!(dev(libc::ENOENT).errno(), XsErrno::ENOENT);
        assert_eq!(dev(libc::EPERM).errno(), XsErrno::EPERM);
        assert_eq!(
            dev(libc::EFAULT).errno(),
            XsErrno::EINVAL,
            "no xenstore name"
        );
        let idx = RingError::BadIndex {
            domid: 1,
            prod: 0,
            cons: 0,
        };
        assert_eq!(idx.errno(), XsErrno::EINVAL);
    }
}
