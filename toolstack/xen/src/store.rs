//! A minimal xenstore client for the control verbs: read, write, directory.
//!
//! Crate `rxl-xenstore` is growing the project's full client; until its API lands, the control
//! plane needs only these three requests, spoken here over the daemon's unix socket (or the
//! kernel's `/dev/xen/xenbus` when no daemon socket exists), one request at a time, outside
//! transactions. `xs_wire.h` framing: a 16-byte header (type, req_id, tx_id, len) then `len`
//! payload bytes.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use xen_sys as xs;

/// Xenstore failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No daemon socket and no xenbus device.
    #[error(
        "cannot reach xenstore: no daemon socket ({socket}) and no /dev/xen/xenbus; is \
         xenstored running?"
    )]
    Unreachable {
        /// The socket path tried.
        socket: PathBuf,
    },
    /// Reading or writing the connection failed.
    #[error("xenstore connection: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon answered with an error (e.g. "EACCES").
    #[error("xenstore {op} {path}: {error}")]
    Daemon {
        /// Request type.
        op: &'static str,
        /// The path asked about.
        path: String,
        /// The error name the daemon sent.
        error: String,
    },
    /// The answer is malformed.
    #[error("xenstore protocol error: {0}")]
    Protocol(String),
}

enum Conn {
    Socket(UnixStream),
    Device(std::fs::File),
}

impl Conn {
    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Socket(s) => s.write_all(msg),
            // The xenbus device wants a whole message per write().
            Conn::Device(f) => f.write_all(msg),
        }
    }

    fn recv_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            Conn::Socket(s) => s.read_exact(buf),
            Conn::Device(f) => f.read_exact(buf),
        }
    }
}

/// A connection to xenstore.
pub struct Store {
    conn: Conn,
    req_id: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("req_id", &self.req_id)
            .finish()
    }
}

impl Store {
    /// Connects to `$XENSTORED_PATH`, `/run/xenstored/socket`, or `/dev/xen/xenbus`.
    pub fn connect() -> Result<Self, StoreError> {
        let socket = std::env::var_os("XENSTORED_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/xenstored/socket"));
        if let Ok(s) = UnixStream::connect(&socket) {
            return Ok(Store {
                conn: Conn::Socket(s),
                req_id: 0,
            });
        }
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/xen/xenbus")
        {
            Ok(f) => Ok(Store {
                conn: Conn::Device(f),
                req_id: 0,
            }),
            Err(_) => Err(StoreError::Unreachable { socket }),
        }
    }

    fn request(
        &mut self,
        op: &'static str,
        ty: u32,
        path: &str,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.req_id = self.req_id.wrapping_add(1);
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= xs::XENSTORE_PAYLOAD_MAX)
            .ok_or_else(|| StoreError::Protocol(format!("{op} {path}: payload too large")))?;
        let mut msg = Vec::with_capacity(16 + payload.len());
        for v in [ty, self.req_id, 0, len] {
            msg.extend_from_slice(&v.to_ne_bytes());
        }
        msg.extend_from_slice(payload);
        self.conn.send(&msg)?;
        loop {
            let mut hdr = [0u8; 16];
            self.conn.recv_exact(&mut hdr)?;
            let word = |i: usize| u32::from_ne_bytes(hdr[i * 4..i * 4 + 4].try_into().expect("4"));
            let (rty, rid, rlen) = (word(0), word(1), word(3));
            if rlen > xs::XENSTORE_PAYLOAD_MAX {
                return Err(StoreError::Protocol(format!("answer of {rlen} bytes")));
            }
            let mut body = vec![0u8; rlen as usize];
            self.conn.recv_exact(&mut body)?;
            // Watch events are not requested here, but skip any that arrive.
            if rty == xs::xsd_sockmsg_type_XS_WATCH_EVENT || rid != self.req_id {
                continue;
            }
            if rty == xs::xsd_sockmsg_type_XS_ERROR {
                let error = super::ctl::c_string(&body);
                if error == "ENOENT" {
                    return Ok(None);
                }
                return Err(StoreError::Daemon {
                    op,
                    path: path.to_owned(),
                    error,
                });
            }
            if rty != ty {
                return Err(StoreError::Protocol(format!(
                    "{op} {path}: answer of type {rty}, expected {ty}"
                )));
            }
            return Ok(Some(body));
        }
    }

    /// Reads a node; `None` if it does not exist.
    pub fn read(&mut self, path: &str) -> Result<Option<String>, StoreError> {
        let mut p = path.as_bytes().to_vec();
        p.push(0);
        Ok(self
            .request("read", xs::xsd_sockmsg_type_XS_READ, path, &p)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Writes a node (creating it).
    pub fn write(&mut self, path: &str, value: &str) -> Result<(), StoreError> {
        let mut p = path.as_bytes().to_vec();
        p.push(0);
        p.extend_from_slice(value.as_bytes());
        match self.request("write", xs::xsd_sockmsg_type_XS_WRITE, path, &p)? {
            Some(_) => Ok(()),
            None => Err(StoreError::Daemon {
                op: "write",
                path: path.to_owned(),
                error: "ENOENT".into(),
            }),
        }
    }

    /// Removes a node and everything below it; a missing node is not an error.
    pub fn remove(&mut self, path: &str) -> Result<(), StoreError> {
        let mut p = path.as_bytes().to_vec();
        p.push(0);
        self.request("rm", xs::xsd_sockmsg_type_XS_RM, path, &p)?;
        Ok(())
    }

    /// Lists the children of a node; empty if it does not exist.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, StoreError> {
        let mut p = path.as_bytes().to_vec();
        p.push(0);
        Ok(self
            .request("directory", xs::xsd_sockmsg_type_XS_DIRECTORY, path, &p)?
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default())
    }
}
