//! Liveness between the authorities of a committee: the signed HEARTBEAT (FMH type 16), and the
//! typed reasons a heartbeat or a SYNC is refused.
//!
//! A heartbeat says "authority A, in epoch E, is alive and has applied N certificates". Its
//! `counter` only grows per sender (a restarted sender starts again from a time-based value),
//! so a replayed heartbeat is recognised by a counter not above the last one accepted.
//!
//! Canonical encoding (see [`crate::codec`]): `authority` (8) · `epoch` (u32) · `counter`
//! (u64) · `applied` (u64) · signature (64), 92 bytes. The signature covers the first 28 bytes
//! under [`DOMAIN_HEARTBEAT`]. FMH header: sender = authority, nonce = counter, epoch = epoch,
//! ttl = [`LIVENESS_TTL`].

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_HEARTBEAT, Digest};
use crate::keys::{AuthorityTag, Keypair, Signature};
use crate::messages::Verified;

/// `ttl` of heartbeats and sync requests in their FMH header.
pub const LIVENESS_TTL: u8 = 1;

const HEARTBEAT_SIGNED_LEN: usize = 8 + 4 + 8 + 8;
/// Length of an encoded heartbeat body.
pub const HEARTBEAT_LEN: usize = HEARTBEAT_SIGNED_LEN + 64;

/// Why a heartbeat or a sync request was refused. Never answered on the wire (no bouncing);
/// counted by [`LivenessError::name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LivenessError {
    /// The body or its header could not be decoded.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// The sender is not a member of the committee.
    #[error("unknown sender {0}")]
    UnknownSender(AuthorityTag),
    /// The signature does not verify under the sender's key.
    #[error("bad signature")]
    BadSignature,
    /// The message names this authority itself as its sender.
    #[error("sent by this authority itself")]
    FromSelf,
    /// The epoch is outside the window around the current one.
    #[error("epoch {epoch} outside the window of current epoch {current}")]
    WrongEpoch { epoch: u32, current: u32 },
    /// The counter is not above the last one accepted from this sender.
    #[error("replayed counter {got}, last accepted {last}")]
    ReplayedCounter { last: u64, got: u64 },
    /// A sync request addressed to another authority.
    #[error("sync request addressed to {0}")]
    NotAddressedHere(AuthorityTag),
}

impl LivenessError {
    /// Every reason's metrics label, in a fixed order.
    pub const NAMES: [&'static str; 7] = [
        "malformed",
        "unknown_sender",
        "bad_signature",
        "from_self",
        "wrong_epoch",
        "replayed_counter",
        "not_addressed_here",
    ];
    /// The reason's metrics label (one of [`LivenessError::NAMES`]).
    pub fn name(&self) -> &'static str {
        Self::NAMES[self.index()]
    }
    /// Position of the reason in [`LivenessError::NAMES`].
    pub fn index(&self) -> usize {
        match self {
            LivenessError::Malformed(_) => 0,
            LivenessError::UnknownSender(_) => 1,
            LivenessError::BadSignature => 2,
            LivenessError::FromSelf => 3,
            LivenessError::WrongEpoch { .. } => 4,
            LivenessError::ReplayedCounter { .. } => 5,
            LivenessError::NotAddressedHere(_) => 6,
        }
    }
}

/// Checks the liveness epoch window: at most one epoch away from `current`, either way (peers
/// move to a new epoch at slightly different times).
pub fn check_liveness_epoch(epoch: u32, current: u32) -> Result<(), LivenessError> {
    if epoch.abs_diff(current) > 1 {
        return Err(LivenessError::WrongEpoch { epoch, current });
    }
    Ok(())
}

/// Checks that `signer` is a committee member other than `me` and that `signature` over
/// `digest` verifies under its key.
pub(crate) fn verify_member(
    committee: &Committee,
    signer: &AuthorityTag,
    digest: &Digest,
    signature: &Signature,
) -> Result<(), LivenessError> {
    let member = committee
        .member(signer)
        .ok_or(LivenessError::UnknownSender(*signer))?;
    member
        .verifying_key()
        .verify_strict(&digest.0, &signature.to_dalek())
        .map_err(|_| LivenessError::BadSignature)
}

/// An authority's signed statement that it is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    pub authority: AuthorityTag,
    pub epoch: u32,
    /// Grows with every heartbeat (and sync request) of this sender.
    pub counter: u64,
    /// Certificates the sender has applied so far.
    pub applied: u64,
    pub signature: Signature,
}

fn signed_part(
    authority: &AuthorityTag,
    epoch: u32,
    counter: u64,
    applied: u64,
) -> [u8; HEARTBEAT_SIGNED_LEN] {
    let mut b = [0u8; HEARTBEAT_SIGNED_LEN];
    b[..8].copy_from_slice(&authority.0);
    b[8..12].copy_from_slice(&epoch.to_be_bytes());
    b[12..20].copy_from_slice(&counter.to_be_bytes());
    b[20..28].copy_from_slice(&applied.to_be_bytes());
    b
}

impl Heartbeat {
    /// Signs a heartbeat.
    pub fn sign(epoch: u32, counter: u64, applied: u64, key: &Keypair) -> Heartbeat {
        let authority = key.tag();
        let d = Digest::of(
            DOMAIN_HEARTBEAT,
            &signed_part(&authority, epoch, counter, applied),
        );
        Heartbeat {
            authority,
            epoch,
            counter,
            applied,
            signature: key.sign_digest(&d),
        }
    }
    /// The digest the signature covers.
    pub fn signing_digest(&self) -> Digest {
        Digest::of(
            DOMAIN_HEARTBEAT,
            &signed_part(&self.authority, self.epoch, self.counter, self.applied),
        )
    }
    /// Checks that the sender is a member of `committee` and the signature verifies. The
    /// counter and the epoch window are the receiver's to check (they need its state).
    pub fn verify(self, committee: &Committee) -> Result<Verified<Heartbeat>, LivenessError> {
        verify_member(
            committee,
            &self.authority,
            &self.signing_digest(),
            &self.signature,
        )?;
        Ok(Verified(self))
    }
}

impl Encode for Heartbeat {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&signed_part(
            &self.authority,
            self.epoch,
            self.counter,
            self.applied,
        ));
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        HEARTBEAT_LEN
    }
}

impl Decode for Heartbeat {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Heartbeat {
            authority: AuthorityTag::decode_from(r)?,
            epoch: r.u32()?,
            counter: r.u64()?,
            applied: r.u64()?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_verify_and_typed_refusals() {
        let keys: Vec<Keypair> = (0..3).map(|i| Keypair::from_seed(&[30 + i; 32])).collect();
        let c = crate::testing::committee_of(&keys, 5000);
        let hb = Heartbeat::sign(4, 1_000, 17, &keys[1]);
        assert_eq!(hb.encoded_len(), HEARTBEAT_LEN);
        assert_eq!(Heartbeat::from_bytes(&hb.to_bytes()).unwrap(), hb);
        assert_eq!(*hb.verify(&c).unwrap(), hb);
        let mut forged = hb;
        forged.applied = 18;
        assert_eq!(forged.verify(&c), Err(LivenessError::BadSignature));
        let stranger = Keypair::from_seed(&[99; 32]);
        let other = Heartbeat::sign(4, 1, 0, &stranger);
        assert_eq!(
            other.verify(&c),
            Err(LivenessError::UnknownSender(stranger.tag()))
        );
        let bytes = hb.to_bytes();
        assert!(Heartbeat::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(check_liveness_epoch(5, 4).is_ok() && check_liveness_epoch(3, 4).is_ok());
        assert_eq!(
            check_liveness_epoch(6, 4),
            Err(LivenessError::WrongEpoch {
                epoch: 6,
                current: 4
            })
        );
        assert_eq!(
            LivenessError::ReplayedCounter { last: 2, got: 2 }.name(),
            "replayed_counter"
        );
    }
}
