//! flashmesh: committee set-up, the demo and benchmarks, as a library behind the `flashmesh`
//! command line (so tests and later tools can run them in-process).

pub mod bench;
pub mod demo;
pub mod init;
pub mod local;
pub mod stats;
