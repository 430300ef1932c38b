//! Transfer orders and signed orders.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::{DOMAIN_CERTIFICATE, DOMAIN_ORDER, Digest};
use crate::error::Rejection;
use crate::keys::{AccountTag, Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::owned::OwnedOrder;
use crate::messages::{SignedItems, Verified};

/// Token identifier; balances are per token.
pub type TokenId = u32;
/// The default token.
pub const DEFAULT_TOKEN: TokenId = 0;
/// Encoded length of a [`TransferOrder`].
pub const TRANSFER_ORDER_LEN: usize = 32 + 32 + 4 + 8 + 8 + 4 + 1;
/// Encoded length of a [`SignedOrder`].
pub const SIGNED_ORDER_LEN: usize = TRANSFER_ORDER_LEN + SIGNATURE_LEN;

/// A payer's order to move `amount` of `token` to `recipient`, using sequence number `nonce`.
///
/// The recipient is a full public key, not a tag: accounts are keyed by public key, so the
/// credit lands on exactly one account that its owner can later spend from, and nobody can grind
/// a key whose 64-bit tag collides with someone else's to capture a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferOrder {
    pub sender: PublicKey,
    pub recipient: PublicKey,
    pub token: TokenId,
    pub amount: u64,
    pub nonce: u64,
    pub epoch: u32,
    pub ttl: u8,
}

impl TransferOrder {
    /// The sender's tag (the FMH `sender` of this order).
    pub fn sender_tag(&self) -> AccountTag {
        self.sender.tag()
    }
    /// The digest the sender signs.
    pub fn digest(&self) -> Digest {
        let mut b = Vec::with_capacity(TRANSFER_ORDER_LEN);
        self.encode_to(&mut b);
        Digest::of(DOMAIN_ORDER, &b)
    }
    /// Stateless validity: a positive amount, a recipient other than the sender, and a
    /// recipient that is a valid public key.
    pub fn check_valid(&self) -> Result<(), Rejection> {
        if self.amount == 0 {
            return Err(Rejection::InvalidOrder("amount is zero"));
        }
        if self.sender == self.recipient {
            return Err(Rejection::InvalidOrder("recipient is the sender"));
        }
        if self.recipient.verifying_key().is_err() {
            return Err(Rejection::InvalidOrder(
                "recipient is not a valid public key",
            ));
        }
        Ok(())
    }
}

impl Encode for TransferOrder {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.sender.encode_to(out);
        self.recipient.encode_to(out);
        out.put_u32(self.token);
        out.put_u64(self.amount);
        out.put_u64(self.nonce);
        out.put_u32(self.epoch);
        out.put_u8(self.ttl);
    }
    fn encoded_len(&self) -> usize {
        TRANSFER_ORDER_LEN
    }
}

impl Decode for TransferOrder {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TransferOrder {
            sender: PublicKey::decode_from(r)?,
            recipient: PublicKey::decode_from(r)?,
            token: r.u32()?,
            amount: r.u64()?,
            nonce: r.u64()?,
            epoch: r.u32()?,
            ttl: r.u8()?,
        })
    }
}

/// A transfer order with its sender's signature, and the order's digest (computed once, from
/// the exact bytes that were signed or received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedOrder {
    order: TransferOrder,
    signature: Signature,
    digest: Digest,
}

impl SignedOrder {
    /// Signs `order` with `key` (which should be the key of `order.sender`).
    pub fn sign(order: TransferOrder, key: &Keypair) -> SignedOrder {
        let digest = order.digest();
        SignedOrder {
            order,
            signature: key.sign_digest(&digest),
            digest,
        }
    }
    /// Assembles an order and a signature (not verified).
    pub fn from_parts(order: TransferOrder, signature: Signature) -> SignedOrder {
        SignedOrder {
            digest: order.digest(),
            order,
            signature,
        }
    }
    pub fn order(&self) -> &TransferOrder {
        &self.order
    }
    pub fn signature(&self) -> &Signature {
        &self.signature
    }
    /// The order digest: what the sender signed and what votes and receipts refer to.
    pub fn digest(&self) -> Digest {
        self.digest
    }
    /// Checks the order's stateless validity and the sender's signature (one strict verify).
    pub fn verify(self) -> Result<Verified<SignedOrder>, Rejection> {
        self.check()?;
        Ok(Verified(self))
    }
    /// Like [`SignedOrder::verify`] without taking the order.
    pub fn check(&self) -> Result<(), Rejection> {
        self.sender_key()?
            .verify_strict(&self.digest.0, &self.signature.to_dalek())
            .map_err(|_| Rejection::BadSignature)
    }
    /// The order's checks that need no signature, then its one signature to verify (alone, or
    /// in a batch with other messages' through [`SignedItems`]).
    pub fn signed_items(&self) -> Result<SignedItems, Rejection> {
        let vk = self.sender_key()?;
        let mut items = SignedItems::with_capacity(1);
        items.push(self.digest, self.signature, vk);
        Ok(items)
    }
    /// The checks that need no signature, and the key the signature must verify under.
    fn sender_key(&self) -> Result<ed25519_dalek::VerifyingKey, Rejection> {
        self.order.check_valid()?;
        self.order
            .sender
            .verifying_key()
            .map_err(|_| Rejection::BadSignature)
    }
}

impl OwnedOrder for SignedOrder {
    const CERTIFICATE_DOMAIN: &'static str = DOMAIN_CERTIFICATE;
    fn digest(&self) -> Digest {
        self.digest
    }
    fn owner(&self) -> &PublicKey {
        &self.order.sender
    }
    fn nonce(&self) -> u64 {
        self.order.nonce
    }
    fn window(&self) -> (u32, u8) {
        (self.order.epoch, self.order.ttl)
    }
    fn check_funds(&self, balance: &dyn Fn(TokenId) -> u64) -> Result<(), crate::error::Rejection> {
        crate::messages::owned::check_one(self.order.token, self.order.amount, balance)
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn check_valid(&self) -> Result<(), Rejection> {
        self.order.check_valid()
    }
}

impl Encode for SignedOrder {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order.encode_to(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        SIGNED_ORDER_LEN
    }
}

impl Decode for SignedOrder {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.take(TRANSFER_ORDER_LEN)?;
        let order = TransferOrder::from_bytes(raw)?;
        let signature = Signature::decode_from(r)?;
        Ok(SignedOrder {
            order,
            signature,
            digest: Digest::of(DOMAIN_ORDER, raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(seed: u8) -> (Keypair, TransferOrder) {
        let k = Keypair::from_seed(&[seed; 32]);
        let r = Keypair::from_seed(&[seed.wrapping_add(100); 32]);
        (
            k.clone(),
            TransferOrder {
                sender: k.public(),
                recipient: r.public(),
                token: DEFAULT_TOKEN,
                amount: 5,
                nonce: 0,
                epoch: 1,
                ttl: 2,
            },
        )
    }

    #[test]
    fn sign_verify_roundtrip() {
        let (k, o) = sample(1);
        let s = SignedOrder::sign(o, &k);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), SIGNED_ORDER_LEN);
        let d = SignedOrder::from_bytes(&bytes).unwrap();
        assert_eq!(d, s);
        assert_eq!(d.digest(), o.digest());
        assert!(d.verify().is_ok());
    }

    #[test]
    fn tampering_breaks_signature() {
        let (k, o) = sample(1);
        let s = SignedOrder::sign(o, &k);
        let mut bytes = s.to_bytes();
        bytes[70] ^= 1; // amount
        let d = SignedOrder::from_bytes(&bytes).unwrap();
        assert_eq!(d.check(), Err(Rejection::BadSignature));
        let other = Keypair::from_seed(&[9; 32]);
        assert_eq!(
            SignedOrder::sign(o, &other).check(),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn invalid_orders() {
        let (k, o) = sample(1);
        let zero = TransferOrder { amount: 0, ..o };
        assert!(matches!(
            SignedOrder::sign(zero, &k).check(),
            Err(Rejection::InvalidOrder(_))
        ));
        let selfpay = TransferOrder {
            recipient: o.sender,
            ..o
        };
        assert!(matches!(
            SignedOrder::sign(selfpay, &k).check(),
            Err(Rejection::InvalidOrder(_))
        ));
    }

    #[test]
    fn truncated_and_trailing() {
        let (k, o) = sample(1);
        let bytes = SignedOrder::sign(o, &k).to_bytes();
        assert!(matches!(
            SignedOrder::from_bytes(&bytes[..100]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut more = bytes.clone();
        more.push(0);
        assert_eq!(
            SignedOrder::from_bytes(&more),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
