//! Withdrawal orders: an owner's order to take `amount` of `token` out of the mesh to an
//! account on the primary ledger (`recipient`, opaque bytes the gateway understands, e.g. an
//! IBAN). A quorum's certificate on it ([`WithdrawalCertificate`]) debits the account at every
//! authority and is what a gateway settles, once, on its primary ledger.
//!
//! Encoding: account (32), token (u32), amount (u64), recipient (u8 length 1..=64, then the
//! bytes), nonce (u64), epoch (u32), ttl (u8); a signed withdrawal appends the owner's
//! signature over the domain-separated digest of those bytes.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::{DOMAIN_WITHDRAWAL, DOMAIN_WITHDRAWAL_CERTIFICATE, Digest};
use crate::error::Rejection;
use crate::keys::{Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::owned::OwnedOrder;
use crate::messages::{Certificate, TokenId, Verified};

/// Longest external recipient, in bytes.
pub const MAX_EXTERNAL_RECIPIENT_LEN: usize = 64;

/// A certificate on a withdrawal order.
pub type WithdrawalCertificate = Certificate<SignedWithdrawal>;

/// An owner's order to move money from the mesh to the primary ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WithdrawalOrder {
    pub account: PublicKey,
    pub token: TokenId,
    pub amount: u64,
    /// The account on the primary ledger that receives the money (1..=64 bytes).
    pub recipient: Vec<u8>,
    pub nonce: u64,
    pub epoch: u32,
    pub ttl: u8,
}

impl WithdrawalOrder {
    /// The digest the owner signs.
    pub fn digest(&self) -> Digest {
        Digest::of(DOMAIN_WITHDRAWAL, &self.to_bytes())
    }
    /// Stateless validity: a positive amount and a recipient of 1..=64 bytes.
    pub fn check_valid(&self) -> Result<(), Rejection> {
        if self.amount == 0 {
            return Err(Rejection::InvalidOrder("amount is zero"));
        }
        if self.recipient.is_empty() || self.recipient.len() > MAX_EXTERNAL_RECIPIENT_LEN {
            return Err(Rejection::InvalidOrder(
                "external recipient must be 1 to 64 bytes",
            ));
        }
        Ok(())
    }
}

impl Encode for WithdrawalOrder {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.account.encode_to(out);
        out.put_u32(self.token);
        out.put_u64(self.amount);
        // An over-long recipient is encoded cut; it is refused by `check_valid` before signing.
        let n = self.recipient.len().min(MAX_EXTERNAL_RECIPIENT_LEN);
        out.put_u8(n as u8);
        out.put_bytes(&self.recipient[..n]);
        out.put_u64(self.nonce);
        out.put_u32(self.epoch);
        out.put_u8(self.ttl);
    }
    fn encoded_len(&self) -> usize {
        32 + 4 + 8 + 1 + self.recipient.len().min(MAX_EXTERNAL_RECIPIENT_LEN) + 8 + 4 + 1
    }
}

impl Decode for WithdrawalOrder {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let account = PublicKey::decode_from(r)?;
        let token = r.u32()?;
        let amount = r.u64()?;
        let n = r.u8()? as usize;
        if n == 0 || n > MAX_EXTERNAL_RECIPIENT_LEN {
            return Err(DecodeError::InvalidField(
                "external recipient must be 1 to 64 bytes",
            ));
        }
        let recipient = r.take(n)?.to_vec();
        Ok(WithdrawalOrder {
            account,
            token,
            amount,
            recipient,
            nonce: r.u64()?,
            epoch: r.u32()?,
            ttl: r.u8()?,
        })
    }
}

/// A withdrawal order with its owner's signature and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedWithdrawal {
    order: WithdrawalOrder,
    signature: Signature,
    digest: Digest,
}

impl SignedWithdrawal {
    /// Signs `order` with `key` (the key of `order.account`).
    pub fn sign(order: WithdrawalOrder, key: &Keypair) -> SignedWithdrawal {
        let digest = order.digest();
        SignedWithdrawal {
            signature: key.sign_digest(&digest),
            order,
            digest,
        }
    }
    /// Assembles an order and a signature (not verified).
    pub fn from_parts(order: WithdrawalOrder, signature: Signature) -> SignedWithdrawal {
        SignedWithdrawal {
            digest: order.digest(),
            order,
            signature,
        }
    }
    pub fn order(&self) -> &WithdrawalOrder {
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
    /// [`SignedWithdrawal::check`], returning the order marked as verified.
    pub fn verify(self) -> Result<Verified<SignedWithdrawal>, Rejection> {
        self.check()?;
        Ok(Verified(self))
    }
}

impl OwnedOrder for SignedWithdrawal {
    const CERTIFICATE_DOMAIN: &'static str = DOMAIN_WITHDRAWAL_CERTIFICATE;
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
        crate::messages::owned::check_one(self.order.token, self.order.amount, balance)
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn check_valid(&self) -> Result<(), Rejection> {
        self.order.check_valid()
    }
}

impl Encode for SignedWithdrawal {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order.encode_to(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        self.order.encoded_len() + SIGNATURE_LEN
    }
}

impl Decode for SignedWithdrawal {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let order = WithdrawalOrder::decode_from(r)?;
        let signature = Signature::decode_from(r)?;
        Ok(SignedWithdrawal::from_parts(order, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Vote;
    use crate::testing::{authority_keys, committee_of};

    fn sample() -> (Keypair, WithdrawalOrder) {
        let k = Keypair::from_seed(&[7; 32]);
        let o = WithdrawalOrder {
            account: k.public(),
            token: 0,
            amount: 40,
            recipient: b"DE89 3704 0044 0532 0130 00".to_vec(),
            nonce: 3,
            epoch: 9,
            ttl: 2,
        };
        (k, o)
    }

    #[test]
    fn every_field_round_trips_and_is_signed() {
        let (k, o) = sample();
        let s = SignedWithdrawal::sign(o.clone(), &k);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), s.encoded_len());
        let back = SignedWithdrawal::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        back.check().unwrap();
        // Flipping any byte of the order breaks the signature or the decoding.
        for i in 0..o.encoded_len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            if let Ok(t) = SignedWithdrawal::from_bytes(&b) {
                assert_eq!(t.check(), Err(Rejection::BadSignature), "byte {i}");
            }
        }
    }

    #[test]
    fn invalid_withdrawals_are_refused() {
        let (k, o) = sample();
        let zero = WithdrawalOrder {
            amount: 0,
            ..o.clone()
        };
        assert!(SignedWithdrawal::sign(zero, &k).check().is_err());
        let empty = WithdrawalOrder {
            recipient: vec![],
            ..o.clone()
        };
        assert!(SignedWithdrawal::sign(empty.clone(), &k).check().is_err());
        let mut bytes = SignedWithdrawal::sign(empty, &k).to_bytes();
        assert!(SignedWithdrawal::from_bytes(&bytes).is_err());
        bytes.truncate(10);
        assert!(SignedWithdrawal::from_bytes(&bytes).is_err());
        let other = Keypair::from_seed(&[8; 32]);
        assert_eq!(
            SignedWithdrawal::sign(o, &other).check(),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_quorum_certifies_a_withdrawal_and_its_digest_is_not_a_transfers() {
        let keys = authority_keys(4, 70);
        let c = committee_of(&keys, 1);
        let (k, o) = sample();
        let s = SignedWithdrawal::sign(o, &k);
        let votes: Vec<Vote> = keys[..3]
            .iter()
            .map(|a| Vote::sign(s.digest(), 3, a))
            .collect();
        let cert = WithdrawalCertificate::new(s.clone(), &votes);
        cert.check(&c).unwrap();
        let back = WithdrawalCertificate::from_bytes(&cert.to_bytes()).unwrap();
        assert_eq!(back, cert);
        let short = WithdrawalCertificate::new(s, &votes[..2]);
        assert!(matches!(
            short.check(&c),
            Err(Rejection::BelowQuorum { .. })
        ));
        assert_ne!(
            cert.digest(),
            Digest::of(crate::digest::DOMAIN_CERTIFICATE, &cert.to_bytes())
        );
    }
}
