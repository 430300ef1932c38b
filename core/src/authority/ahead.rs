//! Signature checks made ahead of the state machine: a runtime verifies the order or the
//! certificate of a request on its own thread, outside whatever lock guards the authority, then
//! hands the verdict to [`Authority::handle_envelope_with`] under the lock. The authority asks
//! only for what it needs (a retransmission of the locked order needs nothing); a message the
//! verdict is not for is checked on the spot, so a wrong hand-over can cost time, never safety.

use crate::committee::Committee;
use crate::digest::Digest;
use crate::envelope::{Envelope, Message};
use crate::error::Rejection;
use crate::messages::{Certificate, SignedOrder, Verified};

use super::{Authority, SignatureCheck};

/// The verdict on one request's signatures, made ahead.
#[derive(Debug, Clone, Default)]
pub struct CheckedAhead {
    order: Option<(Digest, Result<Verified<SignedOrder>, Rejection>)>,
    certificate: Option<(Digest, Result<Verified<Certificate>, Rejection>)>,
}

impl CheckedAhead {
    /// Checks the signatures of `env`'s order or certificate (against `committee`). A caller
    /// that knows the order is a retransmission of the locked one ([`Authority::is_locked_to`])
    /// can skip this and hand over [`CheckedAhead::default`].
    pub fn envelope(env: &Envelope, committee: &Committee) -> Self {
        match &env.message {
            Message::Order(order) => CheckedAhead {
                order: Some((order.digest(), order.verify())),
                certificate: None,
            },
            Message::Certificate(c) => CheckedAhead {
                order: None,
                certificate: Some((c.digest(), c.clone().verify(committee))),
            },
            _ => CheckedAhead::default(),
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
}
