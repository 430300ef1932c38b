//! Flash-Mesh experiment scenarios.
//!
//! One scenario file (TOML, `bmv2-testbed/scenarios/*.toml`, schema in `bmv2-testbed/README.md`)
//! runs on three targets: `embedded` (the in-process mesh), `mininet` (real processes, with
//! flash-switch or BMv2) and `sim` (the deterministic simulator). This crate is what they share:
//!
//! - [`file`]: the file as written, parsed with serde, unknown fields refused;
//! - [`load`]: reading a file, turning parse and validation errors into a [`ScenarioError`]
//!   that names the file, line, column and field;
//! - [`resolve`]: the checked, resolved [`Scenario`] (generated topology expanded, names
//!   resolved to indices, events sorted) the targets run;
//! - [`target`]: what each target can do, so a scenario it cannot run is refused by name before
//!   anything starts;
//! - [`outputs`]: the run outputs every target writes (`kpis.json`, `payments.csv`,
//!   `events.csv`) and [`assert`]: the scenario's KPI assertions evaluated against them.
//!
//! Pure apart from [`load::load_file`] and [`outputs::write_outputs`] (file reads and writes).

pub mod assert;
pub mod error;
pub mod file;
pub mod load;
pub mod locate;
pub mod outputs;
pub mod resolve;
pub mod target;

pub use assert::{AssertOutcome, evaluate_assertions};
pub use error::ScenarioError;
pub use load::{load_file, load_str};
pub use outputs::{EventRecord, Kpis, PaymentOutcome, PaymentRecord, PhaseKpis, RunInfo};
pub use resolve::{
    Committee, Event, EventKind, Link, LinkParams, Node, Phase, Role, Scenario, Workload,
};
pub use target::{SwitchKind, Target, TargetKind, Unsupported};
