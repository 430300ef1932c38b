//! An authority's signed receipt for a certificate it has applied.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_RECEIPT, Digest};
use crate::error::Rejection;
use crate::keys::{AuthorityTag, Keypair, Signature};
use crate::messages::batch::{self, SignedByAuthority, SignedDigest};

const RECEIPT_SIGNED_LEN: usize = 32 + 8 + 1 + 8 + 8;

/// Signed by an authority once a certificate's transfer is in its state. `applied` is true when
/// this certificate changed the state just now, false when it had been applied before (a
/// certificate for a past nonce is a no-op success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    pub order_digest: Digest,
    /// The order's nonce (also the FMH `nonce` of the RECEIPT).
    pub nonce: u64,
    pub applied: bool,
    /// The sender account's next sequence number after the certificate.
    pub next_sequence: u64,
    pub authority: AuthorityTag,
    pub signature: Signature,
}

fn signed_part(
    order_digest: &Digest,
    nonce: u64,
    applied: bool,
    next_sequence: u64,
    authority: &AuthorityTag,
) -> [u8; RECEIPT_SIGNED_LEN] {
    let mut b = [0u8; RECEIPT_SIGNED_LEN];
    b[..32].copy_from_slice(&order_digest.0);
    b[32..40].copy_from_slice(&nonce.to_be_bytes());
    b[40] = u8::from(applied);
    b[41..49].copy_from_slice(&next_sequence.to_be_bytes());
    b[49..57].copy_from_slice(&authority.0);
    b
}

impl Receipt {
    /// Signs a receipt.
    pub fn sign(
        order_digest: Digest,
        nonce: u64,
        applied: bool,
        next_sequence: u64,
        key: &Keypair,
    ) -> Receipt {
        let authority = key.tag();
        let d = Digest::of(
            DOMAIN_RECEIPT,
            &signed_part(&order_digest, nonce, applied, next_sequence, &authority),
        );
        Receipt {
            order_digest,
            nonce,
            applied,
            next_sequence,
            authority,
            signature: key.sign_digest(&d),
        }
    }
    /// The digest the signature covers.
    pub fn signing_digest(&self) -> Digest {
        Digest::of(
            DOMAIN_RECEIPT,
            &signed_part(
                &self.order_digest,
                self.nonce,
                self.applied,
                self.next_sequence,
                &self.authority,
            ),
        )
    }
    /// Checks that the authority is in `committee` and its signature verifies.
    pub fn verify(&self, committee: &Committee) -> Result<(), Rejection> {
        let member = committee
            .member(&self.authority)
            .ok_or(Rejection::UnknownSigner(self.authority))?;
        member
            .verifying_key()
            .verify_strict(&self.signing_digest().0, &self.signature.to_dalek())
            .map_err(|_| Rejection::BadSignature)
    }
    /// [`Receipt::verify`] for each of `receipts`, in one batch verification when all are good.
    pub fn verify_each(receipts: &[Receipt], committee: &Committee) -> Vec<Result<(), Rejection>> {
        batch::verify_each(receipts, committee)
    }
}

impl SignedByAuthority for Receipt {
    fn signed_digest(&self) -> SignedDigest {
        SignedDigest {
            signer: self.authority,
            digest: self.signing_digest(),
            signature: self.signature,
        }
    }
}

impl Encode for Receipt {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&signed_part(
            &self.order_digest,
            self.nonce,
            self.applied,
            self.next_sequence,
            &self.authority,
        ));
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        RECEIPT_SIGNED_LEN + 64
    }
}

impl Decode for Receipt {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Receipt {
            order_digest: Digest::decode_from(r)?,
            nonce: r.u64()?,
            applied: r.bool()?,
            next_sequence: r.u64()?,
            authority: AuthorityTag::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_roundtrip_and_verify() {
        let a = Keypair::from_seed(&[5; 32]);
        let c = crate::testing::committee_of_one(&a);
        let r = Receipt::sign(Digest([1; 32]), 4, true, 5, &a);
        assert_eq!(Receipt::from_bytes(&r.to_bytes()).unwrap(), r);
        r.verify(&c).unwrap();
        let mut flipped = r;
        flipped.applied = false;
        assert_eq!(flipped.verify(&c), Err(Rejection::BadSignature));
        let mut bytes = r.to_bytes();
        bytes[40] = 2;
        assert!(matches!(
            Receipt::from_bytes(&bytes),
            Err(DecodeError::InvalidField(_))
        ));
    }
}
