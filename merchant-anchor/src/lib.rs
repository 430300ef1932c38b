//! The merchant anchor: FastPay authority, durable store, BCB UDP server and admin API.
//!
//! Embed an anchor with [`Anchor::start`] on a tokio runtime, given an [`AnchorConfig`]; the
//! `merchant-anchor` binary does just that from `--config anchor.toml`.

pub mod admin;
pub mod anchor;
pub mod commit;
pub mod config;
pub mod metrics;
pub mod server;
pub mod setup;
pub mod store;

pub use anchor::{Anchor, StartError, reason_name, recover};
pub use config::{AnchorConfig, ConfigError, DEFAULT_BCB_PORT};
pub use metrics::Metrics;
pub use setup::{InitOptions, LocalCommittee, Ports, SetupError, init_committee};
pub use store::{Store, StoreError};
