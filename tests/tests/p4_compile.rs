//! `p4src/flash_mesh.p4` compiles through the flash-switch engine, and its P4Info holds every
//! name the controller looks up (the control-plane contract of the data plane): tables with
//! their match fields, actions with their parameters, counters with their sizes, and the
//! packet-in/packet-out headers.

use std::path::PathBuf;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4src/flash_mesh.p4")
}

/// `(name, width)` of a match field or parameter.
type Named = (&'static str, i32);
/// A table: name, match fields, actions it must offer.
type TableSpec = (&'static str, &'static [Named], &'static [&'static str]);

const TABLES: &[TableSpec] = &[
    ("FmIngress.epoch_window", &[], &["FmIngress.set_epoch"]),
    (
        "FmIngress.blocked_senders",
        &[("hdr.fmh.sender", 64)],
        &["FmIngress.block_sender", "NoAction"],
    ),
    (
        "FmIngress.dedup_types",
        &[("hdr.fmh.msg_type", 8)],
        &["FmIngress.dedup_enable", "NoAction"],
    ),
    (
        "FmIngress.classify",
        &[("meta.fmh_valid", 1), ("hdr.fmh.msg_type", 8)],
        &["FmIngress.set_class"],
    ),
    (
        "FmIngress.ipv4_lpm",
        &[("hdr.ipv4.dstAddr", 32)],
        &["FmIngress.set_next_hop", "FmIngress.no_route"],
    ),
    (
        "FmIngress.port_down",
        &[("meta.out_port", 9)],
        &["FmIngress.mark_down", "NoAction"],
    ),
];

/// (action, [(parameter, width)])
const ACTIONS: &[(&str, &[Named])] = &[
    (
        "FmIngress.set_epoch",
        &[("current_epoch", 32), ("retry_allowance", 8)],
    ),
    ("FmIngress.block_sender", &[]),
    ("FmIngress.dedup_enable", &[]),
    ("FmIngress.set_class", &[("class_id", 2), ("prio", 3)]),
    (
        "FmIngress.set_next_hop",
        &[
            ("port", 9),
            ("dmac", 48),
            ("backup_port", 9),
            ("backup_dmac", 48),
            ("smac", 48),
        ],
    ),
    ("FmIngress.no_route", &[]),
    ("FmIngress.mark_down", &[]),
];

/// (counter, size)
const COUNTERS: &[(&str, i64)] = &[
    ("FmIngress.drops", 16),
    ("FmEgress.tx_class", 256),
    ("FmEgress.qdepth_hist", 2048),
];

#[test]
fn flash_mesh_compiles_for_the_engine() {
    let program = flashmesh_p4::compile_file(path()).unwrap_or_else(|d| panic!("{d}"));
    assert!(program.packet_in.is_some() && program.packet_out.is_some());
}

/// The preamble name of a P4Info entity.
macro_rules! name {
    ($e:expr) => {
        $e.preamble
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
}

#[test]
fn p4info_has_the_names_the_controller_uses() {
    let info = flashmesh_p4::p4info_file(&path()).unwrap_or_else(|d| panic!("{d}"));
    let action_name = |id: u32| -> String {
        info.actions
            .iter()
            .find(|a| a.preamble.as_ref().is_some_and(|p| p.id == id))
            .map(|a| name!(a))
            .unwrap_or_default()
    };
    for (table, fields, actions) in TABLES {
        let t = info
            .tables
            .iter()
            .find(|t| name!(t) == *table)
            .unwrap_or_else(|| panic!("P4Info has no table {table}"));
        let got: Vec<(String, i32)> = t
            .match_fields
            .iter()
            .map(|m| (m.name.clone(), m.bitwidth))
            .collect();
        let want: Vec<(String, i32)> = fields.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        assert_eq!(got, want, "{table}: match fields");
        let refs: Vec<String> = t.action_refs.iter().map(|r| action_name(r.id)).collect();
        for a in *actions {
            assert!(
                refs.iter().any(|r| r == a),
                "{table} lacks action {a}: {refs:?}"
            );
        }
    }
    for (action, params) in ACTIONS {
        let a = info
            .actions
            .iter()
            .find(|a| name!(a) == *action)
            .unwrap_or_else(|| panic!("P4Info has no action {action}"));
        let got: Vec<(String, i32)> = a
            .params
            .iter()
            .map(|p| (p.name.clone(), p.bitwidth))
            .collect();
        let want: Vec<(String, i32)> = params.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        assert_eq!(got, want, "{action}: parameters");
    }
    for (counter, size) in COUNTERS {
        let c = info
            .counters
            .iter()
            .find(|c| name!(c) == *counter)
            .unwrap_or_else(|| panic!("P4Info has no counter {counter}"));
        assert_eq!(c.size, *size, "{counter}: size");
    }
    let cpm = |n: &str| -> Vec<(String, i32)> {
        info.controller_packet_metadata
            .iter()
            .find(|c| name!(c) == n)
            .unwrap_or_else(|| panic!("no controller header {n}"))
            .metadata
            .iter()
            .map(|m| (m.name.clone(), m.bitwidth))
            .collect()
    };
    assert_eq!(
        cpm("packet_in"),
        vec![("ingress_port".to_string(), 9), ("reason".to_string(), 7)]
    );
    assert_eq!(
        cpm("packet_out"),
        vec![("egress_port".to_string(), 9), ("flags".to_string(), 7)]
    );
}
