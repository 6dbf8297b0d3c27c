//! The `live-update` XS_CONTROL command, as Xen's `xenstore-control live-update` sends it.
//!
//! `xenstore-control live-update [-c CMDLINE] [-F] [-t SECS] BINARY` talks to a daemon
//! (not a stub domain) in three requests on one privileged connection:
//!
//! 1. `live-update\0-f\0BINARY\0`: the binary to exec (answered `OK`);
//! 2. `live-update\0-c\0CMDLINE\0` (optional): the new command line (answered `OK`);
//! 3. `live-update\0-s\0-t\0SECS\0[-F\0]`: start. The C daemon answers `BUSY` while it
//!    cannot update yet (the tool retries each second until SECS); rxenstored never
//!    needs to wait for transactions (they end with `EAGAIN`, see [`super`]), so it
//!    answers only once the update is over: `OK` from the *new* process, on the same,
//!    carried connection, or a text naming the failure from the old one.
//!
//! `live-update\0-a\0` drops what 1 and 2 set. The stub-domain forms (`-b`, `-d`) are
//! refused with `EINVAL`. This module is pure: it records the request, and the server
//! loop performs it ([`super::perform`]) after the round.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::daemon::handler::ConnId;
use crate::wire::{Header, XsErrno, join_strings};

/// Who asked for the update and how to answer them (the reply echoes the request's ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The connection that sent `-s`.
    pub conn: ConnId,
    /// Its request id.
    pub req_id: u32,
    /// Its transaction id (0 for xenstore-control).
    pub tx_id: u32,
}

/// A live update to perform now, taken from [`LiveUpdateControl::take`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request {
    /// The binary set with `-f` (`None`: the one the daemon was started from).
    pub binary: Option<PathBuf>,
    /// The arguments set with `-c`, split at whitespace (`None`: the current ones).
    pub args: Option<Vec<String>>,
    /// The connection waiting for the answer (`None`: SIGHUP).
    pub requester: Option<Requester>,
}

/// State of the `live-update` control command between its requests.
#[derive(Debug, Default)]
pub struct LiveUpdateControl {
    binary: Option<PathBuf>,
    args: Option<Vec<String>>,
    started: Option<Requester>,
    /// Set while handling `-s`: the request's reply is sent later, not now.
    deferred: bool,
}

fn text(a: &[u8]) -> Result<String, XsErrno> {
    String::from_utf8(a.to_vec()).map_err(|_| XsErrno::EINVAL)
}

impl LiveUpdateControl {
    /// Handles `live-update ARGS...` from privileged connection `conn`; the reply payload.
    pub fn command(
        &mut self,
        conn: ConnId,
        h: &Header,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, XsErrno> {
        let ok = || Ok(join_strings(["OK"]));
        match args.first().map(Vec::as_slice) {
            Some(b"-f") => {
                let [_, file] = args else {
                    return Err(XsErrno::EINVAL);
                };
                let file = PathBuf::from(text(file)?);
                if !file.is_absolute() || !file.is_file() {
                    return Err(XsErrno::ENOENT);
                }
                self.binary = Some(file);
                ok()
            }
            Some(b"-c") => {
                let [_, line] = args else {
                    return Err(XsErrno::EINVAL);
                };
                self.args = Some(text(line)?.split_whitespace().map(String::from).collect());
                ok()
            }
            Some(b"-a") => {
                *self = LiveUpdateControl::default();
                ok()
            }
            Some(b"-s") => {
                // `-t SECS` and `-F` concern waiting for transactions, which never happens
                // here; they are accepted and ignored.
                let mut rest = args[1..].iter();
                while let Some(a) = rest.next() {
                    match a.as_slice() {
                        b"-F" => {}
                        b"-t" => {
                            let secs = rest.next().ok_or(XsErrno::EINVAL)?;
                            text(secs)?.parse::<u32>().map_err(|_| XsErrno::EINVAL)?;
                        }
                        _ => return Err(XsErrno::EINVAL),
                    }
                }
                if self.started.is_some() {
                    return Ok(join_strings(["BUSY"]));
                }
                self.started = Some(Requester {
                    conn,
                    req_id: h.req_id,
                    tx_id: h.tx_id,
                });
                self.deferred = true;
                Ok(Vec::new())
            }
            _ => Err(XsErrno::EINVAL),
        }
    }

    /// Whether an update was started and waits for the end of the round.
    pub fn pending(&self) -> bool {
        self.started.is_some()
    }

    /// Takes the update to perform (`-f`/`-c` settings are consumed with it).
    pub fn take(&mut self) -> Request {
        let r = Request {
            binary: self.binary.take(),
            args: self.args.take(),
            requester: self.started.take(),
        };
        *self = LiveUpdateControl::default();
        r
    }

    /// Whether the request just handled is answered later (then it gets no reply now).
    pub fn take_deferred(&mut self) -> bool {
        std::mem::take(&mut self.deferred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(req_id: u32) -> Header {
        Header {
            msg_type: 0,
            req_id,
            tx_id: 0,
            len: 0,
        }
    }

    fn args(a: &[&str]) -> Vec<Vec<u8>> {
        a.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn xenstore_control_sequence_is_recorded_and_answered_later() {
        let mut c = LiveUpdateControl::default();
        let bin = std::env::current_exe().unwrap();
        let bin = bin.to_str().unwrap();
        assert_eq!(
            c.command(1, &h(1), &args(&["-f", bin])),
            Ok(b"OK\0".to_vec())
        );
        assert_eq!(
            c.command(1, &h(2), &args(&["-c", "--socket /x  --no-xen"])),
            Ok(b"OK\0".to_vec())
        );
        assert!(!c.pending());
        assert_eq!(
            c.command(1, &h(3), &args(&["-s", "-t", "60", "-F"])),
            Ok(vec![])
        );
        assert!(c.take_deferred() && !c.take_deferred());
        assert!(c.pending());
        assert_eq!(
            c.command(2, &h(4), &args(&["-s"])),
            Ok(b"BUSY\0".to_vec()),
            "one update at a time"
        );
        let r = c.take();
        assert_eq!(r.binary.as_deref(), Some(std::path::Path::new(bin)));
        assert_eq!(r.args.unwrap(), ["--socket", "/x", "--no-xen"]);
        assert_eq!(
            r.requester,
            Some(Requester {
                conn: 1,
                req_id: 3,
                tx_id: 0
            })
        );
        assert!(!c.pending());
        assert_eq!(c.take(), Request::default());
    }

    #[test]
    fn bad_forms_are_refused_and_abort_forgets() {
        let mut c = LiveUpdateControl::default();
        for bad in [
            &["-f"][..],
            &["-f", "relative/path"],
            &["-s", "-t"],
            &["-s", "-t", "soon"],
            &["-s", "-x"],
            &["-b", "1000"],
            &[],
        ] {
            assert!(c.command(1, &h(1), &args(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            c.command(1, &h(1), &args(&["-f", "/nonexistent/rxenstored"])),
            Err(XsErrno::ENOENT)
        );
        c.command(1, &h(1), &args(&["-c", "--no-xen"])).unwrap();
        c.command(1, &h(1), &args(&["-a"])).unwrap();
        assert_eq!(c.take(), Request::default());
    }
}
