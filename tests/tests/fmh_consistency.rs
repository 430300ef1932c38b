//! The P4 program and the `core` crate agree on the FMH wire header: the `fmh_t` header type in
//! `p4src/flash_mesh.p4` (read through the P4 engine's front end) has exactly the fields, order
//! and widths of `flashmesh_core::wire::FIELDS`, and the program's constants for the BCB UDP
//! port, the message types, the probe-reply flag and the minimum FMH datagram length match
//! core's. Changing either side alone fails this test (the mutation tests below show that).

use std::path::PathBuf;

use flashmesh_core::wire::{self, MsgType};
use flashmesh_tests::p4_consistency::mismatches;

fn source() -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4src/flash_mesh.p4");
    let text = std::fs::read_to_string(&path).expect("read flash_mesh.p4");
    (path.display().to_string(), text)
}

fn rust_consts() -> Vec<(String, u128)> {
    let mut c = vec![
        ("BCB_UDP_PORT".to_string(), wire::BCB_UDP_PORT as u128),
        (
            "FLAG_PROBE_REPLY".to_string(),
            wire::FLAG_PROBE_REPLY as u128,
        ),
        (
            "FMH_MIN_UDP_LEN".to_string(),
            (8 + wire::HEADER_LEN) as u128,
        ),
    ];
    for t in MsgType::ALL {
        c.push((
            format!("MSG_{}", t.name().to_uppercase()),
            t.to_u8() as u128,
        ));
    }
    c
}

fn check(text: &str, fields: &[(&str, usize)], consts: &[(String, u128)]) -> Vec<String> {
    let (name, _) = source();
    let p = flashmesh_p4::front::check_source(&name, text)
        .unwrap_or_else(|d| panic!("flash_mesh.p4 does not compile:\n{d}"));
    mismatches(&p, "fmh_t", fields, consts)
}

#[test]
fn p4_fmh_header_matches_core_wire_format() {
    let (_, text) = source();
    let bits: usize = wire::FIELDS.iter().map(|(_, w)| w).sum();
    assert_eq!(
        bits,
        wire::HEADER_LEN * 8,
        "core's field list covers the header"
    );
    let problems = check(&text, wire::FIELDS, &rust_consts());
    assert!(
        problems.is_empty(),
        "P4 and Rust disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_changed_p4_field_is_caught() {
    let (_, text) = source();
    // Two fields swapped.
    let swapped = text.replacen(
        "    bit<8>  ttl;\n    bit<8>  hop_limit;",
        "    bit<8>  hop_limit;\n    bit<8>  ttl;",
        1,
    );
    assert_ne!(swapped, text, "the mutation applies");
    assert!(!check(&swapped, wire::FIELDS, &rust_consts()).is_empty());
    // A width changed.
    let wider = text.replacen("    bit<16> body_len;", "    bit<24> body_len;", 1);
    assert_ne!(wider, text);
    assert!(!check(&wider, wire::FIELDS, &rust_consts()).is_empty());
}

#[test]
fn a_changed_p4_constant_is_caught() {
    let (_, text) = source();
    let port = text.replacen("= 47474;", "= 47475;", 1);
    assert_ne!(port, text);
    assert!(!check(&port, wire::FIELDS, &rust_consts()).is_empty());
    let probe = text.replacen("MSG_PROBE        = 9;", "MSG_PROBE        = 11;", 1);
    assert_ne!(probe, text);
    assert!(!check(&probe, wire::FIELDS, &rust_consts()).is_empty());
}

#[test]
fn a_changed_rust_side_is_caught() {
    let (_, text) = source();
    let mut fields = wire::FIELDS.to_vec();
    fields.swap(0, 1);
    assert!(!check(&text, &fields, &rust_consts()).is_empty());
    let mut consts = rust_consts();
    consts.push(("MSG_NEW_TYPE".to_string(), 11));
    assert!(!check(&text, wire::FIELDS, &consts).is_empty());
}
