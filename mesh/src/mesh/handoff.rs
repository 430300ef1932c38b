//! A phone moving its account to another committee on the embedded mesh, the way the wallet's
//! `handoff` does it: a HANDOFF of the balance a quorum of its committee agrees on, that
//! committee's votes into a HANDOFF_CERTIFICATE, a quorum of it applying the certificate (the
//! account leaves), then a quorum of the new committee applying it (the account arrives). From
//! then on the payer pays through the new committee.
//!
//! The timeline asks for the move ([`HandoffRequest::ask`]); the payer's own task makes it
//! between two payments, since a payer makes one order at a time. A handoff that did not finish
//! is kept and finished first (the same order, never a second one for its nonce).

use std::time::{Duration, Instant};

use flashmesh_core::messages::{HandoffCertificate, HandoffOrder, SignedHandoff};
use flashmesh_core::{Committee, DEFAULT_TOKEN};
use flashmesh_wallet::{
    CommitteeClient, PayOptions, certify_handoff, confirm_handoff, query_balance,
};
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Payer;

/// A move the timeline asks of one payer: the committee to move to, with its name.
#[derive(Default)]
pub struct HandoffRequest {
    to: Mutex<Option<(String, Committee)>>,
    asked: Notify,
}

impl HandoffRequest {
    /// Asks the payer to move to `to` (named `name`) before its next payment.
    pub fn ask(&self, name: String, to: Committee) {
        *self.to.lock() = Some((name, to));
        self.asked.notify_one();
    }
    /// The move asked for, if one is waiting.
    pub fn take(&self) -> Option<(String, Committee)> {
        self.to.lock().take()
    }
    /// Returns once a move was asked for (at once if one was asked before).
    pub async fn asked(&self) {
        self.asked.notified().await;
    }
}

/// How a finished handoff went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandoffTiming {
    /// The handoff's nonce.
    pub nonce: u64,
    /// The balance that moved (token 0).
    pub balance: u64,
    /// First HANDOFF to the certificate.
    pub certify: Duration,
    /// Certificate to a quorum of the old committee's receipts.
    pub leave: Duration,
    /// Then to a quorum of the new committee's receipts.
    pub arrive: Duration,
}

impl HandoffTiming {
    /// From the first HANDOFF until the account was usable in the new committee.
    pub fn total(&self) -> Duration {
        self.certify + self.leave + self.arrive
    }
}

/// A handoff begun and not finished.
pub(super) struct Moving {
    name: String,
    to: Committee,
    order: SignedHandoff,
    certificate: Option<HandoffCertificate>,
    /// Whether a quorum of the old committee applied the certificate.
    left: bool,
    /// Time spent on it in earlier attempts, per step.
    spent: [Duration; 3],
}

impl Payer {
    /// Whether a handoff was begun and has not finished.
    pub fn is_moving(&self) -> bool {
        self.moving.is_some()
    }

    /// Moves the account to `to`, or finishes the handoff begun before (then `to` is ignored
    /// when it is `None`). A payment left unfinished is finished first by the caller: this
    /// refuses to start while one is pending.
    pub async fn hand_off(
        &mut self,
        to: Option<(String, Committee)>,
        epoch: u32,
        opts: &PayOptions,
    ) -> Result<HandoffTiming, String> {
        let opts = PayOptions {
            epoch,
            ..opts.clone()
        };
        if self.moving.is_none() {
            let Some((name, to)) = to else {
                return Err("no handoff asked for".into());
            };
            if self.pending.is_some() {
                return Err("a payment is unfinished".into());
            }
            let report = query_balance(
                &self.client,
                self.key.public(),
                DEFAULT_TOKEN,
                epoch,
                opts.retry_interval,
                opts.phase_timeout,
            )
            .await
            .map_err(|e| format!("balance: {e}"))?;
            let (nonce, balance) = report
                .agreed
                .ok_or("no quorum agrees on the balance".to_string())?;
            let balances = if balance > 0 {
                vec![(DEFAULT_TOKEN, balance)]
            } else {
                Vec::new()
            };
            let order = SignedHandoff::sign(
                HandoffOrder {
                    account: self.key.public(),
                    from: self.client.committee().id(),
                    to: to.id(),
                    balances,
                    nonce,
                    epoch,
                    ttl: 16,
                },
                &self.key,
            );
            self.moving = Some(Moving {
                name,
                to,
                order,
                certificate: None,
                left: false,
                spent: [Duration::ZERO; 3],
            });
        }
        let m = self.moving.as_mut().expect("set above");
        let certificate = match &m.certificate {
            Some(c) => c.clone(),
            None => {
                let t = Instant::now();
                let c = certify_handoff(&self.client, &m.order, &opts).await;
                m.spent[0] += t.elapsed();
                let c = c.map_err(|e| format!("votes: {e}"))?;
                m.certificate = Some(c.clone());
                c
            }
        };
        if !m.left {
            let t = Instant::now();
            let left = confirm_handoff(&self.client, &certificate, &opts).await;
            m.spent[1] += t.elapsed();
            left.map_err(|e| format!("leaving: {e}"))?;
            m.left = true;
        }
        let arriving = CommitteeClient::new(m.to.clone(), self.transport.clone())
            .map_err(|e| format!("new committee: {e}"))?;
        let t = Instant::now();
        let arrived = confirm_handoff(&arriving, &certificate, &opts).await;
        m.spent[2] += t.elapsed();
        arrived.map_err(|e| format!("arriving: {e}"))?;
        let m = self.moving.take().expect("set above");
        let o = m.order.order();
        self.client = arriving;
        self.next_nonce = o.nonce + 1;
        self.committee_name = Some(m.name);
        Ok(HandoffTiming {
            nonce: o.nonce,
            balance: o.balances.first().map_or(0, |b| b.1),
            certify: m.spent[0],
            leave: m.spent[1],
            arrive: m.spent[2],
        })
    }
}
