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

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::messages::ErrorMessage;
use flashmesh_core::wire::{HeaderRepr, MAX_DATAGRAM_LEN};
use flashmesh_core::{Committee, Keypair, Rejection};
use tokio::net::UdpSocket;

use crate::metrics::{Metrics, inc};
use crate::settle;
use crate::worker::LedgerHandle;

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
        let env = match Envelope::decode(bytes) {
            Ok(e) => e,
            Err(e) => {
                inc(&self.metrics.malformed);
                self.metrics.refuse(e.code());
                return None;
            }
        };
        let header = env.header;
        let certificate = match env.message {
            Message::WithdrawalCertificate(c) => c,
            other if other.msg_type().is_reply() => return None,
            other => {
                let r = Rejection::NotServed(other.msg_type());
                return Some(self.error(&header, r.code(), r.to_string()));
            }
        };
        let row = match settle::withdrawal_of(&certificate, &self.committee) {
            Ok(w) => w,
            Err(r) => return Some(self.error(&header, r.code(), r.to_string())),
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
