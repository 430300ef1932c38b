//! Starting and stopping an anchor: load its files, recover its state from the store, and run
//! the BCB server and the admin API on the current tokio runtime.
//!
//! [`Anchor::start`] is what the `merchant-anchor` binary runs, and what demos and tests use to
//! run anchors in-process.
//!
//! With a `controller` entry in the configuration (or a [`ControllerSpec`] given to
//! [`Anchor::start_with`]) the anchor is also the P4Runtime controller of its switches: it starts
//! the [`Controller`] before serving, the authority's epoch window follows the controller's
//! epoch, conflicting orders get their sender blocked in the switches, and the admin API gains
//! the controller's health, metrics and the policy routes (see [`crate::control`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Instant;

use flashmesh_controller::{Controller, ControllerSpec};
use flashmesh_core::{
    Authority, AuthorityError, Committee, CommitteeError, Decode, ErrorCode, Genesis, GenesisError,
    KeyError, Keypair, RecoveryError, StateChange,
};
use flashmesh_transport::{Transport, TransportError, bind_reuseport_group};
use parking_lot::Mutex;

use crate::admin::{self, AdminContext};
use crate::applied::AppliedLog;
use crate::commit;
use crate::config::{AnchorConfig, LivenessConfig};
use crate::control::{self, AnchorController, ControlConfigError};
use crate::liveness::LivenessState;
use crate::metrics::{Metrics, get};
use crate::server::{ServerShared, run_worker_with};
use crate::store::{Store, StoreError};

/// Why an anchor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file named in the configuration could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is invalid.
    #[error("invalid key file {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: KeyError,
    },
    /// The committee file is invalid.
    #[error("invalid committee file: {0}")]
    Committee(#[from] CommitteeError),
    /// The genesis file is invalid.
    #[error("invalid genesis file: {0}")]
    Genesis(#[from] GenesisError),
    /// The key is not a committee member, or the genesis is inconsistent.
    #[error("cannot build the authority: {0}")]
    Authority(#[from] AuthorityError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store's snapshot cannot be restored.
    #[error("recovery failed: the snapshot: {0}")]
    Snapshot(String),
    /// A persisted change is undecodable or inconsistent.
    #[error("recovery failed at record {index}: {reason}")]
    Recovery {
        /// Index of the record in the journal.
        index: usize,
        /// What was wrong.
        reason: String,
    },
    /// A socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: TransportError,
    },
    /// No transport was given to serve on.
    #[error("no transport to serve BCB on")]
    NoTransport,
    /// The first transport has no local address.
    #[error("cannot read the BCB transport's address: {source}")]
    LocalAddr {
        /// The cause.
        source: TransportError,
    },
    /// The admin listener could not be bound.
    #[error("cannot bind admin API on {addr}: {source}")]
    Admin {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The controller configuration is invalid.
    #[error(transparent)]
    ControllerConfig(#[from] ControlConfigError),
    /// The controller could not bring up its switches.
    #[error("controller: {0}")]
    Controller(#[from] flashmesh_controller::StartError),
}

fn read(path: &PathBuf) -> Result<String, StartError> {
    std::fs::read_to_string(path).map_err(|source| StartError::Read {
        path: path.clone(),
        source,
    })
}

/// Names rejection codes for the metrics labels.
pub fn reason_name(code: u8) -> Option<&'static str> {
    ErrorCode::from_u16(u16::from(code)).map(ErrorCode::name)
}

/// Rebuilds the authority from the store: its latest snapshot (genesis without one), then the
/// journal records after it. Returns the authority and the number of records replayed.
pub fn recover(
    key: Keypair,
    committee: Arc<Committee>,
    genesis: &Genesis,
    store: &Store,
) -> Result<(Authority, usize), StartError> {
    let recovered = store.recover()?;
    let (mut authority, first) = match &recovered.snapshot {
        Some((at, bytes)) => (
            Authority::from_snapshot(key, committee, genesis, bytes)
                .map_err(|e| StartError::Snapshot(e.to_string()))?,
            *at as usize,
        ),
        None => (Authority::new(key, committee, genesis)?, 0),
    };
    for (i, bytes) in recovered.records.iter().enumerate() {
        let index = first + i;
        let change = StateChange::from_bytes(bytes).map_err(|e| StartError::Recovery {
            index,
            reason: e.to_string(),
        })?;
        authority
            .apply_change(&change)
            .map_err(|e: RecoveryError| StartError::Recovery {
                index,
                reason: e.to_string(),
            })?;
    }
    Ok((authority, recovered.records.len()))
}

/// Everything an anchor is made of, loaded from files ([`Anchor::start_with`]) or built in
/// code (the embedded mesh).
pub struct AnchorParts {
    /// The anchor's name (logs, status).
    pub name: String,
    /// The authority's key.
    pub key: Keypair,
    /// Its committee.
    pub committee: Arc<Committee>,
    /// The genesis balances.
    pub genesis: Genesis,
    /// Where the store (and the controller's audit log and epoch) live.
    pub data_dir: PathBuf,
    /// The epoch to start in (with a controller: raised to the controller's).
    pub epoch: u32,
    /// Where BCB datagrams arrive, one worker each; replies leave through the first.
    pub transports: Vec<Arc<dyn Transport>>,
    /// The controller of the anchor's switches, if it runs one.
    pub controller: Option<ControllerSpec>,
    /// The admin API, if it serves one.
    pub admin: Option<AdminEndpoint>,
    /// Heartbeats to the committee peers and catch-up; `None`: no heartbeats are sent (the
    /// peer view stays empty, so a committee of more than one never sees a quorum).
    pub liveness: Option<LivenessConfig>,
}

/// Where the admin API listens, and its bearer token for writes.
#[derive(Debug, Clone)]
pub struct AdminEndpoint {
    /// Listen address.
    pub addr: SocketAddr,
    /// Token required by the write routes.
    pub token: Option<String>,
}

/// How long [`Anchor::shutdown`] waits for its tasks to stop and for the committer to finish
/// what was queued.
const COMMITTER_STOP: std::time::Duration = std::time::Duration::from_secs(30);

/// A running anchor.
pub struct Anchor {
    name: String,
    bcb_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    authority: Arc<Mutex<Authority>>,
    epoch: Arc<AtomicU32>,
    controller: Option<Arc<AnchorController>>,
    liveness: Arc<LivenessState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor")
            .field("name", &self.name)
            .field("bcb_addr", &self.bcb_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

impl Anchor {
    /// Loads the configured files, recovers the state and starts serving on the current tokio
    /// runtime (which should be multi-threaded to use every core). The BCB server listens on
    /// `config.listen` with one `SO_REUSEPORT` UDP socket per worker.
    pub async fn start(config: &AnchorConfig) -> Result<Anchor, StartError> {
        let sockets =
            bind_reuseport_group(config.listen, config.worker_count()).map_err(|source| {
                StartError::Bind {
                    addr: config.listen,
                    source,
                }
            })?;
        let transports: Vec<Arc<dyn Transport>> = sockets
            .into_iter()
            .map(|s| Arc::new(s) as Arc<dyn Transport>)
            .collect();
        Self::start_on(config, transports).await
    }

    /// Like [`Anchor::start`], but serves BCB on the given transports (one worker each) instead
    /// of binding UDP sockets, e.g. on an in-process mesh. Replies leave through the first one;
    /// `config.listen` is ignored.
    pub async fn start_on(
        config: &AnchorConfig,
        transports: Vec<Arc<dyn Transport>>,
    ) -> Result<Anchor, StartError> {
        let spec = match &config.controller {
            Some(source) => Some(control::load_spec(source, &config.data_dir, config.epoch)?),
            None => None,
        };
        Self::start_with(config, transports, spec).await
    }

    /// Like [`Anchor::start_on`], with the controller given as a spec (built in code, e.g. for
    /// switches embedded in the same process) instead of `config.controller`, which is then
    /// ignored. With `None` the anchor runs no controller. A spec without an audit log gets
    /// `data_dir/policy-audit.jsonl`; its first epoch is raised to the one saved in `data_dir`.
    pub async fn start_with(
        config: &AnchorConfig,
        transports: Vec<Arc<dyn Transport>>,
        controller: Option<ControllerSpec>,
    ) -> Result<Anchor, StartError> {
        let key_text = read(&config.key_file)?;
        let key = Keypair::from_hex(key_text.trim()).map_err(|source| StartError::Key {
            path: config.key_file.clone(),
            source,
        })?;
        let committee = Arc::new(Committee::from_toml(&read(&config.committee_file)?)?);
        let genesis = Genesis::from_toml(&read(&config.genesis_file)?)?;
        let mut anchor = Self::assemble(AnchorParts {
            name: config.name.clone(),
            key,
            committee,
            genesis,
            data_dir: config.data_dir.clone(),
            epoch: config.epoch,
            transports,
            controller,
            admin: Some(AdminEndpoint {
                addr: config.admin,
                token: config.admin_token.clone(),
            }),
            liveness: config.liveness.enabled.then_some(config.liveness),
        })
        .await?;
        if let (Some(relay), Some(c)) = (&config.link_relay, &anchor.controller) {
            let task = crate::link_relay::start(c.controller.clone(), relay.clone());
            anchor.tasks.push(task);
        }
        Ok(anchor)
    }

    /// Builds and starts an anchor from its parts: opens the store in `data_dir` and recovers
    /// the authority, starts group commit, the controller (if any: the epoch then follows it
    /// and conflicting orders block their senders in its switches), one worker per transport,
    /// and the admin API (if asked). Every way of running an anchor (the binary, the embedded
    /// mesh, tests) comes through here.
    pub async fn assemble(parts: AnchorParts) -> Result<Anchor, StartError> {
        let AnchorParts {
            name,
            key,
            committee,
            genesis,
            data_dir,
            epoch: first_epoch,
            transports,
            controller,
            admin,
            liveness: liveness_config,
        } = parts;
        let Some(first) = transports.first().cloned() else {
            return Err(StartError::NoTransport);
        };
        let started = Instant::now();
        let store = Store::open(&data_dir)?;
        let (authority, replayed) = recover(key.clone(), committee.clone(), &genesis, &store)?;
        tracing::info!(
            name = %name,
            replayed,
            millis = started.elapsed().as_millis() as u64,
            "state recovered"
        );
        // certificates applied so far: each advanced its sender's sequence by one
        let applied_so_far = authority
            .accounts()
            .map(|(_, a)| a.next_sequence)
            .fold(0u64, u64::saturating_add);
        let authority = Arc::new(Mutex::new(authority));
        let metrics = Arc::new(Metrics::default());
        let liveness = {
            let config = liveness_config.unwrap_or_default();
            let applied = Arc::new(AppliedLog::new(applied_so_far, config.recent_certificates));
            Arc::new(LivenessState::new(
                key.clone(),
                committee.clone(),
                config,
                applied,
            ))
        };
        let sockets = transports;
        let bcb_addr = first
            .local_addr()
            .map_err(|source| StartError::LocalAddr { source })?;
        let (queue, committer) = commit::start(
            store,
            authority.clone(),
            first,
            metrics.clone(),
            tokio::runtime::Handle::current(),
        );
        let epoch = Arc::new(AtomicU32::new(first_epoch));
        let mut tasks = Vec::new();
        let mut penalties = None;
        let controller = match controller {
            Some(mut spec) => {
                // policy decisions are audited in the data directory unless told otherwise
                if spec.audit.is_none() {
                    spec.audit = Some(flashmesh_controller::policy::AuditLog::new(
                        data_dir.join(control::AUDIT_LOG_FILE),
                    ));
                }
                // never restart into an epoch before the last one in force
                if let Some(saved) = control::load_epoch(&data_dir) {
                    spec.initial_epoch = spec.initial_epoch.max(saved);
                }
                let nodes = spec.switches.iter().map(|s| s.node.clone()).collect();
                let audit = spec.audit.clone();
                let ctrl = Arc::new(Controller::start(spec).await?);
                tasks.push(control::follow_epoch(
                    &ctrl,
                    epoch.clone(),
                    data_dir.clone(),
                ));
                let (sink, task) = control::start_penalties(ctrl.clone(), metrics.clone());
                tasks.push(task);
                penalties = Some(sink);
                tracing::info!(name = %name, epoch = ctrl.epoch(), "controller running");
                Some(Arc::new(AnchorController {
                    controller: ctrl,
                    nodes,
                    audit,
                }))
            }
            None => None,
        };
        let shared = Arc::new(ServerShared {
            authority: authority.clone(),
            committee: committee.clone(),
            tag: key.tag(),
            key: Arc::new(key.clone()),
            epoch: epoch.clone(),
            metrics: metrics.clone(),
            queue: queue.clone(),
            liveness: liveness.clone(),
            liveness_enabled: liveness_config.is_some(),
        });
        if liveness_config.is_some()
            && let Some(first) = sockets.first()
        {
            tasks.push(crate::liveness::start(
                liveness.clone(),
                first.clone(),
                epoch.clone(),
            ));
        }
        tasks.extend(sockets.iter().map(|s| {
            tokio::spawn(run_worker_with(
                s.clone(),
                shared.clone(),
                penalties.clone(),
            ))
        }));
        drop(penalties);
        let status = {
            let name = name.clone();
            let authority = authority.clone();
            let metrics = metrics.clone();
            let committee = committee.clone();
            let queue = queue.clone();
            let epoch = epoch.clone();
            let workers = sockets.len();
            let since = Instant::now();
            let controller = controller.clone();
            let liveness = liveness.clone();
            Arc::new(move || {
                let a = authority.lock();
                let accounts = a.accounts().count();
                let locked = a.accounts().filter(|(_, s)| s.pending.is_some()).count();
                let supply: std::collections::BTreeMap<String, String> = a
                    .supply()
                    .into_iter()
                    .map(|(t, v)| (t.to_string(), v.to_string()))
                    .collect();
                let public_key = a.keypair().public().to_hex();
                drop(a);
                let peers = liveness.status_json();
                serde_json::json!({
                    "name": name,
                    "public_key": public_key,
                    "tag": key.tag().to_hex(),
                    "bcb_address": bcb_addr.to_string(),
                    "workers": workers,
                    "epoch": epoch.load(std::sync::atomic::Ordering::Relaxed),
                    "committee_size": committee.len(),
                    "quorum": committee.quorum(),
                    "accounts": accounts,
                    "locked_accounts": locked,
                    "supply": supply,
                    "store_records": get(&metrics.store_records) + replayed as u64,
                    "store_healthy": !queue.has_failed(),
                    "uptime_seconds": since.elapsed().as_secs_f64(),
                    "orders": get(&metrics.orders),
                    "votes": get(&metrics.votes),
                    "certificates": get(&metrics.certificates),
                    "receipts": get(&metrics.receipts),
                    "malformed_datagrams": get(&metrics.malformed),
                    "penalties_applied": get(&metrics.penalties_applied),
                    "controller": controller.as_ref().map(|c| c.health()),
                    "peers": peers["peers"],
                    "quorum_visible": peers["quorum_visible"],
                    "visible_weight": peers["visible_weight"],
                    "applied": peers["applied"],
                })
            })
        };
        let healthy = {
            let queue = queue.clone();
            Arc::new(move || !queue.has_failed())
        };
        drop(queue);
        let admin_addr = match admin {
            Some(endpoint) => {
                let ctx = AdminContext {
                    metrics: metrics.clone(),
                    status,
                    reason_name,
                    token: endpoint.token,
                    healthy,
                    epoch: epoch.clone(),
                    controller: controller.clone(),
                    liveness: Some(liveness.clone()),
                };
                let (addr, task) =
                    admin::serve(endpoint.addr, ctx)
                        .await
                        .map_err(|source| StartError::Admin {
                            addr: endpoint.addr,
                            source,
                        })?;
                tasks.push(task);
                Some(addr)
            }
            None => None,
        };
        tracing::info!(name = %name, %bcb_addr, ?admin_addr, "anchor serving");
        Ok(Anchor {
            name: name.clone(),
            bcb_addr,
            admin_addr,
            metrics,
            authority,
            epoch,
            controller,
            liveness,
            tasks,
            committer: Some(committer),
        })
    }

    /// The controller this anchor runs, if any.
    pub fn controller(&self) -> Option<&Arc<Controller>> {
        self.controller.as_ref().map(|c| &c.controller)
    }

    /// Connection and mastership of the controller's switches, if the anchor runs a controller.
    pub fn controller_health(&self) -> Option<crate::control::ControllerHealth> {
        self.controller.as_ref().map(|c| c.health())
    }

    /// The epoch the authority checks messages against (with a controller: the controller's).
    pub fn epoch(&self) -> u32 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The BCB UDP address.
    pub fn bcb_addr(&self) -> SocketAddr {
        self.bcb_addr
    }

    /// The admin HTTP address, if the anchor serves the admin API.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The anchor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Total rejections so far, all reasons.
    pub fn rejections(&self) -> u64 {
        self.metrics.rejection_counts().iter().map(|(_, n)| n).sum()
    }

    /// Whether this anchor and the committee peers it heard within the timeout reach the
    /// quorum weight now (see [`LivenessState::sees_quorum`]).
    pub fn sees_quorum(&self) -> bool {
        self.liveness.sees_quorum()
    }

    /// The peer view, applied log and liveness counters.
    pub fn liveness(&self) -> &Arc<LivenessState> {
        &self.liveness
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The authority state (for inspection; hold the lock briefly).
    pub fn authority(&self) -> &Arc<Mutex<Authority>> {
        &self.authority
    }

    /// Stops serving: closes the sockets and the admin listener, lets the committer finish what
    /// was queued, and closes the store. Returns when the port and data directory are free.
    pub async fn shutdown(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let stopped = async {
            for t in self.tasks.drain(..) {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(COMMITTER_STOP, stopped).await.is_err() {
            tracing::warn!(name = %self.name, "a task did not stop within {COMMITTER_STOP:?}");
        }
        // the last handle (the admin API's went with its task) stops the controller's tasks
        // and closes its switch sessions
        self.controller.take();
        if let Some(c) = self.committer.take() {
            let joined = tokio::time::timeout(
                COMMITTER_STOP,
                tokio::task::spawn_blocking(move || c.join()),
            )
            .await;
            if joined.is_err() {
                // something still holds the commit queue: leave the thread, do not hang
                tracing::warn!(name = %self.name, "the committer did not stop within {COMMITTER_STOP:?}");
            }
        }
    }
}

impl Drop for Anchor {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
