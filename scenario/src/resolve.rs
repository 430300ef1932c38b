//! The checked scenario: generated topology expanded, names resolved to indices, defaults
//! applied, events sorted by time. [`resolve`] reports the first problem with its field path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::Problem;
use crate::file::{
    self, AssertFile, ByzantineBehaviour, ByzantinePayerBehaviour, CommitteeMode, EventFile,
    EventKindName, FloodClass, GenerateKind, LinkClassFile, LinkParamsFile, RoleFile, ScenarioFile,
};

/// A scenario ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// Timeline length.
    pub duration_ms: u64,
    /// Epoch length (0 = fixed epoch).
    pub epoch_ms: u64,
    /// Time for payments in flight after the timeline.
    pub drain_ms: u64,
    /// Nodes, generated ones first.
    pub nodes: Vec<Node>,
    /// Links.
    pub links: Vec<Link>,
    /// Committees.
    pub committees: Vec<Committee>,
    /// Starting balance per node index (0 for nodes without an account).
    pub balances: Vec<u64>,
    /// Payments.
    pub workload: Workload,
    /// Phases; `all` first.
    pub phases: Vec<Phase>,
    /// The timeline, by time (stable for equal times).
    pub events: Vec<Event>,
    /// Random faults.
    pub faults: Faults,
    /// KPI assertions.
    pub asserts: Vec<Assertion>,
    /// Time scale for short runs.
    pub short_factor: f64,
    /// Targets meant for (empty = all).
    pub only: Vec<String>,
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Anchor.
    Merchant,
    /// Wallet.
    Phone,
    /// Switch only.
    Forwarder,
    /// Switch and gateway.
    Gateway,
}

impl Role {
    /// As written in files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Merchant => "merchant",
            Role::Phone => "phone",
            Role::Forwarder => "forwarder",
            Role::Gateway => "gateway",
        }
    }
}

/// A node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Index in [`Scenario::nodes`].
    pub index: usize,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The merchant (node index) whose cluster it is in: itself for a merchant, the given or
    /// nearest merchant for a phone, none for forwarders and gateways.
    pub cluster: Option<usize>,
}

/// Emulation of a link, both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LinkParams {
    /// One-way delay.
    pub delay_ms: f64,
    /// Jitter.
    pub jitter_ms: f64,
    /// Loss fraction.
    pub loss: f64,
    /// Packets per second (0 = unlimited).
    pub rate_pps: u64,
    /// Bits per second (0 = unlimited).
    pub rate_bps: u64,
    /// Queue depth per priority queue (None = the target's default).
    pub queue_depth: Option<u32>,
}

impl LinkParams {
    /// True when the link asks for delay, jitter or loss emulation.
    pub fn has_delay_or_loss(&self) -> bool {
        self.delay_ms > 0.0 || self.jitter_ms > 0.0 || self.loss > 0.0
    }

    fn overlay(mut self, f: &LinkParamsFile) -> LinkParams {
        if let Some(v) = f.delay_ms {
            self.delay_ms = v;
        }
        if let Some(v) = f.jitter_ms {
            self.jitter_ms = v;
        }
        if let Some(v) = f.loss {
            self.loss = v;
        }
        if let Some(v) = f.rate_pps {
            self.rate_pps = v;
        }
        if let Some(v) = f.rate_bps {
            self.rate_bps = v;
        }
        if let Some(v) = f.queue_depth {
            self.queue_depth = Some(v);
        }
        self
    }
}

/// Class of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkClass {
    /// Merchants and forwarders.
    Backbone,
    /// A phone on an end.
    Radio,
}

/// A link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// Index in [`Scenario::links`].
    pub index: usize,
    /// Name.
    pub name: String,
    /// One end (node index).
    pub a: usize,
    /// The other end.
    pub b: usize,
    /// Class.
    pub class: LinkClass,
    /// Routing cost.
    pub cost: u32,
    /// Down at the start.
    pub down: bool,
    /// Emulation.
    pub params: LinkParams,
}

/// A committee.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Committee {
    /// Name.
    pub name: String,
    /// Merchant node indices.
    pub members: Vec<usize>,
    /// Weights in member order.
    pub weights: Vec<u64>,
    /// Phone node indices whose accounts it serves at the start.
    pub serves: Vec<usize>,
}

impl Committee {
    /// Weight that makes a quorum: more than two thirds of the total.
    pub fn quorum_weight(&self) -> u64 {
        let total: u64 = self.weights.iter().sum();
        total * 2 / 3 + 1
    }
}

/// Whom payers pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayeeRule {
    /// The next merchant on the ring from the payer's cluster.
    NextCluster,
    /// The payer's own merchant.
    OwnCluster,
    /// A merchant drawn at random per payment.
    RandomMerchant,
    /// One node.
    Node(usize),
}

/// The payments to make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// Paying phones.
    pub payers: Vec<usize>,
    /// Starts per second over all payers.
    pub rate_per_s: f64,
    /// Total payments (0 = by rate until `stop_ms`).
    pub payments: u64,
    /// Smallest amount.
    pub amount_min: u64,
    /// Largest amount.
    pub amount_max: u64,
    /// First start.
    pub start_ms: u64,
    /// Last start.
    pub stop_ms: u64,
    /// Payee rule.
    pub payee: PayeeRule,
    /// Give-up time.
    pub timeout_ms: u64,
    /// Retransmissions.
    pub retries: u8,
    /// Time between retransmissions.
    pub retry_ms: u64,
}

/// A named time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    /// Name.
    pub name: String,
    /// Start.
    pub start_ms: u64,
    /// End.
    pub end_ms: u64,
}

/// One timeline step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When.
    pub at_ms: u64,
    /// What.
    pub kind: EventKind,
}

/// What an event does, with names resolved to indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// Flood from `from`'s auxiliary host to `to`'s.
    FloodStart {
        /// Source.
        from: usize,
        /// Sink.
        to: usize,
        /// Rate.
        rate_pps: u64,
        /// Payload size.
        size_bytes: u32,
        /// Class.
        class: FloodClass,
    },
    /// Stop it.
    FloodStop {
        /// Source.
        from: usize,
        /// Sink.
        to: usize,
    },
    /// Priority flows on or off.
    Priority {
        /// On.
        enabled: bool,
    },
    /// Record then replay.
    Replay {
        /// Attacker's node.
        attacker: usize,
        /// Target anchor.
        target: usize,
        /// Recording time.
        capture_ms: u64,
        /// Copies of each.
        copies: u64,
        /// Replay rate.
        rate_pps: u64,
    },
    /// Link down.
    LinkCut {
        /// Link index.
        link: usize,
    },
    /// Link up.
    LinkRestore {
        /// Link index.
        link: usize,
    },
    /// Link emulation change.
    LinkSet {
        /// Link index.
        link: usize,
        /// New parameters.
        params: LinkParams,
    },
    /// Kill an anchor.
    AnchorCrash {
        /// Merchant.
        node: usize,
    },
    /// Start it again.
    AnchorRestart {
        /// Merchant.
        node: usize,
    },
    /// A phone moves.
    Move {
        /// Phone.
        node: usize,
        /// New merchant.
        to: usize,
        /// Link changes.
        trace: Vec<TraceStep>,
        /// Hand the account off.
        handoff: bool,
    },
    /// Split into groups (node indices; every node is in exactly one).
    Partition {
        /// Groups.
        groups: Vec<Vec<usize>>,
    },
    /// Heal every partition.
    Heal,
}

/// One step of a mobility trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStep {
    /// Delay after the move.
    pub after_ms: u64,
    /// Link cut, if any.
    pub cut: Option<usize>,
    /// Link restored, if any.
    pub restore: Option<usize>,
}

/// Random faults, resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Extra loss.
    pub loss: f64,
    /// Duplication fraction.
    pub duplicate: f64,
    /// Reordering fraction.
    pub reorder: f64,
    /// Crashes per second.
    pub crash_rate_per_s: f64,
    /// Down time after a crash.
    pub restart_ms: u64,
    /// Partitions per second.
    pub partition_rate_per_s: f64,
    /// Partition length.
    pub heal_ms: u64,
    /// Byzantine authorities (node, behaviour).
    pub byzantine: Vec<(usize, ByzantineBehaviour)>,
    /// Byzantine payers (node, behaviour).
    pub byzantine_payers: Vec<(usize, ByzantinePayerBehaviour)>,
}

impl Faults {
    /// True when any random fault is asked for.
    pub fn any(&self) -> bool {
        self.loss > 0.0
            || self.duplicate > 0.0
            || self.reorder > 0.0
            || self.crash_rate_per_s > 0.0
            || self.partition_rate_per_s > 0.0
            || !self.byzantine.is_empty()
            || !self.byzantine_payers.is_empty()
    }
}

/// Comparison of an assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// The KPI exists (is not null).
    Present,
}

impl Op {
    /// As written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Present => "present",
        }
    }
}

/// What a KPI is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Rhs {
    /// A number.
    Value(f64),
    /// Another KPI times a factor.
    Kpi {
        /// KPI name.
        kpi: String,
        /// Phase.
        phase: String,
        /// Multiplier.
        factor: f64,
    },
    /// Nothing (`present`).
    None,
}

/// A KPI assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assertion {
    /// KPI name.
    pub kpi: String,
    /// Phase.
    pub phase: String,
    /// Comparison.
    pub op: Op,
    /// Compared with.
    pub rhs: Rhs,
    /// Targets it applies to (empty = all).
    pub targets: Vec<String>,
}

/// Target names a scenario may name.
pub const TARGET_NAMES: [&str; 3] = ["embedded", "mininet", "sim"];

struct Names {
    index: BTreeMap<String, usize>,
}

impl Names {
    fn get(&self, name: &str, path: &str) -> Result<usize, Problem> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Problem::at(path, format!("no node named `{name}`")))
    }
}

/// Checks `file` and resolves it.
pub fn resolve(file: ScenarioFile) -> Result<Scenario, Problem> {
    let h = &file.scenario;
    if h.name.trim().is_empty() {
        return Err(Problem::at("scenario.name", "must not be empty"));
    }
    if h.duration_ms == 0 {
        return Err(Problem::at("scenario.duration_ms", "must be more than 0"));
    }
    let (nodes, mut links) = topology(&file)?;
    let names = Names {
        index: nodes.iter().map(|n| (n.name.clone(), n.index)).collect(),
    };
    let link_index: BTreeMap<String, usize> =
        links.iter().map(|l| (l.name.clone(), l.index)).collect();
    for l in &mut links {
        l.index = link_index[&l.name];
    }
    let committees = committees(&file, &nodes, &names)?;
    let balances = balances(&file, &nodes, &names)?;
    let workload = workload(&file, &nodes, &names)?;
    let phases = phases(&file)?;
    let find_link = |name: &str, path: &str| {
        link_index
            .get(name)
            .copied()
            .ok_or_else(|| Problem::at(path, format!("no link named `{name}`")))
    };
    let mut events = Vec::new();
    for (i, ev) in file.events.iter().enumerate() {
        events.push(event(i, ev, &file, &nodes, &names, &links, &find_link)?);
    }
    events.sort_by_key(|e| e.at_ms);
    let faults = faults(&file, &nodes, &names)?;
    let asserts = assertions(&file.asserts, &phases)?;
    let short_factor = file.targets.short_factor.unwrap_or(1.0);
    if !(short_factor > 0.0 && short_factor <= 1.0) {
        return Err(Problem::at("targets.short_factor", "must be in (0, 1]"));
    }
    for (i, t) in file.targets.only.iter().enumerate() {
        if !TARGET_NAMES.contains(&t.as_str()) {
            return Err(Problem::at(
                &format!("targets.only[{i}]"),
                format!("unknown target `{t}` (embedded, mininet, sim)"),
            ));
        }
    }
    Ok(Scenario {
        name: h.name.clone(),
        description: h.description.clone(),
        seed: h.seed,
        duration_ms: h.duration_ms,
        epoch_ms: h.epoch_ms,
        drain_ms: h.drain_ms,
        nodes,
        links,
        committees,
        balances,
        workload,
        phases,
        events,
        faults,
        asserts,
        short_factor,
        only: file.targets.only.clone(),
    })
}

fn check_params(p: &LinkParamsFile, path: &str) -> Result<(), Problem> {
    let non_negative = |v: Option<f64>, f: &str| match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => Err(Problem::at(
            &format!("{path}{f}"),
            format!("must be a finite number >= 0, not {x}"),
        )),
        _ => Ok(()),
    };
    non_negative(p.delay_ms, "delay_ms")?;
    non_negative(p.jitter_ms, "jitter_ms")?;
    if let Some(l) = p.loss
        && !(0.0..=1.0).contains(&l)
    {
        return Err(Problem::at(
            &format!("{path}loss"),
            format!("is a fraction in [0, 1], not {l}"),
        ));
    }
    if p.queue_depth == Some(0) {
        return Err(Problem::at(
            &format!("{path}queue_depth"),
            "must be at least 1",
        ));
    }
    Ok(())
}

fn role(r: RoleFile) -> Role {
    match r {
        RoleFile::Merchant => Role::Merchant,
        RoleFile::Phone => Role::Phone,
        RoleFile::Forwarder => Role::Forwarder,
        RoleFile::Gateway => Role::Gateway,
    }
}

struct RawLink {
    name: String,
    a: usize,
    b: usize,
    class: Option<LinkClass>,
    cost: u32,
    down: bool,
    params: LinkParamsFile,
}

fn topology(file: &ScenarioFile) -> Result<(Vec<Node>, Vec<Link>), Problem> {
    let t = &file.topology;
    check_params(&t.defaults.backbone, "topology.defaults.backbone.")?;
    check_params(&t.defaults.radio, "topology.defaults.radio.")?;
    let mut nodes: Vec<Node> = Vec::new();
    let mut raw: Vec<RawLink> = Vec::new();
    let mut cluster_names: Vec<Option<String>> = Vec::new();
    let add = |nodes: &mut Vec<Node>, name: String, role: Role| {
        let index = nodes.len();
        nodes.push(Node {
            index,
            name,
            role,
            cluster: None,
        });
        index
    };
    if let Some(g) = &t.generate {
        match g.kind {
            GenerateKind::Clusters => {}
        }
        if g.merchants == 0 {
            return Err(Problem::at(
                "topology.generate.merchants",
                "must be at least 1",
            ));
        }
        if g.max_depth == 0 {
            return Err(Problem::at(
                "topology.generate.max_depth",
                "must be at least 1",
            ));
        }
        if g.merchants + g.merchants * g.phones_per_merchant > 65_000 {
            return Err(Problem::at("topology.generate", "more than 65,000 nodes"));
        }
        let merchants: Vec<usize> = (0..g.merchants)
            .map(|i| add(&mut nodes, format!("m{i}"), Role::Merchant))
            .collect();
        cluster_names.extend(merchants.iter().map(|_| None));
        let ring_links = match g.merchants {
            1 => 0,
            2 => 1,
            n => n,
        };
        for i in 0..ring_links {
            let (a, b) = (merchants[i], merchants[(i + 1) % g.merchants]);
            let mut prev = a;
            for j in 0..g.forwarders_per_link {
                let f = add(&mut nodes, format!("f{i}_{j}"), Role::Forwarder);
                cluster_names.push(None);
                raw.push(generated_link(&nodes, prev, f, LinkClass::Backbone));
                prev = f;
            }
            raw.push(generated_link(&nodes, prev, b, LinkClass::Backbone));
        }
        let mut phone_no = 0;
        for (i, &m) in merchants.iter().enumerate() {
            let mut last = None;
            for j in 0..g.phones_per_merchant {
                let p = add(&mut nodes, format!("p{phone_no}"), Role::Phone);
                phone_no += 1;
                nodes[p].cluster = Some(m);
                cluster_names.push(None);
                let parent = if j % g.max_depth == 0 { m } else { p - 1 };
                raw.push(generated_link(&nodes, parent, p, LinkClass::Radio));
                last = Some(p);
            }
            if g.cross_links
                && g.merchants > 1
                && let Some(p) = last
            {
                let next = merchants[(i + 1) % g.merchants];
                let mut l = generated_link(&nodes, p, next, LinkClass::Radio);
                l.cost = 2;
                raw.push(l);
            }
        }
    }
    let generated = nodes.len();
    let generated_links = raw.len();
    let mut replaced: Vec<usize> = Vec::new();
    let mut seen: BTreeSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
    for (i, n) in t.nodes.iter().enumerate() {
        let path = format!("topology.node[{i}].name");
        if n.name.is_empty() || n.name.contains(char::is_whitespace) {
            return Err(Problem::at(&path, "a node name is one word"));
        }
        if !seen.insert(n.name.clone()) {
            return Err(Problem::at(
                &path,
                format!("node `{}` is defined twice", n.name),
            ));
        }
        add(&mut nodes, n.name.clone(), role(n.role));
        cluster_names.push(n.cluster.clone());
    }
    let by_name: BTreeMap<String, usize> =
        nodes.iter().map(|n| (n.name.clone(), n.index)).collect();
    for (i, l) in t.links.iter().enumerate() {
        let end = |name: &str, f: &str| {
            by_name.get(name).copied().ok_or_else(|| {
                Problem::at(
                    &format!("topology.link[{i}].{f}"),
                    format!("no node named `{name}`"),
                )
            })
        };
        let (a, b) = (end(&l.a, "a")?, end(&l.b, "b")?);
        if a == b {
            return Err(Problem::at(
                &format!("topology.link[{i}].b"),
                "a link joins two different nodes",
            ));
        }
        check_params(&l.params(), &format!("topology.link[{i}]."))?;
        // A listed link between two nodes a generated link already joins replaces it (so a
        // scenario can make one generated link the bottleneck or start it down).
        let generated_same = raw[..generated_links]
            .iter()
            .position(|r| (r.a, r.b) == (a, b) || (r.a, r.b) == (b, a));
        let slot = RawLink {
            name: l.name.clone().unwrap_or_else(|| format!("{}-{}", l.a, l.b)),
            a,
            b,
            class: l.class.map(|c| match c {
                LinkClassFile::Backbone => LinkClass::Backbone,
                LinkClassFile::Radio => LinkClass::Radio,
            }),
            cost: l.cost.unwrap_or(1),
            down: l.down,
            params: l.params(),
        };
        match generated_same {
            Some(k) => {
                let mut merged = slot;
                if l.name.is_none() {
                    merged.name = raw[k].name.clone();
                }
                if merged.class.is_none() {
                    merged.class = raw[k].class;
                }
                raw[k] = merged;
                replaced.push(i);
            }
            None => raw.push(slot),
        }
    }
    let mut link_names = BTreeSet::new();
    let mut links = Vec::new();
    let appended: Vec<usize> = (0..t.links.len())
        .filter(|i| !replaced.contains(i))
        .collect();
    for (k, r) in raw.into_iter().enumerate() {
        if !link_names.insert(r.name.clone()) {
            let path = if k >= generated_links {
                format!("topology.link[{}].name", appended[k - generated_links])
            } else {
                "topology.generate".to_string()
            };
            return Err(Problem::at(
                &path,
                format!("link `{}` is defined twice", r.name),
            ));
        }
        let phone_end = nodes[r.a].role == Role::Phone || nodes[r.b].role == Role::Phone;
        let class = r.class.unwrap_or(if phone_end {
            LinkClass::Radio
        } else {
            LinkClass::Backbone
        });
        let base = match class {
            LinkClass::Backbone => &t.defaults.backbone,
            LinkClass::Radio => &t.defaults.radio,
        };
        let params = LinkParams::default().overlay(base).overlay(&r.params);
        links.push(Link {
            index: links.len(),
            name: r.name,
            a: r.a,
            b: r.b,
            class,
            cost: r.cost,
            down: r.down,
            params,
        });
    }
    // Clusters: merchants are their own; explicit phones take the named or nearest merchant.
    for i in 0..nodes.len() {
        match nodes[i].role {
            Role::Merchant => nodes[i].cluster = Some(i),
            Role::Phone if i >= generated => {
                let path = format!("topology.node[{}].cluster", i - generated);
                nodes[i].cluster = match &cluster_names[i] {
                    Some(name) => {
                        let m = *by_name
                            .get(name.as_str())
                            .ok_or_else(|| Problem::at(&path, format!("no node named `{name}`")))?;
                        if nodes[m].role != Role::Merchant {
                            return Err(Problem::at(&path, format!("`{name}` is not a merchant")));
                        }
                        Some(m)
                    }
                    None => nearest_merchant(&nodes, &links, i),
                };
            }
            _ => {}
        }
    }
    if !nodes.iter().any(|n| n.role == Role::Merchant) {
        return Err(Problem::at(
            "topology",
            "a scenario needs at least one merchant",
        ));
    }
    Ok((nodes, links))
}

fn generated_link(nodes: &[Node], a: usize, b: usize, class: LinkClass) -> RawLink {
    RawLink {
        name: format!("{}-{}", nodes[a].name, nodes[b].name),
        a,
        b,
        class: Some(class),
        cost: 1,
        down: false,
        params: LinkParamsFile::default(),
    }
}

/// The merchant fewest hops away over links up at the start (ties: lowest index).
fn nearest_merchant(nodes: &[Node], links: &[Link], from: usize) -> Option<usize> {
    let mut dist = vec![usize::MAX; nodes.len()];
    let mut queue = std::collections::VecDeque::from([from]);
    dist[from] = 0;
    while let Some(n) = queue.pop_front() {
        if nodes[n].role == Role::Merchant {
            return Some(n);
        }
        let mut next: Vec<usize> = links
            .iter()
            .filter(|l| !l.down)
            .filter_map(|l| {
                if l.a == n {
                    Some(l.b)
                } else if l.b == n {
                    Some(l.a)
                } else {
                    None
                }
            })
            .collect();
        next.sort_unstable();
        for m in next {
            if dist[m] == usize::MAX {
                dist[m] = dist[n] + 1;
                queue.push_back(m);
            }
        }
    }
    None
}

fn committees(
    file: &ScenarioFile,
    nodes: &[Node],
    names: &Names,
) -> Result<Vec<Committee>, Problem> {
    let merchants: Vec<usize> = nodes
        .iter()
        .filter(|n| n.role == Role::Merchant)
        .map(|n| n.index)
        .collect();
    let phones: Vec<usize> = nodes
        .iter()
        .filter(|n| n.role == Role::Phone)
        .map(|n| n.index)
        .collect();
    let c = &file.committees;
    if c.mode != CommitteeMode::Explicit && !c.committees.is_empty() {
        return Err(Problem::at(
            "committees.committee",
            "committees are listed only with mode = \"explicit\"",
        ));
    }
    let list = match c.mode {
        CommitteeMode::Shared => vec![Committee {
            name: "shared".to_string(),
            weights: vec![1; merchants.len()],
            members: merchants.clone(),
            serves: phones.clone(),
        }],
        CommitteeMode::PerMerchant => merchants
            .iter()
            .map(|&m| Committee {
                name: format!("c-{}", nodes[m].name),
                members: vec![m],
                weights: vec![1],
                serves: phones
                    .iter()
                    .copied()
                    .filter(|&p| nodes[p].cluster == Some(m))
                    .collect(),
            })
            .collect(),
        CommitteeMode::Explicit => {
            if c.committees.is_empty() {
                return Err(Problem::at(
                    "committees.mode",
                    "explicit mode lists committees",
                ));
            }
            let mut out = Vec::new();
            let mut seen = BTreeSet::new();
            for (i, cf) in c.committees.iter().enumerate() {
                let at = |f: &str| format!("committees.committee[{i}].{f}");
                if !seen.insert(cf.name.clone()) {
                    return Err(Problem::at(
                        &at("name"),
                        format!("committee `{}` twice", cf.name),
                    ));
                }
                if cf.members.is_empty() {
                    return Err(Problem::at(&at("members"), "a committee has members"));
                }
                let mut members = Vec::new();
                for (j, m) in cf.members.iter().enumerate() {
                    let idx = names.get(m, &at(&format!("members[{j}]")))?;
                    if nodes[idx].role != Role::Merchant {
                        return Err(Problem::at(
                            &at(&format!("members[{j}]")),
                            format!(
                                "`{m}` is a {}, members are merchants",
                                nodes[idx].role.name()
                            ),
                        ));
                    }
                    if members.contains(&idx) {
                        return Err(Problem::at(
                            &at(&format!("members[{j}]")),
                            format!("`{m}` is listed twice"),
                        ));
                    }
                    members.push(idx);
                }
                let weights = if cf.weights.is_empty() {
                    vec![1; members.len()]
                } else if cf.weights.len() != members.len() {
                    return Err(Problem::at(
                        &at("weights"),
                        format!("{} weights for {} members", cf.weights.len(), members.len()),
                    ));
                } else if cf.weights.contains(&0) {
                    return Err(Problem::at(&at("weights"), "weights are at least 1"));
                } else {
                    cf.weights.clone()
                };
                let serves = if cf.serves.is_empty() {
                    phones
                        .iter()
                        .copied()
                        .filter(|&p| nodes[p].cluster.is_some_and(|m| members.contains(&m)))
                        .collect()
                } else {
                    let mut s = Vec::new();
                    for (j, p) in cf.serves.iter().enumerate() {
                        let idx = names.get(p, &at(&format!("serves[{j}]")))?;
                        if nodes[idx].role != Role::Phone {
                            return Err(Problem::at(
                                &at(&format!("serves[{j}]")),
                                format!("`{p}` is not a phone"),
                            ));
                        }
                        s.push(idx);
                    }
                    s
                };
                out.push(Committee {
                    name: cf.name.clone(),
                    members,
                    weights,
                    serves,
                });
            }
            out
        }
    };
    for &p in &phones {
        let n = list.iter().filter(|c| c.serves.contains(&p)).count();
        if n != 1 {
            let path = if c.mode == CommitteeMode::Explicit {
                "committees.committee"
            } else {
                "committees.mode"
            };
            return Err(Problem::at(
                path,
                format!(
                    "phone `{}` is served by {n} committees; each phone's account is served by exactly one",
                    nodes[p].name
                ),
            ));
        }
    }
    Ok(list)
}

fn balances(file: &ScenarioFile, nodes: &[Node], names: &Names) -> Result<Vec<u64>, Problem> {
    let a = &file.accounts;
    let mut b: Vec<u64> = nodes
        .iter()
        .map(|n| match n.role {
            Role::Phone => a.balance,
            Role::Merchant => a.merchant_balance,
            _ => 0,
        })
        .collect();
    for (i, acc) in a.accounts.iter().enumerate() {
        let idx = names.get(&acc.owner, &format!("accounts.account[{i}].owner"))?;
        if !matches!(nodes[idx].role, Role::Phone | Role::Merchant) {
            return Err(Problem::at(
                &format!("accounts.account[{i}].owner"),
                "only phones and merchants hold accounts",
            ));
        }
        b[idx] = acc.balance;
    }
    Ok(b)
}

fn workload(file: &ScenarioFile, nodes: &[Node], names: &Names) -> Result<Workload, Problem> {
    let w = &file.workload;
    let payers = if w.payers.is_empty() {
        nodes
            .iter()
            .filter(|n| n.role == Role::Phone)
            .map(|n| n.index)
            .collect()
    } else {
        let mut v = Vec::new();
        for (i, p) in w.payers.iter().enumerate() {
            let path = format!("workload.payers[{i}]");
            let idx = names.get(p, &path)?;
            if nodes[idx].role != Role::Phone {
                return Err(Problem::at(&path, format!("`{p}` is not a phone")));
            }
            v.push(idx);
        }
        v
    };
    if !(w.rate_per_s.is_finite() && w.rate_per_s >= 0.0) {
        return Err(Problem::at("workload.rate_per_s", "must be a number >= 0"));
    }
    if w.amount_min == 0 || w.amount_min > w.amount_max {
        return Err(Problem::at(
            "workload.amount_min",
            format!(
                "amounts must satisfy 1 <= amount_min <= amount_max (got {}..{})",
                w.amount_min, w.amount_max
            ),
        ));
    }
    let stop_ms = w.stop_ms.unwrap_or(file.scenario.duration_ms);
    if stop_ms > file.scenario.duration_ms || w.start_ms > stop_ms {
        return Err(Problem::at(
            "workload.stop_ms",
            "start_ms <= stop_ms <= scenario.duration_ms must hold",
        ));
    }
    if w.rate_per_s > 0.0 && payers.is_empty() {
        return Err(Problem::at(
            "workload.payers",
            "payments need at least one phone",
        ));
    }
    if w.timeout_ms == 0 {
        return Err(Problem::at("workload.timeout_ms", "must be more than 0"));
    }
    let payee = match w.payee.as_str() {
        "next_cluster" => PayeeRule::NextCluster,
        "own_cluster" => PayeeRule::OwnCluster,
        "random_merchant" => PayeeRule::RandomMerchant,
        name => {
            let idx = names.get(name, "workload.payee").map_err(|_| {
                Problem::at(
                    "workload.payee",
                    format!(
                        "`{name}` is neither next_cluster, own_cluster, random_merchant nor a node"
                    ),
                )
            })?;
            if !matches!(nodes[idx].role, Role::Merchant | Role::Phone) {
                return Err(Problem::at("workload.payee", "the payee holds an account"));
            }
            PayeeRule::Node(idx)
        }
    };
    Ok(Workload {
        payers,
        rate_per_s: w.rate_per_s,
        payments: w.payments,
        amount_min: w.amount_min,
        amount_max: w.amount_max,
        start_ms: w.start_ms,
        stop_ms,
        payee,
        timeout_ms: w.timeout_ms,
        retries: w.retries,
        retry_ms: w.retry_ms.max(1),
    })
}

fn phases(file: &ScenarioFile) -> Result<Vec<Phase>, Problem> {
    let mut out = vec![Phase {
        name: "all".to_string(),
        start_ms: 0,
        end_ms: file.scenario.duration_ms,
    }];
    for (i, p) in file.phases.iter().enumerate() {
        if out.iter().any(|q| q.name == p.name) {
            return Err(Problem::at(
                &format!("phase[{i}].name"),
                format!("phase `{}` is defined twice (`all` is built in)", p.name),
            ));
        }
        if p.start_ms >= p.end_ms || p.end_ms > file.scenario.duration_ms {
            return Err(Problem::at(
                &format!("phase[{i}].end_ms"),
                "start_ms < end_ms <= scenario.duration_ms must hold",
            ));
        }
        out.push(Phase {
            name: p.name.clone(),
            start_ms: p.start_ms,
            end_ms: p.end_ms,
        });
    }
    Ok(out)
}

/// Fields each event kind takes: (required, optional).
fn event_fields(kind: EventKindName) -> (&'static [&'static str], &'static [&'static str]) {
    use EventKindName::*;
    match kind {
        FloodStart => (&["from", "to", "rate_pps"], &["size_bytes", "class"]),
        FloodStop => (&["from", "to"], &[]),
        Priority => (&["enabled"], &[]),
        Replay => (
            &["attacker", "target"],
            &["capture_ms", "copies", "rate_pps"],
        ),
        LinkCut | LinkRestore => (&["link"], &[]),
        LinkSet => (
            &["link"],
            &[
                "delay_ms",
                "jitter_ms",
                "loss",
                "rate_pps",
                "rate_bps",
                "queue_depth",
            ],
        ),
        AnchorCrash | AnchorRestart => (&["node"], &[]),
        Move => (&["node", "to"], &["trace", "handoff"]),
        Partition => (&["groups"], &[]),
        Heal => (&[], &[]),
    }
}

fn event(
    i: usize,
    ev: &EventFile,
    file: &ScenarioFile,
    nodes: &[Node],
    names: &Names,
    links: &[Link],
    find_link: &dyn Fn(&str, &str) -> Result<usize, Problem>,
) -> Result<Event, Problem> {
    let at = |f: &str| format!("event[{i}].{f}");
    let Some(kind) = ev.kind else {
        return Err(Problem::at(
            &format!("event[{i}]"),
            "an event names its `kind`",
        ));
    };
    if ev.at_ms > file.scenario.duration_ms {
        return Err(Problem::at(
            &at("at_ms"),
            format!(
                "after the end of the timeline ({} ms)",
                file.scenario.duration_ms
            ),
        ));
    }
    let present: Vec<String> = match serde_json::to_value(ev) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter(|(k, v)| !v.is_null() && k != "at_ms" && k != "kind")
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    };
    let (required, optional) = event_fields(kind);
    for f in &present {
        if !required.contains(&f.as_str()) && !optional.contains(&f.as_str()) {
            return Err(Problem::at(
                &at(f),
                format!("does not apply to a `{}` event", kind.name()),
            ));
        }
    }
    for f in required {
        if !present.iter().any(|p| p == f) {
            return Err(Problem::at(
                &format!("event[{i}]"),
                format!("a `{}` event needs `{f}`", kind.name()),
            ));
        }
    }
    let node = |name: &Option<String>, f: &str| names.get(name.as_deref().unwrap_or(""), &at(f));
    let of_role = |idx: usize, roles: &[Role], f: &str| {
        if roles.contains(&nodes[idx].role) {
            Ok(idx)
        } else {
            Err(Problem::at(
                &at(f),
                format!(
                    "`{}` is a {}; this needs a {}",
                    nodes[idx].name,
                    nodes[idx].role.name(),
                    roles
                        .iter()
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ))
        }
    };
    let link = |f: &str| find_link(ev.link.as_deref().unwrap_or(""), &at(f));
    let k = match kind {
        EventKindName::FloodStart => {
            let (from, to) = (node(&ev.from, "from")?, node(&ev.to, "to")?);
            if from == to {
                return Err(Problem::at(&at("to"), "a flood goes between two nodes"));
            }
            let rate = ev.rate_pps.unwrap_or(0);
            if rate == 0 || rate > 1_000_000 {
                return Err(Problem::at(&at("rate_pps"), "must be in 1..=1000000"));
            }
            let size = ev.size_bytes.unwrap_or(200);
            if !(16..=1400).contains(&size) {
                return Err(Problem::at(&at("size_bytes"), "must be in 16..=1400"));
            }
            EventKind::FloodStart {
                from,
                to,
                rate_pps: rate,
                size_bytes: size,
                class: ev.class.unwrap_or_default(),
            }
        }
        EventKindName::FloodStop => EventKind::FloodStop {
            from: node(&ev.from, "from")?,
            to: node(&ev.to, "to")?,
        },
        EventKindName::Priority => EventKind::Priority {
            enabled: ev.enabled.unwrap_or(true),
        },
        EventKindName::Replay => {
            let attacker = node(&ev.attacker, "attacker")?;
            let target = of_role(node(&ev.target, "target")?, &[Role::Merchant], "target")?;
            let rate = ev.rate_pps.unwrap_or(1_000);
            if rate == 0 {
                return Err(Problem::at(&at("rate_pps"), "must be at least 1"));
            }
            EventKind::Replay {
                attacker,
                target,
                capture_ms: ev.capture_ms.unwrap_or(1_000),
                copies: ev.copies.unwrap_or(1).max(1),
                rate_pps: rate,
            }
        }
        EventKindName::LinkCut => EventKind::LinkCut {
            link: link("link")?,
        },
        EventKindName::LinkRestore => EventKind::LinkRestore {
            link: link("link")?,
        },
        EventKindName::LinkSet => {
            let l = link("link")?;
            let pf = LinkParamsFile {
                delay_ms: ev.delay_ms,
                jitter_ms: ev.jitter_ms,
                loss: ev.loss,
                rate_pps: ev.rate_pps,
                rate_bps: ev.rate_bps,
                queue_depth: ev.queue_depth,
            };
            check_params(&pf, &format!("event[{i}]."))?;
            EventKind::LinkSet {
                link: l,
                params: links[l].params.overlay(&pf),
            }
        }
        EventKindName::AnchorCrash => EventKind::AnchorCrash {
            node: of_role(node(&ev.node, "node")?, &[Role::Merchant], "node")?,
        },
        EventKindName::AnchorRestart => EventKind::AnchorRestart {
            node: of_role(node(&ev.node, "node")?, &[Role::Merchant], "node")?,
        },
        EventKindName::Move => {
            let phone = of_role(node(&ev.node, "node")?, &[Role::Phone], "node")?;
            let to = of_role(node(&ev.to, "to")?, &[Role::Merchant], "to")?;
            let mut trace = Vec::new();
            for (j, s) in ev.trace.iter().flatten().enumerate() {
                let sp = |f: &str| format!("event[{i}].trace[{j}].{f}");
                if s.cut.is_none() && s.restore.is_none() {
                    return Err(Problem::at(
                        &format!("event[{i}].trace[{j}]"),
                        "a trace step cuts or restores a link",
                    ));
                }
                let cut = match &s.cut {
                    Some(n) => Some(find_link(n, &sp("cut"))?),
                    None => None,
                };
                let restore = match &s.restore {
                    Some(n) => Some(find_link(n, &sp("restore"))?),
                    None => None,
                };
                trace.push(TraceStep {
                    after_ms: s.after_ms,
                    cut,
                    restore,
                });
            }
            trace.sort_by_key(|s| s.after_ms);
            EventKind::Move {
                node: phone,
                to,
                trace,
                handoff: ev.handoff.unwrap_or(false),
            }
        }
        EventKindName::Partition => {
            let groups_in = ev.groups.as_deref().unwrap_or(&[]);
            if groups_in.len() < 2 {
                return Err(Problem::at(
                    &at("groups"),
                    "a partition has at least two groups",
                ));
            }
            let mut owner = vec![None; nodes.len()];
            let mut groups = vec![Vec::new(); groups_in.len()];
            for (g, members) in groups_in.iter().enumerate() {
                for (j, name) in members.iter().enumerate() {
                    let p = format!("event[{i}].groups[{g}][{j}]");
                    let idx = names.get(name, &p)?;
                    if owner[idx].is_some() {
                        return Err(Problem::at(&p, format!("`{name}` is in two groups")));
                    }
                    owner[idx] = Some(g);
                    groups[g].push(idx);
                }
            }
            for (idx, o) in owner.iter().enumerate() {
                if o.is_none() {
                    groups[0].push(idx);
                }
            }
            EventKind::Partition { groups }
        }
        EventKindName::Heal => EventKind::Heal,
    };
    Ok(Event {
        at_ms: ev.at_ms,
        kind: k,
    })
}

fn faults(file: &ScenarioFile, nodes: &[Node], names: &Names) -> Result<Faults, Problem> {
    let f = &file.faults;
    for (v, name) in [
        (f.loss, "loss"),
        (f.duplicate, "duplicate"),
        (f.reorder, "reorder"),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Problem::at(
                &format!("faults.{name}"),
                format!("is a fraction in [0, 1], not {v}"),
            ));
        }
    }
    for (v, name) in [
        (f.crash_rate_per_s, "crash_rate_per_s"),
        (f.partition_rate_per_s, "partition_rate_per_s"),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Problem::at(
                &format!("faults.{name}"),
                "must be a number >= 0",
            ));
        }
    }
    let mut byzantine = Vec::new();
    for (i, b) in f.byzantine.iter().enumerate() {
        let p = format!("faults.byzantine[{i}].node");
        let idx = names.get(&b.node, &p)?;
        if nodes[idx].role != Role::Merchant {
            return Err(Problem::at(&p, "a Byzantine authority is a merchant"));
        }
        byzantine.push((idx, b.behaviour));
    }
    let mut byzantine_payers = Vec::new();
    for (i, b) in f.byzantine_payers.iter().enumerate() {
        let p = format!("faults.byzantine_payers[{i}].node");
        let idx = names.get(&b.node, &p)?;
        if nodes[idx].role != Role::Phone {
            return Err(Problem::at(&p, "a Byzantine payer is a phone"));
        }
        byzantine_payers.push((idx, b.behaviour));
    }
    Ok(Faults {
        loss: f.loss,
        duplicate: f.duplicate,
        reorder: f.reorder,
        crash_rate_per_s: f.crash_rate_per_s,
        restart_ms: f.restart_ms,
        partition_rate_per_s: f.partition_rate_per_s,
        heal_ms: f.heal_ms,
        byzantine,
        byzantine_payers,
    })
}

fn assertions(list: &[AssertFile], phases: &[Phase]) -> Result<Vec<Assertion>, Problem> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let at = |f: &str| format!("assert[{i}].{f}");
        let known_phase = |p: &str| phases.iter().any(|q| q.name == p);
        if !crate::outputs::KPI_NAMES.contains(&a.kpi.as_str()) {
            return Err(Problem::at(
                &at("kpi"),
                format!(
                    "unknown KPI `{}` (known: {})",
                    a.kpi,
                    crate::outputs::KPI_NAMES.join(", ")
                ),
            ));
        }
        if !known_phase(&a.phase) {
            return Err(Problem::at(
                &at("phase"),
                format!("no phase named `{}`", a.phase),
            ));
        }
        let op = match a.op.as_str() {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "present" => Op::Present,
            other => {
                return Err(Problem::at(
                    &at("op"),
                    format!("unknown comparison `{other}` (<, <=, >, >=, ==, present)"),
                ));
            }
        };
        let rhs = match (op, a.value, &a.than) {
            (Op::Present, None, None) => Rhs::None,
            (Op::Present, _, _) => {
                return Err(Problem::at(
                    &at("op"),
                    "`present` takes neither value nor than",
                ));
            }
            (_, Some(v), None) => Rhs::Value(v),
            (_, None, Some(t)) => {
                let kpi = t.kpi.clone().unwrap_or_else(|| a.kpi.clone());
                if !crate::outputs::KPI_NAMES.contains(&kpi.as_str()) {
                    return Err(Problem::at(&at("than.kpi"), format!("unknown KPI `{kpi}`")));
                }
                if !known_phase(&t.phase) {
                    return Err(Problem::at(
                        &at("than.phase"),
                        format!("no phase named `{}`", t.phase),
                    ));
                }
                Rhs::Kpi {
                    kpi,
                    phase: t.phase.clone(),
                    factor: t.factor,
                }
            }
            _ => {
                return Err(Problem::at(
                    &format!("assert[{i}]"),
                    "an assertion compares with exactly one of `value` or `than`",
                ));
            }
        };
        for (j, t) in a.targets.iter().enumerate() {
            if !TARGET_NAMES.contains(&t.as_str()) {
                return Err(Problem::at(
                    &at(&format!("targets[{j}]")),
                    format!("unknown target `{t}`"),
                ));
            }
        }
        out.push(Assertion {
            kpi: a.kpi.clone(),
            phase: a.phase.clone(),
            op,
            rhs,
            targets: a.targets.clone(),
        });
    }
    Ok(out)
}

impl Scenario {
    /// Node index by name.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Link index by name.
    pub fn link(&self, name: &str) -> Option<usize> {
        self.links.iter().position(|l| l.name == name)
    }

    /// The committee serving `phone` at the start.
    pub fn committee_of(&self, phone: usize) -> Option<usize> {
        self.committees
            .iter()
            .position(|c| c.serves.contains(&phone))
    }

    /// Merchant node indices, in order.
    pub fn merchants(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Merchant)
            .map(|n| n.index)
            .collect()
    }

    /// The payee of a payment by `payer` under the workload's rule (`draw` picks for
    /// `random_merchant`, given the number of merchants).
    pub fn payee_for(&self, payer: usize, draw: &mut dyn FnMut(usize) -> usize) -> usize {
        let merchants = self.merchants();
        let own = self.nodes[payer].cluster.unwrap_or(merchants[0]);
        match self.workload.payee {
            PayeeRule::OwnCluster => own,
            PayeeRule::NextCluster => {
                let pos = merchants.iter().position(|&m| m == own).unwrap_or(0);
                merchants[(pos + 1) % merchants.len()]
            }
            PayeeRule::RandomMerchant => merchants[draw(merchants.len()) % merchants.len()],
            PayeeRule::Node(n) => n,
        }
    }

    /// A copy with every time scaled by `factor` (for short CI runs); rates stay.
    pub fn scaled(&self, factor: f64) -> Scenario {
        let s = |t: u64| ((t as f64) * factor).round() as u64;
        let mut out = self.clone();
        out.duration_ms = s(self.duration_ms).max(1);
        out.drain_ms = s(self.drain_ms);
        out.epoch_ms = s(self.epoch_ms);
        out.workload.start_ms = s(self.workload.start_ms);
        out.workload.stop_ms = s(self.workload.stop_ms);
        if out.workload.payments > 0 {
            out.workload.payments = ((out.workload.payments as f64) * factor).ceil() as u64;
        }
        for p in &mut out.phases {
            p.start_ms = s(p.start_ms);
            p.end_ms = s(p.end_ms).max(p.start_ms + 1);
        }
        for e in &mut out.events {
            e.at_ms = s(e.at_ms);
            match &mut e.kind {
                EventKind::Replay { capture_ms, .. } => *capture_ms = s(*capture_ms).max(1),
                EventKind::Move { trace, .. } => {
                    for st in trace {
                        st.after_ms = s(st.after_ms);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// File-level names re-exported for targets that print them.
pub use file::FloodClass as Class;
