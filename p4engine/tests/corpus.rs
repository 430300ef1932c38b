//! Replays the BMv2 reference corpus (`../shared/bmv2-reference`): every program on a fresh
//! switch, entries in order, cases in order, outputs and packet-ins byte for byte, then the
//! counters and direct counters after the last case; also checks the P4Info ids against p4c's.

use std::path::PathBuf;

use flashmesh_p4::testkit::{self, from_hex, to_hex};
use flashmesh_p4::{Switch, SwitchConfig};

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
    let cpu_port = vectors.cpu_port.unwrap_or(255);
    let mut sw = Switch::new(
        program.clone(),
        SwitchConfig {
            cpu_port,
            drop_port: 511,
            priority_queues: 8,
        },
    );
    for e in &vectors.entries {
        let te = testkit::shell_entry(&program, e).unwrap();
        let r = if e.default {
            sw.modify_entry(&te)
        } else {
            sw.insert_entry(&te)
        };
        if let Err(err) = r {
            failures.push(format!("{name}: entry {e:?}: {err}"));
        }
    }
    let ports: Vec<u32> = vectors
        .port_map
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect();
    let mut passed = 0;
    for c in &vectors.cases {
        let result = if let Some(po) = &c.packet_out {
            let md = testkit::shell_packet_out_metadata(&program, &po.metadata).unwrap();
            sw.packet_out(&md, &from_hex(&po.payload).unwrap()).unwrap()
        } else {
            sw.process(
                c.in_port.unwrap(),
                &from_hex(c.packet.as_deref().unwrap()).unwrap(),
            )
        };
        let mut outputs: Vec<(u32, String)> = result
            .outputs
            .iter()
            .filter(|(p, _)| ports.contains(p))
            .map(|(p, f)| (*p, to_hex(f)))
            .collect();
        outputs.sort();
        let expected: Vec<(u32, String)> = c
            .outputs
            .iter()
            .map(|o| (o.port, o.packet.clone()))
            .collect();
        let pins: Vec<(Vec<(String, String)>, String)> = result
            .packet_ins
            .iter()
            .map(|pi| {
                let mut md: Vec<(String, String)> = pi
                    .metadata
                    .iter()
                    .map(|(id, b)| {
                        (
                            testkit::packet_in_metadata_name(&program, *id)
                                .unwrap_or("?")
                                .to_string(),
                            format!("0x{}", to_hex(b)),
                        )
                    })
                    .collect();
                md.sort();
                (md, to_hex(&pi.payload))
            })
            .collect();
        let exp_pins: Vec<(Vec<(String, String)>, String)> = c
            .packet_ins
            .iter()
            .map(|pi| {
                let mut md: Vec<(String, String)> = pi
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                md.sort();
                (md, pi.payload.clone())
            })
            .collect();
        if outputs == expected && pins == exp_pins {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}/{}: outputs {outputs:?} expected {expected:?}; packet-ins {pins:?} expected {exp_pins:?}",
                c.name
            ));
        }
    }
    // counters after the last case
    for (cname, cells) in &vectors.counters {
        let Some(c) = program.counters.iter().find(|c| &c.name == cname) else {
            failures.push(format!("{name}: counter {cname} missing"));
            continue;
        };
        let got = sw.read_counter(c.id, None).unwrap();
        for (idx, v) in cells {
            let i: u32 = idx.parse().unwrap();
            let d = got[i as usize].1;
            if d.packets != v.packets || d.bytes != v.bytes {
                failures.push(format!(
                    "{name}: counter {cname}[{i}] = {d:?}, expected {v:?}"
                ));
            }
        }
    }
    for (cname, list) in &vectors.direct_counters {
        for v in list.iter().filter(|v| !v.default) {
            let matches = testkit::shell_matches(&program, &v.table, &v.r#match).unwrap();
            let tid = program.tables[program.table_by_name(&v.table).unwrap() as usize].id;
            match sw.read_direct_counter(tid, &matches, v.priority.unwrap_or(0)) {
                Ok(d) if Some(d.packets) == v.packets && Some(d.bytes) == v.bytes => {}
                other => failures.push(format!(
                    "{name}: direct counter {cname} {:?}: {other:?}, expected {v:?}",
                    v.r#match
                )),
            }
        }
    }
    (passed, vectors.cases.len())
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
