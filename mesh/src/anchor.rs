//! A merchant's authority serving over the mesh: the anchor's own durable store, recovery,
//! group commit and datagram handler, driven by a worker that reads from a [`FrameTransport`]
//! instead of a UDP socket.
//!
//! `merchant_anchor::Anchor::start` binds UDP sockets, so the mesh assembles the same parts
//! (`Store`, `recover`, `commit::start`, `server::handle_datagram`) around its own transport.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use flashmesh_core::{Committee, Genesis, Keypair, MAX_DATAGRAM_LEN};
use flashmesh_transport::Transport;
use merchant_anchor::metrics::inc;
use merchant_anchor::server::{ServerShared, handle_datagram};
use merchant_anchor::{Metrics, Store, commit, recover};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::error::MeshError;
use crate::transport::FrameTransport;

/// A running authority on a mesh host.
pub struct MeshAnchor {
    name: String,
    metrics: Arc<Metrics>,
    epoch: Arc<AtomicU32>,
    worker: Option<tokio::task::JoinHandle<()>>,
    epoch_task: Option<tokio::task::JoinHandle<()>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl MeshAnchor {
    /// Opens (or creates) the store in `data_dir`, recovers the authority of `key` in
    /// `committee` from `genesis` and the journal, and serves requests arriving on `transport`.
    /// The authority's epoch follows `epoch`.
    pub fn start(
        name: &str,
        key: Keypair,
        committee: Arc<Committee>,
        genesis: &Genesis,
        data_dir: &Path,
        transport: Arc<FrameTransport>,
        mut epoch: watch::Receiver<u32>,
    ) -> Result<MeshAnchor, MeshError> {
        let fail = |e: &dyn std::fmt::Display| MeshError::Anchor(name.to_string(), e.to_string());
        let store = Store::open(data_dir).map_err(|e| fail(&e))?;
        let (authority, _) =
            recover(key.clone(), committee.clone(), genesis, &store).map_err(|e| fail(&e))?;
        let authority = Arc::new(Mutex::new(authority));
        let metrics = Arc::new(Metrics::default());
        let (queue, committer) = commit::start(
            store,
            authority.clone(),
            transport.clone(),
            metrics.clone(),
            tokio::runtime::Handle::current(),
        );
        let current = Arc::new(AtomicU32::new(*epoch.borrow()));
        let shared = Arc::new(ServerShared {
            authority,
            committee,
            tag: key.tag(),
            epoch: current.clone(),
            metrics: metrics.clone(),
            queue,
        });
        let worker = tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
            while let Ok((n, from)) = transport.recv_from(&mut buf).await {
                if let Some(reply) = handle_datagram(&shared, &buf[..n], from)
                    && transport.send_to(&reply, from).await.is_ok()
                {
                    inc(&shared.metrics.errors_sent);
                }
            }
        });
        let follower = current.clone();
        let epoch_task = tokio::spawn(async move {
            while epoch.changed().await.is_ok() {
                let e = *epoch.borrow();
                follower.store(e, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(MeshAnchor {
            name: name.to_string(),
            metrics,
            epoch: current,
            worker: Some(worker),
            epoch_task: Some(epoch_task),
            committer: Some(committer),
        })
    }

    /// The anchor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The authority's counters (requests, rejections by reason, store commits).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The epoch the authority checks messages against.
    pub fn epoch(&self) -> u32 {
        self.epoch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Total rejections so far, all reasons.
    pub fn rejections(&self) -> u64 {
        self.metrics.rejection_counts().iter().map(|(_, n)| n).sum()
    }

    /// Stops serving and waits until everything queued is durable and the store is closed.
    pub async fn shutdown(mut self) {
        for t in [self.worker.take(), self.epoch_task.take()]
            .into_iter()
            .flatten()
        {
            t.abort();
            let _ = t.await;
        }
        if let Some(c) = self.committer.take() {
            let _ = tokio::task::spawn_blocking(move || c.join()).await;
        }
    }
}

impl Drop for MeshAnchor {
    fn drop(&mut self) {
        for t in [&self.worker, &self.epoch_task].into_iter().flatten() {
            t.abort();
        }
    }
}
