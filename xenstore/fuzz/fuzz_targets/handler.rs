//! Fuzzes the daemon core with request sequences from three connections (privileged
//! dom0, unprivileged domains 5 and 6): it must never panic, every request gets exactly
//! one reply (sent first, echoing its ids), no message exceeds the payload limit, and the
//! tree stays consistent (CONTROL check).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxl_xenstore::daemon::handler::{Daemon, Effect};
use rxl_xenstore::daemon::quota::Quotas;
use rxl_xenstore::wire::{Message, MsgType, PAYLOAD_MAX};

fuzz_target!(|data: &[u8]| {
    let mut q = Quotas::default();
    q.set(None, "nodes", 50);
    let mut d = Daemon::new(q);
    d.connect(0, 0, true);
    d.connect(5, 5, false);
    d.connect(6, 6, false);
    let mut rest = data;
    // Each step: 1 byte picks the connection, 1 byte the type, 1 byte a small tx id,
    // 1 byte the payload length, then the payload (a bias toward valid-looking paths).
    while rest.len() >= 4 {
        let conn = [0u64, 5, 6][rest[0] as usize % 3];
        let ty = u32::from(rest[1] % 28);
        let tx = u32::from(rest[2] % 4);
        let len = (rest[3] as usize).min(rest.len() - 4);
        let payload = rest[4..4 + len].to_vec();
        rest = &rest[4 + len..];
        let Ok(msg) = Message::new(ty, 9, tx, payload) else {
            continue;
        };
        let fx = d.handle(conn, &msg);
        match fx.first() {
            Some(Effect::Send(to, reply)) => {
                assert_eq!(*to, conn);
                assert_eq!((reply.header.req_id, reply.header.tx_id), (9, tx));
            }
            other => panic!("first effect is not the reply: {other:?}"),
        }
        for e in &fx {
            if let Effect::Send(_, m) = e {
                assert!(m.payload.len() <= PAYLOAD_MAX);
                assert_eq!(m.header.len as usize, m.payload.len());
            }
        }
        if rest.first() == Some(&0xff) {
            d.disconnect(conn);
            d.connect(conn, conn as u32, conn == 0);
        }
    }
    let check = Message::new(MsgType::Control as u32, 1, 0, b"check\0".to_vec()).unwrap();
    match &d.handle(0, &check)[0] {
        Effect::Send(_, m) => assert_eq!(m.payload, b"OK\0"),
        other => panic!("{other:?}"),
    }
});
