//! P4Runtime bytestrings (§8.4): big-endian values whose canonical form has no leading zero
//! bytes (at least one byte), checked against a field's bit width.
//!
//! Two ways in, for the two sides of the protocol:
//! * [`encode`] (and [`padded`]) take a value a client is about to send: any length, the empty
//!   string is zero, only the significant bits must fit the width ([`WidthError`]).
//! * [`parse`] (and [`canonicalize`]) read a value a target received: it must not be empty
//!   and must fit both the width and the 128-bit words targets compute on
//!   ([`BytestringError`]).
//!
//! [`canonical`], [`from_u128`] and [`to_u128`] convert; [`prefix_mask`], [`and`] and
//! [`all_ones`] build masks.

use thiserror::Error;

/// The widest value [`parse`] reads (targets compute on 128-bit words).
pub const MAX_WIDTH: u32 = 128;

/// A value to send that does not fit the field it is meant for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("value 0x{value} does not fit in {bitwidth} bits")]
pub struct WidthError {
    /// The offending value, hex.
    pub value: String,
    /// The width of the field.
    pub bitwidth: u32,
}

/// A received bytestring that is not a value of its field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BytestringError {
    /// No bytes at all.
    #[error("empty bytestring")]
    Empty,
    /// More significant bytes than a 128-bit word holds.
    #[error("value of {len} bytes does not fit {bitwidth} bits")]
    TooLong {
        /// Significant bytes given.
        len: usize,
        /// The width of the field.
        bitwidth: u32,
    },
    /// A value wider than its field.
    #[error("value 0x{value:x} does not fit {bitwidth} bits")]
    TooWide {
        /// The value.
        value: u128,
        /// The width of the field.
        bitwidth: u32,
    },
}

/// Strips leading zero bytes, keeping at least one byte.
pub fn canonical(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0);
    match first {
        Some(i) => bytes[i..].to_vec(),
        None => vec![0],
    }
}

/// Number of significant bits in a big-endian value.
pub fn significant_bits(bytes: &[u8]) -> u32 {
    let c = canonical(bytes);
    if c == [0] {
        return 0;
    }
    (c.len() as u32 - 1) * 8 + (8 - c[0].leading_zeros())
}

/// Canonical encoding of `bytes` for a field of `bitwidth` bits, or an error if it is too wide.
pub fn encode(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, WidthError> {
    if significant_bits(bytes) > bitwidth {
        return Err(WidthError {
            value: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            bitwidth,
        });
    }
    Ok(canonical(bytes))
}

/// Big-endian value padded to the full byte width of a field (`ceil(bitwidth / 8)` bytes).
pub fn padded(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, WidthError> {
    let c = encode(bytes, bitwidth)?;
    let len = bitwidth.div_ceil(8).max(1) as usize;
    let mut out = vec![0u8; len.saturating_sub(c.len())];
    out.extend_from_slice(&c);
    Ok(out)
}

/// Reads a received bytestring that must fit `bitwidth` bits (any padding accepted).
pub fn parse(bytes: &[u8], bitwidth: u32) -> Result<u128, BytestringError> {
    if bytes.is_empty() {
        return Err(BytestringError::Empty);
    }
    let significant = match bytes.iter().position(|b| *b != 0) {
        Some(first) => &bytes[first..],
        None => return Ok(0),
    };
    if significant.len() > 16 {
        return Err(BytestringError::TooLong {
            len: significant.len(),
            bitwidth,
        });
    }
    let value = significant
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    if bitwidth < MAX_WIDTH && value >> bitwidth != 0 {
        return Err(BytestringError::TooWide { value, bitwidth });
    }
    Ok(value)
}

/// The canonical form of a received bytestring that fits `bitwidth` bits.
pub fn canonicalize(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, BytestringError> {
    parse(bytes, bitwidth).map(from_u128)
}

/// Interprets a big-endian bytestring as an unsigned integer (up to 128 bits).
pub fn to_u128(bytes: &[u8]) -> Option<u128> {
    let c = canonical(bytes);
    if c.len() > 16 {
        return None;
    }
    Some(c.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b)))
}

/// Big-endian bytes of an unsigned integer, canonical.
pub fn from_u128(v: u128) -> Vec<u8> {
    canonical(&v.to_be_bytes())
}

/// All ones in the low `bitwidth` bits.
pub fn all_ones(bitwidth: u32) -> u128 {
    if bitwidth >= MAX_WIDTH {
        u128::MAX
    } else {
        (1u128 << bitwidth) - 1
    }
}

/// A mask with the top `prefix_len` bits of a `bitwidth`-bit field set, big-endian, full width.
pub fn prefix_mask(prefix_len: u32, bitwidth: u32) -> Vec<u8> {
    let len = bitwidth.div_ceil(8) as usize;
    let mut out = vec![0u8; len];
    // Bit i (0 = most significant bit of the field) sits at position (bitwidth - 1 - i) from the LSB.
    for i in 0..prefix_len.min(bitwidth) {
        let from_lsb = bitwidth - 1 - i;
        let byte = len - 1 - (from_lsb / 8) as usize;
        out[byte] |= 1 << (from_lsb % 8);
    }
    out
}

/// Bitwise AND of two big-endian values, aligned on their least significant byte.
pub fn and(a: &[u8], b: &[u8]) -> Vec<u8> {
    let len = a.len().max(b.len());
    let get = |v: &[u8], i: usize| -> u8 {
        // i counts from the least significant byte
        if i < v.len() { v[v.len() - 1 - i] } else { 0 }
    };
    let mut out = vec![0u8; len];
    for i in 0..len {
        out[len - 1 - i] = get(a, i) & get(b, i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_strips_zeros_and_keeps_one_byte() {
        assert_eq!(canonical(&[0, 0, 1, 2]), vec![1, 2]);
        assert_eq!(canonical(&[0, 0]), vec![0]);
        assert_eq!(canonical(&[]), vec![0]);
        assert_eq!(from_u128(0), vec![0]);
        assert_eq!(from_u128(0x1ff), vec![1, 0xff]);
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(from_u128(0), vec![0]);
        assert_eq!(from_u128(0x0a00), vec![0x0a, 0x00]);
        assert_eq!(from_u128(u128::MAX).len(), 16);
    }

    #[test]
    fn width_is_checked() {
        assert_eq!(encode(&[1, 0xff], 9).unwrap(), vec![1, 0xff]);
        assert!(encode(&[2, 0], 9).is_err());
        assert_eq!(significant_bits(&[0, 0x80]), 8);
        assert_eq!(padded(&[5], 48).unwrap(), vec![0, 0, 0, 0, 0, 5]);
    }

    #[test]
    fn width_error_names_the_bytes_given() {
        let e = encode(&[0, 2, 0], 9).unwrap_err();
        assert_eq!(e.to_string(), "value 0x000200 does not fit in 9 bits");
    }

    #[test]
    fn parse_accepts_padding_and_checks_width() {
        assert_eq!(parse(&[0, 0, 0x0a], 9).unwrap(), 10);
        assert_eq!(parse(&[0, 0], 1).unwrap(), 0);
        assert_eq!(parse(&[0x01, 0xff], 9).unwrap(), 0x1ff);
        assert!(parse(&[0x02, 0x00], 9).is_err());
        assert!(parse(&[], 8).is_err());
        assert!(parse(&[1; 17], 128).is_err());
        assert_eq!(parse(&[0xff; 16], 128).unwrap(), u128::MAX);
        assert_eq!(canonicalize(&[0, 0, 5], 16).unwrap(), vec![5]);
    }

    #[test]
    fn parse_errors_read_as_before() {
        assert_eq!(parse(&[], 8).unwrap_err().to_string(), "empty bytestring");
        assert_eq!(
            parse(&[1; 17], 128).unwrap_err().to_string(),
            "value of 17 bytes does not fit 128 bits"
        );
        assert_eq!(
            parse(&[0, 0x02, 0x00], 9).unwrap_err().to_string(),
            "value 0x200 does not fit 9 bits"
        );
    }

    #[test]
    fn ones() {
        assert_eq!(all_ones(9), 0x1ff);
        assert_eq!(all_ones(128), u128::MAX);
    }

    #[test]
    fn prefix_masks() {
        assert_eq!(prefix_mask(24, 32), vec![255, 255, 255, 0]);
        assert_eq!(prefix_mask(0, 32), vec![0, 0, 0, 0]);
        assert_eq!(prefix_mask(1, 9), vec![1, 0]);
        assert_eq!(prefix_mask(9, 9), vec![1, 0xff]);
        assert_eq!(and(&[10, 1, 2, 3], &prefix_mask(16, 32)), vec![10, 1, 0, 0]);
        assert_eq!(to_u128(&[1, 0]), Some(256));
    }
}
