//! P4Runtime bytestrings (§8.4): big-endian, any length on input as long as the value
//! fits the declared bit width; always the canonical (shortest, at least one byte)
//! form on output.

use super::status::P4rtError;

/// The widest value this target handles (the engine computes on 128-bit words).
pub const MAX_WIDTH: u32 = 128;

/// Reads a bytestring that must fit `bitwidth` bits; `what` names it in errors.
pub fn parse(bytes: &[u8], bitwidth: u32, what: &str) -> Result<u128, P4rtError> {
    if bytes.is_empty() {
        return Err(P4rtError::invalid(format!("{what}: empty bytestring")));
    }
    let significant = match bytes.iter().position(|b| *b != 0) {
        Some(first) => &bytes[first..],
        None => return Ok(0),
    };
    if significant.len() > 16 {
        return Err(P4rtError::invalid(format!(
            "{what}: value of {} bytes does not fit {bitwidth} bits",
            significant.len()
        )));
    }
    let value = significant
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    if bitwidth < MAX_WIDTH && value >> bitwidth != 0 {
        return Err(P4rtError::invalid(format!(
            "{what}: value 0x{value:x} does not fit {bitwidth} bits"
        )));
    }
    Ok(value)
}

/// The canonical bytestring of `value`.
pub fn canonical(value: u128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(15);
    bytes[first..].to_vec()
}

/// The canonical form of an input bytestring that fits `bitwidth` bits.
pub fn canonicalize(bytes: &[u8], bitwidth: u32, what: &str) -> Result<Vec<u8>, P4rtError> {
    parse(bytes, bitwidth, what).map(canonical)
}

/// All ones in the low `bitwidth` bits.
pub fn all_ones(bitwidth: u32) -> u128 {
    if bitwidth >= MAX_WIDTH {
        u128::MAX
    } else {
        (1u128 << bitwidth) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical(0), vec![0]);
        assert_eq!(canonical(0x0a00), vec![0x0a, 0x00]);
        assert_eq!(canonical(u128::MAX).len(), 16);
    }

    #[test]
    fn parse_accepts_padding_and_checks_width() {
        assert_eq!(parse(&[0, 0, 0x0a], 9, "x").unwrap(), 10);
        assert_eq!(parse(&[0, 0], 1, "x").unwrap(), 0);
        assert_eq!(parse(&[0x01, 0xff], 9, "x").unwrap(), 0x1ff);
        assert!(parse(&[0x02, 0x00], 9, "x").is_err());
        assert!(parse(&[], 8, "x").is_err());
        assert!(parse(&[1; 17], 128, "x").is_err());
        assert_eq!(parse(&[0xff; 16], 128, "x").unwrap(), u128::MAX);
        assert_eq!(canonicalize(&[0, 0, 5], 16, "x").unwrap(), vec![5]);
    }

    #[test]
    fn ones() {
        assert_eq!(all_ones(9), 0x1ff);
        assert_eq!(all_ones(128), u128::MAX);
    }
}
