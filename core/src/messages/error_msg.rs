//! ERROR replies: a code for every rejection reason plus a short human-readable detail.
//!
//! Errors are not signed: forging one only makes a client give up on an authority, which a
//! network attacker can achieve by dropping packets anyway, and not signing keeps bad input
//! cheap to answer.

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::error::{ErrorCode, Rejection};
use crate::keys::AuthorityTag;
use crate::wire::MsgType;

/// Longest `detail` string, in bytes.
pub const MAX_ERROR_DETAIL_LEN: usize = 256;

/// An authority's refusal of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    /// The `msg_type` byte of the refused request (0 if unknown).
    pub request_type: u8,
    /// The FMH `nonce` of the refused request (also the ERROR's own FMH `nonce`).
    pub nonce: u64,
    pub authority: AuthorityTag,
    pub detail: String,
}

impl ErrorMessage {
    /// An ERROR for a rejection (detail cut to [`MAX_ERROR_DETAIL_LEN`] bytes).
    pub fn from_rejection(
        rejection: &Rejection,
        request_type: Option<MsgType>,
        nonce: u64,
        authority: AuthorityTag,
    ) -> ErrorMessage {
        let mut detail = rejection.to_string();
        if detail.len() > MAX_ERROR_DETAIL_LEN {
            let mut cut = MAX_ERROR_DETAIL_LEN;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        ErrorMessage {
            code: rejection.code(),
            request_type: request_type.map_or(0, MsgType::to_u8),
            nonce,
            authority,
            detail,
        }
    }
}

impl ErrorMessage {
    /// The detail as encoded: at most [`MAX_ERROR_DETAIL_LEN`] bytes, cut on a char boundary.
    fn detail_bytes(&self) -> &[u8] {
        let mut cut = self.detail.len().min(MAX_ERROR_DETAIL_LEN);
        while !self.detail.is_char_boundary(cut) {
            cut -= 1;
        }
        &self.detail.as_bytes()[..cut]
    }
}

impl Encode for ErrorMessage {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_u16(self.code.to_u16());
        out.put_u8(self.request_type);
        out.put_u64(self.nonce);
        self.authority.encode_to(out);
        let d = self.detail_bytes();
        out.put_u16(d.len() as u16);
        out.put_bytes(d);
    }
    fn encoded_len(&self) -> usize {
        2 + 1 + 8 + 8 + 2 + self.detail_bytes().len()
    }
}

impl Decode for ErrorMessage {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let code =
            ErrorCode::from_u16(r.u16()?).ok_or(DecodeError::InvalidField("unknown error code"))?;
        Ok(ErrorMessage {
            code,
            request_type: r.u8()?,
            nonce: r.u64()?,
            authority: AuthorityTag::decode_from(r)?,
            detail: r.string(MAX_ERROR_DETAIL_LEN)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Tag;

    #[test]
    fn long_detail_is_cut_on_a_char_boundary() {
        let e = ErrorMessage {
            code: ErrorCode::Malformed,
            request_type: 1,
            nonce: 3,
            authority: Tag([1; 8]),
            detail: "é".repeat(200),
        };
        let bytes = e.to_bytes();
        assert_eq!(bytes.len(), e.encoded_len());
        let d = ErrorMessage::from_bytes(&bytes).unwrap();
        assert!(d.detail.len() <= MAX_ERROR_DETAIL_LEN);
        assert!(d.detail.chars().all(|c| c == 'é'));
        let mut unknown = bytes.clone();
        unknown[0..2].copy_from_slice(&999u16.to_be_bytes());
        assert!(ErrorMessage::from_bytes(&unknown).is_err());
    }
}
