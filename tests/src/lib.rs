//! Shared helpers for Flash-Mesh's workspace integration tests: the packet-test file format
//! (`p4src/tests/*.pkt`), its packet builder, and the runner that replays packet tests on the
//! flash-switch P4 engine.

pub mod p4_consistency;
pub mod packet;
pub mod pkt_test;
pub mod runner;
