//! The PV console ring (`struct xencons_interface`, Xen's `io/console.h`) seen from the backend:
//! the guest produces into `out` and the backend consumes it; the backend produces into `in`.
//!
//! The page belongs to the guest as much as to us, so every index it holds is untrusted: a
//! producer index that runs more than a ring's size ahead of the consumer is clamped, never
//! trusted into reading past the ring.

use std::sync::atomic::{Ordering, fence};

use rxl_xendev::privcmd::ForeignMapping;

/// Bytes of the guest-to-backend direction (`out`).
pub const OUT_SIZE: u32 = 2048;
/// Bytes of the backend-to-guest direction (`in`).
pub const IN_SIZE: u32 = 1024;

const IN_OFF: usize = 0;
const OUT_OFF: usize = 1024;
const IN_CONS: usize = 3072;
const IN_PROD: usize = 3076;
const OUT_CONS: usize = 3080;
const OUT_PROD: usize = 3084;
/// Bytes of the page the interface covers.
pub const INTERFACE_LEN: usize = 3088;

/// A page shared with a guest, accessed only by copying bytes in and out.
pub trait SharedPage {
    /// Copies `buf.len()` bytes at `offset` out of the page.
    fn read_at(&self, offset: usize, buf: &mut [u8]);
    /// Copies `data` into the page at `offset`.
    fn write_at(&self, offset: usize, data: &[u8]);
}

impl SharedPage for ForeignMapping {
    fn read_at(&self, offset: usize, buf: &mut [u8]) {
        self.read(offset, buf);
    }
    fn write_at(&self, offset: usize, data: &[u8]) {
        self.write(offset, data);
    }
}

/// The backend end of one console ring.
#[derive(Debug)]
pub struct ConsoleRing<P> {
    page: P,
}

impl<P: SharedPage> ConsoleRing<P> {
    /// Wraps a mapped console page.
    ///
    /// # Panics
    ///
    /// Never for a mapped page (4096 bytes); the page must hold [`INTERFACE_LEN`] bytes.
    pub fn new(page: P) -> Self {
        ConsoleRing { page }
    }

    fn index(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        self.page.read_at(at, &mut b);
        u32::from_le_bytes(b)
    }

    fn set_index(&self, at: usize, v: u32) {
        self.page.write_at(at, &v.to_le_bytes());
    }

    /// Moves what the guest wrote since the last call into `buf` (up to its length); returns
    /// the number of bytes. The caller notifies the guest when this returned non-zero, so a
    /// guest waiting for space in a full ring carries on.
    pub fn read_output(&self, buf: &mut [u8]) -> usize {
        let cons = self.index(OUT_CONS);
        let prod = self.index(OUT_PROD);
        // Read the data only after the producer index that covers it.
        fence(Ordering::Acquire);
        let mut avail = prod.wrapping_sub(cons);
        if avail > OUT_SIZE {
            // A guest bug or attack: resynchronise rather than read stale bytes forever.
            tracing::warn!(
                cons,
                prod,
                "console: producer index out of range; skipping ahead"
            );
            self.set_index(OUT_CONS, prod);
            return 0;
        }
        avail = avail.min(buf.len() as u32);
        let mut done = 0u32;
        while done < avail {
            let pos = (cons.wrapping_add(done) % OUT_SIZE) as usize;
            let chunk = (avail - done).min(OUT_SIZE - pos as u32) as usize;
            let dst = &mut buf[done as usize..done as usize + chunk];
            self.page.read_at(OUT_OFF + pos, dst);
            done += chunk as u32;
        }
        // The guest may reuse the space once it sees the new consumer index.
        fence(Ordering::Release);
        self.set_index(OUT_CONS, cons.wrapping_add(done));
        done as usize
    }

    /// Copies as much of `data` as fits into the guest's input ring; returns the number of
    /// bytes taken. The caller notifies the guest when this returned non-zero.
    pub fn write_input(&self, data: &[u8]) -> usize {
        let cons = self.index(IN_CONS);
        let prod = self.index(IN_PROD);
        fence(Ordering::Acquire);
        let used = prod.wrapping_sub(cons);
        if used > IN_SIZE {
            tracing::warn!(cons, prod, "console: input ring indexes out of range");
            return 0;
        }
        let room = (IN_SIZE - used).min(data.len() as u32);
        let mut done = 0u32;
        while done < room {
            let pos = (prod.wrapping_add(done) % IN_SIZE) as usize;
            let chunk = (room - done).min(IN_SIZE - pos as u32) as usize;
            self.page
                .write_at(IN_OFF + pos, &data[done as usize..done as usize + chunk]);
            done += chunk as u32;
        }
        // The bytes must be visible before the index that publishes them.
        fence(Ordering::Release);
        self.set_index(IN_PROD, prod.wrapping_add(done));
        done as usize
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A heap page standing in for the guest's: the ring logic is the same either way.
    struct HeapPage(RefCell<Vec<u8>>);

    impl SharedPage for HeapPage {
        fn read_at(&self, offset: usize, buf: &mut [u8]) {
            buf.copy_from_slice(&self.0.borrow()[offset..offset + buf.len()]);
        }
        fn write_at(&self, offset: usize, data: &[u8]) {
            self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
        }
    }

    fn ring() -> ConsoleRing<HeapPage> {
        ConsoleRing::new(HeapPage(RefCell::new(vec![0; 4096])))
    }

    /// What the guest's hvc_xen driver does: copy into `out`, then publish `out_prod`.
    fn guest_write(r: &ConsoleRing<HeapPage>, data: &[u8]) -> usize {
        let cons = r.index(OUT_CONS);
        let mut prod = r.index(OUT_PROD);
        let mut n = 0;
        for &b in data {
            if prod.wrapping_sub(cons) == OUT_SIZE {
                break;
            }
            r.page.write_at(OUT_OFF + (prod % OUT_SIZE) as usize, &[b]);
            prod = prod.wrapping_add(1);
            n += 1;
        }
        r.set_index(OUT_PROD, prod);
        n
    }

    fn guest_read(r: &ConsoleRing<HeapPage>) -> Vec<u8> {
        let mut cons = r.index(IN_CONS);
        let prod = r.index(IN_PROD);
        let mut v = vec![];
        while cons != prod {
            let mut b = [0];
            r.page.read_at(IN_OFF + (cons % IN_SIZE) as usize, &mut b);
            v.push(b[0]);
            cons = cons.wrapping_add(1);
        }
        r.set_index(IN_CONS, cons);
        v
    }

    #[test]
    fn output_is_consumed_in_order_across_the_wrap() {
        let r = ring();
        let mut buf = [0u8; 4096];
        // Fill and drain most of the ring so the next message wraps.
        assert_eq!(guest_write(&r, &[b'x'; 2000]), 2000);
        assert_eq!(r.read_output(&mut buf), 2000);
        let msg: Vec<u8> = (0..200u8).collect();
        assert_eq!(guest_write(&r, &msg), 200);
        assert_eq!(r.read_output(&mut buf), 200);
        assert_eq!(&buf[..200], &msg[..]);
        assert_eq!(r.read_output(&mut buf), 0, "nothing new");
    }

    #[test]
    fn a_full_ring_drains_in_pieces_as_small_as_the_buffer() {
        let r = ring();
        assert_eq!(
            guest_write(&r, &[7; 3000]),
            OUT_SIZE as usize,
            "ring holds 2048"
        );
        let mut small = [0u8; 1000];
        assert_eq!(r.read_output(&mut small), 1000);
        assert_eq!(r.read_output(&mut small), 1000);
        assert_eq!(r.read_output(&mut small), 48);
        assert_eq!(r.read_output(&mut small), 0);
    }

    #[test]
    fn a_producer_index_beyond_the_ring_is_not_trusted() {
        let r = ring();
        r.set_index(OUT_PROD, 1_000_000);
        let mut buf = [0u8; 4096];
        assert_eq!(r.read_output(&mut buf), 0);
        assert_eq!(
            r.index(OUT_CONS),
            1_000_000,
            "resynchronised to the producer"
        );
        assert_eq!(guest_write(&r, b"ok"), 2);
        assert_eq!(r.read_output(&mut buf), 2);
        assert_eq!(&buf[..2], b"ok");
    }

    #[test]
    fn input_stops_at_the_guests_free_space_and_wraps() {
        let r = ring();
        assert_eq!(r.write_input(&[1; 1500]), IN_SIZE as usize);
        assert_eq!(r.write_input(b"more"), 0, "full until the guest reads");
        assert_eq!(guest_read(&r).len(), IN_SIZE as usize);
        assert_eq!(r.write_input(b"ls\r"), 3);
        assert_eq!(guest_read(&r), b"ls\r");
    }
}
