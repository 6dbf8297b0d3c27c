//! The server loop serving a guest ring, on an in-process page (no Xen): requests split
//! across the ring's wraparound, replies, reconnection, and a guest corrupting its indices.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::poll::PollTimeout;
use rxl_xenstore::daemon::conn::ring::{PAGE_SIZE, RingConn, RingPage};
use rxl_xenstore::daemon::conn::socket::{ListenSpec, Server};
use rxl_xenstore::daemon::handler::Daemon;
use rxl_xenstore::wire::{Message, MsgType};

#[repr(C, align(4096))]
struct Page([u8; PAGE_SIZE]);

/// The guest's side of the page, through raw pointers only (the server holds the page too).
struct Guest(*mut u8);

impl Guest {
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: in-page, 4-aligned offsets of a live page-aligned allocation.
        unsafe { &*(self.0.add(off) as *const AtomicU32) }
    }
    fn send(&self, bytes: &[u8]) {
        let prod = self.word(2052).load(Ordering::Acquire);
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: index masked into the 1024-byte request ring at offset 0.
            unsafe {
                self.0
                    .add((prod.wrapping_add(i as u32) & 1023) as usize)
                    .write_volatile(*b);
            };
        }
        self.word(2052)
            .store(prod.wrapping_add(bytes.len() as u32), Ordering::Release);
    }
    fn recv_all(&self) -> Vec<u8> {
        let cons = self.word(2056).load(Ordering::Acquire);
        let prod = self.word(2060).load(Ordering::Acquire);
        let out = (0..prod.wrapping_sub(cons))
            // SAFETY: index masked into the response ring at offset 1024.
            .map(|i| unsafe {
                self.0
                    .add(1024 + (cons.wrapping_add(i) & 1023) as usize)
                    .read_volatile()
            })
            .collect();
        self.word(2056).store(prod, Ordering::Release);
        out
    }
}

#[test]
fn server_serves_a_ring() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ListenSpec {
        path: dir.path().join("sock"),
        domid: 0,
        privileged: true,
    };
    let mut server = Server::new(Daemon::default(), &[spec]).unwrap();
    let raw = Box::into_raw(Box::new(Page([0; PAGE_SIZE])));
    let base = NonNull::new(raw as *mut u8).unwrap();
    let guest = Guest(base.as_ptr());
    // Start near the end of the index space and of the ring, so both wrap.
    for off in [2048, 2052, 2056, 2060] {
        guest.word(off).store(u32::MAX - 10, Ordering::Relaxed);
    }
    // SAFETY: `raw` is a live, aligned 4096-byte page until freed at the end of the test.
    let page = unsafe { RingPage::new(base, 5) };
    server.attach_ring(5, false, RingConn::from_page(page));

    let req = Message::new(MsgType::GetDomainPath as u32, 77, 0, b"5\0".to_vec())
        .unwrap()
        .encode();
    guest.send(&req[..7]); // half a header first
    server.turn(PollTimeout::ZERO).unwrap();
    assert!(guest.recv_all().is_empty());
    guest.send(&req[7..]);
    server.turn(PollTimeout::ZERO).unwrap();
    let (reply, _) = Message::decode(&guest.recv_all()).unwrap().unwrap();
    assert_eq!(
        (reply.header.req_id, reply.payload.as_slice()),
        (77, &b"/local/domain/5\0"[..])
    );

    // An unprivileged guest gets errors like on a socket.
    guest.send(
        &Message::new(MsgType::Write as u32, 1, 0, b"/x\0v".to_vec())
            .unwrap()
            .encode(),
    );
    server.turn(PollTimeout::ZERO).unwrap();
    assert_eq!(
        Message::decode(&guest.recv_all())
            .unwrap()
            .unwrap()
            .0
            .payload,
        b"EACCES\0"
    );

    // Reconnection: connection = 1 → server empties the rings and clears it.
    guest.send(&req[..5]);
    guest.word(2068).store(1, Ordering::Release);
    server.turn(PollTimeout::ZERO).unwrap();
    assert_eq!(guest.word(2068).load(Ordering::Acquire), 0);
    assert_eq!(
        guest.word(2048).load(Ordering::Acquire),
        guest.word(2052).load(Ordering::Acquire)
    );
    guest.send(&req);
    server.turn(PollTimeout::ZERO).unwrap();
    assert_eq!(
        Message::decode(&guest.recv_all())
            .unwrap()
            .unwrap()
            .0
            .payload,
        b"/local/domain/5\0"
    );

    // Corrupt indices: error = RINGIDX and the connection goes; the daemon carries on.
    let cons = guest.word(2048).load(Ordering::Acquire);
    guest
        .word(2052)
        .store(cons.wrapping_add(5000), Ordering::Release);
    server.turn(PollTimeout::ZERO).unwrap();
    assert_eq!(guest.word(2072).load(Ordering::Acquire), 2);
    assert_eq!(server.daemon().connections(), 0);
    drop(server);
    // SAFETY: the server (and its RingPage) is gone; free the page allocated above.
    drop(unsafe { Box::from_raw(raw) });
}
