//! State changes: what the runtime must make durable before a reply leaves, and replays to
//! rebuild an authority after a restart.
//!
//! Encoding (canonical, see [`crate::codec`]): one tag byte, then
//! - `1` LOCK: the signed order, then the vote;
//! - `2` APPLY: the certificate;
//! - `3` LOCK_WITHDRAWAL: the signed withdrawal order, then the vote;
//! - `4` APPLY_WITHDRAWAL: the withdrawal certificate;
//! - `5` DEPOSIT: the gateway's funding certificate;
//! - `6` LOCK_HANDOFF: the signed handoff order, then the vote;
//! - `7` HAND_OUT: a handoff certificate of this committee (the account left);
//! - `8` HAND_IN: a neighbour's handoff certificate (the account arrived).

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::messages::{
    Certificate, FundingCertificate, HandoffCertificate, OwnedOrder, SignedHandoff, SignedOrder,
    SignedWithdrawal, Vote, WithdrawalCertificate,
};

const TAG_LOCK: u8 = 1;
const TAG_APPLY: u8 = 2;
const TAG_LOCK_WITHDRAWAL: u8 = 3;
const TAG_APPLY_WITHDRAWAL: u8 = 4;
const TAG_DEPOSIT: u8 = 5;
const TAG_LOCK_HANDOFF: u8 = 6;
const TAG_HAND_OUT: u8 = 7;
const TAG_HAND_IN: u8 = 8;

/// A change to an authority's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// The account's next nonce is locked to this order; `vote` is the authority's vote on it.
    /// Must be durable before the vote is sent.
    Lock { order: SignedOrder, vote: Vote },
    /// The certificate's transfer was applied. Must be durable before the receipt is sent.
    Apply { certificate: Certificate },
    /// The account's next nonce is locked to this withdrawal; `vote` is the authority's vote.
    LockWithdrawal { order: SignedWithdrawal, vote: Vote },
    /// The withdrawal was applied (the account debited). Durable before the receipt is sent.
    ApplyWithdrawal { certificate: WithdrawalCertificate },
    /// A gateway's deposit was applied (the account credited). Durable before the receipt.
    Deposit { funding: FundingCertificate },
    /// The account's next nonce is locked to this handoff; `vote` is the authority's vote.
    LockHandoff { order: SignedHandoff, vote: Vote },
    /// The account left for another committee (debited, marked moved). Durable before the
    /// receipt is sent.
    HandOut { certificate: HandoffCertificate },
    /// The account arrived from a neighbour committee (credited). Durable before the receipt.
    HandIn { certificate: HandoffCertificate },
}

impl StateChange {
    /// The account this change is about: the order's owner, or a deposit's account.
    pub fn account(&self) -> PublicKey {
        match self {
            StateChange::Lock { order, .. } => order.order().sender,
            StateChange::Apply { certificate } => certificate.order.order().sender,
            StateChange::LockWithdrawal { order, .. } => order.order().account,
            StateChange::ApplyWithdrawal { certificate } => certificate.order.order().account,
            StateChange::Deposit { funding } => funding.funding().account,
            StateChange::LockHandoff { order, .. } => order.order().account,
            StateChange::HandOut { certificate } | StateChange::HandIn { certificate } => {
                certificate.order.order().account
            }
        }
    }
    /// The order's nonce (a deposit's sequence).
    pub fn nonce(&self) -> u64 {
        match self {
            StateChange::Lock { order, .. } => order.order().nonce,
            StateChange::Apply { certificate } => certificate.order.order().nonce,
            StateChange::LockWithdrawal { order, .. } => order.order().nonce,
            StateChange::ApplyWithdrawal { certificate } => certificate.order.order().nonce,
            StateChange::Deposit { funding } => funding.funding().sequence,
            StateChange::LockHandoff { order, .. } => order.order().nonce,
            StateChange::HandOut { certificate } | StateChange::HandIn { certificate } => {
                certificate.order.order().nonce
            }
        }
    }
    /// The transfer order concerned, when the change is about one.
    pub fn transfer(&self) -> Option<&SignedOrder> {
        match self {
            StateChange::Lock { order, .. } => Some(order),
            StateChange::Apply { certificate } => Some(&certificate.order),
            _ => None,
        }
    }
    /// The digest of the order (or funding certificate) concerned.
    pub fn order_digest(&self) -> Digest {
        match self {
            StateChange::Lock { order, .. } => order.digest(),
            StateChange::Apply { certificate } => certificate.order.digest(),
            StateChange::LockWithdrawal { order, .. } => OwnedOrder::digest(order),
            StateChange::ApplyWithdrawal { certificate } => OwnedOrder::digest(&certificate.order),
            StateChange::Deposit { funding } => funding.digest(),
            StateChange::LockHandoff { order, .. } => OwnedOrder::digest(order),
            StateChange::HandOut { certificate } | StateChange::HandIn { certificate } => {
                OwnedOrder::digest(&certificate.order)
            }
        }
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
            StateChange::LockWithdrawal { order, vote } => {
                out.put_u8(TAG_LOCK_WITHDRAWAL);
                order.encode_to(out);
                vote.encode_to(out);
            }
            StateChange::ApplyWithdrawal { certificate } => {
                out.put_u8(TAG_APPLY_WITHDRAWAL);
                certificate.encode_to(out);
            }
            StateChange::Deposit { funding } => {
                out.put_u8(TAG_DEPOSIT);
                funding.encode_to(out);
            }
            StateChange::LockHandoff { order, vote } => {
                out.put_u8(TAG_LOCK_HANDOFF);
                order.encode_to(out);
                vote.encode_to(out);
            }
            StateChange::HandOut { certificate } => {
                out.put_u8(TAG_HAND_OUT);
                certificate.encode_to(out);
            }
            StateChange::HandIn { certificate } => {
                out.put_u8(TAG_HAND_IN);
                certificate.encode_to(out);
            }
        }
    }
    fn encoded_len(&self) -> usize {
        1 + match self {
            StateChange::Lock { order, vote } => order.encoded_len() + vote.encoded_len(),
            StateChange::Apply { certificate } => certificate.encoded_len(),
            StateChange::LockWithdrawal { order, vote } => order.encoded_len() + vote.encoded_len(),
            StateChange::ApplyWithdrawal { certificate } => certificate.encoded_len(),
            StateChange::Deposit { funding } => funding.encoded_len(),
            StateChange::LockHandoff { order, vote } => order.encoded_len() + vote.encoded_len(),
            StateChange::HandOut { certificate } | StateChange::HandIn { certificate } => {
                certificate.encoded_len()
            }
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
            TAG_LOCK_WITHDRAWAL => Ok(StateChange::LockWithdrawal {
                order: SignedWithdrawal::decode_from(r)?,
                vote: Vote::decode_from(r)?,
            }),
            TAG_APPLY_WITHDRAWAL => Ok(StateChange::ApplyWithdrawal {
                certificate: WithdrawalCertificate::decode_from(r)?,
            }),
            TAG_DEPOSIT => Ok(StateChange::Deposit {
                funding: FundingCertificate::decode_from(r)?,
            }),
            TAG_LOCK_HANDOFF => Ok(StateChange::LockHandoff {
                order: SignedHandoff::decode_from(r)?,
                vote: Vote::decode_from(r)?,
            }),
            TAG_HAND_OUT => Ok(StateChange::HandOut {
                certificate: HandoffCertificate::decode_from(r)?,
            }),
            TAG_HAND_IN => Ok(StateChange::HandIn {
                certificate: HandoffCertificate::decode_from(r)?,
            }),
            _ => Err(DecodeError::InvalidField("unknown state change tag")),
        }
    }
}
