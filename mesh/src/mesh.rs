//! Assembling a whole mesh: the fabric of switches, a controller per anchor, an authority on
//! every merchant host and a payer on every phone host, all with deterministic keys from the
//! seed.
//!
//! The authorities form committees in one of two ways ([`CommitteeMode`]): each merchant a
//! committee of one (the trusted single-merchant mode: a phone's orders go to its payee's
//! authority only), or one committee of every merchant (quorum: more than two thirds, 3 of 4),
//! where every phone sends each order and certificate to all authorities across the mesh and
//! settles on the first quorum of votes and receipts (the FastPay flow over several hops).

use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashmesh_controller::ControllerSpec;
use flashmesh_controller::p4rt::Pipeline;
use flashmesh_controller::p4rt::derive::p4info_from_source;
use flashmesh_controller::policy::{OperatorKey, PolicySettings};
use flashmesh_core::{
    AuthorityInfo, BCB_UDP_PORT, Certificate, Committee, DEFAULT_TOKEN, Genesis, Keypair,
    PublicKey, SignedOrder, TransferOrder,
};
use flashmesh_wallet::{
    CommitteeClient, PayError, PayOptions, Retries, collect_votes_with, confirm_certificate_with,
    query_balance,
};
use parking_lot::Mutex;

use crate::control::MeshControl;
use crate::error::MeshError;
use crate::fabric::Fabric;
use crate::plan::{LinkProfile, MeshPlan};
use crate::transport::FrameTransport;
use merchant_anchor::{Anchor, AnchorParts};

mod handoff;
pub use handoff::{HandoffRequest, HandoffTiming};

/// The data plane program, built into the crate so the mesh runs from any directory.
pub const FLASH_MESH_P4: &str = include_str!("../../p4src/flash_mesh.p4");

/// UDP port of every wallet.
pub const WALLET_PORT: u16 = 40_000;

/// How the merchants' authorities form committees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitteeMode {
    /// Each merchant is a committee of one; a phone pays through its payee's authority alone.
    PerMerchant,
    /// One committee of every merchant's authority (weight 1 each, quorum more than two thirds);
    /// every phone sends its orders and certificates to all of them.
    Shared,
}

impl CommitteeMode {
    /// The name used on command lines and in reports: `per-merchant` or `shared`.
    pub fn name(self) -> &'static str {
        match self {
            CommitteeMode::PerMerchant => "per-merchant",
            CommitteeMode::Shared => "shared",
        }
    }
}

impl std::str::FromStr for CommitteeMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "per-merchant" | "single" | "one" => Ok(CommitteeMode::PerMerchant),
            "shared" | "all" => Ok(CommitteeMode::Shared),
            other => Err(format!(
                "unknown committee mode {other:?} (per-merchant or shared)"
            )),
        }
    }
}

/// What the mesh is built from.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// How the authorities form committees. The default is the shared committee: with it the
    /// demo meets all four of its goals (as with committees of one) while every payment is
    /// certified by a quorum of independent merchants.
    pub committee: CommitteeMode,
    /// Merchants (anchors).
    pub merchants: usize,
    /// Phones per merchant.
    pub phones_per_cluster: usize,
    /// Link emulation.
    pub links: LinkProfile,
    /// Seed of keys and link randomness.
    pub seed: u64,
    /// Probe interval, ms.
    pub probe_ms: u64,
    /// Missed probes before a link is down.
    pub probe_miss_count: u32,
    /// Opening balance of every phone account.
    pub balance: u64,
    /// Wallet retransmission interval.
    pub retry_interval: Duration,
    /// Wallet time allowed per protocol phase.
    pub phase_timeout: Duration,
    /// Where anchors keep their stores (a fresh temporary directory if `None`).
    pub data_dir: Option<PathBuf>,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            committee: CommitteeMode::Shared,
            merchants: 4,
            phones_per_cluster: 3,
            links: LinkProfile::default(),
            seed: 7,
            probe_ms: 10,
            probe_miss_count: 3,
            balance: 1_000_000,
            retry_interval: Duration::from_millis(100),
            phase_timeout: Duration::from_millis(1500),
            data_dir: None,
        }
    }
}

fn key_from(seed: u64, label: u64) -> Keypair {
    // splitmix64 stream: deterministic keys for a given seed.
    let mut x = seed ^ label.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    Keypair::from_seed(&bytes)
}

/// A payment that did not finish: its order, its certificate once assembled, and the retry
/// numbers its copies used (another attempt continues them, so that the switches' duplicate
/// filters do not drop its copies as already seen).
struct Unfinished {
    order: SignedOrder,
    certificate: Option<Certificate>,
    retries: Retries,
}

/// A payer on a phone: its account, the committee it pays through, its next nonce and a payment
/// that did not finish (it is finished before any new order is signed).
pub struct Payer {
    /// Phone node index.
    pub node: usize,
    /// Merchant node index it pays.
    pub payee: usize,
    /// Whether its payments depend on the bottleneck link's loaded direction (no quorum can
    /// form without a message crossing it; see [`MeshPlan::bottleneck_bound`]).
    pub crosses_bottleneck: bool,
    key: Keypair,
    recipient: PublicKey,
    client: CommitteeClient,
    transport: Arc<FrameTransport>,
    next_nonce: u64,
    pending: Option<Unfinished>,
    last_certificate: Option<Certificate>,
    last_nonce: u64,
    last_certified: Option<Duration>,
    /// A handoff begun and not finished.
    moving: Option<handoff::Moving>,
    /// The committee it moved to, once it moved.
    committee_name: Option<String>,
}

/// How one payment went.
#[derive(Debug, Clone)]
pub enum PayOutcome {
    /// Finished: quorum of receipts, after this long.
    Finished(Duration),
    /// Gave up: the error.
    Failed(String),
}

impl Payer {
    /// The phone's transport.
    pub fn transport(&self) -> &Arc<FrameTransport> {
        &self.transport
    }

    /// The phone's account key (for experiments that make a phone misbehave).
    pub fn keypair(&self) -> &Keypair {
        &self.key
    }

    /// The merchant account it pays.
    pub fn recipient(&self) -> PublicKey {
        self.recipient
    }

    /// The committee it pays through.
    pub fn committee(&self) -> &Committee {
        self.client.committee()
    }

    /// The name of the committee it moved to by a handoff (`None` while it pays through the
    /// committee it started with).
    pub fn moved_to(&self) -> Option<&str> {
        self.committee_name.as_deref()
    }

    /// Whether an earlier payment left its order unfinished (the next call finishes it).
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The nonce of the order of the last attempt.
    pub fn last_nonce(&self) -> u64 {
        self.last_nonce
    }

    /// How long the last attempt took to assemble its certificate (if it did, in that attempt).
    pub fn last_certified(&self) -> Option<Duration> {
        self.last_certified
    }

    /// The certificate of its last finished payment.
    pub fn last_certificate(&self) -> Option<&Certificate> {
        self.last_certificate.as_ref()
    }

    /// Pays `amount` to the merchant in `epoch`, finishing an unfinished payment first: an
    /// order whose votes never came is sent again (never a new order for its nonce), and a
    /// certificate whose receipts never came is sent again. The copies of another attempt
    /// carry the retry numbers after those already used (until two epochs have passed).
    pub async fn pay(&mut self, amount: u64, epoch: u32, opts: &PayOptions) -> PayOutcome {
        let to = self.recipient;
        self.pay_to(to, amount, epoch, opts).await
    }

    /// As [`Payer::pay`], to the account `recipient` (an unfinished payment is finished first,
    /// to whomever it was for).
    pub async fn pay_to(
        &mut self,
        recipient: PublicKey,
        amount: u64,
        epoch: u32,
        opts: &PayOptions,
    ) -> PayOutcome {
        let started = Instant::now();
        let opts = PayOptions {
            epoch,
            ..opts.clone()
        };
        let Unfinished {
            order,
            certificate,
            mut retries,
        } = match self.pending.take() {
            Some(p) => p,
            None => {
                let o = SignedOrder::sign(
                    TransferOrder {
                        sender: self.key.public(),
                        recipient,
                        token: DEFAULT_TOKEN,
                        amount,
                        nonce: self.next_nonce,
                        epoch,
                        ttl: 16,
                    },
                    &self.key,
                );
                Unfinished {
                    order: o,
                    certificate: None,
                    retries: Retries::default(),
                }
            }
        };
        self.last_nonce = order.order().nonce;
        self.last_certified = None;
        let certificate = match certificate {
            Some(c) => c,
            None => match collect_votes_with(&self.client, order, &opts, &mut retries).await {
                Ok(c) => {
                    self.last_certified = Some(started.elapsed());
                    c.certificate
                }
                Err(PayError::Refused { refusals, .. }) => {
                    // The committee will not vote for it (typically: its nonce was already
                    // used, because the receipts of an earlier attempt were lost). Learn the
                    // account's sequence number from the committee and start over.
                    self.resync(&opts).await;
                    let why: Vec<String> = refusals.iter().map(|r| r.code.to_string()).collect();
                    return PayOutcome::Failed(format!("refused ({})", why.join(", ")));
                }
                Err(e) => {
                    self.pending = Some(Unfinished {
                        order,
                        certificate: None,
                        retries,
                    });
                    return PayOutcome::Failed(e.to_string());
                }
            },
        };
        match confirm_certificate_with(&self.client, &certificate, &opts, &mut retries).await {
            Ok(c) => {
                self.next_nonce = c.next_sequence.max(order.order().nonce + 1);
                self.last_certificate = Some(certificate);
                PayOutcome::Finished(started.elapsed())
            }
            Err(e) => {
                self.pending = Some(Unfinished {
                    order,
                    certificate: Some(certificate),
                    retries,
                });
                PayOutcome::Failed(e.to_string())
            }
        }
    }

    async fn resync(&mut self, opts: &PayOptions) {
        if let Ok(report) = query_balance(
            &self.client,
            self.key.public(),
            DEFAULT_TOKEN,
            opts.epoch,
            opts.retry_interval,
            opts.phase_timeout,
        )
        .await
            && let Some((next, _)) = report.agreed
        {
            self.next_nonce = next;
        }
    }
}

/// `committees` with the neighbours `population` names for each.
fn linked(
    committees: Vec<Committee>,
    population: &Population,
) -> Result<Vec<Committee>, flashmesh_core::CommitteeError> {
    let plain: Vec<Arc<Committee>> = committees.iter().cloned().map(Arc::new).collect();
    committees
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut others: Vec<usize> = population
                .neighbours
                .iter()
                .filter_map(|&(a, b)| match (a == i, b == i) {
                    (true, false) => Some(b),
                    (false, true) => Some(a),
                    _ => None,
                })
                .collect();
            others.sort_unstable();
            others.dedup();
            c.with_neighbours(
                others
                    .into_iter()
                    .map(|j| flashmesh_core::Neighbour {
                        name: population.committees[j].name.clone(),
                        committee: plain[j].clone(),
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A committee of the mesh: its merchant members (node indices) with their weights, and the
/// accounts it opens at genesis (node index, balance).
#[derive(Debug, Clone)]
pub struct CommitteeLayout {
    /// Name (`shared`, `m0`, or the scenario's).
    pub name: String,
    /// Merchant node indices.
    pub members: Vec<usize>,
    /// Voting weight of each member.
    pub weights: Vec<u64>,
    /// Accounts at genesis: the node whose account it is, and its balance.
    pub accounts: Vec<(usize, u64)>,
}

/// A payer of the mesh: the phone, the committee it pays through (index into
/// [`Population::committees`]) and the merchant it pays by default.
#[derive(Debug, Clone, Copy)]
pub struct PayerLayout {
    /// Phone node index.
    pub node: usize,
    /// Committee index.
    pub committee: usize,
    /// Default payee (merchant node index).
    pub payee: usize,
}

/// Who runs what on a mesh: the committees (each merchant is a member of exactly one) and the
/// payers.
#[derive(Debug, Clone)]
pub struct Population {
    /// Committees.
    pub committees: Vec<CommitteeLayout>,
    /// Payers.
    pub payers: Vec<PayerLayout>,
    /// Pairs of committees (indices) that list each other as neighbours, so accounts can be
    /// handed from one to the other.
    pub neighbours: Vec<(usize, usize)>,
}

impl Population {
    /// The demo's population on its generated plan: committees by `mode`, every phone paying
    /// the next cluster's merchant with `balance` to start with.
    pub fn for_demo(plan: &MeshPlan, mode: CommitteeMode, balance: u64) -> Population {
        let merchants: Vec<usize> = plan.merchants().map(|m| m.index).collect();
        let phones: Vec<usize> = plan.phones().map(|p| p.index).collect();
        let committees = match mode {
            CommitteeMode::PerMerchant => merchants
                .iter()
                .map(|&m| CommitteeLayout {
                    name: plan.nodes[m].name.clone(),
                    members: vec![m],
                    weights: vec![1],
                    accounts: phones
                        .iter()
                        .filter(|&&p| plan.payee_of(p) == m)
                        .map(|&p| (p, balance))
                        .collect(),
                })
                .collect(),
            CommitteeMode::Shared => vec![CommitteeLayout {
                name: "shared".into(),
                members: merchants.clone(),
                weights: vec![1; merchants.len()],
                accounts: phones.iter().map(|&p| (p, balance)).collect(),
            }],
        };
        let payers = phones
            .iter()
            .map(|&p| {
                let payee = plan.payee_of(p);
                let committee = match mode {
                    CommitteeMode::PerMerchant => {
                        merchants.iter().position(|&m| m == payee).unwrap_or(0)
                    }
                    CommitteeMode::Shared => 0,
                };
                PayerLayout {
                    node: p,
                    committee,
                    payee,
                }
            })
            .collect();
        Population {
            committees,
            payers,
            neighbours: Vec::new(),
        }
    }

    /// The committee a merchant is a member of.
    pub fn committee_of_merchant(&self, node: usize) -> Option<usize> {
        self.committees
            .iter()
            .position(|c| c.members.contains(&node))
    }
}

/// The keys of a mesh, all derived from its seed.
#[derive(Debug, Clone, Copy)]
pub struct MeshKeys {
    seed: u64,
}

impl MeshKeys {
    /// Keys of the mesh with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// A merchant's authority signing key.
    pub fn authority(&self, node: usize) -> Keypair {
        key_from(self.seed, 0x1000 + node as u64)
    }

    /// The account key of a node: a merchant's receiving account or a phone's wallet.
    pub fn account(&self, plan: &MeshPlan, node: usize) -> Keypair {
        match plan.nodes[node].role {
            crate::plan::Role::Merchant => key_from(self.seed, 0x2000 + node as u64),
            _ => key_from(self.seed, 0x3000 + node as u64),
        }
    }

    /// The operator key that signs the mesh's policy bundles.
    pub fn operator(&self) -> OperatorKey {
        OperatorKey::from_seed(key_from(self.seed, 0xFFFF).secret_bytes())
    }

    /// A committee of the layout: its members' authorities (`anchor-NAME`, their keys and
    /// weights) serving BCB on their hosts' addresses.
    pub fn committee(
        &self,
        plan: &MeshPlan,
        layout: &CommitteeLayout,
    ) -> Result<Committee, flashmesh_core::CommitteeError> {
        let members = layout
            .members
            .iter()
            .zip(&layout.weights)
            .map(|(&m, &w)| AuthorityInfo {
                name: format!("anchor-{}", plan.nodes[m].name),
                public_key: self.authority(m).public(),
                weight: w,
                address: SocketAddrV4::new(plan.nodes[m].host_ip(), BCB_UDP_PORT).to_string(),
            })
            .collect();
        Committee::new(members)
    }

    /// The genesis of a committee of the layout: its accounts with a balance.
    pub fn genesis(&self, plan: &MeshPlan, layout: &CommitteeLayout) -> Genesis {
        Genesis {
            balances: layout
                .accounts
                .iter()
                .filter(|(_, b)| *b > 0)
                .map(|&(n, amount)| flashmesh_core::GenesisBalance {
                    account: self.account(plan, n).public(),
                    token: DEFAULT_TOKEN,
                    amount,
                })
                .collect(),
        }
    }
}

/// What it takes to start a merchant's anchor again after a crash.
struct AnchorSlot {
    node: usize,
    name: String,
    key: [u8; 32],
    committee: Arc<Committee>,
    genesis: Genesis,
    dir: PathBuf,
    transport: Arc<FrameTransport>,
    spec: ControllerSpec,
}

/// A running mesh.
pub struct Mesh {
    /// Switches.
    pub fabric: Arc<Fabric>,
    /// Controllers.
    pub control: MeshControl,
    /// Authorities, by merchant order (`None` while crashed).
    anchors: Vec<Option<Anchor>>,
    slots: Vec<AnchorSlot>,
    /// Payers, one per phone (each behind its own lock so phones pay concurrently).
    pub payers: Vec<Arc<tokio::sync::Mutex<Payer>>>,
    /// The payers' transports, in the same order.
    pub payer_transports: Vec<Arc<FrameTransport>>,
    payer_nodes: Vec<usize>,
    /// The committees, as laid out.
    pub committees: Vec<Committee>,
    /// Settings the controllers started with.
    pub settings: PolicySettings,
    /// Wallet options.
    pub pay_options: PayOptions,
    /// The mesh's keys.
    pub keys: MeshKeys,
    epoch: Arc<AtomicU64>,
    _data: Option<tempfile::TempDir>,
    /// Set-up time.
    pub setup: Duration,
    /// Memory the set-up took, per switch and per anchor.
    pub memory: crate::memory::SetupMemory,
}

impl Mesh {
    /// Builds and starts the demo's mesh. `step` hears about each set-up step.
    pub async fn start(opts: &MeshOptions, step: impl FnMut(&str)) -> Result<Mesh, MeshError> {
        let plan = MeshPlan::new(opts.merchants, opts.phones_per_cluster, &opts.links)?;
        let population = Population::for_demo(&plan, opts.committee, opts.balance);
        let settings = crate::control::initial_settings(opts.probe_ms, opts.probe_miss_count);
        Mesh::start_layout(plan, population, settings, opts, step).await
    }

    /// Builds and starts a mesh of any layout: a switch per node of `plan`, an anchor (with its
    /// controller, starting with `settings`) per merchant, a payer per entry of `population`.
    /// From `opts` it takes the seed, the wallet's timing and the data directory.
    pub async fn start_layout(
        plan: MeshPlan,
        population: Population,
        settings: PolicySettings,
        opts: &MeshOptions,
        mut step: impl FnMut(&str),
    ) -> Result<Mesh, MeshError> {
        let t0 = Instant::now();
        let keys = MeshKeys::new(opts.seed);
        let merchants: Vec<usize> = plan.merchants().map(|m| m.index).collect();
        for &m in &merchants {
            let n = population
                .committees
                .iter()
                .filter(|c| c.members.contains(&m))
                .count();
            if n != 1 {
                return Err(MeshError::Setup(format!(
                    "merchant {} is a member of {n} committees; the embedded mesh runs one authority per merchant, in exactly one committee",
                    plan.nodes[m].name
                )));
            }
        }
        step("compiling p4src/flash_mesh.p4");
        let program = flashmesh_p4::compile_str("flash_mesh.p4", FLASH_MESH_P4)
            .map_err(|d| MeshError::Program(d.to_string()))?;
        let p4info = p4info_from_source("flash_mesh.p4", FLASH_MESH_P4)
            .map_err(|e| MeshError::Program(e.to_string()))?;
        let pipeline = Pipeline::new(p4info, FLASH_MESH_P4.as_bytes().to_vec());
        step("starting switches");
        let rss_before = crate::memory::resident_bytes();
        let fabric =
            Arc::new(Fabric::start(plan.clone(), program, FLASH_MESH_P4, opts.seed).await?);
        for &l in &plan.initially_down {
            fabric.cut_link(l)?;
        }
        let rss_switches = crate::memory::resident_bytes();
        step("starting anchors and their controllers (pipelines, routes, probes), wallets");
        let operator = keys.operator();
        let mut specs = MeshControl::specs(&fabric, &pipeline, &settings, &operator).into_iter();
        let (data_root, tmp) = match &opts.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("flashmesh-mesh")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let setup = |e: flashmesh_core::CommitteeError| MeshError::Setup(e.to_string());
        let mut committees = Vec::new();
        for c in &population.committees {
            committees.push(keys.committee(&plan, c).map_err(setup)?);
        }
        let committees = linked(committees, &population).map_err(setup)?;
        let mut anchors = Vec::new();
        let mut slots = Vec::new();
        let mut driven = Vec::new();
        for &m in &merchants {
            let ci = population.committee_of_merchant(m).unwrap_or(0);
            let layout = &population.committees[ci];
            let genesis = keys.genesis(&plan, layout);
            let name = &plan.nodes[m].name;
            let transport = Arc::new(fabric.host_transport(m, BCB_UDP_PORT)?);
            let dir = data_root.join(format!("anchor-{name}"));
            std::fs::create_dir_all(&dir)?;
            let spec = specs
                .next()
                .ok_or_else(|| MeshError::Setup(format!("no controller for {name}")))?;
            driven.push(spec.switches.iter().map(|s| s.node.clone()).collect());
            let slot = AnchorSlot {
                node: m,
                name: format!("anchor-{name}"),
                key: keys.authority(m).secret_bytes(),
                committee: Arc::new(committees[ci].clone()),
                genesis,
                dir,
                transport,
                spec,
            };
            anchors.push(Some(slot.assemble().await?));
            slots.push(slot);
        }
        let controllers = anchors
            .iter()
            .map(|a| a.as_ref().and_then(|a| a.controller().cloned()))
            .collect();
        let control = MeshControl::new(controllers, driven, operator);
        let mut payers = Vec::new();
        let mut payer_transports = Vec::new();
        for p in &population.payers {
            let transport = Arc::new(fabric.host_transport(p.node, WALLET_PORT)?);
            payer_transports.push(transport.clone());
            let committee = committees[p.committee].clone();
            let crosses_bottleneck = plan.bottleneck_bound(
                p.node,
                &population.committees[p.committee].members,
                committee.quorum(),
            );
            let client = CommitteeClient::new(committee, transport.clone())
                .map_err(|e| MeshError::Setup(e.to_string()))?;
            payers.push(Arc::new(tokio::sync::Mutex::new(Payer {
                node: p.node,
                payee: p.payee,
                crosses_bottleneck,
                key: keys.account(&plan, p.node),
                recipient: keys.account(&plan, p.payee).public(),
                client,
                transport,
                next_nonce: 0,
                pending: None,
                last_certificate: None,
                last_nonce: 0,
                last_certified: None,
                moving: None,
                committee_name: None,
            })));
        }
        let pay_options = PayOptions {
            retry_interval: opts.retry_interval,
            phase_timeout: opts.phase_timeout,
            epoch: 1,
            payee: None,
        };
        let rss_anchors = crate::memory::resident_bytes();
        let grown = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        let memory = crate::memory::SetupMemory {
            switches_bytes: grown(rss_before, rss_switches),
            anchors_bytes: grown(rss_switches, rss_anchors),
            switches: plan.nodes.len(),
            anchors: anchors.len(),
            after_setup_bytes: rss_anchors,
        };
        step("waiting for the probes to confirm every link");
        control.wait_links_up(Duration::from_secs(5)).await;
        let epoch = control.epoch();
        Ok(Mesh {
            fabric,
            control,
            anchors,
            slots,
            payers,
            payer_transports,
            payer_nodes: population.payers.iter().map(|p| p.node).collect(),
            committees,
            settings,
            pay_options,
            keys,
            epoch: Arc::new(AtomicU64::new(u64::from(epoch))),
            _data: tmp,
            setup: t0.elapsed(),
            memory,
        })
    }

    /// The phone node of each payer, in [`Mesh::payers`] order.
    pub fn payer_nodes(&self) -> &[usize] {
        &self.payer_nodes
    }

    /// The current epoch (all controllers move together).
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Relaxed) as u32
    }

    /// Moves every controller (and so every switch and authority) `n` epochs on. Two epochs
    /// age every duplicate-filter cell out, so orders left unfinished by a phase can go again.
    pub async fn advance_epochs(&self, n: u32) {
        let mut e = self.epoch();
        for _ in 0..n {
            for c in self.control.controllers() {
                e = c.advance_epoch().await;
            }
        }
        self.epoch.store(u64::from(e), Ordering::Relaxed);
    }

    /// The anchor of the `i`-th merchant (in merchant order), unless it is crashed.
    pub fn anchor(&self, i: usize) -> Option<&Anchor> {
        self.anchors.get(i).and_then(Option::as_ref)
    }

    /// The running anchors.
    pub fn running_anchors(&self) -> impl Iterator<Item = &Anchor> {
        self.anchors.iter().flatten()
    }

    /// The merchant-order index of a merchant node's anchor.
    pub fn anchor_index(&self, node: usize) -> Option<usize> {
        self.slots.iter().position(|s| s.node == node)
    }

    /// Kills a merchant's anchor as SIGKILL would: its tasks stop where they are, nothing is
    /// flushed beyond what its store had already made durable, its controller's sessions close
    /// (the switches keep their entries). Returns false if it was not running.
    pub fn crash_anchor(&mut self, i: usize) -> bool {
        let Some(a) = self.anchors.get_mut(i).and_then(Option::take) else {
            return false;
        };
        self.control.remove(i);
        drop(a);
        true
    }

    /// Starts a crashed anchor again from its store (and its controller, which reclaims its
    /// switches). Datagrams that reached its host while it was down are lost, as to a closed
    /// socket.
    pub async fn restart_anchor(&mut self, i: usize) -> Result<(), MeshError> {
        if self.anchor(i).is_some() {
            return Ok(());
        }
        let slot = &self.slots[i];
        slot.transport.discard_pending();
        let anchor = slot.assemble().await?;
        if let Some(c) = anchor.controller() {
            self.control.join(i, c.clone()).await;
        }
        self.anchors[i] = Some(anchor);
        Ok(())
    }

    /// The address of a merchant's authority.
    pub fn anchor_addr(&self, merchant: usize) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(
            self.fabric.plan().nodes[merchant].host_ip(),
            BCB_UDP_PORT,
        ))
    }

    /// Total rejections by every running authority.
    pub fn authority_rejections(&self) -> u64 {
        self.running_anchors().map(Anchor::rejections).sum()
    }

    /// Stops everything, anchors last-writes included.
    pub async fn shutdown(self) {
        let Mesh {
            fabric,
            control,
            anchors,
            payers,
            ..
        } = self;
        drop(payers);
        for a in anchors.into_iter().flatten() {
            a.shutdown().await;
        }
        control.shutdown();
        if let Ok(f) = Arc::try_unwrap(fabric) {
            f.shutdown().await;
        }
    }
}

impl AnchorSlot {
    async fn assemble(&self) -> Result<Anchor, MeshError> {
        Anchor::assemble(AnchorParts {
            name: self.name.clone(),
            key: Keypair::from_seed(&self.key),
            committee: self.committee.clone(),
            genesis: self.genesis.clone(),
            data_dir: self.dir.clone(),
            epoch: 1,
            transports: vec![self.transport.clone()],
            controller: Some(self.spec.clone()),
            admin: None,
            liveness: None,
        })
        .await
        .map_err(|e| MeshError::Anchor(self.name.clone(), e.to_string()))
    }
}

/// Stops-and-starts bookkeeping shared by payment loops.
#[derive(Debug, Default)]
pub struct PayLog {
    /// Finished payments' finality, ms.
    pub finality_ms: Mutex<Vec<f64>>,
    /// Failed payments.
    pub failed: AtomicU64,
    /// Finality of payments crossing the bottleneck, ms.
    pub bottleneck_ms: Mutex<Vec<f64>>,
    /// Failed payments crossing the bottleneck.
    pub bottleneck_failed: AtomicU64,
    /// Failure reasons by phone.
    pub failures: Mutex<std::collections::BTreeMap<String, u64>>,
}
