//! The ledger conformance suite against both back-ends (a real SQLite file; a real PostgreSQL
//! server named by `FLASHMESH_TEST_POSTGRES`, skipped with a printed reason when unset), and the
//! tests proper to each: on-disk set-up, rows changed behind the ledger's back, sums at the
//! limit of their type.

mod common;

mod sqlite {
    use flashmesh_gateway::ledger::{LedgerError, PrimaryLedger, SqliteLedger};

    use crate::common::suite::overflow_changed_nothing;
    use crate::common::{SqliteFixture, expected_totals, withdrawal};

    crate::conformance_tests!(|_case: &str| Some(SqliteFixture::new()));

    fn raw(f: &SqliteFixture) -> rusqlite::Connection {
        rusqlite::Connection::open(&f.path).expect("open the file directly")
    }

    #[test]
    fn the_file_is_in_wal_mode_and_keeps_what_was_settled() {
        let f = SqliteFixture::new();
        let first = SqliteLedger::open(&f.path)
            .unwrap()
            .settle(&withdrawal(1), 5)
            .unwrap();
        let mode: String = raw(&f)
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let mut reopened = SqliteLedger::open(&f.path).unwrap();
        let read = reopened
            .settlement(&withdrawal(1).certificate_digest)
            .unwrap();
        assert_eq!(
            read.map(|s| (s.reference, s.settled_at_ms)),
            Some((first.reference, 5))
        );
        assert_eq!(
            reopened.totals().unwrap(),
            expected_totals([&withdrawal(1)], [])
        );
    }

    #[test]
    fn in_memory_is_a_ledger_too() {
        let mut ledger = SqliteLedger::in_memory().unwrap();
        assert!(ledger.settle(&withdrawal(1), 1).unwrap().first);
        assert!(!ledger.settle(&withdrawal(1), 2).unwrap().first);
        assert_eq!(
            ledger.totals().unwrap(),
            expected_totals([&withdrawal(1)], [])
        );
    }

    #[test]
    fn rows_that_do_not_decode_are_corrupt() {
        let f = SqliteFixture::new();
        let mut ledger = SqliteLedger::open(&f.path).unwrap();
        let w = withdrawal(2);
        ledger.settle(&w, 1).unwrap();
        let raw = raw(&f);
        raw.execute("UPDATE settlements SET amount = 'twelve'", [])
            .unwrap();
        assert!(matches!(
            ledger.settlement(&w.certificate_digest),
            Err(LedgerError::Corrupt(_))
        ));
        assert!(matches!(ledger.settle(&w, 2), Err(LedgerError::Corrupt(_))));
        raw.execute("UPDATE token_totals SET settled_count = -1", [])
            .unwrap();
        assert!(matches!(ledger.totals(), Err(LedgerError::Corrupt(_))));
    }

    #[test]
    fn a_sum_past_u128_is_refused_and_changes_nothing() {
        let f = SqliteFixture::new();
        let mut ledger = SqliteLedger::open(&f.path).unwrap();
        let w = withdrawal(3);
        raw(&f)
            .execute(
                "INSERT INTO recipient_balances (recipient, token, amount) VALUES (?1, ?2, ?3)",
                rusqlite::params![w.recipient, i64::from(w.token), (u128::MAX - 1).to_string()],
            )
            .unwrap();
        overflow_changed_nothing(&mut ledger, &w);
    }
}

mod postgres {
    use std::thread;

    use flashmesh_gateway::ledger::{LedgerError, PostgresLedger, PrimaryLedger};

    use crate::common::suite::overflow_changed_nothing;
    use crate::common::{PostgresFixture, withdrawal};

    crate::conformance_tests!(PostgresFixture::new);

    #[test]
    fn rows_that_do_not_decode_are_corrupt() {
        let Some(f) = PostgresFixture::new("corrupt") else {
            return;
        };
        let mut ledger = f.ledger();
        let w = withdrawal(2);
        ledger.settle(&w, 1).unwrap();
        f.raw_client()
            .batch_execute(
                "ALTER TABLE settlements DROP CONSTRAINT settlements_amount_check;
                 UPDATE settlements SET amount = 99999999999999999999;",
            )
            .unwrap();
        assert!(matches!(
            ledger.settlement(&w.certificate_digest),
            Err(LedgerError::Corrupt(_))
        ));
        assert!(matches!(ledger.settle(&w, 2), Err(LedgerError::Corrupt(_))));
    }

    #[test]
    fn a_sum_past_numeric_38_is_refused_and_changes_nothing() {
        let Some(f) = PostgresFixture::new("overflow") else {
            return;
        };
        let mut ledger = f.ledger();
        let w = withdrawal(3);
        let near_limit = format!("{}8", "9".repeat(37)); // 10^38 - 2
        f.raw_client()
            .execute(
                "INSERT INTO recipient_balances (recipient, token, amount)
                 VALUES ($1, $2, $3::text::numeric)",
                &[&w.recipient, &i64::from(w.token), &near_limit],
            )
            .unwrap();
        overflow_changed_nothing(&mut ledger, &w);
    }

    #[test]
    fn connections_racing_to_create_the_schema_all_succeed() {
        let Some(f) = PostgresFixture::new("schema_race") else {
            return;
        };
        thread::scope(|s| {
            let handles: Vec<_> = (0..6).map(|_| s.spawn(|| f.ledger())).collect();
            for h in handles {
                h.join().expect("connecting thread");
            }
        });
        assert_eq!(f.ledger().settle(&withdrawal(1), 1).unwrap().reference, 1);
    }

    #[test]
    fn a_schema_name_that_needs_quoting_is_refused() {
        let Some(f) = PostgresFixture::new("bad_schema") else {
            return;
        };
        for bad in ["", "Upper", "1st", "a;drop", "with space", &"x".repeat(64)] {
            assert!(
                matches!(
                    PostgresLedger::connect_in_schema(&f.conninfo, bad),
                    Err(LedgerError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }
}
