//! The SQLite back-end of the primary ledger: one database file in WAL mode with
//! `synchronous=FULL`, so an acknowledged settlement survives kill -9 and power loss.
//!
//! Every write is a `BEGIN IMMEDIATE` transaction: it takes the file's write lock before it reads,
//! so connections in other threads or processes on the same file serialise (each waits up to
//! [`BUSY_TIMEOUT`] for the lock). Under that lock the next reference or sequence is the largest
//! recorded plus one, which keeps both free of gaps. Amounts are stored as decimal text (SQLite's
//! integers are `i64`, amounts are `u64` and sums `u128`); sums are added in Rust, checked.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::check::{
    same_deposit, same_withdrawal, time_to_db, validate_deposit, validate_withdrawal,
};
use super::row::{
    BalanceRow, DepositRow, SettlementRow, TokenTotalsRow, decode_totals, deposit_range,
    parse_u128, recorded_first, settled_first,
};
use super::{
    Deposit, DepositRequest, LedgerError, LedgerTotals, PrimaryLedger, Settlement, TokenTotals,
    Withdrawal,
};

/// How long a call waits for another connection's write lock before it fails.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settlements (
    certificate_digest BLOB PRIMARY KEY CHECK (length(certificate_digest) = 32),
    reference INTEGER NOT NULL UNIQUE CHECK (reference > 0),
    account BLOB NOT NULL CHECK (length(account) = 32),
    token INTEGER NOT NULL,
    amount TEXT NOT NULL,
    recipient BLOB NOT NULL CHECK (length(recipient) BETWEEN 1 AND 64),
    nonce TEXT NOT NULL,
    settled_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS deposits (
    sequence INTEGER PRIMARY KEY CHECK (sequence >= 0),
    external_reference BLOB NOT NULL UNIQUE CHECK (length(external_reference) BETWEEN 1 AND 64),
    account BLOB NOT NULL CHECK (length(account) = 32),
    token INTEGER NOT NULL,
    amount TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS recipient_balances (
    recipient BLOB NOT NULL,
    token INTEGER NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (recipient, token)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS token_totals (
    token INTEGER PRIMARY KEY,
    settled_count INTEGER NOT NULL,
    settled_amount TEXT NOT NULL,
    deposited_count INTEGER NOT NULL,
    deposited_amount TEXT NOT NULL
) STRICT;
";

const SETTLEMENT_COLUMNS: &str =
    "certificate_digest, account, token, amount, recipient, nonce, reference, settled_at_ms";
const DEPOSIT_COLUMNS: &str = "sequence, external_reference, account, token, amount, created_at_ms";

/// The primary ledger in a SQLite file. One value is one connection; open one per thread.
pub struct SqliteLedger {
    conn: Connection,
}

impl SqliteLedger {
    /// Opens (or creates) the ledger file at `path`, in WAL mode with `synchronous=FULL`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode = wal_mode(&conn)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::Setup(format!(
                "the file stays in journal mode {mode:?}, not WAL"
            )));
        }
        Self::with_schema(conn)
    }

    /// A ledger in memory, gone when dropped: for tests of one connection.
    pub fn in_memory() -> Result<Self, LedgerError> {
        Self::with_schema(Connection::open_in_memory()?)
    }

    fn with_schema(mut conn: Connection) -> Result<Self, LedgerError> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        tx.commit()?;
        Ok(Self { conn })
    }

    fn write(&mut self) -> Result<Transaction<'_>, LedgerError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

/// Switches the file to WAL and gives the journal mode it is in. Changing the mode needs the
/// file to itself and SQLite answers "busy" at once (without its busy handler) when another
/// connection is opening the same new file, so this retries for up to [`BUSY_TIMEOUT`].
fn wal_mode(conn: &Connection) -> Result<String, LedgerError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

impl PrimaryLedger for SqliteLedger {
    fn settle(&mut self, w: &Withdrawal, now_ms: u64) -> Result<Settlement, LedgerError> {
        validate_withdrawal(w)?;
        let at = time_to_db(now_ms)?;
        let tx = self.write()?;
        if let Some(recorded) = read_settlement(&tx, &w.certificate_digest)? {
            same_withdrawal(&recorded.withdrawal, w)?;
            return Ok(recorded);
        }
        let reference: i64 = tx.query_row(
            "SELECT COALESCE(MAX(reference), 0) + 1 FROM settlements",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            &format!("INSERT INTO settlements ({SETTLEMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                w.certificate_digest.as_slice(),
                w.account.as_slice(),
                i64::from(w.token),
                w.amount.to_string(),
                w.recipient,
                w.nonce.to_string(),
                reference,
                at
            ],
        )?;
        credit_recipient(&tx, &w.recipient, w.token, w.amount)?;
        add_to_totals(&tx, w.token, |t| {
            t.settled_count = t
                .settled_count
                .checked_add(1)
                .ok_or(LedgerError::Overflow("settled count"))?;
            t.settled_amount = add(t.settled_amount, w.amount, "settled amount")?;
            Ok(())
        })?;
        tx.commit()?;
        settled_first(w, reference, now_ms)
    }

    fn settlement(
        &mut self,
        certificate_digest: &[u8; 32],
    ) -> Result<Option<Settlement>, LedgerError> {
        read_settlement(&self.conn, certificate_digest)
    }

    fn record_deposit(&mut self, d: &DepositRequest, now_ms: u64) -> Result<Deposit, LedgerError> {
        validate_deposit(d)?;
        let at = time_to_db(now_ms)?;
        let tx = self.write()?;
        let recorded = tx
            .query_row(
                &format!("SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE external_reference = ?1"),
                [d.external_reference.as_slice()],
                deposit_row,
            )
            .optional()?;
        if let Some(row) = recorded {
            let recorded = row.decode()?;
            same_deposit(&recorded.request, d)?;
            return Ok(recorded);
        }
        let sequence: i64 = tx.query_row(
            "SELECT COALESCE(MAX(sequence) + 1, 0) FROM deposits",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            &format!("INSERT INTO deposits ({DEPOSIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                sequence,
                d.external_reference,
                d.account.as_slice(),
                i64::from(d.token),
                d.amount.to_string(),
                at
            ],
        )?;
        add_to_totals(&tx, d.token, |t| {
            t.deposited_count = t
                .deposited_count
                .checked_add(1)
                .ok_or(LedgerError::Overflow("deposited count"))?;
            t.deposited_amount = add(t.deposited_amount, d.amount, "deposited amount")?;
            Ok(())
        })?;
        tx.commit()?;
        recorded_first(d, sequence, now_ms)
    }

    fn deposits_from(&mut self, sequence: u64, limit: usize) -> Result<Vec<Deposit>, LedgerError> {
        let Some((from, limit)) = deposit_range(sequence, limit) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE sequence >= ?1 ORDER BY sequence LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![from, limit], deposit_row)?;
        let mut deposits = Vec::new();
        for row in rows {
            deposits.push(row?.decode()?);
        }
        Ok(deposits)
    }

    fn totals(&mut self) -> Result<LedgerTotals, LedgerError> {
        // One read transaction: both tables from the same snapshot.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        let tokens = tx
            .prepare(
                "SELECT token, settled_count, settled_amount, deposited_count, deposited_amount
                 FROM token_totals ORDER BY token",
            )?
            .query_map([], token_totals_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let balances = tx
            .prepare("SELECT recipient, token, amount FROM recipient_balances")?
            .query_map([], |r| {
                Ok(BalanceRow {
                    recipient: r.get(0)?,
                    token: r.get(1)?,
                    amount: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        decode_totals(tokens, balances)
    }
}

fn read_settlement(
    conn: &Connection,
    digest: &[u8; 32],
) -> Result<Option<Settlement>, LedgerError> {
    let row = conn
        .query_row(
            &format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE certificate_digest = ?1"),
            [digest.as_slice()],
            |r| {
                Ok(SettlementRow {
                    certificate_digest: r.get(0)?,
                    account: r.get(1)?,
                    token: r.get(2)?,
                    amount: r.get(3)?,
                    recipient: r.get(4)?,
                    nonce: r.get(5)?,
                    reference: r.get(6)?,
                    settled_at_ms: r.get(7)?,
                })
            },
        )
        .optional()?;
    row.map(SettlementRow::decode).transpose()
}

fn deposit_row(r: &Row<'_>) -> rusqlite::Result<DepositRow> {
    Ok(DepositRow {
        sequence: r.get(0)?,
        external_reference: r.get(1)?,
        account: r.get(2)?,
        token: r.get(3)?,
        amount: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

fn token_totals_row(r: &Row<'_>) -> rusqlite::Result<TokenTotalsRow> {
    Ok(TokenTotalsRow {
        token: r.get(0)?,
        settled_count: r.get(1)?,
        settled_amount: r.get(2)?,
        deposited_count: r.get(3)?,
        deposited_amount: r.get(4)?,
    })
}

/// Adds `amount` to the recipient's balance row for `token`, creating it at zero.
fn credit_recipient(
    tx: &Transaction<'_>,
    recipient: &[u8],
    token: u32,
    amount: u64,
) -> Result<(), LedgerError> {
    let current: Option<String> = tx
        .query_row(
            "SELECT amount FROM recipient_balances WHERE recipient = ?1 AND token = ?2",
            params![recipient, i64::from(token)],
            |r| r.get(0),
        )
        .optional()?;
    let before = match current {
        Some(text) => parse_u128(&text, "recipient balance")?,
        None => 0,
    };
    tx.execute(
        "INSERT INTO recipient_balances (recipient, token, amount) VALUES (?1, ?2, ?3)
         ON CONFLICT (recipient, token) DO UPDATE SET amount = excluded.amount",
        params![
            recipient,
            i64::from(token),
            add(before, amount, "recipient balance")?.to_string()
        ],
    )?;
    Ok(())
}

/// Applies `change` to the token's totals row, creating it at zero.
fn add_to_totals(
    tx: &Transaction<'_>,
    token: u32,
    change: impl FnOnce(&mut TokenTotals) -> Result<(), LedgerError>,
) -> Result<(), LedgerError> {
    let current = tx
        .query_row(
            "SELECT token, settled_count, settled_amount, deposited_count, deposited_amount
             FROM token_totals WHERE token = ?1",
            [i64::from(token)],
            token_totals_row,
        )
        .optional()?;
    let mut totals = match current {
        Some(row) => row.decode()?.1,
        None => TokenTotals::default(),
    };
    change(&mut totals)?;
    tx.execute(
        "INSERT INTO token_totals (token, settled_count, settled_amount, deposited_count, deposited_amount)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (token) DO UPDATE SET settled_count = excluded.settled_count,
             settled_amount = excluded.settled_amount, deposited_count = excluded.deposited_count,
             deposited_amount = excluded.deposited_amount",
        params![
            i64::from(token),
            count_to_db(totals.settled_count)?,
            totals.settled_amount.to_string(),
            count_to_db(totals.deposited_count)?,
            totals.deposited_amount.to_string()
        ],
    )?;
    Ok(())
}

fn add(sum: u128, amount: u64, what: &'static str) -> Result<u128, LedgerError> {
    sum.checked_add(u128::from(amount))
        .ok_or(LedgerError::Overflow(what))
}

fn count_to_db(count: u64) -> Result<i64, LedgerError> {
    i64::try_from(count).map_err(|_| LedgerError::Overflow("count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several connections opening one new file at once (the gateway and an operator's tool,
    /// or the threads of a test) all open: none fails on the other's lock.
    #[test]
    fn connections_opened_at_once_on_a_new_file_all_open() {
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("ledger.sqlite");
            let barrier = std::sync::Barrier::new(3);
            std::thread::scope(|s| {
                let opened: Vec<_> = (0..3)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            SqliteLedger::open(&path).map(|_| ())
                        })
                    })
                    .collect();
                for o in opened {
                    if let Err(e) = o.join().unwrap() {
                        panic!("round {round}: {e}");
                    }
                }
            });
        }
    }
}
