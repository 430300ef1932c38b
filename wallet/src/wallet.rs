//! The payer: keeps the account's nonce and pending payment on disk and drives payments and
//! balance queries through a [`CommitteeClient`].

use std::time::{Duration, Instant};

use flashmesh_core::digest::Digest;
use flashmesh_core::keys::{Keypair, PublicKey};
use flashmesh_core::messages::{Certificate, SignedOrder, TokenId, TransferOrder};

use crate::balance::{BalanceReport, query_balance};
use crate::client::{ClientError, CommitteeClient};
use crate::pay::{
    PayError, PayOptions, Refusal, collect_votes_catching_up, confirm_certificate_catching_up,
};
use crate::retry::{LedgerError, RetryLedger};
use crate::state::{HistoryEntry, Pending, StateError, WalletDir, WalletState};

/// Default `ttl` (in epochs) of the orders this wallet signs.
pub const DEFAULT_ORDER_TTL: u8 = 16;

/// Errors of wallet operations.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The wallet's files failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The network failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The payment failed.
    #[error("payment failed: {0}")]
    Pay(#[from] PayError),
    /// An earlier payment is still unfinished and could not be finished now; no new order was
    /// signed.
    #[error("earlier payment (nonce {nonce}) is still pending and could not be finished: {source}")]
    PendingUnfinished {
        /// Its nonce.
        nonce: u64,
        /// Why it could not be finished.
        source: PayError,
    },
    /// No quorum of authorities agrees on the account's sequence number.
    #[error("no quorum of authorities agrees on the account's state")]
    NoAgreement,
    /// The wallet's own files are inconsistent.
    #[error("wallet state is corrupt: {0}")]
    Corrupt(String),
}

/// A finished payment.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The order.
    pub order: SignedOrder,
    /// Its certificate.
    pub certificate: Certificate,
    /// Digest of the certificate.
    pub certificate_digest: Digest,
    /// Time from the first ORDER to the certificate (zero if the certificate predates a restart).
    pub certificate_latency: Duration,
    /// Time from the first ORDER (or from resuming) to a quorum of receipts.
    pub finality_latency: Duration,
    /// Authorities that refused or sent invalid replies along the way.
    pub refusals: Vec<Refusal>,
    /// Whether this payment was resumed from the pending file.
    pub resumed: bool,
    /// Certificate pushes to authorities that were behind, during this payment.
    pub catch_up_pushes: u32,
}

/// The retry numbering of the pending payment, kept in the wallet's state file: each number is
/// written durably (with the pending order and certificate) before the copy carrying it is sent.
struct PendingLedger<'a> {
    dir: &'a WalletDir,
    state: &'a mut WalletState,
}

impl RetryLedger for PendingLedger<'_> {
    fn claim(
        &mut self,
        kind: flashmesh_core::wire::MsgType,
        epoch: u32,
    ) -> Result<u8, LedgerError> {
        let pending = self
            .state
            .pending
            .as_mut()
            .ok_or_else(|| LedgerError("no pending payment".into()))?;
        let retry = pending.retries.of(kind).claim(epoch);
        self.dir
            .save(self.state)
            .map_err(|e| LedgerError(e.to_string()))?;
        Ok(retry)
    }
}

/// A wallet: an account key, a committee and a data directory.
#[derive(Debug)]
pub struct Wallet {
    key: Keypair,
    client: CommitteeClient,
    dir: WalletDir,
    opts: PayOptions,
    ttl: u8,
}

impl Wallet {
    /// A wallet for `key`, talking to `client`'s committee, keeping its files in `dir`.
    pub fn new(key: Keypair, client: CommitteeClient, dir: WalletDir, opts: PayOptions) -> Self {
        Self {
            key,
            client,
            dir,
            opts,
            ttl: DEFAULT_ORDER_TTL,
        }
    }

    /// The account's key.
    pub(crate) fn key(&self) -> &Keypair {
        &self.key
    }
    /// The order validity window in epochs.
    pub(crate) fn ttl(&self) -> u8 {
        self.ttl
    }
    /// The account's public key.
    pub fn account(&self) -> PublicKey {
        self.key.public()
    }

    /// The committee client.
    pub fn client(&self) -> &CommitteeClient {
        &self.client
    }

    /// The data directory.
    pub fn dir(&self) -> &WalletDir {
        &self.dir
    }

    /// The payment options.
    pub fn options(&self) -> &PayOptions {
        &self.opts
    }

    /// Asks every authority for the balance of `token`.
    pub async fn balance(&self, token: TokenId) -> Result<BalanceReport, WalletError> {
        Ok(query_balance(
            &self.client,
            self.account(),
            token,
            self.opts.epoch,
            self.opts.retry_interval,
            self.opts.phase_timeout,
        )
        .await?)
    }

    /// Finished payments, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, WalletError> {
        Ok(self.dir.history()?)
    }

    /// The nonce of the next order: from the wallet's file, or else from a quorum of
    /// authorities. If an authority holds an order of ours locked at that nonce (the wallet
    /// lost its files mid-payment), that order becomes the pending payment again.
    pub(crate) async fn next_nonce(&mut self) -> Result<u64, WalletError> {
        let mut state = self.dir.load()?;
        if let Some(n) = state.next_nonce {
            return Ok(n);
        }
        let report = self
            .balance(flashmesh_core::messages::DEFAULT_TOKEN)
            .await?;
        let (next, _) = report.agreed.ok_or(WalletError::NoAgreement)?;
        let locked = report.views.iter().filter_map(|v| v.pending).find(|o| {
            o.order().nonce == next && o.order().sender == self.account() && o.check().is_ok()
        });
        state.next_nonce = Some(next);
        if let Some(order) = locked {
            state.pending = Some(Pending::new(&order));
        }
        self.dir.save(&state)?;
        Ok(next)
    }

    /// Finishes the pending payment, if any: the same order, never a new one.
    ///
    /// If every authority refused the pending order, no authority holds a lock on it and the
    /// payment is abandoned (the nonce stays free); the refusal is returned.
    pub async fn finish_pending(&mut self) -> Result<Option<Payment>, WalletError> {
        let state = self.dir.load()?;
        let Some(pending) = state.pending.clone() else {
            return Ok(None);
        };
        let order = pending.order().map_err(WalletError::Corrupt)?;
        let certificate = pending.certificate().map_err(WalletError::Corrupt)?;
        self.complete(state, order, certificate, true)
            .await
            .map(Some)
    }

    /// Pays `amount` of `token` to `recipient`. A pending payment is finished first; if it
    /// cannot be, no new order is signed.
    pub async fn pay(
        &mut self,
        recipient: PublicKey,
        amount: u64,
        token: TokenId,
    ) -> Result<Payment, WalletError> {
        self.finish_pending_before_new().await?;
        let nonce = self.next_nonce().await?;
        // `next_nonce` may have recovered a locked order of ours from the authorities.
        self.finish_pending_before_new().await?;
        let nonce = self.dir.load()?.next_nonce.unwrap_or(nonce);
        let order = SignedOrder::sign(
            TransferOrder {
                sender: self.account(),
                recipient,
                token,
                amount,
                nonce,
                epoch: self.opts.epoch,
                ttl: self.ttl,
            },
            &self.key,
        );
        let mut state = self.dir.load()?;
        state.pending = Some(Pending::new(&order));
        state.next_nonce = Some(nonce);
        // Written durably with the retry number of the first ORDER copy, before it is sent.
        self.complete(state, order, None, false).await
    }

    async fn finish_pending_before_new(&mut self) -> Result<(), WalletError> {
        let nonce = match self.dir.load()?.pending {
            Some(p) => p.order().map_err(WalletError::Corrupt)?.order().nonce,
            None => return Ok(()),
        };
        match self.finish_pending().await {
            Ok(_) => Ok(()),
            // Abandoned: refused by everyone, the nonce is free again.
            Err(WalletError::Pay(PayError::Refused { by_all: true, .. })) => Ok(()),
            Err(WalletError::Pay(source)) => Err(WalletError::PendingUnfinished { nonce, source }),
            Err(e) => Err(e),
        }
    }

    /// Finishes `order` (whose pending entry is in `state`): votes unless `certificate` is
    /// known, then receipts. Every copy sent is numbered through the pending entry's retry
    /// counts, written before sending.
    async fn complete(
        &mut self,
        mut state: WalletState,
        order: SignedOrder,
        certificate: Option<Certificate>,
        resumed: bool,
    ) -> Result<Payment, WalletError> {
        let started = Instant::now();
        let mut refusals = Vec::new();
        let mut certificate_latency = Duration::ZERO;
        let mut catch_up_pushes = 0;
        let certificate = match certificate {
            Some(c) => c,
            None => match collect_votes_catching_up(
                &self.client,
                order,
                &self.opts,
                &mut PendingLedger {
                    dir: &self.dir,
                    state: &mut state,
                },
                &self.dir,
            )
            .await
            {
                Ok(c) => {
                    certificate_latency = c.latency;
                    catch_up_pushes += c.catch_up_pushes;
                    refusals.extend(c.refusals);
                    if let Some(p) = state.pending.as_mut() {
                        p.certificate = Some(hex::encode(flashmesh_core::codec::Encode::to_bytes(
                            &c.certificate,
                        )));
                    }
                    // Written durably with the first CERTIFICATE copy's retry number below.
                    c.certificate
                }
                Err(PayError::Refused {
                    refusals,
                    by_all: true,
                }) => {
                    // Nobody locked it: drop it, and ask the committee for the nonce next time
                    // (a refusal such as a wrong nonce means the local nonce is stale).
                    state.pending = None;
                    state.next_nonce = None;
                    self.dir.save(&state)?;
                    return Err(PayError::Refused {
                        refusals,
                        by_all: true,
                    }
                    .into());
                }
                Err(e) => return Err(e.into()),
            },
        };
        let confirmed = confirm_certificate_catching_up(
            &self.client,
            &certificate,
            &self.opts,
            &mut PendingLedger {
                dir: &self.dir,
                state: &mut state,
            },
            &self.dir,
        )
        .await?;
        catch_up_pushes += confirmed.catch_up_pushes;
        // kept for authorities that missed it (pushed to them by later payments)
        self.dir.append_certificate(&certificate)?;
        let finality_latency = started.elapsed();
        refusals.extend(confirmed.refusals);
        let o = *order.order();
        let certificate_digest = certificate.digest();
        self.dir.append_history(&HistoryEntry {
            finished_unix_ms: flashmesh_core::host::clock::unix_millis(),
            recipient: o.recipient.to_hex(),
            token: o.token,
            amount: o.amount,
            nonce: o.nonce,
            certificate: certificate_digest.to_hex(),
            finality_ms: finality_latency.as_secs_f64() * 1000.0,
        })?;
        state.pending = None;
        state.next_nonce = Some(confirmed.next_sequence.max(o.nonce + 1));
        // Relaxed: if this is lost, the restarted wallet re-runs the finished order, which the
        // authorities answer with receipts (certificate kept) or refuse everywhere as a past
        // nonce (then the wallet drops it and asks for its nonce); it never signs anew for it.
        self.dir.save_relaxed(&state)?;
        Ok(Payment {
            order,
            certificate,
            certificate_digest,
            certificate_latency,
            finality_latency,
            refusals,
            resumed,
            catch_up_pushes,
        })
    }
}
