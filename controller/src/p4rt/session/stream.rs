//! The StreamChannel: arbitration (primary or backup, re-claimed after every reconnect),
//! packet-ins decoded by name, digest lists acknowledged, and packet-outs sent on it.

use std::sync::{Arc, RwLock};

use flashmesh_proto::p4::v1::{self as p4, p4_runtime_client::P4RuntimeClient};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use super::{
    Digest, Mastership, P4InfoIndex, P4rtError, PacketIn, Session, SessionConfig, election,
};
use crate::p4rt::p4info::P4InfoNames;

fn arbitration(cfg: &SessionConfig) -> p4::StreamMessageRequest {
    p4::StreamMessageRequest {
        update: Some(p4::stream_message_request::Update::Arbitration(
            p4::MasterArbitrationUpdate {
                device_id: cfg.device_id,
                role: (!cfg.role.is_empty()).then(|| p4::Role {
                    name: cfg.role.clone(),
                    ..Default::default()
                }),
                election_id: Some(election(cfg)),
                status: None,
            },
        )),
    }
}

pub(super) struct StreamTask {
    pub(super) cfg: SessionConfig,
    pub(super) client: P4RuntimeClient<Channel>,
    pub(super) out_rx: mpsc::Receiver<p4::StreamMessageRequest>,
    pub(super) mastership: watch::Sender<Mastership>,
    pub(super) packet_in: broadcast::Sender<PacketIn>,
    pub(super) digests: broadcast::Sender<Digest>,
    pub(super) index: Arc<RwLock<Option<Arc<P4InfoIndex>>>>,
    pub(super) shutdown: watch::Receiver<bool>,
}

impl StreamTask {
    pub(super) async fn run(mut self) {
        let mut attempt = 0u32;
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let (tx, rx) = mpsc::channel(1024);
            let _ = tx.send(arbitration(&self.cfg)).await;
            let opened = tokio::select! {
                r = self.client.stream_channel(ReceiverStream::new(rx)) => r,
                _ = self.shutdown.changed() => return,
            };
            let mut inbound = match opened {
                Ok(r) => r.into_inner(),
                Err(e) => {
                    debug!(addr = %self.cfg.addr, "stream channel failed: {e}");
                    let _ = self.mastership.send(Mastership::Connecting);
                    let d = self.cfg.backoff.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        _ = tokio::time::sleep(d) => continue,
                        _ = self.shutdown.changed() => return,
                    }
                }
            };
            attempt = 0;
            loop {
                tokio::select! {
                    m = self.out_rx.recv() => match m {
                        Some(m) => { if tx.send(m).await.is_err() { break; } }
                        None => return,
                    },
                    r = inbound.message() => match r {
                        Ok(Some(msg)) => self.handle(msg, &tx).await,
                        Ok(None) => { info!(addr = %self.cfg.addr, "stream closed by the switch"); break; }
                        Err(e) => { info!(addr = %self.cfg.addr, "stream error: {e}"); break; }
                    },
                    _ = self.shutdown.changed() => return,
                }
            }
            let _ = self.mastership.send(Mastership::Connecting);
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.backoff.delay(0)) => {},
                _ = self.shutdown.changed() => return,
            }
        }
    }

    async fn handle(
        &mut self,
        msg: p4::StreamMessageResponse,
        tx: &mpsc::Sender<p4::StreamMessageRequest>,
    ) {
        use p4::stream_message_response::Update as U;
        match msg.update {
            Some(U::Arbitration(a)) => {
                let code = a.status.as_ref().map(|s| s.code).unwrap_or(0);
                let m = if code == 0 {
                    Mastership::Primary
                } else {
                    Mastership::Backup
                };
                if code == tonic::Code::NotFound as i32 {
                    // no primary at all: claim again
                    let _ = tx.send(arbitration(&self.cfg)).await;
                }
                if *self.mastership.borrow() != m {
                    info!(addr = %self.cfg.addr, election_id = self.cfg.election_id, "mastership: {m:?}");
                }
                let _ = self.mastership.send(m);
            }
            Some(U::Packet(p)) => {
                let ix = self.index.read().expect("index lock").clone();
                let metadata = match ix {
                    Some(ix) => ix
                        .decode_metadata("packet_in", &p.metadata)
                        .unwrap_or_else(|e| {
                            warn!("packet-in metadata: {e}");
                            Vec::new()
                        }),
                    None => p
                        .metadata
                        .iter()
                        .map(|m| {
                            (
                                m.metadata_id.to_string(),
                                crate::p4rt::bytes::to_u128(&m.value).unwrap_or(0),
                            )
                        })
                        .collect(),
                };
                let _ = self.packet_in.send(PacketIn {
                    payload: p.payload,
                    metadata,
                });
            }
            Some(U::Digest(d)) => {
                let ack = p4::StreamMessageRequest {
                    update: Some(p4::stream_message_request::Update::DigestAck(
                        p4::DigestListAck {
                            digest_id: d.digest_id,
                            list_id: d.list_id,
                        },
                    )),
                };
                let _ = tx.send(ack).await;
                let name = self
                    .index
                    .read()
                    .expect("index lock")
                    .as_ref()
                    .and_then(|ix| ix.digest_name(d.digest_id).map(str::to_string))
                    .unwrap_or_default();
                let _ = self.digests.send(Digest {
                    name,
                    digest_id: d.digest_id,
                    list_id: d.list_id,
                    data: d.data,
                });
            }
            Some(U::Error(e)) => {
                warn!(addr = %self.cfg.addr, "stream error from switch: {} {}", e.canonical_code, e.message)
            }
            _ => {}
        }
    }
}

impl Session {
    /// Sends a frame out of the switch with `packet_out` metadata given by name.
    pub async fn packet_out(
        &self,
        payload: Vec<u8>,
        metadata: &[(&str, u128)],
    ) -> Result<(), P4rtError> {
        let ix = self.index()?;
        let md = ix.build_metadata("packet_out", metadata)?;
        let msg = p4::StreamMessageRequest {
            update: Some(p4::stream_message_request::Update::Packet(p4::PacketOut {
                payload,
                metadata: md,
            })),
        };
        self.inner
            .out_tx
            .send(msg)
            .await
            .map_err(|_| P4rtError::StreamClosed)
    }

    /// A receiver of packet-ins (each subscriber sees every packet from now on).
    pub fn packet_ins(&self) -> broadcast::Receiver<PacketIn> {
        self.inner.packet_in.subscribe()
    }

    /// A receiver of digest lists (acknowledged by the session).
    pub fn digests(&self) -> broadcast::Receiver<Digest> {
        self.inner.digests.subscribe()
    }
}
