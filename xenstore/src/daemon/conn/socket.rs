//! The unix-socket server: one thread, nonblocking sockets, one `poll(2)` loop.
//!
//! Why a single-threaded poll loop rather than a thread per connection: the core
//! ([`Daemon`]) is a plain state machine, so one thread needs no locks and every request
//! is applied atomically in arrival order (like the C daemon). No client can block it:
//! sockets are nonblocking, each connection has a bounded input buffer and a bounded
//! output queue. A client that does not read its replies stops being read (only it
//! stalls); watch events beyond its queue limit are dropped and logged, never buffered
//! without bound (XSA-326/416). A client that sends garbage or an oversized header is
//! disconnected; committed data is never touched by that.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::daemon::handler::{ConnId, Daemon, Effect};
use crate::wire::{Message, MsgType};

/// Stop reading a client once this much input is buffered.
pub const MAX_INPUT: usize = 64 * 1024;
/// Stop processing a client's requests while this many reply bytes are unsent.
pub const PAUSE_OUTPUT: usize = 256 * 1024;
/// Drop watch events for a client with this many bytes unsent.
pub const DROP_EVENTS: usize = 1024 * 1024;

/// Errors setting up the server.
#[derive(Debug, Error)]
pub enum SocketError {
    /// The socket could not be created.
    #[error("cannot listen on {path}: {source}")]
    Listen {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A non-socket file is in the way.
    #[error("{0} exists and is not a socket; remove it or choose another --socket path")]
    NotASocket(PathBuf),
    /// poll(2) failed.
    #[error("poll: {0}")]
    Poll(nix::Error),
}

/// A socket to listen on and who its clients are.
#[derive(Debug, Clone)]
pub struct ListenSpec {
    /// Socket path.
    pub path: PathBuf,
    /// Domain the clients act as.
    pub domid: u32,
    /// Whether clients are privileged (dom0's socket).
    pub privileged: bool,
}

struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    output: VecDeque<(Vec<u8>, bool)>,
    written: usize,
    out_bytes: usize,
    replies: usize,
    closed: bool,
}

impl Client {
    fn queue(&mut self, bytes: Vec<u8>, is_reply: bool) {
        self.out_bytes += bytes.len();
        self.replies += usize::from(is_reply);
        self.output.push_back((bytes, is_reply));
    }

    fn flush(&mut self) {
        while let Some((front, is_reply)) = self.output.front() {
            match self.stream.write(&front[self.written..]) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    self.written += n;
                    if self.written == front.len() {
                        self.out_bytes -= front.len();
                        self.replies -= usize::from(*is_reply);
                        self.written = 0;
                        self.output.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn fill(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        while self.input.len() < MAX_INPUT {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

/// The server: listeners, clients and the daemon core.
pub struct Server {
    daemon: Daemon,
    listeners: Vec<(UnixListener, ListenSpec)>,
    clients: HashMap<ConnId, (Client, u32)>,
    next_id: ConnId,
}

fn bind(spec: &ListenSpec) -> Result<UnixListener, SocketError> {
    let err = |source| SocketError::Listen {
        path: spec.path.clone(),
        source,
    };
    if let Some(dir) = spec.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    match std::fs::symlink_metadata(&spec.path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(&spec.path).map_err(err)?,
        Ok(_) => return Err(SocketError::NotASocket(spec.path.clone())),
        Err(_) => {}
    }
    let l = UnixListener::bind(&spec.path).map_err(err)?;
    std::fs::set_permissions(&spec.path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    l.set_nonblocking(true).map_err(err)?;
    Ok(l)
}

impl Server {
    /// Binds every socket in `specs` (replacing stale socket files).
    pub fn new(daemon: Daemon, specs: &[ListenSpec]) -> Result<Server, SocketError> {
        let mut listeners = Vec::new();
        for s in specs {
            listeners.push((bind(s)?, s.clone()));
            info!(path = %s.path.display(), domid = s.domid, privileged = s.privileged, "listening");
        }
        Ok(Server {
            daemon,
            listeners,
            clients: HashMap::new(),
            next_id: 1,
        })
    }

    /// The daemon core (for the final state dump).
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Serves until `stop` is set (checked at least once a second and on every signal).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), SocketError> {
        while !stop.load(Ordering::Relaxed) {
            self.turn(PollTimeout::from(1000u16))?;
        }
        Ok(())
    }

    /// One poll round: accept, read, process, write, reap.
    pub fn turn(&mut self, timeout: PollTimeout) -> Result<(), SocketError> {
        let (accepting, ready) = {
            let mut fds = Vec::new();
            for (l, _) in &self.listeners {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            let ids: Vec<ConnId> = self.clients.keys().copied().collect();
            for id in &ids {
                let (c, _) = &self.clients[id];
                let mut ev = PollFlags::empty();
                if c.input.len() < MAX_INPUT {
                    ev |= PollFlags::POLLIN;
                }
                if !c.output.is_empty() {
                    ev |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(c.stream.as_fd(), ev));
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(()),
                Err(e) => return Err(SocketError::Poll(e)),
            }
            let rev: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            let n = self.listeners.len();
            (
                rev[..n].to_vec(),
                ids.into_iter()
                    .zip(rev[n..].iter().copied())
                    .collect::<Vec<_>>(),
            )
        };
        for (i, go) in accepting.into_iter().enumerate() {
            if go {
                self.accept(i);
            }
        }
        for (id, go) in ready {
            if let (true, Some((c, _))) = (go, self.clients.get_mut(&id)) {
                c.fill();
            }
        }
        let ids: Vec<ConnId> = self.clients.keys().copied().collect();
        for id in &ids {
            self.process(*id);
        }
        for (c, _) in self.clients.values_mut() {
            c.flush();
        }
        let dead: Vec<ConnId> = self
            .clients
            .iter()
            .filter(|(_, (c, _))| c.closed)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            debug!(conn = id, "connection closed");
            self.clients.remove(&id);
            self.daemon.disconnect(id);
        }
        Ok(())
    }

    fn accept(&mut self, i: usize) {
        loop {
            match self.listeners[i].0.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let spec = &self.listeners[i].1;
                    let id = self.next_id;
                    self.next_id += 1;
                    self.daemon.connect(id, spec.domid, spec.privileged);
                    debug!(conn = id, domid = spec.domid, "connection accepted");
                    let client = Client {
                        stream,
                        input: Vec::new(),
                        output: VecDeque::new(),
                        written: 0,
                        out_bytes: 0,
                        replies: 0,
                        closed: false,
                    };
                    self.clients.insert(id, (client, spec.domid));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Handles the complete requests buffered for `id`, while its output allows.
    fn process(&mut self, id: ConnId) {
        let outstanding = self.daemon.quota_for(id, "outstanding").map(|v| v as usize);
        loop {
            let Some((c, _)) = self.clients.get_mut(&id) else {
                return;
            };
            if c.closed
                || c.out_bytes >= PAUSE_OUTPUT
                || outstanding.is_some_and(|o| c.replies >= o)
            {
                return;
            }
            let msg = match Message::decode(&c.input) {
                Ok(Some((m, used))) => {
                    c.input.drain(..used);
                    m
                }
                Ok(None) => return,
                Err(e) => {
                    warn!(conn = id, error = %e, "protocol error, disconnecting");
                    c.closed = true;
                    c.input.clear();
                    return;
                }
            };
            let effects = self.daemon.handle(id, &msg);
            self.apply(effects);
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send(to, m) => {
                    let Some((c, _)) = self.clients.get_mut(&to) else {
                        continue;
                    };
                    let is_event = m.header.msg_type == MsgType::WatchEvent as u32;
                    if is_event && c.out_bytes >= DROP_EVENTS {
                        warn!(conn = to, "client is not reading: watch event dropped");
                        continue;
                    }
                    c.queue(m.encode(), !is_event);
                }
                Effect::Introduced(d) => {
                    info!(
                        domid = d.domid,
                        "no ring backend in socket mode: domain recorded, ring not mapped"
                    );
                }
                Effect::Released(domid) => {
                    for id in self.daemon.conns_of(domid) {
                        if let Some((c, _)) = self.clients.get_mut(&id) {
                            c.closed = true;
                        }
                    }
                }
            }
        }
    }

    /// Removes the socket files.
    pub fn cleanup(&self) {
        for (_, s) in &self.listeners {
            let _ = std::fs::remove_file(&s.path);
        }
    }

    /// Path of the first listener.
    pub fn primary_path(&self) -> Option<&Path> {
        self.listeners.first().map(|(_, s)| s.path.as_path())
    }
}
