//! The demo's results: one KPI row per phase, the goals checked against them, JSON (serde) and
//! a human table.
//!
//! The congestion goals compare the finality of the *bottleneck flows*: the payments of the
//! phones that cannot settle without a message crossing the bottleneck link `m0–m1` in its
//! loaded direction (`m0` to `m1`, the way the best-effort flood goes), either an ORDER or
//! CERTIFICATE on its way to an authority or a VOTE or RECEIPT on its way back. With committees
//! of one that is "the phone's messages to its payee, or the answers, cross it". With the shared
//! committee a phone sends to every authority and settles on the first quorum, so it counts only
//! when the authorities it reaches without the loaded direction weigh less than the quorum
//! (`MeshPlan::bottleneck_bound`): a phone that has one authority behind the flood still
//! settles at full speed on the other three and is not a bottleneck flow, while one with two
//! behind it (cluster 0's `A` and `B` in the standard mesh, the same phones as with committees
//! of one) must wait for one of them.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// KPIs of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// Phase name: `idle`, `congestion_priority`, `congestion_no_priority`, `replay`,
    /// `link_failure`.
    pub name: String,
    /// Measured time, seconds.
    pub duration_s: f64,
    /// Payments finished (quorum of receipts).
    pub payments: usize,
    /// Payments that did not finish within their phase timeouts.
    pub payments_failed: usize,
    /// Finality of finished payments (first ORDER to quorum of receipts), median, ms.
    pub finality_ms_p50: f64,
    /// 95th percentile of finality, ms.
    pub finality_ms_p95: f64,
    /// Payments finished by the bottleneck flows: phones that cannot settle without crossing the
    /// bottleneck link in the flood's direction (the flows the flood competes with; see the
    /// module documentation).
    pub bottleneck_payments: usize,
    /// Those phones' failed payments.
    pub bottleneck_payments_failed: usize,
    /// Their finality, median, ms.
    pub bottleneck_finality_ms_p50: f64,
    /// Their finality, 95th percentile, ms.
    pub bottleneck_finality_ms_p95: f64,
    /// One-way delay of BCB messages (ORDER, VOTE, CERTIFICATE, RECEIPT) host to host (from the
    /// send to the receiver's switch handing the frame to the receiver's host), p95, ms.
    pub bcb_delay_ms_p95: f64,
    /// Fraction of BCB messages sent that never reached their host's port.
    pub bcb_loss: f64,
    /// Best-effort frames delivered to the flood sink per second.
    pub best_effort_throughput_pps: f64,
    /// Best-effort frames offered by the flood source per second.
    pub best_effort_offered_pps: f64,
    /// Replayed or forged messages the attacker sent.
    pub replays_sent: u64,
    /// Of those, copies beyond the allowance (a key the network already carried, or a retry
    /// above the allowance).
    pub replays_beyond_allowance: u64,
    /// Duplicate and over-allowance drops counted by the switches (P4Runtime counter reads).
    pub replays_dropped_in_switch: u64,
    /// Requests the authorities rejected during the phase.
    pub replays_rejected_by_authority: u64,
    /// Outage of the 1 kHz BCB stream across the cut link: from the cut to the send time of the
    /// first packet after it that reached its destination (over the detour), ms.
    pub reroute_ms: Option<f64>,
    /// From the cut to that packet's arrival (adds the detour's one-way delay), ms.
    pub reroute_first_arrival_ms: Option<f64>,
    /// Probe interval in force during the phase, ms.
    pub probe_interval_ms: u64,
    /// Links the controllers' probes declared down during the phase (real cuts and false
    /// alarms of a loaded machine alike).
    pub link_down_events: u64,
    /// Why payments failed: "phone: error" and how often.
    pub failures: BTreeMap<String, u64>,
    /// In-switch drops during the phase by reason.
    pub switch_drops: BTreeMap<String, u64>,
}

/// The goals of the demo, checked against the phases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Goals {
    /// p95 finality under congestion with priority / idle p95 (goal ≤ 1.1), for the payments
    /// that cross the bottleneck.
    pub priority_p95_ratio: Option<f64>,
    /// p95 finality under congestion without priority / idle p95 (goal ≥ 5).
    pub no_priority_p95_ratio: Option<f64>,
    /// Every replay beyond the allowance was dropped in a switch.
    pub replays_all_dropped_in_switch: Option<bool>,
    /// Reroute time (goal ≤ 50 ms with 10 ms probes).
    pub reroute_ms: Option<f64>,
    /// Each goal met.
    pub priority_met: Option<bool>,
    /// No-priority goal met.
    pub no_priority_met: Option<bool>,
    /// Reroute goal met.
    pub reroute_met: Option<bool>,
}

/// Everything the demo measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemoReport {
    /// RNG seed.
    pub seed: u64,
    /// Committee mode: `per-merchant` (committees of one) or `shared` (every merchant's
    /// authority in one committee).
    #[serde(default)]
    pub committee: String,
    /// Switches (one per node).
    pub switches: usize,
    /// Merchant nodes (anchors).
    pub merchants: usize,
    /// Phone nodes (wallets).
    pub phones: usize,
    /// Emulated links.
    pub links: usize,
    /// Bottleneck rate, packets/s.
    pub bottleneck_pps: f64,
    /// Flood rate, packets/s.
    pub flood_pps: f64,
    /// Probe interval of the link-failure phase, ms.
    pub probe_interval_ms: u64,
    /// In-switch retry allowance.
    pub retry_allowance: u8,
    /// Set-up time (switches, pipelines, anchors), seconds.
    pub setup_s: f64,
    /// Whole run, seconds.
    pub wall_time_s: f64,
    /// The phases in order.
    pub phases: Vec<PhaseReport>,
    /// The goals.
    pub goals: Goals,
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.1}"))
}

impl DemoReport {
    /// Fills [`DemoReport::goals`] from the phases.
    pub fn check_goals(&mut self) {
        let find = |n: &str| self.phases.iter().find(|p| p.name == n);
        let idle = find("idle").map(|p| p.bottleneck_finality_ms_p95);
        let ratio = |n: &str| match (find(n), idle) {
            (Some(p), Some(i)) if i > 0.0 && p.bottleneck_payments > 0 => {
                Some(p.bottleneck_finality_ms_p95 / i)
            }
            _ => None,
        };
        let g = &mut self.goals;
        g.priority_p95_ratio = ratio("congestion_priority");
        g.no_priority_p95_ratio = ratio("congestion_no_priority");
        g.replays_all_dropped_in_switch =
            find("replay").map(|p| p.replays_dropped_in_switch >= p.replays_beyond_allowance);
        g.reroute_ms = find("link_failure").and_then(|p| p.reroute_ms);
        g.priority_met = g.priority_p95_ratio.map(|r| r <= 1.1);
        g.no_priority_met = g.no_priority_p95_ratio.map(|r| r >= 5.0);
        g.reroute_met = g.reroute_ms.map(|r| r <= 50.0);
    }

    /// A human-readable KPI table with the goals under it.
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Flash-Mesh demo: {} switches ({} merchants, {} phones), committee {}, {} links, bottleneck {:.0} pps, flood {:.0} pps, probes every {} ms in the link-failure phase, seed {}",
            self.switches,
            self.merchants,
            self.phones,
            match self.committee.as_str() {
                "shared" => format!("shared by all {} anchors", self.merchants),
                "" => "?".into(),
                _ => "of one per merchant".into(),
            },
            self.links,
            self.bottleneck_pps,
            self.flood_pps,
            self.probe_interval_ms,
            self.seed
        );
        let _ = writeln!(
            s,
            "{:<24} {:>5} {:>4} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8}",
            "phase",
            "pays",
            "fail",
            "fin p50",
            "fin p95",
            "bn pays",
            "bn p95",
            "bcb p95",
            "loss",
            "BE pps",
            "rp sent",
            "rp>allw",
            "rp sw",
            "rp auth",
            "reroute"
        );
        for p in &self.phases {
            let _ = writeln!(
                s,
                "{:<24} {:>5} {:>4} {:>8.1} {:>8.1} {:>10} {:>8.1} {:>8.1} {:>6.2}% {:>9.0} {:>7} {:>7} {:>7} {:>7} {:>8}",
                p.name,
                p.payments,
                p.payments_failed,
                p.finality_ms_p50,
                p.finality_ms_p95,
                format!("{}/{}", p.bottleneck_payments, p.bottleneck_payments_failed),
                p.bottleneck_finality_ms_p95,
                p.bcb_delay_ms_p95,
                p.bcb_loss * 100.0,
                p.best_effort_throughput_pps,
                p.replays_sent,
                p.replays_beyond_allowance,
                p.replays_dropped_in_switch,
                p.replays_rejected_by_authority,
                fmt_opt(p.reroute_ms),
            );
        }
        let flaps: Vec<String> = self
            .phases
            .iter()
            .map(|p| {
                format!(
                    "{} {} ({} ms probes)",
                    p.name, p.link_down_events, p.probe_interval_ms
                )
            })
            .collect();
        let _ = writeln!(s, "links declared down by probes: {}", flaps.join(", "));
        for p in self.phases.iter().filter(|p| p.reroute_ms.is_some()) {
            let _ = writeln!(
                s,
                "link cut in {}: first packet after the cut that got through was sent {} ms after it and arrived {} ms after it",
                p.name,
                fmt_opt(p.reroute_ms),
                fmt_opt(p.reroute_first_arrival_ms)
            );
        }
        let g = &self.goals;
        let met = |m: Option<bool>| match m {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        let _ = writeln!(
            s,
            "columns: fin = finality of all payments (ms); bn = bottleneck flows, the payments that cannot reach a quorum without crossing the bottleneck in the flood's direction (finished/failed) and their p95 finality; bcb = one-way BCB delay p95 and loss; rp = replays sent / beyond the allowance / dropped in switches / rejected by authorities"
        );
        let _ = writeln!(
            s,
            "goal: p95 finality (bottleneck flows) with priority under congestion <= 1.1x idle: {} ({})",
            g.priority_p95_ratio
                .map_or_else(|| "-".into(), |r| format!("{r:.2}x")),
            met(g.priority_met)
        );
        let _ = writeln!(
            s,
            "goal: p95 finality (bottleneck flows) without priority under congestion >= 5x idle: {} ({})",
            g.no_priority_p95_ratio
                .map_or_else(|| "-".into(), |r| format!("{r:.2}x")),
            met(g.no_priority_met)
        );
        let _ = writeln!(
            s,
            "goal: every replay beyond the allowance dropped in a switch: {}",
            met(g.replays_all_dropped_in_switch)
        );
        let _ = writeln!(
            s,
            "goal: traffic restored <= 50 ms after a link cut: {} ms ({})",
            fmt_opt(g.reroute_ms),
            met(g.reroute_met)
        );
        let _ = writeln!(
            s,
            "set-up {:.1} s, whole run {:.1} s",
            self.setup_s, self.wall_time_s
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_follow_the_phases_and_json_has_the_fields() {
        let phase = |name: &str, p95: f64| PhaseReport {
            name: name.into(),
            payments: 10,
            finality_ms_p95: p95,
            bottleneck_payments: 3,
            bottleneck_finality_ms_p95: p95,
            ..PhaseReport::default()
        };
        let mut r = DemoReport {
            phases: vec![
                phase("idle", 20.0),
                phase("congestion_priority", 21.0),
                phase("congestion_no_priority", 150.0),
                PhaseReport {
                    replays_sent: 9,
                    replays_beyond_allowance: 6,
                    replays_dropped_in_switch: 6,
                    ..phase("replay", 20.0)
                },
                PhaseReport {
                    reroute_ms: Some(60.0),
                    ..phase("link_failure", 20.0)
                },
            ],
            ..DemoReport::default()
        };
        r.check_goals();
        assert_eq!(r.goals.priority_met, Some(true));
        assert_eq!(r.goals.no_priority_met, Some(true));
        assert_eq!(r.goals.replays_all_dropped_in_switch, Some(true));
        assert_eq!(r.goals.reroute_met, Some(false));
        let json = serde_json::to_value(&r).unwrap();
        for f in [
            "name",
            "finality_ms_p50",
            "finality_ms_p95",
            "bcb_delay_ms_p95",
            "bcb_loss",
            "best_effort_throughput_pps",
            "replays_sent",
            "replays_dropped_in_switch",
            "replays_rejected_by_authority",
            "reroute_ms",
        ] {
            assert!(json["phases"][0].get(f).is_some(), "missing {f}");
        }
        let table = r.render_table();
        assert!(table.contains("congestion_no_priority"));
        assert!(table.contains("NOT met"));
    }
}
