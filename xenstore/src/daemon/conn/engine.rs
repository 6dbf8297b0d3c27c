//! How the server waits and moves socket bytes: an `io_uring(7)` loop, or the `epoll(7)`
//! readiness loop where io_uring is unavailable. Chosen once at start and logged.
//!
//! The io_uring loop exists for dom0s where syscalls are dear (a PV dom0 bounces every
//! one through Xen): per request the epoll loop pays `epoll_wait` (shared by a round),
//! `recvfrom` and `sendto`; the io_uring loop pays one `io_uring_enter` per round, which
//! submits the round's replies and re-armed recvs and waits for the next completion.
//! Guests' rings are shared memory either way; only the event-channel fd is polled.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::str::FromStr;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use tracing::{info, warn};

use super::client::{Client, Transport};
use super::socket::{MAX_INPUT, SocketError};
use super::uring::Uring;
use crate::daemon::handler::ConnId;

/// Environment variable choosing the loop (`auto`, `io-uring`, `epoll`), read by
/// [`IoLoop::from_env`]; rxenstored's `--io-loop` sets the same choice.
pub const IO_LOOP_ENV: &str = "RXENSTORED_IO_LOOP";

/// epoll token of the event-channel device (connections use their id, from 1).
pub(super) const TOKEN_EVTCHN: u64 = u64::MAX;
/// epoll token bit of listener `i` (`TOKEN_LISTENER | i`).
pub(super) const TOKEN_LISTENER: u64 = 1 << 62;
/// io_uring poll token of the event-channel device (listener `i` is `POLL_LISTENER + i`).
pub(super) const POLL_EVTCHN: u64 = 0;
/// io_uring poll token of listener 0.
pub(super) const POLL_LISTENER: u64 = 1;

/// Which event loop to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoLoop {
    /// io_uring if the kernel offers it, else epoll.
    #[default]
    Auto,
    /// io_uring or fail.
    IoUring,
    /// The epoll readiness loop.
    Epoll,
}

impl FromStr for IoLoop {
    type Err = String;

    fn from_str(s: &str) -> Result<IoLoop, String> {
        match s {
            "auto" => Ok(IoLoop::Auto),
            "io-uring" | "io_uring" | "uring" => Ok(IoLoop::IoUring),
            "epoll" => Ok(IoLoop::Epoll),
            _ => Err(format!(
                "event loop {s:?}: expected auto, io-uring or epoll"
            )),
        }
    }
}

impl IoLoop {
    /// The choice in `$RXENSTORED_IO_LOOP` (unset or empty: [`IoLoop::Auto`]).
    pub fn from_env() -> Result<IoLoop, String> {
        match std::env::var(IO_LOOP_ENV) {
            Ok(v) if !v.is_empty() => v.parse().map_err(|e| format!("{IO_LOOP_ENV}: {e}")),
            _ => Ok(IoLoop::Auto),
        }
    }
}

/// The running loop's machinery.
pub(super) enum Engine {
    Epoll(Epoll),
    Uring(Box<Uring>),
}

impl Engine {
    /// Sets up the chosen loop (falling back from io_uring to epoll under `Auto`).
    pub(super) fn open(choice: IoLoop) -> Result<Engine, SocketError> {
        let epoll = || {
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
                .map(Engine::Epoll)
                .map_err(SocketError::Poll)
        };
        let engine = match choice {
            IoLoop::Epoll => epoll()?,
            IoLoop::IoUring => Engine::Uring(Box::new(Uring::open().map_err(SocketError::Uring)?)),
            IoLoop::Auto => match Uring::open() {
                Ok(u) => Engine::Uring(Box::new(u)),
                Err(e) => {
                    warn!(error = %e, "io_uring unavailable, using the epoll loop");
                    epoll()?
                }
            },
        };
        info!(io_loop = engine.name(), "event loop");
        Ok(engine)
    }

    /// `"io_uring"` or `"epoll"`.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Engine::Epoll(_) => "epoll",
            Engine::Uring(_) => "io_uring",
        }
    }

    /// Watches listener `i` for connections.
    pub(super) fn watch_listener(&mut self, i: usize, fd: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            Engine::Epoll(ep) => ep
                .add(
                    fd,
                    EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_LISTENER | i as u64),
                )
                .map_err(io::Error::from),
            Engine::Uring(u) => u.poll(POLL_LISTENER + i as u64, fd.as_raw_fd()),
        }
    }

    /// Watches the event-channel device.
    pub(super) fn watch_evtchn(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            Engine::Epoll(ep) => ep
                .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, TOKEN_EVTCHN))
                .map_err(io::Error::from),
            Engine::Uring(u) => u.poll(POLL_EVTCHN, fd.as_raw_fd()),
        }
    }

    /// Takes in a just-accepted socket (its first recv is armed by [`Engine::sync`]).
    pub(super) fn add_conn(&mut self, id: ConnId, c: &mut Client) -> io::Result<()> {
        let Transport::Socket(s) = &c.stream else {
            return Ok(());
        };
        match self {
            Engine::Epoll(ep) => {
                s.set_nonblocking(true)?;
                ep.add(s.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, id))?;
                c.interest = EpollFlags::EPOLLIN;
            }
            // Blocking: io_uring waits for the socket itself; the daemon never calls a
            // blocking read or write on it.
            Engine::Uring(_) => s.set_nonblocking(false)?,
        }
        Ok(())
    }

    /// After a round: reads armed while the input buffer has room, and output interest
    /// while replies wait (epoll: an `epoll_ctl` only when that changes) or the replies
    /// queued (io_uring). A failure closes the connection.
    pub(super) fn sync(&mut self, id: ConnId, c: &mut Client) {
        let Transport::Socket(stream) = &c.stream else {
            return;
        };
        match self {
            Engine::Epoll(ep) => {
                let mut want = EpollFlags::empty();
                if c.input.len() < MAX_INPUT {
                    want |= EpollFlags::EPOLLIN;
                }
                if !c.output.is_empty() {
                    want |= EpollFlags::EPOLLOUT;
                }
                if want != c.interest {
                    let mut ev = EpollEvent::new(want, id);
                    match ep.modify(stream.as_fd(), &mut ev) {
                        Ok(()) => c.interest = want,
                        Err(e) => {
                            warn!(conn = id, error = %e, "epoll_ctl failed, dropping the connection");
                            c.closed = true;
                        }
                    }
                }
            }
            Engine::Uring(u) => {
                if c.closed {
                    return;
                }
                let fd = stream.as_raw_fd();
                let want_recv = !c.recv_armed && c.input.len() < MAX_INPUT;
                let send = if c.send_inflight { None } else { c.next_send() };
                let max = MAX_INPUT - c.input.len().min(MAX_INPUT);
                let r = match (send, want_recv) {
                    (Some(buf), true) => u.send(id, fd, buf).and_then(|()| {
                        c.send_inflight = true;
                        u.recv(id, fd, max).map(|()| c.recv_armed = true)
                    }),
                    (Some(buf), false) => u.send(id, fd, buf).map(|()| c.send_inflight = true),
                    (None, true) => u.recv(id, fd, max).map(|()| c.recv_armed = true),
                    (None, false) => Ok(()),
                };
                if let Err(e) = r {
                    warn!(conn = id, error = %e, "io_uring submit failed, dropping the connection");
                    c.closed = true;
                }
            }
        }
    }

    /// Writes a connection's output (epoll and rings; io_uring sends are queued by
    /// [`Engine::sync`]); returns whether a ring made progress (its peer then needs a
    /// notification).
    pub(super) fn flush(&mut self, c: &mut Client) -> bool {
        match (self, &c.stream) {
            // Queued by `sync`, with the connection's recv.
            (Engine::Uring(_), Transport::Socket(_)) => false,
            (_, Transport::Ring(_)) => c.flush(),
            (Engine::Epoll(_), Transport::Socket(_)) => {
                c.flush();
                false
            }
        }
    }

    /// Before a closed connection is dropped: under io_uring its armed recv and any send
    /// in flight hold the socket, so shut it down to complete them.
    pub(super) fn close(&mut self, c: &Client) {
        if let (Engine::Uring(_), Transport::Socket(s)) = (self, &c.stream) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
