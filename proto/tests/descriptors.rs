//! Checks our `.proto` files against the official P4Runtime 1.4 descriptors shipped
//! in the PyPI package `p4runtime`: every message, field (name, number, type, label,
//! type name, oneof), enum and enum value, and the service's methods.
//!
//! Needs `python3` with `p4runtime` installed (CI installs it). Set
//! `FLASHMESH_SKIP_PY=1` to skip with a printed reason where it is missing.

use std::collections::BTreeMap;
use std::process::Command;

use flashmesh_proto::FILE_DESCRIPTOR_SET;
use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// Python modules holding the official descriptors, by proto file name.
const OFFICIAL: &[(&str, &str)] = &[
    ("p4/v1/p4runtime.proto", "p4.v1.p4runtime_pb2"),
    ("p4/v1/p4data.proto", "p4.v1.p4data_pb2"),
    ("p4/config/v1/p4info.proto", "p4.config.v1.p4info_pb2"),
    ("p4/config/v1/p4types.proto", "p4.config.v1.p4types_pb2"),
    ("google/rpc/status.proto", "google.rpc.status_pb2"),
    ("google/rpc/code.proto", "google.rpc.code_pb2"),
];

fn official_files() -> Option<Vec<FileDescriptorProto>> {
    let modules: Vec<String> = OFFICIAL.iter().map(|(_, m)| format!("'{m}'")).collect();
    let script = format!(
        "import importlib\nfor m in [{}]:\n    print(importlib.import_module(m).DESCRIPTOR.serialized_pb.hex())\n",
        modules.join(", ")
    );
    let skip = std::env::var("FLASHMESH_SKIP_PY").is_ok_and(|v| v == "1");
    let output = match Command::new("python3").arg("-c").arg(&script).output() {
        Ok(o) => o,
        Err(e) if skip => {
            println!("skipped: python3 not runnable ({e}) and FLASHMESH_SKIP_PY=1");
            return None;
        }
        Err(e) => panic!(
            "python3 is needed for the descriptor check: {e} (set FLASHMESH_SKIP_PY=1 to skip)"
        ),
    };
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        if skip {
            println!(
                "skipped: python package p4runtime unavailable and FLASHMESH_SKIP_PY=1: {err}"
            );
            return None;
        }
        panic!(
            "python3 could not load the official descriptors; install them with \
             `pip install p4runtime==1.4.1` (or set FLASHMESH_SKIP_PY=1 to skip):\n{err}"
        );
    }
    let stdout = String::from_utf8(output.stdout).expect("hex output");
    let files: Vec<FileDescriptorProto> = stdout
        .lines()
        .map(|line| {
            let bytes = (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
                .collect::<Vec<u8>>();
            FileDescriptorProto::decode(bytes.as_slice()).expect("official descriptor decodes")
        })
        .collect();
    assert_eq!(files.len(), OFFICIAL.len(), "one descriptor per module");
    Some(files)
}

/// A flat, comparable summary of a file: one line per fact, keyed by a path.
fn summarize(file: &FileDescriptorProto) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let package = file.package().to_string();
    for m in &file.message_type {
        summarize_message(&format!(".{package}"), m, &mut facts);
    }
    for e in &file.enum_type {
        summarize_enum(&format!(".{package}"), e, &mut facts);
    }
    for s in &file.service {
        let name = format!(".{package}.{}", s.name());
        facts.insert(name.clone(), "service".into());
        for m in &s.method {
            facts.insert(
                format!("{name}/{}", m.name()),
                format!(
                    "rpc in={} out={} client_stream={} server_stream={}",
                    m.input_type(),
                    m.output_type(),
                    m.client_streaming(),
                    m.server_streaming()
                ),
            );
        }
    }
    facts
}

fn summarize_message(scope: &str, m: &DescriptorProto, facts: &mut BTreeMap<String, String>) {
    let name = format!("{scope}.{}", m.name());
    facts.insert(
        name.clone(),
        format!(
            "message map_entry={}",
            m.options.as_ref().is_some_and(|o| o.map_entry())
        ),
    );
    for f in &m.field {
        let oneof = f
            .oneof_index
            .filter(|_| !f.proto3_optional())
            .map(|i| m.oneof_decl[i as usize].name().to_string())
            .unwrap_or_default();
        facts.insert(
            format!("{name}/{}", f.name()),
            format!(
                "field number={} type={:?} label={:?} type_name={} oneof={} proto3_optional={}",
                f.number(),
                f.r#type(),
                f.label(),
                f.type_name(),
                oneof,
                f.proto3_optional()
            ),
        );
    }
    for n in &m.nested_type {
        summarize_message(&name, n, facts);
    }
    for e in &m.enum_type {
        summarize_enum(&name, e, facts);
    }
}

fn summarize_enum(scope: &str, e: &EnumDescriptorProto, facts: &mut BTreeMap<String, String>) {
    let name = format!("{scope}.{}", e.name());
    facts.insert(name.clone(), "enum".into());
    for v in &e.value {
        facts.insert(
            format!("{name}/{}", v.name()),
            format!("value {}", v.number()),
        );
    }
}

#[test]
fn protos_match_official_p4runtime_descriptors() {
    let Some(official) = official_files() else {
        return;
    };
    let ours = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("our descriptor set");
    let mut problems = Vec::new();
    let mut checked = 0;
    for ((path, _), theirs) in OFFICIAL.iter().zip(&official) {
        assert_eq!(
            theirs.name(),
            *path,
            "python module holds the expected file"
        );
        let Some(mine) = ours.file.iter().find(|f| f.name() == *path) else {
            problems.push(format!("{path}: missing from our protos"));
            continue;
        };
        if mine.package() != theirs.package() {
            problems.push(format!(
                "{path}: package {} != {}",
                mine.package(),
                theirs.package()
            ));
        }
        if mine.syntax() != theirs.syntax() {
            problems.push(format!(
                "{path}: syntax {} != {}",
                mine.syntax(),
                theirs.syntax()
            ));
        }
        let (a, b) = (summarize(mine), summarize(theirs));
        for (key, want) in &b {
            match a.get(key) {
                None => problems.push(format!("{path}: missing {key} ({want})")),
                Some(got) if got != want => {
                    problems.push(format!("{path}: {key}: ours `{got}`, official `{want}`"))
                }
                Some(_) => checked += 1,
            }
        }
        for key in a.keys().filter(|k| !b.contains_key(*k)) {
            problems.push(format!(
                "{path}: extra {key} not in the official descriptors"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        checked > 500,
        "only {checked} facts compared; the check is too weak"
    );
    println!("{checked} descriptor facts match the official P4Runtime 1.4.1 descriptors");
}

#[test]
fn reference_p4info_files_parse_as_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: {} not present", dir.display());
        return;
    };
    let mut parsed = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if !path.to_string_lossy().ends_with(".p4info.txtpb") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let p4info = flashmesh_proto::p4info_from_text(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let arch = p4info.pkg_info.as_ref().map(|p| p.arch.as_str());
        assert_eq!(arch, Some("v1model"), "{}", path.display());
        // Printing gives back p4c's file byte for byte.
        let printed = flashmesh_proto::p4info_to_text(&p4info);
        assert_eq!(
            printed,
            text,
            "{}: printed text differs from p4c's",
            path.display()
        );
        parsed += 1;
    }
    assert!(
        parsed >= 6,
        "expected the six reference P4Info files, parsed {parsed}"
    );
}
