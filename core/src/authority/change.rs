//! State changes: what the runtime must make durable before a reply leaves, and replays to
//! rebuild an authority after a restart.
//!
//! Encoding (canonical, see [`crate::codec`]): one tag byte, then
//! - `1` LOCK: the signed order, then the vote;
//! - `2` APPLY: the certificate.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::messages::{Certificate, SignedOrder, Vote};

const TAG_LOCK: u8 = 1;
const TAG_APPLY: u8 = 2;

/// A change to an authority's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// The account's next nonce is locked to this order; `vote` is the authority's vote on it.
    /// Must be durable before the vote is sent.
    Lock { order: SignedOrder, vote: Vote },
    /// The certificate's transfer was applied. Must be durable before the receipt is sent.
    Apply { certificate: Certificate },
}

impl StateChange {
    /// The account whose sequence this change is about (the order's sender).
    pub fn account(&self) -> PublicKey {
        self.order().order().sender
    }
    /// The order's nonce.
    pub fn nonce(&self) -> u64 {
        self.order().order().nonce
    }
    /// The order concerned.
    pub fn order(&self) -> &SignedOrder {
        match self {
            StateChange::Lock { order, .. } => order,
            StateChange::Apply { certificate } => &certificate.order,
        }
    }
    /// The order's digest.
    pub fn order_digest(&self) -> Digest {
        self.order().digest()
    }
}

impl Encode for StateChange {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            StateChange::Lock { order, vote } => {
                out.put_u8(TAG_LOCK);
                order.encode_to(out);
                vote.encode_to(out);
            }
            StateChange::Apply { certificate } => {
                out.put_u8(TAG_APPLY);
                certificate.encode_to(out);
            }
        }
    }
    fn encoded_len(&self) -> usize {
        1 + match self {
            StateChange::Lock { order, vote } => order.encoded_len() + vote.encoded_len(),
            StateChange::Apply { certificate } => certificate.encoded_len(),
        }
    }
}

impl Decode for StateChange {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            TAG_LOCK => Ok(StateChange::Lock {
                order: SignedOrder::decode_from(r)?,
                vote: Vote::decode_from(r)?,
            }),
            TAG_APPLY => Ok(StateChange::Apply {
                certificate: Certificate::decode_from(r)?,
            }),
            _ => Err(DecodeError::InvalidField("unknown state change tag")),
        }
    }
}
