//! The ledger on its own thread: the primary-ledger back-ends block (SQLite, the PostgreSQL
//! client), so the async server hands them requests over a channel and awaits the answers.
//! One thread, one connection: requests are settled in arrival order.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::ledger::{
    Deposit, DepositRequest, LedgerError, LedgerTotals, PrimaryLedger, Settlement, Withdrawal,
};

enum Request {
    Settle(
        Withdrawal,
        u64,
        oneshot::Sender<Result<Settlement, LedgerError>>,
    ),
    RecordDeposit(
        DepositRequest,
        u64,
        oneshot::Sender<Result<Deposit, LedgerError>>,
    ),
    DepositsFrom(
        u64,
        usize,
        oneshot::Sender<Result<Vec<Deposit>, LedgerError>>,
    ),
    Totals(oneshot::Sender<Result<LedgerTotals, LedgerError>>),
}

/// A handle to the ledger thread (cheap to clone).
#[derive(Clone)]
pub struct LedgerHandle {
    tx: mpsc::Sender<Request>,
}

/// The ledger thread is gone (it panicked or was shut down).
fn gone() -> LedgerError {
    LedgerError::Setup("the ledger thread stopped".into())
}

impl LedgerHandle {
    /// Starts the thread that owns `ledger`.
    pub fn spawn(mut ledger: Box<dyn PrimaryLedger>) -> LedgerHandle {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("gateway-ledger".into())
            .spawn(move || {
                for r in rx {
                    // A caller that went away is not an error.
                    match r {
                        Request::Settle(w, now, reply) => {
                            let _ = reply.send(ledger.settle(&w, now));
                        }
                        Request::RecordDeposit(d, now, reply) => {
                            let _ = reply.send(ledger.record_deposit(&d, now));
                        }
                        Request::DepositsFrom(s, n, reply) => {
                            let _ = reply.send(ledger.deposits_from(s, n));
                        }
                        Request::Totals(reply) => {
                            let _ = reply.send(ledger.totals());
                        }
                    }
                }
            })
            .expect("spawning the ledger thread");
        LedgerHandle { tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, LedgerError>>) -> Request,
    ) -> Result<T, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// [`PrimaryLedger::settle`].
    pub async fn settle(&self, w: Withdrawal, now_ms: u64) -> Result<Settlement, LedgerError> {
        self.ask(|r| Request::Settle(w, now_ms, r)).await
    }
    /// [`PrimaryLedger::record_deposit`].
    pub async fn record_deposit(
        &self,
        d: DepositRequest,
        now_ms: u64,
    ) -> Result<Deposit, LedgerError> {
        self.ask(|r| Request::RecordDeposit(d, now_ms, r)).await
    }
    /// [`PrimaryLedger::deposits_from`].
    pub async fn deposits_from(&self, seq: u64, limit: usize) -> Result<Vec<Deposit>, LedgerError> {
        self.ask(|r| Request::DepositsFrom(seq, limit, r)).await
    }
    /// [`PrimaryLedger::totals`].
    pub async fn totals(&self) -> Result<LedgerTotals, LedgerError> {
        self.ask(Request::Totals).await
    }
}
