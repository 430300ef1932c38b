//! The payment protocol, seen from the payer: ORDER to every authority, votes to a quorum,
//! certificate to every authority (and the payee), receipts to a quorum. These are the async
//! drivers of the sans-IO [`crate::quorum::QuorumRound`] over a [`CommitteeClient`].
//!
//! Only votes that verify against the committee count toward the quorum; ERROR replies, votes
//! for another order and garbage never do. Silent authorities get the same message again with
//! the next retry number every retry interval until the deadline. The numbers come from a
//! [`RetryLedger`]: a payment attempted again for the same order continues its numbering (see
//! [`crate::retry`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flashmesh_core::envelope::Envelope;
use flashmesh_core::messages::{Certificate, SignedOrder};
use flashmesh_core::wire::MsgType;

use flashmesh_core::envelope::Message;
use flashmesh_core::error::ErrorCode;

use crate::catch_up::{MAX_PUSHES_PER_AUTHORITY, PUSH_BATCH};
use crate::certificates::{CatchUp, NoCatchUp};
use crate::client::{ClientError, CommitteeClient};
pub use crate::quorum::Refusal;
use crate::quorum::{Heard, QuorumRound, Reached, RoundError, Step, Timing};
use crate::retry::{LedgerError, Retries, RetryLedger};

/// Timing of the protocol.
#[derive(Debug, Clone)]
pub struct PayOptions {
    /// Silence after which a request is retransmitted.
    pub retry_interval: Duration,
    /// Time allowed for each phase (votes, then receipts).
    pub phase_timeout: Duration,
    /// Epoch written into CERTIFICATE headers.
    pub epoch: u32,
    /// Where to send the certificate besides the authorities (the payee's device).
    pub payee: Option<SocketAddr>,
}

impl Default for PayOptions {
    fn default() -> Self {
        Self {
            retry_interval: Duration::from_millis(200),
            phase_timeout: Duration::from_secs(5),
            epoch: 0,
            payee: None,
        }
    }
}

/// Errors of a payment.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// Enough authorities refused that the quorum cannot be reached.
    #[error("refused by authorities: {}", summarise(.refusals))]
    Refused {
        /// Who refused and why.
        refusals: Vec<Refusal>,
        /// Whether every authority refused (so none holds a lock on the order).
        by_all: bool,
    },
    /// The deadline passed before a quorum answered.
    #[error("{phase} timed out with weight {weight} of quorum {quorum}")]
    Timeout {
        /// "votes" or "receipts".
        phase: &'static str,
        /// Weight gathered.
        weight: u64,
        /// Weight needed.
        quorum: u64,
        /// Refusals seen.
        refusals: Vec<Refusal>,
    },
    /// A message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// The network failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The retry count could not be recorded (nothing was sent with it).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn summarise(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|r| format!("{}: {} ({})", r.authority, r.code, r.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outcome of the vote phase.
#[derive(Debug, Clone)]
pub struct Certified {
    /// The assembled certificate.
    pub certificate: Certificate,
    /// Time from the first ORDER sent to the quorum of votes.
    pub latency: Duration,
    /// Refusals seen on the way (not counted toward the quorum).
    pub refusals: Vec<Refusal>,
    /// Retry number of the last ORDER copies sent.
    pub retries: u8,
    /// Catch-up pushes made to authorities that were behind (see [`crate::catch_up`]).
    pub catch_up_pushes: u32,
}

/// The outcome of the receipt phase.
#[derive(Debug, Clone)]
pub struct Confirmed {
    /// Weight of the receipts gathered.
    pub weight: u64,
    /// Time from the first CERTIFICATE sent to the quorum of receipts.
    pub latency: Duration,
    /// Refusals seen on the way.
    pub refusals: Vec<Refusal>,
    /// The sender's next sequence number according to the receipts.
    pub next_sequence: u64,
    /// Catch-up pushes made to authorities that were behind (see [`crate::catch_up`]).
    pub catch_up_pushes: u32,
}

fn encode(env: &Envelope) -> Result<Vec<u8>, PayError> {
    env.encode().map_err(|e| PayError::Encode(e.to_string()))
}

impl PayOptions {
    fn timing(&self) -> Timing {
        Timing {
            retry_interval: self.retry_interval,
            phase_timeout: self.phase_timeout,
        }
    }
}

/// Where a round pushes certificates to authorities that are behind.
struct Pusher<'a> {
    catch_up: &'a dyn CatchUp,
    nonce: u64,
    epoch: u32,
    pushes: Vec<u32>,
}

impl Pusher<'_> {
    /// Sends authority `i`, which refused with `code`/`detail`, the certificates it is missing
    /// if the refusal says it is behind and its pushes allow. Returns whether it pushed.
    async fn push(
        &mut self,
        client: &CommitteeClient,
        i: usize,
        code: ErrorCode,
        detail: &str,
    ) -> bool {
        let Some(from) = crate::catch_up::push_from(code, detail, self.nonce) else {
            return false;
        };
        if self
            .pushes
            .get(i)
            .is_none_or(|&n| n >= MAX_PUSHES_PER_AUTHORITY)
        {
            return false;
        }
        let certificates: Vec<Certificate> = self
            .catch_up
            .certificates_from(from, PUSH_BATCH as usize)
            .into_iter()
            .filter(|c| c.order.order().nonce < self.nonce)
            .collect();
        if certificates.is_empty() {
            return false;
        }
        self.pushes[i] += 1;
        tracing::debug!(
            authority = i,
            from,
            count = certificates.len(),
            "catch-up push"
        );
        for c in certificates {
            if let Ok(d) = Envelope::certificate(c, self.epoch).encode() {
                client.send_to_each(&d, [i]).await;
            }
        }
        true
    }

    fn total(&self) -> u32 {
        self.pushes.iter().sum()
    }
}

/// Runs `round` over `client`: each send gets the next retry number of `ledger` (for
/// `msg_type` in `epoch`) and the datagram `make` builds for it; the first send also goes to
/// `payee`. An authority refusing because it is behind is pushed the certificates it misses
/// and asked again. Returns the round's result and the last retry number used.
#[allow(clippy::too_many_arguments)]
async fn drive<L: RetryLedger + ?Sized>(
    client: &CommitteeClient,
    round: &mut QuorumRound,
    ledger: &mut L,
    msg_type: MsgType,
    epoch: u32,
    payee: Option<SocketAddr>,
    pusher: &mut Pusher<'_>,
    make: impl Fn(u8) -> Envelope,
) -> Result<(Result<Reached, RoundError>, u8), PayError> {
    let origin = Instant::now() - round.started();
    let mut retry = 0;
    loop {
        match round.poll(origin.elapsed()) {
            Step::Send(to) => {
                retry = ledger.claim(msg_type, epoch)?;
                let datagram = encode(&make(retry))?;
                let first = round.sends() == 1;
                client.send_to_each(&datagram, to).await;
                if first
                    && let Some(payee) = payee
                    && let Err(e) = client.send_to_addr(&datagram, payee).await
                {
                    tracing::debug!(%payee, error = %e, "certificate not delivered to payee");
                }
            }
            Step::Wait(until) => {
                let Some(inc) = client.recv_until(origin + until).await? else {
                    continue;
                };
                let from = client.endpoint_by_addr(inc.from);
                if let Heard::Refused(i, code) = round.on_reply(from, &inc.envelope.message)
                    && let Message::Error(e) = &inc.envelope.message
                    && pusher.push(client, i, code, &e.detail).await
                {
                    round.forget(i);
                }
            }
            Step::Done => {
                let r = round
                    .outcome()
                    .cloned()
                    .ok_or(PayError::Encode("round ended without an outcome".into()))?;
                return Ok((r, retry));
            }
        }
    }
}

fn round_error(phase: &'static str, e: RoundError, refusals: Vec<Refusal>) -> PayError {
    match e {
        RoundError::Refused { by_all } => PayError::Refused { refusals, by_all },
        RoundError::Timeout { weight, quorum } => PayError::Timeout {
            phase,
            weight,
            quorum,
            refusals,
        },
    }
}

/// Sends `order` to every authority and gathers votes until their weight reaches the quorum,
/// numbering its copies from 0 (a first attempt).
pub async fn collect_votes(
    client: &CommitteeClient,
    order: SignedOrder,
    opts: &PayOptions,
) -> Result<Certified, PayError> {
    collect_votes_with(client, order, opts, &mut Retries::default()).await
}

/// [`collect_votes`] with the ORDER copies numbered by `ledger` (in epoch `opts.epoch`), so that
/// another attempt for the same order continues the numbering of the earlier ones.
pub async fn collect_votes_with<L: RetryLedger + ?Sized>(
    client: &CommitteeClient,
    order: SignedOrder,
    opts: &PayOptions,
    ledger: &mut L,
) -> Result<Certified, PayError> {
    collect_votes_catching_up(client, order, opts, ledger, &NoCatchUp).await
}

/// [`collect_votes_with`], pushing the certificates in `catch_up` to authorities that refuse
/// because they are behind, then asking them again.
pub async fn collect_votes_catching_up<L: RetryLedger + ?Sized>(
    client: &CommitteeClient,
    order: SignedOrder,
    opts: &PayOptions,
    ledger: &mut L,
    catch_up: &dyn CatchUp,
) -> Result<Certified, PayError> {
    let started = Instant::now();
    let mut pusher = Pusher {
        catch_up,
        nonce: order.order().nonce,
        epoch: opts.epoch,
        pushes: vec![0; client.committee().len()],
    };
    let mut round = QuorumRound::votes(order, client.committee(), opts.timing(), Duration::ZERO);
    let (r, retries) = drive(
        client,
        &mut round,
        ledger,
        MsgType::Order,
        opts.epoch,
        None,
        &mut pusher,
        |n| Envelope::order(order).with_retry(n),
    )
    .await?;
    let refusals = round.refusals().to_vec();
    match r {
        Ok(Reached::Certificate(certificate)) => Ok(Certified {
            certificate,
            latency: started.elapsed(),
            refusals,
            retries,
            catch_up_pushes: pusher.total(),
        }),
        Ok(Reached::Receipts { .. }) => {
            Err(PayError::Encode("vote round ended in receipts".into()))
        }
        Err(e) => Err(round_error("votes", e, refusals)),
    }
}

/// Sends `certificate` to every authority (and the payee) and gathers receipts until their
/// weight reaches the quorum, numbering its copies from 0 (a first attempt).
pub async fn confirm_certificate(
    client: &CommitteeClient,
    certificate: &Certificate,
    opts: &PayOptions,
) -> Result<Confirmed, PayError> {
    confirm_certificate_with(client, certificate, opts, &mut Retries::default()).await
}

/// [`confirm_certificate`] with the CERTIFICATE copies numbered by `ledger` (in epoch
/// `opts.epoch`), so that another attempt continues the numbering of the earlier ones.
pub async fn confirm_certificate_with<L: RetryLedger + ?Sized>(
    client: &CommitteeClient,
    certificate: &Certificate,
    opts: &PayOptions,
    ledger: &mut L,
) -> Result<Confirmed, PayError> {
    confirm_certificate_catching_up(client, certificate, opts, ledger, &NoCatchUp).await
}

/// [`confirm_certificate_with`], pushing the certificates in `catch_up` to authorities that
/// refuse because they are behind, then asking them again.
pub async fn confirm_certificate_catching_up<L: RetryLedger + ?Sized>(
    client: &CommitteeClient,
    certificate: &Certificate,
    opts: &PayOptions,
    ledger: &mut L,
    catch_up: &dyn CatchUp,
) -> Result<Confirmed, PayError> {
    let started = Instant::now();
    let mut pusher = Pusher {
        catch_up,
        nonce: certificate.order.order().nonce,
        epoch: opts.epoch,
        pushes: vec![0; client.committee().len()],
    };
    let mut round = QuorumRound::receipts(
        certificate,
        client.committee(),
        opts.timing(),
        Duration::ZERO,
    );
    let envelope = Envelope::certificate(certificate.clone(), opts.epoch);
    let (r, _) = drive(
        client,
        &mut round,
        ledger,
        MsgType::Certificate,
        opts.epoch,
        opts.payee,
        &mut pusher,
        |n| envelope.clone().with_retry(n),
    )
    .await?;
    let refusals = round.refusals().to_vec();
    match r {
        Ok(Reached::Receipts {
            weight,
            next_sequence,
        }) => Ok(Confirmed {
            weight,
            latency: started.elapsed(),
            refusals,
            next_sequence,
            catch_up_pushes: pusher.total(),
        }),
        Ok(Reached::Certificate(_)) => Err(PayError::Encode("receipt round ended in votes".into())),
        Err(e) => Err(round_error("receipts", e, refusals)),
    }
}
