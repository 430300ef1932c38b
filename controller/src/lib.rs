//! P4Runtime client library and the Flash-Mesh SDN logic.
//!
//! * [`p4rt`]: the P4Runtime client (sessions with arbitration, pipeline reconciliation,
//!   name-based entries, reads, packet I/O, digests), for flash-switch and BMv2 alike.
//! * [`sdn`]: pure SDN logic: topology, routes with disjoint backups, the flash_mesh.p4 entries,
//!   probes and the link monitor, penalties, metrics.
//! * [`policy`]: signed policy bundles, verification against pinned operator keys, audit log.
//! * [`runtime`]: the running [`Controller`] that ties them together.

pub mod p4rt;
pub mod policy;
pub mod runtime;
pub mod sdn;

pub use runtime::{Controller, ControllerConfig, ControllerEvent, ControllerSpec};
