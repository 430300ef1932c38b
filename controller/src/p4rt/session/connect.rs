//! Connecting: the gRPC endpoint, the channel connected with retry and backoff, and the
//! session's start (stream task spawned, arbitration awaited).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use flashmesh_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use tokio::sync::{broadcast, mpsc, watch};
use tonic::transport::{Channel, Endpoint};
use tracing::debug;

use super::stream::StreamTask;
use super::{Inner, Mastership, P4rtError, Session, SessionConfig};

/// Largest response headers (trailers included) the client reads.
const MAX_HEADER_LIST_BYTES: u32 = 16 << 20;
/// Largest HTTP/2 frame the client accepts (the protocol's maximum is 2^24 - 1).
const MAX_FRAME_BYTES: u32 = 1 << 20;

fn endpoint(addr: &str) -> Result<Endpoint, P4rtError> {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(url)
        .map(|e| {
            e.connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(5))
                // A refused batch write answers with one error per update in its trailers
                // (`grpc-status-details-bin`): for thousands of updates those headers are
                // larger than the defaults let a client read.
                .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
                .max_frame_size(MAX_FRAME_BYTES)
        })
        .map_err(|e| P4rtError::Connect {
            addr: addr.into(),
            message: e.to_string(),
        })
}

/// Connects a channel, retrying with backoff.
async fn connect_channel(cfg: &SessionConfig) -> Result<Channel, P4rtError> {
    let ep = endpoint(&cfg.addr)?;
    let mut last = String::new();
    for n in 0..cfg.backoff.attempts.max(1) {
        match ep.connect().await {
            Ok(c) => return Ok(c),
            Err(e) => {
                last = format!("{e}: {:?}", std::error::Error::source(&e));
                debug!(addr = %cfg.addr, attempt = n, "connect failed: {last}");
                tokio::time::sleep(cfg.backoff.delay(n)).await;
            }
        }
    }
    Err(P4rtError::Connect {
        addr: cfg.addr.clone(),
        message: last,
    })
}

impl Session {
    /// Connects (retrying with backoff), opens the stream and sends the arbitration update. Waits
    /// up to `arbitration_timeout` for the answer; see [`Session::mastership`].
    pub async fn connect(cfg: SessionConfig) -> Result<Self, P4rtError> {
        let channel = connect_channel(&cfg).await?;
        let client = P4RuntimeClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let (out_tx, out_rx) = mpsc::channel(4096);
        let (m_tx, m_rx) = watch::channel(Mastership::Connecting);
        let (pin_tx, _) = broadcast::channel(4096);
        let (dg_tx, _) = broadcast::channel(1024);
        let (sd_tx, sd_rx) = watch::channel(false);
        let index = Arc::new(RwLock::new(None));
        let task = StreamTask {
            cfg: cfg.clone(),
            client: client.clone(),
            out_rx,
            mastership: m_tx,
            packet_in: pin_tx.clone(),
            digests: dg_tx.clone(),
            index: index.clone(),
            shutdown: sd_rx,
        };
        tokio::spawn(task.run());
        let s = Session {
            inner: Arc::new(Inner {
                cfg,
                client,
                out_tx,
                mastership: m_rx,
                packet_in: pin_tx,
                digests: dg_tx,
                index,
                shutdown: sd_tx,
            }),
        };
        s.wait_arbitrated(Duration::from_secs(5)).await;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p4rt::session::Backoff;

    #[tokio::test]
    async fn connect_gives_up_with_a_typed_error() {
        // a port nobody listens on (bound then closed)
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let cfg = SessionConfig {
            addr: addr.to_string(),
            device_id: 0,
            election_id: 1,
            election_id_high: 0,
            role: String::new(),
            backoff: Backoff {
                initial_ms: 1,
                max_ms: 2,
                attempts: 3,
            },
        };
        let e = Session::connect(cfg).await.unwrap_err();
        assert!(matches!(e, P4rtError::Connect { .. }), "{e}");
    }
}
