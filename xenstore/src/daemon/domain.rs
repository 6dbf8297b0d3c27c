//! Introduced domains.

use serde::{Deserialize, Serialize};

/// A domain known through INTRODUCE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Domain id.
    pub domid: u32,
    /// Frame of its ring page (as sent, signed).
    pub gfn: i64,
    /// Its xenstore event channel port.
    pub evtchn: u32,
    /// Ring feature word (GET/SET_FEATURE).
    pub features: u32,
}

/// Ring features this daemon offers: reconnection (1) and error reporting (2); watch
/// depth (4) is implemented too.
pub const SERVER_FEATURES: u32 = 1 | 2 | 4;
