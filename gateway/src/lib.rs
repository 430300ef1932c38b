//! The Flash-Mesh gateway: it settles withdrawal certificates on a primary ledger exactly once
//! (the certificate digest is the unique key) and takes deposits in, numbering them for the
//! funding certificates the committee applies in order.
//!
//! For now this crate holds the primary-ledger layer ([`ledger`]): the [`ledger::PrimaryLedger`]
//! trait and its SQLite and PostgreSQL back-ends.

pub mod ledger;
