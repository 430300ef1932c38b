//! The merchant anchor: FastPay authority, durable store, BCB UDP server, P4Runtime controller
//! and admin API.
//!
//! Embed an anchor with [`Anchor::start`] on a tokio runtime, given an [`AnchorConfig`]; the
//! `merchant-anchor` binary does just that from `--config anchor.toml`. With a `controller`
//! entry in the configuration, or a `ControllerSpec` given to [`Anchor::start_with`], the anchor
//! is also the P4Runtime controller of its switches ([`control`]): one epoch for the authority
//! and the switches, in-switch blocking of double-spenders, signed policy over `POST /policy`.

pub mod admin;
pub mod anchor;
pub mod applied;
pub mod commit;
pub mod config;
pub mod control;
pub mod history;
pub mod link_relay;
pub mod liveness;
pub mod metrics;
pub mod peers;
pub mod policy_api;
pub mod server;
pub mod setup;
pub mod store;

pub use anchor::{AdminEndpoint, Anchor, AnchorParts, StartError, reason_name, recover};
pub use config::{AnchorConfig, ConfigError, ControllerSource, DEFAULT_BCB_PORT, LivenessConfig};
pub use control::{AnchorController, ControllerHealth, PenaltySink, SwitchHealth};
pub use liveness::LivenessState;
pub use metrics::Metrics;
pub use setup::{InitOptions, LocalCommittee, Ports, SetupError, init_committee};
pub use store::{Store, StoreError};
