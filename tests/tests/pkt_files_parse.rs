//! Every packet-test file in `p4src/tests/` parses and builds its packets.

use std::path::PathBuf;

#[test]
fn all_packet_test_files_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4src/tests");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("p4src/tests exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "pkt") {
            let t = flashmesh_tests::pkt_test::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!t.steps.is_empty(), "{} has no steps", path.display());
            n += 1;
        }
    }
    assert!(n >= 7, "expected the packet-test files, found {n}");
}
