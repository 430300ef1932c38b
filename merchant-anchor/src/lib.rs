//! The merchant anchor: FastPay authority, durable store, BCB UDP server and admin API.

pub mod admin;
pub mod commit;
pub mod config;
pub mod metrics;
pub mod store;
