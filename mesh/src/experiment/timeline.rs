//! The scenario's timeline on the embedded mesh: floods, priority changes by signed policy,
//! replay attacks, link cuts, restores and changes, anchor crashes (as SIGKILL: dropped where
//! they stand) and restarts from their stores, mobility traces and partitions. Each action is
//! logged for `events.csv` as it happens.

use std::collections::BTreeMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flash_switch::link::LinkParams;
use flashmesh_core::BCB_UDP_PORT;
use flashmesh_scenario::resolve::Class as FloodClass;
use flashmesh_scenario::{EventKind, EventRecord, Scenario};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::MeshError;
use crate::fabric::{FLOOD_PORT, Fabric, stream_datagram};
use crate::layout::link_params;
use crate::mesh::{HandoffRequest, Mesh};

/// How long a reroute probe stream runs after a cut at most.
const REROUTE_WINDOW: Duration = Duration::from_secs(3);

/// One thing the timeline does at a time.
#[derive(Debug, Clone)]
pub struct Action {
    /// When, ms from the start.
    pub at_ms: u64,
    /// What.
    pub step: Step,
}

/// A timeline step: a scenario event, or one step of a mobility trace.
#[derive(Debug, Clone)]
pub enum Step {
    /// As written in the scenario.
    Event(EventKind),
    /// A trace's link cut.
    TraceCut(usize),
    /// A trace's link restore.
    TraceRestore(usize),
}

/// The scenario's events with each mobility trace expanded into its link steps, by time.
pub fn actions(s: &Scenario) -> Vec<Action> {
    let mut out = Vec::new();
    for e in &s.events {
        out.push(Action {
            at_ms: e.at_ms,
            step: Step::Event(e.kind.clone()),
        });
        if let EventKind::Move { trace, .. } = &e.kind {
            for t in trace {
                if let Some(link) = t.restore {
                    out.push(Action {
                        at_ms: e.at_ms + t.after_ms,
                        step: Step::TraceRestore(link),
                    });
                }
                if let Some(link) = t.cut {
                    out.push(Action {
                        at_ms: e.at_ms + t.after_ms,
                        step: Step::TraceCut(link),
                    });
                }
            }
        }
    }
    out.sort_by_key(|a| a.at_ms);
    out
}

/// A phone's move, for the interruption window.
#[derive(Debug, Clone)]
pub struct MoveRecord {
    /// The phone.
    pub node: usize,
    /// When the move began, ms.
    pub at_ms: f64,
}

/// A reroute measurement: a 1 kHz stream across a cut link, from one end's auxiliary host to
/// the other's.
struct RerouteProbe {
    task: JoinHandle<Option<f64>>,
}

/// The timeline's state while the run goes.
pub struct Timeline {
    fabric: Arc<Fabric>,
    start: Instant,
    params: Vec<LinkParams>,
    cut_by_event: Vec<bool>,
    cut_by_partition: Vec<bool>,
    floods: BTreeMap<(usize, usize), Arc<AtomicBool>>,
    flood_tasks: Vec<JoinHandle<u64>>,
    replay_tasks: Vec<JoinHandle<u64>>,
    probes: Vec<RerouteProbe>,
    base: flashmesh_controller::policy::PolicySettings,
    epoch: Arc<AtomicU32>,
    /// What happened, for `events.csv`.
    pub log: Vec<EventRecord>,
    /// Moves, for the interruption window.
    pub moves: Vec<MoveRecord>,
    /// Where each payer (by phone node) is asked to move its account.
    pub handoff_requests: BTreeMap<usize, Arc<HandoffRequest>>,
    next_probe: u64,
}

/// What the timeline's side traffic measured.
#[derive(Debug, Default, Clone)]
pub struct SideTotals {
    /// Flood frames offered.
    pub flood_sent: u64,
    /// Replayed datagrams sent.
    pub replays_sent: u64,
    /// Reroute times of the cuts that had a detour, ms.
    pub reroute_ms: Vec<(f64, f64)>,
}

impl Timeline {
    /// A timeline over `mesh`, whose links start as the scenario sets them.
    pub fn new(
        s: &Scenario,
        mesh: &Mesh,
        start: Instant,
        epoch: Arc<AtomicU32>,
    ) -> Result<Timeline, MeshError> {
        let fabric = mesh.fabric.clone();
        let mut cut = vec![false; s.links.len()];
        for l in &s.links {
            if let Some(depth) = l.params.queue_depth {
                fabric.set_queue_depth(l.index, depth)?;
            }
            cut[l.index] = l.down;
        }
        Ok(Timeline {
            params: s.links.iter().map(|l| link_params(&l.params)).collect(),
            cut_by_event: cut,
            cut_by_partition: vec![false; s.links.len()],
            fabric,
            start,
            floods: BTreeMap::new(),
            flood_tasks: Vec::new(),
            replay_tasks: Vec::new(),
            probes: Vec::new(),
            base: mesh.settings.clone(),
            epoch,
            log: Vec::new(),
            moves: Vec::new(),
            handoff_requests: BTreeMap::new(),
            next_probe: 0,
        })
    }

    fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn note(&mut self, kind: &str, subject: &str, detail: String) {
        let at_ms = self.now_ms();
        let detail = if detail.is_empty() {
            subject.to_string()
        } else {
            format!("{subject}: {detail}")
        };
        self.log.push(EventRecord {
            at_ms,
            kind: kind.to_string(),
            detail,
        });
    }

    fn apply_link(&self, link: usize) -> Result<(), MeshError> {
        let p = if self.cut_by_event[link] || self.cut_by_partition[link] {
            LinkParams {
                loss: 1.0,
                ..self.params[link]
            }
        } else {
            self.params[link]
        };
        self.fabric.set_link(link, p)
    }

    fn cut(&mut self, s: &Scenario, link: usize, kind: &str) -> Result<(), MeshError> {
        let was = self.cut_by_event[link] || self.cut_by_partition[link];
        self.cut_by_event[link] = true;
        self.apply_link(link)?;
        self.note(kind, &s.links[link].name, String::new());
        if !was {
            self.probe_reroute(link);
        }
        Ok(())
    }

    fn restore(&mut self, s: &Scenario, link: usize, kind: &str) -> Result<(), MeshError> {
        self.cut_by_event[link] = false;
        self.apply_link(link)?;
        self.note(kind, &s.links[link].name, String::new());
        Ok(())
    }

    /// Starts the 1 kHz stream that times the detour around a just-cut link.
    fn probe_reroute(&mut self, link: usize) {
        let plan = self.fabric.plan();
        let l = &plan.links[link];
        let (src, dst) = (l.a.0, l.b.0);
        let to = SocketAddrV4::new(plan.nodes[dst].aux_ip(), BCB_UDP_PORT);
        let base = (self.next_probe + 1) << 32;
        self.next_probe += 1;
        let fabric = self.fabric.clone();
        let epoch = self.epoch.clone();
        let task = tokio::spawn(async move {
            let cut = Instant::now();
            let mut sent_at = Vec::new();
            let mut first = None;
            while cut.elapsed() < REROUTE_WINDOW {
                let seq = base + sent_at.len() as u64;
                sent_at.push(Instant::now());
                let e = epoch.load(Ordering::Relaxed);
                fabric.aux_send(src, 47_000, to, &stream_datagram(seq, e));
                tokio::time::sleep(Duration::from_millis(1)).await;
                if sent_at.len() % 20 == 0 {
                    first = first_arrival(&fabric, dst, base, &sent_at);
                    if first.is_some() {
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let first = first.or_else(|| first_arrival(&fabric, dst, base, &sent_at));
            first.map(|sent| sent.duration_since(cut).as_secs_f64() * 1000.0)
        });
        self.probes.push(RerouteProbe { task });
    }

    /// Runs one action.
    pub async fn run(
        &mut self,
        s: &Scenario,
        mesh: &mut Mesh,
        a: &Action,
    ) -> Result<(), MeshError> {
        match &a.step {
            Step::TraceCut(link) => self.cut(s, *link, "trace_cut")?,
            Step::TraceRestore(link) => self.restore(s, *link, "trace_restore")?,
            Step::Event(kind) => self.event(s, mesh, kind).await?,
        }
        Ok(())
    }

    async fn event(
        &mut self,
        s: &Scenario,
        mesh: &mut Mesh,
        kind: &EventKind,
    ) -> Result<(), MeshError> {
        let name = |n: usize| s.nodes[n].name.clone();
        match kind {
            EventKind::FloodStart {
                from,
                to,
                rate_pps,
                size_bytes,
                class,
            } => {
                let stop = Arc::new(AtomicBool::new(false));
                if let Some(old) = self.floods.insert((*from, *to), stop.clone()) {
                    old.store(true, Ordering::Relaxed);
                }
                let payload = flood_payload(*size_bytes as usize, *class);
                let fabric = self.fabric.clone();
                let (src, dst, pps) = (*from, *to, *rate_pps as f64);
                let epoch = self.epoch.clone();
                self.flood_tasks.push(tokio::spawn(flood(
                    fabric, src, dst, pps, payload, stop, epoch,
                )));
                self.note(
                    "flood_start",
                    &format!("{}>{}", name(*from), name(*to)),
                    format!("{rate_pps} pps, {size_bytes} B, {class:?}"),
                );
            }
            EventKind::FloodStop { from, to } => {
                if let Some(stop) = self.floods.remove(&(*from, *to)) {
                    stop.store(true, Ordering::Relaxed);
                }
                self.note(
                    "flood_stop",
                    &format!("{}>{}", name(*from), name(*to)),
                    String::new(),
                );
            }
            EventKind::Priority { enabled } => {
                let settings = if *enabled {
                    self.base.clone()
                } else {
                    crate::control::withheld(&self.base)
                };
                let note = if *enabled {
                    "install BCB priority flows"
                } else {
                    "withhold BCB priority flows"
                };
                mesh.control.apply(&settings, note).await?;
                self.note("priority", "policy", format!("enabled = {enabled}"));
            }
            EventKind::Replay {
                attacker,
                target,
                capture_ms,
                copies,
                rate_pps,
            } => {
                let to =
                    SocketAddrV4::new(self.fabric.plan().nodes[*target].host_ip(), BCB_UDP_PORT);
                let transports = mesh.payer_transports.clone();
                let fabric = self.fabric.clone();
                let (attacker, capture, copies, pps) = (
                    *attacker,
                    Duration::from_millis(*capture_ms),
                    *copies,
                    *rate_pps,
                );
                self.replay_tasks.push(tokio::spawn(async move {
                    replay(fabric, transports, attacker, to, capture, copies, pps).await
                }));
                self.note(
                    "replay",
                    &name(*target),
                    format!(
                        "attacker {}, capture {capture_ms} ms, {copies} copies at {rate_pps} pps",
                        name(attacker)
                    ),
                );
            }
            EventKind::LinkCut { link } => self.cut(s, *link, "link_cut")?,
            EventKind::LinkRestore { link } => self.restore(s, *link, "link_restore")?,
            EventKind::LinkSet { link, params } => {
                self.params[*link] = link_params(params);
                self.apply_link(*link)?;
                if let Some(depth) = params.queue_depth {
                    self.fabric.set_queue_depth(*link, depth)?;
                }
                self.note("link_set", &s.links[*link].name, format!("{params:?}"));
            }
            EventKind::AnchorCrash { node } => {
                let i = mesh
                    .anchor_index(*node)
                    .ok_or_else(|| MeshError::Setup(format!("{} runs no anchor", name(*node))))?;
                let was = mesh.crash_anchor(i);
                self.note("anchor_crash", &name(*node), format!("killed = {was}"));
            }
            EventKind::AnchorRestart { node } => {
                let i = mesh
                    .anchor_index(*node)
                    .ok_or_else(|| MeshError::Setup(format!("{} runs no anchor", name(*node))))?;
                let t = Instant::now();
                mesh.restart_anchor(i).await?;
                self.note(
                    "anchor_restart",
                    &name(*node),
                    format!("recovered in {:.1} ms", t.elapsed().as_secs_f64() * 1000.0),
                );
            }
            EventKind::Move {
                node, to, handoff, ..
            } => {
                let at_ms = self.now_ms();
                self.moves.push(MoveRecord { node: *node, at_ms });
                let target = handoff
                    .then(|| super::population::handoff_target(s, *node, *to))
                    .flatten();
                let detail = match (target, self.handoff_requests.get(node)) {
                    (Some(c), Some(request)) => {
                        let committee = s.committees[c].name.clone();
                        request.ask(committee.clone(), mesh.committees[c].clone());
                        format!(
                            "to {}; handing the account to committee {committee}",
                            name(*to)
                        )
                    }
                    (Some(_), None) => format!("to {}; it makes no payments to move", name(*to)),
                    (None, _) if *handoff => format!(
                        "to {}; the same committee serves it there, nothing to hand off",
                        name(*to)
                    ),
                    (None, _) => format!("to {}", name(*to)),
                };
                self.note("move", &name(*node), detail);
            }
            EventKind::Partition { groups } => {
                let mut group_of = vec![0usize; s.nodes.len()];
                for (g, members) in groups.iter().enumerate() {
                    for &n in members {
                        group_of[n] = g;
                    }
                }
                let mut cut = 0;
                for l in &s.links {
                    if group_of[l.a] != group_of[l.b] && !self.cut_by_partition[l.index] {
                        self.cut_by_partition[l.index] = true;
                        self.apply_link(l.index)?;
                        cut += 1;
                    }
                }
                self.note(
                    "partition",
                    "mesh",
                    format!("{} groups, {cut} links cut", groups.len()),
                );
            }
            EventKind::Heal => {
                let mut healed = 0;
                for l in 0..self.cut_by_partition.len() {
                    if std::mem::take(&mut self.cut_by_partition[l]) {
                        self.apply_link(l)?;
                        healed += 1;
                    }
                }
                self.note("heal", "mesh", format!("{healed} links restored"));
            }
        }
        Ok(())
    }

    /// Stops the floods and waits for the side traffic to finish; what it measured.
    pub async fn finish(&mut self) -> SideTotals {
        for stop in self.floods.values() {
            stop.store(true, Ordering::Relaxed);
        }
        let mut totals = SideTotals::default();
        for t in self.flood_tasks.drain(..) {
            totals.flood_sent += t.await.unwrap_or(0);
        }
        for t in self.replay_tasks.drain(..) {
            totals.replays_sent += t.await.unwrap_or(0);
        }
        let cuts: Vec<f64> = self
            .log
            .iter()
            .filter(|e| e.kind == "link_cut" || e.kind == "trace_cut")
            .map(|e| e.at_ms)
            .collect();
        for (p, at) in self.probes.drain(..).zip(cuts) {
            if let Ok(Some(ms)) = p.task.await {
                totals.reroute_ms.push((at, ms));
            }
        }
        totals
    }
}

/// The send time of the first stream packet with sequence numbers from `base` that arrived.
fn first_arrival(fabric: &Fabric, dst: usize, base: u64, sent_at: &[Instant]) -> Option<Instant> {
    let arrivals = fabric.aux(dst).stream.lock();
    arrivals
        .iter()
        .filter(|(seq, _)| *seq >= base && *seq < base + (1 << 32))
        .filter_map(|(seq, _)| sent_at.get((*seq - base) as usize).copied())
        .min()
}

/// A flood frame's payload: plain bytes for best effort, an FMH PAYMENT_DATA header first for
/// the payment-data class.
fn flood_payload(size: usize, class: FloodClass) -> Vec<u8> {
    let mut p = vec![0x5au8; size.max(32)];
    if matches!(class, FloodClass::PaymentData) {
        p[..32].fill(0);
        p[0] = 1;
        p[1] = 8;
        p[8..16].copy_from_slice(b"fm-flood");
        p[24] = 16;
        p[25] = 16;
    }
    p
}

async fn flood(
    fabric: Arc<Fabric>,
    src: usize,
    dst: usize,
    pps: f64,
    mut payload: Vec<u8>,
    stop: Arc<AtomicBool>,
    epoch: Arc<AtomicU32>,
) -> u64 {
    let to = SocketAddrV4::new(fabric.plan().nodes[dst].aux_ip(), FLOOD_PORT);
    let start = Instant::now();
    let mut sent = 0u64;
    let fmh = payload.len() >= 32 && payload[1] == 8;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * pps) as u64;
        while sent < due {
            if fmh {
                // distinct nonces, so the duplicate filter does not drop the flood itself
                payload[16..24].copy_from_slice(&sent.to_be_bytes());
                payload[4..8].copy_from_slice(&epoch.load(Ordering::Relaxed).to_be_bytes());
            }
            fabric.aux_send(src, FLOOD_PORT, to, &payload);
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sent
}

/// Records the orders and certificates the payers send to `to` for `capture`, then sends
/// `copies` exact copies of each from the attacker's auxiliary host at `pps`.
async fn replay(
    fabric: Arc<Fabric>,
    transports: Vec<Arc<crate::transport::FrameTransport>>,
    attacker: usize,
    to: SocketAddrV4,
    capture: Duration,
    copies: u64,
    pps: u64,
) -> u64 {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for t in &transports {
        t.set_tap(Some(tx.clone()));
    }
    drop(tx);
    tokio::time::sleep(capture).await;
    for t in &transports {
        t.set_tap(None);
    }
    let mut captured = Vec::new();
    while let Ok((d, dst)) = rx.try_recv() {
        if dst == SocketAddr::V4(to)
            && d.len() > 32
            && (d[1] == 1 || d[1] == 3)
            && captured.len() < 10_000
        {
            captured.push(d);
        }
    }
    let gap = Duration::from_secs_f64(1.0 / pps.max(1) as f64);
    let mut sent = 0u64;
    let mut next = Instant::now();
    for d in &captured {
        for _ in 0..copies.max(1) {
            fabric.aux_send(attacker, 47_001, to, d);
            sent += 1;
            next += gap;
            if next > Instant::now() {
                tokio::time::sleep_until(next.into()).await;
            }
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobility_trace_expands_into_link_steps() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bmv2-testbed/scenarios/mobility.toml");
        let s = flashmesh_scenario::load_file(&path).unwrap();
        let a = actions(&s);
        assert_eq!(a.len(), 3);
        assert!(matches!(a[0].step, Step::Event(EventKind::Move { .. })));
        assert!(matches!(a[1].step, Step::TraceRestore(_)));
        assert_eq!(a[2].at_ms, 8500);
        assert!(matches!(a[2].step, Step::TraceCut(_)));
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }

    #[test]
    fn flood_payloads_by_class() {
        let p = flood_payload(200, FloodClass::PaymentData);
        let h = flashmesh_core::Header::new_checked(&p[..32]).expect("FMH");
        assert_eq!(h.msg_type(), Some(flashmesh_core::MsgType::PaymentData));
        assert_eq!(flood_payload(10, FloodClass::BestEffort).len(), 32);
    }
}
