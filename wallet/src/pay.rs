//! The payment protocol, seen from the payer: ORDER to every authority, votes to a quorum,
//! certificate to every authority (and the payee), receipts to a quorum.
//!
//! Only votes that verify against the committee count toward the quorum; ERROR replies, votes
//! for another order and garbage never do. Silent authorities get the same message again with
//! the next retry number every retry interval until the deadline. The numbers come from a
//! [`RetryLedger`]: a payment attempted again for the same order continues its numbering (see
//! [`crate::retry`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flashmesh_core::digest::Digest;
use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::messages::{Certificate, QuorumCollector, SignedOrder};
use flashmesh_core::wire::MsgType;

use crate::client::{ClientError, CommitteeClient};
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

/// One authority's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The authority's name.
    pub authority: String,
    /// Why: the ERROR code, or `BadSignature` for a vote or receipt that did not verify.
    pub code: ErrorCode,
    /// The detail text of the ERROR (or a description of the bad reply).
    pub detail: String,
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
}

/// Per-authority progress of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Waiting,
    Accepted,
    Refused,
}

fn encode(env: &Envelope) -> Result<Vec<u8>, PayError> {
    env.encode().map_err(|e| PayError::Encode(e.to_string()))
}

fn weight_of(client: &CommitteeClient, answers: &[Answer], which: Answer) -> u64 {
    answers
        .iter()
        .zip(client.endpoints())
        .filter(|(a, _)| **a == which)
        .map(|(_, e)| e.weight)
        .sum()
}

fn refuse(
    client: &CommitteeClient,
    answers: &mut [Answer],
    refusals: &mut Vec<Refusal>,
    i: usize,
    code: ErrorCode,
    detail: String,
) {
    if answers[i] == Answer::Waiting {
        answers[i] = Answer::Refused;
        refusals.push(Refusal {
            authority: client.endpoints()[i].name.clone(),
            code,
            detail,
        });
    }
}

/// The index of the authority that sent an ERROR: it must come from that authority's address
/// (errors are unsigned, so the claimed tag alone is not trusted).
fn error_source(
    client: &CommitteeClient,
    from: SocketAddr,
    tag: &flashmesh_core::keys::AuthorityTag,
) -> Option<usize> {
    let i = client.endpoint_by_addr(from)?;
    (client.endpoints()[i].tag == *tag).then_some(i)
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
    let started = Instant::now();
    let deadline = started + opts.phase_timeout;
    let committee = client.committee();
    let quorum = committee.quorum();
    let total = committee.total_weight();
    let n = client.endpoints().len();
    let mut answers = vec![Answer::Waiting; n];
    let mut refusals = Vec::new();
    let mut collector = QuorumCollector::new(order, committee);
    let digest = order.digest();
    let nonce = order.order().nonce;
    let mut retry = ledger.claim(MsgType::Order, opts.epoch)?;
    let datagram = encode(&Envelope::order(order).with_retry(retry))?;
    client.send_to_each(&datagram, 0..n).await;
    let mut next_retry = started + opts.retry_interval;
    let mut impossible_since: Option<Instant> = None;
    loop {
        if collector.has_quorum() {
            break;
        }
        let refused = weight_of(client, &answers, Answer::Refused);
        let now = Instant::now();
        if total - refused < quorum {
            // The quorum is out of reach. Give the others a few retry intervals to answer too:
            // if everyone refused, nobody holds a lock and the order can be dropped.
            let since = *impossible_since.get_or_insert(now);
            if refused == total || now >= since + 3 * opts.retry_interval || now >= deadline {
                return Err(PayError::Refused {
                    by_all: refused == total,
                    refusals,
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(PayError::Timeout {
                phase: "votes",
                weight: collector.weight(),
                quorum,
                refusals,
            });
        }
        if now >= next_retry {
            retry = ledger.claim(MsgType::Order, opts.epoch)?;
            let again = encode(&Envelope::order(order).with_retry(retry))?;
            let waiting: Vec<usize> = (0..n).filter(|&i| answers[i] == Answer::Waiting).collect();
            client.send_to_each(&again, waiting).await;
            next_retry = now + opts.retry_interval;
        }
        let Some(inc) = client.recv_until(next_retry.min(deadline)).await? else {
            continue;
        };
        match inc.envelope.message {
            Message::Vote(vote) if vote.order_digest == digest && vote.nonce == nonce => {
                let Some(i) = client.endpoint_by_tag(&vote.authority) else {
                    continue;
                };
                if answers[i] != Answer::Waiting {
                    continue;
                }
                match collector.add(&vote, committee) {
                    Ok(_) => answers[i] = Answer::Accepted,
                    Err(e) => refuse(
                        client,
                        &mut answers,
                        &mut refusals,
                        i,
                        e.code(),
                        format!("invalid vote: {e}"),
                    ),
                }
            }
            Message::Error(err)
                if err.nonce == nonce && err.request_type == MsgType::Order.to_u8() =>
            {
                if let Some(i) = error_source(client, inc.from, &err.authority) {
                    refuse(client, &mut answers, &mut refusals, i, err.code, err.detail);
                }
            }
            _ => {}
        }
    }
    let certificate = collector
        .certificate()
        .expect("the collector has reached its quorum");
    Ok(Certified {
        certificate,
        latency: started.elapsed(),
        refusals,
        retries: retry,
    })
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
    let started = Instant::now();
    let deadline = started + opts.phase_timeout;
    let committee = client.committee();
    let quorum = committee.quorum();
    let total = committee.total_weight();
    let n = client.endpoints().len();
    let mut answers = vec![Answer::Waiting; n];
    let mut refusals = Vec::new();
    let digest: Digest = certificate.order_digest();
    let nonce = certificate.order.order().nonce;
    let mut next_sequence = nonce + 1;
    let envelope = Envelope::certificate(certificate.clone(), opts.epoch);
    let first = ledger.claim(MsgType::Certificate, opts.epoch)?;
    let datagram = encode(&envelope.clone().with_retry(first))?;
    client.send_to_each(&datagram, 0..n).await;
    if let Some(payee) = opts.payee
        && let Err(e) = client.send_to_addr(&datagram, payee).await
    {
        tracing::debug!(%payee, error = %e, "certificate not delivered to payee");
    }
    let mut next_retry = started + opts.retry_interval;
    loop {
        let accepted = weight_of(client, &answers, Answer::Accepted);
        if accepted >= quorum {
            return Ok(Confirmed {
                weight: accepted,
                latency: started.elapsed(),
                refusals,
                next_sequence,
            });
        }
        let refused = weight_of(client, &answers, Answer::Refused);
        if total - refused < quorum {
            return Err(PayError::Refused {
                by_all: refused == total,
                refusals,
            });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(PayError::Timeout {
                phase: "receipts",
                weight: accepted,
                quorum,
                refusals,
            });
        }
        if now >= next_retry {
            let retry = ledger.claim(MsgType::Certificate, opts.epoch)?;
            let again = encode(&envelope.clone().with_retry(retry))?;
            let waiting: Vec<usize> = (0..n).filter(|&i| answers[i] == Answer::Waiting).collect();
            client.send_to_each(&again, waiting).await;
            next_retry = now + opts.retry_interval;
        }
        let Some(inc) = client.recv_until(next_retry.min(deadline)).await? else {
            continue;
        };
        match inc.envelope.message {
            Message::Receipt(r) if r.order_digest == digest && r.nonce == nonce => {
                let Some(i) = client.endpoint_by_tag(&r.authority) else {
                    continue;
                };
                if answers[i] != Answer::Waiting {
                    continue;
                }
                match r.verify(committee) {
                    Ok(()) => {
                        answers[i] = Answer::Accepted;
                        next_sequence = next_sequence.max(r.next_sequence);
                    }
                    Err(e) => refuse(
                        client,
                        &mut answers,
                        &mut refusals,
                        i,
                        e.code(),
                        format!("invalid receipt: {e}"),
                    ),
                }
            }
            Message::Error(err)
                if err.nonce == nonce && err.request_type == MsgType::Certificate.to_u8() =>
            {
                if let Some(i) = error_source(client, inc.from, &err.authority) {
                    refuse(client, &mut answers, &mut refusals, i, err.code, err.detail);
                }
            }
            _ => {}
        }
    }
}
