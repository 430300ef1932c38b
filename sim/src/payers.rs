//! Wallets in the simulator: payers run the wallet's own sans-IO [`QuorumRound`] (the code the
//! `wallet` binary runs) in virtual time; payees accept certificates with the wallet's own
//! [`accept_with`] (its signature check shared with the committee's authorities, see
//! [`crate::verify`]). Around the round, the payer does what a FastPay client does to stay live:
//! an order that timed out is kept and tried again (some authorities may hold its lock), an
//! authority that refuses because it is behind is sent the certificates it missed and asked
//! again, and certificates keep being pushed to authorities that have not acknowledged them
//! (that is how a crashed or partitioned authority catches up).
//!
//! Byzantine payers (from the fault plan) also pay honestly now and then, to hold certificates
//! they can misuse, and otherwise attack: double spends to two halves of the committee (then
//! crossed, then again and again, so a lock lost in a crash would show), replayed certificates,
//! forged ones (truncated, flipped signature bit, a signer repeated, below quorum) and orders
//! with epochs outside the window.

use std::collections::VecDeque;
use std::time::Duration;

use flashmesh_core::Keypair;
use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::keys::PublicKey;
use flashmesh_core::messages::{
    Certificate, DEFAULT_TOKEN, QuorumCollector, Receipt, SignedOrder, TokenId, TransferOrder,
};
use flashmesh_scenario::file::ByzantinePayerBehaviour;
use flashmesh_scenario::{PaymentOutcome, PaymentRecord};
use flashmesh_wallet::quorum::{Heard, PhaseKind, QuorumRound, Reached, RoundError, Step, Timing};
use flashmesh_wallet::{Retries, RetryCount, accept_with};

use crate::agenda::{Micros, ms, to_ms};
use crate::monitor::names;
use crate::net::{Addr, Packet, Port};
use crate::plan::FaultItem;
use crate::world::{Ev, World};

/// TTL of orders.
pub const ORDER_TTL: u8 = 8;
/// Interval of certificate pushes to lagging authorities.
pub const SYNC_INTERVAL: Micros = 500_000;
/// Catch-up pushes per authority per round before its refusal stands.
const CATCHUPS_PER_ROUND: u8 = 4;
/// Certificates pushed to one authority at once.
const PUSH_BATCH: u64 = 4;

/// What the run knows about a payment besides its record.
#[derive(Debug, Clone)]
pub struct PaymentMeta {
    /// Payer index.
    pub payer: usize,
    /// Payee node.
    pub payee: usize,
    /// Issued at.
    pub issued: Micros,
    /// Made by an honest payer (counted in KPIs and liveness).
    pub honest: bool,
    /// Done (final, or refused by every authority).
    pub done: bool,
}

struct Active {
    id: u64,
    order: SignedOrder,
    round: QuorumRound,
    cert: Option<Certificate>,
    retries: Retries,
    catchups: Vec<u8>,
}

struct DoubleSpend {
    orders: [SignedOrder; 2],
    collectors: [QuorumCollector; 2],
    retries: [RetryCount; 2],
    resends: u32,
}

/// A payer.
pub struct PayerState {
    /// Node.
    pub node: usize,
    key: Keypair,
    /// Committee index.
    pub committee: usize,
    next_nonce: u64,
    balance: u64,
    queue: VecDeque<u64>,
    active: Option<Active>,
    history: Vec<Certificate>,
    history_retries: Vec<RetryCount>,
    acked: Vec<u64>,
    /// Receipts outside a round, their signatures checked together before `acked` is read.
    unchecked_acks: Vec<(usize, Receipt)>,
    generation: u64,
    sync_scheduled: bool,
    /// Byzantine behaviour, if any.
    pub byzantine: Option<ByzantinePayerBehaviour>,
    double: Option<DoubleSpend>,
    /// Why the account can pay no more (its next nonce is locked to an order whose
    /// certificate cannot be sent).
    wedged: Option<String>,
}

/// A payee's wallet.
#[derive(Debug, Default)]
pub struct Payee {
    /// Certificates accepted.
    pub accepted: u64,
    /// Refused.
    pub refused: u64,
}

fn dur(t: Micros) -> Duration {
    Duration::from_micros(t)
}

impl World {
    pub(crate) fn setup_payers(&mut self) {
        let byz: Vec<(usize, ByzantinePayerBehaviour)> = self
            .config
            .plan
            .items
            .iter()
            .filter_map(|i| match i {
                FaultItem::ByzantinePayer { node, behaviour } => Some((*node, *behaviour)),
                _ => None,
            })
            .collect();
        for &p in &self.scenario.workload.payers.clone() {
            let Some(key) = self.wallet_keys[p].clone() else {
                continue;
            };
            let Some(&committee) = self.committee_of_account.get(&key.public()) else {
                continue;
            };
            let n = self.committees[committee].hosts.len();
            self.payer_at.insert(p, self.payers.len());
            self.payers.push(PayerState {
                node: p,
                key,
                committee,
                next_nonce: 0,
                balance: self.scenario.balances[p],
                queue: VecDeque::new(),
                active: None,
                history: Vec::new(),
                history_retries: Vec::new(),
                acked: vec![0; n],
                unchecked_acks: Vec::new(),
                generation: 0,
                sync_scheduled: false,
                byzantine: byz.iter().find(|(n, _)| *n == p).map(|(_, b)| *b),
                double: None,
                wedged: None,
            });
        }
    }

    pub(crate) fn schedule_workload(&mut self) {
        if self.payers.is_empty() {
            return;
        }
        let w = self.scenario.workload.clone();
        let total = if self.config.payments > 0 {
            self.config.payments
        } else {
            w.payments
        };
        let mean = 1e6 / w.rate_per_s.max(1e-3);
        let mut t = ms(w.start_ms as f64) as f64;
        let stop = ms(w.stop_ms as f64) as f64;
        let mut id = 0u64;
        loop {
            t += self.work_rng.exponential(mean);
            if (total > 0 && id >= total) || (total == 0 && t > stop) {
                break;
            }
            let payer = self.work_rng.index(self.payers.len());
            let node = self.payers[payer].node;
            let rng = &mut self.work_rng;
            let payee = self.scenario.payee_for(node, &mut |n| rng.index(n));
            if self.wallet_keys.get(payee).is_none_or(|k| k.is_none()) || payee == node {
                continue;
            }
            let amount = self
                .work_rng
                .between(w.amount_min.max(1), w.amount_max.max(w.amount_min.max(1)));
            let honest = self.payers[payer].byzantine.is_none();
            let c = self.payers[payer].committee;
            self.payments.push(PaymentRecord::planned(
                id,
                self.scenario.nodes[node].name.clone(),
                self.scenario.nodes[payee].name.clone(),
                self.committees[c].name.clone(),
                amount,
                to_ms(t as Micros),
            ));
            self.payment_meta.push(PaymentMeta {
                payer,
                payee,
                issued: t as Micros,
                honest,
                done: false,
            });
            self.agenda.at(t as Micros, Ev::Issue { payer, id });
            id += 1;
        }
        // A payment count beyond what the scenario's duration holds stretches the run (and its
        // `all` phase) to the last start.
        let last_ms = (self.last_issue() / 1000) + 1;
        if last_ms > self.scenario.duration_ms {
            for p in &mut self.scenario.phases {
                if p.name == "all" {
                    p.end_ms = last_ms;
                }
            }
            self.scenario.duration_ms = last_ms;
        }
    }

    /// When the last payment is issued.
    pub(crate) fn last_issue(&self) -> Micros {
        self.payment_meta.last().map_or(0, |m| m.issued)
    }

    pub(crate) fn issue(&mut self, payer: usize, id: u64) {
        if self.payers[payer].byzantine.is_some() {
            self.byzantine_issue(payer, id);
            return;
        }
        self.payers[payer].queue.push_back(id);
        if self.payers[payer].active.is_none() {
            self.begin(payer);
        }
    }

    fn timing(&self) -> Timing {
        let w = &self.scenario.workload;
        Timing {
            retry_interval: dur(ms(w.retry_ms.max(1) as f64)),
            phase_timeout: dur(ms(w.timeout_ms.max(1) as f64)),
        }
    }

    fn payer_addr(&self, payer: usize) -> Addr {
        Addr {
            node: self.payers[payer].node,
            port: Port::Wallet,
        }
    }

    fn begin(&mut self, payer: usize) {
        let Some(id) = self.payers[payer].queue.pop_front() else {
            return;
        };
        let meta = self.payment_meta[id as usize].clone();
        let amount = self.payments[id as usize].amount;
        let p = &self.payers[payer];
        if let Some(reason) = p.wedged.clone() {
            self.fail(id, &reason);
            self.begin(payer);
            return;
        }
        if p.balance < amount {
            self.fail(id, "insufficient_funds_at_wallet");
            self.begin(payer);
            return;
        }
        let Some(recipient) = self.wallet_keys[meta.payee].as_ref().map(|k| k.public()) else {
            return;
        };
        let order = sign_transfer(
            &p.key,
            recipient,
            amount,
            p.next_nonce,
            self.epoch,
            ORDER_TTL,
        );
        self.payments[id as usize].nonce = p.next_nonce;
        let committee = self.committees[p.committee].committee.clone();
        let n = committee.len();
        let round = QuorumRound::votes(order, &committee, self.timing(), dur(self.agenda.now()));
        self.payers[payer].active = Some(Active {
            id,
            order,
            round,
            cert: None,
            retries: Retries::default(),
            catchups: vec![0; n],
        });
        self.drive(payer);
    }

    fn fail(&mut self, id: u64, reason: &str) {
        let now = to_ms(self.agenda.now());
        let r = &mut self.payments[id as usize];
        r.outcome = PaymentOutcome::Failed;
        r.reason = reason.to_string();
        r.end_ms = Some(now);
        self.payment_meta[id as usize].done = true;
    }

    /// Polls the payer's round until it waits or ends.
    fn drive(&mut self, payer: usize) {
        loop {
            let now = self.agenda.now();
            let epoch = self.epoch;
            let c = self.payers[payer].committee;
            let Some(a) = self.payers[payer].active.as_mut() else {
                return;
            };
            match a.round.poll(dur(now)) {
                Step::Send(to) => {
                    let env = match (&a.cert, a.round.phase()) {
                        (Some(cert), PhaseKind::Receipts) => {
                            let r = a.retries.certificate.claim(epoch);
                            Envelope::certificate(cert.clone(), epoch).with_retry(r)
                        }
                        _ => {
                            let r = a.retries.order.claim(epoch);
                            Envelope::order(a.order).with_retry(r)
                        }
                    };
                    let id = a.id as usize;
                    if a.round.sends() > 1 {
                        self.payments[id].retries += to.len() as u32;
                    }
                    let bytes = match env.encode() {
                        Ok(b) => b,
                        Err(e) => {
                            // Nothing can carry it (a certificate of a large committee does
                            // not fit one datagram): the payment fails, counted, by name.
                            let kind = env.header.msg_type.name();
                            let id = a.id;
                            self.count(&format!("payer.encode_failed.{kind}"), 1.0);
                            self.note(|| format!("payer {payer}: {kind} does not encode: {e}"));
                            // The nonce stays locked to this order: the account is wedged.
                            let reason = format!("{kind}_oversized");
                            self.payers[payer].active = None;
                            self.payers[payer].wedged = Some(reason.clone());
                            self.fail(id, &reason);
                            self.begin(payer);
                            return;
                        }
                    };
                    let src = self.payer_addr(payer);
                    for i in to {
                        let dst = self.authority_addr(c, i);
                        self.send(src, dst, bytes.clone());
                    }
                }
                Step::Wait(t) => {
                    let p = &mut self.payers[payer];
                    p.generation += 1;
                    let generation = p.generation;
                    self.agenda
                        .at(t.as_micros() as Micros, Ev::PayerWake { payer, generation });
                    return;
                }
                Step::Done => {
                    self.round_done(payer);
                    return;
                }
            }
        }
    }

    pub(crate) fn payer_wake(&mut self, payer: usize, generation: u64) {
        if self.payers[payer].generation == generation {
            self.drive(payer);
        }
    }

    fn round_done(&mut self, payer: usize) {
        let now = self.agenda.now();
        let c = self.payers[payer].committee;
        let committee = self.committees[c].committee.clone();
        let Some(mut a) = self.payers[payer].active.take() else {
            return;
        };
        let outcome = a.round.outcome().cloned();
        let id = a.id as usize;
        let node = self.payers[payer].node;
        let nonce = a.order.order().nonce;
        self.note(|| {
            let o = match &outcome {
                Some(Ok(_)) => "quorum".to_string(),
                Some(Err(e)) => format!("{e:?}"),
                None => "-".into(),
            };
            let refusals: Vec<String> = a
                .round
                .refusals()
                .iter()
                .map(|r| format!("{}:{}", r.authority, r.code.name()))
                .collect();
            format!(
                "payer {node} nonce {nonce} {} round: {o} refusals [{}]",
                a.round.phase().name(),
                refusals.join(" ")
            )
        });
        let honest = self.payment_meta[id].honest;
        match (a.round.phase(), outcome) {
            (PhaseKind::Votes, Some(Ok(Reached::Certificate(cert)))) => {
                self.monitor
                    .certificate(now, c, &committee, &cert, "a payer", true);
                let issued = self.payment_meta[id].issued;
                self.payments[id].cert_ms = Some(to_ms(now - issued));
                let payee = self.payment_meta[id].payee;
                if let Ok(bytes) = Envelope::certificate(cert.clone(), self.epoch).encode() {
                    let src = self.payer_addr(payer);
                    self.send(
                        src,
                        Addr {
                            node: payee,
                            port: Port::Wallet,
                        },
                        bytes,
                    );
                }
                let p = &mut self.payers[payer];
                if p.history.len() as u64 == a.order.order().nonce {
                    p.history.push(cert.clone());
                    p.history_retries.push(RetryCount::default());
                }
                a.round = QuorumRound::receipts(&cert, &committee, self.timing(), dur(now));
                a.cert = Some(cert);
                a.catchups.iter_mut().for_each(|x| *x = 0);
                self.payers[payer].active = Some(a);
                self.drive(payer);
            }
            (PhaseKind::Receipts, Some(Ok(Reached::Receipts { .. }))) => {
                let p = &mut self.payers[payer];
                p.next_nonce += 1;
                p.balance = p.balance.saturating_sub(a.order.order().amount);
                let issued = self.payment_meta[id].issued;
                let timeout = ms(self.scenario.workload.timeout_ms as f64);
                let r = &mut self.payments[id];
                r.end_ms = Some(to_ms(now));
                if now - issued > timeout {
                    r.outcome = PaymentOutcome::Failed;
                    r.reason = "timeout".into();
                    self.count("payments.finished_after_timeout", 1.0);
                } else {
                    r.outcome = PaymentOutcome::Ok;
                }
                self.payment_meta[id].done = true;
                let _ = honest;
                self.ensure_sync(payer);
                self.begin(payer);
            }
            (PhaseKind::Votes, Some(Err(RoundError::Refused { by_all: true }))) => {
                let reason = a
                    .round
                    .refusals()
                    .first()
                    .map_or("refused".to_string(), |r| r.code.name().to_string());
                self.fail(a.id, &reason);
                self.begin(payer);
            }
            (phase, _) => {
                // Timed out, or refused by some: the order stays (locks may be held); the round
                // starts again after a retry interval, with its retry numbering kept.
                self.count_of("payer.round_again.", phase.name(), 1.0);
                let t = now + self.timing().retry_interval.as_micros() as Micros;
                a.round = match (&a.cert, phase) {
                    (Some(cert), PhaseKind::Receipts) => {
                        QuorumRound::receipts(cert, &committee, self.timing(), dur(t))
                    }
                    _ => QuorumRound::votes(a.order, &committee, self.timing(), dur(t)),
                };
                a.catchups.iter_mut().for_each(|x| *x = 0);
                let p = &mut self.payers[payer];
                p.active = Some(a);
                p.generation += 1;
                let generation = p.generation;
                self.agenda.at(t, Ev::PayerWake { payer, generation });
            }
        }
    }

    /// A datagram for the wallet at `pkt.dst.node`.
    pub(crate) fn wallet_receive(&mut self, pkt: Packet) {
        let env = match Envelope::decode(&pkt.bytes) {
            Ok(e) => e,
            Err(_) => {
                self.count("wallet.malformed", 1.0);
                return;
            }
        };
        if let Message::Certificate(cert) = env.message {
            self.payee_receive(pkt.dst.node, cert);
            return;
        }
        let Some(&payer) = self.payer_at.get(&pkt.dst.node) else {
            self.count("wallet.unexpected", 1.0);
            return;
        };
        let c = self.payers[payer].committee;
        let from = match pkt.src.port {
            Port::Authority(pc) if pc as usize == c => self
                .host_at
                .get(&(pkt.src.node, c))
                .and_then(|h| self.committees[c].hosts.iter().position(|x| x == h)),
            _ => None,
        };
        self.payer_reply(payer, from, env.message);
    }

    fn payer_reply(&mut self, payer: usize, from: Option<usize>, msg: Message) {
        let c = self.payers[payer].committee;
        let committee = self.committees[c].committee.clone();
        if let Some(d) = self.payers[payer].double.as_mut()
            && let Message::Vote(v) = &msg
        {
            for k in 0..2 {
                if v.order_digest == d.orders[k].digest() {
                    let _ = d.collectors[k].add(v, &committee);
                }
            }
            self.double_spend_check(payer);
            return;
        }
        // Receipts outside the round acknowledge pushed certificates.
        if let Message::Receipt(r) = &msg
            && let Some(i) = from
        {
            let p = &self.payers[payer];
            let in_round = p.active.as_ref().is_some_and(|a| {
                a.round.phase() == PhaseKind::Receipts
                    && a.round.outcome().is_none()
                    && a.order.order().nonce == r.nonce
            });
            if !in_round {
                if (r.nonce as usize) < p.history.len()
                    && p.history[r.nonce as usize].order_digest() == r.order_digest
                    && p.acked[i] <= r.nonce
                {
                    self.payers[payer].unchecked_acks.push((i, *r));
                }
                return;
            }
        }
        let Some(a) = self.payers[payer].active.as_mut() else {
            return;
        };
        let heard = a.round.on_reply(from, &msg);
        match heard {
            Heard::Accepted(_) if a.round.phase() == PhaseKind::Receipts => {
                // Held receipts are checked together, so one answer can accept several.
                let n = a.order.order().nonce + 1;
                let accepted: Vec<usize> = a.round.accepted().collect();
                let p = &mut self.payers[payer];
                for i in accepted {
                    p.acked[i] = p.acked[i].max(n);
                }
            }
            Heard::Refused(i, code)
                if matches!(
                    code,
                    ErrorCode::WrongNonce
                        | ErrorCode::MissingEarlierCertificates
                        | ErrorCode::InsufficientFunds
                ) && a.catchups[i] < CATCHUPS_PER_ROUND =>
            {
                // Behind: send it what it missed, then ask again.
                a.catchups[i] += 1;
                a.round.forget(i);
                self.count("payer.catch_up_pushes", 1.0);
                self.push_history(payer, i);
            }
            _ => {}
        }
        self.drive(payer);
    }

    /// Checks the held receipts (one batch) and counts the good ones as acknowledgements.
    fn settle_acks(&mut self, payer: usize) {
        if self.payers[payer].unchecked_acks.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.payers[payer].unchecked_acks);
        let committee = &self.committees[self.payers[payer].committee].committee;
        let receipts: Vec<Receipt> = held.iter().map(|(_, r)| *r).collect();
        let verdicts = Receipt::verify_each(&receipts, committee);
        let p = &mut self.payers[payer];
        for ((i, r), v) in held.into_iter().zip(verdicts) {
            if v.is_ok() {
                p.acked[i] = p.acked[i].max(r.nonce + 1);
            }
        }
    }

    /// Sends authority `i` the certificates from the first it has not acknowledged.
    fn push_history(&mut self, payer: usize, i: usize) {
        self.settle_acks(payer);
        let epoch = self.epoch;
        let c = self.payers[payer].committee;
        let src = self.payer_addr(payer);
        let dst = self.authority_addr(c, i);
        let p = &mut self.payers[payer];
        let from = p.acked[i];
        let to = (from + PUSH_BATCH).min(p.history.len() as u64);
        let mut out = Vec::new();
        for n in from..to {
            let r = p.history_retries[n as usize].claim(epoch);
            if let Ok(b) = Envelope::certificate(p.history[n as usize].clone(), epoch)
                .with_retry(r)
                .encode()
            {
                out.push(b);
            }
        }
        for b in out {
            self.send(src, dst, b);
        }
    }

    fn lagging(&self, payer: usize) -> Vec<usize> {
        let p = &self.payers[payer];
        let c = &self.committees[p.committee];
        let tag = p.key.tag().to_u64();
        (0..p.acked.len())
            .filter(|&i| {
                let host = &self.hosts[c.hosts[i]];
                p.acked[i] < p.history.len() as u64
                    && host.byzantine.is_none()
                    && !self.switches[host.node].blocked.contains(&tag)
            })
            .collect()
    }

    fn ensure_sync(&mut self, payer: usize) {
        self.settle_acks(payer);
        if !self.payers[payer].sync_scheduled && !self.lagging(payer).is_empty() {
            self.payers[payer].sync_scheduled = true;
            self.agenda.after(SYNC_INTERVAL, Ev::PayerSync { payer });
        }
    }

    pub(crate) fn payer_sync(&mut self, payer: usize) {
        self.payers[payer].sync_scheduled = false;
        self.settle_acks(payer);
        let lag = self.lagging(payer);
        for i in lag {
            self.count("payer.sync_pushes", 1.0);
            self.push_history(payer, i);
        }
        self.ensure_sync(payer);
    }

    fn payee_receive(&mut self, node: usize, cert: Certificate) {
        let now = self.agenda.now();
        let Some(account) = self.wallet_keys[node].as_ref().map(|k| k.public()) else {
            return;
        };
        let sender = cert.order.order().sender;
        let Some(&c) = self.committee_of_account.get(&sender) else {
            self.payees.entry(node).or_default().refused += 1;
            return;
        };
        let committee = self.committees[c].committee.clone();
        match accept_with(&committee, &account, cert, &mut self.memos[c]) {
            Ok(received) => {
                self.payees.entry(node).or_default().accepted += 1;
                self.count("payee.accepted", 1.0);
                self.monitor.certificate(
                    now,
                    c,
                    &committee,
                    &received.certificate,
                    "a payee",
                    true,
                );
            }
            Err(_) => {
                self.payees.entry(node).or_default().refused += 1;
                self.count("payee.refused", 1.0);
            }
        }
    }

    /// Whether nothing honest is left to do: every honest payment done and every honest
    /// authority has acknowledged every certificate.
    pub(crate) fn quiet(&mut self) -> bool {
        for p in 0..self.payers.len() {
            self.settle_acks(p);
        }
        self.payment_meta.iter().all(|m| !m.honest || m.done)
            && (0..self.payers.len()).all(|p| self.lagging(p).is_empty())
    }

    pub(crate) fn check_liveness(&mut self, now: Micros) {
        self.monitor.checked(names::LIVENESS);
        let open: Vec<u64> = self
            .payment_meta
            .iter()
            .enumerate()
            .filter(|(_, m)| m.honest && !m.done)
            .map(|(i, _)| i as u64)
            .collect();
        if let Some(&id) = open.first() {
            let r = &self.payments[id as usize];
            let detail = format!(
                "{} honest payments unfinished {} ms after the faults ended, first: {} from {} (nonce {})",
                open.len(),
                to_ms(now.saturating_sub(self.faults_end)),
                r.id,
                r.payer,
                r.nonce
            );
            self.monitor.violate(names::LIVENESS, now, detail);
        }
    }

    /// Every honest running authority of a committee has applied the same certificates, apart
    /// from those of senders its own switch blocks (their datagrams cannot reach it, so it
    /// cannot learn them: a limit of the penalty path, counted); where no switch blocked
    /// anyone, their balances and sequences agree too.
    pub(crate) fn check_convergence(&mut self, now: Micros) {
        let any_block = self.switches.iter().any(|s| !s.blocked.is_empty());
        for ci in 0..self.committees.len() {
            let honest: Vec<usize> = self.committees[ci]
                .hosts
                .iter()
                .copied()
                .filter(|&h| self.hosts[h].byzantine.is_none() && self.hosts[h].up())
                .collect();
            let mut blocked_all = std::collections::HashSet::new();
            for &h in &honest {
                blocked_all.extend(self.switches[self.hosts[h].node].blocked.iter().copied());
            }
            let mut sets = Vec::new();
            let mut excused = 0usize;
            for &h in &honest {
                let applied = self.hosts[h].applied();
                let before = applied.len();
                let kept: Vec<_> = applied
                    .into_iter()
                    .filter(|(sender, _, _)| !blocked_all.contains(&sender.tag().to_u64()))
                    .collect();
                excused += before - kept.len();
                sets.push((self.hosts[h].node, kept));
            }
            if excused > 0 {
                self.count(
                    "convergence.blocked_sender_certificates_excluded",
                    excused as f64,
                );
            }
            self.monitor.checked(names::CONVERGENCE);
            if let Some((n0, s0)) = sets.first() {
                for (n, s) in &sets[1..] {
                    if s != s0 {
                        let detail = format!(
                            "committee {ci}: authorities at nodes {n0} and {n} applied different certificates ({} vs {})",
                            s0.len(),
                            s.len()
                        );
                        self.monitor.violate(names::CONVERGENCE, now, detail);
                        return;
                    }
                }
            }
            if any_block {
                continue;
            }
            let mut views = Vec::new();
            for &h in &honest {
                let Some(a) = self.hosts[h].authority() else {
                    continue;
                };
                type View = (PublicKey, Vec<(TokenId, u64)>, u64);
                let mut v: Vec<View> = a
                    .accounts()
                    .map(|(k, s)| {
                        let b = s.balances.iter().map(|(t, b)| (*t, *b)).filter(|x| x.1 > 0);
                        (*k, b.collect::<Vec<_>>(), s.next_sequence)
                    })
                    .filter(|(_, b, n)| !b.is_empty() || *n > 0)
                    .collect();
                v.sort_by_key(|x| x.0);
                views.push((self.hosts[h].node, v));
            }
            if let Some((n0, v0)) = views.first() {
                for (n, v) in &views[1..] {
                    if v != v0 {
                        let detail = format!(
                            "committee {ci}: authorities at nodes {n0} and {n} disagree on balances at the end"
                        );
                        self.monitor.violate(names::CONVERGENCE, now, detail);
                        return;
                    }
                }
            }
        }
    }

    fn byzantine_issue(&mut self, payer: usize, id: u64) {
        let b = self.payers[payer]
            .byzantine
            .unwrap_or(ByzantinePayerBehaviour::Mixed);
        let pick = match b {
            ByzantinePayerBehaviour::Mixed => match self.byz_rng.index(6) {
                0 | 1 => None,
                2 => Some(ByzantinePayerBehaviour::ReplayCertificates),
                3 => Some(ByzantinePayerBehaviour::Forge),
                4 => Some(ByzantinePayerBehaviour::WrongEpoch),
                _ => Some(ByzantinePayerBehaviour::DoubleSpend),
            },
            other if self.byz_rng.chance(0.3) => {
                let _ = other;
                None
            }
            other => Some(other),
        };
        let busy = self.payers[payer].active.is_some() || self.payers[payer].double.is_some();
        match pick {
            None if !busy => {
                self.payers[payer].queue.push_back(id);
                self.begin(payer);
            }
            Some(ByzantinePayerBehaviour::DoubleSpend) if !busy => self.double_spend(payer, id),
            Some(ByzantinePayerBehaviour::ReplayCertificates) => self.replay_certificates(payer),
            Some(ByzantinePayerBehaviour::Forge) => self.forge(payer),
            Some(ByzantinePayerBehaviour::WrongEpoch) => self.wrong_epoch(payer, id),
            _ => self.payment_meta[id as usize].done = true,
        }
    }

    fn all_authorities(&self, payer: usize) -> Vec<Addr> {
        let c = self.payers[payer].committee;
        (0..self.committees[c].hosts.len())
            .map(|i| self.authority_addr(c, i))
            .collect()
    }

    fn double_spend(&mut self, payer: usize, id: u64) {
        let meta = self.payment_meta[id as usize].clone();
        let merchants = self.scenario.merchants();
        let p = &self.payers[payer];
        let other = merchants
            .iter()
            .copied()
            .find(|&m| m != meta.payee)
            .unwrap_or(meta.payee);
        let mk = |to: usize, amount: u64| -> Option<SignedOrder> {
            let recipient = self.wallet_keys[to].as_ref()?.public();
            Some(sign_transfer(
                &p.key,
                recipient,
                amount,
                p.next_nonce,
                self.epoch,
                ORDER_TTL,
            ))
        };
        let amount = self.payments[id as usize].amount.max(1);
        let (Some(a), Some(b)) = (mk(meta.payee, amount), mk(other, amount + 1)) else {
            return;
        };
        if a.digest() == b.digest() {
            return;
        }
        let committee = self.committees[p.committee].committee.clone();
        self.payment_meta[id as usize].done = true;
        self.count("byzantine_payer.double_spend", 1.0);
        self.note(|| format!("payer {payer} double-spends nonce {}", a.order().nonce));
        self.payers[payer].double = Some(DoubleSpend {
            orders: [a, b],
            collectors: [
                QuorumCollector::new(a, &committee),
                QuorumCollector::new(b, &committee),
            ],
            retries: [RetryCount::default(), RetryCount::default()],
            resends: 0,
        });
        self.double_spend_resend(payer);
    }

    /// Sends the two orders: first each to its half, then crossed, then both to everyone.
    pub(crate) fn double_spend_resend(&mut self, payer: usize) {
        let epoch = self.epoch;
        let to = self.all_authorities(payer);
        let src = self.payer_addr(payer);
        let Some(d) = self.payers[payer].double.as_mut() else {
            return;
        };
        let half = to.len().div_ceil(2);
        let round = d.resends;
        d.resends += 1;
        let mut out = Vec::new();
        for (i, dst) in to.iter().enumerate() {
            let first = usize::from(i >= half);
            let which: Vec<usize> = match round {
                0 => vec![first],
                1 => vec![1 - first],
                _ => vec![0, 1],
            };
            for k in which {
                let r = d.retries[k].claim(epoch);
                if let Ok(b) = Envelope::order(d.orders[k]).with_retry(r).encode() {
                    out.push((*dst, b));
                }
            }
        }
        for (dst, b) in out {
            self.send(src, dst, b);
        }
        if self.agenda.now() < self.end_at && round < 40 {
            self.agenda.after(300_000, Ev::Resend { payer });
        }
    }

    fn double_spend_check(&mut self, payer: usize) {
        let now = self.agenda.now();
        let c = self.payers[payer].committee;
        let committee = self.committees[c].committee.clone();
        let Some(d) = self.payers[payer].double.as_mut() else {
            return;
        };
        let mut certs = Vec::new();
        for k in 0..2 {
            if let Some(cert) = d.collectors[k].certificate() {
                certs.push(cert);
            }
        }
        for cert in certs {
            self.monitor
                .certificate(now, c, &committee, &cert, "a double-spending payer", true);
        }
    }

    fn replay_certificates(&mut self, payer: usize) {
        let n = self.payers[payer].history.len();
        if n == 0 {
            return;
        }
        let k = self.byz_rng.index(n);
        let cert = self.payers[payer].history[k].clone();
        let epoch = self.epoch;
        let src = self.payer_addr(payer);
        self.count("byzantine_payer.replayed_certificates", 1.0);
        // The same copy again (the switches' filter should drop it) and fresh copies (the
        // authorities must answer without applying twice).
        for retry in [0u8, 200u8.saturating_add(self.byz_rng.index(50) as u8)] {
            let Ok(b) = Envelope::certificate(cert.clone(), epoch)
                .with_retry(retry)
                .encode()
            else {
                continue;
            };
            for dst in self.all_authorities(payer) {
                self.send(src, dst, b.clone());
            }
            let payee = self.merchant_of(&cert);
            if let Some(p) = payee {
                self.send(
                    src,
                    Addr {
                        node: p,
                        port: Port::Wallet,
                    },
                    b.clone(),
                );
            }
        }
    }

    fn merchant_of(&self, cert: &Certificate) -> Option<usize> {
        let r = cert.order.order().recipient;
        self.wallet_keys
            .iter()
            .position(|k| k.as_ref().is_some_and(|k| k.public() == r))
    }

    fn forge(&mut self, payer: usize) {
        let n = self.payers[payer].history.len();
        if n == 0 {
            return;
        }
        let cert = self.payers[payer].history[self.byz_rng.index(n)].clone();
        let epoch = self.epoch;
        let kind = self.byz_rng.index(4);
        let payee = self.merchant_of(&cert);
        let mut forged = cert.clone();
        let bytes = match kind {
            0 => {
                // Truncated.
                let Ok(mut b) = Envelope::certificate(cert, epoch).encode() else {
                    return;
                };
                let cut = 1 + self.byz_rng.index(b.len().saturating_sub(1).max(1));
                b.truncate(cut.max(1));
                b
            }
            1 => {
                // A flipped bit in one signature.
                if let Some(e) = forged.signatures.first_mut() {
                    e.signature.0[self.byz_rng.index(64)] ^= 1 << self.byz_rng.index(8);
                }
                Envelope::certificate(forged, epoch)
                    .encode()
                    .unwrap_or_default()
            }
            2 => {
                // One signer repeated in place of another.
                if forged.signatures.len() >= 2 {
                    let last = forged.signatures.len() - 1;
                    forged.signatures[last] = forged.signatures[0];
                }
                Envelope::certificate(forged, epoch)
                    .encode()
                    .unwrap_or_default()
            }
            _ => {
                // Below quorum.
                forged.signatures.truncate(1);
                Envelope::certificate(forged, epoch)
                    .encode()
                    .unwrap_or_default()
            }
        };
        if bytes.len() < flashmesh_core::wire::HEADER_LEN {
            return;
        }
        let mut bytes = bytes;
        // A fresh retry number, so the switches' duplicate filter does not take it for the
        // genuine certificate (as a real attacker would choose).
        bytes[flashmesh_core::wire::field::RETRY] = 1 + self.byz_rng.index(250) as u8;
        self.count(&format!("byzantine_payer.forged.{kind}"), 1.0);
        let src = self.payer_addr(payer);
        for dst in self.all_authorities(payer) {
            self.send(src, dst, bytes.clone());
        }
        let Some(p) = payee else {
            return;
        };
        self.send(
            src,
            Addr {
                node: p,
                port: Port::Wallet,
            },
            bytes,
        );
    }

    fn wrong_epoch(&mut self, payer: usize, id: u64) {
        let meta = self.payment_meta[id as usize].clone();
        let Some(recipient) = self.wallet_keys[meta.payee].as_ref().map(|k| k.public()) else {
            return;
        };
        let p = &self.payers[payer];
        let (epoch, ttl) = if self.byz_rng.chance(0.5) {
            (self.epoch + 2 + self.byz_rng.index(5) as u32, ORDER_TTL)
        } else {
            (0, 0)
        };
        let nonce = p.next_nonce + 1 + self.byz_rng.index(3) as u64;
        let order = sign_transfer(&p.key, recipient, 1, nonce, epoch, ttl);
        self.payment_meta[id as usize].done = true;
        self.count("byzantine_payer.wrong_epoch", 1.0);
        let Ok(b) = Envelope::order(order).encode() else {
            return;
        };
        let src = self.payer_addr(payer);
        for dst in self.all_authorities(payer) {
            self.send(src, dst, b.clone());
        }
    }
}

/// The payer's transfer order of `amount` in the default token, signed with its key.
fn sign_transfer(
    key: &Keypair,
    recipient: PublicKey,
    amount: u64,
    nonce: u64,
    epoch: u32,
    ttl: u8,
) -> SignedOrder {
    SignedOrder::sign(
        TransferOrder {
            sender: key.public(),
            recipient,
            token: DEFAULT_TOKEN,
            amount,
            nonce,
            epoch,
            ttl,
        },
        key,
    )
}
