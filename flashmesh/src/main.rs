//! flashmesh: committee set-up, the demo and benchmarks.
fn main() {}
