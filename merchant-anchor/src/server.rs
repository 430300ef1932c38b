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
//! Replies that depend on state (votes, receipts, query replies, and refusals decided against
//! the state) leave through the committer, after everything queued before them is durable.
//! Refusals that need no state (undecodable datagrams, bad signatures) are answered at once.
//! Nothing a peer sends can panic a worker: every failure is a typed rejection, counted.
//!
//! With a controller, a worker also gets a [`PenaltySink`]: the tag of every account whose
//! validly signed order conflicts with the one already locked for its nonce is reported there,
//! so the controller can block that sender in the switches.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use flashmesh_core::{
    Authority, Committee, Envelope, ErrorCode, ErrorMessage, HeaderRepr, MAX_DATAGRAM_LEN, Message,
    Rejection,
};
use flashmesh_transport::Transport;
use parking_lot::Mutex;

use crate::commit::{CommitQueue, Job, Reply, ReplyKind};
use crate::control::PenaltySink;
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

fn error_datagram(
    shared: &ServerShared,
    header: &HeaderRepr,
    rejection: &Rejection,
    epoch: u32,
) -> Option<Vec<u8>> {
    let msg =
        ErrorMessage::from_rejection(rejection, Some(header.msg_type), header.nonce, shared.tag);
    Envelope::reply(header, Message::Error(msg), epoch)
        .encode()
        .ok()
}

fn reply_job(
    header: &HeaderRepr,
    message: Message,
    epoch: u32,
    to: SocketAddr,
    kind: ReplyKind,
) -> Option<Reply> {
    let datagram = Envelope::reply(header, message, epoch).encode().ok()?;
    Some(Reply { to, datagram, kind })
}

fn order_job(
    shared: &ServerShared,
    result: Result<flashmesh_core::Outcome<flashmesh_core::Vote>, Rejection>,
    header: &HeaderRepr,
    epoch: u32,
    from: SocketAddr,
) -> Job {
    match result {
        Ok(out) => Job {
            change: out.persist,
            reply: reply_job(
                header,
                Message::Vote(out.reply),
                epoch,
                from,
                ReplyKind::Vote,
            ),
        },
        Err(r) => {
            shared.metrics.reject(r.code().to_u16());
            Job {
                change: None,
                reply: error_datagram(shared, header, &r, epoch).map(|datagram| Reply {
                    to: from,
                    datagram,
                    kind: ReplyKind::Error,
                }),
            }
        }
    }
}

/// Handles one datagram. Returns a datagram to send back at once (a refusal that needs no
/// durability); everything else is queued for the committer.
pub fn handle_datagram(shared: &ServerShared, bytes: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
    handle_datagram_with(shared, bytes, from, None)
}

/// Like [`handle_datagram`], reporting the sender of a refused conflicting order (verified
/// signature, so the account holder really signed two orders for one nonce) to `penalties`.
pub fn handle_datagram_with(
    shared: &ServerShared,
    bytes: &[u8],
    from: SocketAddr,
    penalties: Option<&PenaltySink>,
) -> Option<Vec<u8>> {
    let metrics = &shared.metrics;
    let epoch = shared.epoch.load(Ordering::Relaxed);
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
    if shared.queue.is_overloaded()
        && matches!(
            env.message,
            Message::Order(_) | Message::Certificate(_) | Message::Query(_)
        )
    {
        metrics.reject(ErrorCode::Overloaded.to_u16());
        let msg = ErrorMessage {
            code: ErrorCode::Overloaded,
            request_type: header.msg_type.to_u8(),
            nonce: header.nonce,
            authority: shared.tag,
            detail: "commit queue full; retry later".into(),
        };
        return Envelope::reply(&header, Message::Error(msg), epoch)
            .encode()
            .ok();
    }
    match env.message {
        Message::Order(order) => {
            inc(&metrics.orders);
            // A retransmission of the order already locked here gets the stored vote back
            // without paying for another signature verification.
            {
                let mut authority = shared.authority.lock();
                let repeat = authority
                    .account(&order.order().sender)
                    .and_then(|a| a.pending.as_ref())
                    .is_some_and(|p| p.order.digest() == order.digest());
                if repeat {
                    let result = authority.handle_order(order, epoch);
                    shared
                        .queue
                        .push(order_job(shared, result, &header, epoch, from));
                    return None;
                }
            }
            let verified = match order.verify() {
                Ok(v) => v,
                Err(r) => {
                    metrics.reject(r.code().to_u16());
                    return error_datagram(shared, &header, &r, epoch);
                }
            };
            let sender = verified.order().sender.tag();
            let mut authority = shared.authority.lock();
            let result = authority.handle_verified_order(verified, epoch);
            if let (Err(Rejection::ConflictingOrder { .. }), Some(sink)) = (&result, penalties) {
                sink.report(sender.0);
            }
            shared
                .queue
                .push(order_job(shared, result, &header, epoch, from));
            None
        }
        Message::Certificate(certificate) => {
            inc(&metrics.certificates);
            let verified = match certificate.verify(&shared.committee) {
                Ok(v) => v,
                Err(r) => {
                    metrics.reject(r.code().to_u16());
                    return error_datagram(shared, &header, &r, epoch);
                }
            };
            let mut authority = shared.authority.lock();
            let job = match authority.handle_verified_certificate(verified) {
                Ok(out) => Job {
                    change: out.persist,
                    reply: reply_job(
                        &header,
                        Message::Receipt(out.reply),
                        epoch,
                        from,
                        ReplyKind::Receipt,
                    ),
                },
                Err(r) => {
                    metrics.reject(r.code().to_u16());
                    Job {
                        change: None,
                        reply: error_datagram(shared, &header, &r, epoch).map(|datagram| Reply {
                            to: from,
                            datagram,
                            kind: ReplyKind::Error,
                        }),
                    }
                }
            };
            shared.queue.push(job);
            None
        }
        Message::Query(query) => {
            inc(&metrics.queries);
            let authority = shared.authority.lock();
            let reply = authority.handle_query(&query);
            shared.queue.push(Job {
                change: None,
                reply: reply_job(
                    &header,
                    Message::QueryReply(reply),
                    epoch,
                    from,
                    ReplyKind::Other,
                ),
            });
            None
        }
        Message::Opaque { msg_type, .. } => {
            let r = Rejection::NotServed(msg_type);
            metrics.reject(r.code().to_u16());
            error_datagram(shared, &header, &r, epoch)
        }
        // Never answer a reply type, so two nodes cannot bounce errors at each other.
        Message::Vote(_) | Message::Receipt(_) | Message::QueryReply(_) | Message::Error(_) => {
            let r = Rejection::NotServed(header.msg_type);
            metrics.reject(r.code().to_u16());
            None
        }
    }
}
