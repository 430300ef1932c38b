//! Fuzz target: decode arbitrary bytes as a BCB datagram, a header, and a state change.
//!
//! Beyond "never panics", it checks canonicity: whatever decodes must encode back to exactly
//! the same bytes.

#![no_main]

use flashmesh_core::envelope::Envelope;
use flashmesh_core::wire::{Header, HeaderRepr};
use flashmesh_core::{Decode, Encode, StateChange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        let again = env.encode().expect("a decoded envelope must encode");
        assert_eq!(again, data, "decode/encode is not the identity");
    }
    if let Ok(h) = Header::new_checked(data) {
        let repr = HeaderRepr::parse(&h).expect("a checked header must parse");
        assert_eq!(&repr.to_bytes()[..], &data[..32]);
    }
    if let Ok(change) = StateChange::from_bytes(data) {
        assert_eq!(change.to_bytes(), data);
    }
});
