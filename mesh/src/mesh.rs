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

    /// The certificate of its last finished payment.
    pub fn last_certificate(&self) -> Option<&Certificate> {
        self.last_certificate.as_ref()
    }

    /// Pays `amount` to the merchant in `epoch`, finishing an unfinished payment first: an
    /// order whose votes never came is sent again (never a new order for its nonce), and a
    /// certificate whose receipts never came is sent again. The copies of another attempt
    /// carry the retry numbers after those already used (until two epochs have passed).
    pub async fn pay(&mut self, amount: u64, epoch: u32, opts: &PayOptions) -> PayOutcome {
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
                        recipient: self.recipient,
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
        let certificate = match certificate {
            Some(c) => c,
            None => match collect_votes_with(&self.client, order, &opts, &mut retries).await {
                Ok(c) => c.certificate,
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

/// A running mesh.
pub struct Mesh {
    /// Switches.
    pub fabric: Arc<Fabric>,
    /// Controllers.
    pub control: MeshControl,
    /// Authorities, by merchant index.
    pub anchors: Vec<Anchor>,
    /// Payers, one per phone (each behind its own lock so phones pay concurrently).
    pub payers: Vec<Arc<tokio::sync::Mutex<Payer>>>,
    /// The payers' transports, in the same order.
    pub payer_transports: Vec<Arc<FrameTransport>>,
    /// Settings the controllers started with.
    pub settings: PolicySettings,
    /// Wallet options.
    pub pay_options: PayOptions,
    epoch: Arc<AtomicU64>,
    _data: Option<tempfile::TempDir>,
    /// Set-up time.
    pub setup: Duration,
}

impl Mesh {
    /// Builds and starts everything. `step` hears about each set-up step.
    pub async fn start(opts: &MeshOptions, mut step: impl FnMut(&str)) -> Result<Mesh, MeshError> {
        let t0 = Instant::now();
        let plan = MeshPlan::new(opts.merchants, opts.phones_per_cluster, &opts.links)?;
        step("compiling p4src/flash_mesh.p4");
        let program = flashmesh_p4::compile_str("flash_mesh.p4", FLASH_MESH_P4)
            .map_err(|d| MeshError::Program(d.to_string()))?;
        let p4info = p4info_from_source("flash_mesh.p4", FLASH_MESH_P4)
            .map_err(|e| MeshError::Program(e.to_string()))?;
        let pipeline = Pipeline::new(p4info, FLASH_MESH_P4.as_bytes().to_vec());
        step("starting switches");
        let fabric =
            Arc::new(Fabric::start(plan.clone(), program, FLASH_MESH_P4, opts.seed).await?);
        step("starting anchors and their controllers (pipelines, routes, probes), wallets");
        let settings = crate::control::initial_settings(opts.probe_ms, opts.probe_miss_count);
        let operator = OperatorKey::from_seed(key_from(opts.seed, 0xFFFF).secret_bytes());
        let mut specs = MeshControl::specs(&fabric, &pipeline, &settings, &operator).into_iter();
        let mut driven = Vec::new();
        let (data_root, tmp) = match &opts.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("flashmesh-mesh")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let mut anchors = Vec::new();
        let merchant_account = |m: usize| key_from(opts.seed, 0x2000 + m as u64).public();
        let merchant_key = |m: usize| key_from(opts.seed, 0x1000 + m as u64);
        let phone_key = |p: usize| key_from(opts.seed, 0x3000 + p as u64);
        let authority = |m: usize| {
            let node = &plan.nodes[m];
            AuthorityInfo {
                name: format!("anchor-{}", node.name),
                public_key: merchant_key(m).public(),
                weight: 1,
                address: SocketAddrV4::new(node.host_ip(), BCB_UDP_PORT).to_string(),
            }
        };
        let setup = |e: flashmesh_core::CommitteeError| MeshError::Setup(e.to_string());
        let merchants: Vec<usize> = plan.merchants().map(|m| m.index).collect();
        // The committee each merchant's authority serves, and the accounts it knows.
        let mut committees = Vec::new();
        for &m in &merchants {
            let (committee, payers): (Committee, Vec<PublicKey>) = match opts.committee {
                CommitteeMode::PerMerchant => (
                    Committee::new(vec![authority(m)]).map_err(setup)?,
                    plan.phones()
                        .filter(|p| plan.payee_of(p.index) == m)
                        .map(|p| phone_key(p.index).public())
                        .collect(),
                ),
                CommitteeMode::Shared => (
                    Committee::new(merchants.iter().map(|&i| authority(i)).collect())
                        .map_err(setup)?,
                    plan.phones().map(|p| phone_key(p.index).public()).collect(),
                ),
            };
            let genesis = Genesis::uniform(payers, opts.balance);
            let name = &plan.nodes[m].name;
            let transport = Arc::new(fabric.host_transport(m, BCB_UDP_PORT)?);
            let dir = data_root.join(format!("anchor-{name}"));
            std::fs::create_dir_all(&dir)?;
            let spec = specs
                .next()
                .ok_or_else(|| MeshError::Setup(format!("no controller for {name}")))?;
            driven.push(spec.switches.iter().map(|s| s.node.clone()).collect());
            let anchor_name = format!("anchor-{name}");
            let anchor = Anchor::assemble(AnchorParts {
                name: anchor_name.clone(),
                key: merchant_key(m),
                committee: Arc::new(committee.clone()),
                genesis,
                data_dir: dir,
                epoch: 1,
                transports: vec![transport],
                controller: Some(spec),
                admin: None,
            })
            .await
            .map_err(|e| MeshError::Anchor(anchor_name, e.to_string()))?;
            anchors.push(anchor);
            committees.push(committee);
        }
        let controllers = anchors
            .iter()
            .filter_map(|a| a.controller().cloned())
            .collect();
        let control = MeshControl::new(controllers, driven, operator);
        let mut payers = Vec::new();
        let mut payer_transports = Vec::new();
        for p in plan.phones() {
            let payee = plan.payee_of(p.index);
            let transport = Arc::new(fabric.host_transport(p.index, WALLET_PORT)?);
            payer_transports.push(transport.clone());
            let committee = committees[payee].clone();
            let crosses_bottleneck = match opts.committee {
                CommitteeMode::PerMerchant => plan.crosses_bottleneck(p.index),
                CommitteeMode::Shared => {
                    plan.bottleneck_bound(p.index, &merchants, committee.quorum())
                }
            };
            let client = CommitteeClient::new(committee, transport.clone())
                .map_err(|e| MeshError::Setup(e.to_string()))?;
            payers.push(Arc::new(tokio::sync::Mutex::new(Payer {
                node: p.index,
                payee,
                crosses_bottleneck,
                key: phone_key(p.index),
                recipient: merchant_account(payee),
                client,
                transport,
                next_nonce: 0,
                pending: None,
                last_certificate: None,
            })));
        }
        let pay_options = PayOptions {
            retry_interval: opts.retry_interval,
            phase_timeout: opts.phase_timeout,
            epoch: 1,
            payee: None,
        };
        step("waiting for the probes to confirm every link");
        control.wait_links_up(Duration::from_secs(5)).await;
        let epoch = control.controllers()[0].epoch();
        Ok(Mesh {
            fabric,
            control,
            anchors,
            payers,
            payer_transports,
            settings,
            pay_options,
            epoch: Arc::new(AtomicU64::new(u64::from(epoch))),
            _data: tmp,
            setup: t0.elapsed(),
        })
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

    /// The address of a merchant's authority.
    pub fn anchor_addr(&self, merchant: usize) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(
            self.fabric.plan().nodes[merchant].host_ip(),
            BCB_UDP_PORT,
        ))
    }

    /// Total rejections by every authority.
    pub fn authority_rejections(&self) -> u64 {
        self.anchors.iter().map(Anchor::rejections).sum()
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
        for a in anchors {
            a.shutdown().await;
        }
        control.shutdown();
        if let Ok(f) = Arc::try_unwrap(fabric) {
            f.shutdown().await;
        }
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
