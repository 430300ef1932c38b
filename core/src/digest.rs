//! Domain-separated blake3 digests: what gets signed.
//!
//! Every signed message kind has its own domain string; the digest is blake3 in key-derivation
//! mode keyed by that string, over the canonical encoding of the message's unsigned part
//! (exactly the bytes that travel, never a re-serialisation in another format).

use std::fmt;

/// Domain of a transfer order signed by its sender.
pub const DOMAIN_ORDER: &str = "flash-mesh v1 transfer-order";
/// Domain of an authority's vote on an order.
pub const DOMAIN_VOTE: &str = "flash-mesh v1 vote";
/// Domain of an authority's receipt for a certificate.
pub const DOMAIN_RECEIPT: &str = "flash-mesh v1 receipt";
/// Domain of an authority's reply to a balance query.
pub const DOMAIN_QUERY_REPLY: &str = "flash-mesh v1 query-reply";
/// Domain of a certificate's identity (digest of the whole encoded certificate).
pub const DOMAIN_CERTIFICATE: &str = "flash-mesh v1 certificate";
/// Domain of a policy bundle body, signed by operators (the controller's canonical encoding of
/// the body; see `flashmesh_controller::policy::digest`).
pub const DOMAIN_POLICY: &str = "flashmesh 2026-11 policy bundle body v1";
/// Domain of a controller's probe sender tag, derived from the controller's name (see
/// [`crate::keys::Tag::derive`]).
pub const DOMAIN_CONTROLLER_TAG: &str = "flashmesh 2026-11 controller probe tag v1";
/// Domain of the committee identity a state snapshot is bound to.
pub const DOMAIN_SNAPSHOT_COMMITTEE: &str = "flash-mesh v1 snapshot committee";
/// Domain of an authority's heartbeat to its committee peers.
pub const DOMAIN_HEARTBEAT: &str = "flash-mesh v1 heartbeat";
/// Domain of an authority's request to a peer for the certificates it missed.
pub const DOMAIN_SYNC: &str = "flash-mesh v1 sync-request";
/// Domain of a withdrawal order signed by its owner.
pub const DOMAIN_WITHDRAWAL: &str = "flash-mesh v1 withdrawal-order";
/// Domain of a withdrawal certificate's identity.
pub const DOMAIN_WITHDRAWAL_CERTIFICATE: &str = "flash-mesh v1 withdrawal certificate";
/// Domain of a gateway's funding certificate (a deposit).
pub const DOMAIN_FUNDING: &str = "flash-mesh v1 funding certificate";
/// Domain of a gateway's settlement of a withdrawal.
pub const DOMAIN_SETTLEMENT: &str = "flash-mesh v1 settlement";
/// Domain of the digest of a primary ledger's deposit reference, as a funding certificate
/// carries it.
pub const DOMAIN_DEPOSIT_REFERENCE: &str = "flash-mesh v1 deposit reference";
/// Domain of a handoff order (an account moving to another committee) signed by its owner.
pub const DOMAIN_HANDOFF: &str = "flash-mesh v1 handoff-order";
/// Domain of a handoff certificate's identity.
pub const DOMAIN_HANDOFF_CERTIFICATE: &str = "flash-mesh v1 handoff certificate";

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Domain-separated digest of `bytes`.
    pub fn of(domain: &'static str, bytes: &[u8]) -> Digest {
        let mut h = blake3::Hasher::new_derive_key(domain);
        h.update(bytes);
        Digest(*h.finalize().as_bytes())
    }
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Digest> {
        let v = hex::decode(s.trim()).ok()?;
        Some(Digest(v.try_into().ok()?))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate() {
        let a = Digest::of(DOMAIN_ORDER, b"x");
        let b = Digest::of(DOMAIN_VOTE, b"x");
        assert_ne!(a, b);
        assert_eq!(a, Digest::of(DOMAIN_ORDER, b"x"));
        assert_eq!(Digest::from_hex(&a.to_hex()), Some(a));
        let all = [
            DOMAIN_ORDER,
            DOMAIN_VOTE,
            DOMAIN_RECEIPT,
            DOMAIN_QUERY_REPLY,
            DOMAIN_CERTIFICATE,
            DOMAIN_POLICY,
            DOMAIN_CONTROLLER_TAG,
            DOMAIN_SNAPSHOT_COMMITTEE,
            DOMAIN_HEARTBEAT,
            DOMAIN_SYNC,
            DOMAIN_WITHDRAWAL,
            DOMAIN_WITHDRAWAL_CERTIFICATE,
            DOMAIN_FUNDING,
            DOMAIN_SETTLEMENT,
            DOMAIN_DEPOSIT_REFERENCE,
            DOMAIN_HANDOFF,
            DOMAIN_HANDOFF_CERTIFICATE,
        ];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
