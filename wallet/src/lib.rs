//! The Flash-Mesh wallet: payer and payee library and CLI.
//!
//! [`Wallet`] pays (order → votes → certificate → receipts) and queries balances through a
//! [`CommitteeClient`], which speaks to the committee's authorities over any
//! [`flashmesh_transport::Transport`]. The payment protocol itself is in [`pay`], usable on its
//! own by tools that manage nonces themselves (demos, benchmarks, tests).

pub mod balance;
pub mod catch_up;
pub mod certificates;
pub mod client;
pub mod handoff;
pub mod keyfile;
pub mod pay;
pub mod payee;
pub mod quorum;
pub mod retry;
pub mod state;
pub mod wallet;
pub mod withdraw;

pub use balance::{AuthorityView, BalanceReport, query_balance};
pub use catch_up::{MAX_PUSHES_PER_AUTHORITY, PUSH_BATCH};
pub use certificates::{CatchUp, NoCatchUp};
pub use client::{ClientError, CommitteeClient, Endpoint};
pub use handoff::{HandedOff, HandoffEntry, HandoffError, certify_handoff, confirm_handoff};
pub use keyfile::{KeyFileError, read_key, write_key};
pub use pay::{
    PayError, PayOptions, Refusal, collect_votes, collect_votes_catching_up, collect_votes_with,
    confirm_certificate, confirm_certificate_catching_up, confirm_certificate_with,
};
pub use payee::{Received, Refused, accept, accept_under, accept_with, next_payment};
pub use quorum::{Heard, PhaseKind, QuorumRound, Reached, RoundError, Step, Timing};
pub use retry::{LedgerError, Retries, RetryCount, RetryLedger};
pub use state::{HistoryEntry, Pending, WalletDir, WalletState};
pub use wallet::{Payment, Wallet, WalletError};
pub use withdraw::{
    SettledEntry, WalletWithdrawError, WithdrawError, Withdrawn, certify_withdrawal,
    confirm_receipts, confirm_withdrawal, settle_at_gateway, withdraw_order,
};
