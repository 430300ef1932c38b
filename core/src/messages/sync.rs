//! SYNC (FMH type 17): an authority asks one peer for the certificates that peer applied from a
//! position of its apply order on, after a gap in which it missed them.
//!
//! Positions count the peer's applied certificates (what its heartbeats report as `applied`):
//! the requester names the peer's `applied` it last heard before the gap, and the peer sends
//! the certificates it applied from there, in apply order, as ordinary CERTIFICATE datagrams,
//! paced and at most `limit` of them (and never more than the peer's own bound).
//!
//! Canonical encoding: `authority` (8) · `peer` (8, the authority asked) · `epoch` (u32) ·
//! `counter` (u64, the requester's heartbeat counter sequence, so a replay is refused) ·
//! `from` (u64) · `limit` (u32) · signature (64), 104 bytes. The signature covers the first 40
//! bytes under [`DOMAIN_SYNC`]. FMH header: sender = authority, nonce = counter, epoch = epoch,
//! ttl = [`super::LIVENESS_TTL`].

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::{DOMAIN_SYNC, Digest};
use crate::keys::{AuthorityTag, Keypair, Signature};
use crate::messages::Verified;
use crate::messages::heartbeat::{LivenessError, verify_member};

const SYNC_SIGNED_LEN: usize = 8 + 8 + 4 + 8 + 8 + 4;
/// Length of an encoded sync request body.
pub const SYNC_REQUEST_LEN: usize = SYNC_SIGNED_LEN + 64;

/// A signed request for the certificates a peer applied from position `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncRequest {
    /// Who asks.
    pub authority: AuthorityTag,
    /// Who is asked.
    pub peer: AuthorityTag,
    pub epoch: u32,
    /// From the requester's heartbeat counter sequence.
    pub counter: u64,
    /// First position of the peer's apply order wanted.
    pub from: u64,
    /// At most this many certificates.
    pub limit: u32,
    pub signature: Signature,
}

fn signed_part(s: &SyncRequest) -> [u8; SYNC_SIGNED_LEN] {
    let mut b = Vec::with_capacity(SYNC_SIGNED_LEN);
    b.put_bytes(&s.authority.0);
    b.put_bytes(&s.peer.0);
    b.put_u32(s.epoch);
    b.put_u64(s.counter);
    b.put_u64(s.from);
    b.put_u32(s.limit);
    let mut out = [0u8; SYNC_SIGNED_LEN];
    out.copy_from_slice(&b);
    out
}

impl SyncRequest {
    /// Signs a request to `peer` for its certificates from `from` on, at most `limit`.
    pub fn sign(
        peer: AuthorityTag,
        epoch: u32,
        counter: u64,
        from: u64,
        limit: u32,
        key: &Keypair,
    ) -> SyncRequest {
        let mut s = SyncRequest {
            authority: key.tag(),
            peer,
            epoch,
            counter,
            from,
            limit,
            signature: Signature([0; 64]),
        };
        s.signature = key.sign_digest(&s.signing_digest());
        s
    }
    /// The digest the signature covers.
    pub fn signing_digest(&self) -> Digest {
        Digest::of(DOMAIN_SYNC, &signed_part(self))
    }
    /// Checks that it is addressed to `me`, that the sender is a member of `committee`, and
    /// that the signature verifies.
    pub fn verify(
        self,
        committee: &Committee,
        me: &AuthorityTag,
    ) -> Result<Verified<SyncRequest>, LivenessError> {
        if self.peer != *me {
            return Err(LivenessError::NotAddressedHere(self.peer));
        }
        verify_member(
            committee,
            &self.authority,
            &self.signing_digest(),
            &self.signature,
        )?;
        Ok(Verified(self))
    }
}

impl Encode for SyncRequest {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&signed_part(self));
        self.signature.encode_to(out);
    }
    fn encoded_len(&self) -> usize {
        SYNC_REQUEST_LEN
    }
}

impl Decode for SyncRequest {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SyncRequest {
            authority: AuthorityTag::decode_from(r)?,
            peer: AuthorityTag::decode_from(r)?,
            epoch: r.u32()?,
            counter: r.u64()?,
            from: r.u64()?,
            limit: r.u32()?,
            signature: Signature::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_verify() {
        let a = Keypair::from_seed(&[41; 32]);
        let b = Keypair::from_seed(&[42; 32]);
        let c = crate::testing::committee_of_one(&a);
        let s = SyncRequest::sign(b.tag(), 3, 77, 10, 64, &a);
        assert_eq!(s.encoded_len(), SYNC_REQUEST_LEN);
        assert_eq!(SyncRequest::from_bytes(&s.to_bytes()).unwrap(), s);
        assert_eq!(
            s.verify(&c, &a.tag()),
            Err(LivenessError::NotAddressedHere(b.tag()))
        );
        let to_self = SyncRequest::sign(a.tag(), 3, 77, 10, 64, &a);
        assert!(to_self.verify(&c, &a.tag()).is_ok());
        let mut forged = to_self;
        forged.from = 0;
        assert_eq!(
            forged.verify(&c, &a.tag()),
            Err(LivenessError::BadSignature)
        );
    }
}
