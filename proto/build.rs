//! Compiles the `.proto` sources with protox (no system `protoc`) and generates
//! prost messages plus tonic clients and servers; also keeps the encoded
//! descriptor set for reflection (text format, descriptor checks).

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "p4/v1/p4runtime.proto",
    "p4/v1/p4data.proto",
    "p4/config/v1/p4info.proto",
    "p4/config/v1/p4types.proto",
    "google/rpc/status.proto",
    "google/rpc/code.proto",
    "flashmesh/mgmt/v1/mgmt.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    std::fs::write(
        out_dir.join("flashmesh_descriptors.bin"),
        fds.encode_to_vec(),
    )?;

    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .include_file("flashmesh_protos.rs")
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
