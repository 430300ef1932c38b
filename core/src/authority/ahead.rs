//! Signature checks made ahead of the state machine: a runtime verifies the order or the
//! certificate of a request on its own thread, outside whatever lock guards the authority, then
//! hands the verdict to [`Authority::handle_envelope_with`] under the lock. The authority asks
//! only for what it needs (a retransmission of the locked order needs nothing); a message the
//! verdict is not for is checked on the spot, so a wrong hand-over can cost time, never safety.
//!
//! Under load a runtime checks the requests that arrived together in one ed25519 batch
//! ([`CheckedAhead::batch`]; a bad signature is still refused alone, see [`SignedItems`]) and
//! signs the votes and receipts ahead as well ([`CheckedAhead::presign`]), so that only the
//! bookkeeping is left for the lock, and verifying and signing run on every core at once.

use crate::committee::Committee;
use crate::digest::Digest;
use crate::envelope::{Envelope, Message};
use crate::error::Rejection;
use crate::keys::Keypair;
use crate::messages::{Certificate, Receipt, SignedItems, SignedOrder, Verified, Vote};

use super::{Authority, SignatureCheck};

/// The verdict on one request's signatures, made ahead.
#[derive(Debug, Clone, Default)]
pub struct CheckedAhead {
    order: Option<(Digest, Result<Verified<SignedOrder>, Rejection>)>,
    certificate: Option<(Digest, Result<Verified<Certificate>, Rejection>)>,
    vote: Option<Vote>,
    receipt: Option<Receipt>,
}

impl CheckedAhead {
    /// Checks the signatures of `env`'s order or certificate (against `committee`). A caller
    /// that knows the order is a retransmission of the locked one ([`Authority::is_locked_to`])
    /// can skip this and hand over [`CheckedAhead::default`].
    pub fn envelope(env: &Envelope, committee: &Committee) -> Self {
        match &env.message {
            Message::Order(order) => CheckedAhead {
                order: Some((order.digest(), order.verify())),
                ..CheckedAhead::default()
            },
            Message::Certificate(c) => CheckedAhead {
                certificate: Some((c.digest(), c.clone().verify(committee))),
                ..CheckedAhead::default()
            },
            _ => CheckedAhead::default(),
        }
    }

    /// The verdicts for `envs` (in order), their orders' and certificates' signatures checked
    /// in one batch. `None` in `envs` (a request that needs no check) gets an empty verdict.
    pub fn batch(envs: &[Option<&Envelope>], committee: &Committee) -> Vec<CheckedAhead> {
        let mut items = SignedItems::default();
        let mut ranges = Vec::new();
        // What each envelope awaits: its structural verdict, and its items' place in `ranges`.
        let mut pending: Vec<Option<(Result<(), Rejection>, usize)>> = Vec::new();
        for env in envs {
            let structural = match env.map(|e| &e.message) {
                Some(Message::Order(o)) => Some(o.signed_items()),
                Some(Message::Certificate(c)) => Some(c.signed_items(committee)),
                _ => None,
            };
            pending.push(structural.map(|r| match r {
                Ok(own) => {
                    ranges.push(items.append(own));
                    (Ok(()), ranges.len() - 1)
                }
                Err(e) => (Err(e), usize::MAX),
            }));
        }
        let good = items.verify_messages(&ranges);
        envs.iter()
            .zip(pending)
            .map(|(env, p)| {
                let (Some(env), Some((structural, at))) = (env, p) else {
                    return CheckedAhead::default();
                };
                let verdict = structural.and_then(|()| {
                    if good[at] {
                        Ok(())
                    } else {
                        Err(Rejection::BadSignature)
                    }
                });
                match &env.message {
                    Message::Order(o) => CheckedAhead {
                        order: Some((o.digest(), verdict.map(|()| Verified(*o)))),
                        ..CheckedAhead::default()
                    },
                    Message::Certificate(c) => CheckedAhead {
                        certificate: Some((c.digest(), verdict.map(|()| Verified(c.clone())))),
                        ..CheckedAhead::default()
                    },
                    _ => CheckedAhead::default(),
                }
            })
            .collect()
    }

    /// Signs, with this authority's `key`, the vote for an order that verified and the receipt
    /// for applying a certificate that verified (its nonce is then the account's next, so the
    /// next sequence after it is the nonce + 1). Work done here, outside the authority's lock,
    /// is wasted only when the request turns out to be a repeat.
    pub fn presign(&mut self, key: &Keypair) {
        if let Some((_, Ok(o))) = &self.order {
            self.vote = Some(Vote::sign(o.digest(), o.order().nonce, key));
        }
        if let Some((_, Ok(c))) = &self.certificate {
            let (digest, nonce) = (c.order.digest(), c.order.order().nonce);
            self.receipt = Some(Receipt::sign(digest, nonce, true, nonce + 1, key));
        }
    }

    /// Whether what was checked ahead verified (`None`: nothing was).
    pub fn verified(&self) -> Option<bool> {
        match (&self.order, &self.certificate) {
            (Some((_, r)), _) => Some(r.is_ok()),
            (_, Some((_, r))) => Some(r.is_ok()),
            _ => None,
        }
    }
}

impl SignatureCheck for CheckedAhead {
    fn order(&mut self, order: SignedOrder) -> Result<Verified<SignedOrder>, Rejection> {
        match self.order.take() {
            Some((d, r)) if d == order.digest() => r,
            _ => order.verify(),
        }
    }

    fn certificate(
        &mut self,
        certificate: Certificate,
        committee: &Committee,
    ) -> Result<Verified<Certificate>, Rejection> {
        match self.certificate.take() {
            Some((d, r)) if d == certificate.digest() => r,
            _ => certificate.verify(committee),
        }
    }
    fn presigned_vote(&mut self, digest: &Digest, nonce: u64) -> Option<Vote> {
        self.vote
            .take()
            .filter(|v| v.order_digest == *digest && v.nonce == nonce)
    }
    fn presigned_receipt(&mut self, digest: &Digest, nonce: u64, next: u64) -> Option<Receipt> {
        self.receipt
            .take()
            .filter(|r| r.order_digest == *digest && r.nonce == nonce && r.next_sequence == next)
    }
}

impl Authority {
    /// Whether `order` is the order locked here for its nonce (its retransmission is answered
    /// with the stored vote, and needs no signature check).
    pub fn is_locked_to(&self, order: &SignedOrder) -> bool {
        self.account(&order.order().sender)
            .and_then(|a| a.pending.as_ref())
            .is_some_and(|p| p.order.digest() == order.digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::TransferOrder;
    use crate::testing::fixture;

    #[test]
    fn a_verdict_is_used_only_for_its_own_message() {
        let f = fixture(4, 2, 100);
        let mut authority = f.authority(0);
        let good = f.order(0, 1, 5, 0);
        let env = Envelope::order(good);
        let mut ahead = CheckedAhead::envelope(&env, &f.committee);
        assert_eq!(ahead.verified(), Some(true));
        // Handed over with another order, the verdict is not used: that one is checked.
        let forged = SignedOrder::sign(
            TransferOrder {
                sender: f.users[1].public(),
                ..*f.order(1, 0, 5, 0).order()
            },
            &f.users[0],
        );
        let h = authority.handle_envelope_with(Envelope::order(forged), 10, &mut ahead);
        assert_eq!(h.result, Err(Rejection::BadSignature));
        assert_eq!(authority.handle_envelope(env.clone(), 10).result, Ok(()));
        // The retransmission of a locked order needs no check.
        assert!(authority.is_locked_to(&good));
        assert_eq!(
            authority
                .handle_envelope_with(env.clone(), 10, &mut CheckedAhead::default())
                .result,
            Ok(())
        );
        let mut bad = CheckedAhead::envelope(&Envelope::order(forged), &f.committee);
        assert_eq!(bad.verified(), Some(false));
        assert_eq!(
            authority.handle_envelope_with(env, 10, &mut bad).result,
            Ok(())
        );
    }

    #[test]
    fn a_batch_refuses_a_bad_signature_alone() {
        let f = fixture(4, 8, 100);
        let mut authority = f.authority(0);
        let mut envs: Vec<Envelope> = (0..6)
            .map(|i| Envelope::order(f.order(i, 7, 5, 0)))
            .collect();
        // a forged order in the middle: user 6's order signed by user 0
        let forged = SignedOrder::sign(*f.order(6, 7, 5, 0).order(), &f.users[0]);
        envs.insert(3, Envelope::order(forged));
        let refs: Vec<Option<&Envelope>> = envs.iter().map(Some).chain([None]).collect();
        let mut verdicts = CheckedAhead::batch(&refs, &f.committee);
        assert_eq!(verdicts.len(), 8);
        let ok: Vec<Option<bool>> = verdicts.iter().map(CheckedAhead::verified).collect();
        assert_eq!(
            ok,
            [Some(true), Some(true), Some(true), Some(false)]
                .into_iter()
                .chain([Some(true), Some(true), Some(true), None])
                .collect::<Vec<_>>()
        );
        for (env, ahead) in envs.into_iter().zip(&mut verdicts) {
            let forged_one = matches!(&env.message, Message::Order(o) if *o == forged);
            let h = authority.handle_envelope_with(env, 10, ahead);
            if forged_one {
                assert_eq!(h.result, Err(Rejection::BadSignature));
            } else {
                assert_eq!(h.result, Ok(()));
            }
        }
    }

    #[test]
    fn presigned_votes_and_receipts_are_used_only_when_they_fit() {
        let f = fixture(4, 2, 100);
        let mut a0 = f.authority(0);
        let order = f.order(0, 1, 5, 0);
        let env = Envelope::order(order);
        // A presigned vote with the right fields is used as it is (here, to show it, one with
        // a blank signature).
        let mut ahead = CheckedAhead::envelope(&env, &f.committee);
        let blank = Vote {
            signature: crate::keys::Signature([0; 64]),
            ..Vote::sign(order.digest(), 0, &f.keys[0])
        };
        ahead.vote = Some(blank);
        let h = a0.handle_envelope_with(env.clone(), 10, &mut ahead);
        assert!(matches!(h.reply.map(|e| e.message), Some(Message::Vote(v)) if v == blank));
        // Another authority's presigned vote is ignored: the vote is signed here.
        let mut a1 = f.authority(1);
        let mut ahead = CheckedAhead::envelope(&env, &f.committee);
        ahead.presign(&f.keys[2]);
        let h = a1.handle_envelope_with(env, 10, &mut ahead);
        let right = Vote::sign(order.digest(), 0, &f.keys[1]);
        assert!(matches!(h.reply.map(|e| e.message), Some(Message::Vote(v)) if v == right));
        // The receipt for a certificate, presigned with the right key, is the one signed here.
        let votes: Vec<Vote> = f.keys[..3]
            .iter()
            .map(|k| Vote::sign(order.digest(), 0, k))
            .collect();
        let cert = Envelope::certificate(Certificate::new(order, &votes), 10);
        let mut ahead = CheckedAhead::batch(&[Some(&cert)], &f.committee).remove(0);
        ahead.presign(&f.keys[1]);
        assert!(ahead.receipt.is_some());
        let h = a1.handle_envelope_with(cert, 10, &mut ahead);
        let want = Receipt::sign(order.digest(), 0, true, 1, &f.keys[1]);
        assert!(matches!(h.reply.map(|e| e.message), Some(Message::Receipt(r)) if r == want));
        assert!(ahead.receipt.is_none(), "the presigned receipt was taken");
    }
}
