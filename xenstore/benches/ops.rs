//! Throughput and latency of `rxenstored` through the Rust client (1, 8, 64 clients) and
//! through Debian's libxenstore-based tools, printed as the tables in
//! docs/performance.md ("xenstore").
//!
//!     cargo bench -p rxl-xenstore --bench ops            (RXL_BENCH_SECS=2 per cell)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rxl_xenstore::client::Client;

/// The daemon process, its temporary directory (kept alive) and socket.
static GAVE_UP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Daemon(Child, #[allow(dead_code)] tempfile::TempDir, PathBuf);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sock");
    let child = Command::new(env!("CARGO_BIN_EXE_rxenstored"))
        .args(["--no-state", "--socket"])
        .arg(&sock)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon(child, dir, sock)
}

fn op(c: &Client, kind: &str, me: usize, i: u64) {
    match kind {
        "read" => drop(c.read("/bench/key").unwrap()),
        "write" => c
            .write(&format!("/bench/w{me}"), i.to_string().as_bytes())
            .unwrap(),
        "directory" => drop(c.directory("/bench/dir").unwrap()),
        "transaction" => {
            // Giving up after MAX_RETRIES conflicts is a legitimate outcome under heavy
            // contention; it is counted, not fatal.
            let r = c.transaction(|t| {
                let v: u64 = String::from_utf8(t.read("/bench/counter")?)
                    .unwrap()
                    .parse()
                    .unwrap();
                t.write("/bench/counter", (v + 1).to_string().as_bytes())
            });
            if r.is_err() {
                GAVE_UP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        "mixed" => match i % 10 {
            0..=5 => drop(c.read("/bench/key").unwrap()),
            6..=7 => c.write(&format!("/bench/w{me}"), b"v").unwrap(),
            8 => drop(c.directory("/bench/dir").unwrap()),
            _ => c
                .transaction(|t| t.write(&format!("/bench/t{me}"), &t.read("/bench/key")?))
                .unwrap(),
        },
        _ => unreachable!(),
    }
}

fn cell(sock: &Path, kind: &'static str, clients: usize, secs: f64) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..clients)
        .map(|me| {
            let sock = sock.to_path_buf();
            std::thread::spawn(move || {
                let c = Client::open_path(&sock).unwrap();
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    op(&c, kind, me, i);
                    lat.push(t.elapsed().as_nanos() as u64);
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    (lat.len() as f64 / secs, pct(0.5), pct(0.99))
}

fn spawn_rate(sock: &Path, prog: &str, args: &[&str], n: usize) -> Option<f64> {
    let t = Instant::now();
    for _ in 0..n {
        let ok = Command::new(prog)
            .args(args)
            .env("XENSTORED_PATH", sock)
            .stdout(Stdio::null())
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    Some(n as f64 / t.elapsed().as_secs_f64())
}

fn main() {
    let secs: f64 = std::env::var("RXL_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let d = start();
    let sock = d.2.clone();
    let c = Client::open_path(&sock).unwrap();
    c.write("/bench/key", &[b'v'; 64]).unwrap();
    c.write("/bench/counter", b"0").unwrap();
    for i in 0..50 {
        c.mkdir(&format!("/bench/dir/entry-{i}")).unwrap();
    }
    println!("## Rust client (crate rxl-xenstore) -> rxenstored, {secs} s per cell");
    println!("| operation | clients | ops/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|---|");
    for kind in ["read", "write", "directory", "transaction", "mixed"] {
        for clients in [1, 8, 64] {
            let (rate, p50, p99) = cell(&sock, kind, clients, secs);
            println!("| {kind} | {clients} | {rate:.0} | {p50:.1} | {p99:.1} |");
        }
    }
    let counter = String::from_utf8(c.read("/bench/counter").unwrap()).unwrap();
    let gave_up = GAVE_UP.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "(transaction counter after the run: {counter}; transactions given up after 1000 conflicts: {gave_up})"
    );
    println!();
    println!("## Process per operation (tool start-up included), 200 runs each");
    println!("| command | runs/s |");
    println!("|---|---|");
    let rx = env!("CARGO_BIN_EXE_rxenstore");
    for (name, prog, args) in [
        (
            "xenstore-read /bench/key (Debian, libxenstore)",
            "xenstore-read",
            vec!["/bench/key"],
        ),
        ("rxenstore read /bench/key", rx, vec!["read", "/bench/key"]),
        (
            "xenstore-write /bench/x 1 (Debian)",
            "xenstore-write",
            vec!["/bench/x", "1"],
        ),
        (
            "rxenstore write /bench/x 1",
            rx,
            vec!["write", "/bench/x", "1"],
        ),
    ] {
        match spawn_rate(&sock, prog, &args, 200) {
            Some(r) => println!("| {name} | {r:.0} |"),
            None => println!("| {name} | not available |"),
        }
    }
    if let Ok(t) = std::env::var("RXL_TEST_XENSTORE") {
        println!();
        println!("## Xen's test-xenstore -i 500 (libxenstore in one process) against rxenstored");
        let o = Command::new(&t)
            .args(["-i", "500"])
            .env("XENSTORED_PATH", &sock)
            .output();
        match o {
            Ok(o) => print!("```\n{}```\n", String::from_utf8_lossy(&o.stdout)),
            Err(e) => println!("{t}: {e}"),
        }
    }
}
