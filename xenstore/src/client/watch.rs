//! Watch events as the client delivers them.

use std::collections::HashMap;
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender, unbounded};

/// One watch event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The path that changed (or the watched path, for the initial event).
    pub path: String,
    /// The token given when registering.
    pub token: String,
}

/// Token → channel. Each token has one unbounded channel, so the reader thread never
/// blocks on a slow consumer and other requests keep flowing.
type Channel = (Sender<WatchEvent>, Receiver<WatchEvent>);

#[derive(Default)]
pub(crate) struct WatchRegistry {
    by_token: Mutex<HashMap<String, Channel>>,
}

impl WatchRegistry {
    /// The receiver for `token`, creating its channel.
    pub(crate) fn subscribe(&self, token: &str) -> Receiver<WatchEvent> {
        let mut m = self.by_token.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(token.to_string())
            .or_insert_with(unbounded)
            .1
            .clone()
    }

    /// Forgets `token`'s channel.
    pub(crate) fn remove(&self, token: &str) {
        self.by_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// Forgets every channel (RESET_WATCHES).
    pub(crate) fn clear(&self) {
        self.by_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Delivers an event; events for unknown tokens are dropped (spurious events are
    /// allowed by the protocol).
    pub(crate) fn deliver(&self, ev: WatchEvent) {
        let m = self.by_token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, _)) = m.get(&ev.token) {
            let _ = tx.send(ev);
        }
    }
}
