//! An authority's vote: its signature on an order digest for one sequence number.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_VOTE, Digest};
use crate::error::Rejection;
use crate::keys::{AuthorityTag, Keypair, Signature};
use crate::messages::batch::{self, SignedByAuthority, SignedDigest};

/// Encoded length of the signed part of a vote.
pub(crate) const VOTE_SIGNED_LEN: usize = 32 + 8 + 8;

/// An authority's vote on an order. The signature covers
/// `blake3_derive(DOMAIN_VOTE, order_digest ‖ nonce ‖ authority)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vote {
    pub order_digest: Digest,
    /// The order's sequence number (also the FMH `nonce` of the VOTE).
    pub nonce: u64,
    pub authority: AuthorityTag,
    pub signature: Signature,
}

/// The digest an authority signs to vote for `order_digest` at `nonce`.
pub(crate) fn vote_digest(order_digest: &Digest, nonce: u64, authority: &AuthorityTag) -> Digest {
    let mut b = [0u8; VOTE_SIGNED_LEN];
    b[..32].copy_from_slice(&order_digest.0);
    b[32..40].copy_from_slice(&nonce.to_be_bytes());
    b[40..48].copy_from_slice(&authority.0);
    Digest::of(DOMAIN_VOTE, &b)
}

impl Vote {
    /// Signs a vote for an order (one ed25519 signature).
    pub fn sign(order_digest: Digest, nonce: u64, key: &Keypair) -> Vote {
        let authority = key.tag();
        let d = vote_digest(&order_digest, nonce, &authority);
        Vote {
            order_digest,
            nonce,
            authority,
            signature: key.sign_digest(&d),
        }
    }
    /// The digest this vote's signature covers.
    pub fn signing_digest(&self) -> Digest {
        vote_digest(&self.order_digest, self.nonce, &self.authority)
    }
    /// Checks the vote: the authority is in `committee` and its signature verifies.
    pub fn verify(&self, committee: &Committee) -> Result<(), Rejection> {
        let member = committee
            .member(&self.authority)
            .ok_or(Rejection::UnknownSigner(self.authority))?;
        member
            .verifying_key()
            .verify_strict(&self.signing_digest().0, &self.signature.to_dalek())
            .map_err(|_| Rejection::BadSignature)
    }
    /// [`Vote::verify`] for each of `votes`, in one batch verification when all are good.
    pub fn verify_each(votes: &[Vote], committee: &Committee) -> Vec<Result<(), Rejection>> {
        batch::verify_each(votes, committee)
    }
}

impl SignedByAuthority for Vote {
    fn signed_digest(&self) -> SignedDigest {
        SignedDigest {
            signer: self.authority,
            digest: self.signing_digest(),
            signature: self.signature,
        }
    }
}

impl Encode for Vote {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order_digest.encode_to(out);
        out.put_u64(self.nonce);
        self.authority.encode_to(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        VOTE_SIGNED_LEN + 64
    }
}

impl Decode for Vote {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vote {
            order_digest: Digest::decode_from(r)?,
            nonce: r.u64()?,
            authority: AuthorityTag::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_roundtrip_and_verify() {
        let a = Keypair::from_seed(&[5; 32]);
        let c = crate::testing::committee_of_one(&a);
        let v = Vote::sign(Digest([3; 32]), 9, &a);
        assert_eq!(Vote::from_bytes(&v.to_bytes()).unwrap(), v);
        v.verify(&c).unwrap();
        let mut other_nonce = v;
        other_nonce.nonce = 10;
        assert_eq!(other_nonce.verify(&c), Err(Rejection::BadSignature));
        let stranger = Vote::sign(Digest([3; 32]), 9, &Keypair::from_seed(&[6; 32]));
        assert!(matches!(
            stranger.verify(&c),
            Err(Rejection::UnknownSigner(_))
        ));
    }
}
