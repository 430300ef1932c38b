//! Bearer tokens of admin APIs, compared in constant time so that timing does not leak how
//! much of a guess was right.

use crate::keys::{KeyError, Keypair};

/// A fresh bearer token: the hex of 32 random bytes (a new secret seed).
pub fn fresh() -> Result<String, KeyError> {
    Ok(Keypair::generate()?.to_hex())
}

/// Whether `given` equals `expected`; false when either is absent (no token configured means
/// state-changing routes are closed).
pub fn matches(given: Option<&str>, expected: Option<&str>) -> bool {
    let (Some(given), Some(expected)) = (given, expected) else {
        return false;
    };
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tokens_differ() {
        let (a, b) = (fresh().unwrap(), fresh().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn only_the_same_token_matches() {
        assert!(matches(Some("s3cret"), Some("s3cret")));
        assert!(!matches(Some("s3cret!"), Some("s3cret")));
        assert!(!matches(Some("s3creT"), Some("s3cret")));
        assert!(!matches(None, Some("s3cret")));
        assert!(!matches(Some("s3cret"), None));
    }
}
