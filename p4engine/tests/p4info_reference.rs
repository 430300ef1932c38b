//! The P4Info derived for each reference program equals the one p4c wrote
//! (`../shared/bmv2-reference/NAME.p4info.txtpb`), compared as parsed protobuf messages.

use std::path::PathBuf;

use flashmesh_p4::p4info::{P4Info, p4info_file, p4info_text};

const PROGRAMS: [&str; 6] = ["arith", "cpu", "hashes", "parse", "state", "tables"];

fn corpus_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    d.join("README.md").exists().then_some(d)
}

fn reference(dir: &std::path::Path, name: &str) -> P4Info {
    let text = std::fs::read_to_string(dir.join(format!("{name}.p4info.txtpb"))).unwrap();
    flashmesh_proto::p4info_from_text(&text).unwrap()
}

#[test]
fn derived_p4info_equals_p4c() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipping: the reference corpus is not beside the project");
        return;
    };
    let mut failures = Vec::new();
    for name in PROGRAMS {
        let ours = match p4info_file(&dir.join(format!("{name}.p4"))) {
            Ok(p) => p,
            Err(d) => {
                failures.push(format!("{name}: {d}"));
                continue;
            }
        };
        let want = reference(&dir, name);
        if ours != want {
            failures.push(format!(
                "{name}: P4Info differs\n--- ours\n{}\n--- p4c\n{}",
                p4info_text(&ours),
                p4info_text(&want)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn text_round_trips_and_matches_p4c_bytes() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipping: the reference corpus is not beside the project");
        return;
    };
    for name in PROGRAMS {
        let ours = p4info_file(&dir.join(format!("{name}.p4"))).unwrap();
        let text = p4info_text(&ours);
        let back = flashmesh_proto::p4info_from_text(&text).unwrap();
        assert_eq!(back, ours, "{name}");
        let file = std::fs::read_to_string(dir.join(format!("{name}.p4info.txtpb"))).unwrap();
        assert_eq!(
            text.trim_end(),
            file.trim_end(),
            "{name}: text differs from p4c's file"
        );
    }
}

#[test]
fn compile_with_p4info_gives_both() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipping: the reference corpus is not beside the project");
        return;
    };
    let (program, info) =
        flashmesh_p4::p4info::compile_file_with_p4info(&dir.join("tables.p4")).unwrap();
    assert_eq!(info, reference(&dir, "tables"));
    assert_eq!(program.tables.len(), info.tables.len());
    let bad = std::env::temp_dir().join(format!("fm-bad-{}.p4", std::process::id()));
    std::fs::write(&bad, "#include <v1model.p4>\nheader h { bit<8> a }\n").unwrap();
    let err = flashmesh_p4::p4info::compile_file_with_p4info(&bad).unwrap_err();
    std::fs::remove_file(&bad).unwrap();
    assert!(
        err.to_string().contains(":2:21: error: syntax error"),
        "{err}"
    );
}
