//! The mesh's control plane: one P4Runtime controller per merchant anchor, driving the
//! merchant's switch and its cluster's phones over gRPC on loopback, all sharing one topology.
//! Policy changes (withholding the priority flows for the control experiment) go through
//! bundles signed by the mesh's operator key, as on a real deployment.

use std::collections::BTreeMap;
use std::sync::Arc;

use flashmesh_controller::p4rt::{Backoff, Pipeline, SessionConfig};
use flashmesh_controller::policy::{
    ClassRule, OperatorKey, PolicyBody, PolicyBundle, PolicySettings, PolicyVerifier,
};
use flashmesh_controller::runtime::ControllerEvent;
use flashmesh_controller::runtime::SwitchSpec;
use flashmesh_controller::runtime::config::sender_tag;
use flashmesh_controller::sdn::flash_mesh::names;
use flashmesh_controller::{Controller, ControllerSpec};
use flashmesh_core::wire::MsgType;

use crate::error::MeshError;
use crate::fabric::Fabric;

/// The classification rule that keeps link probes in the strict-priority class, so that a
/// congested link is not mistaken for a dead one.
pub fn probe_rule() -> ClassRule {
    ClassRule {
        msg_type: MsgType::Probe.to_u8(),
        class: 0,
        priority: 7,
    }
}

/// The settings the anchors start with: the default classes (BCB strict priority) plus the
/// probe rule, an epoch that does not roll during a run, probes every `probe_ms`.
pub fn initial_settings(probe_ms: u64, miss_count: u32) -> PolicySettings {
    let mut s = PolicySettings::default();
    if !s
        .classes
        .iter()
        .any(|r| r.msg_type == MsgType::Probe.to_u8())
    {
        s.classes.push(probe_rule());
    }
    s.epoch_length_ms = 3_600_000;
    s.probe_interval_ms = probe_ms;
    s.probe_miss_count = miss_count;
    s
}

/// `base` with the priority flows withheld: no classification entry for any BCB message type
/// (they fall to the best-effort default); only the probe rule stays.
pub fn withheld(base: &PolicySettings) -> PolicySettings {
    PolicySettings {
        classes: vec![probe_rule()],
        ..base.clone()
    }
}

/// The controllers' slots, shared with the link-state relays.
type Slots = Arc<parking_lot::RwLock<Vec<Option<Arc<Controller>>>>>;

/// The running controllers of a mesh (each run by its merchant's anchor). Each controller
/// probes only its own switches' links; what its probes find is flooded to the others (one relay
/// task per controller), so that every anchor routes around a link that is down anywhere.
pub struct MeshControl {
    controllers: Slots,
    relays: parking_lot::Mutex<Vec<Option<tokio::task::JoinHandle<()>>>>,
    driven: Vec<Vec<String>>,
    operator: OperatorKey,
    version: std::sync::atomic::AtomicU64,
}

impl MeshControl {
    /// The controller of each merchant, in merchant order, for its anchor to start: it claims
    /// mastership of its switches, pushes the pipeline (reconciled by cookie), writes the
    /// epoch, the policy entries and the routes, and probes every link port of its switches.
    /// Policy bundles must be signed by `operator`.
    pub fn specs(
        fabric: &Fabric,
        pipeline: &Pipeline,
        settings: &PolicySettings,
        operator: &OperatorKey,
    ) -> Vec<ControllerSpec> {
        let plan = fabric.plan();
        let topology = plan.topology();
        let verifier = PolicyVerifier::new(vec![operator.public()], 1);
        let mut specs = Vec::new();
        for m in plan.merchants() {
            let name = format!("anchor-{}", m.name);
            let switches = plan
                .driven_by(m.index)
                .into_iter()
                .map(|n| SwitchSpec {
                    node: plan.nodes[n].name.clone(),
                    session: SessionConfig {
                        addr: fabric.grpc_addr(n).to_string(),
                        device_id: n as u64,
                        election_id: 10,
                        election_id_high: 0,
                        role: String::new(),
                        backoff: Backoff::default(),
                    },
                    pipeline: pipeline.clone(),
                    probe_ip: plan.nodes[n].host_ip(),
                })
                .collect::<Vec<SwitchSpec>>();
            specs.push(ControllerSpec {
                sender_tag: sender_tag(&name),
                name: name.clone(),
                switches,
                topology: topology.clone(),
                settings: settings.clone(),
                verifier: verifier.clone(),
                audit: None,
                initial_epoch: 1,
            });
        }
        specs
    }

    /// The running controllers (one per merchant, in merchant order, driving the switches
    /// named in `driven`; `None` for a merchant whose anchor is down), and the operator that
    /// signs policy for them.
    pub fn new(
        controllers: Vec<Option<Arc<Controller>>>,
        driven: Vec<Vec<String>>,
        operator: OperatorKey,
    ) -> MeshControl {
        let slots: Slots = Arc::new(parking_lot::RwLock::new(controllers));
        let relays = slots
            .read()
            .iter()
            .enumerate()
            .map(|(i, c)| c.as_ref().map(|c| relay(slots.clone(), i, c.events())))
            .collect();
        MeshControl {
            controllers: slots,
            relays: parking_lot::Mutex::new(relays),
            driven,
            operator,
            version: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The running controllers, in merchant order.
    pub fn controllers(&self) -> Vec<Arc<Controller>> {
        self.controllers.read().iter().flatten().cloned().collect()
    }

    /// Takes the `i`-th merchant's controller out (its anchor went down); its switches keep
    /// forwarding on the entries they hold.
    pub fn remove(&self, i: usize) {
        if let Some(slot) = self.controllers.write().get_mut(i) {
            *slot = None;
        }
        if let Some(Some(r)) = self.relays.lock().get_mut(i).map(Option::take) {
            r.abort();
        }
    }

    /// Puts the `i`-th merchant's (restarted) controller in: it learns the link state the
    /// others' probes hold, they learn what its probes hold, and its relay starts.
    pub async fn join(&self, i: usize, controller: Arc<Controller>) {
        let others = others(&self.controllers, i);
        for o in &others {
            for (node, port, up) in o.probed_link_states().await {
                controller.learn_link(&node, port, up).await;
            }
        }
        for (node, port, up) in controller.probed_link_states().await {
            for o in &others {
                o.learn_link(&node, port, up).await;
            }
        }
        let rx = controller.events();
        if let Some(slot) = self.controllers.write().get_mut(i) {
            *slot = Some(controller);
        }
        if let Some(r) = self.relays.lock().get_mut(i) {
            if let Some(old) = r.take() {
                old.abort();
            }
            *r = Some(relay(self.controllers.clone(), i, rx));
        }
    }

    /// The epoch of the first running controller (they move together), 1 if none runs.
    pub fn epoch(&self) -> u32 {
        self.controllers().first().map_or(1, |c| c.epoch())
    }

    /// Signs `settings` as the next policy version and puts it in force on every controller.
    pub async fn apply(&self, settings: &PolicySettings, note: &str) -> Result<(), MeshError> {
        let version = self
            .version
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let now = flashmesh_core::host::clock::unix_secs();
        let mut bundle = PolicyBundle {
            body: PolicyBody {
                version,
                expires_at: now + 3600,
                note: note.to_string(),
                settings: settings.clone(),
            },
            signatures: Vec::new(),
        };
        self.operator.sign(&mut bundle);
        for c in self.controllers() {
            c.apply_policy(&bundle)
                .await
                .map_err(|e| MeshError::Controller(c.name().to_string(), e.to_string()))?;
        }
        Ok(())
    }

    /// Waits until the probes of every controller have confirmed each of its link ports and
    /// none is down (or `timeout` passes). Returns whether they all were.
    pub async fn wait_links_up(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut all = true;
            for c in self.controllers() {
                for l in c.links().await {
                    for end in [&l.a, &l.b].into_iter().flatten() {
                        all &= end.confirmed && !end.down;
                    }
                }
            }
            if all {
                // and stay so for a few probe rounds
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The in-switch drop counters of every switch, summed by reason, read over P4Runtime.
    pub async fn drops(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        let controllers = self.controllers.read().clone();
        for (c, nodes) in controllers.iter().zip(&self.driven) {
            let Some(c) = c else { continue };
            for node in nodes {
                if let Some(s) = c.session(node)
                    && let Ok(cells) = s.read_counter(names::DROPS).await
                {
                    for (i, packets, _) in cells {
                        if packets > 0 {
                            *out.entry(i as u32).or_insert(0) += packets;
                        }
                    }
                }
            }
        }
        out
    }

    /// Stops every controller.
    pub fn shutdown(self) {
        for r in self.relays.lock().iter().flatten() {
            r.abort();
        }
        self.controllers.write().clear();
    }
}

/// The running controllers other than the `i`-th.
fn others(slots: &Slots, i: usize) -> Vec<Arc<Controller>> {
    slots
        .read()
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .filter_map(|(_, c)| c.clone())
        .collect()
}

/// Floods the link changes controller `i` reports to every other running controller. After a
/// lag (events lost) it re-sends the whole of `i`'s probed state.
fn relay(
    slots: Slots,
    i: usize,
    mut events: tokio::sync::broadcast::Receiver<ControllerEvent>,
) -> tokio::task::JoinHandle<()> {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            let changes = match events.recv().await {
                Ok(ControllerEvent::LinkDown { node, port }) => vec![(node, port, false)],
                Ok(ControllerEvent::LinkUp { node, port }) => vec![(node, port, true)],
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    let me = slots.read().get(i).cloned().flatten();
                    match me {
                        Some(c) => c.probed_link_states().await,
                        None => break,
                    }
                }
                Err(RecvError::Closed) => break,
            };
            let others = others(&slots, i);
            for (node, port, up) in changes {
                for o in &others {
                    o.learn_link(&node, port, up).await;
                }
            }
        }
    })
}
