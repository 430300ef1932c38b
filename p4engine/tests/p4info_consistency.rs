//! The engine's compiled program (what the switch executes and the P4Runtime server
//! resolves ids against) uses exactly the ids and names of the derived P4Info, for the
//! reference programs, the project's data plane and the engine's test programs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use flashmesh_p4::p4info::p4info_file;

fn programs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for n in ["arith", "cpu", "hashes", "parse", "state", "tables"] {
        let p = root.join(format!("../../shared/bmv2-reference/{n}.p4"));
        if p.exists() {
            v.push(p);
        }
    }
    v.push(root.join("../p4src/flash_mesh.p4"));
    if let Ok(rd) = std::fs::read_dir(root.join("tests/programs")) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|s| s.to_str()) == Some("p4"))
            .collect();
        more.sort();
        v.extend(more);
    }
    v.into_iter().filter(|p| p.exists()).collect()
}

/// name -> id of every entity of the P4Info.
fn p4info_ids(p: &flashmesh_p4::P4Info) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    let mut add = |pre: &Option<flashmesh_proto::p4::config::v1::Preamble>| {
        if let Some(pre) = pre {
            m.insert(pre.name.clone(), pre.id);
        }
    };
    p.tables.iter().for_each(|x| add(&x.preamble));
    p.actions.iter().for_each(|x| add(&x.preamble));
    p.counters.iter().for_each(|x| add(&x.preamble));
    p.direct_counters.iter().for_each(|x| add(&x.preamble));
    p.meters.iter().for_each(|x| add(&x.preamble));
    p.direct_meters.iter().for_each(|x| add(&x.preamble));
    p.registers.iter().for_each(|x| add(&x.preamble));
    p.digests.iter().for_each(|x| add(&x.preamble));
    p.controller_packet_metadata
        .iter()
        .for_each(|x| add(&x.preamble));
    m
}

/// name -> id of every entity of the compiled program.
fn program_ids(p: &flashmesh_p4::Program) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    m.extend(p.tables.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.actions.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.counters.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.direct_counters.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.meters.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.direct_meters.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.digests.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.packet_in.iter().map(|t| (t.name.clone(), t.id)));
    m.extend(p.packet_out.iter().map(|t| (t.name.clone(), t.id)));
    m
}

#[test]
fn compiled_program_ids_match_p4info() {
    let mut failures = Vec::new();
    for path in programs() {
        let name = path.display().to_string();
        let info = p4info_file(&path).unwrap_or_else(|d| panic!("{name}: {d}"));
        let prog = flashmesh_p4::compile_file(&path).unwrap_or_else(|d| panic!("{name}: {d}"));
        let ours = p4info_ids(&info);
        for (n, id) in program_ids(&prog) {
            match ours.get(&n) {
                Some(x) if *x == id => {}
                Some(x) => failures.push(format!("{name}: {n}: program id {id}, P4Info id {x}")),
                None => failures.push(format!("{name}: {n} (id {id}) is not in the P4Info")),
            }
        }
        for t in &info.tables {
            let pre = t.preamble.as_ref().unwrap();
            if !prog.tables.iter().any(|x| x.name == pre.name) {
                failures.push(format!(
                    "{name}: table {} missing from the program",
                    pre.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
