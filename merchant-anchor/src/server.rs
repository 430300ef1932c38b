//! The BCB UDP server: datagram in → decode → authority → group commit → reply out.
//!
//! Several workers (one per core by default) each own a socket bound to the same port with
//! `SO_REUSEPORT`, so the kernel spreads clients across them (or any other [`Transport`], see
//! `Anchor::start_on`). The expensive, stateless part of
//! each request (decoding and signature verification, one batch verify per certificate) runs
//! in the worker without any lock; only the state transition (which signs the vote or receipt)
//! runs under the authority's mutex, and the resulting job is queued for the committer in the
//! same critical section so that the commit order equals the order of state changes.
//!
//! The dispatch itself is the authority's ([`Authority::handle_envelope_with`]): the same code
//! the embedded mesh and the simulator run, including the rule never to answer a reply. The
//! worker checks signatures ahead of it ([`CheckedAhead`]) and hands the verdict over.
//!
//! Replies (votes, receipts, query replies and refusals) leave through the committer, after
//! everything queued before them is durable; only an undecodable datagram and an overload
//! refusal are answered at once. Nothing a peer sends can panic a worker: every failure is a
//! typed rejection, counted.
//!
//! With a controller, a worker also gets a [`PenaltySink`]: the tag of every account whose
//! validly signed order conflicts with the one already locked for its nonce is reported there,
//! so the controller can block that sender in the switches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use flashmesh_core::{
    Authority, CheckedAhead, Committee, Envelope, ErrorCode, ErrorMessage, Keypair,
    MAX_DATAGRAM_LEN, Message, Rejection, StateChange,
};
use flashmesh_transport::Transport;
use parking_lot::Mutex;

use crate::commit::{CommitQueue, Job, Reply, ReplyKind};
use crate::control::PenaltySink;
use crate::liveness::{LivenessState, is_liveness_datagram};
use crate::metrics::{Metrics, inc};

/// Everything a worker shares with the others.
pub struct ServerShared {
    /// The authority state machine.
    pub authority: Arc<Mutex<Authority>>,
    /// Its committee (read without the lock).
    pub committee: Arc<Committee>,
    /// The authority's tag, for ERROR replies built without the lock.
    pub tag: flashmesh_core::AuthorityTag,
    /// The authority's key, to sign votes and receipts ahead, outside the lock.
    pub key: Arc<Keypair>,
    /// The current epoch.
    pub epoch: Arc<AtomicU32>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The group-commit queue.
    pub queue: CommitQueue,
    /// Heartbeats, the peer view and the applied log.
    pub liveness: Arc<LivenessState>,
    /// Whether heartbeats run, so that the peer view means something: only then are
    /// withdrawal orders refused while no quorum is visible.
    pub liveness_enabled: bool,
}

impl ServerShared {
    /// Whether this anchor and the committee peers it heard within the timeout reach the
    /// quorum weight now (see [`LivenessState::sees_quorum`]).
    pub fn sees_quorum(&self) -> bool {
        self.liveness.sees_quorum()
    }
}

/// Runs one worker on `socket` until the transport is closed.
pub async fn run_worker(socket: Arc<dyn Transport>, shared: Arc<ServerShared>) {
    run_worker_with(socket, shared, None).await;
}

/// Most datagrams a worker takes as one batch: what arrived while it handled the last one.
pub const MAX_BATCH: usize = 128;

/// Like [`run_worker`], reporting the senders of conflicting orders to `penalties`.
///
/// The worker waits for a datagram, then takes every datagram already waiting (up to
/// [`MAX_BATCH`]) and handles them as one batch ([`handle_batch`]): under load, that is one
/// signature batch for many requests and one lock for all of their state changes.
pub async fn run_worker_with(
    socket: Arc<dyn Transport>,
    shared: Arc<ServerShared>,
    penalties: Option<PenaltySink>,
) {
    let mut bufs: Vec<Vec<u8>> = (0..MAX_BATCH)
        .map(|_| vec![0u8; MAX_DATAGRAM_LEN + 1])
        .collect();
    let mut got: Vec<(usize, SocketAddr)> = Vec::with_capacity(MAX_BATCH);
    loop {
        got.clear();
        match socket.recv_from(&mut bufs[0]).await {
            Ok(r) => got.push(r),
            Err(flashmesh_transport::TransportError::Closed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "BCB socket receive failed");
                tokio::task::yield_now().await;
                continue;
            }
        }
        while got.len() < MAX_BATCH {
            match socket.try_recv_from(&mut bufs[got.len()]) {
                Ok(Some(r)) => got.push(r),
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "BCB socket receive failed");
                    break;
                }
            }
        }
        let batch: Vec<(&[u8], SocketAddr)> = got
            .iter()
            .zip(&bufs)
            .map(|(&(n, from), buf)| (&buf[..n], from))
            .collect();
        inc(&shared.metrics.batches);
        shared
            .metrics
            .batched
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (reply, to) in handle_batch(&shared, &batch, penalties.as_ref()) {
            if let Err(e) = socket.send_to(&reply, to).await {
                tracing::debug!(error = %e, %to, "error reply not sent");
            } else {
                inc(&shared.metrics.errors_sent);
            }
        }
    }
}

/// The reply's kind, for counting.
fn reply_kind(message: &Message) -> ReplyKind {
    match message {
        Message::Vote(_) => ReplyKind::Vote,
        Message::Receipt(_) => ReplyKind::Receipt,
        Message::Error(_) => ReplyKind::Error,
        _ => ReplyKind::Other,
    }
}

/// Handles one datagram. Returns a datagram to send back at once (a refusal that needs no
/// durability); everything else is queued for the committer.
pub fn handle_datagram(shared: &ServerShared, bytes: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
    handle_datagram_with(shared, bytes, from, None)
}

/// Like [`handle_datagram`], reporting the sender of a refused conflicting order (verified
/// signature, so the account holder really signed two orders for one nonce) to `penalties`.
///
/// The dispatch is the authority's own ([`Authority::handle_envelope_with`]); what the worker
/// adds is checking signatures ahead, outside the lock ([`CheckedAhead`]), refusing work when
/// the commit queue is full, and counting.
pub fn handle_datagram_with(
    shared: &ServerShared,
    bytes: &[u8],
    from: SocketAddr,
    penalties: Option<&PenaltySink>,
) -> Option<Vec<u8>> {
    handle_batch(shared, &[(bytes, from)], penalties)
        .into_iter()
        .next()
        .map(|(reply, _)| reply)
}

/// Handles datagrams that arrived together: each is decoded and triaged on its own; the orders
/// and certificates among them are checked in one signature batch (a bad signature is still
/// refused alone), their votes and receipts signed ahead, all outside the lock; then the state
/// changes run in arrival order under one hold of the lock. Returns the datagrams to send back
/// at once (refusals that need no durability), with their addresses; everything else is
/// queued for the committer.
pub fn handle_batch(
    shared: &ServerShared,
    batch: &[(&[u8], SocketAddr)],
    penalties: Option<&PenaltySink>,
) -> Vec<(Vec<u8>, SocketAddr)> {
    let mut now = Vec::new();
    let mut ready = Vec::with_capacity(batch.len());
    for &(bytes, from) in batch {
        match triage(shared, bytes) {
            Err(reply) => now.extend(reply.map(|r| (r, from))),
            Ok(r) => ready.push((r, from)),
        }
    }
    if ready.is_empty() {
        return now;
    }
    // A retransmission of the order already locked here needs no signature check.
    let repeats: Vec<bool> = {
        let authority = shared.authority.lock();
        ready
            .iter()
            .map(|(r, _)| matches!(&r.env.message, Message::Order(o) if authority.is_locked_to(o)))
            .collect()
    };
    let envs: Vec<Option<&Envelope>> = ready
        .iter()
        .zip(&repeats)
        .map(|((r, _), &repeat)| (!repeat).then_some(&r.env))
        .collect();
    let mut ahead = CheckedAhead::batch(&envs, &shared.committee);
    for a in &mut ahead {
        a.presign(&shared.key);
    }
    let epoch = shared.epoch.load(Ordering::Relaxed);
    let metrics = &shared.metrics;
    let mut authority = shared.authority.lock();
    for ((r, from), mut ahead) in ready.into_iter().zip(ahead) {
        let signed = ahead.verified() == Some(true);
        let handled = authority.handle_envelope_with(r.env, epoch, &mut ahead);
        // in apply order: the authority's lock is held
        if let Some(StateChange::Apply { certificate }) = &handled.persist {
            shared.liveness.applied().push(certificate.clone());
        }
        if let Err(rejection) = &handled.result {
            metrics.reject(rejection.code().to_u16());
            if let (Rejection::ConflictingOrder { .. }, Some(sender), true, Some(sink)) =
                (rejection, r.sender, signed, penalties)
            {
                sink.report(sender.0);
            }
        }
        let reply = handled.reply.and_then(|env| {
            let kind = reply_kind(&env.message);
            let datagram = env.encode().ok()?;
            Some(Reply {
                to: from,
                datagram,
                kind,
            })
        });
        if handled.persist.is_none() && reply.is_none() {
            continue;
        }
        shared.queue.push(Job {
            change: handled.persist,
            reply,
        });
    }
    now
}

/// A datagram decoded and counted, waiting for its signature check and the state machine.
struct Ready {
    env: Envelope,
    /// The order's sender, for penalties.
    sender: Option<flashmesh_core::AccountTag>,
}

/// Done before the state machine: this reply (or none) goes back at once.
type Answer = Option<Vec<u8>>;

/// Decodes, counts and refuses what needs no signature check or state (liveness datagrams,
/// malformed input, peers' replies, overload, withdrawals without a visible quorum).
fn triage(shared: &ServerShared, bytes: &[u8]) -> Result<Ready, Answer> {
    let metrics = &shared.metrics;
    let epoch = shared.epoch.load(Ordering::Relaxed);
    // Heartbeats and sync requests are the liveness edge's, and never answered.
    if is_liveness_datagram(bytes) {
        let _ = shared.liveness.handle_datagram(bytes, epoch);
        return Err(None);
    }
    let env = match Envelope::decode(bytes) {
        Ok(env) => env,
        Err(_) => {
            inc(&metrics.malformed);
            // The state machine decides whether a malformed datagram deserves an ERROR.
            let handled = shared.authority.lock().handle_datagram(bytes, epoch);
            if let Err(r) = &handled.result {
                metrics.reject(r.code().to_u16());
            }
            return Err(handled.reply.and_then(|e| e.encode().ok()));
        }
    };
    let header = env.header;
    match env.message {
        Message::Order(_) => inc(&metrics.orders),
        Message::Certificate(_) => inc(&metrics.certificates),
        Message::Query(_) => inc(&metrics.queries),
        Message::Withdrawal(_) => inc(&metrics.withdrawals),
        Message::WithdrawalCertificate(_) => inc(&metrics.withdrawal_certificates),
        Message::Deposit(_) => inc(&metrics.deposits),
        Message::Handoff(_) => inc(&metrics.handoffs),
        Message::HandoffCertificate(_) => inc(&metrics.handoff_certificates),
        // a peer's receipt or refusal for a certificate this anchor sent it in catch-up
        Message::Receipt(r) if shared.committee.member(&r.authority).is_some() => {
            inc(&shared.liveness.metrics.peer_receipts);
            return Err(None);
        }
        Message::Error(e) if shared.committee.member(&e.authority).is_some() => {
            inc(&shared.liveness.metrics.peer_errors);
            return Err(None);
        }
        _ => {}
    }
    let refuse_now = |code: ErrorCode, detail: &str| {
        metrics.reject(code.to_u16());
        let msg = ErrorMessage {
            code,
            request_type: header.msg_type.to_u8(),
            nonce: header.nonce,
            authority: shared.tag,
            detail: detail.into(),
        };
        Envelope::reply(&header, Message::Error(msg), epoch)
            .encode()
            .ok()
    };
    if shared.queue.is_overloaded()
        && matches!(
            env.message,
            Message::Order(_)
                | Message::Certificate(_)
                | Message::Query(_)
                | Message::Withdrawal(_)
                | Message::WithdrawalCertificate(_)
                | Message::Deposit(_)
                | Message::Handoff(_)
                | Message::HandoffCertificate(_)
        )
    {
        return Err(refuse_now(
            ErrorCode::Overloaded,
            "commit queue full; retry later",
        ));
    }
    // Money leaving the mesh is locked only while a quorum is in sight: a partitioned
    // minority would otherwise lock the payer's nonce for a withdrawal that cannot certify
    // until the partition heals. Nothing is locked by the refusal; the wallet retries.
    if shared.liveness_enabled
        && matches!(env.message, Message::Withdrawal(_))
        && !shared.sees_quorum()
    {
        return Err(refuse_now(
            ErrorCode::QuorumNotVisible,
            "no quorum of the committee heard recently; retry later",
        ));
    }
    let sender = match &env.message {
        Message::Order(o) => Some(o.order().sender.tag()),
        _ => None,
    };
    Ok(Ready { env, sender })
}
