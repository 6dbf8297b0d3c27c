//! A pure-Rust xenstore client.
//!
//! [`Client::open`] finds the daemon like libxenstore ([`endpoint`]); requests may be
//! issued from several threads at once; replies are matched by request id and watch
//! events arrive on crossbeam channels ([`Client::watch`]), never blocking requests.
//! [`Client::transaction`] runs a closure in a transaction and retries on `EAGAIN`.

mod conn;
pub mod endpoint;
mod txn;
mod uring;
mod watch;

use std::path::{Path, PathBuf};

use crossbeam_channel::Receiver;
use thiserror::Error;

pub use txn::{MAX_RETRIES, Transaction};
pub use watch::WatchEvent;

use crate::wire::{MsgType, Perms, Request, XsErrno, split_strings};
use conn::Connection;

/// Client errors.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No endpoint could be opened.
    #[error("cannot reach xenstore: {}; is xenstored (or rxenstored) running? set XENSTORED_PATH to its socket", .tried.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect::<Vec<_>>().join("; "))]
    NoEndpoint {
        /// Each path tried, with its error.
        tried: Vec<(PathBuf, std::io::Error)>,
    },
    /// The daemon answered with an error.
    #[error("xenstore error {0}")]
    Xs(XsErrno),
    /// Reading or writing the connection failed.
    #[error("xenstore connection: {0}")]
    Io(std::io::Error),
    /// The daemon closed the connection.
    #[error("xenstore connection lost")]
    ConnectionLost,
    /// A request would exceed the 4096-byte payload limit.
    #[error("request larger than the 4096-byte xenstore payload limit")]
    TooLarge,
    /// A reply was not what its type requires.
    #[error("malformed reply from xenstore: {0}")]
    BadReply(String),
    /// A transaction kept conflicting.
    #[error("transaction still conflicting after {0} attempts")]
    TooManyConflicts(usize),
}

impl ClientError {
    /// The daemon's error name, if this is one.
    pub fn errno(&self) -> Option<XsErrno> {
        match self {
            ClientError::Xs(e) => Some(*e),
            _ => None,
        }
    }
}

/// A connection to xenstored.
pub struct Client {
    conn: Connection,
}

fn text(b: Vec<u8>) -> Result<String, ClientError> {
    let b = b.strip_suffix(&[0]).map(<[u8]>::to_vec).unwrap_or(b);
    String::from_utf8(b).map_err(|_| ClientError::BadReply("non-UTF-8 text".into()))
}

fn strings(b: &[u8]) -> Vec<String> {
    split_strings(b)
        .into_iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

impl Client {
    /// Opens the endpoint libxenstore would use.
    pub fn open() -> Result<Client, ClientError> {
        let (_, stream) =
            endpoint::open_default().map_err(|tried| ClientError::NoEndpoint { tried })?;
        Ok(Client {
            conn: Connection::new(stream).map_err(ClientError::Io)?,
        })
    }

    /// Opens a specific socket or device path.
    pub fn open_path(path: &Path) -> Result<Client, ClientError> {
        let stream = endpoint::open_path(path).map_err(|e| ClientError::NoEndpoint {
            tried: vec![(path.to_path_buf(), e)],
        })?;
        Ok(Client {
            conn: Connection::new(stream).map_err(ClientError::Io)?,
        })
    }

    /// Keeps this connection on plain `sendto`/`recvfrom`, never the io_uring path.
    ///
    /// For a process that makes a few dozen requests and exits, such as `rxl create`
    /// writing a domain's tree: there the ring's set-up and its completion wake-ups cost
    /// more than the one saved syscall per request (in the Xen lab the tree write took
    /// 74-244 ms over io_uring against 60-70 ms plain; docs/performance.md, "Domain
    /// creation"). Long-lived busy connections keep the io_uring path.
    pub fn short_lived(self) -> Client {
        self.conn.keep_plain();
        self
    }

    pub(crate) fn req(&self, tx: u32, r: Request) -> Result<Vec<u8>, ClientError> {
        let (ty, payload) = r.encode();
        self.conn.request(ty, tx, payload)
    }

    pub(crate) fn read_in(&self, tx: u32, path: &str) -> Result<Vec<u8>, ClientError> {
        self.req(tx, Request::Read { path: path.into() })
    }

    pub(crate) fn directory_in(&self, tx: u32, path: &str) -> Result<Vec<String>, ClientError> {
        match self.req(tx, Request::Directory { path: path.into() }) {
            Ok(b) => Ok(strings(&b)),
            Err(ClientError::Xs(XsErrno::E2BIG)) => self.directory_part_in(tx, path),
            Err(e) => Err(e),
        }
    }

    /// DIRECTORY_PART loop: restarts if the node's generation changes between parts.
    fn directory_part_in(&self, tx: u32, path: &str) -> Result<Vec<String>, ClientError> {
        'restart: for _ in 0..MAX_RETRIES {
            let mut all: Vec<u8> = Vec::new();
            let mut generation: Option<Vec<u8>> = None;
            loop {
                let r = self.req(
                    tx,
                    Request::DirectoryPart {
                        path: path.into(),
                        offset: all.len() as u32,
                    },
                )?;
                let g = r.iter().position(|b| *b == 0).ok_or_else(|| {
                    ClientError::BadReply("DIRECTORY_PART without generation".into())
                })?;
                match &generation {
                    Some(prev) if prev.as_slice() != &r[..g] => continue 'restart,
                    None => generation = Some(r[..g].to_vec()),
                    _ => {}
                }
                let data = &r[g + 1..];
                if data.is_empty() {
                    return Err(ClientError::BadReply("empty DIRECTORY_PART".into()));
                }
                if data == [0] || data.ends_with(&[0, 0]) {
                    all.extend_from_slice(&data[..data.len() - 1]);
                    return Ok(strings(&all));
                }
                all.extend_from_slice(data);
            }
        }
        Err(ClientError::TooManyConflicts(MAX_RETRIES))
    }

    /// Reads a value (raw bytes, no trailing NUL).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.read_in(0, path)
    }

    /// Writes a value, creating the node and missing parents.
    pub fn write(&self, path: &str, value: &[u8]) -> Result<(), ClientError> {
        self.req(
            0,
            Request::Write {
                path: path.into(),
                value: value.to_vec(),
            },
        )
        .map(drop)
    }

    /// Creates a node (and parents); existing values are kept.
    pub fn mkdir(&self, path: &str) -> Result<(), ClientError> {
        self.req(0, Request::Mkdir { path: path.into() }).map(drop)
    }

    /// Removes a node and its subtree.
    pub fn rm(&self, path: &str) -> Result<(), ClientError> {
        self.req(0, Request::Rm { path: path.into() }).map(drop)
    }

    /// Lists children, using DIRECTORY_PART when the list exceeds one payload.
    pub fn directory(&self, path: &str) -> Result<Vec<String>, ClientError> {
        self.directory_in(0, path)
    }

    /// Reads a node's permissions.
    pub fn get_perms(&self, path: &str) -> Result<Perms, ClientError> {
        let b = self.req(0, Request::GetPerms { path: path.into() })?;
        let s = strings(&b);
        Perms::parse(s.iter().map(String::as_str)).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Replaces a node's permissions.
    pub fn set_perms(&self, path: &str, perms: &Perms) -> Result<(), ClientError> {
        self.req(
            0,
            Request::SetPerms {
                path: path.into(),
                perms: perms.clone(),
            },
        )
        .map(drop)
    }

    /// Registers a watch; events (the first one immediately) arrive on the returned
    /// channel, shared by every watch with the same token.
    pub fn watch(&self, path: &str, token: &str) -> Result<Receiver<WatchEvent>, ClientError> {
        self.conn.start_reader()?;
        let rx = self.conn.watches().subscribe(token);
        self.req(
            0,
            Request::Watch {
                path: path.into(),
                token: token.into(),
                depth: None,
            },
        )?;
        Ok(rx)
    }

    /// Registers a watch limited to `depth` levels below `path` (feature bit 4).
    pub fn watch_depth(
        &self,
        path: &str,
        token: &str,
        depth: u32,
    ) -> Result<Receiver<WatchEvent>, ClientError> {
        self.conn.start_reader()?;
        let rx = self.conn.watches().subscribe(token);
        self.req(
            0,
            Request::Watch {
                path: path.into(),
                token: token.into(),
                depth: Some(depth),
            },
        )?;
        Ok(rx)
    }

    /// Removes a watch.
    pub fn unwatch(&self, path: &str, token: &str) -> Result<(), ClientError> {
        self.req(
            0,
            Request::Unwatch {
                path: path.into(),
                token: token.into(),
            },
        )?;
        Ok(())
    }

    /// Drops every watch and transaction of this connection.
    pub fn reset_watches(&self) -> Result<(), ClientError> {
        self.req(0, Request::ResetWatches)?;
        self.conn.watches().clear();
        Ok(())
    }

    /// Forgets the channel of `token` (after its watches are removed).
    pub fn drop_watch_channel(&self, token: &str) {
        self.conn.watches().remove(token);
    }

    /// `/local/domain/<domid>` as the daemon reports it.
    pub fn get_domain_path(&self, domid: u32) -> Result<String, ClientError> {
        text(self.req(0, Request::GetDomainPath { domid })?)
    }

    /// Introduces a domain's ring (dom0 only).
    pub fn introduce(&self, domid: u32, gfn: i64, evtchn: u32) -> Result<(), ClientError> {
        self.req(0, Request::Introduce { domid, gfn, evtchn })
            .map(drop)
    }

    /// Releases a domain (dom0 only).
    pub fn release(&self, domid: u32) -> Result<(), ClientError> {
        self.req(0, Request::Release { domid }).map(drop)
    }

    /// Whether a domain is introduced.
    pub fn is_domain_introduced(&self, domid: u32) -> Result<bool, ClientError> {
        Ok(self.req(0, Request::IsDomainIntroduced { domid })? == b"T\0")
    }

    /// Re-arms @releaseDomain for a domain (dom0 only).
    pub fn resume(&self, domid: u32) -> Result<(), ClientError> {
        self.req(0, Request::Resume { domid }).map(drop)
    }

    /// Gives `domid` the rights of `target` (dom0 only).
    pub fn set_target(&self, domid: u32, target: u32) -> Result<(), ClientError> {
        self.req(0, Request::SetTarget { domid, target }).map(drop)
    }

    /// Sends a CONTROL command; returns its text output.
    pub fn control(&self, args: &[&str]) -> Result<String, ClientError> {
        text(self.req(
            0,
            Request::Control {
                args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            },
        )?)
    }

    /// Reads a quota (global when `domid` is `None`).
    pub fn get_quota(&self, domid: Option<u32>, name: &str) -> Result<u32, ClientError> {
        let t = text(self.req(
            0,
            Request::GetQuota {
                domid,
                name: Some(name.into()),
            },
        )?)?;
        t.parse()
            .map_err(|_| ClientError::BadReply(format!("quota value {t:?}")))
    }

    /// Sets a quota (global when `domid` is `None`).
    pub fn set_quota(&self, domid: Option<u32>, name: &str, value: u32) -> Result<(), ClientError> {
        self.req(
            0,
            Request::SetQuota {
                domid,
                name: name.into(),
                value,
            },
        )
        .map(drop)
    }

    /// Starts a transaction; prefer [`Client::transaction`], which retries.
    pub fn transaction_start(&self) -> Result<Transaction<'_>, ClientError> {
        let id = text(self.req(0, Request::TransactionStart)?)?;
        let id = id
            .parse()
            .map_err(|_| ClientError::BadReply(format!("transaction id {id:?}")))?;
        Ok(Transaction::new(self, id))
    }

    /// Runs `f` in a transaction and commits, retrying the whole closure on `EAGAIN`
    /// (up to [`MAX_RETRIES`] times, with a randomised, growing pause from the third
    /// attempt so clients fighting over one node stop colliding). An error from `f`
    /// aborts the transaction.
    pub fn transaction<T>(
        &self,
        mut f: impl FnMut(&Transaction<'_>) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        for attempt in 0..MAX_RETRIES {
            txn::backoff(attempt);
            let tx = self.transaction_start()?;
            let out = match f(&tx) {
                Ok(v) => v,
                Err(ClientError::Xs(XsErrno::EAGAIN)) => {
                    tx.abort()?;
                    continue;
                }
                Err(e) => {
                    let _ = tx.abort();
                    return Err(e);
                }
            };
            match tx.commit() {
                Ok(()) => return Ok(out),
                Err(ClientError::Xs(XsErrno::EAGAIN)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyConflicts(MAX_RETRIES))
    }

    pub(crate) fn end(&self, tx: u32, commit: bool) -> Result<(), ClientError> {
        let (ty, payload) = Request::TransactionEnd { commit }.encode();
        debug_assert_eq!(ty, MsgType::TransactionEnd);
        self.conn.request(ty, tx, payload).map(drop)
    }
}
