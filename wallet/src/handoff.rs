//! Moving the wallet's account to a neighbour committee (a phone walking to another merchant
//! cluster): sign a handoff of the balances a quorum of the current committee agrees on, gather
//! that committee's votes into a handoff certificate, have a quorum of it apply the certificate
//! (the account is debited and marked moved there), then have a quorum of the new committee
//! apply it (the account arrives, credited once).
//!
//! The handoff in progress is kept in the wallet directory (`handoff.json`) from before the
//! first HANDOFF is sent until the new committee confirmed it, so an interrupted run finishes
//! the same order; finished handoffs are appended to `handoffs.jsonl`.

use std::time::{Duration, Instant};

use flashmesh_core::Committee;
use flashmesh_core::codec::Encode;
use flashmesh_core::envelope::Envelope;
use flashmesh_core::messages::{
    HandoffCertificate, HandoffOrder, OwnedOrder, SignedHandoff, TokenId,
};

use crate::client::{ClientError, CommitteeClient};
use crate::pay::{PayError, PayOptions, Refusal};
use crate::wallet::{Wallet, WalletError};
use crate::withdraw::{
    append_json_line, certify, confirm_receipts, decode_hex, io_error, load_json, save_json,
};

/// Why a handoff failed.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The committee asked for a vote, or the new one for the arrival, did not give it.
    #[error("{phase}: {source}")]
    Committee {
        phase: &'static str,
        source: PayError,
    },
    /// The destination is not a neighbour of the wallet's committee (by identity).
    #[error("committee {0} is not a neighbour in this committee's file ([[neighbours]])")]
    NotANeighbour(String),
    /// The handoff in progress goes to another committee than the one asked for now.
    #[error("a handoff to committee {0} is in progress; finish it first")]
    OtherHandoffPending(String),
    /// A payment is pending; it must be finished (`wallet resume`) first.
    #[error("a payment (nonce {0}) is pending; finish it first with `wallet resume`")]
    PaymentPending(u64),
}

/// A finished handoff, with the time each step took.
#[derive(Debug, Clone)]
pub struct HandedOff {
    pub certificate: HandoffCertificate,
    /// The neighbour's name in the committee file.
    pub to: String,
    /// Signing to the certificate (the old committee's votes).
    pub certify: Duration,
    /// Certificate to a quorum of the old committee's receipts (the account left).
    pub leave: Duration,
    /// Then to a quorum of the new committee's receipts (the account arrived).
    pub arrive: Duration,
    /// Refusals seen on the way.
    pub refusals: Vec<Refusal>,
}

impl HandedOff {
    /// From the first HANDOFF sent until the account was usable in the new committee.
    pub fn total(&self) -> Duration {
        self.certify + self.leave + self.arrive
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PendingHandoff {
    order: String,
    certificate: Option<String>,
    /// Identity of the destination committee, hex.
    to: String,
}

/// A finished handoff, a line of `handoffs.jsonl`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HandoffEntry {
    pub nonce: u64,
    pub to: String,
    pub to_committee: String,
    pub balances: Vec<(TokenId, u64)>,
    pub certificate: String,
    pub total_ms: f64,
}

const PENDING_FILE: &str = "handoff.json";
const DONE_FILE: &str = "handoffs.jsonl";

/// Gathers a quorum of `client`'s committee's votes on `order`: the handoff certificate.
pub async fn certify_handoff(
    client: &CommitteeClient,
    order: &SignedHandoff,
    opts: &PayOptions,
) -> Result<HandoffCertificate, PayError> {
    let datagram = Envelope::handoff(order.clone())
        .encode()
        .map_err(|e| PayError::Encode(e.to_string()))?;
    certify(client, order, &datagram, opts).await
}

/// Sends the handoff certificate to `client`'s committee until a quorum of receipts came back
/// (the old committee: the account left; the new one: it arrived).
pub async fn confirm_handoff(
    client: &CommitteeClient,
    certificate: &HandoffCertificate,
    opts: &PayOptions,
) -> Result<Vec<Refusal>, PayError> {
    let datagram = Envelope::handoff_certificate(certificate.clone(), opts.epoch)
        .encode()
        .map_err(|e| PayError::Encode(e.to_string()))?;
    let digest = OwnedOrder::digest(&certificate.order);
    confirm_receipts(client, &datagram, digest, certificate.order.nonce(), opts).await
}

fn load_pending(dir: &std::path::Path) -> Result<Option<PendingHandoff>, WalletError> {
    load_json(&dir.join(PENDING_FILE))
}

fn save_pending(dir: &std::path::Path, p: &PendingHandoff) -> Result<(), WalletError> {
    save_json(&dir.join(PENDING_FILE), p)
}

impl Wallet {
    /// Moves the account to the neighbour committee `to` with the balances of `tokens` that a
    /// quorum of the current committee agrees on. A handoff left unfinished by an earlier run
    /// is finished first (the same order, never a second one). Afterwards the wallet must be
    /// used with `to`'s committee file.
    pub async fn handoff(
        &mut self,
        to: &Committee,
        tokens: &[TokenId],
    ) -> Result<HandedOff, HandoffError> {
        let here = self.client().committee().clone();
        let to_id = to.id();
        let Some(neighbour) = here.neighbour(&to_id) else {
            return Err(HandoffError::NotANeighbour(to_id.to_hex()));
        };
        let name = neighbour.name.clone();
        let dir = self.dir().path().to_path_buf();
        let pending = match load_pending(&dir)? {
            Some(p) if p.to != to_id.to_hex() => {
                return Err(HandoffError::OtherHandoffPending(p.to));
            }
            Some(p) => p,
            None => {
                if let Some(p) = self.dir().load().map_err(WalletError::from)?.pending {
                    let order = p.order().map_err(WalletError::Corrupt)?;
                    return Err(HandoffError::PaymentPending(order.order().nonce));
                }
                let nonce = self.next_nonce().await?;
                let mut balances = Vec::new();
                let mut tokens = tokens.to_vec();
                tokens.sort_unstable();
                tokens.dedup();
                for t in tokens {
                    let report = self.balance(t).await?;
                    let (next, amount) = report.agreed.ok_or(WalletError::NoAgreement)?;
                    if next != nonce {
                        return Err(WalletError::NoAgreement.into());
                    }
                    if amount > 0 {
                        balances.push((t, amount));
                    }
                }
                let order = SignedHandoff::sign(
                    HandoffOrder {
                        account: self.account(),
                        from: here.id(),
                        to: to_id,
                        balances,
                        nonce,
                        epoch: self.options().epoch,
                        ttl: self.ttl(),
                    },
                    self.key(),
                );
                let p = PendingHandoff {
                    order: hex::encode(order.to_bytes()),
                    certificate: None,
                    to: to_id.to_hex(),
                };
                save_pending(&dir, &p)?;
                p
            }
        };
        let order: SignedHandoff = decode_hex("handoff order", &pending.order)?;
        let opts = self.options().clone();
        let started = Instant::now();
        let certificate = match &pending.certificate {
            Some(c) => decode_hex("handoff certificate", c)?,
            None => {
                let c = match certify_handoff(self.client(), &order, &opts).await {
                    Ok(c) => c,
                    Err(e @ PayError::Refused { by_all: true, .. }) => {
                        // Nobody holds a lock on it: abandoned, the nonce is free again.
                        let path = dir.join(PENDING_FILE);
                        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
                        return Err(HandoffError::Committee {
                            phase: "votes of the committee left",
                            source: e,
                        });
                    }
                    Err(e) => {
                        return Err(HandoffError::Committee {
                            phase: "votes of the committee left",
                            source: e,
                        });
                    }
                };
                save_pending(
                    &dir,
                    &PendingHandoff {
                        certificate: Some(hex::encode(c.to_bytes())),
                        ..pending.clone()
                    },
                )?;
                c
            }
        };
        let certify = started.elapsed();
        let mut refusals = confirm_handoff(self.client(), &certificate, &opts)
            .await
            .map_err(|source| HandoffError::Committee {
                phase: "receipts of the committee left",
                source,
            })?;
        let leave = started.elapsed() - certify;
        let there = CommitteeClient::new(to.clone(), self.client().transport().clone())?;
        refusals.extend(
            confirm_handoff(&there, &certificate, &opts)
                .await
                .map_err(|source| HandoffError::Committee {
                    phase: "receipts of the committee joined",
                    source,
                })?,
        );
        let arrive = started.elapsed() - certify - leave;
        // The account's next nonce in the new committee.
        let mut state = self.dir().load().map_err(WalletError::from)?;
        state.next_nonce = Some(order.nonce() + 1);
        self.dir().save(&state).map_err(WalletError::from)?;
        let done = HandedOff {
            certificate,
            to: name,
            certify,
            leave,
            arrive,
            refusals,
        };
        append_json_line(
            &dir.join(DONE_FILE),
            &HandoffEntry {
                nonce: order.nonce(),
                to: done.to.clone(),
                to_committee: to_id.to_hex(),
                balances: order.order().balances.clone(),
                certificate: done.certificate.digest().to_hex(),
                total_ms: done.total().as_secs_f64() * 1000.0,
            },
        )?;
        let path = dir.join(PENDING_FILE);
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_handoff_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_pending(dir.path()).unwrap().is_none());
        let p = PendingHandoff {
            order: "00".into(),
            certificate: None,
            to: "ab".into(),
        };
        save_pending(dir.path(), &p).unwrap();
        let back = load_pending(dir.path()).unwrap().unwrap();
        assert_eq!(back.to, "ab");
        std::fs::write(dir.path().join(PENDING_FILE), b"{not json").unwrap();
        assert!(matches!(
            load_pending(dir.path()),
            Err(WalletError::Corrupt(_))
        ));
    }
}
