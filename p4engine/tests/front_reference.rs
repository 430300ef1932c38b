//! The six reference programs (and the project's own data plane) pass the front end, and the
//! checked program is complete: every expression has a type, every name a resolution, and
//! the V1Switch roles are filled.

use std::path::PathBuf;

use flashmesh_p4::front::ast::ExprKind;
use flashmesh_p4::front::types::Type;
use flashmesh_p4::front::{CheckedProgram, check_file, walk};

fn programs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    let corpus = root.join("../../shared/bmv2-reference");
    for n in ["arith", "cpu", "hashes", "parse", "state", "tables"] {
        let p = corpus.join(format!("{n}.p4"));
        if p.exists() {
            v.push(p);
        } else {
            eprintln!("skipping {}: not present", p.display());
        }
    }
    let own = root.join("../p4src/flash_mesh.p4");
    if own.exists() {
        v.push(own);
    }
    v
}

fn assert_complete(name: &str, c: &CheckedProgram) {
    let mut untyped = Vec::new();
    let mut unresolved = Vec::new();
    walk::walk_program(&c.program, &mut |e| {
        match c.types.get(&e.id) {
            None | Some(Type::Unknown) => untyped.push(format!("{:?} at {:?}", e.kind, e.span)),
            Some(_) => {}
        }
        if let ExprKind::Name(n) = &e.kind
            && !c.refs.contains_key(&e.id)
            && !matches!(c.types.get(&e.id), Some(Type::Block(_)))
        {
            unresolved.push(n.name.clone());
        }
    });
    assert!(
        untyped.is_empty(),
        "{name}: untyped expressions: {untyped:#?}"
    );
    assert!(
        unresolved.is_empty(),
        "{name}: unresolved names: {unresolved:?}"
    );
    let p = &c.pipeline;
    for role in [
        &p.parser,
        &p.verify_checksum,
        &p.ingress,
        &p.egress,
        &p.compute_checksum,
        &p.deparser,
    ] {
        assert!(!role.is_empty(), "{name}: a V1Switch role is empty");
    }
}

#[test]
fn reference_programs_pass_and_are_complete() {
    let list = programs();
    for p in &list {
        let name = p.display().to_string();
        match check_file(p) {
            Ok(c) => assert_complete(&name, &c),
            Err(d) => panic!("{name}:\n{d}"),
        }
    }
}

#[test]
fn pipeline_roles_of_reference_programs() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference/tables.p4");
    if !p.exists() {
        eprintln!("skipping: corpus not present");
        return;
    }
    let c = check_file(&p).unwrap();
    assert_eq!(c.pipeline.parser, "P");
    assert_eq!(c.pipeline.verify_checksum, "VC");
    assert_eq!(c.pipeline.ingress, "MyIngress");
    assert_eq!(c.pipeline.egress, "MyEgress");
    assert_eq!(c.pipeline.compute_checksum, "CC");
    assert_eq!(c.pipeline.deparser, "D");
}

#[test]
fn includes_defines_and_conditionals() {
    let dir = std::env::temp_dir().join(format!("fm-front-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("lib/hdr.p4"),
        "#ifndef HDR_P4\n#define HDR_P4\nheader h_t { bit<W> a; }\n#endif\n",
    )
    .unwrap();
    let main = "#include <v1model.p4>\n#define W 12\n#include \"lib/hdr.p4\"\n#include \"lib/hdr.p4\"\n\
        struct headers_t { h_t h; }\nstruct meta_t { bit<8> m; }\n\
        parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n\
          state start { pkt.extract(hdr.h); transition accept; } }\n\
        control C(inout headers_t hdr, inout meta_t meta) { apply { } }\n\
        control I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n\
        #ifdef FAST\n apply { }\n#else\n apply { hdr.h.a = 12w5; }\n#endif\n }\n\
        control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }\n\
        V1Switch(P(), C(), I(), I(), C(), D()) main;\n";
    std::fs::write(dir.join("main.p4"), main).unwrap();
    let c = check_file(&dir.join("main.p4"));
    std::fs::remove_dir_all(&dir).unwrap();
    let c = c.unwrap();
    let fields = c.type_defs["h_t"].fields().to_vec();
    assert_eq!(fields[0].ty, Type::Bit(12));
}
