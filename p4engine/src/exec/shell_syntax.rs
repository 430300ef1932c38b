//! The value syntax of p4runtime-shell, used by test vectors and packet-test files:
//! numbers (`"42"`, `"0x2A"`), dotted quads (`"10.0.0.1"`), MAC addresses (`"aa:bb:cc:dd:ee:ff"`),
//! IPv6 addresses, and match forms `"value&&&mask"` (ternary), `"value/len"` (lpm) and
//! `"low..high"` (range). Also the P4Runtime canonical byte-string conversions.

use std::net::Ipv6Addr;

use super::value::mask;

/// Why a value string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not a number, address or match form.
    #[error("cannot parse {0:?} as a value")]
    BadValue(String),
    /// The value does not fit the field.
    #[error("value {value:?} does not fit in {width} bits")]
    TooWide {
        /// The text.
        value: String,
        /// The field width.
        width: u32,
    },
    /// An LPM prefix length larger than the field.
    #[error("prefix length {len} exceeds the field width {width}")]
    BadPrefix {
        /// The prefix length.
        len: u32,
        /// The field width.
        width: u32,
    },
}

/// Parses a plain value: decimal, `0x` hex, `0b` binary, dotted quad, MAC or IPv6 address.
pub fn parse_number(s: &str) -> Result<u128, SyntaxError> {
    let t = s.trim();
    let bad = || SyntaxError::BadValue(s.to_string());
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u128::from_str_radix(&h.replace('_', ""), 16).map_err(|_| bad());
    }
    if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        return u128::from_str_radix(&b.replace('_', ""), 2).map_err(|_| bad());
    }
    if t.contains("::") || t.matches(':').count() == 7 && t.split(':').any(|p| p.len() > 2) {
        return t.parse::<Ipv6Addr>().map(u128::from).map_err(|_| bad());
    }
    if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut acc = 0u128;
        for p in parts {
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            acc = (acc << 8) | u8::from_str_radix(p, 16).map_err(|_| bad())? as u128;
        }
        return Ok(acc);
    }
    if t.contains('.') {
        let parts: Vec<&str> = t.split('.').collect();
        if parts.len() != 4 {
            return Err(bad());
        }
        let mut acc = 0u128;
        for p in parts {
            acc = (acc << 8) | p.parse::<u8>().map_err(|_| bad())? as u128;
        }
        return Ok(acc);
    }
    t.parse::<u128>().map_err(|_| bad())
}

/// Parses a value that must fit in `width` bits.
pub fn parse_value(s: &str, width: u32) -> Result<u128, SyntaxError> {
    let v = parse_number(s)?;
    if v & !mask(width) != 0 {
        return Err(SyntaxError::TooWide {
            value: s.to_string(),
            width,
        });
    }
    Ok(v)
}

/// A match value in shell syntax, already checked against the field width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellMatch {
    /// A plain value (exact, optional, or a ternary/lpm value matching all bits).
    Value(u128),
    /// `value&&&mask`.
    Ternary(u128, u128),
    /// `value/prefix_len`.
    Lpm(u128, u32),
    /// `low..high`.
    Range(u128, u128),
}

/// Parses a match-field string for a field of `width` bits.
pub fn parse_match(s: &str, width: u32) -> Result<ShellMatch, SyntaxError> {
    if let Some((v, m)) = s.split_once("&&&") {
        return Ok(ShellMatch::Ternary(
            parse_value(v, width)?,
            parse_value(m, width)?,
        ));
    }
    if let Some((lo, hi)) = s.split_once("..") {
        // a dotted quad has single dots only; ".." is the range separator
        return Ok(ShellMatch::Range(
            parse_value(lo, width)?,
            parse_value(hi, width)?,
        ));
    }
    if let Some((v, len)) = s.split_once('/') {
        let len: u32 = len
            .trim()
            .parse()
            .map_err(|_| SyntaxError::BadValue(s.to_string()))?;
        if len > width {
            return Err(SyntaxError::BadPrefix { len, width });
        }
        return Ok(ShellMatch::Lpm(parse_value(v, width)?, len));
    }
    Ok(ShellMatch::Value(parse_value(s, width)?))
}

/// The P4Runtime canonical byte string of `v`: big-endian with leading zero bytes removed,
/// and a single `0x00` byte for zero.
pub fn canonical_bytes(v: u128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(15);
    bytes[first..].to_vec()
}

/// Big-endian bytes of `v` padded to the width's whole bytes (`ceil(width/8)`).
pub fn padded_bytes(v: u128, width: u32) -> Vec<u8> {
    let n = (width as usize).div_ceil(8).max(1);
    v.to_be_bytes()[16 - n..].to_vec()
}

/// Decodes a big-endian byte string of any length whose value fits `width` bits.
pub fn bytes_to_value(bytes: &[u8], width: u32) -> Option<u128> {
    let mut acc = 0u128;
    for &b in bytes {
        if acc >> 120 != 0 {
            return None;
        }
        acc = (acc << 8) | b as u128;
    }
    if acc & !mask(width) != 0 {
        None
    } else {
        Some(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42").unwrap(), 42);
        assert_eq!(parse_number("0x1FF").unwrap(), 0x1ff);
        assert_eq!(parse_number("10.1.2.3").unwrap(), 0x0a01_0203);
        assert_eq!(parse_number("aa:bb:cc:dd:ee:ff").unwrap(), 0xaabb_ccdd_eeff);
        assert_eq!(parse_number("::1").unwrap(), 1);
        assert!(parse_number("1.2.3").is_err());
        assert!(parse_number("zz").is_err());
        assert!(parse_number("256.1.1.1").is_err());
    }

    #[test]
    fn matches() {
        assert_eq!(
            parse_match("0x12&&&0xFF", 8).unwrap(),
            ShellMatch::Ternary(0x12, 0xff)
        );
        assert_eq!(
            parse_match("10.1.0.0/16", 32).unwrap(),
            ShellMatch::Lpm(0x0a01_0000, 16)
        );
        assert_eq!(
            parse_match("100..200", 16).unwrap(),
            ShellMatch::Range(100, 200)
        );
        assert_eq!(parse_match("0x123", 12).unwrap(), ShellMatch::Value(0x123));
        assert!(matches!(
            parse_match("0x1FF", 8),
            Err(SyntaxError::TooWide { .. })
        ));
        assert!(matches!(
            parse_match("10.0.0.0/33", 32),
            Err(SyntaxError::BadPrefix { .. })
        ));
    }

    #[test]
    fn canonical() {
        assert_eq!(canonical_bytes(0), vec![0]);
        assert_eq!(canonical_bytes(1), vec![1]);
        assert_eq!(canonical_bytes(0x0101), vec![1, 1]);
        assert_eq!(padded_bytes(1, 9), vec![0, 1]);
        assert_eq!(bytes_to_value(&[0, 0, 0, 1], 9), Some(1));
        assert_eq!(bytes_to_value(&[2, 0], 9), None);
        assert_eq!(bytes_to_value(&[], 9), Some(0));
    }
}
