//! Adversarial cases from the xenstored security advisories, against a real
//! `rxenstored` process. Each one checks afterwards that other clients are still served
//! and committed data is intact ([`Xsd::assert_healthy`]).

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Raw, Xsd};
use rxl_xenstore::wire::{Header, MsgType, join_strings};

fn setup(x: &Xsd) -> Raw {
    let mut c = Raw::connect(&x.sock);
    c.ok(MsgType::Write, 0, b"/committed\0precious");
    c
}

/// dom0 hands `/local/domain/<d>` to domain `d` (as libxl does).
fn give_domain(c0: &mut Raw, d: u32) {
    let p = format!("/local/domain/{d}");
    c0.ok(MsgType::Mkdir, 0, &join_strings([p.as_str()]));
    c0.ok(
        MsgType::SetPerms,
        0,
        &join_strings([p.as_str(), &format!("n{d}")]),
    );
}

fn introduce(c0: &mut Raw, d: u32) {
    c0.ok(
        MsgType::Introduce,
        0,
        &join_strings([d.to_string(), "1234".into(), "7".into()]),
    );
}

#[test]
fn oversized_payload_disconnects_only_that_client() {
    let mut x = Xsd::start(&[], &[]);
    let mut keep = setup(&x);
    for len in [4097u32, u32::MAX] {
        let mut bad = Raw::connect(&x.sock);
        bad.send_raw(
            &Header {
                msg_type: 11,
                req_id: 0,
                tx_id: 0,
                len,
            }
            .encode(),
        )
        .unwrap();
        assert!(bad.closed(), "len {len}: the offender is disconnected");
    }
    // The limit itself is fine.
    let mut v = b"/max\0".to_vec();
    v.resize(4096, b'x');
    keep.ok(MsgType::Write, 0, &v);
    keep.err(MsgType::Read, 0, b"/nope\0", "ENOENT");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn malformed_requests_get_errors_and_the_connection_survives() {
    let mut x = Xsd::start(&[], &[]);
    let mut c = setup(&x);
    c.send(999, 0, b"");
    assert_eq!(c.reply(), (MsgType::Error as u32, b"ENOSYS\0".to_vec()));
    c.send(20, 0, b"x\0");
    assert_eq!(c.reply(), (MsgType::Error as u32, b"ENOSYS\0".to_vec()));
    c.send(0xffff, 0, b"");
    assert_eq!(c.reply().1, b"ENOSYS\0");
    c.err(MsgType::Read, 0, b"/committed", "EINVAL"); // no NUL
    c.err(MsgType::Read, 0, b"/a\0b\0", "EINVAL"); // NUL inside the path
    c.err(MsgType::Read, 0, b"/a//b\0", "EINVAL");
    c.err(MsgType::Read, 0, b"/local/domain/\0", "EINVAL"); // CVE-2026-23555
    c.err(MsgType::Write, 0, b"/bad path\0v", "EINVAL");
    c.err(MsgType::Read, 0, b"/\xff\0", "EINVAL");
    c.err(MsgType::TransactionEnd, 42, b"T\0", "ENOENT");
    c.err(MsgType::Read, 42, b"/committed\0", "ENOENT"); // foreign/finished transaction
    c.err(MsgType::TransactionEnd, 0, b"X\0", "EINVAL");
    c.err(MsgType::SetPerms, 0, b"/committed\0q9\0", "EINVAL");
    c.err(MsgType::WatchEvent, 0, b"/a\0t\0", "EINVAL");
    c.err(MsgType::Rm, 0, b"/\0", "EINVAL");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn clients_vanishing_mid_message_lose_nothing_committed() {
    let mut x = Xsd::start(&[], &[]);
    let _c = setup(&x);
    {
        let mut a = Raw::connect(&x.sock);
        a.send_raw(
            &Header {
                msg_type: 11,
                req_id: 0,
                tx_id: 0,
                len: 100,
            }
            .encode(),
        )
        .unwrap();
        a.send_raw(b"/committed\0").unwrap(); // 11 of 100 bytes, then gone
    }
    {
        let mut b = Raw::connect(&x.sock);
        b.send_raw(&[11, 0, 0, 0, 0, 0]).unwrap(); // half a header
    }
    {
        // Open transaction with an uncommitted write, watches, then vanish.
        let mut t = Raw::connect(&x.sock);
        let (_, id) = t.req(MsgType::TransactionStart, 0, b"\0");
        let id: u32 = String::from_utf8_lossy(&id[..id.len() - 1])
            .parse()
            .unwrap();
        t.ok(MsgType::Write, id, b"/committed\0clobbered");
        t.ok(MsgType::Watch, 0, b"/\0tok\0");
    }
    std::thread::sleep(Duration::from_millis(200));
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn path_length_limits_xsa323() {
    let mut x = Xsd::start(&[5], &[]);
    let mut c0 = setup(&x);
    let abs_ok = format!("/{}", "a".repeat(3071));
    let mut p = join_strings([abs_ok.as_str()]);
    c0.ok(MsgType::Write, 0, &{
        p.pop();
        p.push(0);
        p.clone()
    });
    let abs_bad = format!("/{}", "a".repeat(3072));
    c0.err(
        MsgType::Write,
        0,
        &join_strings([abs_bad.as_str()]),
        "EINVAL",
    );
    give_domain(&mut c0, 5);
    let mut d5 = Raw::connect(&x.dom(5));
    d5.ok(MsgType::Write, 0, &join_strings(["a".repeat(2048)]));
    d5.err(
        MsgType::Write,
        0,
        &join_strings(["a".repeat(2049)]),
        "EINVAL",
    );
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn deep_tree_is_created_and_removed_without_recursion_xsa418() {
    let mut x = Xsd::start(&[], &[]);
    let mut c = setup(&x);
    let deep = format!("/d{}", "/a".repeat(1534));
    c.ok(MsgType::Write, 0, &join_strings([deep.as_str()]));
    c.ok(MsgType::Rm, 0, b"/d\0");
    c.err(MsgType::Read, 0, b"/d\0", "ENOENT");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn node_quota_accounting_and_release_xsa322_419_421_483() {
    let mut x = Xsd::start(&[5], &["--quota", "nodes=20"]);
    let mut c0 = setup(&x);
    introduce(&mut c0, 5);
    give_domain(&mut c0, 5); // /local/domain/5 is the first node owned by 5
    c0.ok(MsgType::Mkdir, 0, b"/shared\0");
    c0.ok(MsgType::SetPerms, 0, b"/shared\0n0\0b5\0");
    let mut d5 = Raw::connect(&x.dom(5));
    let mut made = 0;
    loop {
        let (ty, p) = d5.req(MsgType::Write, 0, &join_strings([format!("n{made}")]));
        if ty == MsgType::Error as u32 {
            assert_eq!(p, b"ENOSPC\0");
            break;
        }
        made += 1;
        assert!(made < 100, "quota never hit");
    }
    assert_eq!(made, 19);
    // XSA-419: nodes created in a directory another domain granted are counted
    // against the creator, who is at its limit.
    d5.err(MsgType::Write, 0, b"/shared/x\0", "ENOSPC");
    // XSA-421: create and delete inside a transaction keeps accounting exact.
    d5.ok(MsgType::Rm, 0, b"n0\0");
    for _ in 0..5 {
        let (_, id) = d5.req(MsgType::TransactionStart, 0, b"\0");
        let id: u32 = String::from_utf8_lossy(&id[..id.len() - 1])
            .parse()
            .unwrap();
        d5.ok(MsgType::Write, id, b"tmp\0x");
        d5.ok(MsgType::Rm, id, b"tmp\0");
        d5.ok(MsgType::TransactionEnd, id, b"T\0");
    }
    d5.ok(MsgType::Write, 0, b"n0\0back");
    d5.err(MsgType::Write, 0, b"one-more\0", "ENOSPC");
    // dom0 is exempt.
    for i in 0..30 {
        c0.ok(MsgType::Write, 0, &join_strings([format!("/dom0/{i}")]));
    }
    // Release: the domain's nodes go (XSA-322/417), its connections are dropped.
    c0.ok(MsgType::Release, 0, b"5\0");
    assert!(d5.closed());
    c0.err(MsgType::Read, 0, b"/local/domain/5/n1\0", "ENOENT");
    c0.err(MsgType::Read, 0, b"/local/domain/5\0", "ENOENT");
    assert_eq!(c0.req(MsgType::Directory, 0, b"/shared\0").1, b"");
    // Same domid again: nothing of the old domain, full quota (XSA-483).
    introduce(&mut c0, 5);
    give_domain(&mut c0, 5);
    let mut again = Raw::connect(&x.dom(5));
    again.err(MsgType::Read, 0, b"n1\0", "ENOENT");
    for i in 0..19 {
        again.ok(MsgType::Write, 0, &join_strings([format!("m{i}")]));
    }
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn watch_and_transaction_quotas() {
    let mut x = Xsd::start(&[5], &["--quota", "watches=4", "--quota", "transactions=3"]);
    let mut c0 = setup(&x);
    give_domain(&mut c0, 5);
    let mut d5 = Raw::connect(&x.dom(5));
    for i in 0..4 {
        d5.ok(
            MsgType::Watch,
            0,
            &join_strings([format!("w{i}"), "t".into()]),
        );
    }
    d5.err(MsgType::Watch, 0, b"w9\0t\0", "E2BIG");
    d5.err(MsgType::Watch, 0, b"w0\0t\0", "EEXIST");
    for _ in 0..3 {
        assert_eq!(
            d5.req(MsgType::TransactionStart, 0, b"\0").0,
            MsgType::TransactionStart as u32
        );
    }
    d5.err(MsgType::TransactionStart, 0, b"\0", "ENOSPC");
    // A watch storm from dom0 is not limited, and RESET_WATCHES frees the quota.
    for i in 0..300 {
        c0.send(
            MsgType::Watch as u32,
            0,
            &join_strings([format!("/w{i}"), "t".into()]),
        );
    }
    for _ in 0..300 {
        assert_eq!(c0.reply().1, b"OK\0");
    }
    d5.ok(MsgType::ResetWatches, 0, b"\0");
    d5.ok(MsgType::Watch, 0, b"w9\0t\0");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn permission_escalation_is_refused_xsa115_352_353() {
    let mut x = Xsd::start(&[5], &[]);
    let mut c0 = setup(&x);
    give_domain(&mut c0, 5);
    c0.ok(MsgType::Write, 0, b"/private/k\0secret");
    c0.ok(MsgType::Write, 0, b"/public/k\0hello");
    c0.ok(MsgType::SetPerms, 0, b"/public\0r0\0");
    c0.ok(MsgType::SetPerms, 0, b"/public/k\0r0\0");
    let mut d5 = Raw::connect(&x.dom(5));
    d5.err(MsgType::Write, 0, b"/\0x", "EACCES");
    d5.err(MsgType::Write, 0, b"/newtop\0x", "EACCES");
    d5.err(MsgType::SetPerms, 0, b"/\0b5\0", "EACCES");
    d5.err(MsgType::Read, 0, b"/private/k\0", "EACCES");
    d5.err(MsgType::Read, 0, b"/private/none\0", "EACCES");
    d5.err(MsgType::Rm, 0, b"/private\0", "EACCES");
    d5.err(MsgType::Write, 0, b"/public/k\0mine", "EACCES");
    assert_eq!(d5.req(MsgType::Read, 0, b"/public/k\0").1, b"hello");
    // Owner may edit the ACL but not give the node away.
    d5.err(MsgType::SetPerms, 0, b"/local/domain/5\0b6\0", "EACCES");
    d5.ok(MsgType::SetPerms, 0, b"/local/domain/5\0n5\0r6\0");
    // Privileged-only requests.
    for (ty, p) in [
        (MsgType::Introduce, &b"9\x001\x001\x00"[..]),
        (MsgType::Release, b"0\0"),
        (MsgType::SetTarget, b"5\x000\x00"),
        (MsgType::SetQuota, b"nodes\x009999\x00"),
        (MsgType::Control, b"help\0"),
    ] {
        d5.err(ty, 0, p, "EACCES");
    }
    // XSA-115: watch events only for readable nodes and no special events.
    d5.ok(MsgType::Watch, 0, b"/\0root\0");
    d5.ok(MsgType::Watch, 0, b"@introduceDomain\0intro\0");
    let mut w0 = Raw::connect(&x.sock);
    w0.ok(MsgType::Watch, 0, b"@introduceDomain\0intro\0");
    c0.ok(MsgType::Write, 0, b"/private/k\0changed");
    c0.ok(MsgType::Write, 0, b"/public/k\0changed");
    introduce(&mut c0, 9);
    d5.req(MsgType::Read, 0, b"/public/k\0"); // sync point: earlier events precede this reply
    let got: Vec<&str> = d5.events.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        got,
        ["/", "@introduceDomain", "/public/k"],
        "initial events, then only the readable change"
    );
    w0.req(MsgType::Read, 0, b"/public/k\0");
    assert_eq!(
        w0.events.len(),
        2,
        "privileged watcher sees the introduction: {:?}",
        w0.events
    );
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn replies_never_read_are_bounded_xsa326_416() {
    let mut x = Xsd::start(&[], &[]);
    let mut c0 = setup(&x);
    for i in 0..300 {
        c0.send(
            MsgType::Mkdir as u32,
            0,
            &join_strings([format!("/big/child-{i:06}")]),
        );
    }
    for _ in 0..300 {
        c0.reply();
    }
    let rss0 = x.rss_kib();
    let hog = Raw::connect(&x.sock);
    hog.s.set_nonblocking(true).unwrap();
    let h = Header {
        msg_type: MsgType::Directory as u32,
        req_id: 0,
        tx_id: 0,
        len: 5,
    };
    let mut one = h.encode().to_vec();
    one.extend_from_slice(b"/big\0");
    let mut sent = 0usize;
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    for _ in 0..200 {
        match (&hog.s).write(&burst) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert!(sent > 0);
    x.assert_healthy("/committed", b"precious");
    let grown = x.rss_kib().saturating_sub(rss0);
    assert!(
        grown < 64 * 1024,
        "memory held for an unread client grew by {grown} KiB"
    );
    drop(hog);
    x.assert_healthy("/committed", b"precious");
}

/// A client that pipelines more replies than the output pause lets through gets every
/// one of them, in order and without stalling, once it reads: requests left in the
/// daemon's input buffer are carried to the next round even when no socket event
/// comes for them.
#[test]
fn pipelined_requests_beyond_the_output_pause_are_all_answered() {
    let mut x = Xsd::start(&[], &[]);
    let mut c0 = setup(&x);
    let value = vec![b'v'; 2000];
    let mut w = b"/pipe/big\0".to_vec();
    w.extend_from_slice(&value);
    c0.ok(MsgType::Write, 0, &w);
    let mut c = Raw::connect(&x.sock);
    let h = Header {
        msg_type: MsgType::Read as u32,
        req_id: 0,
        tx_id: 0,
        len: 10,
    };
    let mut one = h.encode().to_vec();
    one.extend_from_slice(b"/pipe/big\0");
    // ~26 KB of requests (under the input limit), ~2 MB of replies (8x the pause).
    let n = 1000;
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
    c.send_raw(&burst).unwrap();
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let (ty, payload) = c.reply();
        assert_eq!(ty, MsgType::Read as u32, "reply {i}");
        assert_eq!(payload, value, "reply {i}");
    }
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{n} pipelined replies took {took:?}"
    );
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn event_storm_to_a_dying_watcher_xsa324() {
    let mut x = Xsd::start(&[], &[]);
    let mut c0 = setup(&x);
    let mut w = Raw::connect(&x.sock);
    w.ok(MsgType::Watch, 0, b"/\0all\0");
    let long = format!("/storm/{}", "s".repeat(200));
    for i in 0..6000 {
        c0.send(
            MsgType::Write as u32,
            0,
            &join_strings([format!("{long}/{i}")]),
        );
        if i == 3000 {
            drop(std::mem::replace(&mut w, Raw::connect(&x.sock))); // vanish mid-storm
        }
    }
    for _ in 0..6000 {
        assert_eq!(c0.reply().1, b"OK\0");
    }
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn reset_watches_cycles_keep_memory_flat_xsa330_484() {
    let mut x = Xsd::start(&[], &[]);
    let mut c = setup(&x);
    let run = |c: &mut Raw, n: usize| {
        for chunk in 0..n / 100 {
            for i in 0..100 {
                c.send(
                    MsgType::Watch as u32,
                    0,
                    &join_strings([format!("/w/{chunk}/{i}"), "t".into()]),
                );
                c.send(MsgType::ResetWatches as u32, 0, b"\0");
            }
            for _ in 0..200 {
                assert_eq!(c.reply().1, b"OK\0");
            }
            c.events.clear();
        }
    };
    run(&mut c, 2000);
    let before = x.rss_kib();
    run(&mut c, 20000);
    let grown = x.rss_kib().saturating_sub(before);
    assert!(
        grown < 8 * 1024,
        "RSS grew by {grown} KiB over 20000 watch/reset cycles"
    );
    // XSA-484: RESET_WATCHES with a transaction id is harmless.
    let (_, id) = c.req(MsgType::TransactionStart, 0, b"\0");
    let id: u32 = String::from_utf8_lossy(&id[..id.len() - 1])
        .parse()
        .unwrap();
    c.ok(MsgType::ResetWatches, id, b"\0");
    c.err(MsgType::TransactionEnd, id, b"T\0", "ENOENT");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn stalled_guest_does_not_delay_release_xsa325() {
    let mut x = Xsd::start(&[5], &[]);
    let mut c0 = setup(&x);
    introduce(&mut c0, 5);
    give_domain(&mut c0, 5);
    let stalled = Raw::connect(&x.dom(5));
    stalled.s.set_nonblocking(true).unwrap();
    let mut req = Header {
        msg_type: MsgType::Read as u32,
        req_id: 0,
        tx_id: 0,
        len: 3,
    }
    .encode()
    .to_vec();
    req.extend_from_slice(b"/x\0");
    for _ in 0..5000 {
        if (&stalled.s).write(&req).is_err() {
            break;
        }
    }
    let mut w = Raw::connect(&x.sock);
    w.ok(MsgType::Watch, 0, b"@releaseDomain\0rel\0");
    c0.ok(MsgType::Release, 0, b"5\0");
    w.req(MsgType::Read, 0, b"/committed\0");
    assert_eq!(
        w.events
            .iter()
            .filter(|(p, _)| p == "@releaseDomain")
            .count(),
        2,
        "initial + release: {:?}",
        w.events
    );
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn transaction_creating_under_a_removed_parent_fails_xsa415_440() {
    let mut x = Xsd::start(&[], &[]);
    let mut c1 = setup(&x);
    let mut c2 = Raw::connect(&x.sock);
    c1.ok(MsgType::Write, 0, b"/a/keep\0v");
    let (_, id) = c1.req(MsgType::TransactionStart, 0, b"\0");
    let id: u32 = String::from_utf8_lossy(&id[..id.len() - 1])
        .parse()
        .unwrap();
    c1.ok(MsgType::Write, id, b"/a/b/c\0new");
    c2.ok(MsgType::Rm, 0, b"/a\0");
    c1.err(MsgType::TransactionEnd, id, b"T\0", "EAGAIN");
    c1.err(MsgType::Read, 0, b"/a/b/c\0", "ENOENT");
    c1.err(MsgType::Read, 0, b"/a\0", "ENOENT");
    assert_eq!(c1.req(MsgType::Control, 0, b"check\0").1, b"OK\0");
    x.assert_healthy("/committed", b"precious");
}

#[test]
fn state_survives_restart() {
    let mut x = Xsd::start(&[], &[]);
    let mut c = setup(&x);
    c.ok(MsgType::Write, 0, b"/vm/bin\0\x00\x01\xff");
    c.ok(MsgType::SetPerms, 0, b"/vm\0r0\0b7\0");
    introduce(&mut c, 7);
    drop(c);
    x.restart();
    let mut c = Raw::connect(&x.sock);
    assert_eq!(c.req(MsgType::Read, 0, b"/vm/bin\0").1, b"\x00\x01\xff");
    assert_eq!(c.req(MsgType::GetPerms, 0, b"/vm\0").1, b"r0\0b7\0");
    assert_eq!(c.req(MsgType::IsDomainIntroduced, 0, b"7\0").1, b"T\0");
    x.assert_healthy("/committed", b"precious");
}

/// What a victim domain got done during a conflict storm.
struct StormResult {
    commits: u32,
    conflicts: u32,
}

/// Domain 5 (two connections) rewrites `/storm/shared` as fast as it can while domain 6 runs transactions
/// that read it (and write its own node) for `window`, each attempt without back-off.
fn conflict_storm(burst: &str, window: Duration) -> (Xsd, StormResult) {
    use rxl_xenstore::client::{Client, ClientError};
    use rxl_xenstore::wire::XsErrno;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let x = Xsd::start(&[5, 6], &["--conflict-burst", burst]);
    let mut c0 = setup(&x);
    c0.ok(MsgType::Write, 0, b"/storm/shared\0s");
    c0.ok(MsgType::Write, 0, b"/storm/v6\x000");
    c0.ok(MsgType::SetPerms, 0, b"/storm/shared\0n0\0b5\0r6\0");
    c0.ok(MsgType::SetPerms, 0, b"/storm/v6\0n0\0b6\0");
    let stop = Arc::new(AtomicBool::new(false));
    let storms: Vec<_> = (0..2)
        .map(|_| {
            let (stop, sock) = (stop.clone(), x.dom(5));
            std::thread::spawn(move || {
                // Pipelined: 16 writes in flight (below the outstanding quota of 20), so the
                // daemon always has storm writes queued when the victim's requests arrive.
                let mut c = Raw::connect(&sock);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..16 {
                        c.send(
                            MsgType::Write as u32,
                            0,
                            format!("/storm/shared\0{n}").as_bytes(),
                        );
                        n += 1;
                    }
                    for _ in 0..16 {
                        assert_eq!(c.reply().0, MsgType::Write as u32);
                    }
                }
                n
            })
        })
        .collect();
    // Let the storm get going.
    std::thread::sleep(Duration::from_millis(100));
    let victim = Client::open_path(&x.dom(6)).unwrap();
    let mut r = StormResult {
        commits: 0,
        conflicts: 0,
    };
    let t0 = Instant::now();
    while t0.elapsed() < window {
        let tx = victim.transaction_start().unwrap();
        tx.read("/storm/shared").unwrap();
        let v: u32 = String::from_utf8(tx.read("/storm/v6").unwrap())
            .unwrap()
            .parse()
            .unwrap();
        tx.write("/storm/v6", (v + 1).to_string().as_bytes())
            .unwrap();
        match tx.commit() {
            Ok(()) => r.commits += 1,
            Err(ClientError::Xs(XsErrno::EAGAIN)) => r.conflicts += 1,
            Err(e) => panic!("commit: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let storm_writes: u64 = storms.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(storm_writes > 0, "the storm wrote nothing");
    let stored: u32 = String::from_utf8(victim.read("/storm/v6").unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(stored, r.commits, "every commit, and only those, applied");
    eprintln!(
        "burst {burst}: victim {} commits, {} conflicts; storm {storm_writes} writes",
        r.commits, r.conflicts
    );
    (x, r)
}

#[test]
fn a_conflict_storm_cannot_starve_another_domains_transactions() {
    let window = Duration::from_secs(2);
    // Without the limit the storm fails at least a third of the victim's commits (mostly
    // all of them; less only when the host is so loaded that the storm threads stall):
    // the storm is real, so the assertions below prove something.
    let (mut x, open) = conflict_storm("0", window);
    x.assert_healthy("/committed", b"precious");
    assert!(
        2 * open.conflicts >= open.commits,
        "no limit: expected the storm to fail most commits, got {} commits / {} conflicts",
        open.commits,
        open.conflicts
    );
    // With the default limit the storming domain is paused after 5 conflicts and earns
    // one credit per 50 ms, so it can fail at most 5 + 2 s / 50 ms = 45 of the victim's
    // commits (slack for timing), and the victim keeps committing.
    let (mut x, limited) = conflict_storm("5", window);
    x.assert_healthy("/committed", b"precious");
    assert!(
        limited.conflicts <= 60 && limited.commits >= 20 && limited.commits > limited.conflicts,
        "limit on: {} commits / {} conflicts",
        limited.commits,
        limited.conflicts
    );
    let stats = rxl_xenstore::client::Client::open_path(&x.sock)
        .unwrap()
        .control(&["stats"])
        .unwrap();
    assert!(
        stats.contains("conflicts-blamed") && !stats.contains("conflicts-blamed 0\n"),
        "{stats}"
    );
}

/// A client that went idle after a plain request and reply still gets the watch events other
/// clients cause, at once (xenconsoled's pattern: WATCH, a few READs, then it only waits for
/// events; an io_uring loop holding the event behind the reply's send stalled it in the lab).
#[test]
fn idle_watcher_gets_events_after_a_request() {
    let x = Xsd::start(&[], &[]);
    let mut w = setup(&x);
    w.ok(MsgType::Watch, 0, b"/idle\0tok\0");
    let (ty, _) = w.req(MsgType::Read, 0, b"/\0");
    assert_eq!(ty, MsgType::Read as u32);
    w.events.clear();
    let mut c = setup(&x);
    c.ok(MsgType::Write, 0, b"/idle/x\0v");
    w.s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        let m = w.recv().expect("no watch event within 5 s of the write");
        assert_eq!(m.header.msg_type, MsgType::WatchEvent as u32);
        if m.payload.starts_with(b"/idle/x\0") {
            break;
        }
    }
}
