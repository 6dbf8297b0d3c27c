//! One connection's buffers and the synchronous I/O the epoll loop and rings use.

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::os::unix::net::UnixStream;

use nix::sys::epoll::EpollFlags;
use tracing::warn;

use super::ring::{ERROR_RINGIDX, RingConn};
use super::socket::MAX_INPUT;
use crate::wire::{HEADER_LEN, Header};

/// How a client is reached.
pub(super) enum Transport {
    Socket(UnixStream),
    Ring(RingConn),
}

pub(super) struct Client {
    pub(super) stream: Transport,
    pub(super) input: Vec<u8>,
    pub(super) output: VecDeque<(Vec<u8>, bool)>,
    pub(super) written: usize,
    pub(super) out_bytes: usize,
    pub(super) replies: usize,
    pub(super) closed: bool,
    pub(super) privileged: bool,
    /// Events the socket is registered for in the server's epoll set.
    pub(super) interest: EpollFlags,
    /// Already in this round's work list (dedup without a set).
    pub(super) listed: bool,
    /// Its domain waits for conflict credit ([`Daemon::conflict_wait`]): the round's
    /// timeout, not an immediate retry, brings it back.
    pub(super) conflict_paused: bool,
    /// io_uring loop: a recv is armed on the socket.
    pub(super) recv_armed: bool,
    /// io_uring loop: a send of the front of `output` is in flight (one at a time, so
    /// replies stay in order).
    pub(super) send_inflight: bool,
}

impl Client {
    pub(super) fn new(stream: Transport, privileged: bool) -> Client {
        Client {
            stream,
            input: Vec::new(),
            output: VecDeque::new(),
            written: 0,
            out_bytes: 0,
            replies: 0,
            closed: false,
            privileged,
            interest: EpollFlags::empty(),
            listed: false,
            conflict_paused: false,
            recv_armed: false,
            send_inflight: false,
        }
    }

    pub(super) fn queue(&mut self, bytes: Vec<u8>, is_reply: bool) {
        self.out_bytes += bytes.len();
        self.replies += usize::from(is_reply);
        self.output.push_back((bytes, is_reply));
    }

    /// Writes queued output; returns whether anything was written.
    pub(super) fn flush(&mut self) -> bool {
        let mut progress = false;
        while let Some((front, is_reply)) = self.output.front() {
            let r = match &mut self.stream {
                // Several queued messages (a reply and its watch events) go out in one
                // writev(2).
                Transport::Socket(s) if self.output.len() > 1 => {
                    let bufs: Vec<IoSlice<'_>> = std::iter::once(&front[self.written..])
                        .chain(self.output.iter().skip(1).take(63).map(|(b, _)| &b[..]))
                        .map(IoSlice::new)
                        .collect();
                    match s.write_vectored(&bufs) {
                        Ok(n) if n > 0 => {
                            self.consumed(n);
                            progress = true;
                            continue;
                        }
                        r => r,
                    }
                }
                Transport::Socket(s) => s.write(&front[self.written..]),
                Transport::Ring(r) => {
                    r.page()
                        .write_responses(&front[self.written..])
                        .map_err(|e| {
                            warn!(error = %e, "ring broken");
                            r.page().set_error(ERROR_RINGIDX);
                            std::io::Error::other(e)
                        })
                }
            };
            match r {
                Ok(0) if matches!(self.stream, Transport::Ring(_)) => return progress,
                Ok(0) => {
                    self.closed = true;
                    return progress;
                }
                Ok(n) => {
                    progress = true;
                    self.written += n;
                    if self.written == front.len() {
                        self.out_bytes -= front.len();
                        self.replies -= usize::from(*is_reply);
                        self.written = 0;
                        self.output.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return progress,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    return progress;
                }
            }
        }
        progress
    }

    /// Drops `n` written bytes from the front of the output queue.
    pub(super) fn consumed(&mut self, mut n: usize) {
        while let Some((front, is_reply)) = self.output.front() {
            let left = front.len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.out_bytes -= front.len();
            self.replies -= usize::from(*is_reply);
            self.written = 0;
            self.output.pop_front();
        }
    }

    /// Reads available input; returns whether anything was read.
    pub(super) fn fill(&mut self) -> bool {
        let before = self.input.len();
        if let Transport::Ring(r) = &self.stream {
            if self.input.len() < MAX_INPUT {
                if let Err(e) = r.page().read_requests(&mut self.input) {
                    warn!(error = %e, "ring broken, dropping the connection");
                    r.page().set_error(ERROR_RINGIDX);
                    self.closed = true;
                }
            }
            return self.input.len() > before;
        }
        let Transport::Socket(stream) = &mut self.stream else {
            return false;
        };
        let mut buf = [0u8; 16 * 1024];
        while self.input.len() < MAX_INPUT {
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) => {
                    self.input.extend_from_slice(&buf[..n]);
                    // A short read drained the socket: no second read just to see EAGAIN
                    // (one syscall less per request; poll is level-triggered, so
                    // anything arriving meanwhile is seen next round).
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    break;
                }
            }
        }
        self.input.len() > before
    }

    /// Whether a whole request (or a header that will fail to decode) is buffered. A
    /// partial one needs no carrying: the rest arrives with a read event. (libxenstore
    /// writes a request's header and payload separately; carrying the header alone made
    /// the loop spin until the payload came.)
    pub(super) fn has_request(&self) -> bool {
        if self.input.len() < HEADER_LEN {
            return false;
        }
        Header::decode(&self.input[..HEADER_LEN])
            .map_or(true, |h| self.input.len() >= HEADER_LEN + h.len as usize)
    }

    /// io_uring loop: takes a recv's completion (`result` bytes of `data`, 0 at end of
    /// stream, or a negative errno).
    pub(super) fn recv_done(&mut self, result: i32, data: &[u8]) {
        self.recv_armed = false;
        match result {
            n if n > 0 => self.input.extend_from_slice(&data[..n as usize]),
            // Interrupted or cancelled: simply re-armed.
            n if n == -libc::EINTR || n == -libc::EAGAIN || n == -libc::ECANCELED => {}
            _ => self.closed = true,
        }
    }

    /// io_uring loop: the queued output to send next, as one buffer (a reply and the watch
    /// events behind it go out together, as the epoll loop's writev).
    pub(super) fn next_send(&self) -> Option<Vec<u8>> {
        let (front, _) = self.output.front()?;
        let mut buf = Vec::with_capacity(self.out_bytes - self.written);
        buf.extend_from_slice(&front[self.written..]);
        for (b, _) in self.output.iter().skip(1).take(63) {
            buf.extend_from_slice(b);
        }
        Some(buf)
    }

    /// io_uring loop: takes a send's completion (bytes sent, possibly short, or a
    /// negative errno).
    pub(super) fn send_done(&mut self, result: i32) {
        self.send_inflight = false;
        match result {
            n if n > 0 => self.consumed(n as usize),
            // Cancelled (live update): nothing was sent, the output stays queued.
            n if n == -libc::EINTR || n == -libc::EAGAIN || n == -libc::ECANCELED => {}
            _ => self.closed = true,
        }
    }
}
