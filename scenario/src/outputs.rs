//! What every target writes for a run, in the same shape: `kpis.json` (KPIs per phase, computed
//! here from the payment records and the counters the target measured), `payments.csv` (one row
//! per payment), `events.csv` (what happened when). Wall-clock facts go to `run.json` so that
//! `kpis.json` is a pure function of what was measured (the simulator's is bit for bit the same
//! for the same seed).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::resolve::{Phase, Scenario};

/// Numeric KPIs an assertion may name (keys of a phase object in `kpis.json`).
pub const KPI_NAMES: &[&str] = &[
    "payments",
    "succeeded",
    "failed",
    "unfinished",
    "success_rate",
    "throughput_per_s",
    "finality_p50_ms",
    "finality_p95_ms",
    "finality_p99_ms",
    "finality_max_ms",
    "cert_assembly_p50_ms",
    "cert_assembly_p95_ms",
    "bcb_delay_p50_ms",
    "bcb_delay_p95_ms",
    "bcb_loss",
    "queue_depth_mean_class0",
    "queue_depth_max_class0",
    "queue_depth_mean_class2",
    "queue_depth_max_class2",
    "switch_replay_drops",
    "switch_duplicate_drops",
    "switch_stale_drops",
    "switch_blocked_drops",
    "authority_rejections",
    "authority_replay_rejections",
    "reroute_ms",
    "handoff_ms",
    "interruption_ms",
    "violations",
];

/// How a payment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// Final: a certificate and a quorum of receipts.
    Ok,
    /// Given up (the reason says why).
    Failed,
    /// Still open when the run ended.
    Unfinished,
}

/// One row of `payments.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// Sequence number in the run.
    pub id: u64,
    /// Paying node's name.
    pub payer: String,
    /// Payee node's name.
    pub payee: String,
    /// Committee that settled (or was asked).
    pub committee: String,
    /// Amount.
    pub amount: u64,
    /// The account nonce used.
    pub nonce: u64,
    /// Start, ms since the run's start.
    pub start_ms: f64,
    /// End (final or given up), if it ended.
    pub end_ms: Option<f64>,
    /// Outcome.
    pub outcome: PaymentOutcome,
    /// Failure reason (empty when ok).
    pub reason: String,
    /// Time from start to certificate, if one was made.
    pub cert_ms: Option<f64>,
    /// Retransmissions the payer sent.
    pub retries: u32,
    /// Node names on the path to the committee's first member (`p0>m0>m1`), when known.
    pub path: String,
}

impl PaymentRecord {
    /// The row of a payment that is due but has not ended: no nonce, end, reason or path yet.
    pub fn planned(
        id: u64,
        payer: String,
        payee: String,
        committee: String,
        amount: u64,
        start_ms: f64,
    ) -> PaymentRecord {
        PaymentRecord {
            id,
            payer,
            payee,
            committee,
            amount,
            nonce: 0,
            start_ms,
            end_ms: None,
            outcome: PaymentOutcome::Unfinished,
            reason: String::new(),
            cert_ms: None,
            retries: 0,
            path: String::new(),
        }
    }

    /// Finality latency, for a final payment.
    pub fn finality_ms(&self) -> Option<f64> {
        match (self.outcome, self.end_ms) {
            (PaymentOutcome::Ok, Some(end)) => Some(end - self.start_ms),
            _ => None,
        }
    }
}

/// One row of `events.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// When, ms since the run's start.
    pub at_ms: f64,
    /// Event kind (`link_cut`, `reroute`, `handoff_done`, ...).
    pub kind: String,
    /// What and where.
    pub detail: String,
}

/// One row of `queues.csv`: the deepest port queue of each class across the mesh at one moment
/// (written by targets that can sample queues; plots treat the file as optional).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueueRecord {
    /// When, ms since the run's start.
    pub at_ms: f64,
    /// Deepest class-0 (BCB, strict priority) queue, packets.
    pub class0: u64,
    /// Deepest class-2 (best effort) queue, packets.
    pub class2: u64,
}

/// KPIs of one phase. Counters a target cannot measure stay `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseKpis {
    /// Phase name.
    pub phase: String,
    /// Phase start.
    pub start_ms: u64,
    /// Phase end.
    pub end_ms: u64,
    /// Payments started in the phase.
    pub payments: u64,
    /// Of which final.
    pub succeeded: u64,
    /// Given up.
    pub failed: u64,
    /// Still open at the end.
    pub unfinished: u64,
    /// `succeeded / payments`.
    pub success_rate: Option<f64>,
    /// Final payments per second of the phase.
    pub throughput_per_s: Option<f64>,
    /// Finality percentiles (ms).
    pub finality_p50_ms: Option<f64>,
    /// P95.
    pub finality_p95_ms: Option<f64>,
    /// P99.
    pub finality_p99_ms: Option<f64>,
    /// Max.
    pub finality_max_ms: Option<f64>,
    /// Start → certificate, P50.
    pub cert_assembly_p50_ms: Option<f64>,
    /// P95.
    pub cert_assembly_p95_ms: Option<f64>,
    /// Failure reasons with counts.
    pub failure_reasons: BTreeMap<String, u64>,
    /// One-way BCB datagram delay through the mesh, P50.
    pub bcb_delay_p50_ms: Option<f64>,
    /// P95.
    pub bcb_delay_p95_ms: Option<f64>,
    /// Fraction of BCB datagrams sent that never arrived.
    pub bcb_loss: Option<f64>,
    /// Mean queue depth seen by class 0 (BCB) packets.
    pub queue_depth_mean_class0: Option<f64>,
    /// Max.
    pub queue_depth_max_class0: Option<f64>,
    /// Mean queue depth seen by class 2 (best effort) packets.
    pub queue_depth_mean_class2: Option<f64>,
    /// Max.
    pub queue_depth_max_class2: Option<f64>,
    /// Datagrams the switches dropped as replays (duplicate filter + stale epoch).
    pub switch_replay_drops: Option<f64>,
    /// Duplicate-filter drops.
    pub switch_duplicate_drops: Option<f64>,
    /// Epoch-window drops.
    pub switch_stale_drops: Option<f64>,
    /// Blocked-sender drops.
    pub switch_blocked_drops: Option<f64>,
    /// Requests the authorities refused.
    pub authority_rejections: Option<f64>,
    /// Of which replays (already-seen orders or certificates).
    pub authority_replay_rejections: Option<f64>,
    /// Link cut → first packet on the backup path (ms).
    pub reroute_ms: Option<f64>,
    /// Handoff order → account served by the new committee (ms).
    pub handoff_ms: Option<f64>,
    /// Longest time a moving payer had no payment finish (ms).
    pub interruption_ms: Option<f64>,
    /// Invariant violations (simulator).
    pub violations: Option<f64>,
}

impl PhaseKpis {
    /// The numeric KPI `name`, if measured.
    pub fn get(&self, name: &str) -> Option<f64> {
        let v = serde_json::to_value(self).ok()?;
        v.get(name)?.as_f64()
    }
}

/// Facts of the run that do not depend on the wall clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// `embedded`, `mininet` or `sim`.
    pub target: String,
    /// `flash-switch`, `bmv2` or `model`.
    pub switch: String,
    /// Seed used.
    pub seed: u64,
    /// Nodes.
    pub nodes: usize,
    /// Links.
    pub links: usize,
    /// Merchants.
    pub merchants: usize,
    /// Phones.
    pub phones: usize,
    /// Time scale applied (1 = full length).
    pub scale: f64,
}

/// `kpis.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// The run.
    pub run: RunInfo,
    /// Per phase, `all` first.
    pub phases: Vec<PhaseKpis>,
    /// Target-specific counters (name → value) for the whole run.
    pub counters: BTreeMap<String, f64>,
}

impl Kpis {
    /// The phase named `name`.
    pub fn phase(&self, name: &str) -> Option<&PhaseKpis> {
        self.phases.iter().find(|p| p.phase == name)
    }

    /// Mutable phase.
    pub fn phase_mut(&mut self, name: &str) -> Option<&mut PhaseKpis> {
        self.phases.iter_mut().find(|p| p.phase == name)
    }
}

/// The `q` quantile (0..=1) of `sorted` by nearest rank; None when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The `q` quantile (0..=1) of `values` in any order by nearest rank; 0 for an empty set.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile(&v, q).unwrap_or(0.0)
}

/// The payment-derived KPIs of `phase`: counts, success, finality and certificate percentiles,
/// failure reasons. Counter KPIs are left for the target to fill in.
pub fn payment_kpis(phase: &Phase, payments: &[PaymentRecord]) -> PhaseKpis {
    let inside: Vec<&PaymentRecord> = payments
        .iter()
        .filter(|p| p.start_ms >= phase.start_ms as f64 && p.start_ms < phase.end_ms as f64)
        .collect();
    let mut k = PhaseKpis {
        phase: phase.name.clone(),
        start_ms: phase.start_ms,
        end_ms: phase.end_ms,
        payments: inside.len() as u64,
        ..PhaseKpis::default()
    };
    let mut fin = Vec::new();
    let mut cert = Vec::new();
    for p in &inside {
        match p.outcome {
            PaymentOutcome::Ok => k.succeeded += 1,
            PaymentOutcome::Failed => {
                k.failed += 1;
                *k.failure_reasons.entry(p.reason.clone()).or_default() += 1;
            }
            PaymentOutcome::Unfinished => {
                k.unfinished += 1;
                *k.failure_reasons.entry("unfinished".into()).or_default() += 1;
            }
        }
        if let Some(f) = p.finality_ms() {
            fin.push(f);
        }
        if let Some(c) = p.cert_ms {
            cert.push(c);
        }
    }
    fin.sort_by(f64::total_cmp);
    cert.sort_by(f64::total_cmp);
    if k.payments > 0 {
        k.success_rate = Some(k.succeeded as f64 / k.payments as f64);
    }
    let secs = (phase.end_ms - phase.start_ms) as f64 / 1000.0;
    if secs > 0.0 {
        k.throughput_per_s = Some(k.succeeded as f64 / secs);
    }
    k.finality_p50_ms = quantile(&fin, 0.50);
    k.finality_p95_ms = quantile(&fin, 0.95);
    k.finality_p99_ms = quantile(&fin, 0.99);
    k.finality_max_ms = fin.last().copied();
    k.cert_assembly_p50_ms = quantile(&cert, 0.50);
    k.cert_assembly_p95_ms = quantile(&cert, 0.95);
    k
}

/// Payment-derived KPIs for every phase of `scenario`.
pub fn kpis_from_payments(scenario: &Scenario, run: RunInfo, payments: &[PaymentRecord]) -> Kpis {
    Kpis {
        run,
        phases: scenario
            .phases
            .iter()
            .map(|p| payment_kpis(p, payments))
            .collect(),
        counters: BTreeMap::new(),
    }
}

/// Writes `kpis.json`, `payments.csv` and `events.csv` into `dir` (created if missing).
pub fn write_outputs(
    dir: &Path,
    kpis: &Kpis,
    payments: &[PaymentRecord],
    events: &[EventRecord],
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(kpis).map_err(io::Error::other)?;
    std::fs::write(dir.join("kpis.json"), json + "\n")?;
    write_csv(&dir.join("payments.csv"), payments)?;
    write_csv(&dir.join("events.csv"), events)?;
    Ok(())
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> io::Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(io::Error::other)?;
    for r in rows {
        w.serialize(r).map_err(io::Error::other)?;
    }
    w.flush()
}

/// Writes payment rows to `path` (a load generator's `payments.csv`).
pub fn write_payments(path: &Path, payments: &[PaymentRecord]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_csv(path, payments)
}

/// Reads `payments.csv` back (for plots).
pub fn read_payments(path: &Path) -> io::Result<Vec<PaymentRecord>> {
    read_csv(path)
}

/// Reads `events.csv` back.
pub fn read_events(path: &Path) -> io::Result<Vec<EventRecord>> {
    read_csv(path)
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<Vec<T>> {
    let mut r = csv::Reader::from_path(path).map_err(io::Error::other)?;
    r.deserialize()
        .map(|row| row.map_err(io::Error::other))
        .collect()
}

/// Writes `queues.csv` into `dir`.
pub fn write_queues(dir: &Path, samples: &[QueueRecord]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_csv(&dir.join("queues.csv"), samples)
}

/// Reads `queues.csv` back.
pub fn read_queues(path: &Path) -> io::Result<Vec<QueueRecord>> {
    read_csv(path)
}

/// Reads `kpis.json` back.
pub fn read_kpis(path: &Path) -> io::Result<Kpis> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(id: u64, start: f64, end: Option<f64>, outcome: PaymentOutcome) -> PaymentRecord {
        PaymentRecord {
            id,
            payer: "p0".into(),
            payee: "m1".into(),
            committee: "shared".into(),
            amount: 5,
            nonce: id,
            start_ms: start,
            end_ms: end,
            outcome,
            reason: if outcome == PaymentOutcome::Failed {
                "timeout".into()
            } else {
                String::new()
            },
            cert_ms: end.map(|e| (e - start) / 2.0),
            retries: 0,
            path: "p0>m0".into(),
        }
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.95), Some(95.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.01), Some(7.0));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.95), 0.0);
        assert_eq!(percentile(&[3.0], 0.0), 3.0);
    }

    #[test]
    fn phase_kpis_count_only_payments_started_inside() {
        let ps = vec![
            pay(0, 10.0, Some(30.0), PaymentOutcome::Ok),
            pay(1, 20.0, Some(60.0), PaymentOutcome::Ok),
            pay(2, 150.0, None, PaymentOutcome::Failed),
            pay(3, 160.0, None, PaymentOutcome::Unfinished),
        ];
        let early = Phase {
            name: "early".into(),
            start_ms: 0,
            end_ms: 100,
        };
        let k = payment_kpis(&early, &ps);
        assert_eq!((k.payments, k.succeeded, k.failed), (2, 2, 0));
        assert_eq!(k.finality_p50_ms, Some(20.0));
        assert_eq!(k.finality_max_ms, Some(40.0));
        assert_eq!(k.success_rate, Some(1.0));
        let late = Phase {
            name: "late".into(),
            start_ms: 100,
            end_ms: 200,
        };
        let k = payment_kpis(&late, &ps);
        assert_eq!((k.payments, k.failed, k.unfinished), (2, 1, 1));
        assert_eq!(k.failure_reasons.get("timeout"), Some(&1));
        assert_eq!(k.failure_reasons.get("unfinished"), Some(&1));
        assert_eq!(k.finality_p50_ms, None);
        assert_eq!(k.get("success_rate"), Some(0.0));
        assert_eq!(k.get("reroute_ms"), None);
    }

    #[test]
    fn every_kpi_name_is_a_numeric_field() {
        let k = PhaseKpis::default();
        let v = serde_json::to_value(&k).unwrap();
        for name in KPI_NAMES {
            assert!(v.get(name).is_some(), "{name} is not a PhaseKpis field");
        }
    }

    #[test]
    fn outputs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ps = vec![
            pay(0, 1.0, Some(2.5), PaymentOutcome::Ok),
            pay(1, 3.0, None, PaymentOutcome::Failed),
        ];
        let ev = vec![EventRecord {
            at_ms: 5.0,
            kind: "link_cut".into(),
            detail: "m0-m1, both ways".into(),
        }];
        let kpis = Kpis::default();
        write_outputs(dir.path(), &kpis, &ps, &ev).unwrap();
        assert_eq!(read_payments(&dir.path().join("payments.csv")).unwrap(), ps);
        assert_eq!(read_events(&dir.path().join("events.csv")).unwrap(), ev);
        assert_eq!(read_kpis(&dir.path().join("kpis.json")).unwrap(), kpis);
        let qs = vec![QueueRecord {
            at_ms: 20.5,
            class0: 1,
            class2: 64,
        }];
        write_queues(dir.path(), &qs).unwrap();
        assert_eq!(read_queues(&dir.path().join("queues.csv")).unwrap(), qs);
    }
}
