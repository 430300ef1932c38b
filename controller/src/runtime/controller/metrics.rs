//! The controller's metrics: every switch's counters and KPIs, and the Prometheus text of
//! switch counters, links, mastership, epoch and policy decisions.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use flashmesh_core::host::prometheus::{Kind, sample, type_line};
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
        let mut out = String::new();
        for (node, snap) in self.counters().await {
            switch_metrics::render_switch(&mut out, &node, &snap);
        }
        let st = self.shared.state.lock().await;
        switch_metrics::render_links(&mut out, st.monitor.stats());
        type_line(&mut out, "flashmesh_controller_primary", Kind::Gauge);
        for (node, s) in &self.shared.sessions {
            sample(
                &mut out,
                "flashmesh_controller_primary",
                &[("node", node)],
                u8::from(s.mastership() == Mastership::Primary),
            );
        }
        type_line(&mut out, "flashmesh_epoch", Kind::Gauge);
        sample(&mut out, "flashmesh_epoch", &[], self.epoch());
        type_line(
            &mut out,
            "flashmesh_control_writes_denied_total",
            Kind::Counter,
        );
        sample(
            &mut out,
            "flashmesh_control_writes_denied_total",
            &[],
            self.shared.writes_denied.load(Ordering::Relaxed),
        );
        let bundles = "flashmesh_policy_bundles_total";
        type_line(&mut out, bundles, Kind::Counter);
        sample(
            &mut out,
            bundles,
            &[("outcome", &"accepted"), ("reason", &"")],
            st.counters.accepted,
        );
        sample(
            &mut out,
            bundles,
            &[("outcome", &"rolled_back"), ("reason", &"write_failed")],
            st.counters.rolled_back,
        );
        for k in PolicyRefusal::KINDS {
            sample(
                &mut out,
                bundles,
                &[("outcome", &"refused"), ("reason", &k)],
                st.counters.refused.get(k).copied().unwrap_or(0),
            );
        }
        type_line(&mut out, "flashmesh_policy_version", Kind::Gauge);
        sample(
            &mut out,
            "flashmesh_policy_version",
            &[],
            st.policy_version.unwrap_or(0),
        );
        out
    }
}
