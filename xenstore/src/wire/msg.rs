//! Message types and the typed request payloads.

use super::errno::XsErrno;
use super::header::{HEADER_LEN, Header, PAYLOAD_MAX, WireError};

/// Message types of `xs_wire.h` (Xen 4.17) plus the 4.21 feature and quota requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MsgType {
    /// Implementation-specific commands (alias DEBUG).
    Control = 0,
    /// List a node's children.
    Directory = 1,
    /// Read a node's value.
    Read = 2,
    /// Read a node's permissions.
    GetPerms = 3,
    /// Register a watch.
    Watch = 4,
    /// Remove a watch.
    Unwatch = 5,
    /// Open a transaction.
    TransactionStart = 6,
    /// Commit or abort a transaction.
    TransactionEnd = 7,
    /// Introduce a domain's ring (dom0 only).
    Introduce = 8,
    /// Forget a domain (dom0 only).
    Release = 9,
    /// `/local/domain/<domid>`.
    GetDomainPath = 10,
    /// Write a node's value, creating it and its parents.
    Write = 11,
    /// Create a node and its parents.
    Mkdir = 12,
    /// Remove a node and its children.
    Rm = 13,
    /// Replace a node's permissions.
    SetPerms = 14,
    /// Server to client: a watch fired.
    WatchEvent = 15,
    /// Server to client: the request failed.
    Error = 16,
    /// Whether a domain is introduced.
    IsDomainIntroduced = 17,
    /// Re-arm @releaseDomain for a domain.
    Resume = 18,
    /// Give a domain the rights of another (device-model stub domains).
    SetTarget = 19,
    /// Drop the caller's watches and transactions.
    ResetWatches = 21,
    /// Part of a large directory listing.
    DirectoryPart = 22,
    /// Read a domain's ring feature word.
    GetFeature = 23,
    /// Set a domain's ring feature word.
    SetFeature = 24,
    /// Read a quota.
    GetQuota = 25,
    /// Set a quota.
    SetQuota = 26,
}

impl MsgType {
    /// Maps a raw type; `None` for unknown ones (including the removed RESTRICT, 20).
    pub fn from_u32(v: u32) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Control,
            1 => Directory,
            2 => Read,
            3 => GetPerms,
            4 => Watch,
            5 => Unwatch,
            6 => TransactionStart,
            7 => TransactionEnd,
            8 => Introduce,
            9 => Release,
            10 => GetDomainPath,
            11 => Write,
            12 => Mkdir,
            13 => Rm,
            14 => SetPerms,
            15 => WatchEvent,
            16 => Error,
            17 => IsDomainIntroduced,
            18 => Resume,
            19 => SetTarget,
            21 => ResetWatches,
            22 => DirectoryPart,
            23 => GetFeature,
            24 => SetFeature,
            25 => GetQuota,
            26 => SetQuota,
            _ => return None,
        })
    }
}

/// A whole message: header plus payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header; `len` always equals `payload.len()` once built by this module.
    pub header: Header,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Message {
    /// Builds a message; fails if the payload is over the limit.
    pub fn new(
        msg_type: u32,
        req_id: u32,
        tx_id: u32,
        payload: Vec<u8>,
    ) -> Result<Message, WireError> {
        if payload.len() > PAYLOAD_MAX {
            return Err(WireError::PayloadTooLong(payload.len() as u32));
        }
        let header = Header {
            msg_type,
            req_id,
            tx_id,
            len: payload.len() as u32,
        };
        Ok(Message { header, payload })
    }

    /// A reply to `req` of type `ty`, echoing its ids.
    pub fn reply(req: &Header, ty: MsgType, payload: Vec<u8>) -> Result<Message, WireError> {
        Message::new(ty as u32, req.req_id, req.tx_id, payload)
    }

    /// An `ERROR` reply to `req` carrying `err`'s name.
    pub fn error(req: &Header, err: XsErrno) -> Message {
        let mut payload = err.name().as_bytes().to_vec();
        payload.push(0);
        let header = Header {
            msg_type: MsgType::Error as u32,
            req_id: req.req_id,
            tx_id: req.tx_id,
            len: payload.len() as u32,
        };
        Message { header, payload }
    }

    /// Header and payload as one buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Splits one message off the front of `buf`: `Ok(None)` if more bytes are needed,
    /// otherwise the message and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, WireError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = Header::decode(&buf[..HEADER_LEN])?;
        let total = HEADER_LEN + header.len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some((
            Message {
                header,
                payload: buf[HEADER_LEN..total].to_vec(),
            },
            total,
        )))
    }
}

/// NUL-terminated strings of a payload (`"a\0b\0"` → `["a", "b"]`). A final string
/// without a NUL is returned too.
pub fn split_strings(payload: &[u8]) -> Vec<&[u8]> {
    let body = payload.strip_suffix(&[0]).unwrap_or(payload);
    if payload.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == 0).collect()
}

/// Each string followed by a NUL.
pub fn join_strings<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Vec<u8> {
    let mut out = Vec::new();
    for s in items {
        out.extend_from_slice(s.as_ref());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_framing() {
        let m = Message::new(2, 1, 0, b"/a\0".to_vec()).unwrap();
        let mut buf = m.encode();
        assert_eq!(Message::decode(&buf[..10]).unwrap(), None);
        buf.extend_from_slice(&[1, 2]);
        let (d, used) = Message::decode(&buf).unwrap().unwrap();
        assert_eq!((d, used), (m, 19));
        let e = Message::error(&Header::default(), XsErrno::ENOENT);
        assert_eq!(e.payload, b"ENOENT\0");
        assert!(Message::new(2, 0, 0, vec![0; 4097]).is_err());
        assert_eq!(split_strings(b"a\0b\0"), vec![&b"a"[..], b"b"]);
        assert!(split_strings(b"").is_empty());
    }
}
