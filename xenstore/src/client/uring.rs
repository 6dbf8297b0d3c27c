//! The client's one-syscall request path: the request's send and the reply's recv are
//! submitted together, linked, and waited for in one `io_uring_enter`.
//!
//! Why: the plain path costs a `sendto` and a blocking `recvfrom` per request, and the
//! blocking recv is woken spuriously when the daemon reads the request (Linux's unix
//! sockets wake every sleeper on the peer's wait queue when its send buffer drains; a
//! blocking recv does not filter by event, io_uring's internal poll does). In a PV dom0,
//! where each syscall and each wake-up costs ~0.1 ms under TCG, that is half the
//! client's cost per request. Used while the caller reads its own replies (no watch
//! thread), from the connection's second request on (a one-shot tool does not pay the
//! ring's set-up), and only on a unix socket; `RXENSTORE_CLIENT_IO=plain` turns it off.
//!
//! While a connection's replies come quickly, the client polls for the reply for a moment
//! before it blocks ([`crate::spin`], `RXENSTORE_CLIENT_POLL_US`), which spares the
//! wake-up a blocked caller costs when the reply arrives.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode, squeue};

use crate::spin::{self, SpinWindow};
use std::time::Duration;

use crate::wire::{HEADER_LEN, Header, Message, PAYLOAD_MAX};

/// Environment variable: `plain` keeps the client on `sendto`/`recvfrom`.
pub const CLIENT_IO_ENV: &str = "RXENSTORE_CLIENT_IO";

const SEND: u64 = 1;
const RECV: u64 = 2;
/// Receive buffer: one reply with its header, and some events behind it.
const RECV_BUF: usize = 2 * (HEADER_LEN + PAYLOAD_MAX);

/// Whether the environment allows the io_uring path.
pub(crate) fn enabled() -> bool {
    std::env::var(CLIENT_IO_ENV).map_or(true, |v| v != "plain")
}

/// Exchanges in flight in this process.
static WAITING: AtomicU32 = AtomicU32::new(0);

/// This thread's place among the process's exchanges in flight. Only a lone exchange
/// polls: where several threads of a process wait for replies at once (a load generator,
/// a multi-threaded tool), the reply of one is the CPU time another needs, and polling
/// measurably lowered 8- and 64-client throughput (docs/performance.md).
struct Waiting {
    alone: bool,
}

impl Waiting {
    fn enter() -> Waiting {
        Waiting {
            alone: WAITING.fetch_add(1, Ordering::Relaxed) == 0,
        }
    }

    fn alone(&self) -> bool {
        self.alone && WAITING.load(Ordering::Relaxed) == 1
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The buffers of an exchange: the kernel reads `out` and writes `buf` while it is in
/// flight, so they are leaked rather than freed if dropped then (only after an unexpected
/// ring error, when the connection is dead).
struct RecvBuf {
    buf: Box<[u8]>,
    out: Vec<u8>,
    inflight: bool,
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        if self.inflight {
            std::mem::forget(std::mem::take(&mut self.buf));
            std::mem::forget(std::mem::take(&mut self.out));
        }
    }
}

/// A socket read and written through a small io_uring.
pub(crate) struct UringIo {
    ring: IoUring,
    /// Whether the kernel raises `IORING_SQ_TASKRUN` ([`spin::open_ring`]).
    taskrun_flag: bool,
    /// How long to poll for a reply before blocking.
    spin: SpinWindow,
    sock: UnixStream,
    /// Received bytes not yet returned as messages.
    pending: Vec<u8>,
    rbuf: RecvBuf,
}

impl UringIo {
    /// Sets up a ring for `sock`, taking over `pending` (bytes already buffered).
    pub(crate) fn new(sock: UnixStream, pending: Vec<u8>) -> io::Result<UringIo> {
        let (ring, taskrun_flag) = spin::open_ring(4)?;
        let max =
            spin::max_from_env(spin::CLIENT_POLL_US_ENV, spin::DEFAULT_MAX).unwrap_or_else(|e| {
                tracing::warn!("{e}; polling for replies up to the default");
                spin::DEFAULT_MAX
            });
        Ok(UringIo {
            ring,
            taskrun_flag,
            spin: SpinWindow::new(max),
            sock,
            pending,
            rbuf: RecvBuf {
                buf: vec![0; RECV_BUF].into_boxed_slice(),
                out: Vec::new(),
                inflight: false,
            },
        })
    }

    /// Gives back the socket and the bytes received but not yet consumed (for the reader
    /// thread that takes over at the first watch).
    pub(crate) fn into_parts(self: Box<Self>) -> (UnixStream, Vec<u8>) {
        (self.sock, self.pending)
    }

    /// Sends `bytes` and reads what arrives next, in one `io_uring_enter`.
    pub(crate) fn exchange(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if !self.pending.is_empty() {
            // Something is already buffered: the reply may be in it, so no recv yet.
            return self.sock.write_all(&bytes);
        }
        self.rbuf.out = bytes;
        let bytes = &self.rbuf.out;
        let fd = Fd(self.sock.as_raw_fd());
        let len = u32::try_from(bytes.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let send = opcode::Send::new(fd, bytes.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(SEND);
        let recv = opcode::Recv::new(fd, self.rbuf.buf.as_mut_ptr(), RECV_BUF as u32)
            .build()
            .user_data(RECV);
        // SAFETY: both buffers live in `rbuf` until the completions are reaped, and are
        // leaked if it is dropped before (see RecvBuf).
        unsafe {
            let mut sq = self.ring.submission();
            sq.push(&send).map_err(|_| io::ErrorKind::Other)?;
            sq.push(&recv).map_err(|_| io::ErrorKind::Other)?;
        }
        self.rbuf.inflight = true;
        let (mut sent, mut got) = (None, None);
        let waiting = Waiting::enter();
        if waiting.alone() && self.spin.should_poll() {
            self.enter(0, None)?;
            self.reap(&mut sent, &mut got);
            if got.is_none() && self.spin.poll(&mut self.ring, self.taskrun_flag)? {
                self.reap(&mut sent, &mut got);
            }
        }
        let mut probed = false;
        while sent.is_none() || got.is_none() {
            let want = usize::from(sent.is_none()) + usize::from(got.is_none());
            // With polling on, the wait for the reply first lasts the largest window (once):
            // the kernel's timeout says whether the window should grow or close, and no
            // clock is read.
            let probe = self
                .spin
                .probe()
                .filter(|_| got.is_none() && !probed && waiting.alone());
            probed |= probe.is_some();
            let timed_out = self.enter(want, probe)?;
            self.reap(&mut sent, &mut got);
            if probe.is_some() {
                if got.is_some() {
                    self.spin.after_block(true);
                } else if timed_out {
                    self.spin.after_block(false);
                }
            }
        }
        self.rbuf.inflight = false;
        let sent = sent.unwrap_or(-libc::EIO);
        if sent < 0 {
            return Err(io::Error::from_raw_os_error(-sent));
        }
        if (sent as usize) < self.rbuf.out.len() {
            // A short send breaks the link (the recv is cancelled): finish plainly.
            self.sock.write_all(&self.rbuf.out[sent as usize..])?;
        }
        self.took(got.unwrap_or(-libc::ECANCELED))
    }

    /// One `io_uring_enter` submitting what is queued and waiting for `want` completions,
    /// at most `timeout`; true when the timeout passed. An interrupted or busy enter is
    /// retried by the caller's loop.
    fn enter(&mut self, want: usize, timeout: Option<Duration>) -> io::Result<bool> {
        let r = match timeout {
            Some(t) => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
            None => self.ring.submit_and_wait(want),
        };
        match r {
            Ok(_) => Ok(false),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME) => Ok(true),
                Some(libc::EINTR | libc::EAGAIN | libc::EBUSY) => Ok(false),
                _ => Err(e),
            },
        }
    }

    /// Takes the send's and the recv's results off the completion queue.
    fn reap(&mut self, sent: &mut Option<i32>, got: &mut Option<i32>) {
        for cqe in self.ring.completion() {
            match cqe.user_data() {
                SEND => *sent = Some(cqe.result()),
                RECV => *got = Some(cqe.result()),
                _ => {}
            }
        }
    }

    /// Accounts a recv's result.
    fn took(&mut self, r: i32) -> io::Result<()> {
        match r {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n if n > 0 => {
                self.pending.extend_from_slice(&self.rbuf.buf[..n as usize]);
                Ok(())
            }
            n if n == -libc::ECANCELED || n == -libc::EINTR => Ok(()),
            n => Err(io::Error::from_raw_os_error(-n)),
        }
    }

    /// The next message: from what is buffered, else read from the socket.
    pub(crate) fn read_message(&mut self) -> io::Result<Message> {
        loop {
            if self.pending.len() >= HEADER_LEN {
                let header = Header::decode(&self.pending[..HEADER_LEN])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let end = HEADER_LEN + header.len as usize;
                if self.pending.len() >= end {
                    let payload = self.pending[HEADER_LEN..end].to_vec();
                    self.pending.drain(..end);
                    return Ok(Message { header, payload });
                }
            }
            // The rest of a message: a plain read (rare; replies come whole).
            let n = self.sock.read(&mut self.rbuf.buf)?;
            self.took(n as i32)?;
        }
    }
}
