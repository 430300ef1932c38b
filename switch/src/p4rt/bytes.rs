//! P4Runtime bytestrings as the service reads them: the shared codec
//! ([`flashmesh_proto::bytestring`]: any length on input as long as the value fits the
//! declared bit width, always the canonical form on output), its refusals as
//! INVALID_ARGUMENT naming the field.

use flashmesh_proto::bytestring::{self, BytestringError};

use super::status::P4rtError;

fn invalid(what: &str, e: BytestringError) -> P4rtError {
    P4rtError::invalid(format!("{what}: {e}"))
}

/// Reads a bytestring that must fit `bitwidth` bits; `what` names it in errors.
pub fn parse(bytes: &[u8], bitwidth: u32, what: &str) -> Result<u128, P4rtError> {
    bytestring::parse(bytes, bitwidth).map_err(|e| invalid(what, e))
}

/// The canonical form of an input bytestring that fits `bitwidth` bits.
pub fn canonicalize(bytes: &[u8], bitwidth: u32, what: &str) -> Result<Vec<u8>, P4rtError> {
    bytestring::canonicalize(bytes, bitwidth).map_err(|e| invalid(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_field() {
        assert_eq!(
            parse(&[0x02, 0x00], 9, "hdr.x").unwrap_err(),
            P4rtError::invalid("hdr.x: value 0x200 does not fit 9 bits")
        );
        assert_eq!(
            canonicalize(&[], 8, "port").unwrap_err().message,
            "port: empty bytestring"
        );
        assert_eq!(canonicalize(&[0, 0, 5], 16, "x").unwrap(), vec![5]);
    }
}
