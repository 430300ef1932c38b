//! What a run produces: the same `kpis.json`, `payments.csv` and `events.csv` as the other
//! targets (payments of honest payers only; network and authority counters are run totals,
//! reported on the `all` phase), plus the violations and, when asked, the event trace.

use std::collections::BTreeMap;

use flashmesh_scenario::outputs::{kpis_from_payments, quantile};
use flashmesh_scenario::{EventRecord, Kpis, PaymentRecord, Role, RunInfo};
use serde::Serialize;

use crate::agenda::to_ms;
use crate::monitor::Violation;
use crate::plan::FaultPlan;
use crate::world::World;

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// KPIs.
    pub kpis: Kpis,
    /// Honest payments.
    #[serde(skip)]
    pub payments: Vec<PaymentRecord>,
    /// Timeline and fault events.
    #[serde(skip)]
    pub events: Vec<EventRecord>,
    /// What broke.
    pub violations: Vec<Violation>,
    /// The faults injected.
    pub plan: FaultPlan,
    /// One line per traced event (empty unless tracing).
    #[serde(skip)]
    pub trace: Vec<String>,
    /// Events handled.
    pub steps: u64,
    /// Virtual time at the end (ms).
    pub virtual_ms: f64,
}

impl RunResult {
    /// Whether no invariant broke.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl World {
    /// Ends the run: its outputs.
    pub fn result(mut self) -> RunResult {
        let s = &self.scenario;
        let run = RunInfo {
            scenario: s.name.clone(),
            target: "sim".into(),
            switch: "model".into(),
            seed: self.config.seed,
            nodes: s.nodes.len(),
            links: s.links.len(),
            merchants: s.nodes.iter().filter(|n| n.role == Role::Merchant).count(),
            phones: s.nodes.iter().filter(|n| n.role == Role::Phone).count(),
            scale: 1.0,
        };
        let payments: Vec<PaymentRecord> = self
            .payments
            .iter()
            .zip(&self.payment_meta)
            .filter(|(_, m)| m.honest)
            .map(|(p, _)| p.clone())
            .collect();
        let mut kpis = kpis_from_payments(s, run, &payments);
        let c = &self.counters;
        let get = |k: &str| c.get(k).copied().unwrap_or(0.0);
        self.bcb_delays.sort_by(f64::total_cmp);
        let bcb_p50 = quantile(&self.bcb_delays, 0.5);
        let bcb_p95 = quantile(&self.bcb_delays, 0.95);
        let bcb_loss =
            (self.bcb_sent > 0).then(|| 1.0 - self.bcb_arrived as f64 / self.bcb_sent as f64);
        let rejections: f64 = c
            .iter()
            .filter(|(k, _)| k.starts_with("authority.rejected."))
            .map(|(_, v)| v)
            .sum();
        let replay_rejections = get("authority.rejected.conflicting_order");
        let q = self.queue_seen;
        let mean = |i: usize| (q[i].0 > 0).then(|| q[i].1 as f64 / q[i].0 as f64);
        let max = |i: usize| (q[i].0 > 0).then_some(q[i].2 as f64);
        let violations = self.monitor.violations.len() as f64;
        if let Some(all) = kpis.phase_mut("all") {
            all.bcb_delay_p50_ms = bcb_p50;
            all.bcb_delay_p95_ms = bcb_p95;
            all.bcb_loss = bcb_loss;
            all.queue_depth_mean_class0 = mean(0);
            all.queue_depth_max_class0 = max(0);
            all.queue_depth_mean_class2 = mean(2);
            all.queue_depth_max_class2 = max(2);
            let dup = get("switch.drop.duplicate");
            let stale = get("switch.drop.stale_epoch") + get("switch.drop.future_epoch");
            all.switch_duplicate_drops = Some(dup);
            all.switch_stale_drops = Some(stale);
            all.switch_replay_drops = Some(dup + stale);
            all.switch_blocked_drops = Some(get("switch.drop.blocked"));
            all.authority_rejections = Some(rejections);
            all.authority_replay_rejections = Some(replay_rejections);
            all.violations = Some(violations);
        }
        let mut counters: BTreeMap<String, f64> = self.counters.clone();
        for (k, v) in &self.monitor.checks {
            counters.insert(format!("checks.{k}"), *v as f64);
        }
        counters.insert("sim.steps".into(), self.steps as f64);
        counters.insert("sim.virtual_ms".into(), to_ms(self.now()));
        kpis.counters = counters;
        RunResult {
            seed: self.config.seed,
            kpis,
            payments,
            events: std::mem::take(&mut self.events),
            violations: std::mem::take(&mut self.monitor.violations),
            plan: self.config.plan.clone(),
            trace: std::mem::take(&mut self.trace),
            steps: self.steps,
            virtual_ms: to_ms(self.now()),
        }
    }
}
