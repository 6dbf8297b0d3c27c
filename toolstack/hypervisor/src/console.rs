//! A guest console as a pair of byte streams; the CLI owns the terminal side.

use std::io::{Read, Write};

/// A connection to a guest's console: what the guest prints, and where its keystrokes go.
/// Reading `output` returns `Ok(0)` once the guest (or its console) is gone.
pub struct Console {
    /// The guest's console output.
    pub output: Box<dyn Read + Send>,
    /// Keystrokes for the guest.
    pub input: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Console { .. }")
    }
}
