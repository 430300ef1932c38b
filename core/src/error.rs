//! Rejection reasons: the typed error of the authority and the code carried by ERROR replies.

use crate::codec::DecodeError;
use crate::digest::Digest;
use crate::keys::AuthorityTag;
use crate::wire::MsgType;

/// The reason code of an ERROR message (u16 on the wire). Every rejection has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum ErrorCode {
    /// The datagram or body could not be decoded (truncation, trailing bytes, bad field, ...).
    Malformed = 1,
    /// FMH version is not 1.
    BadVersion = 2,
    /// FMH msg_type is not one of 1..=17.
    UnknownMsgType = 3,
    /// Datagram longer than [`crate::wire::MAX_DATAGRAM_LEN`].
    Oversized = 4,
    /// Header `body_len` disagrees with the bytes that follow.
    BodyLengthMismatch = 5,
    /// A header field disagrees with the signed body.
    HeaderMismatch = 6,
    /// A signature (order, vote, or certificate batch) does not verify.
    BadSignature = 10,
    /// `epoch + ttl < current epoch`.
    StaleEpoch = 11,
    /// `epoch > current epoch + 1`.
    FutureEpoch = 12,
    /// The order's nonce is not the account's next sequence number.
    WrongNonce = 13,
    /// The sender's balance of the token is below the amount.
    InsufficientFunds = 14,
    /// A different order is already locked for this (account, nonce).
    ConflictingOrder = 15,
    /// This authority holds no record of the sending account.
    UnknownAccount = 16,
    /// The message type is not served by this node.
    NotServed = 17,
    /// The order itself is invalid (zero amount, self-transfer, bad recipient key).
    InvalidOrder = 18,
    /// The certificate's votes weigh less than the quorum.
    BelowQuorum = 20,
    /// The certificate carries two votes from one authority.
    RepeatedSigner = 21,
    /// The certificate carries a vote from an authority outside the committee.
    UnknownSigner = 22,
    /// The certificate's nonce is ahead of the account's next sequence number.
    MissingEarlierCertificates = 23,
    /// The message is for another committee.
    WrongCommittee = 24,
    /// The funding certificate or settlement comes from a gateway the committee does not pin.
    UnknownGateway = 25,
    /// The account has moved to another committee by a handoff.
    AccountMoved = 26,
    /// The authority cannot see a quorum of its committee, so it does not vote on withdrawals.
    QuorumNotVisible = 27,
    /// The node is overloaded and dropped the request.
    Overloaded = 30,
    /// The node failed internally (e.g. its store); the request changed nothing.
    Internal = 31,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::Malformed,
        ErrorCode::BadVersion,
        ErrorCode::UnknownMsgType,
        ErrorCode::Oversized,
        ErrorCode::BodyLengthMismatch,
        ErrorCode::HeaderMismatch,
        ErrorCode::BadSignature,
        ErrorCode::StaleEpoch,
        ErrorCode::FutureEpoch,
        ErrorCode::WrongNonce,
        ErrorCode::InsufficientFunds,
        ErrorCode::ConflictingOrder,
        ErrorCode::UnknownAccount,
        ErrorCode::NotServed,
        ErrorCode::InvalidOrder,
        ErrorCode::BelowQuorum,
        ErrorCode::RepeatedSigner,
        ErrorCode::UnknownSigner,
        ErrorCode::MissingEarlierCertificates,
        ErrorCode::WrongCommittee,
        ErrorCode::UnknownGateway,
        ErrorCode::AccountMoved,
        ErrorCode::QuorumNotVisible,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
    ];
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        self as u16
    }
    /// The code for a wire value.
    pub fn from_u16(v: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.to_u16() == v)
    }
    /// Whether the refusal says "not now" rather than "no": the request changed nothing and
    /// the same request may succeed when sent again later (the commit queue drained, a
    /// quorum of peers came back into sight).
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorCode::Overloaded | ErrorCode::QuorumNotVisible)
    }
    /// snake_case name, for metrics labels (`rejections{reason="..."}`) and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::BadVersion => "bad_version",
            ErrorCode::UnknownMsgType => "unknown_msg_type",
            ErrorCode::Oversized => "oversized",
            ErrorCode::BodyLengthMismatch => "body_length_mismatch",
            ErrorCode::HeaderMismatch => "header_mismatch",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::StaleEpoch => "stale_epoch",
            ErrorCode::FutureEpoch => "future_epoch",
            ErrorCode::WrongNonce => "wrong_nonce",
            ErrorCode::InsufficientFunds => "insufficient_funds",
            ErrorCode::ConflictingOrder => "conflicting_order",
            ErrorCode::UnknownAccount => "unknown_account",
            ErrorCode::NotServed => "not_served",
            ErrorCode::InvalidOrder => "invalid_order",
            ErrorCode::BelowQuorum => "below_quorum",
            ErrorCode::RepeatedSigner => "repeated_signer",
            ErrorCode::UnknownSigner => "unknown_signer",
            ErrorCode::MissingEarlierCertificates => "missing_earlier_certificates",
            ErrorCode::WrongCommittee => "wrong_committee",
            ErrorCode::UnknownGateway => "unknown_gateway",
            ErrorCode::AccountMoved => "account_moved",
            ErrorCode::QuorumNotVisible => "quorum_not_visible",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl DecodeError {
    /// The ERROR code for this decode failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::BadVersion(_) => ErrorCode::BadVersion,
            DecodeError::UnknownMsgType(_) => ErrorCode::UnknownMsgType,
            DecodeError::Oversized { .. } => ErrorCode::Oversized,
            DecodeError::BodyLengthMismatch { .. } => ErrorCode::BodyLengthMismatch,
            DecodeError::HeaderMismatch(_) => ErrorCode::HeaderMismatch,
            DecodeError::Truncated { .. }
            | DecodeError::ReservedNotZero
            | DecodeError::TrailingBytes(_)
            | DecodeError::InvalidField(_) => ErrorCode::Malformed,
        }
    }
}

/// Why the authority refused a message. State is unchanged whenever this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    #[error("bad signature")]
    BadSignature,
    #[error("stale epoch: epoch {epoch} + ttl {ttl} < current epoch {current}")]
    StaleEpoch { epoch: u32, ttl: u8, current: u32 },
    #[error("future epoch: epoch {epoch} > current epoch {current} + 1")]
    FutureEpoch { epoch: u32, current: u32 },
    #[error("wrong nonce: expected {expected}, got {got}")]
    WrongNonce { expected: u64, got: u64 },
    #[error("insufficient funds: balance {balance} of token {token} < amount {amount}")]
    InsufficientFunds {
        token: u32,
        balance: u64,
        amount: u64,
    },
    #[error("conflicting order: nonce {nonce} is locked by order {locked}")]
    ConflictingOrder { nonce: u64, locked: Digest },
    #[error("unknown account")]
    UnknownAccount,
    #[error("message type {0:?} is not served here")]
    NotServed(MsgType),
    #[error("invalid order: {0}")]
    InvalidOrder(&'static str),
    #[error("below quorum: weight {weight} < quorum {quorum}")]
    BelowQuorum { weight: u64, quorum: u64 },
    #[error("repeated signer {0}")]
    RepeatedSigner(AuthorityTag),
    #[error("unknown signer {0}")]
    UnknownSigner(AuthorityTag),
    #[error("missing earlier certificates: next sequence {expected}, certificate nonce {got}")]
    MissingEarlierCertificates { expected: u64, got: u64 },
    #[error("the message is for another committee")]
    WrongCommittee,
    #[error("the gateway is not pinned by this committee")]
    UnknownGateway,
    #[error("the account has moved to another committee")]
    AccountMoved,
    #[error("this authority cannot see a quorum of its committee")]
    QuorumNotVisible,
}

impl Rejection {
    /// The ERROR code for this rejection.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::Malformed(e) => e.code(),
            Rejection::BadSignature => ErrorCode::BadSignature,
            Rejection::StaleEpoch { .. } => ErrorCode::StaleEpoch,
            Rejection::FutureEpoch { .. } => ErrorCode::FutureEpoch,
            Rejection::WrongNonce { .. } => ErrorCode::WrongNonce,
            Rejection::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            Rejection::ConflictingOrder { .. } => ErrorCode::ConflictingOrder,
            Rejection::UnknownAccount => ErrorCode::UnknownAccount,
            Rejection::NotServed(_) => ErrorCode::NotServed,
            Rejection::InvalidOrder(_) => ErrorCode::InvalidOrder,
            Rejection::BelowQuorum { .. } => ErrorCode::BelowQuorum,
            Rejection::RepeatedSigner(_) => ErrorCode::RepeatedSigner,
            Rejection::UnknownSigner(_) => ErrorCode::UnknownSigner,
            Rejection::MissingEarlierCertificates { .. } => ErrorCode::MissingEarlierCertificates,
            Rejection::WrongCommittee => ErrorCode::WrongCommittee,
            Rejection::UnknownGateway => ErrorCode::UnknownGateway,
            Rejection::AccountMoved => ErrorCode::AccountMoved,
            Rejection::QuorumNotVisible => ErrorCode::QuorumNotVisible,
        }
    }
}

/// The epoch window shared with the switch: a message is stale if `epoch + ttl < current`
/// and from the future if `epoch > current + 1` (computed without overflow).
pub fn check_epoch(epoch: u32, ttl: u8, current: u32) -> Result<(), Rejection> {
    if u64::from(epoch) + u64::from(ttl) < u64::from(current) {
        return Err(Rejection::StaleEpoch {
            epoch,
            ttl,
            current,
        });
    }
    if u64::from(epoch) > u64::from(current) + 1 {
        return Err(Rejection::FutureEpoch { epoch, current });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip_and_are_unique() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u16(c.to_u16()), Some(c));
        }
        let mut v: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.to_u16()).collect();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::from_u16(0), None);
        assert_eq!(ErrorCode::from_u16(9999), None);
    }

    #[test]
    fn epoch_window() {
        assert!(check_epoch(10, 2, 12).is_ok());
        assert!(check_epoch(10, 2, 13).is_err());
        assert_eq!(
            check_epoch(10, 2, 13).unwrap_err().code(),
            ErrorCode::StaleEpoch
        );
        assert!(check_epoch(11, 0, 10).is_ok());
        assert_eq!(
            check_epoch(12, 0, 10).unwrap_err().code(),
            ErrorCode::FutureEpoch
        );
        assert!(check_epoch(u32::MAX, 255, u32::MAX).is_ok());
        assert!(check_epoch(u32::MAX, 0, u32::MAX - 1).is_ok());
    }
}
