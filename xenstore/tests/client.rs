//! The Rust client against a real `rxenstored`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Xsd;
use rxl_xenstore::client::{Client, ClientError};
use rxl_xenstore::wire::{Perms, XsErrno};

#[test]
fn basic_operations_and_typed_errors() {
    let x = Xsd::start(&[], &[]);
    let c = Client::open_path(&x.sock).unwrap();
    c.write("/vm/name", b"guest").unwrap();
    assert_eq!(c.read("/vm/name").unwrap(), b"guest");
    c.mkdir("/vm/dir").unwrap();
    assert_eq!(c.read("/vm/dir").unwrap(), b"");
    assert_eq!(c.directory("/vm").unwrap(), ["name", "dir"]);
    assert_eq!(c.read("/nope").unwrap_err().errno(), Some(XsErrno::ENOENT));
    assert!(matches!(
        c.read("bad//path"),
        Err(ClientError::Xs(XsErrno::EINVAL))
    ));
    c.set_perms("/vm", &Perms::parse(["r0", "b3"]).unwrap())
        .unwrap();
    assert_eq!(c.get_perms("/vm").unwrap().to_strings(), ["r0", "b3"]);
    c.rm("/vm").unwrap();
    assert!(c.read("/vm/name").is_err());
    assert_eq!(c.get_domain_path(7).unwrap(), "/local/domain/7");
    assert!(!c.is_domain_introduced(7).unwrap());
    c.introduce(7, 0x1234, 3).unwrap();
    assert!(c.is_domain_introduced(7).unwrap());
    c.resume(7).unwrap();
    c.set_target(8, 7).unwrap();
    c.release(7).unwrap();
    assert_eq!(c.release(7).unwrap_err().errno(), Some(XsErrno::ENOENT));
    assert_eq!(c.get_quota(None, "nodes").unwrap(), 1000);
    c.set_quota(Some(4), "nodes", 5).unwrap();
    assert_eq!(c.get_quota(Some(4), "nodes").unwrap(), 5);
    assert!(c.control(&["help"]).unwrap().contains("check"));
    assert!(c.write("/too/big", &[b'x'; 5000]).is_err());
}

#[test]
fn large_directories_use_directory_part() {
    let x = Xsd::start(&[], &[]);
    let c = Client::open_path(&x.sock).unwrap();
    c.transaction(|t| {
        for i in 0..800 {
            t.mkdir(&format!("/many/node-with-a-longish-name-{i:04}"))?;
        }
        Ok(())
    })
    .unwrap();
    let names = c.directory("/many").unwrap();
    assert_eq!(names.len(), 800);
    assert_eq!(names[799], "node-with-a-longish-name-0799");
}

#[test]
fn watches_arrive_on_a_channel_while_requests_continue() {
    let x = Xsd::start(&[], &[]);
    let c = Arc::new(Client::open_path(&x.sock).unwrap());
    let rx = c.watch("/w", "tok").unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap().path,
        "/w",
        "fires once when set"
    );
    let writer = {
        let c = c.clone();
        std::thread::spawn(move || {
            for i in 0..100 {
                c.write(&format!("/w/{i}"), b"x").unwrap();
            }
        })
    };
    // Nobody drains events during the writes: requests must not block on them.
    writer.join().unwrap();
    let got: Vec<String> = (0..100)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().path)
        .collect();
    assert_eq!(got[0], "/w/0");
    assert_eq!(got[99], "/w/99");
    c.unwatch("/w", "tok").unwrap();
    c.write("/w/after", b"").unwrap();
    c.read("/w/after").unwrap();
    assert!(rx.try_recv().is_err(), "no events after unwatch");
    c.watch("/w", "again").unwrap();
    c.reset_watches().unwrap();
}

#[test]
fn concurrent_transactions_lose_no_update() {
    let x = Xsd::start(&[], &[]);
    Client::open_path(&x.sock)
        .unwrap()
        .write("/counter", b"0")
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let sock = x.sock.clone();
            std::thread::spawn(move || {
                let c = Client::open_path(&sock).unwrap();
                for _ in 0..50 {
                    c.transaction(|t| {
                        let v: u64 = String::from_utf8(t.read("/counter")?)
                            .unwrap()
                            .parse()
                            .unwrap();
                        t.write("/counter", (v + 1).to_string().as_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let c = Client::open_path(&x.sock).unwrap();
    assert_eq!(c.read("/counter").unwrap(), b"400");
}

#[test]
fn aborted_and_dropped_transactions_change_nothing() {
    let x = Xsd::start(&[], &[]);
    let c = Client::open_path(&x.sock).unwrap();
    c.write("/t", b"before").unwrap();
    let t = c.transaction_start().unwrap();
    t.write("/t", b"inside").unwrap();
    assert_eq!(t.read("/t").unwrap(), b"inside");
    assert_eq!(c.read("/t").unwrap(), b"before", "isolated");
    t.abort().unwrap();
    {
        let t = c.transaction_start().unwrap();
        t.write("/t", b"dropped").unwrap();
    }
    assert_eq!(c.read("/t").unwrap(), b"before");
    let r: Result<(), _> = c.transaction(|t| {
        t.write("/t", b"failed")?;
        t.read("/missing").map(drop)
    });
    assert_eq!(r.unwrap_err().errno(), Some(XsErrno::ENOENT));
    assert_eq!(c.read("/t").unwrap(), b"before");
}

#[test]
fn daemon_going_away_is_an_error_not_a_hang() {
    let mut x = Xsd::start(&[], &["--no-state"]);
    let c = Client::open_path(&x.sock).unwrap();
    c.write("/a", b"1").unwrap();
    assert!(x.stop());
    assert!(c.read("/a").is_err());
    assert!(Client::open_path(&x.sock).is_err());
}
