//! The server loop serving a guest ring, on an in-process page (no Xen): requests split
//! across the ring's wraparound, replies, reconnection, a guest corrupting its indices, and
//! a daemon restart under a connected ring.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::poll::PollTimeout;
use rxl_xenstore::daemon::conn::ring::{PAGE_SIZE, RingConn, RingPage};
use rxl_xenstore::daemon::conn::socket::{ListenSpec, Server};
use rxl_xenstore::daemon::handler::Daemon;
use rxl_xenstore::daemon::persist;
use rxl_xenstore::daemon::quota::Quotas;
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

/// Sends one request on a raw socket and turns the server until its reply is there.
fn sock_req(server: &mut Server, s: &mut UnixStream, ty: MsgType, payload: &[u8]) -> Vec<u8> {
    s.write_all(
        &Message::new(ty as u32, 1, 0, payload.to_vec())
            .unwrap()
            .encode(),
    )
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        server.turn(PollTimeout::from(20u16)).unwrap();
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        if let Some((m, _)) = Message::decode(&got).unwrap() {
            return m.payload;
        }
    }
    panic!("no reply to {ty:?}");
}

/// A restart (state dump, new daemon, ring attached again) keeps the ring's watches: the
/// guest registered them once and goes on waiting for their events.
#[test]
fn ring_watches_survive_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ListenSpec {
        path: dir.path().join("sock"),
        domid: 0,
        privileged: true,
    };
    let state = dir.path().join("state");
    let raw = Box::into_raw(Box::new(Page([0; PAGE_SIZE])));
    let base = NonNull::new(raw as *mut u8).unwrap();
    let guest = Guest(base.as_ptr());

    let mut server = Server::new(Daemon::default(), std::slice::from_ref(&spec)).unwrap();
    let mut s = UnixStream::connect(&spec.path).unwrap();
    s.set_nonblocking(true).unwrap();
    assert_eq!(
        sock_req(
            &mut server,
            &mut s,
            MsgType::Mkdir,
            b"/local/domain/5/control\0"
        ),
        b"OK\0"
    );
    assert_eq!(
        sock_req(
            &mut server,
            &mut s,
            MsgType::SetPerms,
            b"/local/domain/5/control\0n5\0"
        ),
        b"OK\0"
    );
    // SAFETY: `raw` is a live, aligned 4096-byte page until freed at the end of the test.
    let page = unsafe { RingPage::new(base, 5) };
    server.attach_ring(5, false, RingConn::from_page(page));
    guest.send(
        &Message::new(
            MsgType::Watch as u32,
            2,
            0,
            b"control/shutdown\0tok\0".to_vec(),
        )
        .unwrap()
        .encode(),
    );
    server.turn(PollTimeout::ZERO).unwrap();
    let out = guest.recv_all();
    let (reply, used) = Message::decode(&out).unwrap().unwrap();
    assert_eq!(reply.payload, b"OK\0");
    assert!(
        Message::decode(&out[used..]).unwrap().is_some(),
        "initial event"
    );

    // SIGTERM: the rings' watches go into the dump with the tree.
    server.stash_ring_watches();
    persist::save(server.daemon(), &state).unwrap();
    drop(s);
    drop(server);

    let d = persist::load(&state, Quotas::default()).unwrap().unwrap();
    let mut server = Server::new(d, std::slice::from_ref(&spec)).unwrap();
    // SAFETY: as above; the first server and its RingPage are gone.
    let page = unsafe { RingPage::new(base, 5) };
    server.attach_ring(5, false, RingConn::from_page(page));
    let mut s = UnixStream::connect(&spec.path).unwrap();
    s.set_nonblocking(true).unwrap();
    // `xl shutdown`: the toolstack writes control/shutdown; the guest hears it.
    assert_eq!(
        sock_req(
            &mut server,
            &mut s,
            MsgType::Write,
            b"/local/domain/5/control/shutdown\0poweroff"
        ),
        b"OK\0"
    );
    server.turn(PollTimeout::ZERO).unwrap();
    let (ev, _) = Message::decode(&guest.recv_all()).unwrap().unwrap();
    assert_eq!(ev.header.msg_type, MsgType::WatchEvent as u32);
    assert_eq!(ev.payload, b"control/shutdown\0tok\0");
    drop(server);
    // SAFETY: the server (and its RingPage) is gone; free the page allocated above.
    drop(unsafe { Box::from_raw(raw) });
}
