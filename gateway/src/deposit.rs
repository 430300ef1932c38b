//! Deposits: money taken in on the primary ledger becomes a funding certificate the gateway
//! signs, pushed to every authority of the committee until a quorum's receipts confirm it.
//!
//! The ledger numbers deposits without gaps, and authorities apply a gateway's deposits in that
//! order, so the pusher walks the ledger's deposits from a cursor: each is pushed until a
//! quorum confirms it, then the cursor moves on. It starts from 0 (authorities answer a deposit
//! they applied with the same receipt, cheaply), so a restart re-confirms and nothing recorded
//! is ever left unpushed.

use std::sync::Arc;
use std::time::Duration;

use flashmesh_core::digest::{DOMAIN_DEPOSIT_REFERENCE, Digest};
use flashmesh_core::envelope::Envelope;
use flashmesh_core::messages::{Funding, FundingCertificate};
use flashmesh_core::{Committee, Keypair, PublicKey};
use flashmesh_wallet::{CommitteeClient, PayOptions, confirm_receipts};
use tokio::sync::Notify;

use crate::ledger::Deposit;
use crate::metrics::{Metrics, inc};
use crate::worker::LedgerHandle;

/// The funding certificate for a recorded deposit.
pub fn funding_of(deposit: &Deposit, committee: &Committee, key: &Keypair) -> FundingCertificate {
    let r = &deposit.request;
    FundingCertificate::sign(
        Funding {
            committee: committee.id(),
            gateway: key.public(),
            account: PublicKey::from_bytes(r.account),
            token: r.token,
            amount: r.amount,
            sequence: deposit.sequence,
            reference: Digest::of(DOMAIN_DEPOSIT_REFERENCE, &r.external_reference),
        },
        key,
    )
}

/// Pushes deposits to the committee.
pub struct DepositPusher {
    pub key: Arc<Keypair>,
    pub client: CommitteeClient,
    pub ledger: LedgerHandle,
    pub metrics: Arc<Metrics>,
    pub opts: PayOptions,
    /// Woken when a deposit is recorded.
    pub recorded: Arc<Notify>,
    /// The first deposit not yet confirmed by a quorum (shared with `/status`).
    pub confirmed_below: Arc<std::sync::atomic::AtomicU64>,
}

impl DepositPusher {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        use std::sync::atomic::Ordering;
        loop {
            let cursor = self.confirmed_below.load(Ordering::Relaxed);
            let batch = match self.ledger.deposits_from(cursor, 64).await {
                Ok(b) => b,
                Err(e) => {
                    inc(&self.metrics.ledger_failures);
                    tracing::warn!(error = %e, "reading deposits failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), self.recorded.notified()).await;
                continue;
            }
            for d in batch {
                let funding = funding_of(&d, self.client.committee(), &self.key);
                let datagram = match Envelope::deposit(funding, self.opts.epoch).encode() {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, "a funding certificate does not encode");
                        return;
                    }
                };
                match confirm_receipts(
                    &self.client,
                    &datagram,
                    funding.digest(),
                    d.sequence,
                    &self.opts,
                )
                .await
                {
                    Ok(_) => {
                        inc(&self.metrics.deposits_confirmed);
                        self.confirmed_below
                            .store(d.sequence + 1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        inc(&self.metrics.deposit_push_failures);
                        tracing::warn!(sequence = d.sequence, error = %e, "deposit not confirmed yet");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    }
}
