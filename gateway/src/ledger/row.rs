//! Rows as both back-ends read them (integers as `i64`, amounts as decimal text, keys as bytes)
//! and their checked decoding into the ledger's types: anything out of range is
//! [`LedgerError::Corrupt`], never a panic.

use super::check::{validate_deposit, validate_withdrawal};
use super::{
    Deposit, DepositRequest, LedgerError, LedgerTotals, Settlement, TokenTotals, Withdrawal,
};

/// A `settlements` row.
pub(crate) struct SettlementRow {
    pub certificate_digest: Vec<u8>,
    pub account: Vec<u8>,
    pub token: i64,
    pub amount: String,
    pub recipient: Vec<u8>,
    pub nonce: String,
    pub reference: i64,
    pub settled_at_ms: i64,
}

/// A `deposits` row.
pub(crate) struct DepositRow {
    pub sequence: i64,
    pub external_reference: Vec<u8>,
    pub account: Vec<u8>,
    pub token: i64,
    pub amount: String,
    pub created_at_ms: i64,
}

/// A `token_totals` row.
pub(crate) struct TokenTotalsRow {
    pub token: i64,
    pub settled_count: i64,
    pub settled_amount: String,
    pub deposited_count: i64,
    pub deposited_amount: String,
}

/// A `recipient_balances` row.
pub(crate) struct BalanceRow {
    pub recipient: Vec<u8>,
    pub token: i64,
    pub amount: String,
}

impl SettlementRow {
    pub(crate) fn decode(self) -> Result<Settlement, LedgerError> {
        let withdrawal = Withdrawal {
            certificate_digest: key32(&self.certificate_digest, "certificate digest")?,
            account: key32(&self.account, "account")?,
            token: token(self.token)?,
            amount: parse_u64(&self.amount, "settlement amount")?,
            recipient: self.recipient,
            nonce: parse_u64(&self.nonce, "nonce")?,
        };
        validate_withdrawal(&withdrawal).map_err(recorded_invalid)?;
        Ok(Settlement {
            withdrawal,
            reference: reference(self.reference)?,
            settled_at_ms: non_negative(self.settled_at_ms, "settlement time")?,
            first: false,
        })
    }
}

impl DepositRow {
    pub(crate) fn decode(self) -> Result<Deposit, LedgerError> {
        let request = DepositRequest {
            external_reference: self.external_reference,
            account: key32(&self.account, "account")?,
            token: token(self.token)?,
            amount: parse_u64(&self.amount, "deposit amount")?,
        };
        validate_deposit(&request).map_err(recorded_invalid)?;
        Ok(Deposit {
            request,
            sequence: non_negative(self.sequence, "deposit sequence")?,
            created_at_ms: non_negative(self.created_at_ms, "deposit time")?,
            first: false,
        })
    }
}

impl TokenTotalsRow {
    pub(crate) fn decode(self) -> Result<(u32, TokenTotals), LedgerError> {
        let t = TokenTotals {
            settled_count: non_negative(self.settled_count, "settled count")?,
            settled_amount: parse_u128(&self.settled_amount, "settled amount")?,
            deposited_count: non_negative(self.deposited_count, "deposited count")?,
            deposited_amount: parse_u128(&self.deposited_amount, "deposited amount")?,
        };
        Ok((token(self.token)?, t))
    }
}

/// The answer to the call that settled `w`, with the reference the database gave it.
pub(crate) fn settled_first(
    w: &Withdrawal,
    reference_given: i64,
    now_ms: u64,
) -> Result<Settlement, LedgerError> {
    Ok(Settlement {
        withdrawal: w.clone(),
        reference: reference(reference_given)?,
        settled_at_ms: now_ms,
        first: true,
    })
}

/// The answer to the call that recorded `d`, with the sequence the database gave it.
pub(crate) fn recorded_first(
    d: &DepositRequest,
    sequence: i64,
    now_ms: u64,
) -> Result<Deposit, LedgerError> {
    Ok(Deposit {
        request: d.clone(),
        sequence: non_negative(sequence, "deposit sequence")?,
        created_at_ms: now_ms,
        first: true,
    })
}

/// `deposits_from`'s bounds as the databases take them, or `None` when no deposit can be in
/// range (sequences are stored as `i64`).
pub(crate) fn deposit_range(sequence: u64, limit: usize) -> Option<(i64, i64)> {
    let from = i64::try_from(sequence).ok()?;
    Some((from, i64::try_from(limit).unwrap_or(i64::MAX)))
}

/// The totals from their two tables.
pub(crate) fn decode_totals(
    tokens: Vec<TokenTotalsRow>,
    balances: Vec<BalanceRow>,
) -> Result<LedgerTotals, LedgerError> {
    let mut totals = LedgerTotals::default();
    for row in tokens {
        let (token, t) = row.decode()?;
        if totals.tokens.insert(token, t).is_some() {
            return Err(LedgerError::Corrupt(format!(
                "token {token} twice in totals"
            )));
        }
    }
    for row in balances {
        let amount = parse_u128(&row.amount, "recipient balance")?;
        let key = (row.recipient, token(row.token)?);
        if totals.recipients.insert(key, amount).is_some() {
            return Err(LedgerError::Corrupt("recipient balance twice".into()));
        }
    }
    Ok(totals)
}

/// A sum stored as decimal text.
pub(crate) fn parse_u128(text: &str, what: &str) -> Result<u128, LedgerError> {
    digits(text, what)?
        .parse()
        .map_err(|_| LedgerError::Corrupt(format!("{what} {text:?} is out of range")))
}

fn parse_u64(text: &str, what: &str) -> Result<u64, LedgerError> {
    digits(text, what)?
        .parse()
        .map_err(|_| LedgerError::Corrupt(format!("{what} {text:?} is out of range")))
}

/// `text` when it is a plain decimal number (no sign, no spaces, no fraction).
fn digits<'a>(text: &'a str, what: &str) -> Result<&'a str, LedgerError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LedgerError::Corrupt(format!(
            "{what} {text:?} is not a decimal number"
        )));
    }
    Ok(text)
}

fn key32(bytes: &[u8], what: &str) -> Result<[u8; 32], LedgerError> {
    bytes
        .try_into()
        .map_err(|_| LedgerError::Corrupt(format!("{what} has {} bytes, not 32", bytes.len())))
}

fn token(value: i64) -> Result<u32, LedgerError> {
    u32::try_from(value).map_err(|_| LedgerError::Corrupt(format!("token {value} is out of range")))
}

fn reference(value: i64) -> Result<u64, LedgerError> {
    u64::try_from(value)
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| LedgerError::Corrupt(format!("settlement reference {value}")))
}

fn non_negative(value: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(value).map_err(|_| LedgerError::Corrupt(format!("{what} {value} is negative")))
}

fn recorded_invalid(e: LedgerError) -> LedgerError {
    LedgerError::Corrupt(format!("recorded row is not a valid request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SettlementRow {
        SettlementRow {
            certificate_digest: vec![1; 32],
            account: vec![2; 32],
            token: 4,
            amount: u64::MAX.to_string(),
            recipient: b"r".to_vec(),
            nonce: "0".into(),
            reference: 1,
            settled_at_ms: 10,
        }
    }

    #[test]
    fn a_good_row_decodes_over_the_whole_u64_range() {
        let s = row().decode().expect("decodes");
        assert_eq!(s.withdrawal.amount, u64::MAX);
        assert_eq!((s.reference, s.settled_at_ms, s.first), (1, 10, false));
    }

    #[test]
    fn bad_rows_are_corrupt_not_panics() {
        let bad: Vec<fn(&mut SettlementRow)> = vec![
            |r| r.certificate_digest.truncate(31),
            |r| r.account = vec![],
            |r| r.token = -1,
            |r| r.token = i64::from(u32::MAX) + 1,
            |r| r.amount = "18446744073709551616".into(),
            |r| r.amount = "-5".into(),
            |r| r.amount = "+5".into(),
            |r| r.amount = "0".into(),
            |r| r.amount = String::new(),
            |r| r.nonce = "1.5".into(),
            |r| r.recipient = vec![],
            |r| r.reference = 0,
            |r| r.reference = -3,
            |r| r.settled_at_ms = -1,
        ];
        for (i, change) in bad.into_iter().enumerate() {
            let mut r = row();
            change(&mut r);
            assert!(
                matches!(r.decode(), Err(LedgerError::Corrupt(_))),
                "case {i}"
            );
        }
    }

    #[test]
    fn sums_reach_u128_max_and_no_further() {
        assert_eq!(
            parse_u128(&u128::MAX.to_string(), "s").ok(),
            Some(u128::MAX)
        );
        assert!(matches!(
            parse_u128("340282366920938463463374607431768211456", "s"),
            Err(LedgerError::Corrupt(_))
        ));
    }
}
