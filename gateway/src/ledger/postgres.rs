//! The PostgreSQL back-end of the primary ledger, over the blocking `postgres` client.
//!
//! A first settlement is one READ COMMITTED transaction: it takes the next reference from a
//! one-row counter (`UPDATE … RETURNING`, which row-locks the counter until commit, so first
//! settlements serialise and references have no gap), inserts the withdrawal with
//! `ON CONFLICT (certificate_digest) DO NOTHING`, credits the recipient and adds to the token's
//! totals. When the insert finds the digest already there (another connection settled it while
//! this one waited for the counter) the transaction reads that first row and rolls back, which
//! also returns the counter. Deposits do the same keyed by the external reference, with their own
//! counter. Amounts are `NUMERIC(20,0)`, sums `NUMERIC(38,0)` (below `u128::MAX`), exchanged as
//! decimal text and decoded with checks.

use postgres::error::SqlState;
use postgres::{Client, NoTls, Row, Transaction};

use super::check::{
    same_deposit, same_withdrawal, time_to_db, validate_deposit, validate_withdrawal,
};
use super::row::{
    BalanceRow, DepositRow, SettlementRow, TokenTotalsRow, decode_totals, deposit_range,
    recorded_first, settled_first,
};
use super::{
    Deposit, DepositRequest, LedgerError, LedgerTotals, PrimaryLedger, Settlement, Withdrawal,
};

/// Serialises schema creation between connections (`CREATE … IF NOT EXISTS` alone races).
const SCHEMA_LOCK: i64 = 0x464d_4c45_4447_4552;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settlements (
    certificate_digest BYTEA PRIMARY KEY CHECK (octet_length(certificate_digest) = 32),
    reference BIGINT NOT NULL UNIQUE CHECK (reference > 0),
    account BYTEA NOT NULL CHECK (octet_length(account) = 32),
    token BIGINT NOT NULL CHECK (token BETWEEN 0 AND 4294967295),
    amount NUMERIC(20,0) NOT NULL CHECK (amount > 0 AND amount <= 18446744073709551615),
    recipient BYTEA NOT NULL CHECK (octet_length(recipient) BETWEEN 1 AND 64),
    nonce NUMERIC(20,0) NOT NULL CHECK (nonce >= 0 AND nonce <= 18446744073709551615),
    settled_at_ms BIGINT NOT NULL CHECK (settled_at_ms >= 0)
);
CREATE TABLE IF NOT EXISTS deposits (
    sequence BIGINT PRIMARY KEY CHECK (sequence >= 0),
    external_reference BYTEA NOT NULL UNIQUE
        CHECK (octet_length(external_reference) BETWEEN 1 AND 64),
    account BYTEA NOT NULL CHECK (octet_length(account) = 32),
    token BIGINT NOT NULL CHECK (token BETWEEN 0 AND 4294967295),
    amount NUMERIC(20,0) NOT NULL CHECK (amount > 0 AND amount <= 18446744073709551615),
    created_at_ms BIGINT NOT NULL CHECK (created_at_ms >= 0)
);
CREATE TABLE IF NOT EXISTS recipient_balances (
    recipient BYTEA NOT NULL,
    token BIGINT NOT NULL,
    amount NUMERIC(38,0) NOT NULL,
    PRIMARY KEY (recipient, token)
);
CREATE TABLE IF NOT EXISTS token_totals (
    token BIGINT PRIMARY KEY,
    settled_count BIGINT NOT NULL,
    settled_amount NUMERIC(38,0) NOT NULL,
    deposited_count BIGINT NOT NULL,
    deposited_amount NUMERIC(38,0) NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_counters (
    name TEXT PRIMARY KEY,
    next_value BIGINT NOT NULL
);
INSERT INTO ledger_counters (name, next_value)
    VALUES ('settlement_reference', 1), ('deposit_sequence', 0)
    ON CONFLICT (name) DO NOTHING;
";

const SELECT_SETTLEMENT: &str = "SELECT certificate_digest, account, token, amount::text,
    recipient, nonce::text, reference, settled_at_ms FROM settlements WHERE certificate_digest = $1";
const SELECT_DEPOSITS: &str = "SELECT sequence, external_reference, account, token, amount::text, created_at_ms FROM deposits";

/// The primary ledger on a PostgreSQL server. One value is one connection (one session).
pub struct PostgresLedger {
    client: Client,
}

impl PostgresLedger {
    /// Connects with a libpq conninfo string (`host=… user=… dbname=…`) and creates the tables,
    /// if absent, in the first schema of the session's search path (normally `public`).
    ///
    /// The client blocks, and runs an async runtime of its own to do so: call this (and the
    /// ledger's methods) from a plain thread, such as the [`crate::worker::LedgerHandle`]
    /// thread or `main` before the gateway's runtime starts. Called on a thread that drives an
    /// async runtime it answers [`LedgerError::Setup`] instead of connecting.
    pub fn connect(conninfo: &str) -> Result<Self, LedgerError> {
        Self::setup(client(conninfo)?, None)
    }

    /// As [`PostgresLedger::connect`], with the tables in `schema` (created if absent): several
    /// ledgers in one database. `schema` is a plain lower-case SQL name: `[a-z_][a-z0-9_]*`, at
    /// most 63 bytes.
    pub fn connect_in_schema(conninfo: &str, schema: &str) -> Result<Self, LedgerError> {
        let plain = schema.len() <= 63
            && schema
                .bytes()
                .enumerate()
                .all(|(i, b)| b == b'_' || b.is_ascii_lowercase() || (i > 0 && b.is_ascii_digit()));
        if schema.is_empty() || !plain {
            return Err(LedgerError::Invalid(
                "schema must match [a-z_][a-z0-9_]*, at most 63 bytes",
            ));
        }
        Self::setup(client(conninfo)?, Some(schema))
    }

    fn setup(mut client: Client, schema: Option<&str>) -> Result<Self, LedgerError> {
        if let Some(schema) = schema {
            // Session-wide; checked above to need no quoting beyond the double quotes.
            client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
        }
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        if let Some(schema) = schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
        }
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        Ok(Self { client })
    }
}

impl PrimaryLedger for PostgresLedger {
    fn settle(&mut self, w: &Withdrawal, now_ms: u64) -> Result<Settlement, LedgerError> {
        validate_withdrawal(w)?;
        let at = time_to_db(now_ms)?;
        let mut tx = self.client.transaction()?;
        if let Some(recorded) = read_settlement(&mut tx, &w.certificate_digest)? {
            same_withdrawal(&recorded.withdrawal, w)?;
            return Ok(recorded);
        }
        let reference = next_value(&mut tx, "settlement_reference")?;
        let inserted = tx.execute(
            "INSERT INTO settlements (certificate_digest, account, token, amount, recipient, nonce,
                 reference, settled_at_ms)
             VALUES ($1, $2, $3, $4::text::numeric, $5, $6::text::numeric, $7, $8)
             ON CONFLICT (certificate_digest) DO NOTHING",
            &[
                &w.certificate_digest.as_slice(),
                &w.account.as_slice(),
                &i64::from(w.token),
                &w.amount.to_string(),
                &w.recipient,
                &w.nonce.to_string(),
                &reference,
                &at,
            ],
        )?;
        if inserted == 0 {
            // Settled by another connection meanwhile; dropping `tx` rolls the counter back.
            let recorded = read_settlement(&mut tx, &w.certificate_digest)?.ok_or_else(|| {
                LedgerError::Corrupt("settlement refused as a duplicate but not found".into())
            })?;
            same_withdrawal(&recorded.withdrawal, w)?;
            return Ok(recorded);
        }
        tx.execute(
            "INSERT INTO recipient_balances (recipient, token, amount) VALUES ($1, $2, $3::text::numeric)
             ON CONFLICT (recipient, token)
             DO UPDATE SET amount = recipient_balances.amount + EXCLUDED.amount",
            &[&w.recipient, &i64::from(w.token), &w.amount.to_string()],
        )
        .map_err(sum_error)?;
        tx.execute(
            "INSERT INTO token_totals (token, settled_count, settled_amount, deposited_count,
                 deposited_amount)
             VALUES ($1, 1, $2::text::numeric, 0, 0)
             ON CONFLICT (token) DO UPDATE SET settled_count = token_totals.settled_count + 1,
                 settled_amount = token_totals.settled_amount + EXCLUDED.settled_amount",
            &[&i64::from(w.token), &w.amount.to_string()],
        )
        .map_err(sum_error)?;
        tx.commit()?;
        settled_first(w, reference, now_ms)
    }

    fn settlement(
        &mut self,
        certificate_digest: &[u8; 32],
    ) -> Result<Option<Settlement>, LedgerError> {
        let mut tx = self.client.transaction()?;
        let found = read_settlement(&mut tx, certificate_digest)?;
        tx.commit()?;
        Ok(found)
    }

    fn record_deposit(&mut self, d: &DepositRequest, now_ms: u64) -> Result<Deposit, LedgerError> {
        validate_deposit(d)?;
        let at = time_to_db(now_ms)?;
        let mut tx = self.client.transaction()?;
        if let Some(recorded) = read_deposit(&mut tx, &d.external_reference)? {
            same_deposit(&recorded.request, d)?;
            return Ok(recorded);
        }
        let sequence = next_value(&mut tx, "deposit_sequence")?;
        let inserted = tx.execute(
            "INSERT INTO deposits (sequence, external_reference, account, token, amount, created_at_ms)
             VALUES ($1, $2, $3, $4, $5::text::numeric, $6)
             ON CONFLICT (external_reference) DO NOTHING",
            &[
                &sequence,
                &d.external_reference,
                &d.account.as_slice(),
                &i64::from(d.token),
                &d.amount.to_string(),
                &at,
            ],
        )?;
        if inserted == 0 {
            let recorded = read_deposit(&mut tx, &d.external_reference)?.ok_or_else(|| {
                LedgerError::Corrupt("deposit refused as a duplicate but not found".into())
            })?;
            same_deposit(&recorded.request, d)?;
            return Ok(recorded);
        }
        tx.execute(
            "INSERT INTO token_totals (token, settled_count, settled_amount, deposited_count,
                 deposited_amount)
             VALUES ($1, 0, 0, 1, $2::text::numeric)
             ON CONFLICT (token) DO UPDATE SET deposited_count = token_totals.deposited_count + 1,
                 deposited_amount = token_totals.deposited_amount + EXCLUDED.deposited_amount",
            &[&i64::from(d.token), &d.amount.to_string()],
        )
        .map_err(sum_error)?;
        tx.commit()?;
        recorded_first(d, sequence, now_ms)
    }

    fn deposits_from(&mut self, sequence: u64, limit: usize) -> Result<Vec<Deposit>, LedgerError> {
        let Some((from, limit)) = deposit_range(sequence, limit) else {
            return Ok(Vec::new());
        };
        let rows = self.client.query(
            &format!("{SELECT_DEPOSITS} WHERE sequence >= $1 ORDER BY sequence LIMIT $2"),
            &[&from, &limit],
        )?;
        rows.iter().map(|r| deposit_row(r)?.decode()).collect()
    }

    fn totals(&mut self) -> Result<LedgerTotals, LedgerError> {
        // REPEATABLE READ: both tables from the same snapshot.
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let tokens = tx
            .query(
                "SELECT token, settled_count, settled_amount::text, deposited_count,
                     deposited_amount::text
                 FROM token_totals ORDER BY token",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(TokenTotalsRow {
                    token: r.try_get(0)?,
                    settled_count: r.try_get(1)?,
                    settled_amount: r.try_get(2)?,
                    deposited_count: r.try_get(3)?,
                    deposited_amount: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()?;
        let balances = tx
            .query(
                "SELECT recipient, token, amount::text FROM recipient_balances",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(BalanceRow {
                    recipient: r.try_get(0)?,
                    token: r.try_get(1)?,
                    amount: r.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()?;
        tx.commit()?;
        decode_totals(tokens, balances)
    }
}

/// A connection by `conninfo`, refused on an async runtime's thread, where the blocking
/// client would panic ("Cannot start a runtime from within a runtime").
fn client(conninfo: &str) -> Result<Client, LedgerError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(LedgerError::Setup(
            "the PostgreSQL ledger blocks and cannot be opened on an async runtime's thread; \
             open it on a plain thread (e.g. before the runtime starts)"
                .into(),
        ));
    }
    Ok(Client::connect(conninfo, NoTls)?)
}

/// Where `conninfo` leads, for error messages: user, host(s), port(s) and database, never the
/// password. A string that does not parse is named as such (connecting reports why).
pub fn describe_conninfo(conninfo: &str) -> String {
    let Ok(c) = conninfo.parse::<postgres::Config>() else {
        return "an unparsable conninfo string".into();
    };
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
    format!(
        "user {}, host {}, port {}, database {}",
        c.get_user().unwrap_or("(default)"),
        if hosts.is_empty() {
            "(default)".to_string()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "(default)".to_string()
        } else {
            ports.join(",")
        },
        c.get_dbname().unwrap_or("(the user's name)"),
    )
}

/// Takes the counter's value and moves it on; the row stays locked until the transaction ends.
fn next_value(tx: &mut Transaction<'_>, counter: &str) -> Result<i64, LedgerError> {
    let row = tx
        .query_opt(
            "UPDATE ledger_counters SET next_value = next_value + 1 WHERE name = $1
             RETURNING next_value - 1",
            &[&counter],
        )?
        .ok_or_else(|| LedgerError::Corrupt(format!("counter {counter} is missing")))?;
    Ok(row.try_get(0)?)
}

fn read_settlement(
    tx: &mut Transaction<'_>,
    digest: &[u8; 32],
) -> Result<Option<Settlement>, LedgerError> {
    let Some(r) = tx.query_opt(SELECT_SETTLEMENT, &[&digest.as_slice()])? else {
        return Ok(None);
    };
    let row = SettlementRow {
        certificate_digest: r.try_get(0)?,
        account: r.try_get(1)?,
        token: r.try_get(2)?,
        amount: r.try_get(3)?,
        recipient: r.try_get(4)?,
        nonce: r.try_get(5)?,
        reference: r.try_get(6)?,
        settled_at_ms: r.try_get(7)?,
    };
    row.decode().map(Some)
}

fn read_deposit(
    tx: &mut Transaction<'_>,
    reference: &[u8],
) -> Result<Option<Deposit>, LedgerError> {
    let found = tx.query_opt(
        &format!("{SELECT_DEPOSITS} WHERE external_reference = $1"),
        &[&reference],
    )?;
    found.map(|r| deposit_row(&r)?.decode()).transpose()
}

fn deposit_row(r: &Row) -> Result<DepositRow, LedgerError> {
    Ok(DepositRow {
        sequence: r.try_get(0)?,
        external_reference: r.try_get(1)?,
        account: r.try_get(2)?,
        token: r.try_get(3)?,
        amount: r.try_get(4)?,
        created_at_ms: r.try_get(5)?,
    })
}

/// A sum past `NUMERIC(38,0)` is an overflow, not a database failure.
fn sum_error(e: postgres::Error) -> LedgerError {
    if e.code() == Some(&SqlState::NUMERIC_VALUE_OUT_OF_RANGE) {
        LedgerError::Overflow("sum exceeds NUMERIC(38,0)")
    } else {
        LedgerError::Postgres(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connecting_on_an_async_runtime_thread_is_a_typed_error() {
        // Refused before any connection attempt, so no server is needed.
        match PostgresLedger::connect("host=/nonexistent dbname=x") {
            Err(LedgerError::Setup(m)) => assert!(m.contains("async runtime"), "{m}"),
            Err(e) => panic!("expected a set-up error, got {e}"),
            Ok(_) => panic!("connected on an async runtime thread"),
        }
    }

    #[test]
    fn a_conninfo_is_described_without_its_password() {
        let d = describe_conninfo(
            "host=/var/run/postgresql user=root password=s3cret dbname=postgres dbname=gw_1",
        );
        assert_eq!(
            d,
            "user root, host /var/run/postgresql, port (default), database gw_1"
        );
        assert!(!d.contains("s3cret"));
        assert_eq!(
            describe_conninfo("host='unterminated"),
            "an unparsable conninfo string"
        );
    }
}
