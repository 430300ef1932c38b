//! Replays the BMv2 reference corpus (`../shared/bmv2-reference`): every program on a fresh
//! switch, entries in order, cases in order, outputs and packet-ins byte for byte, then the
//! counters and direct counters after the last case; also checks the P4Info ids against p4c's.

use std::path::PathBuf;

use flashmesh_p4::testkit;

const PROGRAMS: [&str; 6] = ["hashes", "arith", "parse", "tables", "state", "cpu"];

fn corpus_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    d.join("README.md").exists().then_some(d)
}

/// `(id, name)` pairs of every preamble in a P4Info text file.
fn preambles(txt: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = txt.lines().map(str::trim).collect();
    for (i, l) in lines.iter().enumerate() {
        if *l == "preamble {" {
            let id = lines[i + 1]
                .strip_prefix("id: ")
                .and_then(|s| s.parse().ok());
            let name = lines[i + 2]
                .strip_prefix("name: ")
                .map(|s| s.trim_matches('"').to_string());
            if let (Some(id), Some(name)) = (id, name) {
                out.push((id, name));
            }
        }
    }
    out
}

fn program_ids(p: &flashmesh_p4::Program) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = Vec::new();
    v.extend(p.tables.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.actions.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.counters.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.direct_counters.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.meters.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.registers.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.packet_in.iter().map(|t| (t.id, t.name.clone())));
    v.extend(p.packet_out.iter().map(|t| (t.id, t.name.clone())));
    v
}

fn run_program(dir: &std::path::Path, name: &str, failures: &mut Vec<String>) -> (usize, usize) {
    let program = match flashmesh_p4::compile_file(dir.join(format!("{name}.p4"))) {
        Ok(p) => p,
        Err(d) => {
            failures.push(format!("{name}: compile error:\n{d}"));
            return (0, 0);
        }
    };
    let vectors = testkit::load_vectors(
        &std::fs::read_to_string(dir.join(format!("{name}.vectors.json"))).unwrap(),
    )
    .unwrap();
    // P4Info ids equal p4c's
    let reference =
        preambles(&std::fs::read_to_string(dir.join(format!("{name}.p4info.txtpb"))).unwrap());
    let ours = program_ids(&program);
    for (id, n) in &reference {
        match ours.iter().find(|(_, m)| m == n) {
            Some((mine, _)) if mine == id => {}
            Some((mine, _)) => failures.push(format!("{name}: id of {n} is {mine}, p4c gave {id}")),
            None => failures.push(format!("{name}: P4Info entity {n} missing")),
        }
    }
    let report = testkit::replay(&program, &vectors);
    failures.extend(report.failures);
    (report.passed, report.total)
}

#[test]
fn bmv2_reference_corpus() {
    let Some(dir) = corpus_dir() else {
        println!("skipped: ../shared/bmv2-reference not found beside the repository");
        return;
    };
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut total = 0;
    for name in PROGRAMS {
        let (p, t) = run_program(&dir, name, &mut failures);
        println!("{name}: {p}/{t} cases pass");
        passed += p;
        total += t;
    }
    println!("corpus: {passed}/{total} cases pass");
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} failures (see output)",
        failures.len()
    );
    assert_eq!(total, 165);
}
