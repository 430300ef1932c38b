//! Checks shared by the back-ends: request validation before anything is written, and the
//! comparison of a repeat with what was recorded first.

use super::{DepositRequest, LedgerError, MAX_EXTERNAL_LEN, Withdrawal};

/// Refuses a withdrawal the ledger must not record.
pub(crate) fn validate_withdrawal(w: &Withdrawal) -> Result<(), LedgerError> {
    if w.recipient.is_empty() || w.recipient.len() > MAX_EXTERNAL_LEN {
        return Err(LedgerError::Invalid("recipient must be 1..=64 bytes"));
    }
    if w.amount == 0 {
        return Err(LedgerError::Invalid(
            "withdrawal amount must be greater than zero",
        ));
    }
    Ok(())
}

/// Refuses a deposit the ledger must not record.
pub(crate) fn validate_deposit(d: &DepositRequest) -> Result<(), LedgerError> {
    if d.external_reference.is_empty() || d.external_reference.len() > MAX_EXTERNAL_LEN {
        return Err(LedgerError::Invalid(
            "external reference must be 1..=64 bytes",
        ));
    }
    if d.amount == 0 {
        return Err(LedgerError::Invalid(
            "deposit amount must be greater than zero",
        ));
    }
    Ok(())
}

/// The call's time as the databases store it.
pub(crate) fn time_to_db(now_ms: u64) -> Result<i64, LedgerError> {
    i64::try_from(now_ms).map_err(|_| LedgerError::Invalid("now_ms must be at most i64::MAX"))
}

/// Ok when a repeat carries the recorded fields, else the conflict naming the first that differs.
pub(crate) fn same_withdrawal(
    recorded: &Withdrawal,
    asked: &Withdrawal,
) -> Result<(), LedgerError> {
    let differs = [
        (
            "certificate digest",
            recorded.certificate_digest != asked.certificate_digest,
        ),
        ("account", recorded.account != asked.account),
        ("token", recorded.token != asked.token),
        ("amount", recorded.amount != asked.amount),
        ("recipient", recorded.recipient != asked.recipient),
        ("nonce", recorded.nonce != asked.nonce),
    ];
    first_difference("withdrawal", || hex(&asked.certificate_digest), &differs)
}

/// Ok when a repeat carries the recorded fields, else the conflict naming the first that differs.
pub(crate) fn same_deposit(
    recorded: &DepositRequest,
    asked: &DepositRequest,
) -> Result<(), LedgerError> {
    let differs = [
        (
            "external reference",
            recorded.external_reference != asked.external_reference,
        ),
        ("account", recorded.account != asked.account),
        ("token", recorded.token != asked.token),
        ("amount", recorded.amount != asked.amount),
    ];
    let key = || String::from_utf8_lossy(&asked.external_reference).into_owned();
    first_difference("deposit", key, &differs)
}

/// The conflict for the first field marked as differing, if any.
fn first_difference(
    kind: &'static str,
    key: impl FnOnce() -> String,
    differs: &[(&'static str, bool)],
) -> Result<(), LedgerError> {
    match differs.iter().find(|(_, differs)| *differs) {
        Some((field, _)) => Err(LedgerError::Conflict {
            kind,
            key: key(),
            field,
        }),
        None => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn withdrawal() -> Withdrawal {
        Withdrawal {
            certificate_digest: [7; 32],
            account: [1; 32],
            token: 0,
            amount: 5,
            recipient: b"DE00 1234".to_vec(),
            nonce: 3,
        }
    }

    #[test]
    fn a_repeat_names_the_first_field_that_differs() {
        let w = withdrawal();
        assert!(same_withdrawal(&w, &w).is_ok());
        let other = Withdrawal {
            amount: 6,
            nonce: 4,
            ..w.clone()
        };
        match same_withdrawal(&w, &other) {
            Err(LedgerError::Conflict { kind, key, field }) => {
                assert_eq!((kind, field), ("withdrawal", "amount"));
                assert_eq!(key, "07".repeat(32));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let mut w = withdrawal();
        w.recipient = vec![b'x'; MAX_EXTERNAL_LEN];
        assert!(validate_withdrawal(&w).is_ok());
        w.recipient.push(b'x');
        assert!(matches!(
            validate_withdrawal(&w),
            Err(LedgerError::Invalid(_))
        ));
        assert!(time_to_db(i64::MAX as u64).is_ok());
        assert!(matches!(
            time_to_db(i64::MAX as u64 + 1),
            Err(LedgerError::Invalid(_))
        ));
    }
}
