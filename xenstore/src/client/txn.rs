//! Transaction handles.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::{Client, ClientError};
use crate::wire::{Perms, Request};

/// How often [`Client::transaction`] retries a conflicting transaction.
pub const MAX_RETRIES: usize = 1000;

/// Pause before retry `attempt` (0-based): none for the first two, then a random time
/// below a window doubling from 25 µs up to 10 ms. Randomness from std's per-instance
/// hash keys (no dependency needed for jitter).
pub(crate) fn backoff(attempt: usize) {
    if attempt < 2 {
        return;
    }
    let window = (25u64 << (attempt - 2).min(9)).min(10_000);
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    std::thread::sleep(Duration::from_micros(1 + r % window));
}

/// An open transaction; aborted on drop unless committed.
pub struct Transaction<'a> {
    client: &'a Client,
    id: u32,
    ended: Cell<bool>,
}

impl<'a> Transaction<'a> {
    pub(crate) fn new(client: &'a Client, id: u32) -> Transaction<'a> {
        Transaction {
            client,
            id,
            ended: Cell::new(false),
        }
    }

    /// The daemon's transaction id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Reads a value inside the transaction.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.client.read_in(self.id, path)
    }

    /// Writes a value inside the transaction.
    pub fn write(&self, path: &str, value: &[u8]) -> Result<(), ClientError> {
        self.client
            .req(
                self.id,
                Request::Write {
                    path: path.into(),
                    value: value.to_vec(),
                },
            )
            .map(drop)
    }

    /// Creates a node inside the transaction.
    pub fn mkdir(&self, path: &str) -> Result<(), ClientError> {
        self.client
            .req(self.id, Request::Mkdir { path: path.into() })
            .map(drop)
    }

    /// Removes a subtree inside the transaction.
    pub fn rm(&self, path: &str) -> Result<(), ClientError> {
        self.client
            .req(self.id, Request::Rm { path: path.into() })
            .map(drop)
    }

    /// Lists children inside the transaction.
    pub fn directory(&self, path: &str) -> Result<Vec<String>, ClientError> {
        self.client.directory_in(self.id, path)
    }

    /// Sets permissions inside the transaction.
    pub fn set_perms(&self, path: &str, perms: &Perms) -> Result<(), ClientError> {
        self.client
            .req(
                self.id,
                Request::SetPerms {
                    path: path.into(),
                    perms: perms.clone(),
                },
            )
            .map(drop)
    }

    /// Commits; `Err(Xs(EAGAIN))` on a conflict.
    pub fn commit(self) -> Result<(), ClientError> {
        self.ended.set(true);
        self.client.end(self.id, true)
    }

    /// Aborts.
    pub fn abort(self) -> Result<(), ClientError> {
        self.ended.set(true);
        self.client.end(self.id, false)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.ended.get() {
            let _ = self.client.end(self.id, false);
        }
    }
}
