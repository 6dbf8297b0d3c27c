//! The xenstore requests the control verbs make, over crate `rxl-xenstore`'s client.
//!
//! A thin adapter: it keeps the control code's vocabulary (a missing node is `None`, removing a
//! missing node is fine) and names the path in every error.

use rxl_xenstore::client::{Client, ClientError};
use rxl_xenstore::wire::XsErrno;

/// Xenstore failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No daemon could be reached.
    #[error("{0}")]
    Unreachable(#[source] ClientError),
    /// A request failed.
    #[error("xenstore {op} {path}: {source}")]
    Request {
        /// Request type.
        op: &'static str,
        /// The path asked about.
        path: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
}

/// A connection to xenstore.
pub struct Store {
    client: Client,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn is_enoent(e: &ClientError) -> bool {
    e.errno() == Some(XsErrno::ENOENT)
}

impl Store {
    /// Connects where libxenstore would (`XENSTORED_PATH`, the daemon socket, `/dev/xen/xenbus`).
    pub fn connect() -> Result<Self, StoreError> {
        Ok(Store {
            client: Client::open()
                .map(Client::short_lived)
                .map_err(StoreError::Unreachable)?,
        })
    }

    fn err(op: &'static str, path: &str) -> impl FnOnce(ClientError) -> StoreError {
        let path = path.to_owned();
        move |source| StoreError::Request { op, path, source }
    }

    /// Reads a node; `None` if it does not exist.
    pub fn read(&mut self, path: &str) -> Result<Option<String>, StoreError> {
        match self.client.read(path) {
            Ok(v) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            Err(e) if is_enoent(&e) => Ok(None),
            Err(e) => Err(Self::err("read", path)(e)),
        }
    }

    /// Writes a node (creating it).
    pub fn write(&mut self, path: &str, value: &str) -> Result<(), StoreError> {
        self.client
            .write(path, value.as_bytes())
            .map_err(Self::err("write", path))
    }

    /// Removes a node and everything below it; a missing node is not an error.
    pub fn remove(&mut self, path: &str) -> Result<(), StoreError> {
        match self.client.rm(path) {
            Err(e) if !is_enoent(&e) => Err(Self::err("rm", path)(e)),
            _ => Ok(()),
        }
    }

    /// Lists the children of a node; empty if it does not exist.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, StoreError> {
        match self.client.directory(path) {
            Ok(v) => Ok(v),
            Err(e) if is_enoent(&e) => Ok(Vec::new()),
            Err(e) => Err(Self::err("directory", path)(e)),
        }
    }
}
