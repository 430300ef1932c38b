//! Replays every packet test in `p4src/tests/*.pkt` on `p4src/flash_mesh.p4` running in the
//! flash-switch engine, in-process. Each file starts from a fresh switch.

use std::path::PathBuf;

use flashmesh_tests::pkt_test;
use flashmesh_tests::runner::EngineHarness;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn packet_tests_pass_on_flash_switch() {
    let program = flashmesh_p4::compile_file(repo().join("p4src/flash_mesh.p4"))
        .unwrap_or_else(|d| panic!("flash_mesh.p4 does not compile:\n{d}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("p4src/tests"))
        .expect("p4src/tests")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkt"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "packet-test files missing");
    let mut harness = EngineHarness::new(program);
    let mut failures = Vec::new();
    let mut sends = 0;
    for path in &files {
        let test = pkt_test::load(path).unwrap_or_else(|e| panic!("{e}"));
        sends += test
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    pkt_test::Step::Send { .. } | pkt_test::Step::PacketOut { .. }
                )
            })
            .count();
        let f = harness.run(&test, true);
        eprintln!(
            "{:<20} {}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            if f.is_empty() { "ok" } else { "FAILED" }
        );
        failures.extend(f);
    }
    eprintln!("{} files, {sends} packets", files.len());
    assert!(
        failures.is_empty(),
        "{} failing steps:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
