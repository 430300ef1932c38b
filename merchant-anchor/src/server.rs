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
    Authority, CheckedAhead, Committee, Envelope, ErrorCode, ErrorMessage, MAX_DATAGRAM_LEN,
    Message, Rejection, StateChange,
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

/// Like [`run_worker`], reporting the senders of conflicting orders to `penalties`.
pub async fn run_worker_with(
    socket: Arc<dyn Transport>,
    shared: Arc<ServerShared>,
    penalties: Option<PenaltySink>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(flashmesh_transport::TransportError::Closed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "BCB socket receive failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        if let Some(reply) = handle_datagram_with(&shared, &buf[..n], from, penalties.as_ref()) {
            if let Err(e) = socket.send_to(&reply, from).await {
                tracing::debug!(error = %e, to = %from, "error reply not sent");
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
    let metrics = &shared.metrics;
    let epoch = shared.epoch.load(Ordering::Relaxed);
    // Heartbeats and sync requests are the liveness edge's, and never answered.
    if is_liveness_datagram(bytes) {
        let _ = shared.liveness.handle_datagram(bytes, epoch);
        return None;
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
            return handled.reply.and_then(|e| e.encode().ok());
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
            return None;
        }
        Message::Error(e) if shared.committee.member(&e.authority).is_some() => {
            inc(&shared.liveness.metrics.peer_errors);
            return None;
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
        return refuse_now(ErrorCode::Overloaded, "commit queue full; retry later");
    }
    // Money leaving the mesh is locked only while a quorum is in sight: a partitioned
    // minority would otherwise lock the payer's nonce for a withdrawal that cannot certify
    // until the partition heals. Nothing is locked by the refusal; the wallet retries.
    if shared.liveness_enabled
        && matches!(env.message, Message::Withdrawal(_))
        && !shared.sees_quorum()
    {
        return refuse_now(
            ErrorCode::QuorumNotVisible,
            "no quorum of the committee heard recently; retry later",
        );
    }
    // A retransmission of the order already locked here needs no signature check; anything
    // else is checked now, without the lock.
    let repeat = match &env.message {
        Message::Order(o) => shared.authority.lock().is_locked_to(o),
        _ => false,
    };
    let sender = match &env.message {
        Message::Order(o) => Some(o.order().sender.tag()),
        _ => None,
    };
    let mut ahead = if repeat {
        CheckedAhead::default()
    } else {
        CheckedAhead::envelope(&env, &shared.committee)
    };
    let signed = ahead.verified() == Some(true);
    let mut authority = shared.authority.lock();
    let handled = authority.handle_envelope_with(env, epoch, &mut ahead);
    // in apply order: the authority's lock is held
    if let Some(StateChange::Apply { certificate }) = &handled.persist {
        shared.liveness.applied().push(certificate.clone());
    }
    if let Err(r) = &handled.result {
        metrics.reject(r.code().to_u16());
        if let (Rejection::ConflictingOrder { .. }, Some(sender), true, Some(sink)) =
            (r, sender, signed, penalties)
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
        return None;
    }
    shared.queue.push(Job {
        change: handled.persist,
        reply,
    });
    None
}
