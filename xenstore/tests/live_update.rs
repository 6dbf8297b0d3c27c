//! Live update: the real `rxenstored` replaces its image (SIGHUP, or the `live-update`
//! control command) while clients stay connected — the crate's client, raw protocol
//! connections and, when installed, Debian's xenstore-watch and Xen's xenstore-control —
//! under each event loop. Also: a bad binary leaves the old daemon serving.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Raw;
use rxl_xenstore::client::Client;
use rxl_xenstore::wire::{Header, MsgType, join_strings};

/// A daemon started from `bin` (a copy, where a test replaces the binary).
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, io_loop: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("socket");
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(bin)
            .args(["--socket", sock.to_str().unwrap(), "--no-state", "--no-xen"])
            .args(["--io-loop", io_loop])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Daemon { child, dir, sock };
        d.wait_log("rxenstored ready", 1);
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Waits until `what` appears `n` times in the log.
    fn wait_log(&self, what: &str, n: usize) {
        let t0 = Instant::now();
        while self.log().matches(what).count() < n {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no {n}x {what:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn hup(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    /// SIGTERM; whether it exited cleanly (the new image installed its handlers).
    fn stop(mut self) -> bool {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap().success()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rxenstored"))
}

/// A raw request whose id the test chooses.
fn send_with_id(r: &mut Raw, ty: MsgType, req_id: u32, payload: &[u8]) {
    let h = Header {
        msg_type: ty as u32,
        req_id,
        tx_id: 0,
        len: payload.len() as u32,
    };
    let mut b = h.encode().to_vec();
    b.extend_from_slice(payload);
    r.send_raw(&b).unwrap();
}

fn clients_survive(io_loop: &str) {
    let d = Daemon::start(&bin(), io_loop);
    let pid = d.pid();
    // The crate's client, with a watch.
    let c = Client::open_path(&d.sock).unwrap();
    c.write("/lu/before", b"1").unwrap();
    let events = c.watch("/lu", "ctok").unwrap();
    assert_eq!(
        events.recv_timeout(Duration::from_secs(5)).unwrap().path,
        "/lu"
    );
    // A raw connection with a watch and a transaction open across the update.
    let mut a = Raw::connect(&d.sock);
    a.ok(MsgType::Watch, 0, b"/lu\0atok\0");
    let (_, tx) = a.req(MsgType::TransactionStart, 0, b"\0");
    let tx: u32 = String::from_utf8_lossy(&tx)
        .trim_end_matches('\0')
        .parse()
        .unwrap();
    a.ok(MsgType::Write, tx, b"/lu/in-tx\0x");
    // Half a request before the update, the rest after.
    let mut b = Raw::connect(&d.sock);
    let mut split = Header {
        msg_type: MsgType::Write as u32,
        req_id: 42,
        tx_id: 0,
        len: 0,
    };
    let payload = b"/lu/split\0yes";
    split.len = payload.len() as u32;
    let mut whole = split.encode().to_vec();
    whole.extend_from_slice(payload);
    b.send_raw(&whole[..20]).unwrap();
    // Let the daemon take the half (under io_uring a recv holds it) before the update.
    std::thread::sleep(Duration::from_millis(200));

    d.hup();
    d.wait_log("live update: resumed", 1);
    assert_eq!(d.pid(), pid);
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok(),
        "same process, alive"
    );

    b.send_raw(&whole[20..]).unwrap();
    assert_eq!(
        b.reply(),
        (MsgType::Write as u32, b"OK\0".to_vec()),
        "split request answered"
    );
    // The same connections read what was written before the update.
    assert_eq!(c.read("/lu/before").unwrap(), b"1");
    assert_eq!(
        a.req(MsgType::Read, 0, b"/lu/split\0"),
        (MsgType::Read as u32, b"yes".to_vec())
    );
    // A write after the update fires the watches registered before it.
    c.write("/lu/after", b"2").unwrap();
    let e = events.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((e.path.as_str(), e.token.as_str()), ("/lu/split", "ctok"));
    let e = events.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((e.path.as_str(), e.token.as_str()), ("/lu/after", "ctok"));
    a.ok(MsgType::Write, 0, b"/lu/sync\0s");
    assert!(
        a.events.contains(&("/lu/after".into(), "atok".into())),
        "raw watch fired after the update: {:?}",
        a.events
    );
    // The transaction open across the update: usable, but its commit says retry.
    assert_eq!(
        a.req(MsgType::Read, tx, b"/lu/before\0"),
        (MsgType::Read as u32, b"1".to_vec())
    );
    a.err(MsgType::TransactionEnd, tx, b"T\0", "EAGAIN");
    let (_, again) = a.req(MsgType::Read, 0, b"/lu/in-tx\0");
    assert_eq!(
        again,
        join_strings(["ENOENT"]),
        "nothing of it was committed"
    );
    // A transaction started after the update commits.
    let t = c.transaction_start().unwrap();
    t.write("/lu/new-tx", b"ok").unwrap();
    t.commit().unwrap();
    assert!(d.stop(), "the new image shuts down cleanly");
}

/// Whether this kernel offers the io_uring loop; says so, visibly, when it does not.
fn io_uring_available() -> bool {
    let ok = rxl_xenstore::daemon::conn::uring::Uring::open().is_ok();
    if !ok {
        eprintln!("SKIPPED: io_uring unavailable on this kernel");
    }
    ok
}

#[test]
fn socket_clients_survive_sighup_under_io_uring() {
    if !io_uring_available() {
        return;
    }
    clients_survive("io-uring");
}

#[test]
fn socket_clients_survive_sighup_under_epoll() {
    clients_survive("epoll");
}

#[test]
fn control_command_updates_and_answers_from_the_new_image() {
    let d = Daemon::start(&bin(), "auto");
    let mut a = Raw::connect(&d.sock);
    a.ok(MsgType::Write, 0, b"/k\0v");
    let f = join_strings(["live-update", "-f", bin().to_str().unwrap()]);
    assert_eq!(
        a.req(MsgType::Control, 0, &f),
        (MsgType::Control as u32, b"OK\0".to_vec())
    );
    let start = join_strings(["live-update", "-s", "-t", "60"]);
    send_with_id(&mut a, MsgType::Control, 77, &start);
    let m = a.recv().expect("answer to -s");
    assert_eq!(
        (m.header.msg_type, m.header.req_id),
        (MsgType::Control as u32, 77)
    );
    assert_eq!(m.payload, b"OK\0");
    assert!(d.log().contains("live update: resumed"), "{}", d.log());
    assert_eq!(
        a.req(MsgType::Read, 0, b"/k\0"),
        (MsgType::Read as u32, b"v".to_vec())
    );
    assert!(d.stop());
}

/// Xen's own tool, where installed (suite 40-xenstore unpacks xen-utils-4.17).
#[test]
fn xen_xenstore_control_live_update() {
    let dir = std::env::var("RXL_TEST_XENSTORE")
        .ok()
        .and_then(|t| Path::new(&t).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| "/usr/lib/xen-4.17/bin".into());
    let tool = dir.join("xenstore-control");
    if !tool.exists() {
        eprintln!(
            "SKIPPED: {} not found (xen-utils-4.17; suite 40-xenstore unpacks it and sets RXL_TEST_XENSTORE)",
            tool.display()
        );
        return;
    }
    let d = Daemon::start(&bin(), "auto");
    let c = Client::open_path(&d.sock).unwrap();
    c.write("/k", b"v").unwrap();
    let o = Command::new(&tool)
        .args(["live-update", "-t", "30", bin().to_str().unwrap()])
        .env("XENSTORED_PATH", &d.sock)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xenstore-control: {}{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
    d.wait_log("live update: resumed", 1);
    assert_eq!(c.read("/k").unwrap(), b"v", "connection kept");
    assert!(d.stop());
}

/// Debian's xenstore-watch (libxenstore) keeps its watch across the update.
#[test]
fn debian_xenstore_watch_keeps_watching() {
    let ok = Command::new("sh")
        .args(["-c", "command -v xenstore-watch xenstore-write"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: Debian's xenstore-utils are not installed (apt-get install xenstore-utils)"
        );
        return;
    }
    for io_loop in ["epoll", "auto"] {
        let d = Daemon::start(&bin(), io_loop);
        let mut w = Command::new("xenstore-watch")
            .args(["-n", "2", "/w"])
            .env("XENSTORED_PATH", &d.sock)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(w.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "/w\n");
        d.hup();
        d.wait_log("live update: resumed", 1);
        let st = Command::new("xenstore-write")
            .args(["/w/after", "1"])
            .env("XENSTORED_PATH", &d.sock)
            .status()
            .unwrap();
        assert!(st.success());
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "/w/after\n", "{io_loop}: event after the update");
        assert!(w.wait().unwrap().success());
        assert!(d.stop());
    }
}

/// Replaces `path` the way a package upgrade does (a new file renamed over it).
fn replace(path: &Path, content: &[u8], mode: u32) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn bad_binary_leaves_the_old_daemon_serving_and_a_good_one_is_picked_up() {
    for io_loop in ["epoll", "auto"] {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("rxenstored");
        replace(&copy, &std::fs::read(bin()).unwrap(), 0o755);
        let d = Daemon::start(&copy, io_loop);
        let c = Client::open_path(&d.sock).unwrap();
        c.write("/k", b"v").unwrap();
        let events = c.watch("/k", "t").unwrap();
        events.recv_timeout(Duration::from_secs(5)).unwrap();
        // Not executable: refused before anything is frozen.
        replace(&copy, b"not a program", 0o644);
        d.hup();
        d.wait_log("live update failed", 1);
        assert!(d.log().contains("not an executable file"), "{}", d.log());
        assert_eq!(c.read("/k").unwrap(), b"v", "{io_loop}: old daemon serves");
        // Executable but not a program: the exec itself fails after the freeze.
        replace(&copy, b"not a program either", 0o755);
        let mut raw = Raw::connect(&d.sock);
        raw.send_raw(
            &Header {
                msg_type: MsgType::Read as u32,
                req_id: 1,
                tx_id: 0,
                len: 3,
            }
            .encode(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        d.hup();
        d.wait_log("live update failed", 2);
        assert!(d.log().contains("exec: "), "{}", d.log());
        raw.send_raw(b"/k\0").unwrap();
        assert_eq!(
            raw.reply(),
            (MsgType::Read as u32, b"v".to_vec()),
            "{io_loop}: split request after a failed exec"
        );
        c.write("/k", b"w").unwrap();
        let e = events.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(e.path, "/k", "{io_loop}: watch fires after a failed exec");
        // The real binary again (a new file): picked up.
        replace(&copy, &std::fs::read(bin()).unwrap(), 0o755);
        let exe = || std::fs::read_link(format!("/proc/{}/exe", d.pid())).unwrap();
        assert!(
            exe().to_string_lossy().ends_with("(deleted)"),
            "{:?}",
            exe()
        );
        d.hup();
        d.wait_log("live update: resumed", 1);
        assert_eq!(exe(), copy, "{io_loop}: runs the new file");
        assert_eq!(c.read("/k").unwrap(), b"w");
        assert_eq!(c.get_domain_path(3).unwrap(), "/local/domain/3");
        assert!(d.stop());
    }
}

/// Clients in lock step with the daemon while it is updated again and again: every request
/// is answered exactly once, in order (a byte an armed recv took and the update lost would
/// leave a client waiting; its read times out and fails the test).
fn updates_under_load(io_loop: &str) {
    let d = Daemon::start(&bin(), io_loop);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let sock = d.sock.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut r = Raw::connect(&sock);
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let path = format!("/load/{w}");
                    let mut p = format!("{path}\0").into_bytes();
                    p.extend_from_slice(n.to_string().as_bytes());
                    r.ok(MsgType::Write, 0, &p);
                    let (_, v) = r.req(MsgType::Read, 0, format!("{path}\0").as_bytes());
                    assert_eq!(v, n.to_string().into_bytes(), "worker {w}");
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 1..=12 {
        std::thread::sleep(Duration::from_millis(60));
        d.hup();
        d.wait_log("live update: resumed", i);
    }
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let n = w.join().expect("a worker lost a reply");
        assert!(n > 12, "{io_loop}: only {n} requests");
    }
    assert!(d.stop());
}

#[test]
fn no_request_is_lost_across_repeated_updates_under_io_uring() {
    if !io_uring_available() {
        return;
    }
    updates_under_load("io-uring");
}

#[test]
fn no_request_is_lost_across_repeated_updates_under_epoll() {
    updates_under_load("epoll");
}
