//! Every program in `tests/invalid/` is rejected with the diagnostic its first line announces
//! (`// expect: FILE:LINE:COL: error: MESSAGE...`): position mapped back through includes,
//! message saying what is wrong. Never a panic.

use std::path::{Path, PathBuf};

use flashmesh_p4::front::check_file;

fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid")
}

fn first_diagnostic(path: &Path) -> String {
    match check_file(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(d) => {
            let first = &d.0[0];
            let file = Path::new(&first.file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "{file}:{}:{}: error: {}",
                first.line, first.col, first.message
            )
        }
    }
}

#[test]
fn invalid_programs_give_positioned_diagnostics() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(invalid_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|s| s.to_str()) == Some("p4"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// expect: "))
            .unwrap_or_else(|| panic!("{} has no '// expect:' line", p.display()))
            .trim()
            .to_string();
        let got = first_diagnostic(&p);
        if !got.starts_with(&expect) {
            failures.push(format!(
                "{}:\n  expected {expect}\n  got      {got}",
                p.display()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} invalid programs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics_display_as_file_line_col() {
    let d = flashmesh_p4::front::check_source("mem.p4", "header h_t { bit<8> a }\n").unwrap_err();
    assert_eq!(
        d.to_string(),
        "mem.p4:1:23: error: syntax error: expected ';', found '}'"
    );
}

#[test]
fn garbage_never_panics() {
    // Truncations and byte soup of a real program: always Ok or a diagnostic.
    let src = std::fs::read_to_string(invalid_dir().join("base.p4inc")).unwrap();
    let full = format!("#include <core.p4>\n#include <v1model.p4>\n{src}");
    for cut in (0..full.len()).step_by(7) {
        let _ = flashmesh_p4::front::check_source("cut.p4", &full[..cut]);
    }
    let bytes: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let soup = String::from_utf8_lossy(&bytes);
    assert!(flashmesh_p4::front::check_source("soup.p4", &soup).is_err());
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    let deep = format!(
        "const bit<8> x = {}1{};",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let d = flashmesh_p4::front::check_source("deep.p4", &deep).unwrap_err();
    assert!(d.to_string().contains("nested too deeply"), "{d}");
    let deep_if = format!(
        "control C() {{ apply {{ {} }} }}",
        "if (true) ".repeat(50_000)
    );
    let d = flashmesh_p4::front::check_source("deep.p4", &deep_if).unwrap_err();
    assert!(d.to_string().contains("nested too deeply"), "{d}");
}

#[test]
fn removing_any_line_of_a_reference_program_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    let Ok(src) = std::fs::read_to_string(dir.join("tables.p4")) else {
        eprintln!("skipping: corpus not present");
        return;
    };
    let lines: Vec<&str> = src.lines().collect();
    for i in 0..lines.len() {
        let mut v = lines.clone();
        v.remove(i);
        let _ = flashmesh_p4::front::check_source("cut.p4", &v.join("\n"));
    }
}

#[test]
fn typedef_cycle_is_reported() {
    let d = flashmesh_p4::front::check_source(
        "cyc.p4",
        "typedef b_t a_t;\ntypedef a_t b_t;\nstruct s { a_t f; }\n",
    )
    .unwrap_err();
    assert!(d.to_string().contains("refers to itself"), "{d}");
}

#[test]
fn nesting_just_under_the_limit_is_checked() {
    let src = format!(
        "control C(inout bit<8> x) {{ apply {{ {} x = {}x{}; }} }}",
        "if (x == 1) ".repeat(45),
        "(".repeat(45),
        " + 1)".repeat(45)
    );
    // Parses and checks without exhausting the stack (no V1Switch: that diagnostic only).
    let d = flashmesh_p4::front::check_source("near.p4", &src).unwrap_err();
    assert!(d.to_string().contains("no package instantiation"), "{d}");
}
