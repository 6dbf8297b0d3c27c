//! `rxenstored`: the rxl xenstore daemon.
//!
//! Serves the xenstore protocol on a unix socket (default `/run/xenstored/socket`,
//! privileged, as dom0's tools expect), keeps the tree across restarts in a state file
//! (dumped on SIGTERM/SIGINT, reloaded on start) and logs through `tracing`
//! (`RUST_LOG=rxl_xenstore=debug` for per-request logs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use rxl_xenstore::daemon::conflict::{ConflictLimiter, DEFAULT_BURST, DEFAULT_TICK};
use rxl_xenstore::daemon::conn::engine::IoLoop;
use rxl_xenstore::daemon::conn::ring::MapMode;
use rxl_xenstore::daemon::conn::socket::{ListenSpec, Server};
use rxl_xenstore::spin::DEFAULT_MAX;
use rxl_xenstore::daemon::handler::Daemon;
use rxl_xenstore::daemon::persist;
use rxl_xenstore::daemon::quota::{DEFAULTS, Quotas};
use tracing::info;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "rxenstored",
    version,
    about = "Xenstore daemon for rxl (replaces xenstored/oxenstored)"
)]
struct Args {
    /// Privileged (dom0) socket.
    #[arg(long, default_value = "/run/xenstored/socket")]
    socket: PathBuf,
    /// Extra socket whose clients act as unprivileged domain DOMID (DOMID=PATH); for
    /// tests and debugging without Xen. Repeatable.
    #[arg(long = "domain-socket", value_name = "DOMID=PATH")]
    domain_sockets: Vec<String>,
    /// State file: loaded on start if present, written on SIGTERM/SIGINT.
    #[arg(long, default_value = "/run/xenstored/rxenstored.state")]
    state: PathBuf,
    /// Start empty and write no state file.
    #[arg(long)]
    no_state: bool,
    /// Do not serve guests' rings even if /dev/xen/evtchn exists (socket mode only).
    #[arg(long)]
    no_xen: bool,
    /// Transaction conflicts a domain may cause (its writes failing other domains'
    /// transactions) before its requests wait; one credit returns every 50 ms. 0 disables
    /// the limit. Dom0 is never paused.
    #[arg(long, default_value_t = DEFAULT_BURST, value_name = "N")]
    conflict_burst: u32,
    /// Map guests' xenstore pages by frame number (privcmd foreign mapping) instead of
    /// grant reference 1 (gntdev): forces the fallback path, for tests.
    #[arg(long)]
    map_by_frame: bool,
    /// Set a quota, NAME=VALUE (0 disables it). Names: nodes, watches, outstanding,
    /// transactions, node-size, permissions, transaction-nodes. Repeatable.
    #[arg(long = "quota", value_name = "NAME=VALUE")]
    quotas: Vec<String>,
    /// Event loop: io-uring (one io_uring_enter per round), epoll (readiness loop) or auto
    /// (io_uring where the kernel offers it, else epoll). The choice is logged.
    #[arg(
        long,
        env = "RXENSTORED_IO_LOOP",
        default_value = "auto",
        value_name = "auto|io-uring|epoll"
    )]
    io_loop: IoLoop,
    /// Longest time the io_uring loop polls for the next request before it blocks, in
    /// microseconds (0: never). The window adapts: it stays closed while clients are
    /// quiet and opens as far as the gaps between a busy client's requests.
    #[arg(long, env = "RXENSTORED_POLL_US", default_value_t = DEFAULT_MAX.as_micros() as u64, value_name = "US")]
    poll_us: u64,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn parse_quotas(items: &[String]) -> Result<Quotas, String> {
    let mut q = Quotas::default();
    for item in items {
        let bad = || {
            let names: Vec<&str> = DEFAULTS.iter().map(|(n, _)| *n).collect();
            format!(
                "--quota {item:?}: expected NAME=VALUE with NAME one of {} and VALUE a decimal number",
                names.join(", ")
            )
        };
        let (name, value) = item.split_once('=').ok_or_else(bad)?;
        let value: u32 = value.parse().map_err(|_| bad())?;
        if !q.set(None, name, value) {
            return Err(bad());
        }
    }
    Ok(q)
}

fn domain_specs(items: &[String]) -> Result<Vec<ListenSpec>, String> {
    items
        .iter()
        .map(|item| {
            let bad = || {
                format!(
                    "--domain-socket {item:?}: expected DOMID=PATH, e.g. 5=/run/xenstored/dom5.sock"
                )
            };
            let (d, p) = item.split_once('=').ok_or_else(bad)?;
            let domid: u32 = d.parse().map_err(|_| bad())?;
            if domid == 0 || domid > 0x7fef || p.is_empty() {
                return Err(bad());
            }
            Ok(ListenSpec {
                path: PathBuf::from(p),
                domid,
                privileged: false,
            })
        })
        .collect()
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Plain stderr (journald keeps it too): the logger may not be the reader.
            eprintln!("rxenstored: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let quotas = parse_quotas(&args.quotas)?;
    let mut specs = vec![ListenSpec {
        path: args.socket.clone(),
        domid: 0,
        privileged: true,
    }];
    specs.extend(domain_specs(&args.domain_sockets)?);
    let daemon = if args.no_state {
        Daemon::new(quotas)
    } else {
        match persist::load(&args.state, quotas.clone()).map_err(|e| e.to_string())? {
            Some(d) => {
                info!(file = %args.state.display(), nodes = d.store.len(), "state reloaded");
                d
            }
            None => Daemon::new(quotas),
        }
    };
    let mut daemon = daemon;
    daemon.conflicts = ConflictLimiter::new(args.conflict_burst, DEFAULT_TICK);
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; no
        // SA_RESTART, so poll(2) returns EINTR and the loop notices promptly.
        unsafe { sigaction(sig, &action) }.map_err(|e| format!("sigaction({sig}): {e}"))?;
    }
    let mut server = Server::with_loop(daemon, &specs, args.io_loop).map_err(|e| e.to_string())?;
    server.set_poll_window(std::time::Duration::from_micros(args.poll_us));
    if args.map_by_frame {
        server.set_map_mode(MapMode::FrameOnly);
    }
    if !args.no_xen && std::path::Path::new("/dev/xen/evtchn").exists() {
        server
            .enable_xen()
            .map_err(|e| format!("{e}; run with --no-xen to serve the socket only"))?;
        info!("serving guests' rings (/dev/xen/evtchn, /dev/xen/gntdev)");
    } else {
        info!("socket mode: INTRODUCE records domains without mapping rings");
    }
    info!(
        io_loop = server.io_loop(),
        poll_us = args.poll_us,
        "rxenstored ready"
    );
    let served = server.run(&STOP).map_err(|e| e.to_string());
    info!("shutting down");
    let saved = if args.no_state {
        Ok(())
    } else {
        server.stash_ring_watches();
        persist::save(server.daemon(), &args.state)
            .map(|()| info!(file = %args.state.display(), "state saved"))
            .map_err(|e| e.to_string())
    };
    server.cleanup();
    served.and(saved)
}
