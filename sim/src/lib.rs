//! Flash-Mesh deterministic simulator.
//!
//! A discrete-event simulation in virtual time of a scenario file (the same files the
//! experiments run, `bmv2-testbed/scenarios/`): the real `flashmesh_core` authority state
//! machine behind a modelled store with crash semantics, the wallet's own sans-IO quorum round
//! as the payers, a multi-hop network with per-link delay, jitter, loss, rate and strict-priority
//! queues, and the data plane's epoch window, retry allowance, blocked senders and duplicate
//! filter at every switch. One seed drives everything (one stream per purpose), so the same
//! seed gives the same run bit for bit.
//!
//! Faults come from the scenario's `[faults]` as a [`plan::FaultPlan`] drawn from the seed:
//! loss, duplication, reordering, crashes and restarts, partitions that heal, Byzantine
//! authorities and payers. The [`monitor`] checks the invariants as the run goes; [`runner`]
//! runs many seeds on all cores and shrinks a failing one to the faults that matter.
//!
//! Module map: [`agenda`] (events in time order), [`rng`] (seeded streams), [`net`] (links,
//! lanes, routes), [`dataplane`] (the switch's filters), [`store`] (durability), [`hosts`]
//! (authorities), [`payers`] (wallets), [`world`] (the loop), [`report`] (outputs).

pub mod agenda;
pub mod dataplane;
pub mod hosts;
pub mod monitor;
pub mod net;
pub mod payers;
pub mod plan;
pub mod report;
pub mod rng;
pub mod runner;
pub mod store;
pub mod supply;
pub mod verify;
pub mod world;

pub use monitor::Violation;
pub use plan::{FaultItem, FaultPlan};
pub use report::RunResult;
pub use runner::{SeedsReport, run_one, run_seeds, shrink};
pub use world::{RunConfig, World};
