//! The gateway's primary ledger: where withdrawal certificates are settled exactly once and
//! deposits are taken in and numbered.
//!
//! [`PrimaryLedger`] is a blocking API: the gateway service calls it from a dedicated worker
//! thread, never from inside an async task. Every write is one database transaction, so a call
//! that returned is durable and a call cut short (crash, kill -9, power loss) left nothing
//! behind. Two back-ends implement it: [`SqliteLedger`] (one file, WAL, `synchronous=FULL`) and
//! [`PostgresLedger`] (a PostgreSQL server).
//!
//! Exactly once:
//! - [`PrimaryLedger::settle`] keys a withdrawal by its certificate digest. The first call records
//!   it, credits the external recipient and answers `first: true`; every later call with the
//!   same digest changes nothing and answers the first settlement (same reference, same time)
//!   with `first: false`; a later call whose fields differ from the recorded ones is refused with
//!   [`LedgerError::Conflict`].
//! - [`PrimaryLedger::record_deposit`] does the same keyed by the external reference (the bank
//!   transfer id), and numbers deposits 0, 1, 2, … with no gap.
//!
//! Amounts and nonces are `u64` over their whole range; sums are `u128` and never wrap. Times
//! (`now_ms`) must be at most `i64::MAX`.

mod check;
mod error;
pub mod postgres;
mod row;
pub mod sqlite;

use std::collections::BTreeMap;

pub use error::LedgerError;
pub use postgres::PostgresLedger;
pub use sqlite::SqliteLedger;

/// Longest external recipient or external reference the ledger takes, in bytes.
pub const MAX_EXTERNAL_LEN: usize = 64;

/// A withdrawal certificate as the ledger settles it: the certified order's fields and the
/// certificate's digest, which is the settlement's unique key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Withdrawal {
    pub certificate_digest: [u8; 32],
    /// The mesh account that withdrew.
    pub account: [u8; 32],
    pub token: u32,
    /// Greater than zero.
    pub amount: u64,
    /// Who is paid outside the mesh (an IBAN, a card token…): 1..=64 bytes.
    pub recipient: Vec<u8>,
    /// The order's nonce on the account.
    pub nonce: u64,
}

/// A settled withdrawal, as recorded by its first settlement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The withdrawal as recorded (its `certificate_digest` is the key).
    pub withdrawal: Withdrawal,
    /// Assigned by the ledger: 1 for the first settlement, then one more for each.
    pub reference: u64,
    /// The `now_ms` of the call that settled it.
    pub settled_at_ms: u64,
    /// True only in the answer to the call that settled it; false for a replay and for reads.
    pub first: bool,
}

/// Money taken in on the primary ledger, to be credited to a mesh account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DepositRequest {
    /// The bank transfer id: 1..=64 bytes, unique among deposits.
    pub external_reference: Vec<u8>,
    pub account: [u8; 32],
    pub token: u32,
    /// Greater than zero.
    pub amount: u64,
}

/// A recorded deposit, as recorded by its first call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// The request as recorded (its `external_reference` is the key).
    pub request: DepositRequest,
    /// Assigned by the ledger: 0 for the first deposit, then one more for each, no gap.
    pub sequence: u64,
    /// The `now_ms` of the call that recorded it.
    pub created_at_ms: u64,
    /// True only in the answer to the call that recorded it; false for a replay and for reads.
    pub first: bool,
}

/// What the ledger holds, per token and per external recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerTotals {
    /// Per token: settlements and deposits. Tokens never used are absent.
    pub tokens: BTreeMap<u32, TokenTotals>,
    /// Per (external recipient, token): the amount credited by settlements.
    pub recipients: BTreeMap<(Vec<u8>, u32), u128>,
}

/// Settlements and deposits of one token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenTotals {
    pub settled_count: u64,
    pub settled_amount: u128,
    pub deposited_count: u64,
    pub deposited_amount: u128,
}

/// The gateway's primary ledger. Blocking; one value is one database connection.
pub trait PrimaryLedger: Send {
    /// Settles `w` exactly once (see the module documentation).
    fn settle(&mut self, w: &Withdrawal, now_ms: u64) -> Result<Settlement, LedgerError>;

    /// The settlement of this certificate, if it was settled (`first` is false).
    fn settlement(
        &mut self,
        certificate_digest: &[u8; 32],
    ) -> Result<Option<Settlement>, LedgerError>;

    /// Records `d` exactly once and gives it the next deposit sequence.
    fn record_deposit(&mut self, d: &DepositRequest, now_ms: u64) -> Result<Deposit, LedgerError>;

    /// Up to `limit` deposits with sequence `sequence` and on, in sequence order
    /// (`first` is false).
    fn deposits_from(&mut self, sequence: u64, limit: usize) -> Result<Vec<Deposit>, LedgerError>;

    /// Per token and per external recipient sums over everything recorded.
    fn totals(&mut self) -> Result<LedgerTotals, LedgerError>;
}
