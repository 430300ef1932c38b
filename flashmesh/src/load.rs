//! `flashmesh load`: a wallet load generator for a running committee. N payers (account key
//! files) pay at a total rate with seeded Poisson arrivals, each through its own wallet (state on
//! disk, real UDP sockets) to a random payee, for a duration or a count; one `payments.csv` row
//! per payment in the experiments' format. The Mininet target runs one per phone host; by hand
//! it loads a committee set up with `committee init`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::committee::Committee;
use flashmesh_core::keys::{Keypair, PublicKey};
use flashmesh_core::messages::DEFAULT_TOKEN;
use flashmesh_scenario::{PaymentOutcome, PaymentRecord};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{CommitteeClient, PayOptions, Wallet, WalletDir, read_key};
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use thiserror::Error;

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Committee file.
    pub committee: PathBuf,
    /// Key files of the paying accounts.
    pub payers: Vec<PathBuf>,
    /// Key files of the receiving accounts (the payers themselves when empty).
    pub payees: Vec<PathBuf>,
    /// Payments per second over all payers.
    pub rate_per_s: f64,
    /// How long payments start.
    pub duration: Duration,
    /// At most this many payments (0: by duration only).
    pub payments: u64,
    /// Amount range (inclusive).
    pub amount: (u64, u64),
    /// Seed of arrivals, payers, payees and amounts.
    pub seed: u64,
    /// Where the rows go.
    pub out: PathBuf,
    /// Wallet state directories (one per payer inside).
    pub state: PathBuf,
    /// Source address of the payers' sockets.
    pub bind: IpAddr,
    /// Wallet timing.
    pub pay: PayOptions,
    /// Committee name written in the rows.
    pub committee_name: String,
}

/// Why the load could not run.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Nothing to do.
    #[error("no payers, or no payee other than the payer")]
    NoPayers,
    /// A socket could not be opened.
    #[error("socket: {0}")]
    Socket(String),
    /// The rows could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What the load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// One row per payment.
    pub payments: Vec<PaymentRecord>,
    /// Wall time, s.
    pub wall_s: f64,
}

impl LoadReport {
    /// Final payments.
    pub fn succeeded(&self) -> usize {
        self.payments
            .iter()
            .filter(|p| p.outcome == PaymentOutcome::Ok)
            .count()
    }

    /// Finality quantile `q` (ms) over the final payments.
    pub fn finality_ms(&self, q: f64) -> Option<f64> {
        let mut v: Vec<f64> = self
            .payments
            .iter()
            .filter_map(PaymentRecord::finality_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        flashmesh_scenario::outputs::quantile(&v, q)
    }
}

struct Account {
    name: String,
    key: Keypair,
}

fn read_account(path: &Path) -> Result<Account, LoadError> {
    let key = read_key(path).map_err(|e| LoadError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let name = path
        .file_stem()
        .map_or_else(|| key.tag().to_hex(), |s| s.to_string_lossy().into_owned());
    Ok(Account { name, key })
}

/// One payment of the schedule: when, by which payer, to which payee, how much.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Due {
    id: u64,
    at_ms: f64,
    payer: usize,
    payee: usize,
    amount: u64,
}

/// Seeded Poisson arrivals over `payers`, each to a payee (index into `payees`) whose public key
/// differs from the payer's.
fn schedule(o: &LoadOptions, payers: &[PublicKey], payees: &[PublicKey]) -> Vec<Due> {
    let mut rng = SmallRng::seed_from_u64(o.seed ^ 0x10AD_5EED);
    let mut out = Vec::new();
    if o.rate_per_s <= 0.0 {
        return out;
    }
    let mean_ms = 1000.0 / o.rate_per_s;
    let stop_ms = o.duration.as_secs_f64() * 1000.0;
    let (lo, hi) = (o.amount.0.max(1), o.amount.1.max(o.amount.0.max(1)));
    let mut t = 0.0;
    // bounded: one payment per draw at most, draws stop at the count or the stop time
    for _ in 0..10_000_000u64 {
        let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        t += -mean_ms * u.ln();
        let id = out.len() as u64;
        if t > stop_ms || (o.payments > 0 && id >= o.payments) {
            break;
        }
        let payer = rng.random_range(0..payers.len());
        let choices: Vec<usize> = (0..payees.len())
            .filter(|&j| payees[j] != payers[payer])
            .collect();
        if choices.is_empty() {
            continue;
        }
        let payee = choices[rng.random_range(0..choices.len())];
        out.push(Due {
            id,
            at_ms: t,
            payer,
            payee,
            amount: rng.random_range(lo..=hi),
        });
    }
    out
}

/// Runs the load and writes its rows to `o.out`.
pub async fn run_load(o: &LoadOptions) -> Result<LoadReport, LoadError> {
    let text = std::fs::read_to_string(&o.committee).map_err(|e| LoadError::File {
        path: o.committee.clone(),
        message: e.to_string(),
    })?;
    let committee = Committee::from_toml(&text).map_err(|e| LoadError::File {
        path: o.committee.clone(),
        message: e.to_string(),
    })?;
    let payers = o
        .payers
        .iter()
        .map(|p| read_account(p))
        .collect::<Result<Vec<_>, _>>()?;
    let payees = if o.payees.is_empty() {
        o.payers.clone()
    } else {
        o.payees.clone()
    }
    .iter()
    .map(|p| read_account(p))
    .collect::<Result<Vec<_>, _>>()?;
    if payers.is_empty() || payees.is_empty() {
        return Err(LoadError::NoPayers);
    }
    let payer_keys: Vec<PublicKey> = payers.iter().map(|a| a.key.public()).collect();
    let payee_keys: Vec<PublicKey> = payees.iter().map(|a| a.key.public()).collect();
    let plan = schedule(o, &payer_keys, &payee_keys);
    let rows: Vec<PaymentRecord> = plan
        .iter()
        .map(|d| {
            PaymentRecord::planned(
                d.id,
                payers[d.payer].name.clone(),
                payees[d.payee].name.clone(),
                o.committee_name.clone(),
                d.amount,
                d.at_ms,
            )
        })
        .collect();
    let rows = Arc::new(Mutex::new(rows));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, payer) in payers.into_iter().enumerate() {
        let due: Vec<(Due, PublicKey)> = plan
            .iter()
            .filter(|d| d.payer == i)
            .map(|d| (*d, payee_keys[d.payee]))
            .collect();
        if due.is_empty() {
            continue;
        }
        let transport = UdpTransport::bind(SocketAddr::new(o.bind, 0))
            .await
            .map_err(|e| LoadError::Socket(e.to_string()))?;
        let client = CommitteeClient::new(committee.clone(), Arc::new(transport))
            .map_err(|e| LoadError::Socket(e.to_string()))?;
        let dir_path = o.state.join(&payer.name);
        let dir = WalletDir::open(&dir_path).map_err(|e| LoadError::File {
            path: dir_path.clone(),
            message: e.to_string(),
        })?;
        let wallet = Wallet::new(payer.key, client, dir, o.pay.clone());
        tasks.push(tokio::spawn(pay_in_turn(wallet, due, start, rows.clone())));
    }
    let drain = o.pay.phase_timeout * 3;
    let deadline = tokio::time::Instant::from_std(start + o.duration + drain);
    for t in &mut tasks {
        let _ = tokio::time::timeout_at(deadline, &mut *t).await;
    }
    for t in &tasks {
        t.abort();
    }
    let payments = rows.lock().clone();
    flashmesh_scenario::outputs::write_payments(&o.out, &payments).map_err(|source| {
        LoadError::Write {
            path: o.out.clone(),
            source,
        }
    })?;
    Ok(LoadReport {
        payments,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// One payer's payments in order, each at its time (or as soon as the one before finished).
async fn pay_in_turn(
    mut wallet: Wallet,
    due: Vec<(Due, PublicKey)>,
    start: Instant,
    rows: Arc<Mutex<Vec<PaymentRecord>>>,
) {
    for (d, to) in due {
        tokio::time::sleep_until((start + Duration::from_secs_f64(d.at_ms / 1000.0)).into()).await;
        let started = ms_since(start);
        let result = wallet.pay(to, d.amount, DEFAULT_TOKEN).await;
        let end = ms_since(start);
        let mut r = rows.lock();
        let row = &mut r[d.id as usize];
        row.start_ms = started;
        row.end_ms = Some(end);
        match result {
            Ok(p) => {
                row.outcome = PaymentOutcome::Ok;
                row.nonce = p.order.order().nonce;
                row.cert_ms = Some(p.certificate_latency.as_secs_f64() * 1000.0);
            }
            Err(e) => {
                row.outcome = PaymentOutcome::Failed;
                row.reason = reason(&e.to_string());
            }
        }
    }
}

/// A short failure reason for the row.
fn reason(e: &str) -> String {
    let e = e.to_ascii_lowercase();
    let code = if e.contains("refused") {
        "refused"
    } else if e.contains("pending") {
        "pending_unfinished"
    } else if e.contains("timed out") || e.contains("timeout") {
        "timeout"
    } else if e.contains("quorum") {
        "no_quorum"
    } else {
        "error"
    };
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rate: f64, secs: u64, count: u64) -> LoadOptions {
        LoadOptions {
            committee: PathBuf::new(),
            payers: Vec::new(),
            payees: Vec::new(),
            rate_per_s: rate,
            duration: Duration::from_secs(secs),
            payments: count,
            amount: (1, 5),
            seed: 9,
            out: PathBuf::new(),
            state: PathBuf::new(),
            bind: IpAddr::from([127, 0, 0, 1]),
            pay: PayOptions::default(),
            committee_name: String::new(),
        }
    }

    #[test]
    fn schedule_is_seeded_bounded_and_never_self_pays() {
        let keys: Vec<PublicKey> = (0..3u8)
            .map(|i| Keypair::from_seed(&[i + 1; 32]).public())
            .collect();
        let a = schedule(&opts(50.0, 4, 0), &keys, &keys);
        let b = schedule(&opts(50.0, 4, 0), &keys, &keys);
        assert_eq!(a, b);
        // about 200 arrivals in 4 s at 50/s
        assert!((120..300).contains(&a.len()), "{}", a.len());
        assert!(a.iter().all(|d| keys[d.payer] != keys[d.payee]));
        assert!(a.iter().all(|d| (1..=5).contains(&d.amount)));
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert_eq!(schedule(&opts(50.0, 4, 10), &keys, &keys).len(), 10);
        assert!(schedule(&opts(0.0, 4, 0), &keys, &keys).is_empty());
        // one account only: nobody to pay
        assert!(schedule(&opts(50.0, 1, 0), &keys[..1], &keys[..1]).is_empty());
    }

    #[test]
    fn reasons_are_short_codes() {
        assert_eq!(reason("payment failed: votes timed out"), "timeout");
        assert_eq!(reason("refused by 3 authorities"), "refused");
        assert_eq!(reason("something else"), "error");
    }
}
