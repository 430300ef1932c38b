//! Certificates: a signed order of any kind ([`OwnedOrder`]) plus a quorum of authority votes,
//! checked in one batch verify.

use std::collections::BTreeMap;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::Digest;
use crate::error::Rejection;
use crate::keys::{AuthorityTag, Signature};
use crate::messages::owned::OwnedOrder;
use crate::messages::signed_items::SignedItems;
use crate::messages::vote::vote_digest;
use crate::messages::{SignedOrder, Verified, Vote};
use crate::planted::{self, PlantedBug};

/// One authority's signature inside a certificate (its vote without the repeated order digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignerEntry {
    pub authority: AuthorityTag,
    pub signature: Signature,
}

/// A signed order with the votes of authorities. Valid when the votes come from distinct
/// committee members whose weight reaches the quorum and every signature verifies.
///
/// Encoding: the signed order, a u8 count, then `count` × (tag, signature) in the order given
/// ([`Certificate::new`] sorts by tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Certificate<O = SignedOrder> {
    pub order: O,
    pub signatures: Vec<SignerEntry>,
}

impl<O: OwnedOrder> Certificate<O> {
    /// Builds a certificate from votes, sorted by authority tag, keeping one vote per authority.
    /// Votes are not checked here (see [`QuorumCollector`] or [`Certificate::check`]).
    pub fn new<'a>(order: O, votes: impl IntoIterator<Item = &'a Vote>) -> Certificate<O> {
        let map: BTreeMap<AuthorityTag, Signature> = votes
            .into_iter()
            .map(|v| (v.authority, v.signature))
            .collect();
        Certificate {
            order,
            signatures: map
                .into_iter()
                .map(|(authority, signature)| SignerEntry {
                    authority,
                    signature,
                })
                .collect(),
        }
    }
    /// The order digest (the same for every certificate of this order).
    pub fn order_digest(&self) -> Digest {
        self.order.digest()
    }
    /// Digest of this exact certificate encoding (order and signer set).
    pub fn digest(&self) -> Digest {
        Digest::of(O::CERTIFICATE_DOMAIN, &self.to_bytes())
    }
    /// Total committee weight of the signers (counting each member once; unknown signers 0).
    pub fn weight(&self, committee: &Committee) -> u64 {
        let mut seen = vec![false; committee.len()];
        let mut w = 0u64;
        for e in &self.signatures {
            if let Some(i) = committee.index_of(&e.authority)
                && !seen[i]
            {
                seen[i] = true;
                w = w.saturating_add(committee.members()[i].weight());
            }
        }
        w
    }
    /// Checks the certificate against `committee`: no unknown or repeated signer, weight at
    /// least the quorum, a valid order, and all vote signatures plus the sender's signature
    /// correct — one ed25519 batch verification.
    pub fn check(&self, committee: &Committee) -> Result<(), Rejection> {
        self.signed_items(committee)?.verify_all()
    }
    /// The certificate's checks that need no signature (no unknown or repeated signer, weight
    /// at least the quorum, a valid order), then the signatures to verify: every vote and the
    /// owner's. A runtime can verify them together with other messages' in one batch
    /// ([`SignedItems`]).
    pub fn signed_items(&self, committee: &Committee) -> Result<SignedItems, Rejection> {
        let mut seen = vec![false; committee.len()];
        let mut weight = 0u64;
        for e in &self.signatures {
            let i = committee
                .index_of(&e.authority)
                .ok_or(Rejection::UnknownSigner(e.authority))?;
            if std::mem::replace(&mut seen[i], true)
                && !planted::active(PlantedBug::CountSignerTwice)
            {
                return Err(Rejection::RepeatedSigner(e.authority));
            }
            weight = weight.saturating_add(committee.members()[i].weight());
        }
        if weight < committee.quorum() {
            return Err(Rejection::BelowQuorum {
                weight,
                quorum: committee.quorum(),
            });
        }
        self.order.check_valid()?;
        let nonce = self.order.nonce();
        let sender = self
            .order
            .owner()
            .verifying_key()
            .map_err(|_| Rejection::BadSignature)?;
        let order_digest = self.order.digest();
        let mut items = SignedItems::with_capacity(self.signatures.len() + 1);
        for e in &self.signatures {
            // Present: checked in the loop above.
            if let Some(m) = committee.member(&e.authority) {
                items.push(
                    vote_digest(&order_digest, nonce, &e.authority),
                    e.signature,
                    *m.verifying_key(),
                );
            }
        }
        items.push(order_digest, *self.order.signature(), sender);
        Ok(items)
    }
    /// [`Certificate::check`], returning the certificate marked as verified.
    pub fn verify(self, committee: &Committee) -> Result<Verified<Certificate<O>>, Rejection> {
        self.check(committee)?;
        Ok(Verified(self))
    }
}

impl<O: OwnedOrder> Encode for Certificate<O> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order.encode_to(out);
        let n = self.signatures.len().min(u8::MAX as usize);
        out.put_u8(n as u8);
        for e in &self.signatures[..n] {
            e.authority.encode_to(out);
            e.signature.encode_to(out);
        }
    }
    fn encoded_len(&self) -> usize {
        self.order.encoded_len() + 1 + self.signatures.len().min(u8::MAX as usize) * (8 + 64)
    }
}

impl<O: OwnedOrder> Decode for Certificate<O> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let order = O::decode_from(r)?;
        let n = r.u8()? as usize;
        if r.remaining() < n * 72 {
            return Err(DecodeError::Truncated {
                needed: n * 72,
                available: r.remaining(),
            });
        }
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push(SignerEntry {
                authority: AuthorityTag::decode_from(r)?,
                signature: Signature::decode_from(r)?,
            });
        }
        Ok(Certificate { order, signatures })
    }
}

/// Gathers votes for one order until their weight reaches the quorum (the wallet's side).
#[derive(Debug, Clone)]
pub struct QuorumCollector<O = SignedOrder> {
    order: O,
    quorum: u64,
    weight: u64,
    votes: BTreeMap<AuthorityTag, Vote>,
}

impl<O: OwnedOrder> QuorumCollector<O> {
    /// Starts collecting votes for `order` under `committee`.
    pub fn new(order: O, committee: &Committee) -> QuorumCollector<O> {
        QuorumCollector {
            order,
            quorum: committee.quorum(),
            weight: 0,
            votes: BTreeMap::new(),
        }
    }
    /// Verifies and adds a vote. Returns whether the quorum is reached. A vote for another
    /// order is refused as [`Rejection::ConflictingOrder`]; a second vote from the same
    /// authority is ignored.
    pub fn add(&mut self, vote: &Vote, committee: &Committee) -> Result<bool, Rejection> {
        if vote.order_digest != self.order.digest() || vote.nonce != self.order.nonce() {
            return Err(Rejection::ConflictingOrder {
                nonce: vote.nonce,
                locked: vote.order_digest,
            });
        }
        if !self.votes.contains_key(&vote.authority) {
            vote.verify(committee)?;
            self.weight = self
                .weight
                .saturating_add(committee.weight(&vote.authority));
            self.votes.insert(vote.authority, *vote);
        }
        Ok(self.has_quorum())
    }
    /// Adds several votes, their signatures checked in one batch ([`Vote::verify_each`]): the
    /// verdict for each, in order, as [`QuorumCollector::add`] would give it (a second vote from
    /// an authority already counted is accepted and ignored).
    pub fn add_each(
        &mut self,
        votes: &[Vote],
        committee: &Committee,
    ) -> Vec<Result<(), Rejection>> {
        let digest = self.order.digest();
        let nonce = self.order.nonce();
        let matches = |v: &Vote| v.order_digest == digest && v.nonce == nonce;
        let mut seen = std::collections::BTreeSet::new();
        let fresh: Vec<Vote> = votes
            .iter()
            .filter(|v| {
                matches(v) && !self.votes.contains_key(&v.authority) && seen.insert(v.authority)
            })
            .copied()
            .collect();
        let verdicts: BTreeMap<AuthorityTag, (Vote, Result<(), Rejection>)> = fresh
            .iter()
            .map(|v| v.authority)
            .zip(
                fresh
                    .iter()
                    .copied()
                    .zip(Vote::verify_each(&fresh, committee)),
            )
            .collect();
        votes
            .iter()
            .map(|v| {
                if !matches(v) {
                    return Err(Rejection::ConflictingOrder {
                        nonce: v.nonce,
                        locked: v.order_digest,
                    });
                }
                if self.votes.contains_key(&v.authority) {
                    return Ok(());
                }
                match verdicts.get(&v.authority) {
                    Some((vote, Ok(()))) => {
                        self.weight = self
                            .weight
                            .saturating_add(committee.weight(&vote.authority));
                        self.votes.insert(vote.authority, *vote);
                        Ok(())
                    }
                    Some((_, Err(e))) => Err(e.clone()),
                    None => Ok(()),
                }
            })
            .collect()
    }
    /// Weight of the votes so far.
    pub fn weight(&self) -> u64 {
        self.weight
    }
    /// Whether the votes reach the quorum.
    pub fn has_quorum(&self) -> bool {
        self.weight >= self.quorum
    }
    /// The authorities that voted.
    pub fn voters(&self) -> impl Iterator<Item = &AuthorityTag> {
        self.votes.keys()
    }
    /// The order being certified.
    pub fn order(&self) -> &O {
        &self.order
    }
    /// The certificate, once the quorum is reached.
    pub fn certificate(&self) -> Option<Certificate<O>> {
        self.has_quorum()
            .then(|| Certificate::new(self.order.clone(), self.votes.values()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use crate::messages::{DEFAULT_TOKEN, TransferOrder};
    use crate::testing::{authority_keys, committee_of};

    #[test]
    fn collector_reaches_quorum_and_refuses_foreign_votes() {
        let keys = authority_keys(4, 40);
        let c = committee_of(&keys, 1);
        let payer = Keypair::from_seed(&[1; 32]);
        let mk = |amount| {
            SignedOrder::sign(
                TransferOrder {
                    sender: payer.public(),
                    recipient: keys[0].public(),
                    token: DEFAULT_TOKEN,
                    amount,
                    nonce: 0,
                    epoch: 0,
                    ttl: 1,
                },
                &payer,
            )
        };
        let (o, other) = (mk(5), mk(6));
        // The same rules for votes checked together, a bad one refused alone.
        let mut b = QuorumCollector::new(o, &c);
        let mut bad = Vote::sign(o.digest(), 0, &keys[2]);
        bad.signature.0[5] ^= 4;
        let stranger = Vote::sign(o.digest(), 0, &Keypair::from_seed(&[99; 32]));
        let batch = [
            Vote::sign(o.digest(), 0, &keys[0]),
            Vote::sign(other.digest(), 0, &keys[1]),
            bad,
            Vote::sign(o.digest(), 0, &keys[0]),
            stranger,
            Vote::sign(o.digest(), 0, &keys[3]),
        ];
        let verdicts = b.add_each(&batch, &c);
        assert_eq!(verdicts[0], Ok(()));
        assert!(matches!(
            verdicts[1],
            Err(Rejection::ConflictingOrder { .. })
        ));
        assert_eq!(verdicts[2], Err(Rejection::BadSignature));
        assert_eq!(verdicts[3], Ok(()));
        assert_eq!(
            verdicts[4],
            Err(Rejection::UnknownSigner(stranger.authority))
        );
        assert_eq!(verdicts[5], Ok(()));
        assert_eq!(b.weight(), 2);
        assert_eq!(
            b.add_each(&[Vote::sign(o.digest(), 0, &keys[1])], &c),
            vec![Ok(())]
        );
        b.certificate().unwrap().check(&c).unwrap();
        let mut q = QuorumCollector::new(o, &c);
        assert!(!q.add(&Vote::sign(o.digest(), 0, &keys[0]), &c).unwrap());
        // Duplicate votes do not add weight.
        assert!(!q.add(&Vote::sign(o.digest(), 0, &keys[0]), &c).unwrap());
        assert!(matches!(
            q.add(&Vote::sign(other.digest(), 0, &keys[1]), &c),
            Err(Rejection::ConflictingOrder { .. })
        ));
        let mut forged = Vote::sign(o.digest(), 0, &keys[1]);
        forged.signature.0[0] ^= 1;
        assert_eq!(q.add(&forged, &c), Err(Rejection::BadSignature));
        assert_eq!(q.weight(), 1);
        assert!(q.certificate().is_none());
        assert!(!q.add(&Vote::sign(o.digest(), 0, &keys[1]), &c).unwrap());
        assert!(q.add(&Vote::sign(o.digest(), 0, &keys[3]), &c).unwrap());
        let cert = q.certificate().unwrap();
        assert_eq!(cert.weight(&c), 3);
        cert.check(&c).unwrap();
        let bytes = cert.to_bytes();
        assert_eq!(bytes.len(), cert.encoded_len());
        assert_eq!(Certificate::from_bytes(&bytes).unwrap(), cert);
        // Tags are sorted.
        assert!(
            cert.signatures
                .windows(2)
                .all(|w| w[0].authority < w[1].authority)
        );
        // A count that promises more entries than there are bytes is a truncation.
        let mut short = bytes.clone();
        short.truncate(bytes.len() - 1);
        assert!(matches!(
            Certificate::<SignedOrder>::from_bytes(&short),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
