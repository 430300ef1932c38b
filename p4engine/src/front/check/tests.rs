//! Checker tests on small programs.

use crate::front::checked::{Resolved, Value};
use crate::front::types::Type;
use crate::front::{CheckedProgram, Diagnostics, check_source};

const PRELUDE: &str = "#include <core.p4>\n#include <v1model.p4>\n\
header h_t { bit<8> a; bit<16> b; int<8> s; }\n\
struct headers_t { h_t h; }\nstruct meta_t { bit<8> m; }\n\
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n\
  state start { pkt.extract(hdr.h); transition accept; } }\n\
control VC(inout headers_t hdr, inout meta_t meta) { apply { } }\n\
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }\n\
control CC(inout headers_t hdr, inout meta_t meta) { apply { } }\n\
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }\n";

fn with_ingress(body: &str) -> String {
    format!(
        "{PRELUDE}control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{\n{body}\n}}\nV1Switch(P(), VC(), I(), E(), CC(), D()) main;\n"
    )
}

fn check(src: &str) -> Result<CheckedProgram, Diagnostics> {
    check_source("t.p4", src)
}

fn first_error(src: &str) -> String {
    match check(src) {
        Ok(_) => panic!("expected an error"),
        Err(d) => d.0[0].to_string(),
    }
}

#[test]
fn minimal_program_checks() {
    let p = check(&with_ingress("apply { hdr.h.a = hdr.h.a + 1; }")).unwrap();
    assert_eq!(p.pipeline.ingress, "I");
    assert_eq!(p.pipeline.parser, "P");
    assert_eq!(p.pipeline.deparser, "D");
    // The literal 1 took the type bit<8>.
    let one = p.const_values.iter().find(|(_, v)| {
        matches!(
            v,
            Value::Bits {
                bits: 1,
                ty: Type::Bit(8)
            }
        )
    });
    assert!(one.is_some());
    assert_eq!(p.error_code("NoError"), Some(0));
    assert_eq!(p.error_code("ParserInvalidArgument"), Some(6));
}

#[test]
fn width_mismatch() {
    let e = first_error(&with_ingress("apply { hdr.h.a = hdr.h.b; }"));
    assert!(
        e.contains("width mismatch: expected bit<8>, found bit<16>"),
        "{e}"
    );
    let line = PRELUDE.lines().count() + 2;
    assert!(e.starts_with(&format!("t.p4:{line}:")), "{e}");
}

#[test]
fn assign_to_in_param() {
    let src = format!(
        "{PRELUDE}control I(inout headers_t hdr, in meta_t meta, inout standard_metadata_t sm) {{ apply {{ meta.m = 1; }} }}\nV1Switch(P(), VC(), I(), E(), CC(), D()) main;\n"
    );
    let e = first_error(&src);
    assert!(
        e.contains("cannot assign to 'meta': it is an 'in' parameter"),
        "{e}"
    );
}

#[test]
fn unknown_names() {
    let e = first_error(&with_ingress("apply { hdr.h.zz = 1; }"));
    assert!(e.contains("has no field 'zz'"), "{e}");
    let e = first_error(&with_ingress("apply { foo(hdr.h.a); }"));
    assert!(e.contains("unknown function or action 'foo'"), "{e}");
    let e = first_error(&with_ingress(
        "table t { key = { hdr.h.a: fuzzy; } actions = { NoAction; } } apply { t.apply(); }",
    ));
    assert!(e.contains("unknown match kind 'fuzzy'"), "{e}");
    let e = first_error(&with_ingress("Checksum16() ck; apply { }"));
    assert!(e.contains("unknown type 'Checksum16'"), "{e}");
}

#[test]
fn too_wide() {
    let e = first_error(&with_ingress("apply { bit<129> x = 0; }"));
    assert!(e.contains("bit<129> is wider than 128 bits"), "{e}");
}

#[test]
fn unsupported_extern() {
    let e = first_error(&with_ingress("apply { clone(CloneType.I2E, 1); }"));
    assert!(e.contains("'clone' is not supported"), "{e}");
}

#[test]
fn tables_and_switch_resolve() {
    let src = with_ingress(
        "action a1(bit<8> v) { hdr.h.a = v; }\n\
         action a2() { }\n\
         table t { key = { hdr.h.a: exact; hdr.h.b: ternary; } actions = { a1; a2; @defaultonly NoAction; }\n\
           const entries = { (1, 0x10 &&& 0xF0): a1(5); (_, _): a2(); } default_action = NoAction(); size = 16; }\n\
         apply { switch (t.apply().action_run) { a1: { } default: { } } if (t.apply().hit) { exit; } }",
    );
    let p = check(&src).unwrap();
    let n_actions = p
        .refs
        .values()
        .filter(|r| matches!(r, Resolved::Action(_)))
        .count();
    assert!(n_actions >= 6, "{n_actions}");
}

#[test]
fn default_action_not_in_list() {
    let src = with_ingress(
        "action a1() { } action a2() { }\n\
         table t { key = { hdr.h.a: exact; } actions = { a1; } default_action = a2(); }\n\
         apply { t.apply(); }",
    );
    let e = first_error(&src);
    assert!(
        e.contains("default action 'a2' is not in the table's actions list"),
        "{e}"
    );
}

#[test]
fn missing_main() {
    let e = first_error(PRELUDE);
    assert!(e.contains("no package instantiation"), "{e}");
}

#[test]
fn constants_and_defines() {
    let src = format!(
        "#define PORT 9w3\n{}",
        with_ingress(
            "const bit<16> K = 0x10 + 2; apply { sm.egress_spec = PORT; hdr.h.b = K; hdr.h.s = -1; }"
        )
    );
    let p = check(&src).unwrap();
    assert!(p.const_values.values().any(|v| *v
        == Value::Bits {
            bits: 0x12,
            ty: Type::Bit(16)
        }));
    assert!(p.const_values.values().any(|v| *v
        == Value::Bits {
            bits: 0xFF,
            ty: Type::Int(8)
        }));
}

#[test]
fn reference_programs_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} not present", dir.display());
        return;
    };
    let mut failures = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|s| s.to_str()) != Some("p4") {
            continue;
        }
        if let Err(d) = crate::front::check_file(&p) {
            failures.push(format!("{}:\n{d}", p.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table_rules() {
    let cases = [
        (
            "action a() { } table t { key = { hdr.h.a: exact; } actions = { a; } const entries = { 1 &&& 3: a(); } } apply { t.apply(); }",
            "a mask ('&&&') is not allowed for a 'exact' key",
        ),
        (
            "action a(inout bit<8> x) { } table t { key = { hdr.h.a: exact; } actions = { a; } } apply { t.apply(); }",
            "has directional parameters and cannot be used in a table",
        ),
        (
            "action a() { } action b() { } table t { key = { hdr.h.a: exact; } actions = { a; @defaultonly b; } const entries = { 1: b(); } } apply { t.apply(); }",
            "is @defaultonly and cannot be used in an entry",
        ),
        (
            "action a() { } action b() { } table t { key = { hdr.h.a: exact; } actions = { a; } } apply { switch (t.apply().action_run) { b: { } } }",
            "'b' is not an action of table 't'",
        ),
        (
            "action a() { } table t { key = { hdr.h.a: lpm; hdr.h.b: lpm; } actions = { a; } } apply { t.apply(); }",
            "only one 'lpm' key",
        ),
        (
            "action a(bit<8> v) { } table t { key = { hdr.h.a: exact; } actions = { a; } default_action = a(hdr.h.a); } apply { t.apply(); }",
            "must be a compile-time constant",
        ),
    ];
    for (body, want) in cases {
        let e = first_error(&with_ingress(body));
        assert!(e.contains(want), "{body}\n{e}");
    }
}

#[test]
fn statement_rules() {
    let cases = [
        ("apply { hdr.h.setValid(); exit; return; }", None),
        (
            "apply { hdr.h.a = (bit<8>) hdr.h.b; hdr.h.s = (int<8>) hdr.h.a; }",
            None,
        ),
        (
            "apply { if (hdr.h.a) { } }",
            Some("an if condition must be bool, not bit<8>"),
        ),
        (
            "apply { hdr.h.a = hdr.h.b[15:8] ++ hdr.h.a; }",
            Some("width mismatch: expected bit<8>, found bit<16>"),
        ),
        (
            "apply { HashAlgorithm.crc16 = 1; }",
            Some("cannot assign to an enum or error member"),
        ),
        ("apply { hdr.h.a == 1; }", Some("not a statement")),
        (
            "apply { bit<8> x = hdr.h.a |+| 1; x = x << hdr.h.s; }",
            Some("shift amount must be an unsigned"),
        ),
        (
            "apply { bit<32> r; hash(r, HashAlgorithm.crc16, 0, { hdr.h.a }, 32w64); }",
            Some("cannot infer the width of argument 'base'"),
        ),
        (
            "apply { E_UNUSED_x(); }",
            Some("unknown function or action"),
        ),
        ("apply { hdr.h.a = 8w1 / 8w0; }", Some("division by zero")),
        (
            "apply { digest(1, { hdr.h.a }); }",
            Some("digest data must be a struct"),
        ),
    ];
    for (body, want) in cases {
        let r = check(&with_ingress(body));
        match (want, r) {
            (None, Ok(_)) => {}
            (None, Err(d)) => panic!("{body}\n{d}"),
            (Some(w), Ok(_)) => panic!("{body} accepted, expected {w}"),
            (Some(w), Err(d)) => assert!(d.to_string().contains(w), "{body}\n{d}"),
        }
    }
}

#[test]
fn parser_rules() {
    let bad_extract = with_ingress("apply { }").replace(
        "control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }",
        "control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); hdr.h.setInvalid(); } }",
    );
    let e = first_error(&bad_extract);
    assert!(
        e.contains("cannot assign to 'hdr': it is an 'in' parameter"),
        "{e}"
    );
    let nonconst = with_ingress("apply { }").replace(
        "state start { pkt.extract(hdr.h); transition accept; }",
        "state start { pkt.extract(hdr.h); transition select(hdr.h.a) { hdr.h.a: accept; default: reject; } }",
    );
    let e = first_error(&nonconst);
    assert!(
        e.contains("keyset values must be compile-time constants"),
        "{e}"
    );
    let lookahead = with_ingress("apply { }").replace(
        "state start { pkt.extract(hdr.h); transition accept; }",
        "state start { meta.m = pkt.lookahead<bit<8>>(); h_t x = pkt.lookahead<h_t>(); transition select(meta.m, x.a) { (1, 2): accept; (3 .. 4, 0xF0 &&& 0xF0): reject; (_, _): accept; } }",
    );
    assert!(check(&lookahead).is_ok(), "{:?}", check(&lookahead).err());
}

#[test]
fn list_initialises_struct() {
    let src = with_ingress("apply { meta = { hdr.h.a }; digest<meta_t>(1, { 8w3 }); }");
    let p = check(&src).unwrap();
    let structs = p
        .types
        .values()
        .filter(|t| **t == Type::Struct("meta_t".into()))
        .count();
    assert!(structs >= 3, "{structs}");
    let e = first_error(&with_ingress("apply { meta = { hdr.h.a, hdr.h.b }; }"));
    assert!(e.contains("cannot initialise meta_t"), "{e}");
}
