//! Balance queries and the authority's signed replies.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_QUERY_REPLY, Digest};
use crate::error::Rejection;
use crate::keys::{AccountTag, AuthorityTag, Keypair, PublicKey, SIGNATURE_LEN, Signature};
use crate::messages::order::SIGNED_ORDER_LEN;
use crate::messages::{SignedOrder, TokenId};

/// Most balances one reply carries (tokens in ascending order; the rest are left out).
pub const MAX_REPLY_BALANCES: usize = 64;

/// Asks an authority for an account's state. `request` is the caller's id for matching replies
/// (also the FMH `nonce` of the QUERY and its reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Query {
    pub account: PublicKey,
    pub request: u64,
}

impl Query {
    pub fn account_tag(&self) -> AccountTag {
        self.account.tag()
    }
}

impl Encode for Query {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.account.encode_to(out);
        out.put_u64(self.request);
    }
    fn encoded_len(&self) -> usize {
        40
    }
}

impl Decode for Query {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Query {
            account: PublicKey::decode_from(r)?,
            request: r.u64()?,
        })
    }
}

/// An authority's signed view of an account: balances (token ascending, no duplicates),
/// next sequence number and the pending (locked, not yet certified) order if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryReply {
    pub request: u64,
    pub account: PublicKey,
    pub next_sequence: u64,
    pub balances: Vec<(TokenId, u64)>,
    pub pending: Option<SignedOrder>,
    pub authority: AuthorityTag,
    pub signature: Signature,
}

impl QueryReply {
    /// Builds and signs a reply; `balances` are sorted and cut to [`MAX_REPLY_BALANCES`].
    pub fn sign(
        request: u64,
        account: PublicKey,
        next_sequence: u64,
        mut balances: Vec<(TokenId, u64)>,
        pending: Option<SignedOrder>,
        key: &Keypair,
    ) -> QueryReply {
        balances.sort_unstable_by_key(|b| b.0);
        balances.dedup_by_key(|b| b.0);
        balances.truncate(MAX_REPLY_BALANCES);
        let mut r = QueryReply {
            request,
            account,
            next_sequence,
            balances,
            pending,
            authority: key.tag(),
            signature: Signature([0; SIGNATURE_LEN]),
        };
        r.signature = key.sign_digest(&r.signing_digest());
        r
    }
    /// The balance of `token` (0 if absent).
    pub fn balance(&self, token: TokenId) -> u64 {
        self.balances
            .iter()
            .find(|b| b.0 == token)
            .map_or(0, |b| b.1)
    }
    fn encode_unsigned(&self, out: &mut Vec<u8>) {
        out.put_u64(self.request);
        self.account.encode_to(out);
        out.put_u64(self.next_sequence);
        let n = self.balances.len().min(MAX_REPLY_BALANCES);
        out.put_u16(n as u16);
        for (t, a) in &self.balances[..n] {
            out.put_u32(*t);
            out.put_u64(*a);
        }
        match &self.pending {
            None => out.put_u8(0),
            Some(o) => {
                out.put_u8(1);
                o.encode_to(out);
            }
        }
        self.authority.encode_to(out);
    }
    fn unsigned_len(&self) -> usize {
        8 + 32
            + 8
            + 2
            + self.balances.len().min(MAX_REPLY_BALANCES) * 12
            + 1
            + if self.pending.is_some() {
                SIGNED_ORDER_LEN
            } else {
                0
            }
            + 8
    }
    /// The digest the signature covers (over the canonical encoding of all other fields).
    pub fn signing_digest(&self) -> Digest {
        let mut b = Vec::with_capacity(self.unsigned_len());
        self.encode_unsigned(&mut b);
        Digest::of(DOMAIN_QUERY_REPLY, &b)
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
}

impl Encode for QueryReply {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_unsigned(out);
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        self.unsigned_len() + SIGNATURE_LEN
    }
}

impl Decode for QueryReply {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let request = r.u64()?;
        let account = PublicKey::decode_from(r)?;
        let next_sequence = r.u64()?;
        let n = r.u16()? as usize;
        if n > MAX_REPLY_BALANCES {
            return Err(DecodeError::InvalidField("too many balances"));
        }
        let mut balances = Vec::with_capacity(n);
        for _ in 0..n {
            let t = r.u32()?;
            let a = r.u64()?;
            if balances.last().is_some_and(|(p, _)| *p >= t) {
                return Err(DecodeError::InvalidField(
                    "balances not in strictly ascending token order",
                ));
            }
            balances.push((t, a));
        }
        let pending = if r.option_marker()? {
            Some(SignedOrder::decode_from(r)?)
        } else {
            None
        };
        Ok(QueryReply {
            request,
            account,
            next_sequence,
            balances,
            pending,
            authority: AuthorityTag::decode_from(r)?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Decode;

    #[test]
    fn reply_roundtrip_verify_and_canonical_balances() {
        let a = Keypair::from_seed(&[5; 32]);
        let c = crate::testing::committee_of_one(&a);
        let acct = Keypair::from_seed(&[6; 32]).public();
        let r = QueryReply::sign(1, acct, 2, vec![(5, 50), (1, 10), (5, 7)], None, &a);
        assert_eq!(r.balances, vec![(1, 10), (5, 50)]);
        assert_eq!(r.balance(5), 50);
        assert_eq!(r.balance(2), 0);
        let bytes = r.to_bytes();
        assert_eq!(QueryReply::from_bytes(&bytes).unwrap(), r);
        r.verify(&c).unwrap();
        let mut tampered = r.clone();
        tampered.balances[0].1 += 1;
        assert_eq!(tampered.verify(&c), Err(Rejection::BadSignature));
        // Swap the two balance entries on the wire: no longer ascending → refused.
        let mut swapped = bytes.clone();
        let start = 8 + 32 + 8 + 2;
        let (x, y) = (
            swapped[start..start + 12].to_vec(),
            swapped[start + 12..start + 24].to_vec(),
        );
        swapped[start..start + 12].copy_from_slice(&y);
        swapped[start + 12..start + 24].copy_from_slice(&x);
        assert!(matches!(
            QueryReply::from_bytes(&swapped),
            Err(DecodeError::InvalidField(_))
        ));
        let q = Query {
            account: acct,
            request: 77,
        };
        assert_eq!(Query::from_bytes(&q.to_bytes()).unwrap(), q);
    }
}
