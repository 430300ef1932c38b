//! P4Info of a program with known names: ids computed here independently (Jenkins
//! one-at-a-time, p4c's prefixes), `@id`/`@name` overrides, aliases, action scopes, sizes,
//! direct resources, meters, registers, digests and the text form.

use flashmesh_p4::p4info::{P4Info, p4info_source, p4info_text};
use flashmesh_proto::p4::config::v1 as pi;

fn oaat(s: &str) -> u32 {
    let mut h: u32 = 0;
    for b in s.bytes() {
        h = h.wrapping_add(b as u32);
        h = h.wrapping_add(h << 10);
        h ^= h >> 6;
    }
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h.wrapping_add(h << 15)
}

fn id(prefix: u32, name: &str) -> u32 {
    (prefix << 24) | (oaat(name) & 0xFF_FFFF)
}

const PROGRAM: &str = r#"
#include <core.p4>
#include <v1model.p4>

header h_t { bit<32> dst; bit<16> port; bit<8> kind; }
struct headers_t { h_t h; }
struct learn_t { bit<32> addr; bit<9> port; }
struct meta_t { bit<8> color; }

parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    direct_counter(CounterType.packets) fwd_hits;
    direct_meter<bit<8>>(MeterType.bytes) fwd_rate;
    @name("ingress_meter") meter(32w64, MeterType.packets) m;
    register<int<8>>(8) scratch;
    counter(128, CounterType.bytes) bytes_in;

    @id(0x000123) action fwd(bit<9> port, @name("why") bit<8> reason) {
        sm.egress_spec = port;
        hdr.h.kind = reason;
        fwd_hits.count();
        fwd_rate.read(meta.color);
    }
    action nop() { }
    action learn() { digest<learn_t>(1, { hdr.h.dst, sm.ingress_port }); }
    action unused_action() { }
    action direct_only() { hdr.h.kind = 1; }

    @name(".global_tbl") @brief("IPv4 routes") @my_note(1, "x") table routes {
        key = {
            hdr.h.dst: lpm @name("dst");
            hdr.h.port: range;
            hdr.h.isValid(): exact;
        }
        actions = { fwd; @tableonly learn; @defaultonly NoAction; }
        default_action = NoAction();
        counters = fwd_hits;
        meters = fwd_rate;
        support_timeout = true;
    }
    table kinds {
        key = { hdr.h.kind: ternary; hdr.h.port[7:0]: optional; }
        actions = { nop; }
        const default_action = nop();
        size = 7;
    }
    apply {
        routes.apply();
        direct_only();
        kinds.apply();
        m.execute_meter((bit<32>) hdr.h.kind, meta.color);
        scratch.write(0, -8s1);
        bytes_in.count(0);
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action nop() { hdr.h.kind = 0; }
    table eg { key = { sm.egress_port: exact; } actions = { nop; } }
    apply { eg.apply(); }
}
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), VC(), MyIngress(), MyEgress(), CC(), D()) main;
"#;

fn p4info() -> P4Info {
    p4info_source("known.p4", PROGRAM).unwrap_or_else(|d| panic!("{d}"))
}

fn pre(p: &Option<pi::Preamble>) -> (u32, &str, &str) {
    let p = p.as_ref().unwrap();
    (p.id, p.name.as_str(), p.alias.as_str())
}

#[test]
fn tables() {
    let info = p4info();
    let names: Vec<&str> = info.tables.iter().map(|t| pre(&t.preamble).1).collect();
    assert_eq!(names, ["global_tbl", "MyIngress.kinds", "MyEgress.eg"]);
    let routes = &info.tables[0];
    assert_eq!(
        pre(&routes.preamble),
        (id(2, "global_tbl"), "global_tbl", "global_tbl")
    );
    let mf: Vec<(u32, &str, i32, i32)> = routes
        .match_fields
        .iter()
        .map(|m| {
            let pi::match_field::Match::MatchType(t) = m.r#match.clone().unwrap() else {
                panic!()
            };
            (m.id, m.name.as_str(), m.bitwidth, t)
        })
        .collect();
    assert_eq!(
        mf,
        [
            (1, "dst", 32, pi::match_field::MatchType::Lpm as i32),
            (
                2,
                "hdr.h.port",
                16,
                pi::match_field::MatchType::Range as i32
            ),
            (
                3,
                "hdr.h.isValid()",
                1,
                pi::match_field::MatchType::Exact as i32
            ),
        ]
    );
    let refs: Vec<(u32, i32, Vec<String>)> = routes
        .action_refs
        .iter()
        .map(|r| (r.id, r.scope, r.annotations.clone()))
        .collect();
    assert_eq!(
        refs,
        [
            (
                (1 << 24) | 0x123,
                pi::action_ref::Scope::TableAndDefault as i32,
                vec![]
            ),
            (
                id(1, "MyIngress.learn"),
                pi::action_ref::Scope::TableOnly as i32,
                vec!["@tableonly".to_string()]
            ),
            (
                id(1, "NoAction"),
                pi::action_ref::Scope::DefaultOnly as i32,
                vec!["@defaultonly".to_string()]
            ),
        ]
    );
    let rp = routes.preamble.as_ref().unwrap();
    assert_eq!(rp.doc.as_ref().unwrap().brief, "IPv4 routes");
    assert_eq!(rp.annotations, ["@my_note(1, \"x\")"]);
    assert_eq!(routes.size, 1024);
    assert_eq!(routes.const_default_action_id, 0);
    assert_eq!(
        routes.idle_timeout_behavior,
        pi::table::IdleTimeoutBehavior::NotifyControl as i32
    );
    assert_eq!(
        routes.direct_resource_ids,
        [
            id(0x13, "MyIngress.fwd_hits"),
            id(0x15, "MyIngress.fwd_rate")
        ]
    );
    let kinds = &info.tables[1];
    assert_eq!(kinds.size, 7);
    assert_eq!(kinds.const_default_action_id, id(1, "MyIngress.nop"));
    assert_eq!(kinds.match_fields[1].name, "hdr.h.port[7:0]");
    assert_eq!(kinds.match_fields[1].bitwidth, 8);
    assert!(!kinds.is_const_table && !kinds.has_initial_entries);
}

#[test]
fn actions_and_aliases() {
    let info = p4info();
    let acts: Vec<(u32, &str, &str)> = info.actions.iter().map(|a| pre(&a.preamble)).collect();
    // NoAction first, then the table actions of MyIngress and MyEgress in declaration order;
    // `unused_action` and `direct_only` (only called directly) are left out, as p4c does.
    assert_eq!(
        acts,
        [
            (id(1, "NoAction"), "NoAction", "NoAction"),
            ((1 << 24) | 0x123, "MyIngress.fwd", "fwd"),
            (id(1, "MyIngress.nop"), "MyIngress.nop", "MyIngress.nop"),
            (id(1, "MyIngress.learn"), "MyIngress.learn", "learn"),
            (id(1, "MyEgress.nop"), "MyEgress.nop", "MyEgress.nop"),
        ]
    );
    assert_eq!(
        info.actions[0].preamble.as_ref().unwrap().annotations,
        ["@noWarn(\"unused\")"]
    );
    let params: Vec<(u32, &str, i32)> = info.actions[1]
        .params
        .iter()
        .map(|p| (p.id, p.name.as_str(), p.bitwidth))
        .collect();
    assert_eq!(params, [(1, "port", 9), (2, "why", 8)]);
}

#[test]
fn externs_and_digests() {
    let info = p4info();
    let dc = &info.direct_counters[0];
    assert_eq!(
        pre(&dc.preamble),
        (
            id(0x13, "MyIngress.fwd_hits"),
            "MyIngress.fwd_hits",
            "fwd_hits"
        )
    );
    assert_eq!(
        dc.spec.unwrap().unit,
        pi::counter_spec::Unit::Packets as i32
    );
    assert_eq!(dc.direct_table_id, id(2, "global_tbl"));
    let dm = &info.direct_meters[0];
    assert_eq!(dm.spec.unwrap().unit, pi::meter_spec::Unit::Bytes as i32);
    assert_eq!(dm.direct_table_id, id(2, "global_tbl"));
    let m = &info.meters[0];
    assert_eq!(pre(&m.preamble).1, "MyIngress.ingress_meter");
    assert_eq!(m.size, 64);
    assert_eq!(m.spec.unwrap().unit, pi::meter_spec::Unit::Packets as i32);
    let c = &info.counters[0];
    assert_eq!(
        (c.size, c.spec.unwrap().unit),
        (128, pi::counter_spec::Unit::Bytes as i32)
    );
    let r = &info.registers[0];
    assert_eq!(pre(&r.preamble).0, id(0x16, "MyIngress.scratch"));
    assert_eq!(r.size, 8);
    let text = p4info_text(&info);
    assert!(
        text.contains("      int {\n        bitwidth: 8\n      }"),
        "{text}"
    );
    let d = &info.digests[0];
    assert_eq!(
        pre(&d.preamble),
        (id(0x17, "learn_t"), "learn_t", "learn_t")
    );
    let ti = info.type_info.as_ref().unwrap();
    let members: Vec<&str> = ti.structs["learn_t"]
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(members, ["addr", "port"]);
}

#[test]
fn text_form_parses_back() {
    let info = p4info();
    let text = p4info_text(&info);
    assert!(text.starts_with("# proto-file: p4/config/v1/p4info.proto\n"));
    assert_eq!(flashmesh_proto::p4info_from_text(&text).unwrap(), info);
}

#[test]
fn diagnostics_instead_of_p4info() {
    let bad = PROGRAM.replace("hdr.h.kind = reason;", "hdr.h.kind = port;");
    let d = p4info_source("known.p4", &bad).unwrap_err();
    assert!(
        d.to_string()
            .contains("width mismatch: expected bit<8>, found bit<9>"),
        "{d}"
    );
}
