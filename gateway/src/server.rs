//! The gateway's UDP service: WITHDRAWAL_CERTIFICATE in, SETTLEMENT (or ERROR) out.
//!
//! Each certificate is checked against the committee (a quorum of valid votes on a valid,
//! owner-signed withdrawal order), then settled on the primary ledger exactly once, keyed by the
//! withdrawal order's digest; a repeat (a lost reply, a replay, a second certificate of the
//! same order) gets the first settlement back. The reply leaves only after the ledger
//! committed, so a settlement a wallet holds is durable. Nothing a peer sends panics the
//! server: every refusal is typed and counted; replies are never answered.

use std::net::SocketAddr;
use std::sync::Arc;

use flashmesh_core::DecodeError;
use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::messages::{ErrorMessage, WithdrawalCertificate};
use flashmesh_core::wire::{HeaderRepr, MAX_DATAGRAM_LEN};
use flashmesh_core::{Committee, Keypair, Rejection};
use tokio::net::UdpSocket;

use crate::metrics::{Metrics, inc};
use crate::worker::LedgerHandle;
use crate::{ledger, settle};

/// What the gateway does with one datagram, decided without the ledger or the socket.
#[derive(Debug)]
pub enum Triage {
    /// Not a well-formed datagram: dropped, counted, not answered.
    Malformed(DecodeError),
    /// A reply (some peer's answer): never answered.
    Reply,
    /// Refused with a typed error reply: not a withdrawal certificate, or not a quorum's.
    Refuse(HeaderRepr, Rejection),
    /// A withdrawal certificate that checks under the committee: settle `row`.
    Settle {
        header: HeaderRepr,
        certificate: Box<WithdrawalCertificate>,
        row: ledger::Withdrawal,
    },
}

/// Decodes `bytes` and checks what it carries against `committee`.
pub fn triage(bytes: &[u8], committee: &Committee) -> Triage {
    let env = match Envelope::decode(bytes) {
        Ok(e) => e,
        Err(e) => return Triage::Malformed(e),
    };
    let header = env.header;
    let certificate = match env.message {
        Message::WithdrawalCertificate(c) => c,
        other if other.msg_type().is_reply() => return Triage::Reply,
        other => return Triage::Refuse(header, Rejection::NotServed(other.msg_type())),
    };
    match settle::withdrawal_of(&certificate, committee) {
        Ok(row) => Triage::Settle {
            header,
            certificate: Box::new(certificate),
            row,
        },
        Err(r) => Triage::Refuse(header, r),
    }
}

/// What the server needs.
#[derive(Clone)]
pub struct Service {
    pub key: Arc<Keypair>,
    pub committee: Arc<Committee>,
    pub ledger: LedgerHandle,
    pub metrics: Arc<Metrics>,
    pub epoch: u32,
}

impl Service {
    fn error(&self, header: &HeaderRepr, code: ErrorCode, detail: String) -> Envelope {
        self.metrics.refuse(code);
        let msg = ErrorMessage {
            code,
            request_type: header.msg_type.to_u8(),
            nonce: header.nonce,
            authority: self.key.tag(),
            detail,
        };
        Envelope::reply(header, Message::Error(msg), self.epoch)
    }

    /// Handles one datagram; the reply to send back, if any.
    pub async fn handle(&self, bytes: &[u8]) -> Option<Envelope> {
        inc(&self.metrics.datagrams);
        let (header, certificate, row) = match triage(bytes, &self.committee) {
            Triage::Malformed(e) => {
                inc(&self.metrics.malformed);
                self.metrics.refuse(e.code());
                return None;
            }
            Triage::Reply => return None,
            Triage::Refuse(header, r) => return Some(self.error(&header, r.code(), r.to_string())),
            Triage::Settle {
                header,
                certificate,
                row,
            } => (header, certificate, row),
        };
        let now = flashmesh_core::host::clock::unix_millis();
        match self.ledger.settle(row, now).await {
            Ok(settled) => {
                inc(if settled.first {
                    &self.metrics.settled_first
                } else {
                    &self.metrics.settled_repeat
                });
                let s = settle::settlement_of(&certificate, &settled, &self.key);
                Some(Envelope::reply(&header, Message::Settlement(s), self.epoch))
            }
            Err(e) => {
                inc(&self.metrics.ledger_failures);
                tracing::warn!(error = %e, nonce = header.nonce, "settlement failed");
                Some(self.error(&header, ErrorCode::Internal, format!("ledger: {e}")))
            }
        }
    }

    /// Serves `socket` until the task is dropped. Each datagram is handled on its own task so a
    /// slow ledger call does not hold up the socket; the ledger thread keeps them in order.
    pub async fn serve(self, socket: Arc<UdpSocket>) {
        let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
        loop {
            let (n, from): (usize, SocketAddr) = match socket.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "receive failed");
                    continue;
                }
            };
            let bytes = buf[..n].to_vec();
            let this = self.clone();
            let socket = socket.clone();
            tokio::spawn(async move {
                if let Some(reply) = this.handle(&bytes).await
                    && let Ok(b) = reply.encode()
                    && let Err(e) = socket.send_to(&b, from).await
                {
                    tracing::debug!(%from, error = %e, "reply not sent");
                }
            });
        }
    }
}
