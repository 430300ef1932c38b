//! Handoff at the authority: an account leaving this committee for a neighbour, and an
//! account arriving from one.
//!
//! - **HANDOFF order**: it must leave this committee (`from` is this committee's identity) for
//!   a neighbour the committee file names (`to`); then the checks and the lock of every
//!   owner-signed order (one lock per nonce, whatever the kind), and the stated balances must
//!   be covered. A moved account may still hand off: that sweeps what was credited to it here
//!   after it left.
//! - **HANDOFF_CERTIFICATE of this committee** (the account leaves): the sequence and funds
//!   checks, one batch verify against this committee, then the stated balances are debited,
//!   the sequence advances, and the account is marked moved: transfers and withdrawals are
//!   refused from then on (`AccountMoved`). Credits to it still apply (a certificate is never
//!   refused for its recipient) and stay here until a further handoff sweeps them.
//! - **HANDOFF_CERTIFICATE of a neighbour** (the account arrives): one batch verify against
//!   the neighbour's committee; each handoff arrives once (its order digest is remembered);
//!   the stated balances are credited, the account's next nonce becomes at least the
//!   handoff's nonce + 1 (so nothing signed before the move can be replayed here), a stale
//!   lock below it is dropped, and a moved mark is cleared (the account is served here again).
//! - Anything else (a certificate naming neither this committee as `from` nor as `to`, or a
//!   neighbour this committee does not know) is refused as `WrongCommittee`.

use super::{Authority, Outcome, SignatureCheck, StateChange};
use crate::error::Rejection;
use crate::messages::{HandoffCertificate, OwnedOrder, Receipt, SignedHandoff, Verified, Vote};

/// Which side of a handoff this authority is on.
enum Side {
    Leaving,
    Arriving,
}

impl Authority {
    /// Handles a HANDOFF order: this committee must be the one the account leaves and the
    /// destination a known neighbour; then the common checks and lock, and a vote.
    pub fn handle_handoff_with(
        &mut self,
        order: SignedHandoff,
        current_epoch: u32,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Vote>, Rejection> {
        let o = order.order();
        if o.from != self.committee.id() || self.committee.neighbour(&o.to).is_none() {
            return Err(Rejection::WrongCommittee);
        }
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        let verified = check.handoff(order)?;
        self.lock(verified, current_epoch)
    }

    fn side(&self, certificate: &HandoffCertificate) -> Result<Side, Rejection> {
        let o = certificate.order.order();
        let me = self.committee.id();
        if o.from == me && self.committee.neighbour(&o.to).is_some() {
            Ok(Side::Leaving)
        } else if o.to == me && self.committee.neighbour(&o.from).is_some() {
            Ok(Side::Arriving)
        } else {
            Err(Rejection::WrongCommittee)
        }
    }

    /// Handles a HANDOFF_CERTIFICATE, on whichever side of the handoff this committee is.
    pub fn handle_handoff_certificate_with(
        &mut self,
        certificate: HandoffCertificate,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Receipt>, Rejection> {
        match self.side(&certificate)? {
            Side::Leaving => {
                self.precheck_spend(&certificate.order)?;
                let committee = self.committee.clone();
                let verified = check.handoff_certificate(certificate, &committee)?;
                self.hand_out(verified)
            }
            Side::Arriving => {
                self.precheck_hand_in(&certificate)?;
                let from = certificate.order.order().from;
                // Present: `side` found it.
                let Some(n) = self.committee.neighbour(&from) else {
                    return Err(Rejection::WrongCommittee);
                };
                let committee = n.committee.clone();
                let verified = check.handoff_certificate(certificate, &committee)?;
                self.hand_in(verified)
            }
        }
    }

    fn hand_out(
        &mut self,
        certificate: Verified<HandoffCertificate>,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let digest = OwnedOrder::digest(&certificate.order);
        let nonce = certificate.order.nonce();
        let account = *certificate.order.owner();
        if !self.precheck_spend(&certificate.order)? {
            return Ok(self.repeat_receipt(digest, nonce, &account));
        }
        let next = self.apply_hand_out(&certificate.order);
        Ok(Outcome {
            reply: Receipt::sign(digest, nonce, true, next, &self.key),
            persist: Some(StateChange::HandOut {
                certificate: certificate.into_inner(),
            }),
        })
    }

    /// Debits the stated balances, advances the sequence, clears the lock, marks the account
    /// moved. The caller checked sequence and funds. Returns the new next sequence.
    pub(super) fn apply_hand_out(&mut self, order: &SignedHandoff) -> u64 {
        let o = order.order();
        let account = self.accounts.entry(o.account).or_default();
        for (t, a) in &o.balances {
            *account.balances.entry(*t).or_default() -= a;
        }
        account.next_sequence += 1;
        account.pending = None;
        account.moved = Some(o.to);
        let next = account.next_sequence;
        for (t, a) in &o.balances {
            self.flows.add_handed_out(*t, *a);
        }
        next
    }

    /// Whether an arriving handoff applies now (`Ok(true)`) or arrived before (`Ok(false)`).
    pub(super) fn precheck_hand_in(
        &self,
        certificate: &HandoffCertificate,
    ) -> Result<bool, Rejection> {
        let digest = OwnedOrder::digest(&certificate.order);
        if self.flows.arrivals.contains(&digest) {
            return Ok(false);
        }
        let o = certificate.order.order();
        let account = self.accounts.get(&o.account);
        for (t, a) in &o.balances {
            let have = account.map_or(0, |s| s.balance(*t));
            if have.checked_add(*a).is_none() {
                return Err(Rejection::InvalidOrder("account balance would overflow"));
            }
        }
        Ok(true)
    }

    fn hand_in(
        &mut self,
        certificate: Verified<HandoffCertificate>,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let digest = OwnedOrder::digest(&certificate.order);
        let nonce = certificate.order.nonce();
        let account = *certificate.order.owner();
        if !self.precheck_hand_in(&certificate)? {
            return Ok(self.repeat_receipt(digest, nonce, &account));
        }
        let next = self.apply_hand_in(&certificate.order);
        Ok(Outcome {
            reply: Receipt::sign(digest, nonce, true, next, &self.key),
            persist: Some(StateChange::HandIn {
                certificate: certificate.into_inner(),
            }),
        })
    }

    /// Credits the stated balances and opens the account at the nonce after the handoff's
    /// (or keeps its own, if higher). Returns the account's next sequence.
    pub(super) fn apply_hand_in(&mut self, order: &SignedHandoff) -> u64 {
        let o = order.order();
        let account = self.accounts.entry(o.account).or_default();
        for (t, a) in &o.balances {
            *account.balances.entry(*t).or_default() += a;
        }
        account.next_sequence = account.next_sequence.max(o.nonce.saturating_add(1));
        if account
            .pending
            .as_ref()
            .is_some_and(|p| p.order.nonce() < account.next_sequence)
        {
            account.pending = None;
        }
        account.moved = None;
        let next = account.next_sequence;
        for (t, a) in &o.balances {
            self.flows.add_handed_in(*t, *a);
        }
        self.flows.arrivals.insert(OwnedOrder::digest(order));
        next
    }
}
