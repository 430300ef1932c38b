//! Tests of the P4Info index: by id (as flash-switch looks objects up) and by name or alias
//! (as the controller does).

use super::*;

const INFO: &str = r#"
tables {
  preamble { id: 33554433 name: "Ingress.t" alias: "t" }
  match_fields { id: 1 name: "k" bitwidth: 16 match_type: TERNARY }
  match_fields { id: 2 name: "odd" bitwidth: 8 }
  action_refs { id: 16777217 scope: DEFAULT_ONLY }
  direct_resource_ids: 318767105
  size: 8
  is_const_table: true
  idle_timeout_behavior: NOTIFY_CONTROL
}
actions {
  preamble { id: 16777217 name: "Ingress.a" alias: "a" }
  params { id: 1 name: "p" bitwidth: 9 }
}
direct_counters {
  preamble { id: 318767105 name: "Ingress.dc" alias: "dc" }
  direct_table_id: 33554433
}
registers {
  preamble { id: 369098753 name: "Ingress.r" alias: "r" }
  type_spec { bitstring { bit { bitwidth: 12 } } }
  size: 4
}
digests {
  preamble { id: 385875969 name: "learn_t" alias: "learn_t" }
}
controller_packet_metadata {
  preamble { id: 67108865 name: "packet_in" alias: "packet_in" }
  metadata { id: 1 name: "ingress_port" bitwidth: 9 }
}
"#;

#[test]
fn looks_up_by_id_and_by_name() {
    let ix = P4InfoIndex::new(&crate::p4info_from_text(INFO).unwrap());
    let t = ix.tables().get(33554433).unwrap();
    assert_eq!(t.name, "Ingress.t");
    assert!(ix.tables().named("t").is_some());
    assert!(ix.tables().named("Ingress.t").is_some());
    assert_eq!(t.fields[0].kind, MatchKind::Ternary);
    assert_eq!(t.fields[1].kind, MatchKind::Other);
    assert!(t.needs_priority && t.is_const && t.supports_idle_timeout);
    assert_eq!(t.actions[&16777217], Scope::DefaultOnly);
    assert_eq!(t.direct_counter, Some(318767105));
    assert_eq!(t.direct_meter, None);
    assert_eq!(ix.direct_counters().named("dc").unwrap().table_id, 33554433);
    assert_eq!(ix.actions().named("a").unwrap().params[0].bitwidth, 9);
    assert_eq!(ix.action_name(16777217), Some("Ingress.a"));
    let r = ix.registers().get(369098753).unwrap();
    assert_eq!((r.size, r.bitwidth), (4, 12));
    assert_eq!(ix.digest_name(385875969), Some("learn_t"));
    assert!(ix.digests().contains(385875969));
    let h = ix.controller_headers().named("packet_in").unwrap();
    assert_eq!(h.metadata[0].name, "ingress_port");
    assert!(ix.counters().is_empty() && ix.meters().is_empty());
}

#[test]
fn indexes_reference_p4info() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/bmv2-reference/tables.p4info.txtpb"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("skipped: {path} not present");
        return;
    };
    let info = crate::p4info_from_text(&text).unwrap();
    let ix = P4InfoIndex::new(&info);
    assert_eq!(ix.tables().len(), info.tables.len());
    let with_counter = ix
        .tables()
        .values()
        .filter(|t| t.direct_counter.is_some())
        .count();
    assert_eq!(with_counter, info.direct_counters.len());
    for t in ix.tables().values() {
        assert!(!t.name.is_empty());
        for a in t.actions.keys() {
            assert!(
                ix.actions().contains(*a),
                "{} refers to unknown action {a}",
                t.name
            );
        }
    }
}
