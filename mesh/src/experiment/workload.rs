//! The scenario's payments on the embedded mesh: the schedule drawn from the seed (Poisson
//! arrivals at the workload's rate, a random payer for each, the payee by the workload's rule),
//! and one task per payer that makes its payments in order and records each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flashmesh_scenario::{PaymentOutcome, PaymentRecord, Scenario};
use flashmesh_wallet::PayOptions;
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::mesh::{HandoffRequest, HandoffTiming, Mesh, PayOutcome, Payer};
use flashmesh_core::Committee;

/// One payment of the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    /// Its number in the run (row of `payments.csv`).
    pub id: u64,
    /// When it is due, ms from the start.
    pub at_ms: f64,
    /// Index of the payer in [`Mesh::payers`].
    pub payer: usize,
    /// Payee node.
    pub payee: usize,
    /// Amount.
    pub amount: u64,
}

/// The payments of `s`, for payers at the nodes `payers` (in [`Mesh::payers`] order).
pub fn schedule(s: &Scenario, payers: &[usize], seed: u64) -> Vec<Planned> {
    let w = &s.workload;
    let mut out = Vec::new();
    if payers.is_empty() || w.rate_per_s <= 0.0 {
        return out;
    }
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5CE7_A410);
    let mean_ms = 1000.0 / w.rate_per_s;
    let mut t = w.start_ms as f64;
    let amount_min = w.amount_min.max(1);
    let amount_max = w.amount_max.max(amount_min);
    // bounded: at most one payment per draw, and draws stop at the count or the stop time
    for _ in 0..10_000_000u64 {
        let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        t += -mean_ms * u.ln();
        let id = out.len() as u64;
        if (w.payments > 0 && id >= w.payments) || (w.payments == 0 && t > w.stop_ms as f64) {
            break;
        }
        let payer = rng.random_range(0..payers.len());
        let node = payers[payer];
        let payee = s.payee_for(node, &mut |n| rng.random_range(0..n.max(1)));
        if payee == node {
            continue;
        }
        let amount = rng.random_range(amount_min..=amount_max);
        out.push(Planned {
            id,
            at_ms: t,
            payer,
            payee,
            amount,
        });
    }
    out
}

/// The records of a run's payments, filled in as they go.
pub type Records = Arc<Mutex<Vec<PaymentRecord>>>;

/// The nodes a payment from `from` to `to` crosses on the primary routes, `a>b>c`.
pub fn payment_path(s: &Scenario, plan: &crate::plan::MeshPlan, from: usize, to: usize) -> String {
    let path: Vec<String> = std::iter::once(from)
        .chain(plan.path_links(from, to).into_iter().map(|(l, fwd)| {
            let l = &plan.links[l];
            if fwd { l.b.0 } else { l.a.0 }
        }))
        .map(|n| s.nodes[n].name.clone())
        .collect();
    path.join(">")
}

/// The records of `plan`, all unfinished to begin with.
pub fn records(s: &Scenario, mesh: &Mesh, plan: &[Planned]) -> Records {
    let fplan = mesh.fabric.plan();
    let rows = plan
        .iter()
        .map(|p| {
            let node = mesh.payer_nodes()[p.payer];
            PaymentRecord {
                path: payment_path(s, fplan, node, p.payee),
                ..PaymentRecord::planned(
                    p.id,
                    s.nodes[node].name.clone(),
                    s.nodes[p.payee].name.clone(),
                    s.committee_of(node)
                        .map(|c| s.committees[c].name.clone())
                        .unwrap_or_default(),
                    p.amount,
                    p.at_ms,
                )
            }
        })
        .collect();
    Arc::new(Mutex::new(rows))
}

/// A handoff a payer made (or tried to): for `events.csv` and the `handoff_ms` KPI.
#[derive(Debug, Clone)]
pub struct HandoffRecord {
    /// The phone.
    pub node: String,
    /// The committee it moved to.
    pub to: String,
    /// When the attempt began and ended, ms since the run's start.
    pub started_ms: f64,
    pub ended_ms: f64,
    /// The timing of a finished handoff, or why this attempt did not finish.
    pub result: Result<HandoffTiming, String>,
}

/// The handoffs of a run, filled in as they go.
pub type Handoffs = Arc<Mutex<Vec<HandoffRecord>>>;

/// What a payer task needs.
pub struct PayerRun {
    /// The phone's name.
    pub name: String,
    /// Where the timeline asks this payer to move its account.
    pub handoff: Arc<HandoffRequest>,
    /// Where its handoffs are recorded.
    pub handoffs: Handoffs,
    /// The payer.
    pub payer: Arc<tokio::sync::Mutex<Payer>>,
    /// Its payments, in time order.
    pub payments: Vec<Planned>,
    /// Payee account of each payment.
    pub recipients: Vec<flashmesh_core::PublicKey>,
    /// Wallet timing.
    pub options: PayOptions,
    /// Attempts after the first for a payment that failed.
    pub retries: u8,
    /// A payment not started within this of its due time is abandoned unsent.
    pub give_up_after: Duration,
    /// The run's start.
    pub start: Instant,
    /// No payment starts after this.
    pub stop: Instant,
    /// The epoch now (the run's main loop follows the controllers).
    pub epoch: Arc<AtomicU32>,
    /// Where results go.
    pub records: Records,
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Makes the payer's payments in order: waits for each one's time, pays (first finishing an
/// order left unfinished by the one before, which the protocol requires: one order per nonce),
/// and records start, end, outcome, nonce and certificate time. A payment whose turn comes too
/// late (see [`PayerRun::give_up_after`]) is recorded as failed, `payer_busy`, and not sent.
pub async fn run_payer(run: PayerRun) {
    let mut payer = run.payer.lock().await;
    let mut retry_move: Option<(String, Committee)> = None;
    for (p, recipient) in run.payments.iter().zip(&run.recipients) {
        let due = run.start + Duration::from_secs_f64(p.at_ms / 1000.0);
        if due > run.stop {
            break;
        }
        // Wait for the payment's time; a move asked for meanwhile is made at once, and one
        // that did not finish is tried again before the payment.
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => break,
                () = run.handoff.asked() => {
                    if let Some(to) = run.handoff.take() {
                        retry_move = move_account(&mut payer, &run, Some(to)).await;
                    }
                }
            }
        }
        if retry_move.is_some() || payer.is_moving() {
            retry_move = move_account(&mut payer, &run, retry_move.take()).await;
        }
        if payer.is_moving() || retry_move.is_some() {
            let mut r = run.records.lock();
            let rec = &mut r[p.id as usize];
            rec.start_ms = ms_since(run.start);
            rec.end_ms = Some(ms_since(run.start));
            rec.outcome = PaymentOutcome::Failed;
            rec.reason = "handoff_pending".into();
            continue;
        }
        // A payment whose payer was busy (with the ones before it) for longer than a payment
        // may take is abandoned unsent, as a user would: otherwise one slow phase would push a
        // backlog into every phase after it.
        if Instant::now() > due + run.give_up_after {
            let mut r = run.records.lock();
            let rec = &mut r[p.id as usize];
            rec.end_ms = Some(ms_since(run.start));
            rec.outcome = PaymentOutcome::Failed;
            rec.reason = "payer_busy".into();
            continue;
        }
        let epoch = run.epoch.load(Ordering::Relaxed);
        // An earlier payment that gave up left its order open: it goes first.
        let mut budget = 1 + u32::from(run.retries);
        while payer.has_pending() && budget > 0 {
            budget -= 1;
            let _ = payer
                .pay_to(*recipient, p.amount, epoch, &run.options)
                .await;
        }
        let started = ms_since(run.start);
        {
            let mut r = run.records.lock();
            r[p.id as usize].start_ms = started;
        }
        let mut attempts = 0u32;
        let outcome = loop {
            let epoch = run.epoch.load(Ordering::Relaxed);
            let o = payer
                .pay_to(*recipient, p.amount, epoch, &run.options)
                .await;
            attempts += 1;
            match o {
                PayOutcome::Finished(_) => break o,
                PayOutcome::Failed(_) if attempts > u32::from(run.retries) => break o,
                PayOutcome::Failed(_) => {}
            }
        };
        let end = ms_since(run.start);
        let mut r = run.records.lock();
        let rec = &mut r[p.id as usize];
        rec.nonce = payer.last_nonce();
        rec.retries = attempts - 1;
        rec.end_ms = Some(end);
        rec.cert_ms = payer.last_certified().map(|d| d.as_secs_f64() * 1000.0);
        if let Some(c) = payer.moved_to() {
            rec.committee = c.to_string();
        }
        match outcome {
            PayOutcome::Finished(_) => rec.outcome = PaymentOutcome::Ok,
            PayOutcome::Failed(e) => {
                rec.outcome = PaymentOutcome::Failed;
                rec.reason = reason_code(&e);
            }
        }
    }
}

/// Moves the payer's account as asked (or finishes the move begun before), after finishing an
/// unfinished payment, and records the attempt. What to ask again at the next payment is
/// returned when the move could not even begin.
async fn move_account(
    payer: &mut Payer,
    run: &PayerRun,
    asked: Option<(String, Committee)>,
) -> Option<(String, Committee)> {
    let epoch = run.epoch.load(Ordering::Relaxed);
    let mut budget = 1 + u32::from(run.retries);
    while payer.has_pending() && budget > 0 {
        budget -= 1;
        let to = payer.recipient();
        let _ = payer.pay_to(to, 0, epoch, &run.options).await;
    }
    let to_name = asked.as_ref().map(|a| a.0.clone());
    let started_ms = ms_since(run.start);
    let result = payer.hand_off(asked.clone(), epoch, &run.options).await;
    let retry = match &result {
        Err(_) if !payer.is_moving() => asked,
        _ => None,
    };
    run.handoffs.lock().push(HandoffRecord {
        node: run.name.clone(),
        to: to_name
            .or_else(|| payer.moved_to().map(str::to_string))
            .unwrap_or_default(),
        started_ms,
        ended_ms: ms_since(run.start),
        result,
    });
    retry
}

/// A short failure reason for `payments.csv` and the KPI's reason counts (a wallet's
/// `payment failed: ` prefix is skipped).
pub fn reason_code(e: &str) -> String {
    let e = e.to_ascii_lowercase();
    let e = e.strip_prefix("payment failed: ").unwrap_or(&e);
    let code = if e.starts_with("refused") {
        "refused"
    } else if e.contains("vote") && (e.contains("timed out") || e.contains("timeout")) {
        "votes_timeout"
    } else if e.contains("receipt") && (e.contains("timed out") || e.contains("timeout")) {
        "receipts_timeout"
    } else if e.contains("timed out") || e.contains("timeout") {
        "timeout"
    } else if e.contains("cannot encode") || e.contains("too large") {
        "certificate_oversized"
    } else {
        "error"
    };
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bmv2-testbed/scenarios/failover.toml");
        flashmesh_scenario::load_file(&path).unwrap()
    }

    #[test]
    fn schedule_is_seeded_and_follows_the_rate() {
        let s = scenario();
        let payers = s.workload.payers.clone();
        let a = schedule(&s, &payers, 3);
        assert_eq!(a, schedule(&s, &payers, 3));
        assert_ne!(a, schedule(&s, &payers, 4));
        let secs = (s.workload.stop_ms - s.workload.start_ms) as f64 / 1000.0;
        let expected = s.workload.rate_per_s * secs;
        let n = a.len() as f64;
        assert!(
            (n - expected).abs() < 4.0 * expected.sqrt() + 1.0,
            "{n} payments for {expected} expected"
        );
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(a.iter().all(|p| p.at_ms <= s.workload.stop_ms as f64));
        assert!(
            a.iter()
                .all(|p| s.nodes[p.payee].role == flashmesh_scenario::Role::Merchant)
        );
    }

    #[test]
    fn reasons_are_short_codes() {
        assert_eq!(reason_code("refused (lock)"), "refused");
        assert_eq!(reason_code("timed out waiting for votes"), "votes_timeout");
        assert_eq!(reason_code("something else"), "error");
    }
}
