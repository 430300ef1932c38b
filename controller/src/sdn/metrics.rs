//! Counter readings of flash_mesh.p4 turned into Prometheus text and KPIs: packets and bytes sent
//! per port and class, drops per reason, the queue depth histogram, and link probe statistics.

use std::collections::BTreeMap;
use std::fmt::Display;

use flashmesh_core::host::prometheus::{Kind, sample, type_line};
use serde::Serialize;

use super::flash_mesh::{CLASS_NAMES, DROP_REASONS};
use super::monitor::PortStats;

/// One counter cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The counters of one switch, by index (only non-zero cells need be present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// `FmEgress.tx_class`, index = port * 4 + class.
    pub tx_class: BTreeMap<u32, Cell>,
    /// `FmIngress.drops`, index = reason.
    pub drops: BTreeMap<u32, Cell>,
    /// `FmEgress.qdepth_hist`, index = (port * 4 + class) * 8 + bucket.
    pub qdepth_hist: BTreeMap<u32, Cell>,
}

/// Upper bounds (inclusive) of the queue depth buckets; the last is open.
pub const QDEPTH_BUCKET_LE: [&str; 8] = ["0", "1", "3", "7", "15", "31", "63", "+Inf"];

/// KPIs of one switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwitchKpis {
    /// Packets sent per class name.
    pub tx_packets_per_class: BTreeMap<String, u64>,
    /// Drops per reason name.
    pub drops_per_reason: BTreeMap<String, u64>,
    /// Queue-depth samples per class and bucket (non-cumulative).
    pub qdepth_per_class: BTreeMap<String, [u64; 8]>,
}

fn class_name(c: u32) -> String {
    CLASS_NAMES
        .get(c as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("class{c}"))
}

fn reason_name(r: u32) -> String {
    DROP_REASONS
        .iter()
        .find(|(i, _)| *i == r)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("reason{r}"))
}

/// Sums a snapshot into KPIs.
pub fn kpis(s: &CounterSnapshot) -> SwitchKpis {
    let mut k = SwitchKpis::default();
    for (idx, c) in &s.tx_class {
        *k.tx_packets_per_class
            .entry(class_name(idx % 4))
            .or_default() += c.packets;
    }
    for (idx, c) in &s.drops {
        *k.drops_per_reason.entry(reason_name(*idx)).or_default() += c.packets;
    }
    for (idx, c) in &s.qdepth_hist {
        let class = (idx / 8) % 4;
        let bucket = (idx % 8) as usize;
        k.qdepth_per_class.entry(class_name(class)).or_default()[bucket] += c.packets;
    }
    k
}

/// Prometheus text for one switch's counters.
pub fn render_switch(out: &mut String, node: &str, s: &CounterSnapshot) {
    type_line(out, "flashmesh_tx_packets_total", Kind::Counter);
    type_line(out, "flashmesh_tx_bytes_total", Kind::Counter);
    for (idx, c) in &s.tx_class {
        let (port, class) = (idx / 4, class_name(idx % 4));
        let labels: [(&str, &dyn Display); 3] =
            [("node", &node), ("port", &port), ("class", &class)];
        sample(out, "flashmesh_tx_packets_total", &labels, c.packets);
        sample(out, "flashmesh_tx_bytes_total", &labels, c.bytes);
    }
    type_line(out, "flashmesh_switch_drops_total", Kind::Counter);
    for (r, name) in DROP_REASONS {
        let c = s.drops.get(&r).copied().unwrap_or_default();
        sample(
            out,
            "flashmesh_switch_drops_total",
            &[("node", &node), ("reason", &name)],
            c.packets,
        );
    }
    type_line(out, "flashmesh_queue_depth", Kind::Histogram);
    let mut per: BTreeMap<(u32, u32), [u64; 8]> = BTreeMap::new();
    for (idx, c) in &s.qdepth_hist {
        let pc = idx / 8;
        per.entry((pc / 4, pc % 4)).or_default()[(idx % 8) as usize] += c.packets;
    }
    for ((port, class), buckets) in per {
        let class = class_name(class);
        let mut cum = 0;
        for (b, le) in buckets.iter().zip(QDEPTH_BUCKET_LE) {
            cum += b;
            sample(
                out,
                "flashmesh_queue_depth_bucket",
                &[
                    ("node", &node),
                    ("port", &port),
                    ("class", &class),
                    ("le", &le),
                ],
                cum,
            );
        }
        sample(
            out,
            "flashmesh_queue_depth_count",
            &[("node", &node), ("port", &port), ("class", &class)],
            cum,
        );
    }
}

/// Prometheus text for link probe statistics.
pub fn render_links(out: &mut String, stats: &BTreeMap<(String, u16), PortStats>) {
    type_line(out, "flashmesh_link_up", Kind::Gauge);
    type_line(out, "flashmesh_link_rtt_microseconds", Kind::Gauge);
    type_line(out, "flashmesh_link_loss_ratio", Kind::Gauge);
    type_line(out, "flashmesh_link_probes_sent_total", Kind::Counter);
    for ((node, port), st) in stats {
        let l: [(&str, &dyn Display); 2] = [("node", node), ("port", port)];
        sample(out, "flashmesh_link_up", &l, u8::from(!st.down));
        if let Some(r) = st.srtt_us {
            sample(out, "flashmesh_link_rtt_microseconds", &l, r);
        }
        sample(
            out,
            "flashmesh_link_loss_ratio",
            &l,
            format_args!("{:.4}", st.loss()),
        );
        sample(out, "flashmesh_link_probes_sent_total", &l, st.sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> CounterSnapshot {
        let mut s = CounterSnapshot::default();
        s.tx_class.insert(
            2 * 4,
            Cell {
                packets: 5,
                bytes: 500,
            },
        );
        s.tx_class.insert(
            3 * 4 + 2,
            Cell {
                packets: 7,
                bytes: 700,
            },
        );
        s.tx_class.insert(
            3 * 4,
            Cell {
                packets: 1,
                bytes: 100,
            },
        );
        s.drops.insert(
            5,
            Cell {
                packets: 4,
                bytes: 0,
            },
        );
        s.qdepth_hist.insert(
            (2 * 4) * 8,
            Cell {
                packets: 3,
                bytes: 0,
            },
        );
        s.qdepth_hist.insert(
            (2 * 4) * 8 + 7,
            Cell {
                packets: 2,
                bytes: 0,
            },
        );
        s
    }

    #[test]
    fn kpis_sum_by_class_and_reason() {
        let k = kpis(&snap());
        assert_eq!(k.tx_packets_per_class["fastpay_bcb"], 6);
        assert_eq!(k.tx_packets_per_class["best_effort"], 7);
        assert_eq!(k.drops_per_reason["duplicate"], 4);
        assert_eq!(k.qdepth_per_class["fastpay_bcb"], [3, 0, 0, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn prometheus_text() {
        let mut out = String::new();
        render_switch(&mut out, "m1", &snap());
        assert!(out.contains(
            "flashmesh_tx_packets_total{node=\"m1\",port=\"3\",class=\"best_effort\"} 7"
        ));
        assert!(out.contains("flashmesh_switch_drops_total{node=\"m1\",reason=\"duplicate\"} 4"));
        assert!(out.contains("flashmesh_switch_drops_total{node=\"m1\",reason=\"stale\"} 0"));
        assert!(out.contains(
            "flashmesh_queue_depth_bucket{node=\"m1\",port=\"2\",class=\"fastpay_bcb\",le=\"+Inf\"} 5"
        ));
        let mut m = super::super::monitor::LinkMonitor::new(2);
        m.on_send("m1", 1, 1);
        m.on_reply("m1", 1, 1, 40);
        render_links(&mut out, m.stats());
        assert!(out.contains("flashmesh_link_up{node=\"m1\",port=\"1\"} 1"));
        assert!(out.contains("flashmesh_link_rtt_microseconds{node=\"m1\",port=\"1\"} 40"));
    }
}
