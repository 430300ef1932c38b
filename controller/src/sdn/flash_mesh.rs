//! The entries of `p4src/flash_mesh.p4` that the controller writes, as name-based specs.
//! Names follow the shared control-plane interface of that program.

use crate::p4rt::spec::{EntrySpec, FieldMatch};
use crate::policy::PolicySettings;

use super::routes::Route;
use super::topology::Mac;

/// P4Info names used by the controller.
pub mod names {
    /// Keyless epoch table.
    pub const EPOCH_WINDOW: &str = "FmIngress.epoch_window";
    /// Its default action.
    pub const SET_EPOCH: &str = "FmIngress.set_epoch";
    /// Blocked senders.
    pub const BLOCKED_SENDERS: &str = "FmIngress.blocked_senders";
    /// Block action.
    pub const BLOCK_SENDER: &str = "FmIngress.block_sender";
    /// Duplicate-filtered message types.
    pub const DEDUP_TYPES: &str = "FmIngress.dedup_types";
    /// Enable action.
    pub const DEDUP_ENABLE: &str = "FmIngress.dedup_enable";
    /// Classifier.
    pub const CLASSIFY: &str = "FmIngress.classify";
    /// Class action.
    pub const SET_CLASS: &str = "FmIngress.set_class";
    /// Routes.
    pub const IPV4_LPM: &str = "FmIngress.ipv4_lpm";
    /// Route action.
    pub const SET_NEXT_HOP: &str = "FmIngress.set_next_hop";
    /// Port liveness.
    pub const PORT_DOWN: &str = "FmIngress.port_down";
    /// Down action.
    pub const MARK_DOWN: &str = "FmIngress.mark_down";
    /// Per port and class transmit counter.
    pub const TX_CLASS: &str = "FmEgress.tx_class";
    /// Drops per reason.
    pub const DROPS: &str = "FmIngress.drops";
    /// Queue depth histogram.
    pub const QDEPTH_HIST: &str = "FmEgress.qdepth_hist";
    /// Match field: FMH sender.
    pub const F_SENDER: &str = "hdr.fmh.sender";
    /// Match field: FMH message type.
    pub const F_MSG_TYPE: &str = "hdr.fmh.msg_type";
    /// Match field: FMH validity.
    pub const F_FMH_VALID: &str = "meta.fmh_valid";
    /// Match field: IPv4 destination.
    pub const F_DST: &str = "hdr.ipv4.dstAddr";
    /// Match field: chosen egress port.
    pub const F_OUT_PORT: &str = "meta.out_port";
    /// Packet-in metadata: ingress port.
    pub const PI_INGRESS_PORT: &str = "ingress_port";
    /// Packet-in metadata: reason.
    pub const PI_REASON: &str = "reason";
    /// Packet-out metadata: egress port.
    pub const PO_EGRESS_PORT: &str = "egress_port";
    /// Packet-out metadata: flags.
    pub const PO_FLAGS: &str = "flags";
}

/// Packet-in reason of a probe reply.
pub const REASON_PROBE_REPLY: u64 = 1;

/// Drop reasons (index of `FmIngress.drops`) and their metric labels.
pub const DROP_REASONS: [(u32, &str); 10] = [
    (1, "stale"),
    (2, "future"),
    (3, "retry_over_allowance"),
    (4, "blocked_sender"),
    (5, "duplicate"),
    (6, "no_route"),
    (7, "ipv4_ttl_expired"),
    (8, "short_fmh"),
    (9, "fmh_hop_limit_expired"),
    (10, "not_ipv4"),
];

/// Traffic class labels by class id.
pub const CLASS_NAMES: [&str; 3] = ["fastpay_bcb", "payment_data", "best_effort"];

/// Priority base of classification entries (ternary tables need one).
pub const CLASSIFY_PRIORITY: i32 = 100;

/// The epoch window default action.
pub fn epoch_entry(epoch: u32, retry_allowance: u8) -> EntrySpec {
    EntrySpec::default_action(names::EPOCH_WINDOW, names::SET_EPOCH)
        .param("current_epoch", u128::from(epoch))
        .param("retry_allowance", u128::from(retry_allowance))
}

/// Classification entries from policy: one per message type, on valid FMH packets.
pub fn classify_entries(s: &PolicySettings) -> Vec<EntrySpec> {
    s.classes
        .iter()
        .map(|r| {
            EntrySpec::new(names::CLASSIFY, names::SET_CLASS)
                .matching(names::F_FMH_VALID, FieldMatch::exact(1))
                .matching(
                    names::F_MSG_TYPE,
                    FieldMatch::ternary(r.msg_type.into(), 0xff),
                )
                .with_priority(CLASSIFY_PRIORITY)
                .param("class_id", r.class.into())
                .param("prio", r.priority.into())
        })
        .collect()
}

/// The classification entries kept while priority flows are withheld: only link probes keep
/// their class, so that link liveness does not depend on the experiment.
pub fn classify_entries_withheld(s: &PolicySettings) -> Vec<EntrySpec> {
    let probes_only = PolicySettings {
        classes: s
            .classes
            .iter()
            .filter(|r| r.msg_type == flashmesh_core::wire::MsgType::Probe.to_u8())
            .copied()
            .collect(),
        ..s.clone()
    };
    classify_entries(&probes_only)
}

/// Duplicate-filter entries from policy.
pub fn dedup_entries(s: &PolicySettings) -> Vec<EntrySpec> {
    let mut types = s.dedup_types.clone();
    types.sort_unstable();
    types.dedup();
    types
        .into_iter()
        .map(|t| {
            EntrySpec::new(names::DEDUP_TYPES, names::DEDUP_ENABLE)
                .matching(names::F_MSG_TYPE, FieldMatch::exact(t.into()))
        })
        .collect()
}

/// Everything policy decides on one switch, except the epoch (written by the ticker).
pub fn policy_entries(s: &PolicySettings) -> Vec<EntrySpec> {
    let mut v = classify_entries(s);
    v.extend(dedup_entries(s));
    v
}

fn mac_u128(m: &Mac) -> u128 {
    m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

/// The `ipv4_lpm` entry of a route.
pub fn route_entry(r: &Route) -> EntrySpec {
    EntrySpec::new(names::IPV4_LPM, names::SET_NEXT_HOP)
        .matching(
            names::F_DST,
            FieldMatch::lpm(u32::from(r.addr).into(), r.prefix_len.into()),
        )
        .param("port", r.primary.port.into())
        .param("dmac", mac_u128(&r.primary.dmac))
        .param("backup_port", r.backup.port.into())
        .param("backup_dmac", mac_u128(&r.backup.dmac))
        .param("smac", mac_u128(&r.smac))
}

/// A blocked-sender entry.
pub fn blocked_entry(sender: [u8; 8]) -> EntrySpec {
    EntrySpec::new(names::BLOCKED_SENDERS, names::BLOCK_SENDER).matching(
        names::F_SENDER,
        FieldMatch::exact(u64::from_be_bytes(sender).into()),
    )
}

/// A port-down entry.
pub fn port_down_entry(port: u16) -> EntrySpec {
    EntrySpec::new(names::PORT_DOWN, names::MARK_DOWN)
        .matching(names::F_OUT_PORT, FieldMatch::exact(port.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p4rt::bytes::from_u128;
    use crate::sdn::routes::NextHop;
    use std::net::Ipv4Addr;

    #[test]
    fn policy_entries_follow_settings() {
        let s = PolicySettings::default();
        let c = classify_entries(&s);
        assert_eq!(c.len(), s.classes.len());
        assert_eq!(c[0].params[0], ("class_id".into(), from_u128(0)));
        assert_eq!(c[0].params[1], ("prio".into(), from_u128(7)));
        assert_eq!(c[0].priority, CLASSIFY_PRIORITY);
        let d = dedup_entries(&s);
        assert_eq!(d.len(), s.dedup_types.len());
        assert_eq!(d[0].matches[0].1, FieldMatch::exact(1));
        assert_eq!(d[1].matches[0].1, FieldMatch::exact(3));
    }

    #[test]
    fn route_entry_params() {
        let r = Route {
            addr: Ipv4Addr::new(10, 0, 2, 0),
            prefix_len: 24,
            primary: NextHop {
                port: 1,
                dmac: [0, 0, 0, 0, 0, 2],
            },
            backup: NextHop {
                port: 2,
                dmac: [0, 0, 0, 0, 0, 3],
            },
            smac: [2, 0, 0, 0, 0, 1],
        };
        let e = route_entry(&r);
        assert_eq!(e.matches[0].1, FieldMatch::Lpm(vec![10, 0, 2, 0], 24));
        assert_eq!(e.params.len(), 5);
        assert_eq!(e.params[4].1, vec![2, 0, 0, 0, 0, 1]);
        let ep = epoch_entry(7, 2);
        assert!(ep.is_default);
        assert_eq!(
            blocked_entry([0, 0, 0, 0, 0, 0, 1, 2]).matches[0].1,
            FieldMatch::Exact(vec![1, 2])
        );
        assert_eq!(port_down_entry(3).table, names::PORT_DOWN);
    }
}
