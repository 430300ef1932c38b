//! Fuzz target: every message body decoder directly, without the header in front.
//!
//! The first input byte picks the message type (its FMH `msg_type`); the rest is the body. The
//! envelope target (`wire_decode`) only reaches a body after a valid header; this one starts at
//! the body, so the withdrawal, handoff, deposit, settlement, heartbeat and sync decoders are
//! searched as directly as the transfer ones. Whatever decodes must encode to the same bytes.

#![no_main]

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::Liveness;
use flashmesh_core::wire::{HEADER_LEN, HeaderRepr, MsgType};
use flashmesh_core::{Encode, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let Some(msg_type) = MsgType::from_u8(selector) else {
        return;
    };
    if let Some(Ok(live)) = Liveness::decode_body(msg_type, body) {
        let again = match live {
            Liveness::Heartbeat(h) => h.to_bytes(),
            Liveness::Sync(s) => s.to_bytes(),
        };
        assert_eq!(again, body, "liveness body is not canonical");
    }
    if let Ok(message) = Message::decode_body(msg_type, body) {
        let header = HeaderRepr {
            msg_type,
            retry: 0,
            flags: 0,
            epoch: 0,
            sender: Tag([0; 8]),
            nonce: 0,
            ttl: 0,
            hop_limit: 0,
            body_len: 0,
        };
        // Bodies over the datagram limit decode here but cannot be sent: nothing to compare.
        if let Ok(bytes) = Envelope::new(header, message).encode() {
            assert_eq!(&bytes[HEADER_LEN..], body, "body is not canonical");
        }
    }
});
