//! Settlements: a gateway's signed answer to a withdrawal certificate, saying that the
//! withdrawal is settled on its primary ledger, under which reference and when. A repeat of
//! the same withdrawal gets the first settlement's reference and time back (`first = false`).
//!
//! Encoding: withdrawal order digest (32), account (32), nonce (u64), token (u32), amount
//! (u64), reference (u64), settled_at_ms (u64), first (bool), gateway key (32), then the
//! gateway's signature over the domain-separated digest of those bytes.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::{DOMAIN_SETTLEMENT, Digest};
use crate::error::Rejection;
use crate::keys::{Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::TokenId;

const BODY_LEN: usize = 32 + 32 + 8 + 4 + 8 + 8 + 8 + 1 + 32;

/// A gateway's settlement of one withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settlement {
    /// Digest of the withdrawal order (the same for every certificate of it).
    pub withdrawal: Digest,
    pub account: PublicKey,
    pub nonce: u64,
    pub token: TokenId,
    pub amount: u64,
    /// The primary ledger's reference for the settlement.
    pub reference: u64,
    pub settled_at_ms: u64,
    /// Whether this answer is the one that settled it (false for a repeat).
    pub first: bool,
    pub gateway: PublicKey,
    pub signature: Signature,
}

impl Settlement {
    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(BODY_LEN);
        self.withdrawal.encode_to(&mut b);
        self.account.encode_to(&mut b);
        b.put_u64(self.nonce);
        b.put_u32(self.token);
        b.put_u64(self.amount);
        b.put_u64(self.reference);
        b.put_u64(self.settled_at_ms);
        b.put_bool(self.first);
        self.gateway.encode_to(&mut b);
        b
    }
    /// The digest the gateway signs.
    pub fn digest(&self) -> Digest {
        Digest::of(DOMAIN_SETTLEMENT, &self.body())
    }
    /// Fills in the gateway key and signs.
    pub fn sign(mut self, gateway: &Keypair) -> Settlement {
        self.gateway = gateway.public();
        self.signature = gateway.sign_digest(&self.digest());
        self
    }
    /// Checks the signature against the gateway key `expected`.
    pub fn check(&self, expected: &PublicKey) -> Result<(), Rejection> {
        if self.gateway != *expected {
            return Err(Rejection::UnknownGateway);
        }
        self.gateway
            .verify_digest(&self.digest(), &self.signature)
            .map_err(|_| Rejection::BadSignature)
    }
}

impl Encode for Settlement {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.body());
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        BODY_LEN + SIGNATURE_LEN
    }
}

impl Decode for Settlement {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Settlement {
            withdrawal: Digest::decode_from(r)?,
            account: PublicKey::decode_from(r)?,
            nonce: r.u64()?,
            token: r.u32()?,
            amount: r.u64()?,
            reference: r.u64()?,
            settled_at_ms: r.u64()?,
            first: r.bool()?,
            gateway: PublicKey::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlements_round_trip_and_verify_against_their_gateway_only() {
        let gw = Keypair::from_seed(&[0x71; 32]);
        let s = Settlement {
            withdrawal: Digest::of(DOMAIN_SETTLEMENT, b"w"),
            account: Keypair::from_seed(&[0x72; 32]).public(),
            nonce: 4,
            token: 1,
            amount: 99,
            reference: 17,
            settled_at_ms: 1_800_000_000_000,
            first: true,
            gateway: gw.public(),
            signature: Signature([0; 64]),
        }
        .sign(&gw);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), s.encoded_len());
        let back = Settlement::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        back.check(&gw.public()).unwrap();
        let other = Keypair::from_seed(&[0x73; 32]).public();
        assert_eq!(back.check(&other), Err(Rejection::UnknownGateway));
        let mut b = bytes.clone();
        b[80] ^= 1;
        assert_eq!(
            Settlement::from_bytes(&b).unwrap().check(&gw.public()),
            Err(Rejection::BadSignature)
        );
        let mut bad_bool = bytes;
        bad_bool[BODY_LEN - 33] = 2;
        assert!(Settlement::from_bytes(&bad_bool).is_err());
    }
}
