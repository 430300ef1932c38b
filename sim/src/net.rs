//! The network model: the scenario's links, each a pair of lanes (one per direction) with a
//! rate, three strict-priority queues of bounded depth, delay, jitter (order kept) and loss;
//! routes by least cost over the links the control plane believes up, recomputed when that
//! belief changes (a cut is noticed after the reroute delay, as probes would notice it).
//!
//! A lane costs an event only while frames wait in its queues: a frame offered to an idle lane
//! is put on the wire at once, its loss, jitter and arrival decided then; the lane wakes (one
//! event) when it is free again only if something is queued behind. A frame already on the
//! wire when its link is cut still arrives, as one that has left the radio would.

use std::collections::{BTreeSet, HashMap, VecDeque};

use flashmesh_scenario::{Link, LinkParams, Scenario};

use crate::agenda::{Micros, ms};

/// Where a datagram goes: a node and which of its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    /// Node index.
    pub node: usize,
    /// Host on it.
    pub port: Port,
}

/// The hosts a node may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// A merchant's authority for the committee with this index.
    Authority(u16),
    /// A wallet (payer or payee).
    Wallet,
    /// The traffic sink of floods and attackers.
    Aux,
}

impl Addr {
    /// The IPv4 address the data plane sees (10.N.N.P).
    pub fn ipv4(&self) -> u32 {
        let p = match self.port {
            Port::Wallet => 2,
            Port::Aux => 3,
            Port::Authority(c) => 10 + u32::from(c % 240),
        };
        0x0a00_0000 | ((self.node as u32 & 0xffff) << 8) | p
    }
}

/// A datagram in the model.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Source host.
    pub src: Addr,
    /// Destination host.
    pub dst: Addr,
    /// The UDP payload (FMH + body), empty for flood filler.
    pub bytes: Vec<u8>,
    /// Length on the wire in bytes (headers included).
    pub wire_len: u32,
    /// Traffic class: 0 BCB, 1 payment data, 2 best effort.
    pub class: u8,
    /// When the source sent it.
    pub sent_at: Micros,
}

/// One direction of a link.
#[derive(Debug, Default)]
pub struct Lane {
    queues: [VecDeque<Packet>; 3],
    /// When the frame on the wire has been sent.
    busy_until: Micros,
    /// A wake-up is scheduled for the queued frames.
    wake: bool,
    last_arrival: Micros,
}

/// A link's state.
#[derive(Debug, Clone)]
pub struct LinkState {
    /// Ends.
    pub a: usize,
    /// Other end.
    pub b: usize,
    /// Emulation.
    pub params: LinkParams,
    /// Routing cost.
    pub cost: u32,
    /// Cut by an event.
    pub cut: bool,
    /// Cut by a partition.
    pub partitioned: bool,
    /// What routing believes.
    pub believed_up: bool,
}

impl LinkState {
    /// Whether frames cross it now.
    pub fn up(&self) -> bool {
        !self.cut && !self.partitioned
    }
}

/// What a lane does with a packet offered to it.
pub enum Offer {
    /// Queued behind others: nothing to schedule.
    Queued,
    /// Queued on a busy lane that had nothing queued: wake it at this time.
    QueuedWake(Micros),
    /// Dropped (queue full or link down).
    Dropped,
    /// On the wire now: sent at the given time.
    Transmitting(Packet, Micros),
}

/// Default queue depth per class, in packets.
pub const DEFAULT_QUEUE_DEPTH: u32 = 1024;

/// The network.
pub struct Network {
    /// Links by scenario index.
    pub links: Vec<LinkState>,
    adj: Vec<Vec<(usize, usize)>>,
    lanes: Vec<Lane>,
    routes: HashMap<usize, Vec<Option<usize>>>,
    /// Every class goes to the best-effort queue when false (priority flows withheld).
    pub priority: bool,
}

impl Network {
    /// The network of `scenario`.
    pub fn new(scenario: &Scenario) -> Network {
        let mut adj = vec![Vec::new(); scenario.nodes.len()];
        let links: Vec<LinkState> = scenario
            .links
            .iter()
            .map(|l: &Link| LinkState {
                a: l.a,
                b: l.b,
                params: l.params,
                cost: l.cost.max(1),
                cut: l.down,
                partitioned: false,
                believed_up: !l.down,
            })
            .collect();
        for (i, l) in links.iter().enumerate() {
            adj[l.a].push((l.b, i));
            adj[l.b].push((l.a, i));
        }
        let lanes = (0..2 * links.len()).map(|_| Lane::default()).collect();
        Network {
            links,
            adj,
            lanes,
            routes: HashMap::new(),
            priority: true,
        }
    }

    /// Forgets every route (after the believed state of a link changed).
    pub fn invalidate_routes(&mut self) {
        self.routes.clear();
    }

    /// The lane to take from `node` towards `dst`, if any route exists.
    pub fn next_lane(&mut self, node: usize, dst: usize) -> Option<usize> {
        if !self.routes.contains_key(&dst) {
            let table = self.compute_routes(dst);
            self.routes.insert(dst, table);
        }
        self.routes[&dst][node]
    }

    /// Least-cost next lanes of every node towards `dst` (ties: lower node, then lower link).
    fn compute_routes(&self, dst: usize) -> Vec<Option<usize>> {
        let n = self.adj.len();
        let mut dist = vec![u64::MAX; n];
        let mut next = vec![None; n];
        let mut todo = BTreeSet::new();
        dist[dst] = 0;
        todo.insert((0u64, dst));
        while let Some((d, u)) = todo.pop_first() {
            if d > dist[u] {
                continue;
            }
            for &(v, l) in &self.adj[u] {
                let link = &self.links[l];
                if !link.believed_up {
                    continue;
                }
                let nd = d + u64::from(link.cost);
                if nd < dist[v] {
                    if dist[v] != u64::MAX {
                        todo.remove(&(dist[v], v));
                    }
                    dist[v] = nd;
                    // v reaches dst through u: the lane v -> u.
                    next[v] = Some(lane_of(l, link.a == v));
                    todo.insert((nd, v));
                }
            }
        }
        next
    }

    /// The link and far end of a lane.
    pub fn lane_end(&self, lane: usize) -> (usize, usize) {
        let l = lane / 2;
        let link = &self.links[l];
        let far = if lane.is_multiple_of(2) {
            link.b
        } else {
            link.a
        };
        (l, far)
    }

    fn class_of(&self, p: &Packet) -> usize {
        if self.priority {
            p.class.min(2) as usize
        } else {
            2
        }
    }

    /// Offers `p` to `lane` at `now`; returns what happened and the depth of its queue as it
    /// found it.
    pub fn offer(&mut self, lane: usize, p: Packet, now: Micros) -> (Offer, u32) {
        let (l, _) = self.lane_end(lane);
        let link = &self.links[l];
        if !link.up() {
            return (Offer::Dropped, 0);
        }
        let depth_limit = link.params.queue_depth.unwrap_or(DEFAULT_QUEUE_DEPTH) as usize;
        let tx = service_time(&link.params, p.wire_len);
        let class = self.class_of(&p);
        let ln = &mut self.lanes[lane];
        let depth = ln.queues[class].len() as u32;
        if ln.busy_until > now || ln.wake {
            if ln.queues[class].len() >= depth_limit {
                return (Offer::Dropped, depth);
            }
            ln.queues[class].push_back(p);
            if ln.wake {
                return (Offer::Queued, depth);
            }
            ln.wake = true;
            return (Offer::QueuedWake(ln.busy_until), depth);
        }
        ln.busy_until = now + tx;
        (Offer::Transmitting(p, ln.busy_until), depth)
    }

    /// The lane is free at `now`: the next queued frame (strict priority: class 0 first) goes
    /// on the wire, with the time it has been sent and whether to wake the lane again then.
    pub fn next_frame(&mut self, lane: usize, now: Micros) -> Option<(Packet, Micros, bool)> {
        let (l, _) = self.lane_end(lane);
        let params = self.links[l].params;
        let ln = &mut self.lanes[lane];
        let Some(p) = ln.queues.iter_mut().find_map(|q| q.pop_front()) else {
            ln.wake = false;
            return None;
        };
        ln.busy_until = now + service_time(&params, p.wire_len);
        ln.wake = ln.queues.iter().any(|q| !q.is_empty());
        Some((p, ln.busy_until, ln.wake))
    }

    /// Arrival time of a frame whose transmission on `lane` ends at `now`, with `jitter_draw`
    /// in `[0, 1)`; order is kept per lane.
    pub fn arrival(&mut self, lane: usize, now: Micros, jitter_draw: f64) -> Micros {
        let (l, _) = self.lane_end(lane);
        let p = &self.links[l].params;
        let t = now + ms(p.delay_ms) + ms(p.jitter_ms * jitter_draw);
        let ln = &mut self.lanes[lane];
        let t = t.max(ln.last_arrival);
        ln.last_arrival = t;
        t
    }

    /// Drops every frame queued on a link that went down; returns how many.
    pub fn flush_link(&mut self, l: usize) -> usize {
        let mut n = 0;
        for lane in [2 * l, 2 * l + 1] {
            for q in self.lanes[lane].queues.iter_mut() {
                n += q.len();
                q.clear();
            }
        }
        n
    }

    /// Loss probability of the link of `lane`.
    pub fn loss(&self, lane: usize) -> f64 {
        self.links[lane / 2].params.loss
    }
}

/// The lane of link `l` leaving its `a` end (`from_a`) or its `b` end.
pub fn lane_of(l: usize, from_a: bool) -> usize {
    if from_a { 2 * l } else { 2 * l + 1 }
}

/// Time to put `len` bytes on a link with `p`'s rates (the slower of pps and bps).
pub fn service_time(p: &LinkParams, len: u32) -> Micros {
    let mut t = 0u64;
    if let Some(v) = 1_000_000u64.checked_div(p.rate_pps) {
        t = t.max(v);
    }
    if let Some(v) = (u64::from(len) * 8 * 1_000_000).checked_div(p.rate_bps) {
        t = t.max(v);
    }
    t
}
