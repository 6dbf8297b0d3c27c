//! rxl's own PV console backend for one domain: drains the guest's console ring into a log
//! and to one attached client (`rxl console`) over a unix socket, and feeds the client's
//! keystrokes back into the ring. It runs in the domain's monitor when no xenconsoled
//! serves the domain (see [`super::Placement`]).
//!
//! One thread, one `poll(2)` over the event channel, the listening socket and the client:
//! a console moves a few KiB/s, and a guest blocked on a full ring only needs us to drain
//! it promptly, which the event channel tells us to do.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use rxl_xendev::privcmd::ForeignMapping;

use super::ring::{ConsoleRing, OUT_SIZE};
use crate::error::XenError;
use crate::sys::evtchn::EventChannels;
use crate::sys::privcmd::Privcmd;

/// Output kept for the first client to attach (e.g. `rxl create -c`, which attaches just
/// after the guest started): the tail of what the guest printed before anyone listened.
const BACKLOG_MAX: usize = 64 * 1024;
/// Keystrokes held while the guest's input ring is full.
const PENDING_INPUT_MAX: usize = 4096;

/// Where the guest's primary console lives (`/local/domain/N/console/{ring-ref,port}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLocation {
    /// The guest.
    pub domid: u32,
    /// Frame of the console page (MFN for PV, GFN for PVH).
    pub frame: u64,
    /// The guest's end of the console event channel.
    pub remote_port: u32,
}

/// A connected console backend for one domain.
#[derive(Debug)]
pub struct ConsoleServer {
    ring: ConsoleRing<ForeignMapping>,
    evtchn: EventChannels,
    port: u32,
    backlog: VecDeque<u8>,
    ever_attached: bool,
    pending_input: VecDeque<u8>,
}

impl ConsoleServer {
    /// Maps the guest's console page and binds its event channel.
    pub fn connect(at: RingLocation) -> Result<Self, XenError> {
        let dom = u16::try_from(at.domid)
            .map_err(|_| XenError::Invalid(format!("domain id {} out of range", at.domid)))?;
        let privcmd = Privcmd::open()?;
        let (page, status) = privcmd.map_foreign(dom, &[at.frame], true)?;
        if let Some(&err) = status.iter().find(|&&s| s != 0) {
            return Err(XenError::Protocol(format!(
                "domain {}: its console frame {:#x} cannot be mapped (errno {})",
                at.domid, at.frame, -err
            )));
        }
        let evtchn = EventChannels::open()?;
        let port = evtchn.bind_interdomain(at.domid, at.remote_port)?;
        Ok(ConsoleServer {
            ring: ConsoleRing::new(page),
            evtchn,
            port,
            backlog: VecDeque::new(),
            ever_attached: false,
            pending_input: VecDeque::new(),
        })
    }

    /// Serves the console until `stop` is set: guest output goes to `log` (if any) and the
    /// attached client, client input to the guest. Returns on `stop`, or with an error when
    /// the event channel fails (the domain is gone).
    pub fn serve(
        mut self,
        listener: UnixListener,
        mut log: Option<File>,
        stop: Arc<AtomicBool>,
    ) -> Result<(), XenError> {
        listener
            .set_nonblocking(true)
            .map_err(|e| XenError::Protocol(format!("console socket: {e}")))?;
        let mut client: Option<UnixStream> = None;
        // Output the guest wrote before we bound the channel raised no event we could see.
        self.pump_output(&mut log, &mut client);
        let _ = self.evtchn.notify(self.port);
        while !stop.load(Ordering::Relaxed) {
            let (ev, lis, cli) = {
                let mut fds = vec![
                    PollFd::new(self.evtchn.as_fd(), PollFlags::POLLIN),
                    PollFd::new(listener.as_fd(), PollFlags::POLLIN),
                ];
                if let Some(c) = &client {
                    fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
                }
                // The timeout bounds how long `stop` goes unnoticed.
                match poll(&mut fds, PollTimeout::from(200u16)) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(XenError::Protocol(format!("console poll: {e}"))),
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (
                    ready(&fds[0]),
                    ready(&fds[1]),
                    fds.get(2).is_some_and(ready),
                )
            };
            if ev {
                self.evtchn.pending()?;
                self.pump_output(&mut log, &mut client);
                self.push_input();
            }
            if lis {
                self.accept(&listener, &mut client);
            }
            if cli && !self.read_client(&mut client) {
                client = None;
            }
        }
        Ok(())
    }

    /// Drains the guest's output ring; kicks the guest when space was freed.
    fn pump_output(&mut self, log: &mut Option<File>, client: &mut Option<UnixStream>) {
        let mut buf = [0u8; OUT_SIZE as usize];
        loop {
            let n = self.ring.read_output(&mut buf);
            if n == 0 {
                break;
            }
            let _ = self.evtchn.notify(self.port);
            let out = &buf[..n];
            if let Some(f) = log.as_mut()
                && f.write_all(out).is_err()
            {
                tracing::warn!("console log write failed; logging stops");
                *log = None;
            }
            match client {
                // `&UnixStream` writes too, which the guard needs; a failed write means the
                // client went away: keep serving.
                Some(c) if (&*c).write_all(out).is_err() => *client = None,
                Some(_) => {}
                None if !self.ever_attached => {
                    self.backlog.extend(out);
                    let excess = self.backlog.len().saturating_sub(BACKLOG_MAX);
                    self.backlog.drain(..excess);
                }
                None => {}
            }
        }
    }

    fn accept(&mut self, listener: &UnixListener, client: &mut Option<UnixStream>) {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        if client.is_some() {
            let _ = stream.write_all(b"rxl: this console is already attached elsewhere\r\n");
            return;
        }
        // The client's reads are blocking-free via poll; writes may block briefly on a slow
        // terminal, which only delays draining, never loses guest output.
        let _ = stream.set_nonblocking(false);
        let (first, second) = self.backlog.as_slices();
        if stream
            .write_all(first)
            .and_then(|()| stream.write_all(second))
            .is_ok()
        {
            self.backlog = VecDeque::new();
            self.ever_attached = true;
            *client = Some(stream);
        }
    }

    /// Reads the client's keystrokes into the guest. False when the client went away.
    fn read_client(&mut self, client: &mut Option<UnixStream>) -> bool {
        let Some(c) = client else { return false };
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                let room = PENDING_INPUT_MAX.saturating_sub(self.pending_input.len());
                self.pending_input.extend(&buf[..n.min(room)]);
                self.push_input();
                true
            }
            Err(e) if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::WouldBlock => {
                true
            }
            Err(_) => false,
        }
    }

    fn push_input(&mut self) {
        if self.pending_input.is_empty() {
            return;
        }
        let data: Vec<u8> = self.pending_input.iter().copied().collect();
        let n = self.ring.write_input(&data);
        if n > 0 {
            self.pending_input.drain(..n);
            let _ = self.evtchn.notify(self.port);
        }
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        let _ = self.evtchn.unbind(self.port);
    }
}
