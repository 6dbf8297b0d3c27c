//! The daemon's `io_uring(7)` engine: one `io_uring_enter` per round both submits the
//! round's replies and re-armed reads and waits for the next request.
//!
//! Why: in a PV dom0 every syscall bounces through Xen (and costs ~0.1 ms under TCG), and a
//! readiness loop cannot go below `epoll_wait` + `recvfrom` + `sendto` per request. Here a
//! round costs one syscall however many connections it reads and answers, and the kernel
//! performs the reads as the requests arrive (a recv armed on an empty socket waits inside
//! the kernel).
//!
//! Ownership: the buffer of every operation in flight lives in [`Uring`] until its
//! completion is reaped, never in the connection, which may be dropped first. A connection
//! is torn down with `shutdown(2)`, which completes its armed recv; the late completion
//! finds no connection and only frees its buffer.
//!
//! Polling before blocking ([`crate::spin`]): with the window open, a round submits
//! without waiting, then polls the completion queue for the window before it blocks.
//!
//! Sends post their completions like everything else: a round whose only completions
//! are its own sends (a single client in lock step) takes a second `io_uring_enter` to
//! wait for the next request. Linking the reply's send before the next recv with
//! `CQE_SKIP_SUCCESS` avoids that, but then a watch event for an idle client waits behind
//! a send whose end only the client's next request reveals (xenconsoled never sent one:
//! found in the Xen lab), so it is not done.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, Probe, opcode, squeue};

use crate::spin::{self, SpinWindow};

/// Submission queue size: a round pushes at most one recv and one send per connection
/// (the queue is submitted early when full).
const ENTRIES: u32 = 256;
/// Size of a receive buffer (as the epoll loop's read buffer).
pub const RECV_BUF: usize = 16 * 1024;

const KIND_SHIFT: u32 = 56;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_POLL: u64 = 3;

/// What a completion was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A recv on connection `id`.
    Recv(u64),
    /// A send on connection `id`.
    Send(u64),
    /// A one-shot `POLLIN` poll registered with this token.
    Poll(u64),
}

impl Op {
    fn user_data(self) -> u64 {
        let (kind, v) = match self {
            Op::Recv(v) => (KIND_RECV, v),
            Op::Send(v) => (KIND_SEND, v),
            Op::Poll(v) => (KIND_POLL, v),
        };
        debug_assert!(v < 1 << KIND_SHIFT);
        kind << KIND_SHIFT | v
    }

    fn is_send(self) -> bool {
        matches!(self, Op::Send(_))
    }

    fn from_user_data(u: u64) -> Option<Op> {
        let v = u & ((1 << KIND_SHIFT) - 1);
        match u >> KIND_SHIFT {
            KIND_RECV => Some(Op::Recv(v)),
            KIND_SEND => Some(Op::Send(v)),
            KIND_POLL => Some(Op::Poll(v)),
            _ => None,
        }
    }
}

/// How an `io_uring_enter` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It submitted, and waited as long as asked.
    Done,
    /// Its timeout passed first.
    TimedOut,
    /// A signal or a full completion queue cut it short.
    Interrupted,
}

/// One reaped completion.
#[derive(Debug)]
pub struct Completion {
    /// The operation.
    pub op: Op,
    /// Its result: bytes moved, or a negative errno.
    pub result: i32,
    /// A recv's buffer, `result` bytes of it valid (give it back with [`Uring::recycle`]).
    pub data: Option<Vec<u8>>,
}

/// An `io_uring` with the operations the daemon uses.
pub struct Uring {
    ring: IoUring,
    /// Buffers of recvs and sends in flight, by user data.
    inflight: HashMap<u64, Vec<u8>>,
    /// Spare receive buffers (a recv per request would otherwise allocate 16 KiB).
    pool: Vec<Vec<u8>>,
    /// How long to poll before blocking.
    spin: SpinWindow,
    /// Whether the kernel raises `IORING_SQ_TASKRUN` (set up with the taskrun flag).
    taskrun_flag: bool,
}

impl Uring {
    /// Sets up a ring, or says why this kernel cannot serve the loop (`ENOSYS` without
    /// io_uring, `EPERM` where it is disabled, `Unsupported` without an opcode or
    /// `IORING_FEAT_EXT_ARG`, 5.11+); the caller then falls back to epoll.
    pub fn open() -> io::Result<Uring> {
        let (ring, taskrun_flag) = spin::open_ring(ENTRIES)?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring without IORING_FEAT_EXT_ARG (kernel older than 5.11)",
            ));
        }
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for (code, name) in [
            (opcode::Recv::CODE, "RECV"),
            (opcode::Send::CODE, "SEND"),
            (opcode::PollAdd::CODE, "POLL_ADD"),
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring without IORING_OP_{name}"),
                ));
            }
        }
        Ok(Uring {
            ring,
            inflight: HashMap::new(),
            pool: Vec::new(),
            spin: SpinWindow::new(Duration::ZERO),
            taskrun_flag,
        })
    }

    /// Sets the largest polling window (`Duration::ZERO`, the default: never poll).
    pub fn set_spin_max(&mut self, max: Duration) {
        self.spin = SpinWindow::new(max);
    }

    /// Queues an entry, submitting the queue first when it is full.
    ///
    /// # Safety
    /// Every buffer `entry` points to must stay valid until its completion is reaped.
    unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded to the caller.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    /// Arms a recv of up to `max` bytes (at most [`RECV_BUF`]) on connection `id`'s socket.
    pub fn recv(&mut self, id: u64, fd: RawFd, max: usize) -> io::Result<()> {
        let op = Op::Recv(id);
        let mut buf = self.pool.pop().unwrap_or_else(|| vec![0; RECV_BUF]);
        let len = max.clamp(1, RECV_BUF) as u32;
        let entry = opcode::Recv::new(Fd(fd), buf.as_mut_ptr(), len)
            .build()
            .user_data(op.user_data());
        // The heap block does not move when the Vec itself is moved into the map.
        self.inflight.insert(op.user_data(), buf);
        // SAFETY: the buffer stays in `inflight` until the completion is reaped (or forever,
        // see Drop).
        unsafe { self.push(&entry) }
    }

    /// Queues a send of `bytes` on connection `id`'s socket (the result may be short).
    pub fn send(&mut self, id: u64, fd: RawFd, bytes: Vec<u8>) -> io::Result<()> {
        let op = Op::Send(id);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(Fd(fd), bytes.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(op.user_data());
        self.inflight.insert(op.user_data(), bytes);
        // SAFETY: as in `recv`.
        unsafe { self.push(&entry) }
    }

    /// Arms a one-shot `POLLIN` poll of `fd`, completing as [`Op::Poll`]`(token)`.
    pub fn poll(&mut self, token: u64, fd: RawFd) -> io::Result<()> {
        let entry = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32)
            .build()
            .user_data(Op::Poll(token).user_data());
        // SAFETY: a poll references no memory.
        unsafe { self.push(&entry) }
    }

    /// Gives a recv buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() == RECV_BUF && self.pool.len() < 64 {
            self.pool.push(buf);
        }
    }

    /// Submits everything queued and waits up to `timeout` (`None`: not at all) for at
    /// least one completion; appends the completions to `out`. A signal ends the wait
    /// early, like `EINTR` from `epoll_wait`.
    ///
    /// With the polling window closed this is one `io_uring_enter` (two when an idle wait
    /// outlasts the window's probe). With it open, the
    /// queue is submitted without waiting; if that brings only the round's own send
    /// completions (or nothing), the completion queue is polled for the window; a miss
    /// with nothing reaped then blocks as before.
    pub fn round(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        let Some(t) = timeout else {
            self.enter(0, None)?;
            self.reap(out);
            return Ok(());
        };
        if !self.spin.should_poll() {
            return self.block(t, out);
        }
        self.enter(0, None)?;
        let from = out.len();
        self.reap(out);
        if out[from..].iter().any(|c| !c.op.is_send()) {
            return Ok(());
        }
        if self.spin.poll(&mut self.ring, self.taskrun_flag)? {
            self.reap(out);
            return Ok(());
        }
        if out.len() > from {
            // Only sends completed: return so that the caller can queue what waited
            // behind them before anything blocks.
            return Ok(());
        }
        self.block(t, out)
    }

    /// Submits what is queued and waits up to `t` for a completion. With polling on, the
    /// wait first lasts the largest window, which tells the window whether to grow (a
    /// completion came within it) or close (it timed out: the clients are quiet); only a
    /// wait that outlasts it takes a second `io_uring_enter`.
    fn block(&mut self, t: Duration, out: &mut Vec<Completion>) -> io::Result<()> {
        let probe = self.spin.probe().filter(|&p| p < t);
        let from = out.len();
        let ended = self.enter(1, Some(probe.unwrap_or(t)))?;
        self.reap(out);
        let waited = out[from..].iter().any(|c| !c.op.is_send());
        // A round that only reaped its own sends did not wait for anybody.
        if waited {
            self.spin.after_block(true);
        } else if ended == Ended::TimedOut && out.len() == from {
            self.spin.after_block(false);
            if let Some(p) = probe {
                self.enter(1, Some(t - p))?;
                self.reap(out);
            }
        }
        Ok(())
    }

    /// Live update: cancels every recv and send in flight and reaps until none is left,
    /// appending the completions to `out` (a recv that raced the cancel carries its bytes,
    /// a send its count; the others end with `ECANCELED` having moved nothing). Polls are
    /// not cancelled (they consume nothing); those that complete meanwhile are reaped too.
    /// Fails if the kernel still holds a buffer after `limit`.
    pub fn cancel_inflight(
        &mut self,
        limit: Duration,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        let keys: Vec<u64> = self.inflight.keys().copied().collect();
        for k in keys {
            // User data 0 is no `Op`: the cancel's own completion is skipped by `reap`.
            let entry = opcode::AsyncCancel::new(k).build().user_data(0);
            // SAFETY: a cancel references no memory.
            unsafe { self.push(&entry) }?;
        }
        let deadline = Instant::now() + limit;
        self.enter(0, None)?;
        self.reap(out);
        while !self.inflight.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} io_uring operations still in flight after cancelling",
                        self.inflight.len()
                    ),
                ));
            }
            self.enter(1, Some(left))?;
            self.reap(out);
        }
        Ok(())
    }

    /// One `io_uring_enter`: submits what is queued and, with `want` > 0, waits up to
    /// `timeout` for that many completions. Timeouts, signals and a busy ring are not
    /// errors (the round just reaps what there is).
    fn enter(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<Ended> {
        let r = match timeout {
            Some(t) if want > 0 => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
            _ => self.ring.submit(),
        };
        match r {
            Ok(_) => Ok(Ended::Done),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME) => Ok(Ended::TimedOut),
                Some(libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(Ended::Interrupted),
                _ => Err(e),
            },
        }
    }

    /// Moves the completion queue's entries to `out`.
    fn reap(&mut self, out: &mut Vec<Completion>) {
        for cqe in self.ring.completion() {
            let Some(op) = Op::from_user_data(cqe.user_data()) else {
                continue;
            };
            let buf = self.inflight.remove(&cqe.user_data());
            let data = match op {
                Op::Recv(_) => buf,
                // A send's bytes are still queued in its connection; the copy is done.
                _ => None,
            };
            out.push(Completion {
                op,
                result: cqe.result(),
                data,
            });
        }
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        // Closing the ring cancels what is in flight asynchronously: the kernel may still
        // touch those buffers for a moment, so they are leaked rather than freed (this
        // happens once, at exit).
        for (_, buf) in self.inflight.drain() {
            std::mem::forget(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn user_data_round_trips() {
        for op in [
            Op::Recv(7),
            Op::Send(1 << 40),
            Op::Poll(u64::from(u32::MAX)),
        ] {
            assert_eq!(Op::from_user_data(op.user_data()), Some(op));
        }
        assert_eq!(Op::from_user_data(0), None);
    }

    #[test]
    fn recv_send_and_poll_complete() {
        let Ok(mut u) = Uring::open() else {
            eprintln!("skipped: io_uring unavailable on this kernel");
            return;
        };
        let (mut a, b) = UnixStream::pair().unwrap();
        u.recv(3, b.as_raw_fd(), 100).unwrap();
        let mut out = Vec::new();
        u.round(None, &mut out).unwrap();
        assert!(out.is_empty(), "nothing sent yet");
        a.write_all(b"hello").unwrap();
        u.round(Some(Duration::from_secs(5)), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].op, Op::Recv(3));
        assert_eq!(out[0].result, 5);
        assert_eq!(&out[0].data.as_ref().unwrap()[..5], b"hello");
        out.clear();
        u.send(3, b.as_raw_fd(), b"world".to_vec()).unwrap();
        u.poll(9, a.as_raw_fd()).unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            u.round(Some(Duration::from_secs(5)), &mut got).unwrap();
        }
        got.sort_by_key(|c| c.op.user_data());
        assert_eq!(got[0].op, Op::Send(3));
        assert_eq!(got[0].result, 5);
        assert_eq!(got[1].op, Op::Poll(9));
        let mut buf = [0u8; 5];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"world");
        assert!(u.inflight.is_empty());
    }

    #[test]
    fn timeout_returns_without_completions() {
        let Ok(mut u) = Uring::open() else {
            eprintln!("skipped: io_uring unavailable on this kernel");
            return;
        };
        let mut out = Vec::new();
        let t = std::time::Instant::now();
        u.round(Some(Duration::from_millis(20)), &mut out).unwrap();
        assert!(out.is_empty());
        assert!(t.elapsed() >= Duration::from_millis(15));
    }
}
