//! Datagram entry point: bytes in, reply envelope and change to persist out.
//!
//! Reply policy: no reply to anything shorter than a header or over the size limit, and never a
//! reply to a reply type (VOTE, RECEIPT, QUERY_REPLY, ERROR), so two nodes can never bounce
//! errors at each other. Everything else that is refused gets an ERROR with its code.

use crate::codec::DecodeError;
use crate::envelope::{Envelope, Message};
use crate::error::Rejection;
use crate::messages::ErrorMessage;
use crate::wire::{HEADER_LEN, HeaderRepr, MsgType, field};

use super::{Authority, SignatureCheck, StateChange, VerifyDirectly};

/// What handling one datagram did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The request's type, when the header could be read.
    pub request_type: Option<MsgType>,
    /// Ok, or why the request was refused (for metrics: `rejection.code().name()`).
    pub result: Result<(), Rejection>,
    /// The reply to send back to the datagram's source, if any.
    pub reply: Option<Envelope>,
    /// Make this durable before sending `reply`.
    pub persist: Option<StateChange>,
}

/// A best-effort header for a datagram whose header did not fully check, so an ERROR can echo
/// its type and nonce.
fn loose_header(bytes: &[u8]) -> Option<HeaderRepr> {
    if bytes.len() < HEADER_LEN {
        return None;
    }
    let nonce = u64::from_be_bytes(bytes[field::NONCE].try_into().ok()?);
    Some(HeaderRepr {
        msg_type: MsgType::from_u8(bytes[field::MSG_TYPE]).unwrap_or(MsgType::Order),
        retry: bytes[field::RETRY],
        flags: 0,
        epoch: 0,
        sender: Default::default(),
        nonce,
        ttl: 0,
        hop_limit: 0,
        body_len: 0,
    })
}

impl Authority {
    /// Decodes and handles one datagram received during `current_epoch`.
    pub fn handle_datagram(&mut self, bytes: &[u8], current_epoch: u32) -> Handled {
        self.handle_datagram_with(bytes, current_epoch, &mut VerifyDirectly)
    }

    /// [`Authority::handle_datagram`], with signatures checked by `check`.
    pub fn handle_datagram_with(
        &mut self,
        bytes: &[u8],
        current_epoch: u32,
        check: &mut dyn SignatureCheck,
    ) -> Handled {
        match Envelope::decode(bytes) {
            Ok(env) => self.handle_envelope_with(env, current_epoch, check),
            Err(e) => {
                let known = bytes
                    .get(field::MSG_TYPE)
                    .and_then(|&t| MsgType::from_u8(t));
                let no_reply = bytes.len() < HEADER_LEN
                    || matches!(e, DecodeError::Oversized { .. })
                    || known.is_some_and(MsgType::is_reply);
                let rejection = Rejection::Malformed(e);
                let reply = if no_reply {
                    None
                } else {
                    loose_header(bytes)
                        .map(|h| self.error_reply(&h, known, &rejection, current_epoch))
                };
                Handled {
                    request_type: known,
                    result: Err(rejection),
                    reply,
                    persist: None,
                }
            }
        }
    }

    fn error_reply(
        &self,
        request: &HeaderRepr,
        request_type: Option<MsgType>,
        rejection: &Rejection,
        current_epoch: u32,
    ) -> Envelope {
        let msg = ErrorMessage::from_rejection(rejection, request_type, request.nonce, self.tag());
        Envelope::reply(request, Message::Error(msg), current_epoch)
    }

    /// Handles one decoded envelope received during `current_epoch`.
    pub fn handle_envelope(&mut self, env: Envelope, current_epoch: u32) -> Handled {
        self.handle_envelope_with(env, current_epoch, &mut VerifyDirectly)
    }

    /// [`Authority::handle_envelope`], with signatures checked by `check`.
    pub fn handle_envelope_with(
        &mut self,
        env: Envelope,
        current_epoch: u32,
        check: &mut dyn SignatureCheck,
    ) -> Handled {
        let header = env.header;
        let request_type = Some(header.msg_type);
        let reply_with = |this: &Self, r: Result<(Message, Option<StateChange>), Rejection>| match r
        {
            Ok((m, persist)) => Handled {
                request_type,
                result: Ok(()),
                reply: Some(Envelope::reply(&header, m, current_epoch)),
                persist,
            },
            Err(rej) => Handled {
                request_type,
                reply: Some(this.error_reply(&header, request_type, &rej, current_epoch)),
                result: Err(rej),
                persist: None,
            },
        };
        match env.message {
            Message::Order(order) => {
                let r = self
                    .handle_order_with(order, current_epoch, check)
                    .map(|o| (Message::Vote(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::Certificate(cert) => {
                let r = self
                    .handle_certificate_with(cert, check)
                    .map(|o| (Message::Receipt(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::Withdrawal(order) => {
                let r = self
                    .handle_withdrawal_with(order, current_epoch, check)
                    .map(|o| (Message::Vote(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::WithdrawalCertificate(cert) => {
                let r = self
                    .handle_withdrawal_certificate_with(cert, check)
                    .map(|o| (Message::Receipt(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::Handoff(order) => {
                let r = self
                    .handle_handoff_with(order, current_epoch, check)
                    .map(|o| (Message::Vote(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::HandoffCertificate(cert) => {
                let r = self
                    .handle_handoff_certificate_with(cert, check)
                    .map(|o| (Message::Receipt(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::Deposit(funding) => {
                let r = self
                    .handle_funding_with(funding, check)
                    .map(|o| (Message::Receipt(o.reply), o.persist));
                reply_with(self, r)
            }
            Message::Query(q) => {
                let r = Ok((Message::QueryReply(self.handle_query(&q)), None));
                reply_with(self, r)
            }
            Message::Opaque { msg_type, .. } => {
                reply_with(self, Err(Rejection::NotServed(msg_type)))
            }
            Message::Vote(_)
            | Message::Receipt(_)
            | Message::QueryReply(_)
            | Message::Error(_)
            | Message::Settlement(_) => Handled {
                request_type,
                result: Err(Rejection::NotServed(header.msg_type)),
                reply: None,
                persist: None,
            },
        }
    }
}
