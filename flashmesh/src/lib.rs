//! flashmesh: committee set-up, the demo, the simulator, benchmarks and the operators' policy
//! tools, as a
//! library behind the `flashmesh` command line (so tests and later tools can run them
//! in-process).

pub mod admin_client;
pub mod bench;
pub mod bench_all;
pub mod demo;
pub mod experiment;
pub mod init;
pub mod load;
pub mod local;
pub mod mininet;
pub mod policy;
pub mod recovery_bench;
pub mod sim;
pub mod stats;
