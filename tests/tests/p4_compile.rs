//! `p4src/flash_mesh.p4` compiles through the flash-switch engine's front end.

#[test]
fn flash_mesh_compiles() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../p4src/flash_mesh.p4");
    match flashmesh_p4::compile_file(&path) {
        Ok(p) => {
            let tables: Vec<&str> = p.tables.iter().map(|t| t.name.as_str()).collect();
            eprintln!("tables: {tables:?}");
        }
        Err(d) => panic!("{d}"),
    }
}
