//! The two liveness datagrams, HEARTBEAT and SYNC, as one type: built into envelopes, and read
//! back out of the [`Message::Opaque`] bodies the envelope carries them in.
//!
//! The envelope keeps them opaque (the authority state machine does not serve them; the anchor
//! does), but [`crate::Envelope::decode`] already checks their body strictly and that the
//! header's sender, nonce and epoch equal the body's, so [`Liveness::from_message`] on a
//! decoded envelope only fails for a hand-built message.

use crate::codec::{Decode, DecodeError, Encode};
use crate::envelope::{Envelope, Message};
use crate::keys::Tag;
use crate::messages::heartbeat::{Heartbeat, LIVENESS_TTL};
use crate::messages::sync::SyncRequest;
use crate::wire::{DEFAULT_HOP_LIMIT, HeaderRepr, MsgType};

/// A heartbeat or a sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Heartbeat(Heartbeat),
    Sync(SyncRequest),
}

impl Liveness {
    /// Its FMH type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Liveness::Heartbeat(_) => MsgType::Heartbeat,
            Liveness::Sync(_) => MsgType::Sync,
        }
    }
    /// Sender, nonce (the counter) and epoch that the header carries.
    pub fn header_fields(&self) -> (Tag, u64, u32) {
        match self {
            Liveness::Heartbeat(h) => (h.authority, h.counter, h.epoch),
            Liveness::Sync(s) => (s.authority, s.counter, s.epoch),
        }
    }
    /// Decodes the body of a `msg_type` datagram: `None` when the type is not a liveness type.
    pub fn decode_body(msg_type: MsgType, body: &[u8]) -> Option<Result<Liveness, DecodeError>> {
        match msg_type {
            MsgType::Heartbeat => Some(Heartbeat::from_bytes(body).map(Liveness::Heartbeat)),
            MsgType::Sync => Some(SyncRequest::from_bytes(body).map(Liveness::Sync)),
            _ => None,
        }
    }
    /// The liveness message a decoded message carries, if it is one.
    pub fn from_message(message: &Message) -> Option<Result<Liveness, DecodeError>> {
        match message {
            Message::Opaque { msg_type, body } => Self::decode_body(*msg_type, body),
            _ => None,
        }
    }
    /// Checks that `header` carries this message's sender, nonce and epoch.
    pub fn check_header(&self, header: &HeaderRepr) -> Result<(), DecodeError> {
        let (sender, nonce, epoch) = self.header_fields();
        if header.sender != sender {
            return Err(DecodeError::HeaderMismatch("sender"));
        }
        if header.nonce != nonce {
            return Err(DecodeError::HeaderMismatch("nonce"));
        }
        if header.epoch != epoch {
            return Err(DecodeError::HeaderMismatch("epoch"));
        }
        Ok(())
    }
    /// The datagram envelope.
    pub fn envelope(&self) -> Envelope {
        let (sender, nonce, epoch) = self.header_fields();
        let body = match self {
            Liveness::Heartbeat(h) => h.to_bytes(),
            Liveness::Sync(s) => s.to_bytes(),
        };
        Envelope::new(
            HeaderRepr {
                msg_type: self.msg_type(),
                retry: 0,
                flags: 0,
                epoch,
                sender,
                nonce,
                ttl: LIVENESS_TTL,
                hop_limit: DEFAULT_HOP_LIMIT,
                body_len: 0,
            },
            Message::Opaque {
                msg_type: self.msg_type(),
                body,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn envelopes_roundtrip_and_headers_must_match() {
        let k = Keypair::from_seed(&[50; 32]);
        for l in [
            Liveness::Heartbeat(Heartbeat::sign(2, 9, 4, &k)),
            Liveness::Sync(SyncRequest::sign(k.tag(), 2, 10, 0, 8, &k)),
        ] {
            let bytes = l.envelope().encode().unwrap();
            let env = Envelope::decode(&bytes).unwrap();
            assert_eq!(Liveness::from_message(&env.message), Some(Ok(l)));
            let mut bad = bytes.clone();
            bad[crate::wire::field::NONCE][7] ^= 1;
            assert_eq!(
                Envelope::decode(&bad),
                Err(DecodeError::HeaderMismatch("nonce"))
            );
            let mut short = bytes.clone();
            short.pop();
            short[27] -= 1;
            assert!(Envelope::decode(&short).is_err());
        }
    }
}
