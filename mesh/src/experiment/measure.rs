//! What the embedded run measures besides the payments: queue depth per class sampled on every
//! link port, the switches' drop counters and the authorities' rejections snapshotted at each
//! phase boundary, and the KPIs they give per phase (BCB delay and loss from the flight
//! recorder, reroute time, the interruption window of a moving phone).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flashmesh_scenario::outputs::quantile;
use flashmesh_scenario::{PaymentOutcome, PaymentRecord, PhaseKpis};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::fabric::Fabric;
use crate::mesh::Mesh;

/// Queue of the strict-priority class 0 (votes and certificates: priority 7).
pub const CLASS0_QUEUE: usize = 7;
/// Queue of the best-effort class 2 (priority 0).
pub const CLASS2_QUEUE: usize = 0;

/// A sample of the deepest link-port queue of each class (a row of `queues.csv`).
pub type QueueSample = flashmesh_scenario::outputs::QueueRecord;

/// Samples queue depths every `every` until stopped.
pub struct QueueSampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Vec<QueueSample>>,
}

impl QueueSampler {
    /// Starts sampling `fabric`'s link ports.
    pub fn start(fabric: Arc<Fabric>, start: Instant, every: Duration) -> QueueSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let t = start.elapsed().as_secs_f64() * 1000.0;
                let max = |q: usize| fabric.queue_depths(q).into_iter().max().unwrap_or(0);
                out.push(QueueSample {
                    at_ms: t,
                    class0: max(CLASS0_QUEUE),
                    class2: max(CLASS2_QUEUE),
                });
                tokio::time::sleep(every).await;
            }
            out
        });
        QueueSampler { stop, task }
    }

    /// Stops and returns the samples.
    pub async fn finish(self) -> Vec<QueueSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// ms from the start.
    pub at_ms: f64,
    /// In-switch drops by reason, summed over switches.
    pub drops: BTreeMap<u32, u64>,
    /// Rejections by the running authorities.
    pub rejections: u64,
}

/// Snapshots taken during a run.
#[derive(Debug, Default)]
pub struct Snapshots(pub Mutex<Vec<Snapshot>>);

impl Snapshots {
    /// Reads the counters now (drops over P4Runtime).
    pub async fn take(&self, mesh: &Mesh, start: Instant) {
        let drops = mesh.control.drops().await;
        let snap = Snapshot {
            at_ms: start.elapsed().as_secs_f64() * 1000.0,
            drops,
            rejections: mesh.authority_rejections(),
        };
        self.0.lock().push(snap);
    }

    /// The last snapshot taken at or before `ms` (the first one if none).
    fn at(&self, ms: f64) -> Snapshot {
        let v = self.0.lock();
        v.iter()
            .rev()
            .find(|s| s.at_ms <= ms + 1.0)
            .or(v.first())
            .cloned()
            .unwrap_or_default()
    }

    /// Counter increases between `from` and `to` ms: drops by reason, rejections.
    pub fn delta(&self, from: f64, to: f64) -> (BTreeMap<u32, u64>, u64) {
        let (a, b) = (self.at(from), self.at(to));
        let mut drops = BTreeMap::new();
        for (r, n) in &b.drops {
            let d = n.saturating_sub(a.drops.get(r).copied().unwrap_or(0));
            drops.insert(*r, d);
        }
        (drops, b.rejections.saturating_sub(a.rejections))
    }
}

/// Fills the queue-depth KPIs of `k` from the samples inside its window.
pub fn queue_kpis(k: &mut PhaseKpis, samples: &[QueueSample]) {
    let inside: Vec<&QueueSample> = samples
        .iter()
        .filter(|s| s.at_ms >= k.start_ms as f64 && s.at_ms < k.end_ms as f64)
        .collect();
    if inside.is_empty() {
        return;
    }
    let n = inside.len() as f64;
    k.queue_depth_mean_class0 = Some(inside.iter().map(|s| s.class0 as f64).sum::<f64>() / n);
    k.queue_depth_max_class0 = inside.iter().map(|s| s.class0 as f64).reduce(f64::max);
    k.queue_depth_mean_class2 = Some(inside.iter().map(|s| s.class2 as f64).sum::<f64>() / n);
    k.queue_depth_max_class2 = inside.iter().map(|s| s.class2 as f64).reduce(f64::max);
}

/// Fills the drop and rejection KPIs of `k` from the snapshots.
pub fn counter_kpis(k: &mut PhaseKpis, snaps: &Snapshots) {
    let (drops, rejections) = snaps.delta(k.start_ms as f64, k.end_ms as f64);
    drop_kpis(k, &drops, rejections);
}

/// Fills the drop and rejection KPIs of `k` from the in-switch drops in its window (by reason
/// number) and the authorities' rejections.
pub fn drop_kpis(k: &mut PhaseKpis, drops: &BTreeMap<u32, u64>, rejections: u64) {
    let get = |r: u32| drops.get(&r).copied().unwrap_or(0) as f64;
    // reasons as numbered by the program's drop counter (controller's DROP_REASONS)
    let (stale, future, over, blocked, dup) = (get(1), get(2), get(3), get(4), get(5));
    k.switch_duplicate_drops = Some(dup);
    k.switch_stale_drops = Some(stale + future);
    k.switch_replay_drops = Some(dup + over + stale + future);
    k.switch_blocked_drops = Some(blocked);
    k.authority_rejections = Some(rejections as f64);
}

/// Fills the BCB delay and loss KPIs of `k` from the copies sent inside its window.
pub fn bcb_kpis(k: &mut PhaseKpis, fabric: &Fabric, start: Instant) {
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut w = fabric.recorder().window(at(k.start_ms), at(k.end_ms));
    if w.sent == 0 {
        return;
    }
    w.delays_ms.sort_by(f64::total_cmp);
    k.bcb_delay_p50_ms = quantile(&w.delays_ms, 0.5);
    k.bcb_delay_p95_ms = quantile(&w.delays_ms, 0.95);
    k.bcb_loss = Some(w.loss());
}

/// The longest reroute of the cuts made inside `k`'s window.
pub fn reroute_kpi(k: &mut PhaseKpis, reroutes: &[(f64, f64)]) {
    k.reroute_ms = reroutes
        .iter()
        .filter(|(at, _)| *at >= k.start_ms as f64 && *at < k.end_ms as f64)
        .map(|(_, ms)| *ms)
        .reduce(f64::max);
}

/// The interruption window of a phone that lost its old link at `cut_ms`: from its first
/// payment attempt at or after the cut (or the one in flight across it) to the end of its first
/// payment after that which succeeded. `None` if no payment succeeded after the cut.
pub fn interruption_ms(payments: &[PaymentRecord], payer: &str, cut_ms: f64) -> Option<f64> {
    let mine: Vec<&PaymentRecord> = payments
        .iter()
        .filter(|p| p.payer == payer && p.end_ms.is_some_and(|e| e >= cut_ms))
        .collect();
    let first_wanted = mine
        .iter()
        .map(|p| p.start_ms.max(cut_ms))
        .reduce(f64::min)?;
    let first_ok = mine
        .iter()
        .filter(|p| p.outcome == PaymentOutcome::Ok)
        .filter_map(|p| p.end_ms)
        .reduce(f64::min)?;
    Some((first_ok - first_wanted).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(payer: &str, start: f64, end: f64, ok: bool) -> PaymentRecord {
        PaymentRecord {
            id: 0,
            payer: payer.into(),
            payee: "m1".into(),
            committee: "A".into(),
            amount: 1,
            nonce: 0,
            start_ms: start,
            end_ms: Some(end),
            outcome: if ok {
                PaymentOutcome::Ok
            } else {
                PaymentOutcome::Failed
            },
            reason: String::new(),
            cert_ms: None,
            retries: 0,
            path: String::new(),
        }
    }

    #[test]
    fn interruption_runs_from_the_first_attempt_to_the_first_success() {
        let p = vec![
            pay("p0", 100.0, 150.0, true),
            pay("p0", 900.0, 1_400.0, false),
            pay("p0", 1_500.0, 1_560.0, true),
            pay("p1", 1_000.0, 1_010.0, true),
        ];
        assert_eq!(interruption_ms(&p, "p0", 1_000.0), Some(560.0));
        assert_eq!(interruption_ms(&p, "p0", 2_000.0), None);
        assert_eq!(interruption_ms(&p, "p1", 900.0), Some(10.0));
    }

    #[test]
    fn snapshot_deltas_by_reason() {
        let s = Snapshots::default();
        s.0.lock().push(Snapshot {
            at_ms: 0.0,
            drops: [(5, 10)].into(),
            rejections: 1,
        });
        s.0.lock().push(Snapshot {
            at_ms: 1000.0,
            drops: [(5, 25), (4, 3)].into(),
            rejections: 4,
        });
        let (d, r) = s.delta(0.0, 1000.0);
        assert_eq!(d.get(&5), Some(&15));
        assert_eq!(d.get(&4), Some(&3));
        assert_eq!(r, 3);
        let mut k = PhaseKpis {
            start_ms: 0,
            end_ms: 1000,
            ..PhaseKpis::default()
        };
        counter_kpis(&mut k, &s);
        assert_eq!(k.switch_duplicate_drops, Some(15.0));
        assert_eq!(k.switch_blocked_drops, Some(3.0));
        let q = |at_ms, class0, class2| QueueSample {
            at_ms,
            class0,
            class2,
        };
        let samples = vec![q(10.0, 1, 5), q(20.0, 3, 7), q(2000.0, 99, 99)];
        queue_kpis(&mut k, &samples);
        assert_eq!(k.queue_depth_max_class2, Some(7.0));
        assert_eq!(k.queue_depth_mean_class0, Some(2.0));
    }
}
