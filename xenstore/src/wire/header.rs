//! The 16-byte message header.

use thiserror::Error;

/// Size of the header on the wire.
pub const HEADER_LEN: usize = 16;
/// Largest payload either side may send (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = 4096;

/// Framing errors: the peer broke the protocol and the connection must be dropped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The header announced more than [`PAYLOAD_MAX`] bytes.
    #[error("payload length {0} exceeds the 4096-byte limit (XENSTORE_PAYLOAD_MAX)")]
    PayloadTooLong(u32),
    /// Fewer bytes than a header were supplied.
    #[error("truncated header: {0} of 16 bytes")]
    ShortHeader(usize),
    /// A reply or request payload is not what its type requires.
    #[error("malformed {what} payload")]
    Malformed {
        /// Which message was malformed.
        what: &'static str,
    },
}

/// The message header: four little-endian `u32`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Message type (see [`super::MsgType`]); kept raw so unknown types can be answered.
    pub msg_type: u32,
    /// Request id, echoed in the reply.
    pub req_id: u32,
    /// Transaction id (0 = none), echoed in the reply.
    pub tx_id: u32,
    /// Payload length in bytes.
    pub len: u32,
}

impl Header {
    /// Encodes the header in wire order.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.msg_type.to_le_bytes());
        b[4..8].copy_from_slice(&self.req_id.to_le_bytes());
        b[8..12].copy_from_slice(&self.tx_id.to_le_bytes());
        b[12..16].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    /// Decodes a header and enforces the payload limit.
    pub fn decode(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError::ShortHeader(b.len()));
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let h = Header {
            msg_type: word(0),
            req_id: word(4),
            tx_id: word(8),
            len: word(12),
        };
        if h.len as usize > PAYLOAD_MAX {
            return Err(WireError::PayloadTooLong(h.len));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_little_endian() {
        let h = Header {
            msg_type: 2,
            req_id: 0x0102_0304,
            tx_id: 7,
            len: 9,
        };
        let b = h.encode();
        assert_eq!(&b[..8], &[2, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(Header::decode(&b).unwrap(), h);
    }

    #[test]
    fn rejects_oversized_and_short() {
        let h = Header {
            msg_type: 2,
            req_id: 0,
            tx_id: 0,
            len: 4097,
        };
        assert_eq!(
            Header::decode(&h.encode()),
            Err(WireError::PayloadTooLong(4097))
        );
        let ok = Header { len: 4096, ..h };
        assert!(Header::decode(&ok.encode()).is_ok());
        assert_eq!(Header::decode(&[0; 15]), Err(WireError::ShortHeader(15)));
    }
}
