//! A committee of anchors running in this process on loopback, with wallets to drive it.
//!
//! The demo, the benchmark and the integration tests use this harness: it writes a committee
//! with [`merchant_anchor::init_committee`], starts each anchor with [`Anchor::start`], and can
//! stop and restart single anchors on their data directories.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use flashmesh_core::{Committee, Keypair};
use flashmesh_transport::{Transport, UdpTransport, bind_reuseport_group};
use flashmesh_wallet::{CommitteeClient, PayOptions, Wallet, WalletDir};
use merchant_anchor::{Anchor, InitOptions, LocalCommittee, Ports, init_committee};

/// A running local committee.
pub struct LocalNet {
    layout: LocalCommittee,
    anchors: Vec<Option<Anchor>>,
}

impl LocalNet {
    /// Writes a committee into `dir` and starts every anchor.
    ///
    /// With [`Ports::Free`], each anchor's UDP sockets are bound (port 0) before the committee
    /// file is written, so no other process can take or share a port in between.
    pub async fn start(dir: &Path, opts: &InitOptions) -> anyhow::Result<LocalNet> {
        let mut bound: Vec<Vec<Arc<dyn Transport>>> = Vec::new();
        let mut init = opts.clone();
        if init.ports == Ports::Free {
            let workers = if opts.workers == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                opts.workers
            };
            let mut ports = Vec::new();
            for _ in 0..opts.authorities {
                let group = bind_reuseport_group(SocketAddr::new(opts.host, 0), workers)?;
                ports.push(group[0].local_addr()?.port());
                bound.push(
                    group
                        .into_iter()
                        .map(|t| Arc::new(t) as Arc<dyn Transport>)
                        .collect(),
                );
            }
            init.ports = Ports::Given { bcb: ports };
        }
        let layout = init_committee(dir, &init)?;
        let mut anchors = Vec::new();
        let mut bound = bound.into_iter();
        for cfg in &layout.anchors {
            let anchor = match bound.next() {
                Some(transports) => Anchor::start_on(cfg, transports).await?,
                None => Anchor::start(cfg).await?,
            };
            anchors.push(Some(anchor));
        }
        Ok(LocalNet { layout, anchors })
    }

    /// The files and keys.
    pub fn layout(&self) -> &LocalCommittee {
        &self.layout
    }

    /// The committee.
    pub fn committee(&self) -> &Committee {
        &self.layout.committee
    }

    /// The account keys.
    pub fn accounts(&self) -> &[Keypair] {
        &self.layout.accounts
    }

    /// Anchor `i`, if running.
    pub fn anchor(&self, i: usize) -> Option<&Anchor> {
        self.anchors.get(i).and_then(Option::as_ref)
    }

    /// Number of anchors (running or not).
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether the committee has no anchors.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Stops anchor `i` (its port and data directory are free when this returns).
    pub async fn stop(&mut self, i: usize) {
        if let Some(a) = self.anchors[i].take() {
            a.shutdown().await;
        }
    }

    /// Starts anchor `i` again on its data directory.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.stop(i).await;
        self.anchors[i] = Some(Anchor::start(&self.layout.anchors[i]).await?);
        Ok(())
    }

    /// A committee client on a fresh loopback socket.
    pub async fn client(&self) -> anyhow::Result<CommitteeClient> {
        let t = UdpTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        Ok(CommitteeClient::new(self.committee().clone(), Arc::new(t))?)
    }

    /// A wallet for account `j` keeping its files in `data_dir`.
    pub async fn wallet(
        &self,
        j: usize,
        data_dir: &Path,
        opts: PayOptions,
    ) -> anyhow::Result<Wallet> {
        Ok(Wallet::new(
            self.layout.accounts[j].clone(),
            self.client().await?,
            WalletDir::open(data_dir)?,
            opts,
        ))
    }

    /// Stops every anchor.
    pub async fn shutdown(mut self) {
        for i in 0..self.anchors.len() {
            self.stop(i).await;
        }
    }
}
