//! The SDN logic: topology, routes with backups, flash_mesh.p4 entries, link probing, penalties
//! and metrics. Everything here is pure; the runtime in [`crate::runtime`] does the I/O.

pub mod flash_mesh;
pub mod metrics;
pub mod monitor;
pub mod penalty;
pub mod probe;
pub mod routes;
pub mod topology;
