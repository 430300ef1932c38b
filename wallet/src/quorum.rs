//! One quorum round of the payment protocol as a sans-IO state machine: the request goes to
//! every authority, silent ones get it again every retry interval, replies are checked and
//! weighed until a quorum accepts, the quorum is out of reach, or the phase times out.
//!
//! The same round serves both phases: [`QuorumRound::votes`] (ORDER → votes → certificate)
//! and [`QuorumRound::receipts`] (CERTIFICATE → receipts). It does no I/O and reads no clock:
//! the caller passes the time (any monotonic origin), sends what [`Step::Send`] asks for with a
//! fresh retry number, and feeds every reply to [`QuorumRound::on_reply`]. The async drivers in
//! [`crate::pay`] run it over a [`crate::CommitteeClient`]; the simulator runs it in virtual
//! time.

use std::time::Duration;

use flashmesh_core::Committee;
use flashmesh_core::digest::Digest;
use flashmesh_core::envelope::Message;
use flashmesh_core::error::ErrorCode;
use flashmesh_core::keys::AuthorityTag;
use flashmesh_core::messages::{Certificate, QuorumCollector, Receipt, SignedOrder, Vote};
use flashmesh_core::wire::MsgType;

/// One authority's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The authority's name.
    pub authority: String,
    /// Why: the ERROR code, or `BadSignature` for a vote or receipt that did not verify.
    pub code: ErrorCode,
    /// The detail text of the ERROR (or a description of the bad reply).
    pub detail: String,
}

/// Timing of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Silence after which the request is sent again.
    pub retry_interval: Duration,
    /// Time allowed for the round.
    pub phase_timeout: Duration,
}

/// Which phase a round is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// ORDER out, votes back.
    Votes,
    /// CERTIFICATE out, receipts back.
    Receipts,
}

impl PhaseKind {
    /// "votes" or "receipts".
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::Votes => "votes",
            PhaseKind::Receipts => "receipts",
        }
    }
    fn request_type(self) -> MsgType {
        match self {
            PhaseKind::Votes => MsgType::Order,
            PhaseKind::Receipts => MsgType::Certificate,
        }
    }
}

/// What a finished round achieved.
#[derive(Debug, Clone)]
pub enum Reached {
    /// A quorum of votes: the certificate.
    Certificate(Certificate),
    /// A quorum of receipts.
    Receipts {
        /// Weight of the receipts.
        weight: u64,
        /// The sender's next sequence according to the receipts.
        next_sequence: u64,
    },
}

/// Why a round failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundError {
    /// Enough authorities refused that the quorum cannot be reached.
    Refused {
        /// Whether every authority refused (so none holds a lock on the order).
        by_all: bool,
    },
    /// The deadline passed before a quorum answered.
    Timeout {
        /// Weight gathered.
        weight: u64,
        /// Weight needed.
        quorum: u64,
    },
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the request, with a fresh retry number, to these authorities (committee indices).
    Send(Vec<usize>),
    /// Wait for replies until this time, then poll again.
    Wait(Duration),
    /// The round is over ([`QuorumRound::outcome`] has the result).
    Done,
}

/// What a reply did to the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// It counted toward the quorum (authority index).
    Accepted(usize),
    /// The authority refused, with this code.
    Refused(usize, ErrorCode),
    /// A signed answer held until enough have arrived to reach the quorum, when all held
    /// signatures are checked in one batch (authority index).
    Held(usize),
    /// Not for this round, from an unknown or already counted authority, or not a reply.
    Ignored,
}

/// Per-authority progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Waiting,
    /// Signed, not yet checked.
    Held,
    Accepted,
    Refused,
}

/// A signed answer waiting for the batch check.
#[derive(Debug, Clone, Copy)]
enum HeldReply {
    Vote(Vote),
    Receipt(Receipt),
}

impl HeldReply {
    fn vote(&self) -> Option<Vote> {
        match self {
            HeldReply::Vote(v) => Some(*v),
            HeldReply::Receipt(_) => None,
        }
    }
    fn receipt(&self) -> Option<Receipt> {
        match self {
            HeldReply::Receipt(r) => Some(*r),
            HeldReply::Vote(_) => None,
        }
    }
}

/// One round.
#[derive(Debug, Clone)]
pub struct QuorumRound {
    phase: PhaseKind,
    timing: Timing,
    tags: Vec<AuthorityTag>,
    names: Vec<String>,
    weights: Vec<u64>,
    quorum: u64,
    answers: Vec<Answer>,
    refusals: Vec<Refusal>,
    digest: Digest,
    nonce: u64,
    collector: Option<QuorumCollector>,
    committee: Committee,
    held: Vec<(usize, HeldReply)>,
    next_sequence: u64,
    started: Duration,
    next_retry: Option<Duration>,
    impossible_since: Option<Duration>,
    outcome: Option<Result<Reached, RoundError>>,
    sends: u32,
}

impl QuorumRound {
    fn new(
        phase: PhaseKind,
        committee: &Committee,
        digest: Digest,
        nonce: u64,
        timing: Timing,
        now: Duration,
    ) -> QuorumRound {
        let m = committee.members();
        QuorumRound {
            phase,
            timing,
            tags: m.iter().map(|m| m.tag()).collect(),
            names: m.iter().map(|m| m.name().to_string()).collect(),
            weights: m.iter().map(|m| m.weight()).collect(),
            quorum: committee.quorum(),
            answers: vec![Answer::Waiting; m.len()],
            refusals: Vec::new(),
            digest,
            nonce,
            collector: None,
            committee: committee.clone(),
            held: Vec::new(),
            next_sequence: nonce + 1,
            started: now,
            next_retry: None,
            impossible_since: None,
            outcome: None,
            sends: 0,
        }
    }

    /// The vote round for `order`.
    pub fn votes(
        order: SignedOrder,
        committee: &Committee,
        timing: Timing,
        now: Duration,
    ) -> QuorumRound {
        let mut r = Self::new(
            PhaseKind::Votes,
            committee,
            order.digest(),
            order.order().nonce,
            timing,
            now,
        );
        r.collector = Some(QuorumCollector::new(order, committee));
        r
    }

    /// The receipt round for `certificate`.
    pub fn receipts(
        certificate: &Certificate,
        committee: &Committee,
        timing: Timing,
        now: Duration,
    ) -> QuorumRound {
        Self::new(
            PhaseKind::Receipts,
            committee,
            certificate.order_digest(),
            certificate.order.order().nonce,
            timing,
            now,
        )
    }

    /// The phase.
    pub fn phase(&self) -> PhaseKind {
        self.phase
    }
    /// When the round started.
    pub fn started(&self) -> Duration {
        self.started
    }
    /// Refusals seen so far (not counted toward the quorum).
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }
    /// How many times the request went out (the first send included).
    pub fn sends(&self) -> u32 {
        self.sends
    }
    /// The result, once [`Step::Done`] was returned.
    pub fn outcome(&self) -> Option<&Result<Reached, RoundError>> {
        self.outcome.as_ref()
    }
    /// Authorities that have not answered (a finished round's stragglers).
    pub fn waiting(&self) -> Vec<usize> {
        (0..self.answers.len())
            .filter(|&i| self.answers[i] == Answer::Waiting)
            .collect()
    }

    fn weight_of(&self, which: Answer) -> u64 {
        self.answers
            .iter()
            .zip(&self.weights)
            .filter(|(a, _)| **a == which)
            .map(|(_, w)| *w)
            .sum()
    }

    fn accepted_weight(&self) -> u64 {
        match &self.collector {
            Some(c) => c.weight(),
            None => self.weight_of(Answer::Accepted),
        }
    }

    fn finish(&mut self, r: Result<Reached, RoundError>) -> Step {
        self.outcome = Some(r);
        Step::Done
    }

    /// Advances the round to `now`: what to do next.
    pub fn poll(&mut self, now: Duration) -> Step {
        if self.outcome.is_some() {
            return Step::Done;
        }
        let Some(next_retry) = self.next_retry else {
            self.next_retry = Some(now + self.timing.retry_interval);
            self.sends += 1;
            return Step::Send((0..self.answers.len()).collect());
        };
        let accepted = self.accepted_weight();
        if accepted >= self.quorum {
            let reached = match &self.collector {
                Some(c) => match c.certificate() {
                    Some(cert) => Reached::Certificate(cert),
                    None => unreachable_quorum(),
                },
                None => Reached::Receipts {
                    weight: accepted,
                    next_sequence: self.next_sequence,
                },
            };
            return self.finish(Ok(reached));
        }
        let total: u64 = self.weights.iter().sum();
        let refused = self.weight_of(Answer::Refused);
        let deadline = self.started + self.timing.phase_timeout;
        let mut wake = next_retry.min(deadline);
        if total - refused < self.quorum {
            let by_all = refused == total;
            match self.phase {
                // Give the others a few retry intervals to answer too: if everyone refused,
                // nobody holds a lock and the order can be dropped.
                PhaseKind::Votes => {
                    let since = *self.impossible_since.get_or_insert(now);
                    let grace = since + 3 * self.timing.retry_interval;
                    if by_all || now >= grace || now >= deadline {
                        return self.finish(Err(RoundError::Refused { by_all }));
                    }
                    wake = wake.min(grace);
                }
                PhaseKind::Receipts => return self.finish(Err(RoundError::Refused { by_all })),
            }
        } else {
            self.impossible_since = None;
        }
        if now >= deadline {
            // Report the weight that really verified.
            self.check_held();
            return self.finish(Err(RoundError::Timeout {
                weight: self.accepted_weight(),
                quorum: self.quorum,
            }));
        }
        if now >= next_retry {
            self.next_retry = Some(now + self.timing.retry_interval);
            self.sends += 1;
            return Step::Send(self.waiting());
        }
        Step::Wait(wake)
    }

    fn refuse(&mut self, i: usize, code: ErrorCode, detail: String) -> Heard {
        if self.answers[i] != Answer::Waiting {
            return Heard::Ignored;
        }
        self.answers[i] = Answer::Refused;
        self.refusals.push(Refusal {
            authority: self.names[i].clone(),
            code,
            detail,
        });
        Heard::Refused(i, code)
    }

    /// Takes one reply. `from` is the committee index of the authority whose address the
    /// datagram came from, if any: an ERROR counts only from the address of the authority it
    /// names (errors are unsigned); votes and receipts are signed and count by their signer.
    pub fn on_reply(&mut self, from: Option<usize>, message: &Message) -> Heard {
        if self.outcome.is_some() {
            return Heard::Ignored;
        }
        let by_tag = |tag: &AuthorityTag| self.tags.iter().position(|t| t == tag);
        match (self.phase, message) {
            (PhaseKind::Votes, Message::Vote(v))
                if v.order_digest == self.digest && v.nonce == self.nonce =>
            {
                let Some(i) = by_tag(&v.authority) else {
                    return Heard::Ignored;
                };
                if self.answers[i] != Answer::Waiting {
                    return Heard::Ignored;
                }
                if self.collector.is_none() {
                    return Heard::Ignored;
                }
                self.hold(i, HeldReply::Vote(*v))
            }
            (PhaseKind::Receipts, Message::Receipt(r))
                if r.order_digest == self.digest && r.nonce == self.nonce =>
            {
                let Some(i) = by_tag(&r.authority) else {
                    return Heard::Ignored;
                };
                if self.answers[i] != Answer::Waiting {
                    return Heard::Ignored;
                }
                self.hold(i, HeldReply::Receipt(*r))
            }
            (_, Message::Error(err))
                if err.nonce == self.nonce
                    && err.request_type == self.phase.request_type().to_u8() =>
            {
                match from {
                    Some(i) if self.tags.get(i) == Some(&err.authority) => {
                        self.refuse(i, err.code, err.detail.clone())
                    }
                    _ => Heard::Ignored,
                }
            }
            _ => Heard::Ignored,
        }
    }

    /// Holds authority `i`'s signed answer; once the held and the accepted answers together
    /// reach the quorum, checks them all ([`QuorumRound::check_held`]).
    fn hold(&mut self, i: usize, reply: HeldReply) -> Heard {
        self.answers[i] = Answer::Held;
        self.held.push((i, reply));
        if self.accepted_weight() + self.weight_of(Answer::Held) >= self.quorum {
            self.check_held();
        }
        match self.answers[i] {
            Answer::Accepted => Heard::Accepted(i),
            Answer::Refused => Heard::Refused(i, ErrorCode::BadSignature),
            _ => Heard::Held(i),
        }
    }

    /// Checks the signatures of every held answer in one batch (single checks only if the
    /// batch fails): the good ones count, the bad ones are refusals.
    fn check_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        // A round holds one kind: votes while it collects a certificate, receipts otherwise.
        let (verdicts, what) = match self.collector.as_mut() {
            Some(c) => {
                let votes: Vec<Vote> = held.iter().filter_map(|(_, r)| r.vote()).collect();
                (c.add_each(&votes, &self.committee), "vote")
            }
            None => {
                let receipts: Vec<Receipt> = held.iter().filter_map(|(_, r)| r.receipt()).collect();
                (Receipt::verify_each(&receipts, &self.committee), "receipt")
            }
        };
        for ((i, reply), verdict) in held.into_iter().zip(verdicts) {
            self.answers[i] = Answer::Waiting;
            match verdict {
                Ok(()) => {
                    self.answers[i] = Answer::Accepted;
                    if let Some(r) = reply.receipt() {
                        self.next_sequence = self.next_sequence.max(r.next_sequence);
                    }
                }
                Err(e) => {
                    self.refuse(i, e.code(), format!("invalid {what}: {e}"));
                }
            }
        }
    }

    /// The authorities whose answers count toward the quorum.
    pub fn accepted(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.answers.len()).filter(|&i| self.answers[i] == Answer::Accepted)
    }

    /// Forgets authority `i`'s refusal, so that it is asked again and its next answer counts
    /// (after the caller brought it up to date, e.g. by pushing the certificates it missed).
    pub fn forget(&mut self, i: usize) {
        if self.answers.get(i) == Some(&Answer::Refused) {
            self.answers[i] = Answer::Waiting;
            let name = &self.names[i];
            if let Some(p) = self.refusals.iter().rposition(|r| &r.authority == name) {
                self.refusals.remove(p);
            }
        }
    }
}

#[cold]
fn unreachable_quorum() -> ! {
    unreachable!("the collector's weight reached the quorum, so it has a certificate")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::messages::{ErrorMessage, TransferOrder};
    use flashmesh_core::testing::{authority_keys, committee_of};
    use flashmesh_core::{DEFAULT_TOKEN, Keypair, Rejection};

    fn committee(n: u8) -> (Committee, Vec<Keypair>) {
        let keys = authority_keys(usize::from(n), 1);
        (committee_of(&keys, 40000), keys)
    }

    fn order() -> SignedOrder {
        let alice = Keypair::from_seed(&[90; 32]);
        SignedOrder::sign(
            TransferOrder {
                sender: alice.public(),
                recipient: Keypair::from_seed(&[91; 32]).public(),
                token: DEFAULT_TOKEN,
                amount: 5,
                nonce: 0,
                epoch: 1,
                ttl: 2,
            },
            &alice,
        )
    }

    const T: Timing = Timing {
        retry_interval: Duration::from_millis(100),
        phase_timeout: Duration::from_millis(1000),
    };

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn quorum_of_votes_makes_a_certificate() {
        let (c, keys) = committee(4);
        let o = order();
        let mut r = QuorumRound::votes(o, &c, T, ms(0));
        assert_eq!(r.poll(ms(0)), Step::Send(vec![0, 1, 2, 3]));
        assert_eq!(r.poll(ms(10)), Step::Wait(ms(100)));
        for k in &keys[..3] {
            let v = Message::Vote(Vote::sign(o.digest(), 0, k));
            // Held until three together reach the quorum, then checked in one batch.
            assert!(matches!(
                r.on_reply(None, &v),
                Heard::Accepted(_) | Heard::Held(_)
            ));
        }
        assert_eq!(r.poll(ms(20)), Step::Done);
        let Some(Ok(Reached::Certificate(cert))) = r.outcome() else {
            panic!("no certificate: {:?}", r.outcome())
        };
        assert!(cert.check(&c).is_ok());
        assert_eq!(r.waiting(), vec![3]);
    }

    #[test]
    fn a_bad_signature_in_the_batch_is_refused_alone() {
        let (c, keys) = committee(4);
        let o = order();
        let mut r = QuorumRound::votes(o, &c, T, ms(0));
        r.poll(ms(0));
        // Authority 0's tag with authority 3's signature.
        let mut forged = Vote::sign(o.digest(), 0, &keys[3]);
        forged.authority = keys[0].tag();
        assert_eq!(r.on_reply(None, &Message::Vote(forged)), Heard::Held(0));
        for k in &keys[1..2] {
            let v = Message::Vote(Vote::sign(o.digest(), 0, k));
            assert_eq!(r.on_reply(None, &v), Heard::Held(1));
        }
        // The third makes a possible quorum: the batch fails, single checks find authority 0.
        let v = Message::Vote(Vote::sign(o.digest(), 0, &keys[2]));
        assert_eq!(r.on_reply(None, &v), Heard::Accepted(2));
        assert_eq!(r.accepted().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(r.refusals().len(), 1);
        assert_eq!(r.refusals()[0].authority, "a0");
        assert_eq!(r.refusals()[0].code, ErrorCode::BadSignature);
        assert_eq!(r.poll(ms(20)), Step::Wait(ms(100)));
        let v = Message::Vote(Vote::sign(o.digest(), 0, &keys[3]));
        assert_eq!(r.on_reply(None, &v), Heard::Accepted(3));
        assert_eq!(r.poll(ms(30)), Step::Done);
        let Some(Ok(Reached::Certificate(cert))) = r.outcome() else {
            panic!("no certificate: {:?}", r.outcome())
        };
        assert!(cert.check(&c).is_ok());
    }

    #[test]
    fn silent_authorities_are_asked_again_then_time_out() {
        let (c, keys) = committee(4);
        let o = order();
        let mut r = QuorumRound::votes(o, &c, T, ms(0));
        r.poll(ms(0));
        let v = Message::Vote(Vote::sign(o.digest(), 0, &keys[1]));
        r.on_reply(None, &v);
        assert_eq!(r.poll(ms(100)), Step::Send(vec![0, 2, 3]));
        assert_eq!(r.sends(), 2);
        assert_eq!(r.poll(ms(1000)), Step::Done);
        assert_eq!(
            r.outcome().unwrap().as_ref().unwrap_err(),
            &RoundError::Timeout {
                weight: 1,
                quorum: 3
            }
        );
    }

    #[test]
    fn errors_count_only_from_the_authority_they_name() {
        let (c, keys) = committee(4);
        let o = order();
        let mut r = QuorumRound::votes(o, &c, T, ms(0));
        r.poll(ms(0));
        let err = |i: usize| {
            Message::Error(ErrorMessage::from_rejection(
                &Rejection::UnknownAccount,
                Some(MsgType::Order),
                0,
                keys[i].tag(),
            ))
        };
        assert_eq!(r.on_reply(Some(0), &err(1)), Heard::Ignored);
        assert_eq!(r.on_reply(None, &err(1)), Heard::Ignored);
        assert!(matches!(r.on_reply(Some(1), &err(1)), Heard::Refused(1, _)));
        r.on_reply(Some(2), &err(2));
        // Two of four refused: the quorum of three is out of reach, after a grace period.
        assert!(matches!(r.poll(ms(10)), Step::Wait(_)));
        assert_eq!(r.poll(ms(310)), Step::Done);
        assert_eq!(
            r.outcome().unwrap().as_ref().unwrap_err(),
            &RoundError::Refused { by_all: false }
        );
    }

    #[test]
    fn refused_by_all_ends_at_once_and_forget_reopens() {
        let (c, keys) = committee(4);
        let o = order();
        let mut r = QuorumRound::votes(o, &c, T, ms(0));
        r.poll(ms(0));
        for (i, k) in keys.iter().enumerate().take(3) {
            let e = ErrorMessage::from_rejection(
                &Rejection::UnknownAccount,
                Some(MsgType::Order),
                0,
                k.tag(),
            );
            r.on_reply(Some(i), &Message::Error(e));
        }
        r.forget(2);
        assert_eq!(r.refusals().len(), 2);
        assert!(matches!(r.poll(ms(10)), Step::Wait(_)));
    }

    #[test]
    fn receipts_reach_quorum_and_report_next_sequence() {
        let (c, keys) = committee(4);
        let o = order();
        let cert = Certificate::new(
            o,
            keys[..3]
                .iter()
                .map(|k| Vote::sign(o.digest(), 0, k))
                .collect::<Vec<_>>()
                .iter(),
        );
        let mut r = QuorumRound::receipts(&cert, &c, T, ms(0));
        assert_eq!(r.poll(ms(0)), Step::Send(vec![0, 1, 2, 3]));
        for k in &keys[1..] {
            let rc = flashmesh_core::Receipt::sign(o.digest(), 0, true, 1, k);
            r.on_reply(None, &Message::Receipt(rc));
        }
        assert_eq!(r.poll(ms(5)), Step::Done);
        assert!(matches!(
            r.outcome(),
            Some(Ok(Reached::Receipts {
                weight: 3,
                next_sequence: 1
            }))
        ));
    }
}
