//! Shared by the gateway's ledger tests: the back-ends as fixtures (a fresh SQLite file in a
//! temporary folder, a fresh PostgreSQL schema dropped afterwards), deterministic withdrawals
//! and deposits, and the sums the ledger's totals must equal.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod suite;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use flashmesh_gateway::ledger::{
    DepositRequest, LedgerTotals, PostgresLedger, PrimaryLedger, SqliteLedger, TokenTotals,
    Withdrawal,
};

/// The environment variable naming the PostgreSQL server for the tests (a libpq conninfo).
pub const POSTGRES_ENV: &str = "FLASHMESH_TEST_POSTGRES";

/// A back-end the tests open connections to; each fixture is a ledger of its own.
pub trait Fixture: Sync {
    /// A new connection to this fixture's ledger.
    fn open(&self) -> Box<dyn PrimaryLedger>;
}

/// A ledger file in its own temporary folder, removed with the fixture.
pub struct SqliteFixture {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SqliteFixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("ledger.sqlite");
        Self { dir, path }
    }
}

impl Fixture for SqliteFixture {
    fn open(&self) -> Box<dyn PrimaryLedger> {
        Box::new(SqliteLedger::open(&self.path).expect("open the SQLite ledger"))
    }
}

/// A ledger in a schema of its own, dropped (with everything in it) with the fixture.
pub struct PostgresFixture {
    pub conninfo: String,
    pub schema: String,
}

impl PostgresFixture {
    /// A fresh schema named after `test`, or `None` (with the reason printed) when
    /// [`POSTGRES_ENV`] is not set.
    pub fn new(test: &str) -> Option<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(conninfo) = std::env::var(POSTGRES_ENV) else {
            println!(
                "skipped: {POSTGRES_ENV} is not set, so the PostgreSQL ledger test {test} has no \
                 server (set it to a libpq conninfo, e.g. \"host=/var/run/postgresql user=root \
                 dbname=postgres\"; .ci/run does)"
            );
            return None;
        };
        let mut schema = format!(
            "fm_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            test
        );
        schema.truncate(63);
        let fixture = Self { conninfo, schema };
        fixture.drop_schema(); // a leftover of an earlier run with the same process id
        Some(fixture)
    }

    /// A plain client on the fixture's database, for tests that look behind the ledger's back.
    pub fn raw_client(&self) -> postgres::Client {
        let mut client =
            postgres::Client::connect(&self.conninfo, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!("SET search_path TO {}", self.schema))
            .expect("search path");
        client
    }

    fn drop_schema(&self) {
        let mut client =
            postgres::Client::connect(&self.conninfo, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .expect("drop the test schema");
    }

    pub fn ledger(&self) -> PostgresLedger {
        PostgresLedger::connect_in_schema(&self.conninfo, &self.schema)
            .expect("connect the PostgreSQL ledger")
    }
}

impl Fixture for PostgresFixture {
    fn open(&self) -> Box<dyn PrimaryLedger> {
        Box::new(self.ledger())
    }
}

impl Drop for PostgresFixture {
    fn drop(&mut self) {
        self.drop_schema();
    }
}

/// The `i`-th withdrawal of the tests: distinct digests, a few tokens and recipients, amounts
/// spread over the whole range (some near `u64::MAX`, so sums pass `u64`).
pub fn withdrawal(i: u64) -> Withdrawal {
    let mut certificate_digest = [0u8; 32];
    certificate_digest[..8].copy_from_slice(&i.to_be_bytes());
    certificate_digest[8..16].copy_from_slice(&mix(i).to_be_bytes());
    let mut account = [0xa0u8; 32];
    account[0] = (i % 7) as u8;
    let amount = if i % 97 == 5 {
        u64::MAX - i
    } else {
        1 + mix(i) % 1_000_000
    };
    Withdrawal {
        certificate_digest,
        account,
        token: (i % 3) as u32,
        amount,
        recipient: format!("DE89 3704 0044 0532 0130 {:02}", i % 5).into_bytes(),
        nonce: i / 7,
    }
}

/// The `i`-th deposit of the tests.
pub fn deposit(i: u64) -> DepositRequest {
    let mut account = [0xd0u8; 32];
    account[0] = (i % 5) as u8;
    DepositRequest {
        external_reference: format!("bank-transfer-{i:08}").into_bytes(),
        account,
        token: (i % 2) as u32,
        amount: if i % 89 == 3 {
            u64::MAX
        } else {
            1 + mix(i ^ 0x55) % 5_000_000
        },
    }
}

/// A cheap deterministic scrambler (splitmix64's finaliser).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The totals a ledger must show after settling these distinct withdrawals and recording these
/// distinct deposits, summed here independently of any back-end.
pub fn expected_totals<'a>(
    withdrawals: impl IntoIterator<Item = &'a Withdrawal>,
    deposits: impl IntoIterator<Item = &'a DepositRequest>,
) -> LedgerTotals {
    let mut totals = LedgerTotals::default();
    let mut seen = BTreeSet::new();
    for w in withdrawals {
        assert!(
            seen.insert(w.certificate_digest),
            "expected_totals takes distinct withdrawals"
        );
        let t: &mut TokenTotals = totals.tokens.entry(w.token).or_default();
        t.settled_count += 1;
        t.settled_amount += u128::from(w.amount);
        *totals
            .recipients
            .entry((w.recipient.clone(), w.token))
            .or_default() += u128::from(w.amount);
    }
    let mut seen = BTreeSet::new();
    for d in deposits {
        assert!(
            seen.insert(d.external_reference.clone()),
            "expected_totals takes distinct deposits"
        );
        let t = totals.tokens.entry(d.token).or_default();
        t.deposited_count += 1;
        t.deposited_amount += u128::from(d.amount);
    }
    totals
}

/// Asserts that `references` are exactly `first..first + len`, each once.
pub fn assert_gap_free(references: impl IntoIterator<Item = u64>, first: u64, what: &str) {
    let mut counted: BTreeMap<u64, usize> = BTreeMap::new();
    for r in references {
        *counted.entry(r).or_default() += 1;
    }
    let twice: Vec<_> = counted
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(r, _)| *r)
        .collect();
    assert!(twice.is_empty(), "{what}: given more than once: {twice:?}");
    let expected: Vec<u64> = (first..first + counted.len() as u64).collect();
    let got: Vec<u64> = counted.into_keys().collect();
    assert_eq!(got, expected, "{what}: not gap-free from {first}");
}
