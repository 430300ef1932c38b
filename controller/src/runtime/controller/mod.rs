//! The running controller: drives a set of switches over P4Runtime. It reconciles each switch's
//! pipeline and entries at start, ticks the epoch into every switch and shares it through a watch
//! channel, probes every link and reroutes on failure, blocks penalised senders for a while,
//! applies signed policy bundles (rolled back if a write fails), and renders metrics.
//!
//! By topic: this module holds the controller's state, start, reconciliation and policy;
//! [`desired`] computes the table entries a switch should hold, `links` handles probes, link
//! events and rerouting, `tasks` the background tasks (epoch ticker, prober, penalty expiry,
//! packet-in and mastership watchers), and `metrics` the counters and Prometheus text.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashmesh_core::host::clock::unix_secs;

use serde::Serialize;
use thiserror::Error;
use tokio::sync::{Mutex, broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::p4rt::spec::{EntrySpec, EntryUpdate, diff};
use crate::p4rt::{Mastership, P4rtError, Session};
use crate::policy::{AuditRecord, PolicyBundle, PolicyRefusal, PolicySettings, VerifiedPolicy};
use crate::sdn::flash_mesh::{self as fm, names};
use crate::sdn::monitor::LinkMonitor;
use crate::sdn::penalty::{PenaltyAction, PenaltyBook};
use crate::sdn::topology::Topology;

use super::apply::{ApplyError, EntryStore, apply_all};
use super::config::{ControllerSpec, SwitchSpec};

mod desired;
mod links;
mod metrics;
mod tasks;

pub use links::LinkStatus;

use desired::{Intent, SWITCH_TABLES, desired_entries};

/// Something the controller did, for observers (tests, the anchor's log, the demo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ControllerEvent {
    /// Probes declared a link down; the port-down entry is written.
    LinkDown {
        /// Node.
        node: String,
        /// Port.
        port: u16,
    },
    /// Probes came back on a link.
    LinkUp {
        /// Node.
        node: String,
        /// Port.
        port: u16,
    },
    /// Routes were recomputed and written.
    RoutesUpdated {
        /// Updates written over all switches.
        updates: usize,
    },
    /// A new epoch was written to every switch.
    Epoch(u32),
    /// A sender was blocked.
    Blocked([u8; 8]),
    /// A sender's penalty ended.
    Unblocked([u8; 8]),
    /// A policy bundle came into force.
    PolicyApplied(u64),
}

/// Why the controller could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// A switch could not be brought up.
    #[error("switch {node}: {error}")]
    Switch {
        /// Node.
        node: String,
        /// Error.
        error: P4rtError,
    },
}

/// Why a policy bundle was not put in force.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// Verification refused it.
    #[error(transparent)]
    Refused(#[from] PolicyRefusal),
    /// Writes failed; the previous entries were restored (see the inner error).
    #[error("policy writes failed: {0}")]
    WriteFailed(#[from] ApplyError),
}

/// Counts of policy decisions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyCounters {
    /// Accepted bundles.
    pub accepted: u64,
    /// Refusals by kind.
    pub refused: BTreeMap<String, u64>,
    /// Bundles whose writes failed and were rolled back.
    pub rolled_back: u64,
}

struct State {
    topology: Topology,
    settings: PolicySettings,
    policy_version: Option<u64>,
    monitor: LinkMonitor,
    penalties: PenaltyBook,
    /// Installed routes per node.
    routes: BTreeMap<String, Vec<EntrySpec>>,
    /// Ports with a port-down entry, per node.
    down: BTreeMap<String, BTreeSet<u16>>,
    counters: PolicyCounters,
    probe_seq: u64,
    /// False while priority classification is withheld (everything best effort).
    classification: bool,
}

struct Shared {
    name: String,
    sender_tag: flashmesh_core::keys::Tag,
    switches: Vec<SwitchSpec>,
    sessions: BTreeMap<String, Session>,
    state: Mutex<State>,
    epoch_tx: watch::Sender<u32>,
    events: broadcast::Sender<ControllerEvent>,
    verifier: crate::policy::PolicyVerifier,
    audit: Option<crate::policy::AuditLog>,
    clock0: Instant,
    writes_denied: AtomicU64,
}

/// A running controller. Dropping it stops its tasks.
pub struct Controller {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for s in self.shared.sessions.values() {
            s.close();
        }
    }
}

/// The tables whose entries policy decides.
pub const POLICY_TABLES: [&str; 2] = [names::CLASSIFY, names::DEDUP_TYPES];

impl EntryStore for Shared {
    async fn read(&self, node: &str, tables: &[&str]) -> Result<Vec<EntrySpec>, P4rtError> {
        let s = self.session(node)?;
        let mut out = Vec::new();
        for t in tables {
            out.extend(s.read_table(t).await?);
        }
        Ok(out)
    }
    async fn write(&self, node: &str, updates: &[EntryUpdate]) -> Result<(), P4rtError> {
        let r = self.session(node)?.write(updates).await;
        if matches!(r, Err(P4rtError::NotPrimary { .. })) {
            self.writes_denied.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

impl State {
    /// What the switches' entries follow, from the state in force.
    fn intent(&self) -> Intent<'_> {
        Intent {
            settings: &self.settings,
            classification: self.classification,
            topology: &self.topology,
            down: &self.down,
            penalties: &self.penalties,
        }
    }
}

impl Shared {
    fn session(&self, node: &str) -> Result<&Session, P4rtError> {
        self.sessions.get(node).ok_or_else(|| P4rtError::Connect {
            addr: node.into(),
            message: "no switch of that node is driven by this controller".into(),
        })
    }

    fn emit(&self, e: ControllerEvent) {
        let _ = self.events.send(e);
    }

    fn now_ns(&self) -> u64 {
        self.clock0.elapsed().as_nanos() as u64
    }

    fn now_ms(&self) -> u64 {
        self.clock0.elapsed().as_millis() as u64
    }

    /// Makes one switch hold exactly what the controller wants: its pipeline (pushed only if
    /// the cookie differs), policy entries, routes, port-down and blocked-sender entries, and
    /// the current epoch. Used at start and whenever mastership is regained.
    async fn reconcile_node(&self, st: &mut State, node: &str) -> Result<(), P4rtError> {
        let sess = self.session(node)?;
        if let Some(spec) = self.switches.iter().find(|s| s.node == node) {
            sess.ensure_pipeline(&spec.pipeline).await?;
        }
        let want = desired_entries(&st.intent(), node, &SWITCH_TABLES);
        let mut cur = Vec::new();
        for t in SWITCH_TABLES {
            cur.extend(sess.read_table(t).await?);
        }
        let mut ups = diff(&cur, &want);
        ups.push(EntryUpdate::modify(fm::epoch_entry(
            *self.epoch_tx.borrow(),
            st.settings.retry_allowance,
        )));
        EntryStore::write(self, node, &ups).await?;
        let routes = want
            .into_iter()
            .filter(|e| e.table == names::IPV4_LPM)
            .collect();
        st.routes.insert(node.to_string(), routes);
        Ok(())
    }

    fn is_primary(&self, node: &str) -> bool {
        self.sessions
            .get(node)
            .is_some_and(|s| s.mastership() == Mastership::Primary)
    }

    async fn write_epoch(&self, epoch: u32, allowance: u8) {
        let e = fm::epoch_entry(epoch, allowance);
        for s in self.switches.iter().filter(|s| self.is_primary(&s.node)) {
            if let Err(err) =
                EntryStore::write(self, &s.node, &[EntryUpdate::modify(e.clone())]).await
            {
                warn!(node = s.node, "epoch write failed: {err}");
            }
        }
    }
}

impl Controller {
    /// Connects to every switch, claims mastership, reconciles pipelines and entries, writes the
    /// first epoch, and starts the epoch ticker, the link monitor and the penalty expiry.
    pub async fn start(spec: ControllerSpec) -> Result<Self, StartError> {
        let mut sessions = BTreeMap::new();
        for s in &spec.switches {
            let err = |error| StartError::Switch {
                node: s.node.clone(),
                error,
            };
            let sess = Session::connect(s.session.clone()).await.map_err(err)?;
            if sess.mastership() != Mastership::Primary {
                sess.wait_primary(Duration::from_millis(500)).await;
            }
            // names for reads even while a backup; the primary reconciles the pipeline below
            sess.set_p4info(&s.pipeline.p4info);
            sessions.insert(s.node.clone(), sess);
        }
        let epoch0 = spec.initial_epoch.max(1);
        let (epoch_tx, _) = watch::channel(epoch0);
        let (events, _) = broadcast::channel(1024);
        // the policy in force survives restarts through the audit log
        let mut settings = spec.settings.clone();
        let mut current_version = None;
        if let Some(a) = &spec.audit {
            match a.last_accepted() {
                Ok(Some(rec)) => {
                    current_version = Some(rec.version);
                    match rec.bundle.map(|b| spec.verifier.verify(&b, None, rec.at)) {
                        Some(Ok(v)) => {
                            info!(version = rec.version, "policy restored from the audit log");
                            settings = v.bundle.body.settings;
                        }
                        Some(Err(e)) => warn!("last accepted policy no longer verifies: {e}"),
                        None => warn!("audit log holds no bundle for version {}", rec.version),
                    }
                }
                Ok(None) => {}
                Err(e) => warn!("audit log {}: {e}", a.path().display()),
            }
        }
        let shared = Arc::new(Shared {
            name: spec.name.clone(),
            sender_tag: spec.sender_tag,
            switches: spec.switches.clone(),
            sessions,
            state: Mutex::new(State {
                topology: spec.topology.clone(),
                monitor: LinkMonitor::new(settings.probe_miss_count),
                settings,
                policy_version: current_version,
                penalties: PenaltyBook::default(),
                routes: BTreeMap::new(),
                down: BTreeMap::new(),
                counters: PolicyCounters::default(),
                probe_seq: 0,
                classification: true,
            }),
            epoch_tx,
            events,
            verifier: spec.verifier.clone(),
            audit: spec.audit.clone(),
            clock0: Instant::now(),
            writes_denied: AtomicU64::new(0),
        });
        // Reconcile every switch we are primary of.
        {
            let mut st = shared.state.lock().await;
            for s in &spec.switches {
                if !shared.is_primary(&s.node) {
                    continue;
                }
                shared
                    .reconcile_node(&mut st, &s.node)
                    .await
                    .map_err(|error| StartError::Switch {
                        node: s.node.clone(),
                        error,
                    })?;
            }
        }
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(tasks::epoch_ticker(shared.clone())));
        tasks.push(tokio::spawn(tasks::prober(shared.clone())));
        tasks.push(tokio::spawn(tasks::penalty_expiry(shared.clone())));
        for s in &spec.switches {
            let session = &shared.sessions[&s.node];
            let packet_ins = session.packet_ins();
            tasks.push(tokio::spawn(tasks::packet_in_listener(
                shared.clone(),
                s.node.clone(),
                packet_ins,
            )));
            // after a reconnect the session re-claims mastership; reconcile routes then
            let mastership = session.watch_mastership();
            tasks.push(tokio::spawn(tasks::mastership_watcher(
                shared.clone(),
                s.node.clone(),
                mastership,
            )));
        }
        info!(
            name = spec.name,
            switches = spec.switches.len(),
            "controller started"
        );
        Ok(Controller { shared, tasks })
    }

    /// The controller's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        *self.shared.epoch_tx.borrow()
    }

    /// A receiver that sees every new epoch (the authority's window follows it).
    pub fn watch_epoch(&self) -> watch::Receiver<u32> {
        self.shared.epoch_tx.subscribe()
    }

    /// Moves to the next epoch now (also done by the ticker every epoch length).
    pub async fn advance_epoch(&self) -> u32 {
        tasks::advance(&self.shared).await
    }

    /// Sets the epoch (for example one restored by the authority) and writes it to every switch.
    pub async fn set_epoch(&self, epoch: u32) {
        let sh = &self.shared;
        let allowance = sh.state.lock().await.settings.retry_allowance;
        let epoch = epoch.max(1);
        sh.write_epoch(epoch, allowance).await;
        sh.epoch_tx.send_replace(epoch);
        sh.emit(ControllerEvent::Epoch(epoch));
    }

    /// A receiver of controller events.
    pub fn events(&self) -> broadcast::Receiver<ControllerEvent> {
        self.shared.events.subscribe()
    }

    /// The session of a node's switch.
    pub fn session(&self, node: &str) -> Option<&Session> {
        self.shared.sessions.get(node)
    }

    /// The settings in force and the policy version (None before the first bundle).
    pub async fn policy(&self) -> (Option<u64>, PolicySettings) {
        let st = self.shared.state.lock().await;
        (st.policy_version, st.settings.clone())
    }

    /// Policy decision counts.
    pub async fn policy_counters(&self) -> PolicyCounters {
        self.shared.state.lock().await.counters.clone()
    }

    /// Blocks `sender` on every switch for `duration` (the policy's penalty time if None).
    pub async fn penalize(
        &self,
        sender: [u8; 8],
        duration: Option<Duration>,
    ) -> Result<(), P4rtError> {
        let sh = &self.shared;
        let mut st = sh.state.lock().await;
        let d = duration.unwrap_or(Duration::from_secs(st.settings.penalty_secs));
        let action = st
            .penalties
            .block(sender, sh.now_ms(), d.as_millis() as u64);
        if action == PenaltyAction::Insert {
            let u = EntryUpdate::insert(fm::blocked_entry(sender));
            let mut first_err = None;
            for s in &sh.switches {
                if let Err(e) = EntryStore::write(&**sh, &s.node, std::slice::from_ref(&u)).await {
                    warn!(node = s.node, "block failed: {e}");
                    first_err.get_or_insert(e);
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            sh.emit(ControllerEvent::Blocked(sender));
        }
        Ok(())
    }

    /// Installs (true) or withholds (false) the priority classification entries on every
    /// switch; withheld, every packet but link probes is best effort. For control experiments.
    pub async fn set_classification(&self, enabled: bool) -> Result<(), P4rtError> {
        let sh = &self.shared;
        let mut st = sh.state.lock().await;
        st.classification = enabled;
        for s in &sh.switches {
            let want = desired_entries(&st.intent(), &s.node, &[names::CLASSIFY]);
            let cur = sh.session(&s.node)?.read_table(names::CLASSIFY).await?;
            EntryStore::write(&**sh, &s.node, &diff(&cur, &want)).await?;
        }
        Ok(())
    }

    /// True while `sender` is blocked.
    pub async fn is_blocked(&self, sender: &[u8; 8]) -> bool {
        self.shared.state.lock().await.penalties.is_blocked(sender)
    }

    /// Verifies a bundle and, if accepted, writes its entries to every switch (rolled back on
    /// failure). Every decision is counted and appended to the audit log.
    pub async fn apply_policy(&self, bundle: &PolicyBundle) -> Result<VerifiedPolicy, PolicyError> {
        let sh = &self.shared;
        let now = unix_secs();
        let mut st = sh.state.lock().await;
        let audit = |rec: AuditRecord| {
            if let Some(a) = &sh.audit
                && let Err(e) = a.append(&rec)
            {
                warn!("audit log {}: {e}", a.path().display());
            }
        };
        let verified = match sh.verifier.verify(bundle, st.policy_version, now) {
            Ok(v) => v,
            Err(r) => {
                *st.counters.refused.entry(r.kind().to_string()).or_default() += 1;
                audit(AuditRecord::refused(bundle, &r, now));
                return Err(r.into());
            }
        };
        let new = &verified.bundle.body.settings;
        let old_allowance = st.settings.retry_allowance;
        let epoch = *sh.epoch_tx.borrow();
        let mut desired = BTreeMap::new();
        let intent = Intent {
            settings: new,
            ..st.intent()
        };
        for s in sh.switches.iter().filter(|s| sh.is_primary(&s.node)) {
            let mut v = desired_entries(&intent, &s.node, &POLICY_TABLES);
            v.push(fm::epoch_entry(epoch, new.retry_allowance));
            desired.insert(s.node.clone(), v);
        }
        let tables = POLICY_TABLES;
        if let Err(e) = apply_all(&**sh, &tables, &desired).await {
            // policy tables are restored by apply_all; put the old allowance back too
            sh.write_epoch(epoch, old_allowance).await;
            st.counters.rolled_back += 1;
            audit(AuditRecord::rolled_back(bundle, &e.to_string(), now));
            return Err(e.into());
        }
        st.settings = new.clone();
        st.policy_version = Some(verified.bundle.body.version);
        st.monitor.set_miss_limit(new.probe_miss_count);
        st.counters.accepted += 1;
        audit(AuditRecord::accepted(bundle, now));
        sh.emit(ControllerEvent::PolicyApplied(verified.bundle.body.version));
        info!(version = verified.bundle.body.version, "policy in force");
        Ok(verified)
    }

    /// Stops every task and closes the sessions.
    pub fn shutdown(self) {}

    /// Reports whether a pipeline push happened at start (for reconciliation checks): the
    /// switch's cookie equals ours.
    pub async fn pipeline_in_sync(&self, node: &str) -> Result<bool, P4rtError> {
        let s = self.shared.session(node)?;
        let cookie = self
            .shared
            .switches
            .iter()
            .find(|x| x.node == node)
            .map(|x| x.pipeline.cookie);
        Ok(cookie.is_some() && s.pipeline_cookie().await? == cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The anchor keeps the controller in shared state and calls it from request handlers on a
    /// multi-threaded runtime: the handle must be Send + Sync and its futures Send.
    #[allow(dead_code)]
    fn handles_and_futures_are_send(c: &'static Controller, b: &'static PolicyBundle) {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: T) {}
        send_sync::<Controller>();
        send_sync::<Session>();
        send(c.apply_policy(b));
        send(c.metrics());
        send(c.penalize([0; 8], None));
        send(c.policy());
        send(c.links());
        send(c.set_epoch(3));
        send(c.set_classification(true));
    }

    #[test]
    fn policy_tables_are_the_ones_policy_writes() {
        let s = PolicySettings::default();
        for e in fm::policy_entries(&s) {
            assert!(POLICY_TABLES.contains(&e.table.as_str()), "{}", e.table);
        }
    }
}
