//! P4Runtime, P4Info and Flash-Mesh management protobuf types, generated at build time.
//!
//! The `.proto` sources live in `proto/proto/` and are compiled by `build.rs` with
//! protox (no system `protoc`); prost generates the messages and tonic both the
//! client and the server of the `P4Runtime` service.
//!
//! Module paths:
//! - [`p4::v1`]: P4Runtime messages (`WriteRequest`, `Entity`, `TableEntry`, ...);
//!   [`p4::v1::p4_runtime_client::P4RuntimeClient`] and
//!   [`p4::v1::p4_runtime_server::P4RuntimeServer`] / `P4Runtime` (the trait to implement).
//! - [`p4::config::v1`]: the P4Info schema (`P4Info`, `Table`, `Action`, ...).
//! - [`google::rpc`]: `Status` and `Code`.
//! - [`flashmesh::mgmt::v1`]: Flash-Mesh management messages (queue shaping, link emulation).
//! - Well-known types (`google.protobuf.Any`) map to [`prost_types`].
//!
//! [`bytestring`] is the P4Runtime bytestring codec (canonical big-endian values checked
//! against bit widths); [`p4info_index`] indexes a P4Info by id and by name.
//! [`status`] decodes the per-update `p4.v1.Error`s of a failed `Write`.
//! [`text`] prints and parses the protobuf text format (as p4c writes `.p4info.txtpb`
//! files) for any message of this crate; [`descriptor_pool`] gives the reflection
//! descriptors of all of them.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

include!(concat!(env!("OUT_DIR"), "/flashmesh_protos.rs"));

pub mod bytestring;
pub mod p4info_index;
pub mod status;
pub mod text;

pub use p4info_index::P4InfoIndex;
pub use prost;
pub use prost_types;
pub use status::{write_errors, write_errors_from_details};
pub use text::{TextFormatError, from_text, p4info_from_text, p4info_to_text, to_text};
pub use tonic;

use std::sync::OnceLock;

/// The encoded `FileDescriptorSet` of every `.proto` file of this crate (with imports).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/flashmesh_descriptors.bin"));

/// The P4Runtime API version this crate implements (reported by `Capabilities`).
pub const P4RUNTIME_API_VERSION: &str = "1.4.1";

/// The reflection descriptors of all messages of this crate, decoded once.
pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: OnceLock<prost_reflect::DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("descriptor set produced by build.rs decodes")
    })
}
