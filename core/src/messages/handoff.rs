//! Handoff orders: an owner's order to move an account from the committee that serves it
//! (`from`) to another (`to`), for a phone that walks from one merchant cluster to the next.
//! The order states the balances it moves; a quorum of `from`'s votes on it is a
//! [`HandoffCertificate`]. At `from` the certificate debits the stated balances and marks the
//! account moved (later transfers and withdrawals are refused); at `to` the same certificate,
//! checked against `from`'s committee, credits them once and opens the account at the nonce
//! after the handoff's.
//!
//! Encoding: account (32), from committee (32), to committee (32), a u8 count of balances
//! (0..=16) then each token (u32) and amount (u64) in strictly increasing token order, nonce
//! (u64), epoch (u32), ttl (u8); a signed handoff appends the owner's signature over the
//! domain-separated digest of those bytes.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::{DOMAIN_HANDOFF, DOMAIN_HANDOFF_CERTIFICATE, Digest};
use crate::error::Rejection;
use crate::keys::{Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::owned::OwnedOrder;
use crate::messages::{Certificate, TokenId, Verified};

/// Most tokens one handoff moves.
pub const MAX_HANDOFF_TOKENS: usize = 16;

/// A certificate on a handoff order, signed by a quorum of the committee it leaves.
pub type HandoffCertificate = Certificate<SignedHandoff>;

/// An owner's order to move an account to another committee.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HandoffOrder {
    pub account: PublicKey,
    /// Identity ([`crate::Committee::id`]) of the committee the account leaves.
    pub from: Digest,
    /// Identity of the committee it moves to.
    pub to: Digest,
    /// What moves: per token, in increasing token order, each amount above zero.
    pub balances: Vec<(TokenId, u64)>,
    pub nonce: u64,
    pub epoch: u32,
    pub ttl: u8,
}

impl HandoffOrder {
    /// The digest the owner signs.
    pub fn digest(&self) -> Digest {
        Digest::of(DOMAIN_HANDOFF, &self.to_bytes())
    }
    /// Stateless validity: two different committees, at most 16 balances, tokens strictly
    /// increasing, no zero amount.
    pub fn check_valid(&self) -> Result<(), Rejection> {
        if self.from == self.to {
            return Err(Rejection::InvalidOrder(
                "handoff to the committee it leaves",
            ));
        }
        if self.balances.len() > MAX_HANDOFF_TOKENS {
            return Err(Rejection::InvalidOrder("handoff of more than 16 tokens"));
        }
        if self.balances.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Rejection::InvalidOrder(
                "handoff tokens must be strictly increasing",
            ));
        }
        if self.balances.iter().any(|(_, a)| *a == 0) {
            return Err(Rejection::InvalidOrder("handoff of a zero amount"));
        }
        Ok(())
    }
}

impl Encode for HandoffOrder {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.account.encode_to(out);
        self.from.encode_to(out);
        self.to.encode_to(out);
        // Over-long lists are encoded cut; `check_valid` refuses them before signing.
        let n = self.balances.len().min(MAX_HANDOFF_TOKENS);
        out.put_u8(n as u8);
        for (t, a) in &self.balances[..n] {
            out.put_u32(*t);
            out.put_u64(*a);
        }
        out.put_u64(self.nonce);
        out.put_u32(self.epoch);
        out.put_u8(self.ttl);
    }
    fn encoded_len(&self) -> usize {
        32 * 3 + 1 + 12 * self.balances.len().min(MAX_HANDOFF_TOKENS) + 8 + 4 + 1
    }
}

impl Decode for HandoffOrder {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let account = PublicKey::decode_from(r)?;
        let from = Digest::decode_from(r)?;
        let to = Digest::decode_from(r)?;
        let n = r.u8()? as usize;
        if n > MAX_HANDOFF_TOKENS {
            return Err(DecodeError::InvalidField("handoff of more than 16 tokens"));
        }
        let mut balances = Vec::with_capacity(n);
        for _ in 0..n {
            let t = r.u32()?;
            if balances.last().is_some_and(|(l, _)| *l >= t) {
                return Err(DecodeError::InvalidField("handoff tokens out of order"));
            }
            balances.push((t, r.u64()?));
        }
        Ok(HandoffOrder {
            account,
            from,
            to,
            balances,
            nonce: r.u64()?,
            epoch: r.u32()?,
            ttl: r.u8()?,
        })
    }
}

/// A handoff order with its owner's signature and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedHandoff {
    order: HandoffOrder,
    signature: Signature,
    digest: Digest,
}

impl SignedHandoff {
    /// Signs `order` with `key` (the key of `order.account`).
    pub fn sign(order: HandoffOrder, key: &Keypair) -> SignedHandoff {
        let digest = order.digest();
        SignedHandoff {
            signature: key.sign_digest(&digest),
            order,
            digest,
        }
    }
    /// Assembles an order and a signature (not verified).
    pub fn from_parts(order: HandoffOrder, signature: Signature) -> SignedHandoff {
        SignedHandoff {
            digest: order.digest(),
            order,
            signature,
        }
    }
    pub fn order(&self) -> &HandoffOrder {
        &self.order
    }
    /// Checks the order's validity and the owner's signature (one strict verify).
    pub fn check(&self) -> Result<(), Rejection> {
        self.order.check_valid()?;
        self.order
            .account
            .verify_digest(&self.digest, &self.signature)
            .map_err(|_| Rejection::BadSignature)
    }
    /// [`SignedHandoff::check`], returning the order marked as verified.
    pub fn verify(self) -> Result<Verified<SignedHandoff>, Rejection> {
        self.check()?;
        Ok(Verified(self))
    }
}

impl OwnedOrder for SignedHandoff {
    const CERTIFICATE_DOMAIN: &'static str = DOMAIN_HANDOFF_CERTIFICATE;
    fn digest(&self) -> Digest {
        self.digest
    }
    fn owner(&self) -> &PublicKey {
        &self.order.account
    }
    fn nonce(&self) -> u64 {
        self.order.nonce
    }
    fn window(&self) -> (u32, u8) {
        (self.order.epoch, self.order.ttl)
    }
    fn check_funds(&self, balance: &dyn Fn(TokenId) -> u64) -> Result<(), Rejection> {
        for (t, a) in &self.order.balances {
            crate::messages::owned::check_one(*t, *a, balance)?;
        }
        Ok(())
    }
    fn allowed_when_moved(&self) -> bool {
        true
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn check_valid(&self) -> Result<(), Rejection> {
        self.order.check_valid()
    }
}

impl Encode for SignedHandoff {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order.encode_to(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        self.order.encoded_len() + SIGNATURE_LEN
    }
}

impl Decode for SignedHandoff {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let order = HandoffOrder::decode_from(r)?;
        let signature = Signature::decode_from(r)?;
        Ok(SignedHandoff::from_parts(order, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Vote;
    use crate::testing::{authority_keys, committee_of};

    fn sample() -> (Keypair, HandoffOrder) {
        let k = Keypair::from_seed(&[9; 32]);
        let o = HandoffOrder {
            account: k.public(),
            from: Digest([1; 32]),
            to: Digest([2; 32]),
            balances: vec![(0, 40), (3, 7)],
            nonce: 5,
            epoch: 9,
            ttl: 2,
        };
        (k, o)
    }

    #[test]
    fn every_field_round_trips_and_is_signed() {
        let (k, o) = sample();
        let s = SignedHandoff::sign(o.clone(), &k);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), s.encoded_len());
        let back = SignedHandoff::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.order().balances, vec![(0, 40), (3, 7)]);
        back.check().unwrap();
        for i in 0..o.encoded_len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            if let Ok(t) = SignedHandoff::from_bytes(&b) {
                assert!(t.check().is_err(), "byte {i}");
            }
        }
    }

    #[test]
    fn invalid_handoffs_are_refused() {
        let (k, o) = sample();
        let bad = [
            HandoffOrder {
                to: o.from,
                ..o.clone()
            },
            HandoffOrder {
                balances: vec![(3, 1), (0, 1)],
                ..o.clone()
            },
            HandoffOrder {
                balances: vec![(0, 0)],
                ..o.clone()
            },
            HandoffOrder {
                balances: (0..17).map(|t| (t, 1)).collect(),
                ..o.clone()
            },
        ];
        for b in bad {
            assert!(matches!(
                SignedHandoff::sign(b, &k).check(),
                Err(Rejection::InvalidOrder(_))
            ));
        }
        // out of order on the wire: refused by the decoder
        let mut bytes = SignedHandoff::sign(o.clone(), &k).to_bytes();
        bytes[97..101].copy_from_slice(&9u32.to_be_bytes());
        assert!(SignedHandoff::from_bytes(&bytes).is_err());
        let empty = HandoffOrder {
            balances: vec![],
            ..o
        };
        SignedHandoff::sign(empty, &k).check().unwrap();
    }

    #[test]
    fn a_quorum_certifies_a_handoff_and_its_digest_is_its_own() {
        let keys = authority_keys(4, 80);
        let c = committee_of(&keys, 1);
        let (k, o) = sample();
        let s = SignedHandoff::sign(o, &k);
        let votes: Vec<Vote> = keys[..3]
            .iter()
            .map(|a| Vote::sign(s.digest(), 5, a))
            .collect();
        let cert = HandoffCertificate::new(s.clone(), &votes);
        cert.check(&c).unwrap();
        assert_eq!(
            HandoffCertificate::from_bytes(&cert.to_bytes()).unwrap(),
            cert
        );
        assert!(matches!(
            HandoffCertificate::new(s, &votes[..2]).check(&c),
            Err(Rejection::BelowQuorum { .. })
        ));
        let other = committee_of(&authority_keys(4, 90), 1);
        assert!(matches!(
            cert.check(&other),
            Err(Rejection::UnknownSigner(_))
        ));
    }
}
