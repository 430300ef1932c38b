//! Group commit: state changes become durable in batches, and replies leave only after the
//! batch that they depend on is on disk.
//!
//! Server workers push a [`Job`] for every request they handled, while still holding the
//! authority lock, so the queue order is the order in which the in-memory state changed. A
//! single committer thread takes everything queued, writes all state changes of that batch in
//! one transaction (one fsync), and only then releases the batch's replies. While one batch is
//! being written the next one accumulates, so the number of fsyncs per second stays bounded and
//! throughput is limited by signing, not by the disk.
//!
//! Because every reply follows the queue order, a reply that merely re-reads state (the stored
//! vote for a retransmitted order, say) can never overtake the write that created that state.
//!
//! If a commit fails, the anchor can no longer prove that what it signed is on disk: the
//! committer withholds that batch's replies and every later one, and reports itself failed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use flashmesh_core::{Authority, Encode, StateChange};
use flashmesh_transport::Transport;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, inc};
use crate::store::Store;

/// Largest number of jobs committed in one transaction.
pub const MAX_BATCH: usize = 8192;

/// Records between state snapshots: a restart replays at most about this many (plus one
/// batch), whatever the history.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// What a reply is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// A signed vote.
    Vote,
    /// A receipt for an applied certificate.
    Receipt,
    /// A typed error.
    Error,
    /// Anything else (query replies).
    Other,
}

/// A datagram to send once its batch is durable.
#[derive(Debug)]
pub struct Reply {
    /// Destination.
    pub to: SocketAddr,
    /// The whole datagram.
    pub datagram: Vec<u8>,
    /// What it is.
    pub kind: ReplyKind,
}

/// One handled request: the state change to persist (if any) and the reply to release after.
#[derive(Debug, Default)]
pub struct Job {
    /// The state change to make durable.
    pub change: Option<StateChange>,
    /// The reply to send once `change` (and everything queued before it) is durable.
    pub reply: Option<Reply>,
}

/// The producer side of the commit queue.
#[derive(Debug, Clone)]
pub struct CommitQueue {
    tx: mpsc::UnboundedSender<Job>,
    failed: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
}

/// Jobs queued beyond which workers refuse new requests as overloaded (see
/// [`CommitQueue::is_overloaded`]), so a flood cannot grow the queue without bound.
pub const MAX_QUEUED: usize = 64 * 1024;

impl CommitQueue {
    /// Queues a job. Never blocks. Returns false if the committer has stopped.
    pub fn push(&self, job: Job) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.tx.send(job).is_ok()
    }

    /// Jobs waiting for the committer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether the queue is too long to take more state-changing work.
    pub fn is_overloaded(&self) -> bool {
        self.queued() >= MAX_QUEUED
    }

    /// Whether a commit has failed (the anchor no longer releases replies).
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Starts the committer thread. Replies are sent through `transport` from tasks on `runtime`.
/// After each commit the authority is told which locks are durable, so retransmitted orders
/// need no further writes. The thread ends when every [`CommitQueue`] clone has been dropped.
pub fn start(
    mut store: Store,
    authority: Arc<Mutex<Authority>>,
    transport: Arc<dyn Transport>,
    metrics: Arc<Metrics>,
    runtime: tokio::runtime::Handle,
) -> (CommitQueue, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let failed = Arc::new(AtomicBool::new(false));
    let queued = Arc::new(AtomicUsize::new(0));
    let queue = CommitQueue {
        tx,
        failed: failed.clone(),
        queued: queued.clone(),
    };
    let handle = std::thread::Builder::new()
        .name("anchor-commit".into())
        .spawn(move || {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
            let mut records: Vec<Vec<u8>> = Vec::with_capacity(MAX_BATCH);
            let mut locks: Vec<StateChange> = Vec::new();
            while let Some(first) = rx.blocking_recv() {
                // The previous batch's replies are on their way: a good moment for a snapshot.
                if !failed.load(Ordering::Relaxed) && store.since_snapshot() >= SNAPSHOT_EVERY {
                    snapshot(&mut store, &authority, &metrics);
                }
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                queued.fetch_sub(batch.len(), Ordering::Relaxed);
                records.clear();
                locks.clear();
                let mut replies = Vec::with_capacity(batch.len());
                for job in batch.drain(..) {
                    if let Some(change) = job.change {
                        records.push(change.to_bytes());
                        if matches!(change, StateChange::Lock { .. }) {
                            locks.push(change);
                        }
                    }
                    if let Some(r) = job.reply {
                        replies.push(r);
                    }
                }
                if failed.load(Ordering::Relaxed) {
                    continue;
                }
                if !records.is_empty() {
                    let started = Instant::now();
                    if let Err(e) = store.append(&records) {
                        tracing::error!(error = %e, "store commit failed; withholding all further replies");
                        inc(&metrics.store_failures);
                        failed.store(true, Ordering::Relaxed);
                        continue;
                    }
                    metrics.store_commit_micros.fetch_add(
                        started.elapsed().as_micros() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    inc(&metrics.store_commits);
                    metrics
                        .store_records
                        .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    if !locks.is_empty() {
                        let mut a = authority.lock();
                        for change in &locks {
                            a.mark_persisted(change);
                        }
                    }
                }
                if replies.is_empty() {
                    continue;
                }
                let transport = transport.clone();
                let metrics = metrics.clone();
                runtime.spawn(async move {
                    for r in replies {
                        match transport.send_to(&r.datagram, r.to).await {
                            Ok(()) => match r.kind {
                                ReplyKind::Vote => inc(&metrics.votes),
                                ReplyKind::Receipt => inc(&metrics.receipts),
                                ReplyKind::Error => inc(&metrics.errors_sent),
                                ReplyKind::Other => {}
                            },
                            Err(e) => tracing::debug!(error = %e, to = %r.to, "reply not sent"),
                        }
                    }
                });
            }
        })
        .expect("spawning the commit thread");
    (queue, handle)
}

/// Writes the authority's state as the store's snapshot (compacting the journal before it). The
/// state may already reflect changes still queued: replaying them later is a no-op. A failure
/// leaves the journal complete, so it is counted and the anchor goes on.
fn snapshot(store: &mut Store, authority: &Mutex<Authority>, metrics: &Metrics) {
    let started = Instant::now();
    let upto = store.len();
    let bytes = authority.lock().snapshot();
    match store.write_snapshot(upto, &bytes) {
        Ok(()) => {
            inc(&metrics.store_snapshots);
            tracing::info!(
                upto,
                bytes = bytes.len(),
                millis = started.elapsed().as_millis() as u64,
                "state snapshot written"
            );
        }
        Err(e) => {
            inc(&metrics.store_snapshot_failures);
            tracing::warn!(error = %e, "state snapshot failed; the journal is kept");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::testing::committee_of_one;
    use flashmesh_core::{Decode, Genesis, Keypair, SignedOrder, TransferOrder, Vote};
    use flashmesh_transport::UdpTransport;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replies_are_released_after_their_changes_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = Keypair::from_seed(&[9; 32]);
        let committee = committee_of_one(&key);
        let payer = Keypair::from_seed(&[1; 32]);
        let authority = Authority::new(
            key.clone(),
            committee,
            &Genesis::uniform([payer.public()], 10),
        )
        .unwrap();
        let authority = Arc::new(Mutex::new(authority));
        let server = Arc::new(
            UdpTransport::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        );
        let client = UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let (queue, thread) = start(
            store,
            authority,
            server.clone(),
            metrics.clone(),
            tokio::runtime::Handle::current(),
        );
        for i in 0..100u64 {
            let order = SignedOrder::sign(
                TransferOrder {
                    sender: payer.public(),
                    recipient: key.public(),
                    token: 0,
                    amount: 1,
                    nonce: i,
                    epoch: 0,
                    ttl: 1,
                },
                &payer,
            );
            let vote = Vote::sign(order.digest(), i, &key);
            assert!(queue.push(Job {
                change: Some(StateChange::Lock { order, vote }),
                reply: Some(Reply {
                    to: client.local_addr().unwrap(),
                    datagram: vec![i as u8],
                    kind: ReplyKind::Vote,
                }),
            }));
        }
        let mut buf = [0u8; 8];
        for _ in 0..100 {
            tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
        }
        drop(queue);
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
        let store = Store::open(dir.path()).unwrap();
        let records = store.load().unwrap();
        assert_eq!(records.len(), 100);
        assert_eq!(StateChange::from_bytes(&records[7]).unwrap().nonce(), 7);
        assert_eq!(metrics.store_records.load(Ordering::Relaxed), 100);
        assert!(metrics.store_commits.load(Ordering::Relaxed) <= 100);
    }
}
