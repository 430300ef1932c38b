//! P4Runtime client library and the Flash-Mesh SDN logic.

pub mod p4rt;
pub mod policy;
pub mod sdn;
