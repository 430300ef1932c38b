//! Every packet-test file in `p4src/tests/` parses and builds its packets, and the BMv2 runner's
//! Python parser (`bmv2-testbed/run_packet_tests.py --dump`) reads every file into exactly the
//! same steps and bytes as the Rust parser.

use std::path::{Path, PathBuf};
use std::process::Command;

use flashmesh_tests::pkt_test::{self, Expect, Pair, Step};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("p4src/tests"))
        .expect("p4src/tests exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkt"))
        .collect();
    files.sort();
    files
}

#[test]
fn all_packet_test_files_parse() {
    let files = test_files();
    assert!(
        files.len() >= 7,
        "expected the packet-test files, found {}",
        files.len()
    );
    for path in files {
        let t = pkt_test::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.steps.is_empty(), "{} has no steps", path.display());
    }
}

fn pairs(p: &[Pair]) -> Value {
    Value::Array(p.iter().map(|(k, v)| json!([k, v])).collect())
}

fn expect_json(e: &Expect) -> Value {
    match e {
        Expect::Drop => json!({"kind": "drop"}),
        Expect::Packet {
            port,
            priority,
            bytes,
        } => json!({"kind": "packet", "port": port, "priority": priority, "bytes": hex(bytes)}),
        Expect::PacketIn { metadata, bytes } => {
            json!({"kind": "packet_in", "metadata": pairs(metadata), "bytes": hex(bytes)})
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn step_json(s: &Step) -> Value {
    match s {
        Step::Entry {
            line,
            table,
            matches,
            action,
            params,
            priority,
        } => json!({"kind": "entry", "line": line, "table": table, "matches": pairs(matches),
                    "action": action, "params": pairs(params), "priority": priority}),
        Step::Default {
            line,
            table,
            action,
            params,
        } => json!({"kind": "default", "line": line, "table": table, "action": action,
                    "params": pairs(params)}),
        Step::Delete {
            line,
            table,
            matches,
            priority,
        } => json!({"kind": "delete", "line": line, "table": table, "matches": pairs(matches),
                    "priority": priority}),
        Step::Send {
            line,
            port,
            bytes,
            expect,
        } => json!({"kind": "send", "line": line, "port": port, "bytes": hex(bytes),
                    "expect": expect.iter().map(expect_json).collect::<Vec<_>>()}),
        Step::PacketOut {
            line,
            metadata,
            bytes,
            expect,
        } => json!({"kind": "packet_out", "line": line, "metadata": pairs(metadata),
                    "bytes": hex(bytes),
                    "expect": expect.iter().map(expect_json).collect::<Vec<_>>()}),
        Step::Counter {
            line,
            name,
            index,
            packets,
            bytes,
        } => json!({"kind": "counter", "line": line, "name": name, "index": index,
                    "packets": packets, "bytes": bytes}),
    }
}

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn python_runner_parses_files_identically() {
    let Some(py) = python() else {
        eprintln!("skipped: no python3 on PATH to run bmv2-testbed/run_packet_tests.py --dump");
        return;
    };
    let script = repo().join("bmv2-testbed/run_packet_tests.py");
    let files = test_files();
    let out = Command::new(py)
        .arg(&script)
        .arg("--dump")
        .args(&files)
        .output()
        .expect("run the Python runner");
    assert!(
        out.status.success(),
        "--dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped: Value = serde_json::from_slice(&out.stdout).expect("--dump prints JSON");
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        let rust = pkt_test::load(Path::new(path)).expect("parses");
        let rust_steps: Vec<Value> = rust.steps.iter().map(step_json).collect();
        let py_steps = dumped[name].as_array().expect("steps of the file");
        assert_eq!(py_steps.len(), rust_steps.len(), "{name}: step count");
        for (r, p) in rust_steps.iter().zip(py_steps) {
            assert_eq!(
                r, p,
                "{name}: step differs between the Rust and Python parsers"
            );
        }
    }
}
