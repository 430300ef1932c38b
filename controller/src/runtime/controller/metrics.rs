//! The controller's metrics: every switch's counters and KPIs, and the Prometheus text of
//! switch counters, links, mastership, epoch and policy decisions.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use tracing::warn;

use crate::p4rt::Mastership;
use crate::policy::PolicyRefusal;
use crate::sdn::flash_mesh::names;
use crate::sdn::metrics::{self as switch_metrics, Cell, CounterSnapshot, SwitchKpis};

use super::Controller;

impl Controller {
    /// Reads the counters of every switch.
    pub async fn counters(&self) -> BTreeMap<String, CounterSnapshot> {
        let mut out = BTreeMap::new();
        for (node, s) in &self.shared.sessions {
            let mut snap = CounterSnapshot::default();
            for (name, map) in [
                (names::TX_CLASS, &mut snap.tx_class),
                (names::DROPS, &mut snap.drops),
                (names::QDEPTH_HIST, &mut snap.qdepth_hist),
            ] {
                match s.read_counter(name).await {
                    Ok(cells) => {
                        for (i, p, b) in cells {
                            if p > 0 || b > 0 {
                                map.insert(
                                    i as u32,
                                    Cell {
                                        packets: p,
                                        bytes: b,
                                    },
                                );
                            }
                        }
                    }
                    Err(e) => warn!(node, counter = name, "counter read failed: {e}"),
                }
            }
            out.insert(node.clone(), snap);
        }
        out
    }

    /// KPIs of every switch.
    pub async fn kpis(&self) -> BTreeMap<String, SwitchKpis> {
        self.counters()
            .await
            .iter()
            .map(|(n, s)| (n.clone(), switch_metrics::kpis(s)))
            .collect()
    }

    /// Prometheus text: switch counters, links, mastership, epoch and policy decisions.
    pub async fn metrics(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for (node, snap) in self.counters().await {
            switch_metrics::render_switch(&mut out, &node, &snap);
        }
        let st = self.shared.state.lock().await;
        switch_metrics::render_links(&mut out, st.monitor.stats());
        let _ = writeln!(out, "# TYPE flashmesh_controller_primary gauge");
        for (node, s) in &self.shared.sessions {
            let _ = writeln!(
                out,
                "flashmesh_controller_primary{{node=\"{node}\"}} {}",
                u8::from(s.mastership() == Mastership::Primary)
            );
        }
        let _ = writeln!(
            out,
            "# TYPE flashmesh_epoch gauge\nflashmesh_epoch {}",
            self.epoch()
        );
        let _ = writeln!(
            out,
            "# TYPE flashmesh_control_writes_denied_total counter\nflashmesh_control_writes_denied_total {}",
            self.shared.writes_denied.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE flashmesh_policy_bundles_total counter");
        let _ = writeln!(
            out,
            "flashmesh_policy_bundles_total{{outcome=\"accepted\",reason=\"\"}} {}",
            st.counters.accepted
        );
        let _ = writeln!(
            out,
            "flashmesh_policy_bundles_total{{outcome=\"rolled_back\",reason=\"write_failed\"}} {}",
            st.counters.rolled_back
        );
        for k in PolicyRefusal::KINDS {
            let _ = writeln!(
                out,
                "flashmesh_policy_bundles_total{{outcome=\"refused\",reason=\"{k}\"}} {}",
                st.counters.refused.get(k).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "# TYPE flashmesh_policy_version gauge\nflashmesh_policy_version {}",
            st.policy_version.unwrap_or(0)
        );
        out
    }
}
