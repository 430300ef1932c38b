//! Datagrams: an FMH header plus one message body, encoded and decoded as a whole.
//!
//! [`Envelope::decode`] never panics. It checks, in order: the datagram size, the header
//! ([`crate::wire::Header::check`]), `body_len` against the bytes that follow, the body (strict
//! canonical decoding, no trailing bytes), and that the header's `sender`/`nonce` (and for
//! orders `epoch`/`ttl`) equal what the body carries, so that switch filters on header fields
//! cannot be sidestepped by a body that says otherwise.
//!
//! Header fields per message type:
//!
//! | type | sender | nonce | epoch | ttl |
//! |---|---|---|---|---|
//! | ORDER | tag(order.sender) | order.nonce | order.epoch | order.ttl |
//! | CERTIFICATE | tag(order.sender) | order.nonce | sender's current epoch | order.ttl |
//! | QUERY | tag(account) | request | sender's current epoch | [`REQUEST_TTL`] |
//! | VOTE, RECEIPT | authority | order nonce | authority's epoch | [`REPLY_TTL`] |
//! | QUERY_REPLY | authority | request | authority's epoch | [`REPLY_TTL`] |
//! | ERROR | authority | refused request's nonce | authority's epoch | [`REPLY_TTL`] |
//! | WITHDRAWAL | tag(account) | order.nonce | order.epoch | order.ttl |
//! | WITHDRAWAL_CERTIFICATE | tag(account) | order.nonce | sender's current epoch | order.ttl |
//! | DEPOSIT | tag(gateway) | deposit sequence | gateway's current epoch | [`REQUEST_TTL`] |
//! | SETTLEMENT | tag(gateway) | withdrawal nonce | gateway's epoch | [`REPLY_TTL`] |
//!
//! A certificate's header carries the sender's *current* epoch, not the order's: certificates
//! never expire (an expired certificate would freeze its account's nonce forever), so they must
//! pass the switch's epoch window whenever they are sent.

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::keys::Tag;
use crate::messages::{
    Certificate, ErrorMessage, FundingCertificate, HandoffCertificate, Query, QueryReply, Receipt,
    Settlement, SignedHandoff, SignedOrder, SignedWithdrawal, Vote, WithdrawalCertificate,
};
use crate::wire::{
    DEFAULT_HOP_LIMIT, HEADER_LEN, Header, HeaderRepr, MAX_BODY_LEN, MAX_DATAGRAM_LEN, MsgType,
};

/// `ttl` of replies (votes, receipts, query replies, errors).
pub const REPLY_TTL: u8 = 1;
/// `ttl` of queries.
pub const REQUEST_TTL: u8 = 1;

/// A message body of any FMH type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Order(SignedOrder),
    Vote(Vote),
    Certificate(Certificate),
    Receipt(Receipt),
    Query(Query),
    QueryReply(QueryReply),
    Error(ErrorMessage),
    Withdrawal(SignedWithdrawal),
    WithdrawalCertificate(WithdrawalCertificate),
    Handoff(SignedHandoff),
    HandoffCertificate(HandoffCertificate),
    Deposit(FundingCertificate),
    Settlement(Settlement),
    /// Bodies this crate does not interpret (PAYMENT_DATA, PROBE, ...), carried as bytes.
    Opaque {
        msg_type: MsgType,
        body: Vec<u8>,
    },
}

impl Message {
    /// The FMH `msg_type` of this body.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Order(_) => MsgType::Order,
            Message::Vote(_) => MsgType::Vote,
            Message::Certificate(_) => MsgType::Certificate,
            Message::Receipt(_) => MsgType::Receipt,
            Message::Query(_) => MsgType::Query,
            Message::QueryReply(_) => MsgType::QueryReply,
            Message::Error(_) => MsgType::Error,
            Message::Withdrawal(_) => MsgType::Withdrawal,
            Message::WithdrawalCertificate(_) => MsgType::WithdrawalCertificate,
            Message::Handoff(_) => MsgType::Handoff,
            Message::HandoffCertificate(_) => MsgType::HandoffCertificate,
            Message::Deposit(_) => MsgType::Deposit,
            Message::Settlement(_) => MsgType::Settlement,
            Message::Opaque { msg_type, .. } => *msg_type,
        }
    }
    /// The `sender` and `nonce` that the header must carry, when the body determines them.
    pub fn header_sender_nonce(&self) -> Option<(Tag, u64)> {
        match self {
            Message::Order(o) => Some((o.order().sender_tag(), o.order().nonce)),
            Message::Certificate(c) => Some((c.order.order().sender_tag(), c.order.order().nonce)),
            Message::Vote(v) => Some((v.authority, v.nonce)),
            Message::Receipt(r) => Some((r.authority, r.nonce)),
            Message::Query(q) => Some((q.account_tag(), q.request)),
            Message::QueryReply(r) => Some((r.authority, r.request)),
            Message::Error(e) => Some((e.authority, e.nonce)),
            Message::Withdrawal(o) => Some((o.order().account.tag(), o.order().nonce)),
            Message::WithdrawalCertificate(c) => {
                Some((c.order.order().account.tag(), c.order.order().nonce))
            }
            Message::Handoff(o) => Some((o.order().account.tag(), o.order().nonce)),
            Message::HandoffCertificate(c) => {
                Some((c.order.order().account.tag(), c.order.order().nonce))
            }
            Message::Deposit(f) => Some((f.funding().gateway.tag(), f.funding().sequence)),
            Message::Settlement(s) => Some((s.gateway.tag(), s.nonce)),
            Message::Opaque { .. } => None,
        }
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::Order(m) => m.encode_to(out),
            Message::Vote(m) => m.encode_to(out),
            Message::Certificate(m) => m.encode_to(out),
            Message::Receipt(m) => m.encode_to(out),
            Message::Query(m) => m.encode_to(out),
            Message::QueryReply(m) => m.encode_to(out),
            Message::Error(m) => m.encode_to(out),
            Message::Withdrawal(m) => m.encode_to(out),
            Message::WithdrawalCertificate(m) => m.encode_to(out),
            Message::Handoff(m) => m.encode_to(out),
            Message::HandoffCertificate(m) => m.encode_to(out),
            Message::Deposit(m) => m.encode_to(out),
            Message::Settlement(m) => m.encode_to(out),
            Message::Opaque { body, .. } => out.extend_from_slice(body),
        }
    }
    /// Length of the encoded body.
    pub fn body_len(&self) -> usize {
        match self {
            Message::Order(m) => m.encoded_len(),
            Message::Vote(m) => m.encoded_len(),
            Message::Certificate(m) => m.encoded_len(),
            Message::Receipt(m) => m.encoded_len(),
            Message::Query(m) => m.encoded_len(),
            Message::QueryReply(m) => m.encoded_len(),
            Message::Error(m) => m.encoded_len(),
            Message::Withdrawal(m) => m.encoded_len(),
            Message::WithdrawalCertificate(m) => m.encoded_len(),
            Message::Handoff(m) => m.encoded_len(),
            Message::HandoffCertificate(m) => m.encoded_len(),
            Message::Deposit(m) => m.encoded_len(),
            Message::Settlement(m) => m.encoded_len(),
            Message::Opaque { body, .. } => body.len(),
        }
    }
    /// Decodes a body of type `msg_type` (all of `body`, strictly).
    pub fn decode_body(msg_type: MsgType, body: &[u8]) -> Result<Message, DecodeError> {
        let mut r = Reader::new(body);
        let m = match msg_type {
            MsgType::Order => Message::Order(SignedOrder::decode_from(&mut r)?),
            MsgType::Vote => Message::Vote(Vote::decode_from(&mut r)?),
            MsgType::Certificate => Message::Certificate(Certificate::decode_from(&mut r)?),
            MsgType::Receipt => Message::Receipt(Receipt::decode_from(&mut r)?),
            MsgType::Query => Message::Query(Query::decode_from(&mut r)?),
            MsgType::QueryReply => Message::QueryReply(QueryReply::decode_from(&mut r)?),
            MsgType::Error => Message::Error(ErrorMessage::decode_from(&mut r)?),
            MsgType::Withdrawal => Message::Withdrawal(SignedWithdrawal::decode_from(&mut r)?),
            MsgType::WithdrawalCertificate => {
                Message::WithdrawalCertificate(WithdrawalCertificate::decode_from(&mut r)?)
            }
            MsgType::Handoff => Message::Handoff(SignedHandoff::decode_from(&mut r)?),
            MsgType::HandoffCertificate => {
                Message::HandoffCertificate(HandoffCertificate::decode_from(&mut r)?)
            }
            MsgType::Deposit => Message::Deposit(FundingCertificate::decode_from(&mut r)?),
            MsgType::Settlement => Message::Settlement(Settlement::decode_from(&mut r)?),
            // Not (yet) interpreted by this crate: carried as bytes.
            MsgType::PaymentData | MsgType::Probe | MsgType::Heartbeat | MsgType::Sync => {
                return Ok(Message::Opaque {
                    msg_type,
                    body: body.to_vec(),
                });
            }
        };
        r.finish()?;
        Ok(m)
    }
}

/// A datagram: header plus message. `header.msg_type` and `header.body_len` are set from the
/// message when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub header: HeaderRepr,
    pub message: Message,
}

/// Why an envelope could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("body of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
}

fn header(msg_type: MsgType, sender: Tag, nonce: u64, epoch: u32, ttl: u8) -> HeaderRepr {
    HeaderRepr {
        msg_type,
        retry: 0,
        flags: 0,
        epoch,
        sender,
        nonce,
        ttl,
        hop_limit: DEFAULT_HOP_LIMIT,
        body_len: 0,
    }
}

impl Envelope {
    /// An envelope with an explicit header (msg_type and body_len are fixed up on encode).
    pub fn new(header: HeaderRepr, message: Message) -> Envelope {
        Envelope { header, message }
    }
    /// An ORDER datagram; every header field comes from the signed order.
    pub fn order(order: SignedOrder) -> Envelope {
        let o = *order.order();
        Envelope {
            header: header(MsgType::Order, o.sender_tag(), o.nonce, o.epoch, o.ttl),
            message: Message::Order(order),
        }
    }
    /// A CERTIFICATE datagram sent during `current_epoch`.
    pub fn certificate(certificate: Certificate, current_epoch: u32) -> Envelope {
        let o = *certificate.order.order();
        Envelope {
            header: header(
                MsgType::Certificate,
                o.sender_tag(),
                o.nonce,
                current_epoch,
                o.ttl,
            ),
            message: Message::Certificate(certificate),
        }
    }
    /// A WITHDRAWAL datagram; every header field comes from the signed order.
    pub fn withdrawal(order: SignedWithdrawal) -> Envelope {
        let o = order.order();
        Envelope {
            header: header(
                MsgType::Withdrawal,
                o.account.tag(),
                o.nonce,
                o.epoch,
                o.ttl,
            ),
            message: Message::Withdrawal(order),
        }
    }
    /// A WITHDRAWAL_CERTIFICATE datagram sent during `current_epoch`.
    pub fn withdrawal_certificate(
        certificate: WithdrawalCertificate,
        current_epoch: u32,
    ) -> Envelope {
        let o = certificate.order.order();
        Envelope {
            header: header(
                MsgType::WithdrawalCertificate,
                o.account.tag(),
                o.nonce,
                current_epoch,
                o.ttl,
            ),
            message: Message::WithdrawalCertificate(certificate),
        }
    }
    /// A HANDOFF datagram; every header field comes from the signed order.
    pub fn handoff(order: SignedHandoff) -> Envelope {
        let o = order.order();
        Envelope {
            header: header(MsgType::Handoff, o.account.tag(), o.nonce, o.epoch, o.ttl),
            message: Message::Handoff(order),
        }
    }
    /// A HANDOFF_CERTIFICATE datagram sent during `current_epoch`.
    pub fn handoff_certificate(certificate: HandoffCertificate, current_epoch: u32) -> Envelope {
        let o = certificate.order.order();
        Envelope {
            header: header(
                MsgType::HandoffCertificate,
                o.account.tag(),
                o.nonce,
                current_epoch,
                o.ttl,
            ),
            message: Message::HandoffCertificate(certificate),
        }
    }
    /// A DEPOSIT datagram (a gateway's funding certificate) sent during `current_epoch`.
    pub fn deposit(funding: FundingCertificate, current_epoch: u32) -> Envelope {
        let f = funding.funding();
        Envelope {
            header: header(
                MsgType::Deposit,
                f.gateway.tag(),
                f.sequence,
                current_epoch,
                REQUEST_TTL,
            ),
            message: Message::Deposit(funding),
        }
    }
    /// A QUERY datagram sent during `current_epoch`.
    pub fn query(query: Query, current_epoch: u32) -> Envelope {
        Envelope {
            header: header(
                MsgType::Query,
                query.account_tag(),
                query.request,
                current_epoch,
                REQUEST_TTL,
            ),
            message: Message::Query(query),
        }
    }
    /// A reply (vote, receipt, query reply or error) to `request`, sent during `current_epoch`.
    /// Sender and nonce come from the reply body; `retry` echoes the request's.
    pub fn reply(request: &HeaderRepr, reply: Message, current_epoch: u32) -> Envelope {
        let (sender, nonce) = reply
            .header_sender_nonce()
            .unwrap_or((Tag::default(), request.nonce));
        let mut h = header(reply.msg_type(), sender, nonce, current_epoch, REPLY_TTL);
        h.retry = request.retry;
        Envelope {
            header: h,
            message: reply,
        }
    }
    /// Sets the `retry` count (for retransmissions).
    pub fn with_retry(mut self, retry: u8) -> Envelope {
        self.header.retry = retry;
        self
    }
    /// Total encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.message.body_len()
    }
    /// Appends the datagram to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.message.body_len();
        if len > MAX_BODY_LEN {
            return Err(EncodeError::TooLarge {
                len,
                max: MAX_BODY_LEN,
            });
        }
        let mut h = self.header;
        h.msg_type = self.message.msg_type();
        h.body_len = len as u16;
        out.reserve(HEADER_LEN + len);
        h.emit_to(out);
        self.message.encode_body(out);
        Ok(())
    }
    /// The datagram bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut v)?;
        Ok(v)
    }
    /// Decodes and checks a whole datagram (see the module documentation).
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        if bytes.len() > MAX_DATAGRAM_LEN {
            return Err(DecodeError::Oversized {
                len: bytes.len(),
                max: MAX_DATAGRAM_LEN,
            });
        }
        let view = Header::new_checked(bytes)?;
        let header = HeaderRepr::parse(&view)?;
        let body = view.payload();
        if body.len() != header.body_len as usize {
            return Err(DecodeError::BodyLengthMismatch {
                declared: header.body_len as usize,
                actual: body.len(),
            });
        }
        let message = Message::decode_body(header.msg_type, body)?;
        if let Some((sender, nonce)) = message.header_sender_nonce() {
            if header.sender != sender {
                return Err(DecodeError::HeaderMismatch("sender"));
            }
            if header.nonce != nonce {
                return Err(DecodeError::HeaderMismatch("nonce"));
            }
        }
        match &message {
            Message::Order(o) => {
                if header.epoch != o.order().epoch {
                    return Err(DecodeError::HeaderMismatch("epoch"));
                }
                if header.ttl != o.order().ttl {
                    return Err(DecodeError::HeaderMismatch("ttl"));
                }
            }
            Message::Certificate(c) if header.ttl != c.order.order().ttl => {
                return Err(DecodeError::HeaderMismatch("ttl"));
            }
            Message::Withdrawal(o) => {
                if header.epoch != o.order().epoch {
                    return Err(DecodeError::HeaderMismatch("epoch"));
                }
                if header.ttl != o.order().ttl {
                    return Err(DecodeError::HeaderMismatch("ttl"));
                }
            }
            Message::WithdrawalCertificate(c) if header.ttl != c.order.order().ttl => {
                return Err(DecodeError::HeaderMismatch("ttl"));
            }
            Message::Handoff(o) => {
                if header.epoch != o.order().epoch {
                    return Err(DecodeError::HeaderMismatch("epoch"));
                }
                if header.ttl != o.order().ttl {
                    return Err(DecodeError::HeaderMismatch("ttl"));
                }
            }
            Message::HandoffCertificate(c) if header.ttl != c.order.order().ttl => {
                return Err(DecodeError::HeaderMismatch("ttl"));
            }
            _ => {}
        }
        // HEARTBEAT and SYNC travel opaque, but their body and header are checked all the same.
        if let Some(liveness) = crate::messages::Liveness::from_message(&message) {
            liveness?.check_header(&header)?;
        }
        Ok(Envelope { header, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use crate::messages::{DEFAULT_TOKEN, TransferOrder};

    fn order() -> SignedOrder {
        let k = Keypair::from_seed(&[1; 32]);
        SignedOrder::sign(
            TransferOrder {
                sender: k.public(),
                recipient: Keypair::from_seed(&[2; 32]).public(),
                token: DEFAULT_TOKEN,
                amount: 9,
                nonce: 4,
                epoch: 7,
                ttl: 2,
            },
            &k,
        )
    }

    fn all_messages() -> Vec<Envelope> {
        let o = order();
        let a = Keypair::from_seed(&[3; 32]);
        let vote = Vote::sign(o.digest(), 4, &a);
        let cert = Certificate::new(o, [&vote]);
        let req = Envelope::order(o).header;
        vec![
            Envelope::order(o),
            Envelope::reply(&req, Message::Vote(vote), 8),
            Envelope::certificate(cert, 9),
            Envelope::reply(
                &req,
                Message::Receipt(Receipt::sign(o.digest(), 4, true, 5, &a)),
                8,
            ),
            Envelope::query(
                Query {
                    account: o.order().sender,
                    request: 11,
                },
                8,
            ),
            Envelope::reply(
                &req,
                Message::QueryReply(QueryReply::sign(
                    11,
                    o.order().sender,
                    4,
                    vec![(0, 5), (3, 9)],
                    Some(o),
                    &a,
                )),
                8,
            ),
            Envelope::reply(
                &req,
                Message::Error(ErrorMessage::from_rejection(
                    &crate::error::Rejection::UnknownAccount,
                    Some(MsgType::Order),
                    4,
                    a.tag(),
                )),
                8,
            ),
            Envelope::new(
                HeaderRepr {
                    msg_type: MsgType::Probe,
                    retry: 0,
                    flags: 1,
                    epoch: 1,
                    sender: a.tag(),
                    nonce: 3,
                    ttl: 0,
                    hop_limit: 1,
                    body_len: 0,
                },
                Message::Opaque {
                    msg_type: MsgType::Probe,
                    body: vec![1, 2, 3],
                },
            ),
        ]
    }

    #[test]
    fn every_type_roundtrips_bit_exact() {
        for env in all_messages() {
            let bytes = env.encode().unwrap();
            let back = Envelope::decode(&bytes).unwrap();
            assert_eq!(back.message, env.message);
            assert_eq!(back.header.msg_type, env.message.msg_type());
            assert_eq!(back.header.body_len as usize, bytes.len() - HEADER_LEN);
            assert_eq!(back.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn order_header_comes_from_body() {
        let o = order();
        let h = Envelope::order(o).header;
        assert_eq!(h.sender, o.order().sender.tag());
        assert_eq!((h.nonce, h.epoch, h.ttl), (4, 7, 2));
        let c = Envelope::certificate(Certificate::new(o, []), 99).header;
        assert_eq!((c.nonce, c.epoch, c.ttl), (4, 99, 2));
    }

    #[test]
    fn typed_decode_errors() {
        let good = Envelope::order(order()).encode().unwrap();
        assert!(matches!(
            Envelope::decode(&good[..20]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            Envelope::decode(&vec![0; MAX_DATAGRAM_LEN + 1]),
            Err(DecodeError::Oversized { .. })
        ));
        let mut b = good.clone();
        b[0] = 9;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::BadVersion(9)));
        let mut b = good.clone();
        b[1] = 0;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::UnknownMsgType(0)));
        let mut b = good.clone();
        b.push(0);
        assert!(matches!(
            Envelope::decode(&b),
            Err(DecodeError::BodyLengthMismatch { .. })
        ));
        // Body length raised to cover an extra byte: the body then has trailing bytes.
        let n = b.len() - HEADER_LEN;
        b[26..28].copy_from_slice(&(n as u16).to_be_bytes());
        assert_eq!(Envelope::decode(&b), Err(DecodeError::TrailingBytes(1)));
        let mut b = good.clone();
        b[16] ^= 1;
        assert_eq!(
            Envelope::decode(&b),
            Err(DecodeError::HeaderMismatch("nonce"))
        );
        let mut b = good.clone();
        b[4] ^= 1;
        assert_eq!(
            Envelope::decode(&b),
            Err(DecodeError::HeaderMismatch("epoch"))
        );
        let mut b = good.clone();
        b[24] ^= 1;
        assert_eq!(
            Envelope::decode(&b),
            Err(DecodeError::HeaderMismatch("ttl"))
        );
    }

    #[test]
    fn oversized_encode_is_refused() {
        let env = Envelope::new(
            Envelope::order(order()).header,
            Message::Opaque {
                msg_type: MsgType::PaymentData,
                body: vec![0; MAX_BODY_LEN + 1],
            },
        );
        assert!(matches!(env.encode(), Err(EncodeError::TooLarge { .. })));
    }

    #[test]
    fn single_byte_flips_never_panic() {
        for env in all_messages() {
            let bytes = env.encode().unwrap();
            for i in 0..bytes.len() {
                for bit in [0x01u8, 0x80] {
                    let mut b = bytes.clone();
                    b[i] ^= bit;
                    let _ = Envelope::decode(&b);
                }
                let _ = Envelope::decode(&bytes[..i]);
            }
        }
    }
}
