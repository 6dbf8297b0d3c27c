//! `rxenstored`: the rxl xenstore daemon.
//!
//! Serves the xenstore protocol on a unix socket (default `/run/xenstored/socket`,
//! privileged, as dom0's tools expect), keeps the tree across restarts in a state file
//! (dumped on SIGTERM/SIGINT, reloaded on start), replaces its binary without dropping a
//! client on SIGHUP or `xenstore-control live-update` (`rxl_xenstore::daemon::liveupdate`)
//! and logs through `tracing` (`RUST_LOG=rxl_xenstore=debug` for per-request logs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use rxl_xenstore::daemon::conflict::{ConflictLimiter, DEFAULT_BURST, DEFAULT_TICK};
use rxl_xenstore::daemon::conn::engine::IoLoop;
use rxl_xenstore::daemon::conn::ring::MapMode;
use rxl_xenstore::daemon::conn::socket::{ListenSpec, Server};
use rxl_xenstore::daemon::handler::Daemon;
use rxl_xenstore::daemon::liveupdate::{self, Target, fds::Inherited};
use rxl_xenstore::daemon::persist;
use rxl_xenstore::daemon::quota::{DEFAULTS, Quotas};
use rxl_xenstore::spin::DEFAULT_MAX;
use tracing::{error, info, warn};

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
    /// Set by a live update for the new image: the memfd holding the hand-over state.
    #[arg(long = "live-update-fd", hide = true, value_name = "FD")]
    live_update_fd: Option<i32>,
}

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        RELOAD.store(true, Ordering::Relaxed);
    } else {
        STOP.store(true, Ordering::Relaxed);
    }
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

/// The daemon from the state file (or empty).
fn load_state(args: &Args, quotas: Quotas) -> Result<Daemon, String> {
    if args.no_state {
        return Ok(Daemon::new(quotas));
    }
    match persist::load(&args.state, quotas.clone()).map_err(|e| e.to_string())? {
        Some(d) => {
            info!(file = %args.state.display(), nodes = d.store.len(), "state reloaded");
            Ok(d)
        }
        None => Ok(Daemon::new(quotas)),
    }
}

/// In the image a live update started: the server from the hand-over in memfd `fd`,
/// with the rings' buffers to give back; `None` (logged) if it cannot be resumed, and the
/// daemon then starts as after a restart.
fn resume(
    args: &Args,
    fd: i32,
    quotas: &Quotas,
    specs: &[ListenSpec],
) -> Option<(Server, Vec<liveupdate::RingBuffers>)> {
    let mut inherited = Inherited::default();
    let r = inherited.read_state(fd).and_then(|bytes| {
        let (h, tree) = liveupdate::decode(&bytes)?;
        let d = persist::decode(
            tree,
            std::path::Path::new("live-update state"),
            quotas.clone(),
        )
        .map_err(|e| liveupdate::LiveUpdateError::Format(e.to_string()))?;
        Ok((h, d))
    });
    let (h, mut daemon) = match r {
        Ok(x) => x,
        Err(e) => {
            error!(error = %e, "live update: cannot resume, starting from the state file; clients reconnect");
            return None;
        }
    };
    daemon.conflicts = ConflictLimiter::new(args.conflict_burst, DEFAULT_TICK);
    match Server::resume(daemon, specs, args.io_loop, h, &mut inherited) {
        Ok(x) => Some(x),
        Err(e) => {
            error!(error = %e, "live update: cannot resume, starting from the state file; clients reconnect");
            None
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
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; no
        // SA_RESTART, so poll(2) returns EINTR and the loop notices promptly.
        unsafe { sigaction(sig, &action) }.map_err(|e| format!("sigaction({sig}): {e}"))?;
    }
    // A live update blocked these across its exec: pending ones are delivered now.
    liveupdate::fds::unblock_signals();
    // Resolved now: after a package upgrade /proc/self/exe names a deleted file.
    let target = Target::current()
        .map_err(|e| warn!(error = %e, "live update unavailable"))
        .ok();
    let resumed = args
        .live_update_fd
        .and_then(|fd| resume(&args, fd, &quotas, &specs));
    let (mut server, rings) = match resumed {
        Some(x) => x,
        None => {
            let mut daemon = load_state(&args, quotas)?;
            daemon.conflicts = ConflictLimiter::new(args.conflict_burst, DEFAULT_TICK);
            let server =
                Server::with_loop(daemon, &specs, args.io_loop).map_err(|e| e.to_string())?;
            (server, Vec::new())
        }
    };
    server.set_poll_window(std::time::Duration::from_micros(args.poll_us));
    if args.map_by_frame {
        server.set_map_mode(MapMode::FrameOnly);
    }
    if !args.no_xen && std::path::Path::new("/dev/xen/evtchn").exists() {
        server
            .enable_xen()
            .map_err(|e| format!("{e}; run with --no-xen to serve the socket only"))?;
        info!("serving guests' rings (/dev/xen/evtchn, /dev/xen/gntdev)");
        server.resume_rings(rings);
    } else {
        info!("socket mode: INTRODUCE records domains without mapping rings");
    }
    info!(
        io_loop = server.io_loop(),
        poll_us = args.poll_us,
        "rxenstored ready"
    );
    let state_file = (!args.no_state).then_some(args.state.as_path());
    let served = serve(&mut server, target.as_ref(), state_file).map_err(|e| e.to_string());
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

/// Serves until SIGTERM/SIGINT, performing live updates between rounds (SIGHUP or the
/// `live-update` control command). A failed update is logged and serving goes on.
fn serve(
    server: &mut Server,
    target: Option<&Target>,
    state_file: Option<&std::path::Path>,
) -> Result<(), rxl_xenstore::daemon::conn::socket::SocketError> {
    while !STOP.load(Ordering::Relaxed) {
        server.turn(nix::poll::PollTimeout::from(1000u16))?;
        let asked = RELOAD.swap(false, Ordering::Relaxed) || server.daemon().live_update.pending();
        if !asked {
            continue;
        }
        match target {
            // Only returns if the update failed (the server is serving again).
            Some(t) => {
                let e = liveupdate::perform(server, t, state_file);
                error!(error = %e, "live update failed; the running daemon goes on");
            }
            None => {
                let req = server.daemon_mut().live_update.take();
                let e = liveupdate::LiveUpdateError::SelfExe(std::io::Error::other(
                    "unresolved at start",
                ));
                server.live_update_failed(req.requester, &e);
                error!(error = %e, "live update failed");
            }
        }
    }
    Ok(())
}
