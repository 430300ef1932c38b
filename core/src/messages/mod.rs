//! FastPay messages: orders, votes, certificates, receipts, queries and errors.
//!
//! Every message has a canonical encoding ([`crate::codec`]); signed messages carry an ed25519
//! signature over a domain-separated blake3 digest ([`crate::digest`]) of their unsigned part.

mod batch;
mod certificate;
mod error_msg;
mod funding;
mod handoff;
mod heartbeat;
mod liveness;
mod order;
mod owned;
mod query;
mod receipt;
mod settlement;
mod signed_items;
mod sync;
mod vote;
mod withdrawal;

pub use certificate::{Certificate, QuorumCollector, SignerEntry};
pub use error_msg::{ErrorMessage, MAX_ERROR_DETAIL_LEN};
pub use funding::{FUNDING_LEN, Funding, FundingCertificate};
pub use handoff::{HandoffCertificate, HandoffOrder, MAX_HANDOFF_TOKENS, SignedHandoff};
pub use heartbeat::{HEARTBEAT_LEN, Heartbeat, LIVENESS_TTL, LivenessError, check_liveness_epoch};
pub use liveness::Liveness;
pub use order::{
    DEFAULT_TOKEN, SIGNED_ORDER_LEN, SignedOrder, TRANSFER_ORDER_LEN, TokenId, TransferOrder,
};
pub use owned::{OwnedOrder, check_one};
pub use query::{MAX_REPLY_BALANCES, Query, QueryReply};
pub use receipt::Receipt;
pub use settlement::Settlement;
pub use signed_items::SignedItems;
pub use sync::{SYNC_REQUEST_LEN, SyncRequest};
pub use vote::Vote;
pub use withdrawal::{
    MAX_EXTERNAL_RECIPIENT_LEN, SignedWithdrawal, WithdrawalCertificate, WithdrawalOrder,
};

/// A value whose signatures have been checked. Only this crate's `verify` functions make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T>(pub(crate) T);

impl<T> Verified<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
