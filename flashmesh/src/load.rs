//! `flashmesh load`: a wallet load generator for a running committee. N payers (account key
//! files) pay at a total rate with seeded Poisson arrivals, each through its own wallet (state on
//! disk, real UDP sockets) to a random payee, for a duration or a count; one `payments.csv` row
//! per payment in the experiments' format. Instead of drawing arrivals it can follow a schedule
//! file ([`ScheduleFile`]: the payments of a scenario, with their ids, times, payees and
//! amounts) from a start time shared by several processes: the Mininet target runs one per
//! phone host that way. By hand it loads a committee set up with `committee init`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::committee::Committee;
use flashmesh_core::keys::{Keypair, PublicKey};
use flashmesh_core::messages::DEFAULT_TOKEN;
use flashmesh_mesh::experiment::workload::reason_code;
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
    /// The payments to make instead of drawn arrivals (rate, duration, count and seed unused).
    pub schedule: Option<PathBuf>,
    /// The moment the schedule's times count from, Unix ms (default: when the load starts).
    pub start_at_unix_ms: Option<u64>,
    /// Attempts after the first for a payment that failed (the same order again).
    pub retries: u32,
    /// A payment not started within this of its due time is abandoned unsent (`payer_busy`).
    pub give_up_after: Option<Duration>,
}

/// A schedule file (JSON): the payments a load makes, each by one of its payers (the key
/// file's stem) to a payee's key file.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// The payments, in time order.
    pub payments: Vec<ScheduledPayment>,
}

/// One payment of a schedule file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledPayment {
    /// Its id (the row's `id`).
    pub id: u64,
    /// Due time, ms from the start.
    pub at_ms: f64,
    /// The payer: stem of one of the load's `--key` files.
    pub payer: String,
    /// Key file of the payee account (its stem names the payee in the row).
    pub payee: PathBuf,
    /// Amount.
    pub amount: u64,
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
    row: usize,
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
            row: id as usize,
            at_ms: t,
            payer,
            payee,
            amount: rng.random_range(lo..=hi),
        });
    }
    out
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The schedule file's payments as dues over `payers` and the payees it names (appended to
/// `payees`).
fn scheduled(
    path: &Path,
    payers: &[Account],
    payees: &mut Vec<Account>,
) -> Result<Vec<Due>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let file: ScheduleFile = serde_json::from_str(&text).map_err(|e| file_error(path, e))?;
    let mut payee_files: Vec<PathBuf> = Vec::new();
    let mut out = Vec::with_capacity(file.payments.len());
    for (row, p) in file.payments.iter().enumerate() {
        let payer = payers
            .iter()
            .position(|a| a.name == p.payer)
            .ok_or_else(|| {
                file_error(
                    path,
                    format!("payment {}: payer {:?} has no --key", p.id, p.payer),
                )
            })?;
        let payee = match payee_files.iter().position(|f| *f == p.payee) {
            Some(i) => i,
            None => {
                payees.push(read_account(&p.payee)?);
                payee_files.push(p.payee.clone());
                payee_files.len() - 1
            }
        };
        if !p.at_ms.is_finite() || p.at_ms < 0.0 {
            return Err(file_error(path, format!("payment {}: bad at_ms", p.id)));
        }
        out.push(Due {
            id: p.id,
            row,
            at_ms: p.at_ms,
            payer,
            payee,
            amount: p.amount,
        });
    }
    Ok(out)
}

/// The instant `unix_ms` stands for (now when absent or not representable).
fn instant_of(unix_ms: Option<u64>) -> Instant {
    let now = Instant::now();
    let Some(at) = unix_ms else { return now };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if at >= now_ms {
        now + Duration::from_millis(at - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - at))
            .unwrap_or(now)
    }
}

/// Runs the load and writes its rows to `o.out`.
pub async fn run_load(o: &LoadOptions) -> Result<LoadReport, LoadError> {
    let text = std::fs::read_to_string(&o.committee).map_err(|e| file_error(&o.committee, e))?;
    let committee = Committee::from_toml(&text).map_err(|e| file_error(&o.committee, e))?;
    let payers = o
        .payers
        .iter()
        .map(|p| read_account(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut payees = Vec::new();
    let plan = match &o.schedule {
        Some(path) => scheduled(path, &payers, &mut payees)?,
        None => {
            payees = if o.payees.is_empty() {
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
            schedule(o, &payer_keys, &payee_keys)
        }
    };
    if payers.is_empty() {
        return Err(LoadError::NoPayers);
    }
    let payee_keys: Vec<PublicKey> = payees.iter().map(|a| a.key.public()).collect();
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
    let start = instant_of(o.start_at_unix_ms);
    let turn = Turn {
        start,
        retries: o.retries,
        give_up_after: o.give_up_after,
    };
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
        let dir = WalletDir::open(&dir_path).map_err(|e| file_error(&dir_path, e))?;
        let wallet = Wallet::new(payer.key, client, dir, o.pay.clone());
        tasks.push(tokio::spawn(pay_in_turn(wallet, due, turn, rows.clone())));
    }
    let span = match &o.schedule {
        Some(_) => {
            Duration::from_secs_f64(plan.iter().map(|d| d.at_ms).fold(0.0, f64::max) / 1000.0)
        }
        None => o.duration,
    };
    let drain = o.pay.phase_timeout * 3 * (1 + o.retries);
    let deadline = tokio::time::Instant::from_std(start + span + drain);
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

/// How a payer takes its turns.
#[derive(Debug, Clone, Copy)]
struct Turn {
    start: Instant,
    retries: u32,
    give_up_after: Option<Duration>,
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// One payer's payments in order, each at its time (or as soon as the one before finished):
/// a payment whose turn comes later than `give_up_after` past its time is abandoned unsent
/// (`payer_busy`); one that fails is tried again as the same order up to `retries` times.
async fn pay_in_turn(
    mut wallet: Wallet,
    due: Vec<(Due, PublicKey)>,
    turn: Turn,
    rows: Arc<Mutex<Vec<PaymentRecord>>>,
) {
    let start = turn.start;
    for (d, to) in due {
        let at = start + Duration::from_secs_f64(d.at_ms / 1000.0);
        tokio::time::sleep_until(at.into()).await;
        if turn.give_up_after.is_some_and(|g| Instant::now() > at + g) {
            let mut r = rows.lock();
            let row = &mut r[d.row];
            row.end_ms = Some(ms_since(start));
            row.outcome = PaymentOutcome::Failed;
            row.reason = "payer_busy".into();
            continue;
        }
        let started = ms_since(start);
        {
            rows.lock()[d.row].start_ms = started;
        }
        let mut result = wallet.pay(to, d.amount, DEFAULT_TOKEN).await.map(Some);
        let mut attempts = 1;
        while result.is_err() && attempts <= turn.retries {
            attempts += 1;
            result = wallet.finish_pending().await;
        }
        let end = ms_since(start);
        let mut r = rows.lock();
        let row = &mut r[d.row];
        row.end_ms = Some(end);
        row.retries = attempts - 1;
        match result {
            Ok(Some(p)) => {
                row.outcome = PaymentOutcome::Ok;
                row.nonce = p.order.order().nonce;
                row.cert_ms = Some(p.certificate_latency.as_secs_f64() * 1000.0);
            }
            Ok(None) => {
                row.outcome = PaymentOutcome::Failed;
                row.reason = "error".into();
            }
            Err(e) => {
                row.outcome = PaymentOutcome::Failed;
                row.reason = reason_code(&e.to_string());
            }
        }
    }
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
            schedule: None,
            start_at_unix_ms: None,
            retries: 0,
            give_up_after: None,
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
        assert_eq!(
            reason_code("payment failed: votes timed out"),
            "votes_timeout"
        );
        assert_eq!(
            reason_code("payment failed: refused by authorities: x"),
            "refused"
        );
        assert_eq!(reason_code("something else"), "error");
    }

    #[test]
    fn a_schedule_file_names_payers_and_payees() {
        let dir = tempfile::tempdir().unwrap();
        let key = |name: &str, seed: u8| {
            let path = dir.path().join(format!("{name}.key"));
            let k = Keypair::from_seed(&[seed; 32]);
            std::fs::write(&path, format!("{}\n", k.to_hex())).unwrap();
            path
        };
        let (p4, m1) = (key("p4", 1), key("m1", 2));
        let file = ScheduleFile {
            payments: vec![ScheduledPayment {
                id: 7,
                at_ms: 12.5,
                payer: "p4".into(),
                payee: m1.clone(),
                amount: 3,
            }],
        };
        let path = dir.path().join("s.json");
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        let payers = vec![read_account(&p4).unwrap()];
        let mut payees = Vec::new();
        let due = scheduled(&path, &payers, &mut payees).unwrap();
        assert_eq!(
            (due[0].id, due[0].row, due[0].payer, due[0].payee),
            (7, 0, 0, 0)
        );
        assert_eq!(payees[0].name, "m1");
        // an unknown payer and a broken file are errors, not panics
        let bad = ScheduleFile {
            payments: vec![ScheduledPayment {
                payer: "p9".into(),
                ..file.payments[0].clone()
            }],
        };
        std::fs::write(&path, serde_json::to_string(&bad).unwrap()).unwrap();
        assert!(scheduled(&path, &payers, &mut payees).is_err());
        std::fs::write(&path, "{not json").unwrap();
        assert!(scheduled(&path, &payers, &mut payees).is_err());
    }
}
