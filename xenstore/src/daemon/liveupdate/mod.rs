//! Live update: rxenstored replaces its own binary without dropping a connection.
//!
//! Triggered by SIGHUP (`systemctl reload`) or the `live-update` XS_CONTROL command
//! ([`control`]). After the round in progress, the server freezes (under io_uring every
//! recv and send in flight is cancelled and reaped first, so that no byte a recv took
//! from a socket is lost), writes the hand-over state to a memfd, clears `FD_CLOEXEC` on
//! that memfd, the listeners and every socket connection, and `execve(2)`s the binary it
//! was started from (resolved at start, so a binary replaced on disk is the one run) with
//! the same arguments plus `--live-update-fd N`. The new image adopts the descriptors and
//! goes on; clients see one slow reply at most.
//!
//! Carried: the tree, domains, quotas and ring watches (the [`persist`] dump), and per
//! socket connection its descriptor, domain and privilege, watches, transaction ids,
//! the bytes of a partly received request and the output not yet sent (replies and
//! watch events). Guests' rings are re-attached as after a restart, keeping their
//! buffered input and output. Open transactions are *not* carried: each ends so that any
//! request in it still works but its commit fails with `EAGAIN`, the protocol's "retry"
//! (every client library retries the whole transaction).
//!
//! Anything failing before the exec, or the exec itself, is logged and undone: the old
//! process re-arms its I/O and keeps serving.
//!
//! [`persist`]: super::persist

pub mod control;
pub mod fds;

use std::ffi::OsString;
use std::os::fd::{AsFd, RawFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing::{info, warn};

use super::conn::socket::Server;
use super::persist;
use super::watch::Watch;
pub use control::{LiveUpdateControl, Requester};

/// The argument naming the hand-over memfd in the new image.
pub const FD_ARG: &str = "--live-update-fd";
/// Version of the hand-over state.
const VERSION: u32 = 1;

/// Why a live update did not happen (the old process goes on serving) or could not be
/// resumed.
#[derive(Debug, Error)]
pub enum LiveUpdateError {
    /// The binary to run cannot be executed; nothing was frozen.
    #[error(
        "{path}: not an executable file ({source}); install the new rxenstored there or name one with `xenstore-control live-update BINARY`"
    )]
    NotExecutable {
        /// The binary.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// io_uring operations could not be cancelled.
    #[error("cancelling the io_uring operations in flight: {0}")]
    Cancel(std::io::Error),
    /// The state could not be written to or read from its memfd.
    #[error("hand-over state: {0}")]
    State(std::io::Error),
    /// The state is not a hand-over from a compatible rxenstored.
    #[error("hand-over state is corrupt or from an incompatible rxenstored: {0}")]
    Format(String),
    /// A descriptor could not be handed over or taken.
    #[error("descriptor {0}: {1}")]
    Fd(RawFd, nix::errno::Errno),
    /// `execve(2)` failed.
    #[error("exec: {0}")]
    Exec(std::io::Error),
    /// The current binary could not be resolved at start.
    #[error("cannot resolve /proc/self/exe: {0}")]
    SelfExe(std::io::Error),
}

/// What one connection's daemon-side session carries: watches and transaction ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its watches, in registration order.
    pub watches: Vec<Watch>,
    /// The id its next transaction gets.
    pub next_txid: u32,
    /// Transactions open at the update (they end with `EAGAIN` at commit).
    pub open_txns: Vec<u32>,
}

/// One socket connection in the hand-over.
#[derive(Debug, Serialize, Deserialize)]
pub struct SocketConn {
    /// Connection id (kept, so that a requester's id still names it).
    pub id: u64,
    /// The descriptor, inherited under the same number.
    pub fd: RawFd,
    /// Domain its clients act as.
    pub domid: u32,
    /// Whether it is privileged.
    pub privileged: bool,
    /// Watches and transactions.
    pub session: Session,
    /// Received bytes not yet handled (hex): a partial request, or complete ones paused.
    pub input: String,
    /// Output not yet sent, in order (hex, whether it is a reply).
    pub output: Vec<(String, bool)>,
}

/// A guest's (or dom0's) ring's buffers, given back when the ring is re-attached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RingBuffers {
    /// The domain.
    pub domid: u32,
    /// Request bytes read from the ring, not yet handled (hex).
    pub input: String,
    /// Responses not yet written to the ring (hex, whether it is a reply).
    pub output: Vec<(String, bool)>,
}

/// The I/O side of the hand-over (the tree travels as a [`persist`] dump behind it).
#[derive(Debug, Serialize, Deserialize)]
pub struct Handover {
    /// Format version.
    pub version: u32,
    /// Next connection id.
    pub next_id: u64,
    /// Listening sockets: path and inherited descriptor.
    pub listeners: Vec<(PathBuf, RawFd)>,
    /// Socket connections.
    pub conns: Vec<SocketConn>,
    /// Rings' buffers.
    pub rings: Vec<RingBuffers>,
    /// Who waits for the `live-update -s` answer.
    pub requester: Option<Requester>,
}

impl Handover {
    /// An empty hand-over (filled by the server).
    pub fn new(next_id: u64) -> Handover {
        Handover {
            version: VERSION,
            next_id,
            listeners: Vec::new(),
            conns: Vec::new(),
            rings: Vec::new(),
            requester: None,
        }
    }
}

/// Encodes the state: the hand-over as one JSON line, then the tree dump.
pub fn encode(h: &Handover, tree: &[u8]) -> Result<Vec<u8>, LiveUpdateError> {
    let mut out = serde_json::to_vec(h).map_err(|e| LiveUpdateError::Format(e.to_string()))?;
    out.push(b'\n');
    out.extend_from_slice(tree);
    Ok(out)
}

/// Splits and checks an encoded state: the hand-over and the tree dump's bytes.
pub fn decode(bytes: &[u8]) -> Result<(Handover, &[u8]), LiveUpdateError> {
    let bad = |m: String| LiveUpdateError::Format(m);
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("no hand-over line".into()))?;
    let h: Handover = serde_json::from_slice(&bytes[..nl]).map_err(|e| bad(e.to_string()))?;
    if h.version != VERSION {
        return Err(bad(format!(
            "version {} (this rxenstored reads {VERSION})",
            h.version
        )));
    }
    Ok((h, &bytes[nl + 1..]))
}

/// Bytes as hex (the dumps keep binary data as text).
pub fn hex(b: &[u8]) -> String {
    persist::hex(b)
}

/// Hex back to bytes.
pub fn unhex(s: &str) -> Result<Vec<u8>, LiveUpdateError> {
    persist::unhex(s).ok_or_else(|| LiveUpdateError::Format(format!("not hex: {s:.40}")))
}

/// The binary and arguments a live update runs by default: resolved at start, so that a
/// binary replaced on disk since (a package upgrade renames the new file over the old)
/// is the one that runs, not the deleted inode this process was loaded from.
#[derive(Debug, Clone)]
pub struct Target {
    exe: PathBuf,
    args: Vec<OsString>,
}

impl Target {
    /// This process's binary (`/proc/self/exe`) and arguments, minus any [`FD_ARG`].
    pub fn current() -> Result<Target, LiveUpdateError> {
        let exe = std::fs::read_link("/proc/self/exe").map_err(LiveUpdateError::SelfExe)?;
        Ok(Target::new(exe, std::env::args_os().collect()))
    }

    /// `exe` run with `args` (`args[0]` is `argv[0]`), minus any [`FD_ARG`].
    pub fn new(exe: PathBuf, args: Vec<OsString>) -> Target {
        let mut kept = Vec::with_capacity(args.len());
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            if a == FD_ARG {
                it.next();
            } else if !a.to_string_lossy().starts_with(&format!("{FD_ARG}=")) {
                kept.push(a);
            }
        }
        Target { exe, args: kept }
    }

    /// The binary.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The binary to run: the request's, else the one resolved at start.
    fn exe_for(&self, req: &control::Request) -> PathBuf {
        req.binary.clone().unwrap_or_else(|| self.exe.clone())
    }

    /// The command line for the new image: the request's binary and arguments where it
    /// names them, with the hand-over's descriptor appended.
    fn command(&self, req: &control::Request, fd: RawFd) -> (PathBuf, Vec<OsString>) {
        let exe = self.exe_for(req);
        let mut args: Vec<OsString> = match &req.args {
            Some(a) => std::iter::once(self.args.first().cloned().unwrap_or_default())
                .chain(a.iter().map(OsString::from))
                .collect(),
            None => self.args.clone(),
        };
        args.push(FD_ARG.into());
        args.push(fd.to_string().into());
        (exe, args)
    }
}

fn check_executable(p: &Path) -> Result<(), LiveUpdateError> {
    let bad = |source| LiveUpdateError::NotExecutable {
        path: p.to_path_buf(),
        source,
    };
    let m = std::fs::metadata(p).map_err(bad)?;
    if !m.is_file() {
        return Err(bad(std::io::Error::other("not a regular file")));
    }
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).map_err(|e| bad(e.into()))
}

/// Performs the live update `server`'s daemon asked for (or SIGHUP did): only returns if
/// it failed, after undoing it (the server serves on; a requester got the failure).
/// `state_file` (unless `--no-state`) also gets the tree, so that a new binary that
/// cannot resume still starts with it.
pub fn perform(server: &mut Server, target: &Target, state_file: Option<&Path>) -> LiveUpdateError {
    let req = server.daemon_mut().live_update.take();
    let exe = target.exe_for(&req);
    info!(binary = %exe.display(), requester = ?req.requester.map(|r| r.conn), "live update");
    if let Err(e) = check_executable(&exe) {
        server.live_update_failed(req.requester, &e);
        return e;
    }
    let frozen = match server.freeze(req.requester) {
        Ok(f) => f,
        Err(e) => {
            server.live_update_failed(req.requester, &e);
            return e;
        }
    };
    if let Some(p) = state_file {
        if let Err(e) = persist::write_bytes(&frozen.tree, p) {
            warn!(error = %e, "live update: the state file is not refreshed");
        }
    }
    let e = exec_with(server, target, &req, &frozen);
    server.thaw(frozen);
    server.live_update_failed(req.requester, &e);
    e
}

/// Writes the memfd, makes the descriptors inheritable and execs; returns on failure
/// with every descriptor close-on-exec again.
fn exec_with(
    server: &Server,
    target: &Target,
    req: &control::Request,
    frozen: &Frozen,
) -> LiveUpdateError {
    let state = match encode(&frozen.handover, &frozen.tree).and_then(|b| fds::memfd_with(&b)) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let (exe, args) = target.command(req, std::os::fd::AsRawFd::as_raw_fd(&state));
    let mut keep = server.handover_fds();
    keep.push(state.as_fd());
    let mut done = Vec::new();
    let mut failed = None;
    for fd in &keep {
        match fds::inheritable(*fd, true) {
            Ok(()) => done.push(*fd),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let e = match failed {
        Some(e) => e,
        None => match fds::block_signals() {
            Ok(()) => {
                let e = fds::exec(&exe, &args);
                fds::unblock_signals();
                e
            }
            Err(e) => e,
        },
    };
    for fd in done {
        let _ = fds::inheritable(fd, false);
    }
    e
}

/// A frozen server's hand-over: I/O state, the tree dump, and the io_uring poll
/// completions reaped while cancelling (replayed if the update fails).
pub struct Frozen {
    /// The I/O state.
    pub handover: Handover,
    /// The [`persist`] dump.
    pub tree: Vec<u8>,
    /// Poll completions reaped meanwhile.
    pub polls: Vec<super::conn::uring::Completion>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_drops_an_old_fd_argument_and_appends_the_new_one() {
        let t = Target::new(
            "/usr/sbin/rxenstored".into(),
            [
                "rxenstored",
                "--no-xen",
                FD_ARG,
                "7",
                "--live-update-fd=8",
                "-v",
            ]
            .map(OsString::from)
            .to_vec(),
        );
        let (exe, args) = t.command(&control::Request::default(), 5);
        assert_eq!(exe, Path::new("/usr/sbin/rxenstored"));
        assert_eq!(args, ["rxenstored", "--no-xen", "-v", FD_ARG, "5"]);
        let req = control::Request {
            binary: Some("/opt/rxenstored".into()),
            args: Some(vec!["--socket".into(), "/s".into()]),
            requester: None,
        };
        let (exe, args) = t.command(&req, 6);
        assert_eq!(exe, Path::new("/opt/rxenstored"));
        assert_eq!(args, ["rxenstored", "--socket", "/s", FD_ARG, "6"]);
    }

    #[test]
    fn state_round_trips_and_bad_states_are_refused() {
        let mut h = Handover::new(9);
        h.listeners.push(("/run/xenstored/socket".into(), 4));
        h.conns.push(SocketConn {
            id: 3,
            fd: 5,
            domid: 0,
            privileged: true,
            session: Session {
                watches: vec![Watch {
                    path: "/a".into(),
                    token: "t".into(),
                    depth: None,
                    strip: None,
                }],
                next_txid: 4,
                open_txns: vec![3],
            },
            input: hex(b"\x01\x02"),
            output: vec![(hex(b"\xff"), true)],
        });
        let bytes = encode(&h, b"{\"tree\":1}\n").unwrap();
        let (back, tree) = decode(&bytes).unwrap();
        assert_eq!(tree, b"{\"tree\":1}\n");
        assert_eq!(back.next_id, 9);
        assert_eq!(back.conns[0].session, h.conns[0].session);
        assert_eq!(unhex(&back.conns[0].input).unwrap(), b"\x01\x02");
        assert!(decode(b"no newline").is_err());
        assert!(decode(b"{}\n").is_err());
        let v2 = String::from_utf8(bytes)
            .unwrap()
            .replacen("\"version\":1", "\"version\":2", 1);
        assert!(
            decode(v2.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        assert!(unhex("zz").is_err());
    }

    #[test]
    fn a_missing_or_plain_file_is_not_executable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rxenstored");
        assert!(check_executable(&p).is_err());
        std::fs::write(&p, "data").unwrap();
        let e = check_executable(&p).unwrap_err().to_string();
        assert!(e.contains("not an executable file"), "{e}");
        assert!(check_executable(dir.path()).is_err());
        assert!(check_executable(Path::new("/bin/sh")).is_ok());
    }
}
