//! The 32-byte Flash-Mesh header (FMH) that starts every BCB UDP payload.
//!
//! Layout (all big-endian), exactly as in DESIGN.md:
//!
//! | bytes  | field       |
//! |--------|-------------|
//! | 0      | `version` (= 1) |
//! | 1      | `msg_type` (1..=10, see [`MsgType`]) |
//! | 2      | `retry`     |
//! | 3      | `flags` (bit 0: probe reply) |
//! | 4..8   | `epoch`     |
//! | 8..16  | `sender` (tag) |
//! | 16..24 | `nonce`     |
//! | 24     | `ttl`       |
//! | 25     | `hop_limit` |
//! | 26..28 | `body_len`  |
//! | 28..32 | reserved, zero |
//!
//! [`Header`] is a zero-copy view over a buffer (smoltcp style); [`HeaderRepr`] is the plain
//! struct that parses from and emits into such a view. [`Header::new_checked`] rejects a buffer
//! shorter than 32 bytes, a version other than 1, an unknown message type, and non-zero reserved
//! bytes (strict: reserved bytes must be zero so they can be given a meaning later). It does not
//! check `body_len` against the buffer; [`crate::envelope::Envelope::decode`] does.

use crate::codec::DecodeError;
use crate::keys::Tag;

/// UDP port of the BCB service.
pub const BCB_UDP_PORT: u16 = 47474;
/// Length of the FMH header.
pub const HEADER_LEN: usize = 32;
/// The only FMH version.
pub const VERSION: u8 = 1;
/// Largest datagram (header + body): a 1500-byte Ethernet MTU less 20 bytes IPv4 and 8 bytes UDP.
pub const MAX_DATAGRAM_LEN: usize = 1472;
/// Largest body.
pub const MAX_BODY_LEN: usize = MAX_DATAGRAM_LEN - HEADER_LEN;
/// `flags` bit 0: this PROBE is a reply.
pub const FLAG_PROBE_REPLY: u8 = 0x01;
/// Default `hop_limit` for a new message.
pub const DEFAULT_HOP_LIMIT: u8 = 16;

/// Message type numbers (the `msg_type` byte).
pub const MSG_ORDER: u8 = 1;
pub const MSG_VOTE: u8 = 2;
pub const MSG_CERTIFICATE: u8 = 3;
pub const MSG_RECEIPT: u8 = 4;
pub const MSG_QUERY: u8 = 5;
pub const MSG_QUERY_REPLY: u8 = 6;
pub const MSG_HANDOFF: u8 = 7;
pub const MSG_PAYMENT_DATA: u8 = 8;
pub const MSG_PROBE: u8 = 9;
pub const MSG_ERROR: u8 = 10;
pub const MSG_HANDOFF_CERTIFICATE: u8 = 11;
pub const MSG_WITHDRAWAL: u8 = 12;
pub const MSG_WITHDRAWAL_CERTIFICATE: u8 = 13;
pub const MSG_DEPOSIT: u8 = 14;
pub const MSG_SETTLEMENT: u8 = 15;
pub const MSG_HEARTBEAT: u8 = 16;
pub const MSG_SYNC: u8 = 17;

/// The header fields in wire order with their widths in bits (names as in DESIGN.md).
/// The P4 program's `fmh_t` header must declare exactly these.
pub const FIELDS: &[(&str, usize)] = &[
    ("version", 8),
    ("msg_type", 8),
    ("retry", 8),
    ("flags", 8),
    ("epoch", 32),
    ("sender", 64),
    ("nonce", 64),
    ("ttl", 8),
    ("hop_limit", 8),
    ("body_len", 16),
    ("reserved", 32),
];

/// Byte ranges of each field.
pub mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const MSG_TYPE: usize = 1;
    pub const RETRY: usize = 2;
    pub const FLAGS: usize = 3;
    pub const EPOCH: Range<usize> = 4..8;
    pub const SENDER: Range<usize> = 8..16;
    pub const NONCE: Range<usize> = 16..24;
    pub const TTL: usize = 24;
    pub const HOP_LIMIT: usize = 25;
    pub const BODY_LEN: Range<usize> = 26..28;
    pub const RESERVED: Range<usize> = 28..32;
}

/// The FMH message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MsgType {
    /// A signed transfer order (a vote request).
    Order = MSG_ORDER,
    Vote = MSG_VOTE,
    Certificate = MSG_CERTIFICATE,
    Receipt = MSG_RECEIPT,
    Query = MSG_QUERY,
    QueryReply = MSG_QUERY_REPLY,
    Handoff = MSG_HANDOFF,
    PaymentData = MSG_PAYMENT_DATA,
    Probe = MSG_PROBE,
    Error = MSG_ERROR,
    /// A quorum's certificate on a handoff order.
    HandoffCertificate = MSG_HANDOFF_CERTIFICATE,
    /// A signed withdrawal order (a vote request).
    Withdrawal = MSG_WITHDRAWAL,
    WithdrawalCertificate = MSG_WITHDRAWAL_CERTIFICATE,
    /// A gateway's funding certificate.
    Deposit = MSG_DEPOSIT,
    /// A gateway's signed settlement of a withdrawal.
    Settlement = MSG_SETTLEMENT,
    /// An anchor's signed liveness beacon to its peers.
    Heartbeat = MSG_HEARTBEAT,
    /// An anchor's request to a peer for the certificates it missed.
    Sync = MSG_SYNC,
}

impl MsgType {
    /// All types in number order.
    pub const ALL: [MsgType; 17] = [
        MsgType::Order,
        MsgType::Vote,
        MsgType::Certificate,
        MsgType::Receipt,
        MsgType::Query,
        MsgType::QueryReply,
        MsgType::Handoff,
        MsgType::PaymentData,
        MsgType::Probe,
        MsgType::Error,
        MsgType::HandoffCertificate,
        MsgType::Withdrawal,
        MsgType::WithdrawalCertificate,
        MsgType::Deposit,
        MsgType::Settlement,
        MsgType::Heartbeat,
        MsgType::Sync,
    ];
    /// The type for a `msg_type` byte.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        MsgType::ALL.get((v as usize).wrapping_sub(1)).copied()
    }
    /// Whether this type is a reply (vote, receipt, query reply, error, settlement): nodes never
    /// answer one, so two of them can never bounce messages at each other.
    pub fn is_reply(self) -> bool {
        matches!(
            self,
            MsgType::Vote
                | MsgType::Receipt
                | MsgType::QueryReply
                | MsgType::Error
                | MsgType::Settlement
        )
    }
    /// The `msg_type` byte.
    pub fn to_u8(self) -> u8 {
        self as u8
    }
    /// Lowercase name (for metrics labels and logs).
    pub fn name(self) -> &'static str {
        match self {
            MsgType::Order => "order",
            MsgType::Vote => "vote",
            MsgType::Certificate => "certificate",
            MsgType::Receipt => "receipt",
            MsgType::Query => "query",
            MsgType::QueryReply => "query_reply",
            MsgType::Handoff => "handoff",
            MsgType::PaymentData => "payment_data",
            MsgType::Probe => "probe",
            MsgType::Error => "error",
            MsgType::HandoffCertificate => "handoff_certificate",
            MsgType::Withdrawal => "withdrawal",
            MsgType::WithdrawalCertificate => "withdrawal_certificate",
            MsgType::Deposit => "deposit",
            MsgType::Settlement => "settlement",
            MsgType::Heartbeat => "heartbeat",
            MsgType::Sync => "sync",
        }
    }
}

/// A zero-copy view of an FMH header at the start of a buffer.
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without any check; accessors panic if it is shorter than 32 bytes.
    pub const fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }
    /// Wraps a buffer after [`Header::check`].
    pub fn new_checked(buffer: T) -> Result<Header<T>, DecodeError> {
        let h = Header::new_unchecked(buffer);
        h.check()?;
        Ok(h)
    }
    /// Checks length, version, message type and reserved bytes.
    pub fn check(&self) -> Result<(), DecodeError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: b.len(),
            });
        }
        if b[field::VERSION] != VERSION {
            return Err(DecodeError::BadVersion(b[field::VERSION]));
        }
        if MsgType::from_u8(b[field::MSG_TYPE]).is_none() {
            return Err(DecodeError::UnknownMsgType(b[field::MSG_TYPE]));
        }
        if b[field::RESERVED] != [0u8; 4] {
            return Err(DecodeError::ReservedNotZero);
        }
        Ok(())
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn version(&self) -> u8 {
        self.b()[field::VERSION]
    }
    /// The raw `msg_type` byte.
    pub fn msg_type_raw(&self) -> u8 {
        self.b()[field::MSG_TYPE]
    }
    /// The message type, if known.
    pub fn msg_type(&self) -> Option<MsgType> {
        MsgType::from_u8(self.msg_type_raw())
    }
    pub fn retry(&self) -> u8 {
        self.b()[field::RETRY]
    }
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }
    pub fn epoch(&self) -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.b()[field::EPOCH]);
        u32::from_be_bytes(a)
    }
    pub fn sender(&self) -> Tag {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b()[field::SENDER]);
        Tag(a)
    }
    pub fn nonce(&self) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b()[field::NONCE]);
        u64::from_be_bytes(a)
    }
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }
    pub fn body_len(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::BODY_LEN.start], b[field::BODY_LEN.start + 1]])
    }
    pub fn reserved(&self) -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.b()[field::RESERVED]);
        u32::from_be_bytes(a)
    }
    /// The bytes after the header (whatever their length).
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_version(&mut self, v: u8) {
        self.bm()[field::VERSION] = v;
    }
    pub fn set_msg_type(&mut self, v: MsgType) {
        self.bm()[field::MSG_TYPE] = v.to_u8();
    }
    pub fn set_retry(&mut self, v: u8) {
        self.bm()[field::RETRY] = v;
    }
    pub fn set_flags(&mut self, v: u8) {
        self.bm()[field::FLAGS] = v;
    }
    pub fn set_epoch(&mut self, v: u32) {
        self.bm()[field::EPOCH].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_sender(&mut self, v: Tag) {
        self.bm()[field::SENDER].copy_from_slice(&v.0);
    }
    pub fn set_nonce(&mut self, v: u64) {
        self.bm()[field::NONCE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[field::TTL] = v;
    }
    pub fn set_hop_limit(&mut self, v: u8) {
        self.bm()[field::HOP_LIMIT] = v;
    }
    pub fn set_body_len(&mut self, v: u16) {
        self.bm()[field::BODY_LEN].copy_from_slice(&v.to_be_bytes());
    }
    /// Zeroes the reserved bytes.
    pub fn clear_reserved(&mut self) {
        self.bm()[field::RESERVED].copy_from_slice(&[0; 4]);
    }
}

/// The FMH header as a plain struct (version is implied: always [`VERSION`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    pub msg_type: MsgType,
    pub retry: u8,
    pub flags: u8,
    pub epoch: u32,
    pub sender: Tag,
    pub nonce: u64,
    pub ttl: u8,
    pub hop_limit: u8,
    pub body_len: u16,
}

impl HeaderRepr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<HeaderRepr, DecodeError> {
        h.check()?;
        Ok(HeaderRepr {
            msg_type: h
                .msg_type()
                .ok_or(DecodeError::UnknownMsgType(h.msg_type_raw()))?,
            retry: h.retry(),
            flags: h.flags(),
            epoch: h.epoch(),
            sender: h.sender(),
            nonce: h.nonce(),
            ttl: h.ttl(),
            hop_limit: h.hop_limit(),
            body_len: h.body_len(),
        })
    }
    /// Parses the first 32 bytes of `bytes`.
    pub fn parse_bytes(bytes: &[u8]) -> Result<HeaderRepr, DecodeError> {
        HeaderRepr::parse(&Header::new_checked(bytes)?)
    }
    /// Writes every field (version 1, reserved zero) into a view of at least 32 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) {
        h.set_version(VERSION);
        h.set_msg_type(self.msg_type);
        h.set_retry(self.retry);
        h.set_flags(self.flags);
        h.set_epoch(self.epoch);
        h.set_sender(self.sender);
        h.set_nonce(self.nonce);
        h.set_ttl(self.ttl);
        h.set_hop_limit(self.hop_limit);
        h.set_body_len(self.body_len);
        h.clear_reserved();
    }
    /// The 32 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        self.emit(&mut Header::new_unchecked(&mut b[..]));
        b
    }
    /// Appends the 32 header bytes to `out`.
    pub fn emit_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }
    /// True if `flags` has the probe-reply bit.
    pub fn is_probe_reply(&self) -> bool {
        self.flags & FLAG_PROBE_REPLY != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HeaderRepr {
        HeaderRepr {
            msg_type: MsgType::Certificate,
            retry: 2,
            flags: FLAG_PROBE_REPLY,
            epoch: 0x0102_0304,
            sender: Tag([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]),
            nonce: 0x1112_1314_1516_1718,
            ttl: 0x21,
            hop_limit: 0x22,
            body_len: 0x0304,
        }
    }

    #[test]
    fn fields_cover_32_bytes_in_order() {
        let bits: usize = FIELDS.iter().map(|(_, b)| b).sum();
        assert_eq!(bits, HEADER_LEN * 8);
        let names: Vec<_> = FIELDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "version",
                "msg_type",
                "retry",
                "flags",
                "epoch",
                "sender",
                "nonce",
                "ttl",
                "hop_limit",
                "body_len",
                "reserved"
            ]
        );
        // Byte offsets from FIELDS agree with the `field` ranges.
        let mut off = 0;
        let starts: Vec<usize> = FIELDS
            .iter()
            .map(|(_, b)| {
                let s = off;
                off += b / 8;
                s
            })
            .collect();
        assert_eq!(
            starts,
            [
                field::VERSION,
                field::MSG_TYPE,
                field::RETRY,
                field::FLAGS,
                field::EPOCH.start,
                field::SENDER.start,
                field::NONCE.start,
                field::TTL,
                field::HOP_LIMIT,
                field::BODY_LEN.start,
                field::RESERVED.start
            ]
        );
    }

    #[test]
    fn golden_layout() {
        let b = sample().to_bytes();
        let expect: [u8; 32] = [
            1, 3, 2, 1, 1, 2, 3, 4, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0x11, 0x12,
            0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 3, 4, 0, 0, 0, 0,
        ];
        assert_eq!(b, expect);
    }

    #[test]
    fn every_field_roundtrips() {
        let base = sample();
        let variants = [
            HeaderRepr { retry: 255, ..base },
            HeaderRepr {
                flags: 0xfe,
                ..base
            },
            HeaderRepr {
                epoch: u32::MAX,
                ..base
            },
            HeaderRepr {
                sender: Tag([0xff; 8]),
                ..base
            },
            HeaderRepr {
                nonce: u64::MAX,
                ..base
            },
            HeaderRepr { ttl: 0, ..base },
            HeaderRepr {
                hop_limit: 255,
                ..base
            },
            HeaderRepr {
                body_len: u16::MAX,
                ..base
            },
        ];
        for r in std::iter::once(base).chain(variants) {
            assert_eq!(HeaderRepr::parse_bytes(&r.to_bytes()).unwrap(), r);
        }
        for t in MsgType::ALL {
            let r = HeaderRepr {
                msg_type: t,
                ..base
            };
            let bytes = r.to_bytes();
            assert_eq!(bytes[1], t.to_u8());
            assert_eq!(HeaderRepr::parse_bytes(&bytes).unwrap(), r);
        }
    }

    #[test]
    fn view_setters_and_getters_agree() {
        let mut buf = [0u8; 40];
        let mut h = Header::new_unchecked(&mut buf[..]);
        h.set_version(VERSION);
        h.set_msg_type(MsgType::Vote);
        h.set_retry(5);
        h.set_flags(1);
        h.set_epoch(77);
        h.set_sender(Tag([1, 2, 3, 4, 5, 6, 7, 8]));
        h.set_nonce(99);
        h.set_ttl(3);
        h.set_hop_limit(9);
        h.set_body_len(8);
        let h = Header::new_checked(&buf[..]).unwrap();
        assert_eq!(h.version(), 1);
        assert_eq!(h.msg_type(), Some(MsgType::Vote));
        assert_eq!(h.retry(), 5);
        assert_eq!(h.flags(), 1);
        assert_eq!(h.epoch(), 77);
        assert_eq!(h.sender(), Tag([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(h.nonce(), 99);
        assert_eq!(h.ttl(), 3);
        assert_eq!(h.hop_limit(), 9);
        assert_eq!(h.body_len(), 8);
        assert_eq!(h.reserved(), 0);
        assert_eq!(h.payload().len(), 8);
    }

    #[test]
    fn checked_constructor_rejects_bad_input() {
        let good = sample().to_bytes();
        assert_eq!(
            Header::new_checked(&good[..31]).unwrap_err(),
            DecodeError::Truncated {
                needed: 32,
                available: 31
            }
        );
        let mut b = good;
        b[0] = 2;
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadVersion(2)
        );
        for t in [0u8, 18, 255] {
            let mut b = good;
            b[1] = t;
            assert_eq!(
                Header::new_checked(&b[..]).unwrap_err(),
                DecodeError::UnknownMsgType(t)
            );
        }
        let mut b = good;
        b[31] = 1;
        assert_eq!(
            Header::new_checked(&b[..]).unwrap_err(),
            DecodeError::ReservedNotZero
        );
    }

    #[test]
    fn constants() {
        assert_eq!(BCB_UDP_PORT, 47474);
        assert_eq!(HEADER_LEN, 32);
        assert_eq!(MAX_BODY_LEN + HEADER_LEN, MAX_DATAGRAM_LEN);
        for (i, t) in MsgType::ALL.iter().enumerate() {
            assert_eq!(t.to_u8() as usize, i + 1);
            assert_eq!(MsgType::from_u8(t.to_u8()), Some(*t));
        }
        assert_eq!(MsgType::from_u8(0), None);
    }
}
