//! The world of one run: nodes with their switches and hosts, the network between them, the
//! agenda of events, and the loop that takes one event at a time. Everything random comes from
//! the seed's streams, everything timed from the agenda, so a run is a function of
//! (scenario, seed, fault plan).
//!
//! The hosts live in [`crate::hosts`] (authorities, honest or not) and [`crate::payers`]
//! (wallets: payers, payees, Byzantine payers); this module moves datagrams between them:
//! hop by hop through each node's switch (the data plane's filters) and each link's lanes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use flashmesh_core::authority::Genesis;
use flashmesh_core::committee::AuthorityInfo;
use flashmesh_core::keys::PublicKey;
use flashmesh_core::messages::DEFAULT_TOKEN;
use flashmesh_core::wire::Header;
use flashmesh_core::{Committee, Keypair};
use flashmesh_scenario::{EventKind, EventRecord, PaymentRecord, Role, Scenario};

use crate::agenda::{Agenda, Micros, ms, to_ms};
use crate::dataplane::{FilterKey, SwitchFilters};
use crate::hosts::AuthorityHost;
use crate::monitor::Monitor;
use crate::net::{Addr, Network, Offer, Packet, Port};
use crate::payers::{Payee, PayerState};
use crate::plan::{FaultItem, FaultPlan};
use crate::rng::{SimRng, Stream};

/// Bytes of Ethernet, IPv4 and UDP headers in front of a datagram.
pub const FRAME_OVERHEAD: u32 = 42;
/// Time for the control plane to notice a link changed and reroute (probe interval).
pub const REROUTE_DELAY: Micros = 20_000;
/// Group-commit interval of an authority's store.
pub const GROUP_COMMIT: Micros = 1_000;
/// Time for an anchor to install a block entry in its switch after a conflicting order.
pub const PENALTY_DELAY: Micros = 5_000;
/// How long after the faults end every honest payment must have finished.
pub const DEFAULT_LIVENESS_BOUND: Micros = 30_000_000;

/// How one run is set up.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The seed.
    pub seed: u64,
    /// The faults to inject.
    pub plan: FaultPlan,
    /// Record a line per event.
    pub trace: bool,
    /// Payments to make instead of the scenario's workload count (0: the scenario's).
    pub payments: u64,
    /// Liveness bound after the faults end.
    pub liveness_bound: Micros,
    /// Stop at the first violation.
    pub stop_at_violation: bool,
    /// Planted bug of the store model (tests only): a crash also loses durable locks.
    pub lose_locks_on_crash: bool,
    /// Planted bug of the core (tests only, `planted-bugs` feature).
    #[cfg(feature = "planted-bugs")]
    pub planted: flashmesh_core::planted::PlantedBug,
}

impl RunConfig {
    /// The configuration of `seed` with the scenario's fault plan.
    pub fn new(scenario: &Scenario, seed: u64) -> RunConfig {
        RunConfig {
            seed,
            plan: FaultPlan::draw(scenario, seed),
            trace: false,
            payments: 0,
            liveness_bound: DEFAULT_LIVENESS_BOUND,
            stop_at_violation: true,
            lose_locks_on_crash: false,
            #[cfg(feature = "planted-bugs")]
            planted: flashmesh_core::planted::PlantedBug::None,
        }
    }
}

/// What happens next.
#[derive(Debug)]
pub(crate) enum Ev {
    /// A lane with frames queued is free again.
    TxDone { lane: usize },
    /// A frame reaches a node's switch.
    Arrive { node: usize, pkt: Packet },
    /// An authority's store commits.
    Commit { host: usize },
    /// A payer's round wants attention.
    PayerWake { payer: usize, generation: u64 },
    /// A payer pushes certificates to lagging authorities.
    PayerSync { payer: usize },
    /// The workload issues a payment.
    Issue { payer: usize, id: u64 },
    /// A scenario timeline event.
    Timeline(usize),
    /// A planned fault starts.
    FaultStart(usize),
    /// A planned fault ends.
    FaultEnd(usize),
    /// Routing learns the state of every link.
    Believe,
    /// A new epoch.
    Epoch,
    /// A flood sends its next frame.
    Flood { flood: usize },
    /// A replay attacker sends its next copy.
    Replay { replay: usize },
    /// A switch installs a block entry.
    Block { node: usize, sender: u64 },
    /// A Byzantine double spender re-sends its orders.
    Resend { payer: usize },
    /// The end of the run (checked again until the liveness deadline).
    End,
}

/// A running flood.
pub(crate) struct Flood {
    pub from: usize,
    pub to: usize,
    pub interval: Micros,
    pub size: u32,
    pub class: u8,
    pub running: bool,
}

/// A replay attack.
pub(crate) struct ReplayAttack {
    pub attacker: usize,
    pub target: usize,
    pub until: Micros,
    pub captured: Vec<Packet>,
    pub copies: u64,
    pub interval: Micros,
    pub next: usize,
}

/// One committee of the run.
pub(crate) struct SimCommittee {
    pub name: String,
    pub committee: Arc<Committee>,
    pub genesis: Genesis,
    /// Authority hosts in member order.
    pub hosts: Vec<usize>,
}

/// The world.
pub struct World {
    pub(crate) scenario: Scenario,
    pub(crate) config: RunConfig,
    pub(crate) agenda: Agenda<Ev>,
    pub(crate) net: Network,
    pub(crate) switches: Vec<SwitchFilters>,
    pub(crate) hosts: Vec<AuthorityHost>,
    pub(crate) host_at: HashMap<(usize, usize), usize>,
    pub(crate) committees: Vec<SimCommittee>,
    pub(crate) memos: Vec<crate::verify::VerifyMemo>,
    pub(crate) committee_of_account: HashMap<PublicKey, usize>,
    pub(crate) wallet_keys: Vec<Option<Keypair>>,
    pub(crate) payers: Vec<PayerState>,
    pub(crate) payer_at: HashMap<usize, usize>,
    pub(crate) payees: HashMap<usize, Payee>,
    pub(crate) payments: Vec<PaymentRecord>,
    pub(crate) payment_meta: Vec<crate::payers::PaymentMeta>,
    pub(crate) events: Vec<EventRecord>,
    pub(crate) floods: Vec<Flood>,
    pub(crate) replays: Vec<ReplayAttack>,
    pub(crate) epoch: u32,
    pub(crate) net_rng: SimRng,
    pub(crate) work_rng: SimRng,
    pub(crate) byz_rng: SimRng,
    pub(crate) loss: f64,
    pub(crate) duplicate: f64,
    pub(crate) reorder: f64,
    pub(crate) monitor: Monitor,
    pub(crate) counters: BTreeMap<String, f64>,
    /// A reused buffer for counter names made of two parts.
    counter_name: String,
    pub(crate) bcb_delays: Vec<f64>,
    pub(crate) bcb_sent: u64,
    pub(crate) bcb_arrived: u64,
    pub(crate) queue_seen: [(u64, u64, u64); 3],
    pub(crate) trace: Vec<String>,
    pub(crate) end_at: Micros,
    pub(crate) faults_end: Micros,
    pub(crate) finished: bool,
    pub(crate) steps: u64,
}

fn derive_key(rng: &mut SimRng) -> Keypair {
    Keypair::from_seed(&rng.bytes32())
}

impl World {
    /// Builds the world of `scenario` under `config`.
    pub fn new(scenario: &Scenario, config: RunConfig) -> World {
        let seed = config.seed;
        let mut keys_rng = SimRng::new(seed, Stream::Keys);
        let n = scenario.nodes.len();
        // Every phone and merchant holds a wallet key; every merchant an authority key.
        let wallet_keys: Vec<Option<Keypair>> = scenario
            .nodes
            .iter()
            .map(|node| {
                matches!(node.role, Role::Phone | Role::Merchant).then(|| derive_key(&mut keys_rng))
            })
            .collect();
        let authority_keys: Vec<Option<Keypair>> = scenario
            .nodes
            .iter()
            .map(|node| (node.role == Role::Merchant).then(|| derive_key(&mut keys_rng)))
            .collect();
        let byzantine: HashMap<usize, _> = config
            .plan
            .items
            .iter()
            .filter_map(|i| match i {
                FaultItem::Byzantine { node, behaviour } => Some((*node, *behaviour)),
                _ => None,
            })
            .collect();
        let mut hosts = Vec::new();
        let mut host_at = HashMap::new();
        let mut committees = Vec::new();
        let mut committee_of_account = HashMap::new();
        for (ci, c) in scenario.committees.iter().enumerate() {
            let infos: Vec<AuthorityInfo> = c
                .members
                .iter()
                .zip(&c.weights)
                .filter_map(|(&m, &w)| {
                    Some(AuthorityInfo {
                        name: scenario.nodes[m].name.clone(),
                        public_key: authority_keys[m].as_ref()?.public(),
                        weight: w,
                        address: format!("10.{}.{}.{}:47474", m >> 8 & 255, m & 255, 10 + ci),
                    })
                })
                .collect();
            let committee = match Committee::new(infos) {
                Ok(c) => Arc::new(c),
                Err(_) => continue,
            };
            let mut genesis = Genesis::default();
            for &p in &c.serves {
                if let Some(k) = &wallet_keys[p] {
                    committee_of_account.insert(k.public(), committees.len());
                    if scenario.balances[p] > 0 {
                        genesis
                            .balances
                            .push(flashmesh_core::authority::GenesisBalance {
                                account: k.public(),
                                token: DEFAULT_TOKEN,
                                amount: scenario.balances[p],
                            });
                    }
                }
            }
            let mut member_hosts = Vec::new();
            for &m in &c.members {
                let Some(key) = authority_keys[m].clone() else {
                    continue;
                };
                let h = hosts.len();
                match AuthorityHost::new(
                    m,
                    committees.len(),
                    key,
                    committee.clone(),
                    &genesis,
                    byzantine.get(&m).copied(),
                ) {
                    Ok(mut host) => {
                        if config.lose_locks_on_crash {
                            host.plant_lose_locks();
                        }
                        hosts.push(host)
                    }
                    Err(_) => continue,
                }
                host_at.insert((m, committees.len()), h);
                member_hosts.push(h);
            }
            let _ = ci;
            committees.push(SimCommittee {
                name: c.name.clone(),
                committee,
                genesis,
                hosts: member_hosts,
            });
        }
        let supply = committees
            .iter()
            .map(|c| {
                let mut s = BTreeMap::new();
                for b in &c.genesis.balances {
                    *s.entry(b.token).or_insert(0u128) += u128::from(b.amount);
                }
                s
            })
            .collect();
        let mut switches = vec![SwitchFilters::default(); n];
        for s in &mut switches {
            s.current_epoch = 1;
        }
        let mut w = World {
            scenario: scenario.clone(),
            agenda: Agenda::default(),
            net: Network::new(scenario),
            switches,
            hosts,
            host_at,
            memos: (0..committees.len()).map(|_| Default::default()).collect(),
            committees,
            committee_of_account,
            wallet_keys,
            payers: Vec::new(),
            payer_at: HashMap::new(),
            payees: HashMap::new(),
            payments: Vec::new(),
            payment_meta: Vec::new(),
            events: Vec::new(),
            floods: Vec::new(),
            replays: Vec::new(),
            epoch: 1,
            net_rng: SimRng::new(seed, Stream::Network),
            work_rng: SimRng::new(seed, Stream::Workload),
            byz_rng: SimRng::new(seed, Stream::Byzantine),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            monitor: Monitor::new(supply),
            counters: BTreeMap::new(),
            counter_name: String::new(),
            bcb_delays: Vec::new(),
            bcb_sent: 0,
            bcb_arrived: 0,
            queue_seen: [(0, 0, 0); 3],
            trace: Vec::new(),
            end_at: 0,
            faults_end: 0,
            finished: false,
            steps: 0,
            config,
        };
        w.setup_payers();
        w.schedule_start();
        w
    }

    /// Adds `v` to counter `name`.
    pub(crate) fn count(&mut self, name: &str, v: f64) {
        match self.counters.get_mut(name) {
            Some(c) => *c += v,
            None => {
                self.counters.insert(name.to_string(), v);
            }
        }
    }

    /// Adds `v` to the counter `prefix` + `suffix`, without a new string when it exists.
    pub(crate) fn count_of(&mut self, prefix: &str, suffix: &str, v: f64) {
        let mut name = std::mem::take(&mut self.counter_name);
        name.clear();
        name.push_str(prefix);
        name.push_str(suffix);
        self.count(&name, v);
        self.counter_name = name;
    }

    /// Records a trace line (when tracing).
    pub(crate) fn note(&mut self, line: impl FnOnce() -> String) {
        if self.config.trace {
            let t = to_ms(self.agenda.now());
            self.trace.push(format!("{t:>10.3} ms  {}", line()));
        }
    }

    fn event(&mut self, kind: &str, detail: String) {
        let at_ms = to_ms(self.agenda.now());
        self.note(|| format!("{kind}: {detail}"));
        self.events.push(EventRecord {
            at_ms,
            kind: kind.to_string(),
            detail,
        });
    }

    fn schedule_start(&mut self) {
        let s = &self.scenario;
        for (i, e) in s.events.iter().enumerate() {
            self.agenda.at(ms(e.at_ms as f64), Ev::Timeline(i));
        }
        for (i, item) in self.config.plan.items.clone().iter().enumerate() {
            match item {
                FaultItem::Loss { p } => self.loss = *p,
                FaultItem::Duplicate { p } => self.duplicate = *p,
                FaultItem::Reorder { p } => self.reorder = *p,
                FaultItem::Crash { at, down, .. } => {
                    self.agenda.at(*at, Ev::FaultStart(i));
                    self.agenda.at(at + down, Ev::FaultEnd(i));
                }
                FaultItem::Partition { at, length, .. } => {
                    self.agenda.at(*at, Ev::FaultStart(i));
                    self.agenda.at(at + length, Ev::FaultEnd(i));
                }
                FaultItem::Byzantine { .. } | FaultItem::ByzantinePayer { .. } => {}
            }
            self.count_of("faults.", item.kind(), 1.0);
        }
        self.faults_end = self.config.plan.faults_end();
        if self.scenario.epoch_ms > 0 {
            self.agenda.at(ms(self.scenario.epoch_ms as f64), Ev::Epoch);
        }
        self.end_at = ms((self.scenario.duration_ms + self.scenario.drain_ms) as f64);
        self.agenda.at(self.end_at, Ev::End);
        self.schedule_workload();
    }

    /// Runs to the end; returns whether it finished (rather than stopping at a violation).
    pub fn run(&mut self) -> bool {
        while let Some((_, ev)) = self.agenda.pop() {
            self.steps += 1;
            self.step(ev);
            if self.finished {
                break;
            }
            if self.config.stop_at_violation && self.monitor.broken() {
                let v = format!("violation: {:?}", self.monitor.violations[0]);
                self.note(|| v);
                return false;
            }
        }
        true
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::TxDone { lane } => self.tx_done(lane),
            Ev::Arrive { node, pkt } => self.arrive(node, pkt),
            Ev::Commit { host } => self.commit(host),
            Ev::PayerWake { payer, generation } => self.payer_wake(payer, generation),
            Ev::PayerSync { payer } => self.payer_sync(payer),
            Ev::Issue { payer, id } => self.issue(payer, id),
            Ev::Timeline(i) => self.timeline(i),
            Ev::FaultStart(i) => self.fault(i, true),
            Ev::FaultEnd(i) => self.fault(i, false),
            Ev::Believe => {
                for l in &mut self.net.links {
                    l.believed_up = l.up();
                }
                self.net.invalidate_routes();
            }
            Ev::Epoch => {
                self.epoch += 1;
                for s in &mut self.switches {
                    s.current_epoch = self.epoch;
                    s.prune();
                }
                self.agenda
                    .after(ms(self.scenario.epoch_ms as f64), Ev::Epoch);
            }
            Ev::Flood { flood } => self.flood(flood),
            Ev::Replay { replay } => self.replay_tick(replay),
            Ev::Block { node, sender } => {
                self.switches[node].blocked.insert(sender);
                self.count("penalty.blocks_installed", 1.0);
            }
            Ev::Resend { payer } => self.double_spend_resend(payer),
            Ev::End => self.end(),
        }
    }

    /// Sends `bytes` from `src` to `dst` now (class 0: BCB).
    pub(crate) fn send(&mut self, src: Addr, dst: Addr, bytes: Vec<u8>) {
        let wire_len = bytes.len() as u32 + FRAME_OVERHEAD;
        self.bcb_sent += 1;
        let pkt = Packet {
            src,
            dst,
            bytes,
            wire_len,
            class: 0,
            sent_at: self.agenda.now(),
        };
        self.arrive(src.node, pkt);
    }

    fn filter_key(pkt: &Packet) -> Option<FilterKey> {
        let h = Header::new_checked(&pkt.bytes[..]).ok()?;
        Some(FilterKey {
            msg_type: h.msg_type_raw(),
            retry: h.retry(),
            epoch: h.epoch(),
            ttl: h.ttl(),
            sender: h.sender().to_u64(),
            nonce: h.nonce(),
            dst: pkt.dst.ipv4(),
        })
    }

    /// A frame at `node`'s switch: filters, then the host or the next lane.
    fn arrive(&mut self, node: usize, pkt: Packet) {
        let fmh = !pkt.bytes.is_empty();
        if fmh {
            if let Some(k) = Self::filter_key(&pkt)
                && let Err(d) = self.switches[node].check(&k)
            {
                self.count_of("switch.drop.", d.name(), 1.0);
                self.note(|| format!("switch {node} drops {:?} ({d:?})", k.msg_type));
                return;
            }
            self.capture(node, &pkt);
        }
        if pkt.dst.node == node {
            if fmh {
                self.bcb_arrived += 1;
                self.bcb_delays
                    .push(to_ms(self.agenda.now().saturating_sub(pkt.sent_at)));
            }
            self.deliver(pkt);
            return;
        }
        let Some(lane) = self.net.next_lane(node, pkt.dst.node) else {
            self.count("net.drop.no_route", 1.0);
            return;
        };
        let class = pkt.class.min(2) as usize;
        let now = self.agenda.now();
        let (offer, depth) = self.net.offer(lane, pkt, now);
        let q = &mut self.queue_seen[class];
        q.0 += 1;
        q.1 += u64::from(depth);
        q.2 = q.2.max(u64::from(depth));
        match offer {
            Offer::Queued => {}
            Offer::Dropped => self.count("net.drop.queue_or_down", 1.0),
            Offer::QueuedWake(at) => self.agenda.at(at, Ev::TxDone { lane }),
            Offer::Transmitting(pkt, sent) => self.launch(lane, pkt, sent),
        }
    }

    /// A lane is free: its next queued frame goes on the wire.
    fn tx_done(&mut self, lane: usize) {
        let now = self.agenda.now();
        if let Some((pkt, sent, wake)) = self.net.next_frame(lane, now) {
            if wake {
                self.agenda.at(sent, Ev::TxDone { lane });
            }
            self.launch(lane, pkt, sent);
        }
    }

    /// `pkt` is on the wire of `lane` until `sent`: lost, or scheduled to arrive.
    fn launch(&mut self, lane: usize, pkt: Packet, sent: Micros) {
        let (l, far) = self.net.lane_end(lane);
        if !self.net.links[l].up() {
            self.count("net.drop.link_down", 1.0);
            return;
        }
        let link_loss = self.net.loss(lane);
        let loss = 1.0 - (1.0 - link_loss) * (1.0 - self.loss);
        if self.net_rng.chance(loss) {
            self.count("net.drop.loss", 1.0);
            return;
        }
        let jitter = self.net_rng.unit();
        let mut at = self.net.arrival(lane, sent, jitter);
        if self.reorder > 0.0 && self.net_rng.chance(self.reorder) {
            let delay = ms(self.net.links[l].params.delay_ms).max(1_000);
            at += self.net_rng.between(1, 2 * delay);
            self.count("faults.reordered", 1.0);
        }
        if self.duplicate > 0.0 && self.net_rng.chance(self.duplicate) {
            let extra = self.net_rng.between(0, 2_000);
            self.count("faults.duplicated", 1.0);
            self.agenda.at(
                at + extra,
                Ev::Arrive {
                    node: far,
                    pkt: pkt.clone(),
                },
            );
        }
        self.agenda.at(at, Ev::Arrive { node: far, pkt });
    }

    fn deliver(&mut self, pkt: Packet) {
        match pkt.dst.port {
            Port::Authority(c) => {
                if let Some(&h) = self.host_at.get(&(pkt.dst.node, c as usize)) {
                    self.authority_receive(h, pkt);
                } else {
                    self.count("host.drop.no_authority", 1.0);
                }
            }
            Port::Wallet => self.wallet_receive(pkt),
            Port::Aux => self.count("host.aux_received", 1.0),
        }
    }

    fn capture(&mut self, node: usize, pkt: &Packet) {
        let now = self.agenda.now();
        for r in &mut self.replays {
            if r.attacker == node && now < r.until && r.captured.len() < 10_000 {
                r.captured.push(pkt.clone());
            }
        }
    }

    fn timeline(&mut self, i: usize) {
        let e = self.scenario.events[i].clone();
        let now = self.agenda.now();
        match e.kind {
            EventKind::FloodStart {
                from,
                to,
                rate_pps,
                size_bytes,
                class,
            } => {
                let class = match class {
                    flashmesh_scenario::file::FloodClass::BestEffort => 2,
                    flashmesh_scenario::file::FloodClass::PaymentData => 1,
                };
                let interval = (1_000_000 / rate_pps.max(1)).max(1);
                self.floods.push(Flood {
                    from,
                    to,
                    interval,
                    size: size_bytes,
                    class,
                    running: true,
                });
                let f = self.floods.len() - 1;
                self.agenda.after(0, Ev::Flood { flood: f });
                self.event("flood_start", format!("{from}->{to} {rate_pps} pps"));
            }
            EventKind::FloodStop { from, to } => {
                for f in &mut self.floods {
                    if f.from == from && f.to == to {
                        f.running = false;
                    }
                }
                self.event("flood_stop", format!("{from}->{to}"));
            }
            EventKind::Priority { enabled } => {
                self.net.priority = enabled;
                self.event("priority", format!("{enabled}"));
            }
            EventKind::Replay {
                attacker,
                target,
                capture_ms,
                copies,
                rate_pps,
            } => {
                let until = now + ms(capture_ms as f64);
                self.replays.push(ReplayAttack {
                    attacker,
                    target,
                    until,
                    captured: Vec::new(),
                    copies,
                    interval: (1_000_000 / rate_pps.max(1)).max(1),
                    next: 0,
                });
                let r = self.replays.len() - 1;
                self.agenda.at(until, Ev::Replay { replay: r });
                self.event("replay", format!("attacker {attacker} target {target}"));
            }
            EventKind::LinkCut { link } => self.set_link(link, true),
            EventKind::LinkRestore { link } => self.set_link(link, false),
            EventKind::LinkSet { link, params } => {
                self.net.links[link].params = params;
                self.event("link_set", self.net_link_name(link));
            }
            EventKind::AnchorCrash { node } => self.crash(node),
            EventKind::AnchorRestart { node } => self.restart(node),
            EventKind::Move {
                node,
                to,
                trace,
                handoff,
            } => {
                self.event("move", format!("{node} to {to} handoff={handoff}"));
                if handoff {
                    self.count("move.handoff_not_simulated", 1.0);
                }
                for st in trace {
                    let at = now + ms(st.after_ms as f64);
                    // Mobility steps are timeline link changes at their own times.
                    if let Some(l) = st.cut {
                        self.schedule_link(at, l, true);
                    }
                    if let Some(l) = st.restore {
                        self.schedule_link(at, l, false);
                    }
                }
            }
            EventKind::Partition { groups } => {
                let mut group = vec![0usize; self.scenario.nodes.len()];
                for (g, members) in groups.iter().enumerate() {
                    for &m in members {
                        group[m] = g;
                    }
                }
                for l in &mut self.net.links {
                    l.partitioned = group[l.a] != group[l.b];
                }
                self.after_link_change();
                self.event("partition", format!("{} groups", groups.len()));
            }
            EventKind::Heal => {
                for l in &mut self.net.links {
                    l.partitioned = false;
                }
                self.after_link_change();
                self.event("heal", String::new());
            }
        }
    }

    fn net_link_name(&self, l: usize) -> String {
        self.scenario.links[l].name.clone()
    }

    fn schedule_link(&mut self, at: Micros, link: usize, cut: bool) {
        // Encoded as a synthetic timeline event appended to the scenario.
        let kind = if cut {
            EventKind::LinkCut { link }
        } else {
            EventKind::LinkRestore { link }
        };
        self.scenario.events.push(flashmesh_scenario::Event {
            at_ms: (at / 1000),
            kind,
        });
        let i = self.scenario.events.len() - 1;
        self.agenda.at(at, Ev::Timeline(i));
    }

    fn set_link(&mut self, link: usize, cut: bool) {
        self.net.links[link].cut = cut;
        if cut {
            let n = self.net.flush_link(link);
            self.count("net.drop.link_down", n as f64);
        }
        self.after_link_change();
        let name = self.net_link_name(link);
        self.event(if cut { "link_cut" } else { "link_restore" }, name);
    }

    fn after_link_change(&mut self) {
        self.agenda.after(REROUTE_DELAY, Ev::Believe);
    }

    fn fault(&mut self, i: usize, start: bool) {
        let item = self.config.plan.items[i].clone();
        match item {
            FaultItem::Crash { node, .. } => {
                if start {
                    self.crash(node)
                } else {
                    self.restart(node)
                }
            }
            FaultItem::Partition { side, .. } => {
                if start {
                    let mut inside = vec![false; self.scenario.nodes.len()];
                    for n in &self.scenario.nodes {
                        let c = n.cluster.unwrap_or(n.index);
                        if side.contains(&n.index) || side.contains(&c) {
                            inside[n.index] = true;
                        }
                    }
                    for l in &mut self.net.links {
                        if inside[l.a] != inside[l.b] {
                            l.partitioned = true;
                        }
                    }
                    self.event("partition", format!("{side:?} cut off"));
                } else {
                    for l in &mut self.net.links {
                        l.partitioned = false;
                    }
                    self.event("heal", format!("{side:?}"));
                }
                self.after_link_change();
            }
            _ => {}
        }
    }

    fn crash(&mut self, node: usize) {
        let hosts: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| self.hosts[h].node == node)
            .collect();
        let mut lost = 0;
        for h in hosts {
            lost += self.hosts[h].crash();
        }
        self.count("faults.crashes", 1.0);
        self.count("store.uncommitted_lost", lost as f64);
        self.event(
            "anchor_crash",
            format!("node {node}, {lost} uncommitted changes lost"),
        );
    }

    fn restart(&mut self, node: usize) {
        let hosts: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| self.hosts[h].node == node)
            .collect();
        for h in hosts {
            let ci = self.hosts[h].committee;
            let genesis = self.committees[ci].genesis.clone();
            if let Err(e) = self.hosts[h].restart(&genesis) {
                let at = self.agenda.now();
                self.monitor.violate(
                    crate::monitor::names::RECOVERY,
                    at,
                    format!("authority at node {node} could not recover: {e}"),
                );
            }
        }
        self.event("anchor_restart", format!("node {node}"));
    }

    fn flood(&mut self, f: usize) {
        let fl = &self.floods[f];
        if !fl.running {
            return;
        }
        let (from, to, size, class, interval) = (fl.from, fl.to, fl.size, fl.class, fl.interval);
        let pkt = Packet {
            src: Addr {
                node: from,
                port: Port::Aux,
            },
            dst: Addr {
                node: to,
                port: Port::Aux,
            },
            bytes: Vec::new(),
            wire_len: size + FRAME_OVERHEAD,
            class,
            sent_at: self.agenda.now(),
        };
        self.count("flood.sent", 1.0);
        self.arrive(from, pkt);
        if self.agenda.now() < self.end_at {
            self.agenda.after(interval, Ev::Flood { flood: f });
        }
    }

    fn replay_tick(&mut self, r: usize) {
        let ra = &mut self.replays[r];
        let total = ra.captured.len() as u64 * ra.copies;
        if ra.next as u64 >= total {
            return;
        }
        let pkt = ra.captured[ra.next % ra.captured.len().max(1)].clone();
        ra.next += 1;
        let (attacker, target, interval) = (ra.attacker, ra.target, ra.interval);
        let committee = match pkt.dst.port {
            Port::Authority(c) => c,
            _ => 0,
        };
        self.count("replay.sent", 1.0);
        let dst = Addr {
            node: target,
            port: Port::Authority(committee),
        };
        let src = Addr {
            node: attacker,
            port: Port::Aux,
        };
        self.send(src, dst, pkt.bytes);
        self.agenda.after(interval, Ev::Replay { replay: r });
    }

    /// The authority host of committee `c`'s member `i`, as an address.
    pub(crate) fn authority_addr(&self, c: usize, i: usize) -> Addr {
        let h = self.committees[c].hosts[i];
        Addr {
            node: self.hosts[h].node,
            port: Port::Authority(c as u16),
        }
    }

    fn end(&mut self) {
        let now = self.agenda.now();
        let deadline = self.faults_end.max(self.last_issue()) + self.config.liveness_bound;
        if !self.quiet() && now < deadline {
            self.agenda
                .after(1_000_000.min(deadline - now).max(1), Ev::End);
            return;
        }
        self.check_liveness(now);
        self.check_convergence(now);
        self.finished = true;
    }

    /// Virtual time of the last event handled.
    pub fn now(&self) -> Micros {
        self.agenda.now()
    }
}
