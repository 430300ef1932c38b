//! FastPay-style catch-up by the payer: an authority that answers an order or a certificate
//! with a refusal saying it is behind (a wrong nonce below the order's, missing earlier
//! certificates, or insufficient funds) is sent the wallet's own certificates from its next
//! sequence up, and then asked again, at most [`MAX_PUSHES_PER_AUTHORITY`] times per round.
//!
//! Pure: this module only decides where to push from; the drivers in `pay.rs` send.

use flashmesh_core::ErrorCode;

/// Certificates sent in one push.
pub const PUSH_BATCH: u64 = 32;

/// Pushes to one authority within one round (votes or receipts).
pub const MAX_PUSHES_PER_AUTHORITY: u32 = 2;

/// The first two unsigned integers in `text` (the refusal's detail names them).
fn two_numbers(text: &str) -> Option<(u64, u64)> {
    let mut it = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse::<u64>().ok());
    Some((it.next()?, it.next()?))
}

/// From which nonce to push to an authority that refused the request for nonce `nonce` with
/// `code` and `detail`, or `None` when the refusal does not say it is behind.
pub fn push_from(code: ErrorCode, detail: &str, nonce: u64) -> Option<u64> {
    let fallback = nonce.saturating_sub(PUSH_BATCH);
    match code {
        // "wrong nonce: expected E, got G": behind only when E < G
        ErrorCode::WrongNonce => match two_numbers(detail) {
            Some((expected, got)) if expected < got => Some(expected),
            Some(_) => None,
            None => Some(fallback),
        },
        // "missing earlier certificates: next sequence E, certificate nonce G"
        ErrorCode::MissingEarlierCertificates => {
            Some(two_numbers(detail).map_or(fallback, |(e, _)| e.min(nonce)))
        }
        // no sequence in the detail: the last batch before this nonce
        ErrorCode::InsufficientFunds => Some(fallback),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_only_to_authorities_that_are_behind() {
        assert_eq!(
            push_from(ErrorCode::WrongNonce, "wrong nonce: expected 3, got 5", 5),
            Some(3)
        );
        assert_eq!(
            push_from(ErrorCode::WrongNonce, "wrong nonce: expected 7, got 5", 5),
            None
        );
        assert_eq!(
            push_from(
                ErrorCode::MissingEarlierCertificates,
                "missing earlier certificates: next sequence 2, certificate nonce 4",
                4
            ),
            Some(2)
        );
        assert_eq!(push_from(ErrorCode::InsufficientFunds, "", 40), Some(8));
        assert_eq!(push_from(ErrorCode::WrongNonce, "?", 3), Some(0));
        assert_eq!(push_from(ErrorCode::BadSignature, "", 3), None);
    }
}
