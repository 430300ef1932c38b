//! Canonical P4Runtime bytestrings: big-endian values with no leading zero bytes
//! (at least one byte), checked against a field's bit width.

use thiserror::Error;

/// A value that does not fit the field it is meant for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("value 0x{value} does not fit in {bitwidth} bits")]
pub struct WidthError {
    /// The offending value, hex.
    pub value: String,
    /// The width of the field.
    pub bitwidth: u32,
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
            value: hex::encode(bytes),
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
    fn width_is_checked() {
        assert_eq!(encode(&[1, 0xff], 9).unwrap(), vec![1, 0xff]);
        assert!(encode(&[2, 0], 9).is_err());
        assert_eq!(significant_bits(&[0, 0x80]), 8);
        assert_eq!(padded(&[5], 48).unwrap(), vec![0, 0, 0, 0, 0, 5]);
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
