//! Fuzzes the wire decoder: framing, request parsing, and encode/decode round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxl_xenstore::wire::{Message, PAYLOAD_MAX, Request};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((m, used))) = Message::decode(rest) {
        assert!(m.payload.len() <= PAYLOAD_MAX);
        assert_eq!(used, 16 + m.payload.len());
        if let Ok(req) = Request::decode(m.header.msg_type, &m.payload) {
            // Whatever parses re-encodes to something that parses to the same request.
            let (ty, payload) = req.encode();
            assert_eq!(Request::decode(ty as u32, &payload), Ok(req));
        }
        rest = &rest[used..];
    }
});
