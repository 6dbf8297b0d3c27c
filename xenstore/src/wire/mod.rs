//! The xenstore wire protocol: a pure codec with no I/O.
//!
//! Every message is a 16-byte little-endian [`Header`] followed by at most
//! [`PAYLOAD_MAX`] payload bytes. [`Request`] parses and builds the payload of each
//! request type; [`XsErrno`] names the errors a server answers with.

mod errno;
mod header;
mod msg;
mod perm;
mod request;

pub use errno::XsErrno;
pub use header::{HEADER_LEN, Header, PAYLOAD_MAX, WireError};
pub use msg::{Message, MsgType, join_strings, split_strings};
pub use perm::{Perm, PermKind, PermParseError, Perms};
pub use request::Request;

/// Longest absolute path (`XENSTORE_ABS_PATH_MAX`).
pub const ABS_PATH_MAX: usize = 3072;
/// Longest relative path (`XENSTORE_REL_PATH_MAX`).
pub const REL_PATH_MAX: usize = 2048;
