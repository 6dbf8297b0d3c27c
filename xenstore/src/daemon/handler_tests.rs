//! Unit tests of the request rules at the dispatch level.

use super::*;
use crate::wire::join_strings;

fn req(d: &mut Daemon, conn: ConnId, ty: MsgType, tx: u32, payload: &[u8]) -> Vec<Effect> {
    d.handle(
        conn,
        &Message::new(ty as u32, 1, tx, payload.to_vec()).unwrap(),
    )
}

/// The reply payload (the first effect).
fn reply(fx: &[Effect]) -> Vec<u8> {
    match &fx[0] {
        Effect::Send(_, m) => m.payload.clone(),
        other => panic!("{other:?}"),
    }
}

/// Watch events sent to `conn` as (path, token).
fn events(fx: &[Effect], conn: ConnId) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(to, m)
                if *to == conn && m.header.msg_type == MsgType::WatchEvent as u32 =>
            {
                let p: Vec<String> = m
                    .payload
                    .split(|b| *b == 0)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                Some((p[0].clone(), p[1].clone()))
            }
            _ => None,
        })
        .collect()
}

fn ev(p: &str, t: &str) -> (String, String) {
    (p.to_string(), t.to_string())
}

fn daemon() -> Daemon {
    let mut d = Daemon::default();
    d.connect(0, 0, true);
    d
}

fn txn(d: &mut Daemon, conn: ConnId) -> u32 {
    let r = reply(&req(d, conn, MsgType::TransactionStart, 0, b"\0"));
    String::from_utf8(r[..r.len() - 1].to_vec())
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_watch_fires_once_when_set_then_on_changes() {
    let mut d = daemon();
    let fx = req(&mut d, 0, MsgType::Watch, 0, b"/a\0tok\0");
    assert_eq!(reply(&fx), b"OK\0");
    assert_eq!(events(&fx, 0), [ev("/a", "tok")]);
    let fx = req(&mut d, 0, MsgType::Write, 0, b"/a/b\0v");
    assert_eq!(events(&fx, 0), [ev("/a/b", "tok")]);
    let fx = req(&mut d, 0, MsgType::Write, 0, b"/other\0v");
    assert!(events(&fx, 0).is_empty());
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Unwatch, 0, b"/a\0tok\0")),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Unwatch, 0, b"/a\0tok\0")),
        b"ENOENT\0"
    );
}

#[test]
fn transaction_events_fire_at_commit_only() {
    let mut d = daemon();
    d.connect(1, 0, true);
    req(&mut d, 1, MsgType::Watch, 0, b"/t\0w\0");
    let id = txn(&mut d, 0);
    let fx = req(&mut d, 0, MsgType::Write, id, b"/t/x\0v");
    assert!(events(&fx, 1).is_empty());
    let fx = req(&mut d, 0, MsgType::TransactionEnd, id, b"T\0");
    assert_eq!(events(&fx, 1), [ev("/t/x", "w")]);
    // Aborted: nothing fires, nothing changes.
    let id = txn(&mut d, 0);
    req(&mut d, 0, MsgType::Write, id, b"/t/y\0v");
    let fx = req(&mut d, 0, MsgType::TransactionEnd, id, b"F\0");
    assert!(events(&fx, 1).is_empty());
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Read, 0, b"/t/y\0")),
        b"ENOENT\0"
    );
}

#[test]
fn transaction_ids_and_misuse() {
    let mut d = daemon();
    let id = txn(&mut d, 0);
    match &req(&mut d, 0, MsgType::Read, id, b"/\0")[0] {
        Effect::Send(_, m) => assert_eq!(m.header.tx_id, id, "reply echoes tx_id"),
        e => panic!("{e:?}"),
    }
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::TransactionStart, id, b"\0")),
        b"EBUSY\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Read, id + 1, b"/\0")),
        b"ENOENT\0"
    );
    d.connect(1, 0, true);
    assert_eq!(
        reply(&req(&mut d, 1, MsgType::Read, id, b"/\0")),
        b"ENOENT\0",
        "another connection's txn"
    );
    req(&mut d, 0, MsgType::ResetWatches, 0, b"\0");
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::TransactionEnd, id, b"T\0")),
        b"ENOENT\0",
        "reset drops txns"
    );
}

#[test]
fn relative_paths_and_watches_of_domains() {
    let mut d = daemon();
    req(&mut d, 0, MsgType::Mkdir, 0, b"/local/domain/5\0");
    req(&mut d, 0, MsgType::SetPerms, 0, b"/local/domain/5\0n5\0");
    d.connect(5, 5, false);
    let fx = req(&mut d, 5, MsgType::Watch, 0, b"data\0t\0");
    assert_eq!(events(&fx, 5), [ev("data", "t")]);
    let fx = req(&mut d, 0, MsgType::Write, 0, b"/local/domain/5/data/x\0v");
    assert_eq!(events(&fx, 5), [ev("data/x", "t")]);
    assert_eq!(reply(&req(&mut d, 5, MsgType::Read, 0, b"data/x\0")), b"v");
    assert_eq!(
        reply(&req(&mut d, 5, MsgType::GetPerms, 0, b"data/x\0")),
        b"n5\0"
    );
}

#[test]
fn special_watches_need_permission() {
    let mut d = daemon();
    d.connect(5, 5, false);
    req(&mut d, 5, MsgType::Watch, 0, b"@releaseDomain\0r\0");
    req(&mut d, 0, MsgType::Introduce, 0, b"7\x001\x002\x00");
    let fx = req(&mut d, 0, MsgType::Release, 0, b"7\0");
    assert!(events(&fx, 5).is_empty(), "not granted");
    assert_eq!(
        reply(&req(
            &mut d,
            5,
            MsgType::SetPerms,
            0,
            b"@releaseDomain\0r5\0"
        )),
        b"EACCES\0"
    );
    assert_eq!(
        reply(&req(
            &mut d,
            0,
            MsgType::SetPerms,
            0,
            b"@releaseDomain\0n0\0r5\0"
        )),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 5, MsgType::GetPerms, 0, b"@releaseDomain\0")),
        b"n0\0r5\0"
    );
    req(&mut d, 0, MsgType::Introduce, 0, b"7\x001\x002\x00");
    let fx = req(&mut d, 0, MsgType::Release, 0, b"7\0");
    assert_eq!(events(&fx, 5), [ev("@releaseDomain", "r")]);
    assert!(fx.contains(&Effect::Released(7)));
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Read, 0, b"@releaseDomain\0")),
        b"EINVAL\0"
    );
}

#[test]
fn set_target_grants_the_targets_rights() {
    let mut d = daemon();
    req(&mut d, 0, MsgType::Write, 0, b"/local/domain/3/k\0v");
    req(&mut d, 0, MsgType::SetPerms, 0, b"/local/domain/3/k\0n3\0");
    d.connect(9, 9, false);
    assert_eq!(
        reply(&req(&mut d, 9, MsgType::Read, 0, b"/local/domain/3/k\0")),
        b"EACCES\0"
    );
    assert_eq!(
        reply(&req(&mut d, 9, MsgType::SetTarget, 0, b"9\x003\x00")),
        b"EACCES\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::SetTarget, 0, b"9\x003\x00")),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 9, MsgType::Read, 0, b"/local/domain/3/k\0")),
        b"v"
    );
    assert_eq!(
        reply(&req(&mut d, 9, MsgType::Write, 0, b"/local/domain/3/k\0w")),
        b"OK\0"
    );
}

#[test]
fn features_quotas_control() {
    let mut d = daemon();
    assert_eq!(reply(&req(&mut d, 0, MsgType::GetFeature, 0, b"")), b"7\0");
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::SetFeature, 0, b"4\x001\x00")),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetFeature, 0, b"4\0")),
        b"1\0"
    );
    req(&mut d, 0, MsgType::Introduce, 0, b"4\x001\x002\x00");
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::SetFeature, 0, b"4\x003\x00")),
        b"EBUSY\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetFeature, 0, b"4\0")),
        b"1\0"
    );
    let names = reply(&req(&mut d, 0, MsgType::GetQuota, 0, b""));
    assert!(String::from_utf8_lossy(&names).contains("outstanding"));
    assert_eq!(
        reply(&req(
            &mut d,
            0,
            MsgType::SetQuota,
            0,
            b"5\x00nodes\x003\x00"
        )),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetQuota, 0, b"5\x00nodes\x00")),
        b"3\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetQuota, 0, b"nodes\0")),
        b"1000\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetQuota, 0, b"bogus\0")),
        b"EINVAL\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Control, 0, b"check\0")),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Control, 0, b"nope\0")),
        b"EINVAL\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::IsDomainIntroduced, 0, b"4\0")),
        b"T\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::IsDomainIntroduced, 0, b"6\0")),
        b"F\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Resume, 0, b"6\0")),
        b"ENOENT\0"
    );
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::GetDomainPath, 0, b"6\0")),
        b"/local/domain/6\0"
    );
}

#[test]
fn node_quota_is_rechecked_at_commit() {
    let mut q = Quotas::default();
    q.set(None, "nodes", 5);
    let mut d = Daemon::new(q);
    d.connect(0, 0, true);
    req(&mut d, 0, MsgType::Mkdir, 0, b"/local/domain/5\0");
    req(&mut d, 0, MsgType::SetPerms, 0, b"/local/domain/5\0n5\0"); // 1 node owned by 5
    d.connect(5, 5, false);
    let (a, b) = (txn(&mut d, 5), txn(&mut d, 5));
    for (t, name) in [(a, "a"), (b, "b")] {
        for i in 0..3 {
            assert_eq!(
                reply(&req(
                    &mut d,
                    5,
                    MsgType::Write,
                    t,
                    &join_strings([format!("{name}{i}")])
                )),
                b"OK\0"
            );
        }
    }
    assert_eq!(
        reply(&req(&mut d, 5, MsgType::TransactionEnd, a, b"T\0")),
        b"OK\0"
    );
    assert_eq!(
        reply(&req(&mut d, 5, MsgType::TransactionEnd, b, b"T\0")),
        b"ENOSPC\0"
    );
    assert_eq!(d.store.owned_by(5), 4);
}

#[test]
fn directory_over_one_payload_is_e2big() {
    let mut d = daemon();
    for i in 0..300 {
        req(
            &mut d,
            0,
            MsgType::Mkdir,
            0,
            &join_strings([format!("/d/child-number-{i:04}")]),
        );
    }
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Directory, 0, b"/d\0")),
        b"E2BIG\0"
    );
    let part = reply(&req(&mut d, 0, MsgType::DirectoryPart, 0, b"/d\x000\x00"));
    assert!(part.len() <= 4096 && part.len() > 4000);
}

#[test]
fn disconnect_drops_watches() {
    let mut d = daemon();
    d.connect(1, 0, true);
    req(&mut d, 1, MsgType::Watch, 0, b"/\0all\0");
    d.disconnect(1);
    let fx = req(&mut d, 0, MsgType::Write, 0, b"/x\0v");
    assert_eq!(fx.len(), 1, "only the reply");
    assert!(
        req(&mut d, 1, MsgType::Read, 0, b"/x\0").is_empty(),
        "unknown connection: ignored"
    );
}

#[test]
fn values_near_2_pow_31_and_32_xsa420() {
    let mut d = daemon();
    for v in ["2147483647", "2147483648", "4294967295"] {
        assert_eq!(
            reply(&req(
                &mut d,
                0,
                MsgType::SetQuota,
                0,
                &join_strings(["nodes", v])
            )),
            b"OK\0"
        );
        assert_eq!(
            reply(&req(&mut d, 0, MsgType::GetQuota, 0, b"nodes\0")),
            join_strings([v])
        );
    }
    for bad in ["4294967296", "-1", "99999999999999999999"] {
        assert_eq!(
            reply(&req(
                &mut d,
                0,
                MsgType::SetQuota,
                0,
                &join_strings(["nodes", bad])
            )),
            b"EINVAL\0",
            "{bad}"
        );
    }
    for bad in ["65536", "2147483648", "4294967296"] {
        assert_eq!(
            reply(&req(&mut d, 0, MsgType::Release, 0, &join_strings([bad]))),
            b"EINVAL\0",
            "{bad}"
        );
    }
    assert_eq!(
        reply(&req(
            &mut d,
            0,
            MsgType::DirectoryPart,
            0,
            b"/\x004294967295\x00"
        )),
        b"EINVAL\0"
    );
    assert_eq!(
        reply(&req(
            &mut d,
            0,
            MsgType::DirectoryPart,
            0,
            b"/\x004294967296\x00"
        )),
        b"EINVAL\0"
    );
}

#[test]
fn watch_count_stays_within_quota_after_re_registration_xsa512() {
    let mut q = Quotas::default();
    q.set(None, "watches", 4);
    let mut d = Daemon::new(q);
    d.connect(5, 5, false);
    for round in 0..500 {
        let w = join_strings([format!("w{}", round % 7), "t".to_string()]);
        assert_eq!(reply(&req(&mut d, 5, MsgType::Watch, 0, &w)), b"OK\0");
        assert_eq!(reply(&req(&mut d, 5, MsgType::Unwatch, 0, &w)), b"OK\0");
    }
    for i in 0..4 {
        assert_eq!(
            reply(&req(
                &mut d,
                5,
                MsgType::Watch,
                0,
                &join_strings([format!("k{i}"), "t".into()])
            )),
            b"OK\0"
        );
    }
    assert_eq!(
        reply(&req(&mut d, 5, MsgType::Watch, 0, b"k9\0t\0")),
        b"E2BIG\0"
    );
}

#[test]
fn domain_exceptions_release_dead_domains_and_signal_shutdown_once() {
    let mut d = daemon();
    req(&mut d, 0, MsgType::Watch, 0, b"@releaseDomain\0r\0");
    for id in [b"3\x001\x001\x00", b"4\x001\x001\x00"] {
        req(&mut d, 0, MsgType::Introduce, 0, id);
    }
    req(&mut d, 0, MsgType::Write, 0, b"/local/domain/4/x\0v");
    req(&mut d, 0, MsgType::SetPerms, 0, b"/local/domain/4/x\0n4\0");
    // 3 shut down, 4 gone.
    let alive: HashMap<u32, u32> = [(0, 0), (3, 4)].into_iter().collect();
    let fx = d.domain_states(&alive);
    assert_eq!(events(&fx, 0).len(), 2);
    assert!(fx.contains(&Effect::Released(4)) && !fx.contains(&Effect::Released(3)));
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::Read, 0, b"/local/domain/4/x\0")),
        b"ENOENT\0"
    );
    assert!(
        events(&d.domain_states(&alive), 0).is_empty(),
        "shutdown signalled once"
    );
    let dying: HashMap<u32, u32> = [(0, 0), (3, 1 | 4)].into_iter().collect();
    assert!(d.domain_states(&dying).contains(&Effect::Released(3)));
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::IsDomainIntroduced, 0, b"3\0")),
        b"F\0"
    );
}

#[test]
fn introduce_whose_ring_cannot_be_connected_fails_and_leaves_nothing() {
    let mut d = daemon();
    req(&mut d, 0, MsgType::Watch, 0, b"@introduceDomain\0t\0");
    req(&mut d, 0, MsgType::SetFeature, 0, b"6\x001\x00");
    let msg = Message::new(
        MsgType::Introduce as u32,
        1,
        0,
        b"6\x00-1\x009\x00".to_vec(),
    )
    .unwrap();
    let mut tried = Vec::new();
    let fx = d.handle_with(0, &msg, &mut |dom| {
        tried.push((dom.domid, dom.gfn, dom.evtchn, dom.features));
        Err(XsErrno::EINVAL)
    });
    assert_eq!(
        tried,
        [(6, -1, 9, 1)],
        "the ring is connected before the reply"
    );
    assert_eq!(
        reply(&fx),
        b"EINVAL\0",
        "the mapping error reaches the caller"
    );
    assert!(
        events(&fx, 0).is_empty(),
        "no @introduceDomain for a failed INTRODUCE"
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Introduced(_))));
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::IsDomainIntroduced, 0, b"6\0")),
        b"F\0",
        "no half-introduced domain"
    );
    // The toolstack may retry (e.g. once the guest's page is set up): it then succeeds, with
    // the feature word set before the failed attempt still in force.
    let fx = d.handle_with(0, &msg, &mut |dom| {
        assert_eq!(dom.features, 1);
        Ok(())
    });
    assert_eq!(reply(&fx), b"OK\0");
    assert_eq!(events(&fx, 0), [ev("@introduceDomain", "t")]);
    assert_eq!(
        reply(&req(&mut d, 0, MsgType::IsDomainIntroduced, 0, b"6\0")),
        b"T\0"
    );
}

#[test]
fn the_domain_whose_writes_fail_others_commits_is_blamed_and_paused() {
    let mut d = daemon();
    d.connect(5, 5, false);
    d.connect(6, 6, false);
    req(&mut d, 0, MsgType::Write, 0, b"/x\0v");
    req(&mut d, 0, MsgType::SetPerms, 0, b"/x\0b0\0");
    for round in 0..5 {
        assert_eq!(d.conflict_wait(5, Instant::now), None, "round {round}");
        let t = txn(&mut d, 6);
        req(&mut d, 6, MsgType::Read, t, b"/x\0");
        req(&mut d, 6, MsgType::Write, t, b"/x\0mine");
        req(&mut d, 5, MsgType::Write, 0, b"/x\0storm");
        assert_eq!(
            reply(&req(&mut d, 6, MsgType::TransactionEnd, t, b"T\0")),
            b"EAGAIN\0"
        );
    }
    assert_eq!(d.conflicts.blamed, 5);
    assert!(
        d.conflict_wait(5, Instant::now).is_some(),
        "the writer waits"
    );
    assert_eq!(
        d.conflict_wait(6, Instant::now),
        None,
        "the victim does not"
    );
    assert_eq!(d.conflict_wait(0, Instant::now), None, "dom0 never does");
    // dom0's own writes failing a guest's transaction blame nobody.
    let t = txn(&mut d, 6);
    req(&mut d, 6, MsgType::Read, t, b"/x\0");
    req(&mut d, 0, MsgType::Write, 0, b"/x\0dom0");
    req(&mut d, 6, MsgType::TransactionEnd, t, b"T\0");
    assert_eq!(d.conflicts.blamed, 5);
}

#[test]
fn live_update_control_is_privileged_and_answered_later() {
    let mut d = daemon();
    d.connect(5, 5, false);
    let start = join_strings(["live-update", "-s"]);
    let fx = req(&mut d, 5, MsgType::Control, 0, &start);
    assert_eq!(reply(&fx), b"EACCES\0");
    assert!(!d.live_update.pending());
    // Privileged: recorded, and no reply now (the new image sends it).
    let fx = req(&mut d, 0, MsgType::Control, 0, &start);
    assert!(fx.is_empty(), "{fx:?}");
    assert!(d.live_update.pending());
    // The next request is answered as usual.
    let fx = req(&mut d, 0, MsgType::Write, 0, b"/a\0x");
    assert_eq!(reply(&fx), b"OK\0");
}

#[test]
fn a_session_carries_watches_and_dooms_open_transactions() {
    let mut d = daemon();
    req(&mut d, 0, MsgType::Watch, 0, b"/w\0tok\0");
    let t = txn(&mut d, 0);
    req(&mut d, 0, MsgType::Write, t, b"/w/in-tx\0x");
    let s = d.session(0).unwrap();
    assert_eq!(s.open_txns, [t]);
    assert_eq!(s.watches.len(), 1);
    // The new image: same connection id, session given back.
    let mut e = Daemon::default();
    e.resume_session(0, 0, true, s);
    let fx = req(&mut e, 0, MsgType::Write, 0, b"/w/x\0y");
    assert_eq!(events(&fx, 0), [ev("/w/x", "tok")]);
    // Inside the doomed transaction requests still work; its commit says retry.
    assert_eq!(reply(&req(&mut e, 0, MsgType::Read, t, b"/w/x\0")), b"y");
    let fx = req(&mut e, 0, MsgType::TransactionEnd, t, b"T\0");
    assert_eq!(reply(&fx), b"EAGAIN\0");
    assert_eq!(e.conflicts.blamed, 0, "nobody is blamed for it");
    // New transaction ids do not reuse the old one.
    assert!(txn(&mut e, 0) > t);
}
