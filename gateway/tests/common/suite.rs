//! The conformance suite every [`PrimaryLedger`] back-end must pass: exactly-once settlement
//! and deposit recording, conflicts, concurrency between connections, gap-free numbering, input
//! validation and totals. Each case takes a fresh fixture.

use std::sync::Barrier;
use std::thread;

use flashmesh_gateway::ledger::{
    Deposit, DepositRequest, LedgerError, LedgerTotals, MAX_EXTERNAL_LEN, PrimaryLedger,
    Settlement, Withdrawal,
};

use super::{Fixture, assert_gap_free, deposit, expected_totals, withdrawal};

pub fn first_settle(f: &dyn Fixture) {
    let mut ledger = f.open();
    let w = withdrawal(1);
    assert_eq!(ledger.settlement(&w.certificate_digest).unwrap(), None);
    let s = ledger.settle(&w, 1_000).unwrap();
    assert!(s.first);
    assert_eq!((s.reference, s.settled_at_ms), (1, 1_000));
    assert_eq!(s.withdrawal, w);
    let second = ledger.settle(&withdrawal(2), 1_001).unwrap();
    assert!(second.first);
    assert_eq!(second.reference, 2);
    // What was settled reads back, from this connection and a new one.
    let read = ledger
        .settlement(&w.certificate_digest)
        .unwrap()
        .expect("settled");
    assert_eq!(read, replayed(&s));
    let read = f
        .open()
        .settlement(&w.certificate_digest)
        .unwrap()
        .expect("settled");
    assert_eq!(read, replayed(&s));
    assert_eq!(ledger.settlement(&[0xee; 32]).unwrap(), None);
}

pub fn repeat_returns_first(f: &dyn Fixture) {
    let mut ledger = f.open();
    let w = withdrawal(3);
    let first = ledger.settle(&w, 500).unwrap();
    let again = ledger.settle(&w, 900).unwrap();
    assert_eq!(
        again,
        replayed(&first),
        "a repeat answers the first settlement"
    );
    let other_connection = f.open().settle(&w, 1_300).unwrap();
    assert_eq!(other_connection, replayed(&first));
    assert_eq!(
        ledger.totals().unwrap(),
        expected_totals([&w], []),
        "credited once"
    );
    // A repeat takes no reference: the next withdrawal gets the next one.
    assert_eq!(ledger.settle(&withdrawal(4), 1_400).unwrap().reference, 2);
}

pub fn conflicting_repeat_refused(f: &dyn Fixture) {
    let mut ledger = f.open();
    let w = withdrawal(5);
    let first = ledger.settle(&w, 10).unwrap();
    let before = ledger.totals().unwrap();
    let variants: Vec<(&str, Withdrawal)> = vec![
        (
            "account",
            Withdrawal {
                account: [0x11; 32],
                ..w.clone()
            },
        ),
        (
            "token",
            Withdrawal {
                token: w.token + 1,
                ..w.clone()
            },
        ),
        (
            "amount",
            Withdrawal {
                amount: w.amount - 1,
                ..w.clone()
            },
        ),
        (
            "recipient",
            Withdrawal {
                recipient: b"FR76 0000".to_vec(),
                ..w.clone()
            },
        ),
        (
            "nonce",
            Withdrawal {
                nonce: w.nonce + 1,
                ..w.clone()
            },
        ),
    ];
    for (field, variant) in variants {
        match ledger.settle(&variant, 20) {
            Err(LedgerError::Conflict {
                kind: "withdrawal",
                field: got,
                ..
            }) => {
                assert_eq!(got, field)
            }
            other => panic!("a repeat with another {field} must conflict, got {other:?}"),
        }
    }
    assert_eq!(
        ledger.totals().unwrap(),
        before,
        "a conflict changes nothing"
    );
    let read = ledger.settlement(&w.certificate_digest).unwrap();
    assert_eq!(read, Some(replayed(&first)));
    assert_eq!(ledger.settle(&withdrawal(6), 30).unwrap().reference, 2);
}

/// Several threads, each with its own connection, settle the same digests at the same moment.
pub fn concurrent_settles_settle_once(f: &dyn Fixture) {
    const THREADS: usize = 4;
    const DIGESTS: u64 = 40;
    let barrier = Barrier::new(THREADS);
    let answers: Vec<Vec<_>> = thread::scope(|s| {
        // Connections open here, and errors are unwrapped after the rounds: a thread that
        // stopped early would leave the others at the barrier for ever.
        let ledgers: Vec<_> = (0..THREADS).map(|_| f.open()).collect();
        let handles: Vec<_> = ledgers
            .into_iter()
            .enumerate()
            .map(|(t, mut ledger)| {
                let barrier = &barrier;
                s.spawn(move || {
                    (0..DIGESTS)
                        .map(|i| {
                            barrier.wait();
                            ledger.settle(&withdrawal(100 + i), 7_000 + t as u64)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("settling thread")
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .expect("every settle call succeeds")
            })
            .collect()
    });
    for i in 0..DIGESTS as usize {
        let per_digest: Vec<_> = answers.iter().map(|a| &a[i]).collect();
        let firsts = per_digest.iter().filter(|s| s.first).count();
        assert_eq!(firsts, 1, "digest {i}: exactly one connection settles it");
        let winner = per_digest.iter().find(|s| s.first).expect("a first");
        for s in &per_digest {
            assert_eq!(
                (s.reference, s.settled_at_ms),
                (winner.reference, winner.settled_at_ms)
            );
            assert_eq!(s.withdrawal, withdrawal(100 + i as u64));
        }
    }
    assert_gap_free(
        answers[0].iter().map(|s| s.reference),
        1,
        "settlement references",
    );
    let distinct: Vec<_> = (0..DIGESTS).map(|i| withdrawal(100 + i)).collect();
    assert_eq!(f.open().totals().unwrap(), expected_totals(&distinct, []));
}

pub fn deposits_numbered_without_gaps(f: &dyn Fixture) {
    let mut ledger = f.open();
    assert!(ledger.deposits_from(0, 10).unwrap().is_empty());
    for i in 0..5 {
        let d = ledger.record_deposit(&deposit(i), 100 + i).unwrap();
        assert!(d.first);
        assert_eq!((d.sequence, d.created_at_ms), (i, 100 + i));
        assert_eq!(d.request, deposit(i));
    }
    let all = f.open().deposits_from(0, 100).unwrap();
    assert_eq!(
        all.iter().map(|d| d.sequence).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(all.iter().all(|d| !d.first));
    assert_eq!(all[3].request, deposit(3));
    assert_eq!(all[3].created_at_ms, 103);
    let page = ledger.deposits_from(2, 2).unwrap();
    assert_eq!(page.iter().map(|d| d.sequence).collect::<Vec<_>>(), [2, 3]);
    assert!(ledger.deposits_from(5, 10).unwrap().is_empty());
    assert!(ledger.deposits_from(0, 0).unwrap().is_empty());
    assert!(
        ledger
            .deposits_from(u64::MAX, usize::MAX)
            .unwrap()
            .is_empty()
    );
}

pub fn deposit_repeat(f: &dyn Fixture) {
    let mut ledger = f.open();
    let d = deposit(7);
    let first = ledger.record_deposit(&d, 40).unwrap();
    let again = f.open().record_deposit(&d, 90).unwrap();
    assert!(!again.first);
    assert_eq!(
        (again.sequence, again.created_at_ms, &again.request),
        (0, 40, &d)
    );
    let variants: Vec<(&str, DepositRequest)> = vec![
        (
            "account",
            DepositRequest {
                account: [0x22; 32],
                ..d.clone()
            },
        ),
        (
            "token",
            DepositRequest {
                token: d.token + 1,
                ..d.clone()
            },
        ),
        (
            "amount",
            DepositRequest {
                amount: d.amount + 1,
                ..d.clone()
            },
        ),
    ];
    for (field, variant) in variants {
        match ledger.record_deposit(&variant, 50) {
            Err(LedgerError::Conflict {
                kind: "deposit",
                field: got,
                ..
            }) => assert_eq!(got, field),
            other => panic!("a repeat with another {field} must conflict, got {other:?}"),
        }
    }
    assert_eq!(ledger.totals().unwrap(), expected_totals([], [&d]));
    assert_eq!(
        ledger.deposits_from(0, 10).unwrap(),
        [Deposit {
            first: false,
            ..first
        }]
    );
    // Neither the repeat nor the conflicts took a sequence.
    assert_eq!(ledger.record_deposit(&deposit(8), 60).unwrap().sequence, 1);
}

/// Threads with their own connections record deposits, some of them the same ones at once: every
/// reference is recorded once and the sequences are 0..n with no gap.
pub fn concurrent_deposits_without_gaps(f: &dyn Fixture) {
    const THREADS: u64 = 3;
    const SHARED: u64 = 20;
    const OWN: u64 = 15;
    let barrier = Barrier::new(THREADS as usize);
    let answers: Vec<_> = thread::scope(|s| {
        // Connections open here: a thread whose open failed would leave the others waiting.
        let ledgers: Vec<_> = (0..THREADS).map(|_| f.open()).collect();
        let handles: Vec<_> = ledgers
            .into_iter()
            .zip(0..)
            .map(|(mut ledger, t): (_, u64)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let mut got = Vec::new();
                    for i in 0..SHARED.max(OWN) {
                        if i < SHARED {
                            got.push(ledger.record_deposit(&deposit(i), 1).unwrap());
                        }
                        if i < OWN {
                            let own = deposit(1_000 * (t + 1) + i);
                            got.push(ledger.record_deposit(&own, 2).unwrap());
                        }
                    }
                    got
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("depositing thread"))
            .collect()
    });
    let firsts: Vec<_> = answers.iter().filter(|d| d.first).collect();
    assert_eq!(
        firsts.len() as u64,
        SHARED + THREADS * OWN,
        "each reference recorded once"
    );
    assert_gap_free(firsts.iter().map(|d| d.sequence), 0, "deposit sequences");
    let recorded = f.open().deposits_from(0, usize::MAX).unwrap();
    for answer in &answers {
        let row = &recorded[answer.sequence as usize];
        assert_eq!(
            (&row.request, row.created_at_ms),
            (&answer.request, answer.created_at_ms)
        );
    }
}

pub fn invalid_inputs_refused(f: &dyn Fixture) {
    let mut ledger = f.open();
    let w = withdrawal(9);
    let bad_withdrawals = [
        Withdrawal {
            recipient: vec![],
            ..w.clone()
        },
        Withdrawal {
            recipient: vec![b'r'; MAX_EXTERNAL_LEN + 1],
            ..w.clone()
        },
        Withdrawal {
            amount: 0,
            ..w.clone()
        },
    ];
    for bad in &bad_withdrawals {
        assert!(
            matches!(ledger.settle(bad, 1), Err(LedgerError::Invalid(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ledger.settle(&w, i64::MAX as u64 + 1),
        Err(LedgerError::Invalid(_))
    ));
    let d = deposit(9);
    let bad_deposits = [
        DepositRequest {
            external_reference: vec![],
            ..d.clone()
        },
        DepositRequest {
            external_reference: vec![b'x'; MAX_EXTERNAL_LEN + 1],
            ..d.clone()
        },
        DepositRequest {
            amount: 0,
            ..d.clone()
        },
    ];
    for bad in &bad_deposits {
        assert!(
            matches!(ledger.record_deposit(bad, 1), Err(LedgerError::Invalid(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ledger.record_deposit(&d, u64::MAX),
        Err(LedgerError::Invalid(_))
    ));
    assert_eq!(
        ledger.totals().unwrap(),
        LedgerTotals::default(),
        "nothing recorded"
    );
    assert_eq!(ledger.settlement(&w.certificate_digest).unwrap(), None);
    // The limits themselves are accepted, bytes of any value included.
    let longest = Withdrawal {
        recipient: (0..MAX_EXTERNAL_LEN as u8).collect(),
        ..w.clone()
    };
    assert_eq!(
        ledger.settle(&longest, i64::MAX as u64).unwrap().reference,
        1
    );
    let longest = DepositRequest {
        external_reference: vec![0; MAX_EXTERNAL_LEN],
        ..d
    };
    assert_eq!(ledger.record_deposit(&longest, 0).unwrap().sequence, 0);
    let read = ledger
        .settlement(&w.certificate_digest)
        .unwrap()
        .expect("settled");
    assert_eq!(
        (read.withdrawal.recipient.len(), read.settled_at_ms),
        (64, i64::MAX as u64)
    );
}

/// Sums per token and per recipient, past `u64::MAX` and over the whole `u64` range of fields.
pub fn totals_match(f: &dyn Fixture) {
    let mut ledger = f.open();
    let mut withdrawals: Vec<_> = (0..150).map(withdrawal).collect();
    let deposits: Vec<_> = (0..120).map(deposit).collect();
    withdrawals.push(Withdrawal {
        certificate_digest: [0xff; 32],
        amount: u64::MAX,
        nonce: u64::MAX,
        token: u32::MAX,
        ..withdrawal(0)
    });
    withdrawals.push(Withdrawal {
        certificate_digest: [0xfe; 32],
        ..withdrawals[150].clone()
    });
    for (i, w) in withdrawals.iter().enumerate() {
        ledger.settle(w, i as u64).unwrap();
        if let Some(d) = deposits.get(i) {
            ledger.record_deposit(d, i as u64).unwrap();
        }
    }
    // Replays of everything change nothing.
    for w in &withdrawals {
        assert!(!ledger.settle(w, 0).unwrap().first);
    }
    for d in &deposits {
        assert!(!ledger.record_deposit(d, 0).unwrap().first);
    }
    let expected = expected_totals(&withdrawals, &deposits);
    let got = f.open().totals().unwrap();
    assert_eq!(got, expected);
    let top = &got.tokens[&u32::MAX];
    assert_eq!(
        top.settled_amount,
        2 * u128::from(u64::MAX),
        "sums pass u64 without wrapping"
    );
    let read = ledger.settlement(&[0xff; 32]).unwrap().expect("settled");
    assert_eq!(
        (read.withdrawal.nonce, read.withdrawal.token),
        (u64::MAX, u32::MAX)
    );
}

/// `w`'s recipient balance was put just below its type's limit: settling `w` is refused as an
/// overflow and records nothing, not even a reference.
pub fn overflow_changed_nothing(ledger: &mut dyn PrimaryLedger, w: &Withdrawal) {
    assert!(matches!(ledger.settle(w, 1), Err(LedgerError::Overflow(_))));
    assert_eq!(ledger.settlement(&w.certificate_digest).unwrap(), None);
    assert_eq!(ledger.totals().unwrap().tokens.len(), 0);
    let next = Withdrawal {
        certificate_digest: [0xcc; 32],
        recipient: b"other".to_vec(),
        ..w.clone()
    };
    assert_eq!(ledger.settle(&next, 2).unwrap().reference, 1);
}

/// The settlement as a replay or a read answers it.
pub fn replayed(s: &Settlement) -> Settlement {
    Settlement {
        first: false,
        ..s.clone()
    }
}

/// Declares one `#[test]` per suite case for a back-end; `$fixture` makes a fresh fixture and
/// returns `None` when the back-end is not available (the reason printed).
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:expr) => {
        $crate::conformance_tests!(@cases $fixture;
            first_settle, repeat_returns_first, conflicting_repeat_refused,
            concurrent_settles_settle_once, deposits_numbered_without_gaps, deposit_repeat,
            concurrent_deposits_without_gaps, invalid_inputs_refused, totals_match);
    };
    (@cases $fixture:expr; $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                if let Some(fixture) = ($fixture)(stringify!($case)) {
                    $crate::common::suite::$case(&fixture);
                }
            }
        )*
    };
}
