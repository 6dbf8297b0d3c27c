//! The unix-socket server: one thread, one event loop (io_uring, or epoll as the fallback:
//! [`super::engine`]).
//!
//! Why a single-threaded poll loop rather than a thread per connection: the core
//! ([`Daemon`]) is a plain state machine, so one thread needs no locks and every request
//! is applied atomically in arrival order (like the C daemon). No client can block it:
//! sockets are nonblocking, each connection has a bounded input buffer and a bounded
//! output queue. A client that does not read its replies stops being read (only it
//! stalls); watch events beyond its queue limit are dropped and logged, never buffered
//! without bound (XSA-326/416). A client that sends garbage or an oversized header is
//! disconnected; committed data is never touched by that.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::PollTimeout;
use nix::sys::epoll::EpollEvent;
use thiserror::Error;
use tracing::{debug, error, info, warn};

use super::client::{Client, Transport};
use super::dominfo::DomainProbe;
use super::engine::{Engine, IoLoop, POLL_EVTCHN, POLL_LISTENER, TOKEN_EVTCHN, TOKEN_LISTENER};
use super::ring::{ERROR_PROTO, MapMode, RingConn, RingError};
use super::uring::{Completion, Op};
use super::xendev::EventChannels;
use crate::spin;

/// `VIRQ_DOM_EXC`: a domain shut down or died.
const VIRQ_DOM_EXC: u32 = 3;
use crate::daemon::domain::Domain;
use crate::daemon::domain::SERVER_FEATURES;

use crate::daemon::handler::{ConnId, Daemon, Effect};
use crate::wire::{HEADER_LEN, Message, MsgType};

mod handover;

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
    /// epoll failed.
    #[error("poll: {0}")]
    Poll(nix::Error),
    /// An environment variable has a value the server cannot use (the message names it,
    /// its value and what it takes).
    #[error("{0}")]
    Env(String),
    /// io_uring failed (or, with `--io-loop io-uring`, is unavailable).
    #[error("io_uring: {0}; run with --io-loop epoll (or {env}=epoll)", env = super::engine::IO_LOOP_ENV)]
    Uring(std::io::Error),
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

/// The server: listeners, clients and the daemon core.
pub struct Server {
    daemon: Daemon,
    /// The event loop: io_uring (one `io_uring_enter` per round) or one epoll set (one
    /// `epoll_wait` per round however many clients are connected; poll(2) would scan
    /// them all) watching the sockets and the event-channel device.
    engine: Engine,
    /// io_uring completions of this round (scratch, kept for its allocation).
    done: Vec<Completion>,
    listeners: Vec<(UnixListener, ListenSpec)>,
    clients: HashMap<ConnId, (Client, u32)>,
    next_id: ConnId,
    xen: Option<EventChannels>,
    /// Local port of `VIRQ_DOM_EXC` and the probe that says which domains changed.
    dom_exc: Option<(u32, DomainProbe)>,
    /// How guests' pages are mapped.
    map_mode: MapMode,
    /// The ring an INTRODUCE being handled has connected, attached once it is recorded.
    introduced_ring: Option<RingConn>,
    /// When a connection paused for conflicts may go on (shortens the next poll).
    wake_in: Option<Duration>,
    /// Ring connections: they have no fd of their own, so every round looks at each.
    rings: Vec<ConnId>,
    /// Connections to look at next round without an epoll event: complete requests
    /// left in their input buffer (paused by output, the outstanding-reply quota or
    /// conflict credit), or closed and not yet reaped.
    carry: Vec<ConnId>,
    /// This round's connections: ready from epoll, carried, rings, and those an effect
    /// queued output for or closed. Only these are read, processed, flushed and reaped,
    /// so a round costs O(ready), not O(connected) (under TCG every walk of all 64
    /// connections costs real time). Kept between rounds for its allocation.
    work: Vec<ConnId>,
    /// Rings to notify this round (scratch, kept for its allocation).
    kick: Vec<ConnId>,
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
    /// Binds every socket in `specs` (replacing stale socket files), with the event loop
    /// `$RXENSTORED_IO_LOOP` chooses ([`IoLoop::from_env`]; io_uring where available).
    pub fn new(daemon: Daemon, specs: &[ListenSpec]) -> Result<Server, SocketError> {
        let choice = IoLoop::from_env().map_err(SocketError::Env)?;
        Server::with_loop(daemon, specs, choice)
    }

    /// Binds every socket in `specs` (replacing stale socket files), with event loop `choice`.
    pub fn with_loop(
        daemon: Daemon,
        specs: &[ListenSpec],
        choice: IoLoop,
    ) -> Result<Server, SocketError> {
        let mut engine = Engine::open(choice)?;
        if let Engine::Uring(u) = &mut engine {
            u.set_spin_max(
                spin::max_from_env(spin::POLL_US_ENV, spin::DEFAULT_MAX)
                    .map_err(SocketError::Env)?,
            );
        }
        let mut listeners = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let l = bind(s)?;
            engine
                .watch_listener(i, l.as_fd())
                .map_err(|source| SocketError::Listen {
                    path: s.path.clone(),
                    source,
                })?;
            listeners.push((l, s.clone()));
            info!(path = %s.path.display(), domid = s.domid, privileged = s.privileged, "listening");
        }
        Ok(Server {
            daemon,
            engine,
            done: Vec::new(),
            listeners,
            clients: HashMap::new(),
            next_id: 1,
            xen: None,
            dom_exc: None,
            map_mode: MapMode::default(),
            introduced_ring: None,
            wake_in: None,
            rings: Vec::new(),
            carry: Vec::new(),
            work: Vec::new(),
            kick: Vec::new(),
        })
    }

    /// Chooses how guests' pages are mapped (before [`Server::enable_xen`]).
    pub fn set_map_mode(&mut self, mode: MapMode) {
        self.map_mode = mode;
    }

    /// Sets the io_uring loop's largest polling window before it blocks
    /// ([`crate::spin`]; `Duration::ZERO` turns polling off). The epoll loop never polls:
    /// each look would be a syscall.
    pub fn set_poll_window(&mut self, max: Duration) {
        if let Engine::Uring(u) = &mut self.engine {
            u.set_spin_max(max);
        }
    }

    /// The event loop in use: `"io_uring"` or `"epoll"`.
    pub fn io_loop(&self) -> &'static str {
        self.engine.name()
    }

    /// The daemon core (for the final state dump).
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Before the state dump: records every ring's watches by domain, so the rings
    /// re-attached after a restart keep them ([`Daemon::ring_watches`]).
    pub fn stash_ring_watches(&mut self) {
        for id in &self.rings {
            if let Some((_, domid)) = self.clients.get(id) {
                let ws = self.daemon.watches_of(*id).to_vec();
                self.daemon
                    .ring_watches
                    .entry(*domid)
                    .or_default()
                    .extend(ws);
            }
        }
    }

    /// Serves until `stop` is set (checked at least once a second and on every signal).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), SocketError> {
        while !stop.load(Ordering::Relaxed) {
            self.turn(PollTimeout::from(1000u16))?;
        }
        Ok(())
    }

    /// Adds `id` to this round's work list (once).
    fn list(&mut self, id: ConnId) {
        if let Some((c, _)) = self.clients.get_mut(&id) {
            if !c.listed {
                c.listed = true;
                self.work.push(id);
            }
        }
    }

    /// One poll round: accept, read, process, write, notify, reap — touching only the
    /// connections that have something to do.
    pub fn turn(&mut self, timeout: PollTimeout) -> Result<(), SocketError> {
        let timeout = match self.wake_in.take() {
            Some(w) if w.is_zero() => PollTimeout::ZERO,
            Some(w) => {
                let ms = u16::try_from(w.as_millis().max(1)).unwrap_or(u16::MAX);
                match timeout.as_millis() {
                    Some(t) if u32::from(ms) >= t => timeout,
                    _ => PollTimeout::from(ms),
                }
            }
            None => timeout,
        };
        let mut events = [EpollEvent::empty(); 128];
        let mut done = std::mem::take(&mut self.done);
        let n = match &mut self.engine {
            Engine::Epoll(ep) => match ep.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => return Ok(()),
                Err(e) => return Err(SocketError::Poll(e)),
            },
            Engine::Uring(u) => {
                let t = timeout
                    .as_millis()
                    .map(|ms| Duration::from_millis(ms.into()))
                    .unwrap_or(Duration::from_secs(3600));
                let t = (!t.is_zero()).then_some(t);
                if let Err(e) = u.round(t, &mut done) {
                    self.done = done;
                    return Err(SocketError::Uring(e));
                }
                0
            }
        };
        debug_assert!(self.work.is_empty());
        // Carried connections and rings first (they were there before this round's
        // accepts), then the ready sockets in epoll's order.
        for id in std::mem::take(&mut self.carry) {
            self.list(id);
        }
        for i in 0..self.rings.len() {
            self.list(self.rings[i]);
        }
        let mut evtchn_ready = false;
        for e in &events[..n] {
            match e.data() {
                TOKEN_EVTCHN => evtchn_ready = true,
                t if t & TOKEN_LISTENER != 0 => self.accept((t & !TOKEN_LISTENER) as usize),
                id => {
                    if let Some((c, _)) = self.clients.get_mut(&id) {
                        c.fill();
                    }
                    self.list(id);
                }
            }
        }
        for c in done.drain(..) {
            evtchn_ready |= self.complete(c);
        }
        self.done = done;
        if evtchn_ready {
            let fired = match &mut self.xen {
                Some(ev) => ev.pending().unwrap_or_else(|e| {
                    warn!(error = %e, "event channel read failed");
                    Vec::new()
                }),
                None => Vec::new(),
            };
            if self
                .dom_exc
                .as_ref()
                .is_some_and(|(p, _)| fired.contains(p))
            {
                self.domain_exception();
            }
        }
        let mut kick = std::mem::take(&mut self.kick);
        for i in 0..self.rings.len() {
            self.service_ring_input(self.rings[i], &mut kick);
        }
        // `process` may list more connections (watch events, releases): index, not iter.
        let mut i = 0;
        while i < self.work.len() {
            self.process(self.work[i]);
            i += 1;
        }
        let mut work = std::mem::take(&mut self.work);
        for id in &work {
            let Some((c, _)) = self.clients.get_mut(id) else {
                continue;
            };
            c.listed = false;
            if self.engine.flush(c) {
                kick.push(*id);
            }
        }
        self.notify(&kick);
        kick.clear();
        self.kick = kick;
        for id in work.drain(..) {
            let Some((c, _)) = self.clients.get_mut(&id) else {
                continue;
            };
            if c.closed {
                debug!(conn = id, "connection closed");
                self.engine.close(c);
                if let Some((
                    Client {
                        stream: Transport::Ring(r),
                        ..
                    },
                    _,
                )) = self.clients.remove(&id)
                {
                    self.rings.retain(|x| *x != id);
                    if let (Some(ev), Some(port)) = (&self.xen, r.port) {
                        let _ = ev.unbind(port);
                    }
                }
                self.daemon.disconnect(id);
                continue;
            }
            if c.has_request() {
                // Requests left buffered: no event will bring them back (the rest of a
                // partial one comes with the next read event). If only the
                // output pause held them and that output is gone, go on at once; output
                // still queued brings EPOLLOUT (or its send's completion), a conflict
                // pause the timeout.
                if c.output.is_empty() && !c.conflict_paused {
                    self.wake_in = Some(Duration::ZERO);
                }
                self.carry.push(id);
            }
            self.engine.sync(id, c);
            if c.closed {
                // epoll_ctl or the io_uring submission failed: reap it next round, at once.
                self.wake_in = Some(Duration::ZERO);
                self.carry.push(id);
            }
        }
        self.work = work;
        Ok(())
    }

    /// Takes one io_uring completion; returns whether the event-channel device is ready.
    fn complete(&mut self, done: Completion) -> bool {
        match done.op {
            Op::Recv(id) => {
                if let Some((c, _)) = self.clients.get_mut(&id) {
                    c.recv_done(done.result, done.data.as_deref().unwrap_or_default());
                    self.list(id);
                }
                if let (Engine::Uring(u), Some(buf)) = (&mut self.engine, done.data) {
                    u.recycle(buf);
                }
            }
            Op::Send(id) => {
                if let Some((c, _)) = self.clients.get_mut(&id) {
                    c.send_done(done.result);
                    self.list(id);
                }
            }
            Op::Poll(token) => {
                // One-shot polls: re-armed after each completion.
                let Engine::Uring(u) = &mut self.engine else {
                    return false;
                };
                if token == POLL_EVTCHN {
                    if let Some(ev) = &self.xen {
                        if let Err(e) =
                            u.poll(POLL_EVTCHN, std::os::fd::AsRawFd::as_raw_fd(&ev.fd()))
                        {
                            error!(error = %e, "cannot re-arm the event-channel poll");
                        }
                    }
                    return true;
                }
                let i = (token - POLL_LISTENER) as usize;
                if i < self.listeners.len() {
                    self.accept(i);
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&self.listeners[i].0);
                    if let Engine::Uring(u) = &mut self.engine {
                        if let Err(e) = u.poll(token, fd) {
                            error!(error = %e, "cannot re-arm the listener's poll");
                        }
                    }
                }
            }
        }
        false
    }

    /// Reads a ring's requests, handling a reconnection request first.
    fn service_ring_input(&mut self, id: ConnId, kick: &mut Vec<ConnId>) {
        let Some((c, domid)) = self.clients.get_mut(&id) else {
            return;
        };
        let Transport::Ring(r) = &c.stream else {
            return;
        };
        if r.page().reconnect_requested() {
            // Drop partial packets, pending replies, watches and transactions.
            info!(domid = *domid, "ring reconnection");
            r.page().reset();
            c.input.clear();
            c.output.clear();
            c.out_bytes = 0;
            c.replies = 0;
            c.written = 0;
            let (d, privileged) = (*domid, c.privileged);
            self.daemon.disconnect(id);
            self.daemon.connect(id, d, privileged);
            kick.push(id);
            return;
        }
        if c.fill() {
            kick.push(id);
        }
    }

    fn notify(&self, ids: &[ConnId]) {
        let Some(ev) = &self.xen else { return };
        for id in ids {
            if let Some((
                Client {
                    stream: Transport::Ring(RingConn { port: Some(p), .. }),
                    ..
                },
                _,
            )) = self.clients.get(id)
            {
                if let Err(e) = ev.notify(*p) {
                    warn!(conn = id, error = %e, "event channel notify failed");
                }
            }
        }
    }

    /// `VIRQ_DOM_EXC`: ask Xen which domains exist and release the dead ones.
    fn domain_exception(&mut self) {
        let Some((_, probe)) = &mut self.dom_exc else {
            return;
        };
        match probe.domains() {
            Ok(alive) => {
                let fx = self.daemon.domain_states(&alive);
                self.apply(fx);
            }
            Err(e) => warn!(error = %e, "cannot list domains after VIRQ_DOM_EXC"),
        }
    }

    /// Serves a ring as domain `domid` (privileged only for dom0's own ring); returns its
    /// connection id.
    pub fn attach_ring(&mut self, domid: u32, privileged: bool, ring: RingConn) -> ConnId {
        let id = self.next_id;
        self.next_id += 1;
        self.daemon.connect(id, domid, privileged);
        // After a restart: the watches this domain's ring had.
        self.daemon.restore_ring_watches(id);
        self.clients
            .insert(id, (Client::new(Transport::Ring(ring), privileged), domid));
        self.rings.push(id);
        info!(conn = id, domid, "ring attached");
        id
    }

    /// Opens `/dev/xen/evtchn` and attaches the rings of every domain already introduced
    /// (after a restart with a state file). Without this, INTRODUCE only records domains.
    pub fn enable_xen(&mut self) -> Result<(), RingError> {
        let ev = EventChannels::open()?;
        // dom0's own ring: its kernel's xenbus drivers (and /dev/xen/xenbus) need it.
        if std::path::Path::new("/dev/xen/xenbus_backend").exists() {
            let r = RingConn::attach_dom0(&ev, SERVER_FEATURES)?;
            self.xen = Some(ev);
            let id = self.attach_ring(0, true, r);
            self.notify(&[id]);
        } else {
            self.xen = Some(ev);
        }
        if let Some(ev) = &self.xen {
            self.engine
                .watch_evtchn(ev.fd())
                .map_err(|source| RingError::Device {
                    what: "watching /dev/xen/evtchn",
                    source,
                })?;
        }
        // Domain deaths (VIRQ_DOM_EXC) release their domains even without RELEASE.
        if let Some(ev) = &self.xen {
            match (ev.bind_virq(VIRQ_DOM_EXC), DomainProbe::open()) {
                (Ok(port), Ok(probe)) => self.dom_exc = Some((port, probe)),
                (Err(e), _) | (_, Err(e)) => {
                    warn!(error = %e, "no VIRQ_DOM_EXC handling: dead domains stay until RELEASE");
                }
            }
        }
        let known: Vec<Domain> = self.daemon.domains.values().cloned().collect();
        for d in known {
            self.attach_domain(&d);
        }
        // Rings that could not be attached again have lost their watches.
        for domid in std::mem::take(&mut self.daemon.ring_watches).into_keys() {
            warn!(
                domid,
                "ring not re-attached after the restart: its watches are dropped"
            );
        }
        Ok(())
    }

    fn attach_domain(&mut self, d: &Domain) {
        let Some(ev) = &self.xen else {
            info!(
                domid = d.domid,
                "no Xen devices (socket mode): domain recorded, ring not mapped"
            );
            return;
        };
        match RingConn::attach(ev, d.domid, d.gfn, d.evtchn, d.features, self.map_mode) {
            Ok(r) => {
                let port = r.port;
                let id = self.attach_ring(d.domid, false, r);
                self.notify(&[id]);
                debug!(conn = id, ?port, "ring mapped");
            }
            Err(e) => error!(domid = d.domid, error = %e, "cannot map the domain's xenstore ring"),
        }
    }

    fn accept(&mut self, i: usize) {
        loop {
            match self.listeners[i].0.accept() {
                Ok((stream, _)) => {
                    let spec = &self.listeners[i].1;
                    let id = self.next_id;
                    let mut c = Client::new(Transport::Socket(stream), spec.privileged);
                    if let Err(e) = self.engine.add_conn(id, &mut c) {
                        warn!(error = %e, "cannot watch the connection, refused");
                        continue;
                    }
                    self.next_id += 1;
                    self.daemon.connect(id, spec.domid, spec.privileged);
                    debug!(conn = id, domid = spec.domid, "connection accepted");
                    // io_uring: its first recv is armed now, not after the next round.
                    self.engine.sync(id, &mut c);
                    self.clients.insert(id, (c, spec.domid));
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
            if c.input.len() >= HEADER_LEN {
                // A domain whose writes keep failing others' transactions waits (its
                // requests stay queued); poll wakes up when it may go on.
                let wait = self.daemon.conflict_wait(id, Instant::now);
                if let Some((c, _)) = self.clients.get_mut(&id) {
                    c.conflict_paused = wait.is_some();
                }
                if let Some(w) = wait {
                    self.wake_in = Some(self.wake_in.map_or(w, |x| x.min(w)));
                    return;
                }
            }
            let Some((c, _)) = self.clients.get_mut(&id) else {
                return;
            };
            let msg = match Message::decode(&c.input) {
                Ok(Some((m, used))) => {
                    c.input.drain(..used);
                    m
                }
                Ok(None) => return,
                Err(e) => {
                    warn!(conn = id, error = %e, "protocol error, disconnecting");
                    if let Transport::Ring(r) = &c.stream {
                        r.page().set_error(ERROR_PROTO);
                    }
                    c.closed = true;
                    c.input.clear();
                    return;
                }
            };
            // On Xen, INTRODUCE connects the guest's ring before it is answered: a mapping
            // or binding failure is the reply, and no domain is recorded.
            let Server {
                daemon,
                xen,
                map_mode,
                introduced_ring,
                ..
            } = self;
            let effects = daemon.handle_with(id, &msg, &mut |d| {
                let Some(ev) = xen.as_ref() else {
                    return Ok(());
                };
                match RingConn::attach(ev, d.domid, d.gfn, d.evtchn, d.features, *map_mode) {
                    Ok(r) => {
                        *introduced_ring = Some(r);
                        Ok(())
                    }
                    Err(e) => {
                        error!(domid = d.domid, error = %e, "cannot connect the domain's xenstore ring");
                        Err(e.errno())
                    }
                }
            });
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
                    self.list(to);
                }
                Effect::Introduced(d) => match self.introduced_ring.take() {
                    Some(r) => {
                        let conn = self.attach_ring(d.domid, false, r);
                        self.notify(&[conn]);
                    }
                    None => self.attach_domain(&d),
                },
                Effect::Released(domid) => {
                    for id in self.daemon.conns_of(domid) {
                        if let Some((c, _)) = self.clients.get_mut(&id) {
                            c.closed = true;
                        }
                        self.list(id);
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
