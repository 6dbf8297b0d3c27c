//! Live update, the server's side ([`crate::daemon::liveupdate`]): freezing the I/O into a
//! hand-over, undoing that when the update fails, and resuming from one in the new image.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use tracing::{info, warn};

use super::{ListenSpec, Server, SocketError, bind};
use crate::daemon::conn::client::{Client, Transport};
use crate::daemon::conn::engine::{Engine, IoLoop};
use crate::daemon::conn::uring::{Completion, Op};
use crate::daemon::handler::{ConnId, Daemon};
use crate::daemon::liveupdate::fds::Inherited;
use crate::daemon::liveupdate::{
    Frozen, Handover, LiveUpdateError, Requester, RingBuffers, SocketConn, hex, unhex,
};
use crate::daemon::persist;
use crate::wire::{Header, Message, MsgType, join_strings};

/// How long cancelled io_uring operations may take to complete.
const CANCEL_LIMIT: Duration = Duration::from_secs(5);

/// A connection's unsent output, the part of the front message already sent cut off.
fn pending_output(c: &Client) -> Vec<(String, bool)> {
    c.output
        .iter()
        .enumerate()
        .map(|(i, (b, reply))| {
            let b = if i == 0 { &b[c.written..] } else { &b[..] };
            (hex(b), *reply)
        })
        .collect()
}

impl Server {
    /// The daemon core, mutable (a live-update request is taken from it).
    pub fn daemon_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// Freezes the I/O for a live update: under io_uring, cancels every recv and send in
    /// flight and takes their completions (bytes a recv got are buffered, a send's count
    /// is accounted), then describes listeners, connections and the tree. On failure the
    /// I/O is re-armed and the server serves on.
    pub fn freeze(&mut self, requester: Option<Requester>) -> Result<Frozen, LiveUpdateError> {
        let mut polls = Vec::new();
        if let Engine::Uring(u) = &mut self.engine {
            let mut done = Vec::new();
            let r = u.cancel_inflight(CANCEL_LIMIT, &mut done);
            for c in done {
                if matches!(c.op, Op::Poll(_)) {
                    polls.push(c);
                } else {
                    self.complete(c);
                }
            }
            self.unlist();
            if let Err(e) = r {
                self.thaw_io(polls);
                return Err(LiveUpdateError::Cancel(e));
            }
        }
        let mut h = Handover::new(self.next_id);
        h.requester = requester;
        for (l, spec) in &self.listeners {
            h.listeners.push((spec.path.clone(), l.as_raw_fd()));
        }
        let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let (c, domid) = &self.clients[&id];
            if c.closed {
                // Closed at the exec (close-on-exec), like any connection ending.
                continue;
            }
            let output = pending_output(c);
            match &c.stream {
                Transport::Socket(s) => h.conns.push(SocketConn {
                    id,
                    fd: s.as_raw_fd(),
                    domid: *domid,
                    privileged: c.privileged,
                    session: self.daemon.session(id).unwrap_or_default(),
                    input: hex(&c.input),
                    output,
                }),
                Transport::Ring(_) => h.rings.push(RingBuffers {
                    domid: *domid,
                    input: hex(&c.input),
                    output,
                }),
            }
        }
        // The dump carries the rings' watches; the running daemon's list stays as it was.
        let kept = self.daemon.ring_watches.clone();
        self.stash_ring_watches();
        let tree = persist::encode(&self.daemon);
        self.daemon.ring_watches = kept;
        match tree {
            Ok(tree) => Ok(Frozen {
                handover: h,
                tree,
                polls,
            }),
            Err(e) => {
                self.thaw_io(polls);
                Err(LiveUpdateError::State(e))
            }
        }
    }

    /// The descriptors a frozen server hands over: listeners and open socket connections
    /// (as [`Server::freeze`] listed them).
    pub fn handover_fds(&self) -> Vec<BorrowedFd<'_>> {
        let listeners = self.listeners.iter().map(|(l, _)| l.as_fd());
        let conns = self.clients.values().filter_map(|(c, _)| match &c.stream {
            Transport::Socket(s) if !c.closed => Some(s.as_fd()),
            _ => None,
        });
        listeners.chain(conns).collect()
    }

    /// The live update failed after [`Server::freeze`]: re-arms the I/O and serves on.
    pub fn thaw(&mut self, frozen: Frozen) {
        self.thaw_io(frozen.polls);
    }

    /// Answers a `live-update -s` requester with the failure (no-op for SIGHUP).
    pub fn live_update_failed(&mut self, requester: Option<Requester>, e: &LiveUpdateError) {
        if let Some(r) = requester {
            self.answer(r, &format!("live update failed: {e}"));
        }
    }

    /// Connections `complete` listed go to the next round instead.
    fn unlist(&mut self) {
        for id in std::mem::take(&mut self.work) {
            if let Some((c, _)) = self.clients.get_mut(&id) {
                c.listed = false;
            }
            self.carry.push(id);
        }
    }

    fn thaw_io(&mut self, polls: Vec<Completion>) {
        // Listener and event-channel polls that fired meanwhile: accept and re-arm now.
        for c in polls {
            self.complete(c);
        }
        self.unlist();
        let ids: Vec<ConnId> = self.clients.keys().copied().collect();
        for id in ids {
            if let Some((c, _)) = self.clients.get_mut(&id) {
                self.engine.sync(id, c);
            }
            self.carry.push(id);
        }
        self.wake_in = Some(Duration::ZERO);
    }

    /// Queues a control reply `text` to `r` (sent next round).
    fn answer(&mut self, r: Requester, text: &str) {
        let h = Header {
            msg_type: MsgType::Control as u32,
            req_id: r.req_id,
            tx_id: r.tx_id,
            len: 0,
        };
        let Ok(m) = Message::reply(&h, MsgType::Control, join_strings([text])) else {
            return;
        };
        if let Some((c, _)) = self.clients.get_mut(&r.conn) {
            c.queue(m.encode(), true);
            self.carry.push(r.conn);
            self.wake_in = Some(Duration::ZERO);
        }
    }

    /// In the new image: the server from a hand-over. Listeners named in `specs` are
    /// adopted (bound afresh if the hand-over lacks one), socket connections adopted with
    /// their sessions and buffers, and the requester answered `OK`. Returns the rings'
    /// buffers for [`Server::resume_rings`] (after [`Server::enable_xen`]).
    pub fn resume(
        daemon: Daemon,
        specs: &[ListenSpec],
        choice: IoLoop,
        h: Handover,
        inherited: &mut Inherited,
    ) -> Result<(Server, Vec<RingBuffers>), SocketError> {
        let mut s = Server::with_loop(daemon, &[], choice)?;
        let mut offered: Vec<(PathBuf, RawFd)> = h.listeners;
        for (i, spec) in specs.iter().enumerate() {
            let adopted = offered
                .iter()
                .position(|(p, _)| *p == spec.path)
                .map(|k| offered.remove(k))
                .and_then(|(_, fd)| match inherited.take(fd) {
                    Ok(o) => Some(UnixListener::from(o)),
                    Err(e) => {
                        warn!(path = %spec.path.display(), error = %e, "inherited listener unusable, binding afresh");
                        None
                    }
                });
            let l = match adopted {
                Some(l) => l,
                None => bind(spec)?,
            };
            let err = |source| SocketError::Listen {
                path: spec.path.clone(),
                source,
            };
            l.set_nonblocking(true).map_err(err)?;
            s.engine.watch_listener(i, l.as_fd()).map_err(err)?;
            s.listeners.push((l, spec.clone()));
        }
        for (path, fd) in offered {
            // Not configured any more (`-c` changed the sockets): closed.
            info!(path = %path.display(), "inherited listener no longer configured, closed");
            drop(inherited.take(fd));
        }
        for c in h.conns {
            let id = c.id;
            if let Err(e) = s.resume_conn(c, inherited) {
                warn!(conn = id, error = %e, "connection not resumed");
            }
        }
        s.next_id = s.next_id.max(h.next_id);
        if let Some(r) = h.requester {
            s.answer(r, "OK");
        }
        s.wake_in = Some(Duration::ZERO);
        info!(
            connections = s.clients.len(),
            listeners = s.listeners.len(),
            "live update: resumed"
        );
        Ok((s, h.rings))
    }

    fn resume_conn(
        &mut self,
        c: SocketConn,
        inherited: &mut Inherited,
    ) -> Result<(), LiveUpdateError> {
        let input = unhex(&c.input)?;
        let output = c
            .output
            .iter()
            .map(|(b, reply)| unhex(b).map(|b| (b, *reply)))
            .collect::<Result<Vec<_>, _>>()?;
        let stream = UnixStream::from(inherited.take(c.fd)?);
        let mut client = Client::new(Transport::Socket(stream), c.privileged);
        client.input = input;
        for (b, reply) in output {
            client.queue(b, reply);
        }
        self.engine
            .add_conn(c.id, &mut client)
            .map_err(LiveUpdateError::State)?;
        self.daemon
            .resume_session(c.id, c.domid, c.privileged, c.session);
        self.engine.sync(c.id, &mut client);
        self.clients.insert(c.id, (client, c.domid));
        self.carry.push(c.id);
        self.next_id = self.next_id.max(c.id + 1);
        Ok(())
    }

    /// Gives re-attached rings the buffers they had (requests read but not handled,
    /// replies not yet written); a ring not re-attached loses them, logged.
    pub fn resume_rings(&mut self, rings: Vec<RingBuffers>) {
        for b in rings {
            let id = self
                .rings
                .iter()
                .copied()
                .find(|id| self.clients.get(id).is_some_and(|(_, d)| *d == b.domid));
            let (Some(id), Ok(input)) = (id, unhex(&b.input)) else {
                warn!(
                    domid = b.domid,
                    "ring not re-attached: its buffered messages are dropped"
                );
                continue;
            };
            let Some((c, _)) = self.clients.get_mut(&id) else {
                continue;
            };
            c.input = input;
            for (m, reply) in &b.output {
                if let Ok(m) = unhex(m) {
                    c.queue(m, *reply);
                }
            }
            self.carry.push(id);
        }
        self.wake_in = Some(Duration::ZERO);
    }
}
