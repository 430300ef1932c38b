//! The Flash-Mesh gateway: it settles withdrawal certificates on a primary ledger exactly once
//! (keyed by the withdrawal order's digest, so every certificate of one order settles as one)
//! and takes deposits in, numbering them for the funding certificates the committee applies in
//! order.
//!
//! - [`ledger`]: the [`ledger::PrimaryLedger`] trait and its SQLite and PostgreSQL back-ends;
//! - [`worker`]: the ledger on its own thread, for the async service;
//! - [`settle`]: what a certificate settles as, and the signed settlement (pure);
//! - [`server`]: the UDP service (WITHDRAWAL_CERTIFICATE in, SETTLEMENT out);
//! - [`deposit`]: funding certificates pushed to the committee until a quorum confirms;
//! - [`admin`]: `/status`, `/metrics`, `POST /deposits`;
//! - [`setup`]: `gateway init` (a key, a configuration, the pin in the committee file);
//! - [`config`], [`metrics`].

pub mod admin;
pub mod config;
pub mod deposit;
pub mod ledger;
pub mod metrics;
pub mod server;
pub mod settle;
pub mod setup;
pub mod worker;
