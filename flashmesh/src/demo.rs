//! `flashmesh demo`: a committee of anchors and a crowd of wallets in one process on loopback.
//!
//! Honest wallets pay each other concurrently; one account tries a double spend (two
//! conflicting orders for one nonce, each sent to half of the committee, then to everyone);
//! one authority is stopped part-way through. The report gives finality percentiles, the
//! success rate, certificates, the authorities' rejections by reason, and whether any
//! conflicting orders were both certified (they must never be).
//!
//! The scenario is split into steps (`run_payments`, `attempt_double_spend`, ...) so that later
//! scenarios (a P4 mesh between wallets and anchors) can reuse them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flashmesh_core::{
    Envelope, Keypair, Message, PublicKey, QuorumCollector, SignedOrder, TransferOrder,
};
use flashmesh_wallet::{CommitteeClient, PayOptions, confirm_certificate};
use merchant_anchor::{InitOptions, Metrics, Ports, reason_name};
use serde::Serialize;

use crate::local::LocalNet;
use crate::stats::Latencies;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Authorities in the committee.
    pub authorities: usize,
    /// Honest wallets.
    pub wallets: usize,
    /// Honest payments in total (spread over the wallets).
    pub payments: usize,
    /// Stop the last authority after this many payments finished (`None`: never).
    pub kill_after: Option<usize>,
    /// Seed of the payment generator.
    pub seed: u64,
    /// Wallets' retransmission interval.
    pub retry_interval: Duration,
    /// Time allowed for each phase of a payment.
    pub phase_timeout: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            authorities: 4,
            wallets: 8,
            payments: 400,
            kill_after: Some(150),
            seed: 7,
            retry_interval: Duration::from_millis(100),
            phase_timeout: Duration::from_secs(3),
        }
    }
}

/// The demo's KPIs.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Authorities at the start.
    pub authorities: usize,
    /// Honest wallets.
    pub wallets: usize,
    /// Honest payments attempted.
    pub payments_attempted: usize,
    /// Honest payments that reached a quorum of receipts.
    pub payments_succeeded: usize,
    /// `payments_succeeded / payments_attempted`.
    pub success_rate: f64,
    /// Certificates assembled (honest payments).
    pub certificates: usize,
    /// Finality (first ORDER → quorum of receipts), milliseconds.
    pub finality_ms_p50: f64,
    /// 95th percentile of finality.
    pub finality_ms_p95: f64,
    /// Worst finality.
    pub finality_ms_max: f64,
    /// Certificate assembly time (first ORDER → quorum of votes), median.
    pub certificate_ms_p50: f64,
    /// Certificate assembly time, 95th percentile.
    pub certificate_ms_p95: f64,
    /// Double-spend attempts made.
    pub double_spend_attempts: usize,
    /// Conflicting orders of the attempt that were certified (0 or 1 is safe).
    pub double_spend_orders_certified: usize,
    /// Certificates beyond the first for one (account, nonce): a successful double spend.
    pub double_spend_certificates: usize,
    /// The authority stopped mid-run.
    pub killed_authority: Option<String>,
    /// Payments finished when it was stopped.
    pub killed_after_payments: Option<usize>,
    /// Authorities' rejections by reason (all authorities, the stopped one included).
    pub rejections: BTreeMap<String, u64>,
    /// Undecodable datagrams counted by the authorities.
    pub malformed_datagrams: u64,
    /// Mean duration of one durable group commit at the authorities, milliseconds.
    pub store_commit_ms_mean: f64,
    /// Mean number of state changes per group commit.
    pub store_commit_batch_mean: f64,
    /// Why honest payments failed, by error, if any did.
    pub failures: BTreeMap<String, usize>,
    /// Whether every running authority still holds exactly the genesis supply.
    pub supply_conserved: bool,
    /// Wall time of the payment phase, seconds.
    pub duration_s: f64,
    /// Honest payments finished per second.
    pub payments_per_sec: f64,
}

/// A small deterministic generator (xorshift64*), enough to pick recipients and amounts.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (seed 0 is replaced by a constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Outcome of one honest payment.
#[derive(Debug, Clone)]
pub enum PaymentResult {
    /// Finished: finality and certificate latency.
    Ok {
        /// First ORDER to quorum of receipts.
        finality: Duration,
        /// First ORDER to certificate.
        certificate: Duration,
    },
    /// Failed, with the error text's first words.
    Failed(String),
}

/// Outcome of a double-spend attempt.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DoubleSpendOutcome {
    /// Conflicting orders signed.
    pub orders: usize,
    /// How many of them were certified.
    pub certified: usize,
}

/// Runs `per_wallet` payments from each of the first `wallets` accounts to random others,
/// counting finished payments in `finished`. Returns every result.
pub async fn run_payments(
    net: &LocalNet,
    wallets: usize,
    per_wallet: usize,
    seed: u64,
    data_dir: &std::path::Path,
    opts: PayOptions,
    finished: Arc<AtomicUsize>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<Vec<PaymentResult>>>> {
    let recipients: Vec<PublicKey> = net.accounts()[..wallets]
        .iter()
        .map(Keypair::public)
        .collect();
    let mut tasks = Vec::new();
    for w in 0..wallets {
        let mut wallet = net
            .wallet(w, &data_dir.join(format!("wallet-{w}")), opts.clone())
            .await?;
        let recipients = recipients.clone();
        let finished = finished.clone();
        let mut rng = Rng::new(seed.wrapping_add(w as u64 * 7919));
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::with_capacity(per_wallet);
            for _ in 0..per_wallet {
                let mut to = rng.below(recipients.len() as u64) as usize;
                if to == w {
                    to = (to + 1) % recipients.len();
                }
                let amount = 1 + rng.below(100);
                let r = match wallet.pay(recipients[to], amount, 0).await {
                    Ok(p) => PaymentResult::Ok {
                        finality: p.finality_latency,
                        certificate: p.certificate_latency,
                    },
                    Err(e) => {
                        let text = e.to_string();
                        PaymentResult::Failed(text.chars().take(60).collect())
                    }
                };
                finished.fetch_add(1, Ordering::Relaxed);
                results.push(r);
            }
            results
        }));
    }
    Ok(tasks)
}

/// `mallory` signs two conflicting orders for its next nonce (to `a` and to `b`), sends each to
/// one half of the committee, then both to everyone, and submits any certificate it gets.
pub async fn attempt_double_spend(
    client: &CommitteeClient,
    mallory: &Keypair,
    nonce: u64,
    a: PublicKey,
    b: PublicKey,
    amount: u64,
) -> anyhow::Result<DoubleSpendOutcome> {
    let sign = |recipient| {
        SignedOrder::sign(
            TransferOrder {
                sender: mallory.public(),
                recipient,
                token: 0,
                amount,
                nonce,
                epoch: 0,
                ttl: 16,
            },
            mallory,
        )
    };
    let orders = [sign(a), sign(b)];
    let committee = client.committee().clone();
    let mut collectors: Vec<QuorumCollector> = orders
        .iter()
        .map(|o| QuorumCollector::new(*o, &committee))
        .collect();
    let n = client.endpoints().len();
    let half = n / 2;
    let datagrams: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| Envelope::order(*o).encode())
        .collect::<Result<_, _>>()?;
    client.send_to_each(&datagrams[0], 0..half).await;
    client.send_to_each(&datagrams[1], half..n).await;
    gather_votes(client, &mut collectors, Duration::from_millis(300)).await?;
    // Then the attacker tries to complete both with the other half.
    for d in &datagrams {
        client.send_to_each(d, 0..n).await;
    }
    gather_votes(client, &mut collectors, Duration::from_millis(300)).await?;
    let mut certified = 0;
    let opts = PayOptions {
        retry_interval: Duration::from_millis(100),
        phase_timeout: Duration::from_secs(1),
        ..PayOptions::default()
    };
    for c in &collectors {
        if let Some(cert) = c.certificate() {
            certified += 1;
            let _ = confirm_certificate(client, &cert, &opts).await;
        }
    }
    Ok(DoubleSpendOutcome {
        orders: orders.len(),
        certified,
    })
}

async fn gather_votes(
    client: &CommitteeClient,
    collectors: &mut [QuorumCollector],
    window: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + window;
    while let Some(inc) = client.recv_until(deadline).await? {
        if let Message::Vote(v) = inc.envelope.message {
            for c in collectors.iter_mut() {
                if c.order().digest() == v.order_digest {
                    let _ = c.add(&v, client.committee());
                }
            }
        }
    }
    Ok(())
}

fn add_rejections(into: &mut BTreeMap<String, u64>, m: &Metrics) {
    for (code, n) in m.rejection_counts() {
        let name = reason_name(code).unwrap_or("unknown").to_string();
        *into.entry(name).or_default() += n;
    }
}

/// Runs the whole demo in a fresh temporary directory.
pub async fn run_demo(opts: &DemoOptions) -> anyhow::Result<DemoReport> {
    let tmp = tempfile::tempdir()?;
    let init = InitOptions {
        authorities: opts.authorities,
        accounts: opts.wallets + 1,
        balance: 1_000_000,
        ports: Ports::Free,
        workers: 1,
        ..InitOptions::default()
    };
    let mut net = LocalNet::start(&tmp.path().join("committee"), &init).await?;
    let metrics: Vec<Arc<Metrics>> = (0..net.len())
        .filter_map(|i| net.anchor(i).map(|a| a.metrics().clone()))
        .collect();
    let per_wallet = opts.payments.div_ceil(opts.wallets.max(1));
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks = run_payments(
        &net,
        opts.wallets,
        per_wallet,
        opts.seed,
        &tmp.path().join("wallets"),
        PayOptions {
            retry_interval: opts.retry_interval,
            phase_timeout: opts.phase_timeout,
            ..PayOptions::default()
        },
        finished.clone(),
    )
    .await?;

    // The double spend runs alongside the honest traffic.
    let mallory = net.accounts()[opts.wallets].clone();
    let ds_client = net.client().await?;
    let (a, b) = (net.accounts()[0].public(), net.accounts()[1].public());
    let double_spend =
        tokio::spawn(async move { attempt_double_spend(&ds_client, &mallory, 0, a, b, 500).await });

    let mut killed = None;
    if let Some(after) = opts.kill_after.filter(|_| net.len() > 1) {
        let victim = net.len() - 1;
        while finished.load(Ordering::Relaxed) < after && !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let at = finished.load(Ordering::Relaxed);
        net.stop(victim).await;
        killed = Some((net.committee().members()[victim].name().to_string(), at));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await?);
    }
    let duration = started.elapsed();
    let ds = double_spend.await??;

    let mut finality = Latencies::default();
    let mut cert = Latencies::default();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        match r {
            PaymentResult::Ok {
                finality: f,
                certificate: c,
            } => {
                finality.push(*f);
                cert.push(*c);
            }
            PaymentResult::Failed(e) => *failures.entry(e.clone()).or_default() += 1,
        }
    }
    let mut rejections = BTreeMap::new();
    let mut malformed = 0;
    let (mut commits, mut commit_us, mut records) = (0u64, 0u64, 0u64);
    for m in &metrics {
        use merchant_anchor::metrics::get;
        add_rejections(&mut rejections, m);
        malformed += get(&m.malformed);
        commits += get(&m.store_commits);
        commit_us += get(&m.store_commit_micros);
        records += get(&m.store_records);
    }
    let genesis_supply = u128::from(init.balance) * init.accounts as u128;
    let mut supply_conserved = true;
    for i in 0..net.len() {
        if let Some(anchor) = net.anchor(i) {
            let supply = anchor.authority().lock().supply();
            supply_conserved &= supply.get(&0).copied() == Some(genesis_supply);
        }
    }
    net.shutdown().await;
    let attempted = results.len();
    let succeeded = finality.len();
    Ok(DemoReport {
        authorities: opts.authorities,
        wallets: opts.wallets,
        payments_attempted: attempted,
        payments_succeeded: succeeded,
        success_rate: if attempted == 0 {
            0.0
        } else {
            succeeded as f64 / attempted as f64
        },
        certificates: succeeded,
        finality_ms_p50: finality.percentile_ms(50.0),
        finality_ms_p95: finality.percentile_ms(95.0),
        finality_ms_max: finality.max_ms(),
        certificate_ms_p50: cert.percentile_ms(50.0),
        certificate_ms_p95: cert.percentile_ms(95.0),
        double_spend_attempts: 1,
        double_spend_orders_certified: ds.certified,
        double_spend_certificates: ds.certified.saturating_sub(1),
        killed_authority: killed.as_ref().map(|k| k.0.clone()),
        killed_after_payments: killed.map(|k| k.1),
        rejections,
        malformed_datagrams: malformed,
        store_commit_ms_mean: commit_us as f64 / 1000.0 / commits.max(1) as f64,
        store_commit_batch_mean: records as f64 / commits.max(1) as f64,
        failures,
        supply_conserved,
        duration_s: duration.as_secs_f64(),
        payments_per_sec: succeeded as f64 / duration.as_secs_f64().max(1e-9),
    })
}

/// The KPI table printed by `flashmesh demo`.
pub fn render_table(r: &DemoReport) -> String {
    let mut s = String::new();
    let row = |s: &mut String, k: &str, v: String| {
        let _ = writeln!(s, "| {k:<34} | {v:>22} |");
    };
    let _ = writeln!(s, "| {:<34} | {:>22} |", "KPI", "value");
    let _ = writeln!(s, "|{}|{}|", "-".repeat(36), "-".repeat(24));
    row(
        &mut s,
        "authorities / wallets",
        format!("{} / {}", r.authorities, r.wallets),
    );
    row(
        &mut s,
        "payments succeeded / attempted",
        format!("{} / {}", r.payments_succeeded, r.payments_attempted),
    );
    row(
        &mut s,
        "success rate",
        format!("{:.2} %", r.success_rate * 100.0),
    );
    row(&mut s, "certificates", r.certificates.to_string());
    row(
        &mut s,
        "finality p50",
        format!("{:.2} ms", r.finality_ms_p50),
    );
    row(
        &mut s,
        "finality p95",
        format!("{:.2} ms", r.finality_ms_p95),
    );
    row(
        &mut s,
        "finality max",
        format!("{:.2} ms", r.finality_ms_max),
    );
    row(
        &mut s,
        "certificate assembly p50",
        format!("{:.2} ms", r.certificate_ms_p50),
    );
    row(
        &mut s,
        "certificate assembly p95",
        format!("{:.2} ms", r.certificate_ms_p95),
    );
    row(
        &mut s,
        "payments per second",
        format!("{:.0}", r.payments_per_sec),
    );
    row(
        &mut s,
        "double-spend orders certified",
        format!("{} of 2", r.double_spend_orders_certified),
    );
    row(
        &mut s,
        "double-spend certificates",
        r.double_spend_certificates.to_string(),
    );
    row(
        &mut s,
        "authority stopped mid-run",
        match (&r.killed_authority, r.killed_after_payments) {
            (Some(n), Some(at)) => format!("{n} after {at} payments"),
            _ => "none".into(),
        },
    );
    row(&mut s, "supply conserved", r.supply_conserved.to_string());
    row(
        &mut s,
        "durable commit mean (batch)",
        format!(
            "{:.2} ms ({:.1})",
            r.store_commit_ms_mean, r.store_commit_batch_mean
        ),
    );
    for (reason, n) in &r.rejections {
        row(&mut s, &format!("rejections: {reason}"), n.to_string());
    }
    for (why, n) in &r.failures {
        row(
            &mut s,
            &format!("failed: {}", why.chars().take(26).collect::<String>()),
            n.to_string(),
        );
    }
    s
}
