//! The in-process Flash-Mesh: embedded flash-switches on emulated links, anchors, wallets and the experiment phases.
//!
//! * [`plan`]: the layout (nodes, addresses, links and their emulation, who drives and pays whom);
//! * [`frame`] and [`transport`]: datagrams as Ethernet/IPv4/UDP frames on switch ports, the
//!   [`FrameTransport`] the anchors and wallets use, and the BCB flight recorder;
//! * [`fabric`]: one flash-switch per node running `p4src/flash_mesh.p4`, wired by links, each
//!   serving P4Runtime on loopback;
//! * [`control`]: a P4Runtime controller per anchor, policy changes by signed bundles;
//! * [`mesh`]: assembling all of it; [`demo`]: the phases and their KPIs; [`report`]: the KPI
//!   rows, the goals, JSON and the human table; [`progress`]: a terminal progress bar.
//!
//! ```no_run
//! # async fn f() -> Result<(), flashmesh_mesh::MeshError> {
//! let report = flashmesh_mesh::run_demo(flashmesh_mesh::DemoOptions::default(), |_| {}).await?;
//! println!("{}", report.render_table());
//! # Ok(()) }
//! ```

pub mod control;
pub mod demo;
pub mod error;
pub mod experiment;
pub mod fabric;
pub mod frame;
pub mod layout;
pub mod memory;
pub mod mesh;
pub mod plan;
pub mod progress;
pub mod report;
pub mod transport;

pub use demo::{DemoOptions, PHASES, ProgressEvent, run_demo};
pub use error::MeshError;
pub use mesh::{
    CommitteeLayout, CommitteeMode, Mesh, MeshKeys, MeshOptions, PayerLayout, Population,
};
pub use progress::DemoProgress;
pub use report::{DemoReport, Goals, PhaseReport};
pub use transport::FrameTransport;
