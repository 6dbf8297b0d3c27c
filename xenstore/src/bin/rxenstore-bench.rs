//! `rxenstore-bench`: a xenstore load generator for comparing daemons (rxenstored, the C
//! xenstored, oxenstored) with the same client code.
//!
//! Each client is its own connection (the unix socket libxenstore would use: `$XENSTORED_PATH`
//! is honoured) driven by its own thread. For every (op, clients) cell it prints one line:
//!
//! ```text
//! BENCH xenstore daemon=c op=mix clients=8 ops=4000 secs=1.23 ops_per_s=3252 p50_us=2100 p99_us=9800 errors=0
//! ```
//!
//! A cell stops after `--max-ops` operations in total or `--secs` seconds, whichever comes
//! first, so a slow daemon bounds the run by time and a fast one by work.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use rxl_xenstore::client::{Client, ClientError};

/// Root of the benchmark's nodes; removed before and after the run.
const ROOT: &str = "/bench-rxl";
/// Keys per client: reads and writes cycle over them.
const KEYS: usize = 16;
/// Children of the shared directory node listed by the `directory` op.
const DIR_CHILDREN: usize = 32;

/// One kind of load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Op {
    /// READ of one of the client's own keys.
    Read,
    /// WRITE of one of the client's own keys.
    Write,
    /// DIRECTORY of a shared node with 32 children.
    Directory,
    /// Transaction-heavy mix: per 10 ops, 4 reads, 2 writes, 1 directory and 3 transactions
    /// (each: read a shared key and an own key, write the own key, commit; retried on EAGAIN).
    Mix,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Directory => "directory",
            Op::Mix => "mix",
        }
    }
}

#[derive(Parser, Debug)]
#[command(about = "xenstore load generator: ops/s, p50 and p99 per (op, clients) cell")]
struct Args {
    /// Label of the daemon under test, printed in every line (e.g. c, rxenstored, oxenstored).
    #[arg(long, default_value = "unknown")]
    daemon: String,
    /// Ops to run, comma separated.
    #[arg(long, value_delimiter = ',', default_values = ["read", "write", "directory", "mix"])]
    ops: Vec<Op>,
    /// Client counts, comma separated (each client is one connection and one thread).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 64])]
    clients: Vec<usize>,
    /// Upper bound of operations per cell (all clients together).
    #[arg(long, default_value_t = 20_000)]
    max_ops: u64,
    /// Upper bound of seconds per cell.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
}

/// Result of one cell.
struct Cell {
    ops: u64,
    errors: u64,
    elapsed: Duration,
    /// Latency of every completed op, in microseconds.
    lat_us: Vec<u64>,
    first_error: Option<String>,
}

fn key(client: usize, n: usize) -> String {
    format!("{ROOT}/c{client}/k{}", n % KEYS)
}

/// Creates the nodes every op touches, so reads never miss.
fn setup(c: &Client, clients: usize) -> Result<(), ClientError> {
    let _ = c.rm(ROOT);
    for i in 0..clients {
        for k in 0..KEYS {
            c.write(&key(i, k), b"0123456789abcdef")?;
        }
    }
    for d in 0..DIR_CHILDREN {
        c.write(&format!("{ROOT}/dir/e{d}"), b"x")?;
    }
    c.write(&format!("{ROOT}/shared"), b"s")
}

/// One operation of `op` for client `id`, round `n`.
fn one_op(c: &Client, op: Op, id: usize, n: usize) -> Result<(), ClientError> {
    let dir = format!("{ROOT}/dir");
    match op {
        Op::Read => c.read(&key(id, n)).map(drop),
        Op::Write => c.write(&key(id, n), n.to_string().as_bytes()),
        Op::Directory => c.directory(&dir).map(drop),
        Op::Mix => match n % 10 {
            0 | 3 | 6 | 8 => c.read(&key(id, n)).map(drop),
            1 | 5 => c.write(&key(id, n), n.to_string().as_bytes()),
            9 => c.directory(&dir).map(drop),
            _ => c.transaction(|tx| {
                tx.read(&format!("{ROOT}/shared"))?;
                let k = key(id, n);
                let v = tx.read(&k)?;
                tx.write(&k, &v)
            }),
        },
    }
}

/// Runs one cell: `clients` connections hammering `op` until the op or time budget is spent.
fn run_cell(op: Op, clients: usize, max_ops: u64, budget: Duration) -> Result<Cell, ClientError> {
    let conns = (0..clients)
        .map(|_| Client::open())
        .collect::<Result<Vec<_>, _>>()?;
    let issued = Arc::new(AtomicU64::new(0));
    let start_line = Arc::new(Barrier::new(clients + 1));
    let mut handles = Vec::with_capacity(clients);
    for (id, conn) in conns.into_iter().enumerate() {
        let issued = Arc::clone(&issued);
        let start_line = Arc::clone(&start_line);
        handles.push(thread::spawn(move || {
            let mut lat = Vec::new();
            let (mut errors, mut first_error) = (0u64, None);
            start_line.wait();
            // One clock read per op: an op ends when the next begins. In the Xen lab's PV
            // dom0 every read is a syscall (no vDSO clock), which the generator would
            // otherwise pay three times per op, for every daemon alike.
            let mut t = Instant::now();
            let deadline = t + budget;
            let mut n = id;
            while issued.fetch_add(1, Ordering::Relaxed) < max_ops && t < deadline {
                let r = one_op(&conn, op, id, n);
                let now = Instant::now();
                match r {
                    Ok(()) => lat.push((now - t).as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
                t = now;
                n += 1;
            }
            (lat, errors, first_error)
        }));
    }
    start_line.wait();
    let t0 = Instant::now();
    let mut cell = Cell {
        ops: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        lat_us: Vec::new(),
        first_error: None,
    };
    for h in handles {
        let (lat, errors, first) = h.join().unwrap_or_else(|_| (Vec::new(), 1, None));
        cell.lat_us.extend(lat);
        cell.errors += errors;
        if cell.first_error.is_none() {
            cell.first_error = first;
        }
    }
    cell.elapsed = t0.elapsed();
    cell.ops = cell.lat_us.len() as u64;
    cell.lat_us.sort_unstable();
    Ok(cell)
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank; 0 when empty.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.secs > 0.0 && args.secs.is_finite()) || args.max_ops == 0 {
        eprintln!("rxenstore-bench: --secs must be > 0 and --max-ops >= 1");
        return ExitCode::from(2);
    }
    if let Some(bad) = args.clients.iter().find(|&&c| c == 0 || c > 1024) {
        eprintln!("rxenstore-bench: --clients {bad}: each count must be 1..=1024");
        return ExitCode::from(2);
    }
    let most = args.clients.iter().copied().max().unwrap_or(1);
    let admin = match Client::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rxenstore-bench: cannot reach xenstored: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = setup(&admin, most) {
        eprintln!("rxenstore-bench: setting up {ROOT}: {e}");
        let _ = admin.rm(ROOT);
        return ExitCode::FAILURE;
    }
    let budget = Duration::from_secs_f64(args.secs);
    let mut failed = false;
    for &op in &args.ops {
        for &clients in &args.clients {
            match run_cell(op, clients, args.max_ops, budget) {
                Ok(cell) => {
                    let secs = cell.elapsed.as_secs_f64();
                    println!(
                        "BENCH xenstore daemon={} op={} clients={clients} ops={} secs={secs:.2} \
                         ops_per_s={:.0} p50_us={} p99_us={} errors={}",
                        args.daemon,
                        op.name(),
                        cell.ops,
                        cell.ops as f64 / secs.max(1e-9),
                        quantile(&cell.lat_us, 0.50),
                        quantile(&cell.lat_us, 0.99),
                        cell.errors,
                    );
                    if let Some(e) = cell.first_error {
                        eprintln!(
                            "rxenstore-bench: {} x{clients}: first error: {e}",
                            op.name()
                        );
                    }
                    failed |= cell.ops == 0;
                }
                Err(e) => {
                    eprintln!("rxenstore-bench: {} x{clients}: {e}", op.name());
                    failed = true;
                }
            }
        }
    }
    let _ = admin.rm(ROOT);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
