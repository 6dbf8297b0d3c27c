//! Which I/O path the Rust client takes: a short-lived client (`Client::short_lived`, what
//! `rxl create` uses) never sets up an io_uring; a default client moves onto one from its
//! second request, where the kernel allows io_uring. Its own test binary: it counts this
//! process's io_uring file descriptors, which other tests' clients would disturb.

mod common;

use common::Xsd;
use rxl_xenstore::client::Client;

/// This process's open io_uring instances (`anon_inode:[io_uring]` in /proc/self/fd).
fn io_urings() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains("io_uring"))
        .count()
}

#[test]
fn short_lived_clients_stay_off_io_uring_and_default_ones_move_onto_it() {
    let x = Xsd::start(&[], &[]);
    let before = io_urings();
    let c = Client::open_path(&x.sock).unwrap().short_lived();
    for i in 0..20 {
        c.write("/io/key", format!("{i}").as_bytes()).unwrap();
        assert_eq!(c.read("/io/key").unwrap(), format!("{i}").as_bytes());
    }
    assert_eq!(
        io_urings(),
        before,
        "a short-lived client set up an io_uring"
    );
    drop(c);

    let d = Client::open_path(&x.sock).unwrap();
    for i in 0..20 {
        d.write("/io/key", format!("{i}").as_bytes()).unwrap();
    }
    assert_eq!(d.read("/io/key").unwrap(), b"19");
    // (the probe ring is dropped before counting)
    match io_uring::IoUring::new(2).map(drop) {
        Ok(()) => assert_eq!(
            io_urings(),
            before + 1,
            "a default client did not move onto io_uring"
        ),
        Err(e) => eprintln!("SKIP the default client's half: io_uring unavailable here ({e})"),
    }
}
