//! The scenario file as written: serde structs with unknown fields refused and defaults filled.
//!
//! Field names and units are the schema documented in `bmv2-testbed/README.md`: times in
//! milliseconds (`*_ms`), rates per second, loss as a fraction in `[0, 1]`. Nothing here is
//! checked beyond its type; [`crate::resolve`] checks meaning (names exist, ranges hold).

use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Name, seed and length.
    pub scenario: Header,
    /// Nodes and links.
    pub topology: TopologyFile,
    /// Who serves which accounts.
    #[serde(default)]
    pub committees: CommitteesFile,
    /// Account balances.
    #[serde(default)]
    pub accounts: AccountsFile,
    /// The payments to make.
    #[serde(default)]
    pub workload: WorkloadFile,
    /// Named time ranges the KPIs are reported for (default: one phase `all`).
    #[serde(default, rename = "phase")]
    pub phases: Vec<PhaseFile>,
    /// The timeline.
    #[serde(default, rename = "event")]
    pub events: Vec<EventFile>,
    /// Random faults (the simulator injects them; other targets refuse what they cannot do).
    #[serde(default)]
    pub faults: FaultsFile,
    /// KPI assertions checked after the run.
    #[serde(default, rename = "assert")]
    pub asserts: Vec<AssertFile>,
    /// Per-target settings.
    #[serde(default)]
    pub targets: TargetsFile,
}

/// `[scenario]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Short name (used for output folders and `experiment list`).
    pub name: String,
    /// One line saying what the experiment shows.
    #[serde(default)]
    pub description: String,
    /// The seed of every random choice (overridden by `--seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Length of the timeline; the run stops then (payments still open are counted unfinished).
    pub duration_ms: u64,
    /// Length of an epoch for the epoch window of the data plane (0 = the epoch stays put).
    #[serde(default)]
    pub epoch_ms: u64,
    /// Time left after `duration_ms` for payments in flight to finish (not counted as new).
    #[serde(default = "default_drain")]
    pub drain_ms: u64,
}

fn default_seed() -> u64 {
    1
}

fn default_drain() -> u64 {
    2_000
}

/// `[topology]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// A generated layout (`clusters`), expanded before the explicit nodes and links.
    #[serde(default)]
    pub generate: Option<GenerateFile>,
    /// Link parameters by link class, used where a link does not set its own.
    #[serde(default)]
    pub defaults: LinkDefaultsFile,
    /// Explicit nodes.
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeFile>,
    /// Explicit links.
    #[serde(default, rename = "link")]
    pub links: Vec<LinkFile>,
}

/// `[topology.generate]`: a layout made from a few numbers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenerateFile {
    /// Only `clusters` for now.
    pub kind: GenerateKind,
    /// Merchants `m0..m{N-1}`, joined in a ring by `backbone` links (`m0-m1` is the first).
    pub merchants: usize,
    /// Phones per merchant, `p{i}` numbered across clusters; the first hangs on its merchant,
    /// each next one on the previous phone and the merchant alternately (multi-hop).
    #[serde(default)]
    pub phones_per_merchant: usize,
    /// Forwarders per ring link, placed in series on it (multi-hop backbone).
    #[serde(default)]
    pub forwarders_per_link: usize,
    /// Add a chord from each cluster's last phone to the next merchant (a second way out).
    #[serde(default = "yes")]
    pub cross_links: bool,
    /// Phone hops: a phone joins a merchant directly when its depth is 1, else through the
    /// phones before it; the depth of the deepest phone (default 2).
    #[serde(default = "default_depth")]
    pub max_depth: usize,
}

fn yes() -> bool {
    true
}

fn default_depth() -> usize {
    2
}

/// Layout kinds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GenerateKind {
    /// Merchant clusters on a ring.
    Clusters,
}

/// `[topology.defaults]`: parameters per link class.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkDefaultsFile {
    /// Merchant–merchant and forwarder links.
    #[serde(default)]
    pub backbone: LinkParamsFile,
    /// Links with a phone on one end.
    #[serde(default)]
    pub radio: LinkParamsFile,
}

/// Emulation parameters of a link (both directions alike). Absent = not emulated.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkParamsFile {
    /// One-way delay.
    pub delay_ms: Option<f64>,
    /// Uniform jitter added to the delay, order kept.
    pub jitter_ms: Option<f64>,
    /// Fraction of frames lost, `[0, 1]`.
    pub loss: Option<f64>,
    /// Rate limit in packets per second (0 = none).
    pub rate_pps: Option<u64>,
    /// Rate limit in bits per second (0 = none).
    pub rate_bps: Option<u64>,
    /// Queue depth per priority queue, in packets.
    pub queue_depth: Option<u32>,
}

/// `[[topology.node]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Unique name.
    pub name: String,
    /// What the node is.
    pub role: RoleFile,
    /// The merchant whose cluster a phone starts in (default: the nearest merchant).
    #[serde(default)]
    pub cluster: Option<String>,
}

/// Node roles.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleFile {
    /// Runs a merchant anchor (authority + controller).
    Merchant,
    /// Runs a wallet.
    Phone,
    /// A switch only.
    Forwarder,
    /// A switch with the withdrawal gateway.
    Gateway,
}

/// `[[topology.link]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkFile {
    /// Name for events (default `a-b`).
    #[serde(default)]
    pub name: Option<String>,
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// `backbone` or `radio` (default: radio when a phone is on an end).
    #[serde(default)]
    pub class: Option<LinkClassFile>,
    /// Routing cost (default 1).
    #[serde(default)]
    pub cost: Option<u32>,
    /// Down when the run starts (a mobility trace brings it up).
    #[serde(default)]
    pub down: bool,
    /// One-way delay (absent: the class default).
    pub delay_ms: Option<f64>,
    /// Jitter.
    pub jitter_ms: Option<f64>,
    /// Loss fraction.
    pub loss: Option<f64>,
    /// Packets per second.
    pub rate_pps: Option<u64>,
    /// Bits per second.
    pub rate_bps: Option<u64>,
    /// Queue depth per priority queue.
    pub queue_depth: Option<u32>,
}

impl LinkFile {
    /// The emulation fields given on the link.
    pub fn params(&self) -> LinkParamsFile {
        LinkParamsFile {
            delay_ms: self.delay_ms,
            jitter_ms: self.jitter_ms,
            loss: self.loss,
            rate_pps: self.rate_pps,
            rate_bps: self.rate_bps,
            queue_depth: self.queue_depth,
        }
    }
}

/// Link classes.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkClassFile {
    /// Between merchants and forwarders.
    Backbone,
    /// A phone's radio link.
    Radio,
}

/// `[committees]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommitteesFile {
    /// `shared` (default): one committee of every merchant; `per_merchant`: each merchant a
    /// committee of one serving its cluster; `explicit`: the `[[committees.committee]]` list.
    #[serde(default)]
    pub mode: CommitteeMode,
    /// Explicit committees.
    #[serde(default, rename = "committee")]
    pub committees: Vec<CommitteeFile>,
}

/// How committees are formed.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CommitteeMode {
    /// One committee of all merchants.
    #[default]
    Shared,
    /// A committee of one per merchant.
    PerMerchant,
    /// As listed.
    Explicit,
}

/// `[[committees.committee]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommitteeFile {
    /// Unique name.
    pub name: String,
    /// Merchant nodes.
    pub members: Vec<String>,
    /// Voting weights in member order (default 1 each).
    #[serde(default)]
    pub weights: Vec<u64>,
    /// The phones whose accounts it serves (default: phones in its members' clusters).
    #[serde(default)]
    pub serves: Vec<String>,
}

/// `[accounts]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    /// Starting balance of every phone's account.
    #[serde(default = "default_balance")]
    pub balance: u64,
    /// Starting balance of every merchant's account.
    #[serde(default)]
    pub merchant_balance: u64,
    /// Per-node overrides.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountFile>,
}

impl Default for AccountsFile {
    fn default() -> Self {
        AccountsFile {
            balance: default_balance(),
            merchant_balance: 0,
            accounts: Vec::new(),
        }
    }
}

fn default_balance() -> u64 {
    1_000_000
}

/// `[[accounts.account]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    /// The node owning the account.
    pub owner: String,
    /// Its starting balance.
    pub balance: u64,
}

/// `[workload]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    /// Paying phones (default: every phone).
    #[serde(default)]
    pub payers: Vec<String>,
    /// Payment starts per second over all payers (0 = no payments).
    #[serde(default = "default_rate")]
    pub rate_per_s: f64,
    /// Total number of payments to start (0 = as many as the rate gives until `stop_ms`).
    #[serde(default)]
    pub payments: u64,
    /// Smallest amount.
    #[serde(default = "one")]
    pub amount_min: u64,
    /// Largest amount.
    #[serde(default = "default_amount_max")]
    pub amount_max: u64,
    /// When payments start.
    #[serde(default)]
    pub start_ms: u64,
    /// When the last payment may start (default: `duration_ms`).
    #[serde(default)]
    pub stop_ms: Option<u64>,
    /// Whom payers pay: `next_cluster` (the next merchant on the ring; default),
    /// `own_cluster`, `random_merchant`, or a node name.
    #[serde(default = "default_payee")]
    pub payee: String,
    /// A payment not final after this long is counted failed (`timeout`).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Retransmissions of an order or certificate before giving up on an authority.
    #[serde(default = "default_retries")]
    pub retries: u8,
    /// Time between retransmissions.
    #[serde(default = "default_retry_ms")]
    pub retry_ms: u64,
}

impl Default for WorkloadFile {
    fn default() -> Self {
        WorkloadFile {
            payers: Vec::new(),
            rate_per_s: default_rate(),
            payments: 0,
            amount_min: 1,
            amount_max: default_amount_max(),
            start_ms: 0,
            stop_ms: None,
            payee: default_payee(),
            timeout_ms: default_timeout(),
            retries: default_retries(),
            retry_ms: default_retry_ms(),
        }
    }
}

fn default_rate() -> f64 {
    10.0
}
fn one() -> u64 {
    1
}
fn default_amount_max() -> u64 {
    100
}
fn default_payee() -> String {
    "next_cluster".to_string()
}
fn default_timeout() -> u64 {
    5_000
}
fn default_retries() -> u8 {
    3
}
fn default_retry_ms() -> u64 {
    250
}

/// `[[phase]]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    /// Unique name (`all` is the whole run and is always there).
    pub name: String,
    /// Start (payments started in `[start_ms, end_ms)` belong to the phase).
    pub start_ms: u64,
    /// End.
    pub end_ms: u64,
}

/// `[[event]]`: one step of the timeline. `kind` says which of the other fields apply; the
/// check in [`crate::resolve`] refuses a field that does not apply and a missing one that must.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    /// When.
    pub at_ms: u64,
    /// What.
    pub kind: Option<EventKindName>,
    /// flood_start, flood_stop: the source node (its auxiliary host).
    pub from: Option<String>,
    /// flood_start, flood_stop: the sink node; move: the merchant whose cluster the phone joins.
    pub to: Option<String>,
    /// flood_start, replay: packets per second.
    pub rate_pps: Option<u64>,
    /// flood_start: UDP payload size (default 200).
    pub size_bytes: Option<u32>,
    /// flood_start: `best_effort` (default) or `payment_data`.
    pub class: Option<FloodClass>,
    /// priority: on or off.
    pub enabled: Option<bool>,
    /// replay: the node the attacker sits on.
    pub attacker: Option<String>,
    /// replay: the anchor whose traffic is recorded.
    pub target: Option<String>,
    /// replay: how long it records (default 1000).
    pub capture_ms: Option<u64>,
    /// replay: copies of each recorded datagram (default 1).
    pub copies: Option<u64>,
    /// link_cut, link_restore, link_set: the link's name.
    pub link: Option<String>,
    /// anchor_crash, anchor_restart: the merchant; move: the phone.
    pub node: Option<String>,
    /// move: link changes, each `after_ms` after the event.
    pub trace: Option<Vec<TraceStepFile>>,
    /// move: hand the account off to the new cluster's committee.
    pub handoff: Option<bool>,
    /// partition: groups of node names (nodes in no group stay with the first).
    pub groups: Option<Vec<Vec<String>>>,
    /// link_set: new delay.
    pub delay_ms: Option<f64>,
    /// link_set: new jitter.
    pub jitter_ms: Option<f64>,
    /// link_set: new loss.
    pub loss: Option<f64>,
    /// link_set: new rate in bits per second.
    pub rate_bps: Option<u64>,
    /// link_set: new queue depth.
    pub queue_depth: Option<u32>,
}

/// The event kinds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventKindName {
    /// Traffic from one node's auxiliary host to another's.
    FloodStart,
    /// Ends it.
    FloodStop,
    /// Priority classification installed or withheld by signed policy.
    Priority,
    /// Record BCB datagrams to a target, then send them again.
    Replay,
    /// A link goes down.
    LinkCut,
    /// It comes back.
    LinkRestore,
    /// Its emulation changes.
    LinkSet,
    /// An anchor is killed (SIGKILL).
    AnchorCrash,
    /// It starts again from its store.
    AnchorRestart,
    /// A phone moves to another cluster by a trace of link changes.
    Move,
    /// The network splits into groups.
    Partition,
    /// Every partition heals.
    Heal,
}

impl EventKindName {
    /// The name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            EventKindName::FloodStart => "flood_start",
            EventKindName::FloodStop => "flood_stop",
            EventKindName::Priority => "priority",
            EventKindName::Replay => "replay",
            EventKindName::LinkCut => "link_cut",
            EventKindName::LinkRestore => "link_restore",
            EventKindName::LinkSet => "link_set",
            EventKindName::AnchorCrash => "anchor_crash",
            EventKindName::AnchorRestart => "anchor_restart",
            EventKindName::Move => "move",
            EventKindName::Partition => "partition",
            EventKindName::Heal => "heal",
        }
    }
}

/// One link change of a mobility trace.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TraceStepFile {
    /// Delay after the move event.
    pub after_ms: u64,
    /// Link to cut.
    #[serde(default)]
    pub cut: Option<String>,
    /// Link to bring up.
    #[serde(default)]
    pub restore: Option<String>,
}

/// Traffic class of a flood.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FloodClass {
    /// Class 2.
    #[default]
    BestEffort,
    /// Class 1.
    PaymentData,
}

/// `[faults]`: random faults drawn from the seed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    /// Extra loss on every link, `[0, 1]`.
    #[serde(default)]
    pub loss: f64,
    /// Fraction of datagrams delivered twice.
    #[serde(default)]
    pub duplicate: f64,
    /// Fraction of datagrams delayed out of order.
    #[serde(default)]
    pub reorder: f64,
    /// Authority crashes per second of virtual time (each restarts after `restart_ms`).
    #[serde(default)]
    pub crash_rate_per_s: f64,
    /// Time a crashed authority stays down.
    #[serde(default = "default_restart")]
    pub restart_ms: u64,
    /// Random partitions per second (each heals after `heal_ms`).
    #[serde(default)]
    pub partition_rate_per_s: f64,
    /// Time a random partition lasts.
    #[serde(default = "default_restart")]
    pub heal_ms: u64,
    /// Byzantine authorities.
    #[serde(default)]
    pub byzantine: Vec<ByzantineFile>,
    /// Byzantine payers.
    #[serde(default)]
    pub byzantine_payers: Vec<ByzantinePayerFile>,
}

fn default_restart() -> u64 {
    1_000
}

/// A Byzantine authority.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ByzantineFile {
    /// Merchant node.
    pub node: String,
    /// What it does.
    pub behaviour: ByzantineBehaviour,
}

/// Misbehaviours of an authority.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ByzantineBehaviour {
    /// Votes for conflicting orders.
    Equivocate,
    /// Signs with garbage.
    SignGarbage,
    /// Never votes.
    WithholdVotes,
    /// Sends old votes again.
    ReplayVotes,
    /// Lies in query replies.
    LieInQueries,
    /// Any of the above, chosen per message.
    Mixed,
}

/// A Byzantine payer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ByzantinePayerFile {
    /// Phone node.
    pub node: String,
    /// What it does.
    pub behaviour: ByzantinePayerBehaviour,
}

/// Misbehaviours of a payer.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ByzantinePayerBehaviour {
    /// Two orders for one nonce, to two halves of the committee.
    DoubleSpend,
    /// Certificates sent again.
    ReplayCertificates,
    /// Forged or truncated messages.
    Forge,
    /// Orders with epochs outside the window.
    WrongEpoch,
    /// Any of the above.
    Mixed,
}

/// `[[assert]]`: a KPI compared with a value or with another KPI.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssertFile {
    /// KPI name (a key of a phase in `kpis.json`, e.g. `finality_p95_ms`).
    pub kpi: String,
    /// Phase (default `all`).
    #[serde(default = "default_phase")]
    pub phase: String,
    /// `<`, `<=`, `>`, `>=`, `==`, or `present`.
    pub op: String,
    /// The value compared with.
    #[serde(default)]
    pub value: Option<f64>,
    /// Or another KPI compared with (times `factor`).
    #[serde(default)]
    pub than: Option<KpiRefFile>,
    /// Only on these targets (default: all).
    #[serde(default)]
    pub targets: Vec<String>,
}

fn default_phase() -> String {
    "all".to_string()
}

/// A KPI of a phase, scaled.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KpiRefFile {
    /// KPI name (default: the assertion's).
    #[serde(default)]
    pub kpi: Option<String>,
    /// Phase.
    pub phase: String,
    /// Multiplier.
    #[serde(default = "unit")]
    pub factor: f64,
}

fn unit() -> f64 {
    1.0
}

/// `[targets]`: settings only one target reads.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetsFile {
    /// Scale factor for `embedded` and `mininet` short runs (CI): times are multiplied by it.
    #[serde(default)]
    pub short_factor: Option<f64>,
    /// Targets this scenario is meant for (default: all three).
    #[serde(default)]
    pub only: Vec<String>,
}
