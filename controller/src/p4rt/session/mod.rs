//! One P4Runtime session to one device: the gRPC channel (connected with retry and backoff), the
//! StreamChannel with arbitration (primary or backup, re-claimed after every reconnect), pipeline
//! push with cookie reconciliation, name-based writes with per-update errors, wildcard reads,
//! packet-out, packet-in and digests.
//!
//! This module holds the session's types and its state; the RPCs are by topic: `connect`
//! (channel with retry and backoff), `stream` (StreamChannel: arbitration, packet-in,
//! packet-out, digests), `push` (pipeline push with cookie reconciliation), `write` and `read`.

mod connect;
mod push;
mod read;
mod stream;
mod write;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use flashmesh_proto::p4::v1::{self as p4, p4_runtime_client::P4RuntimeClient};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tonic::transport::Channel;

use super::error::P4rtError;
use super::p4info::P4InfoIndex;

/// Retry schedule for connecting and reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// First wait, milliseconds.
    pub initial_ms: u64,
    /// Longest wait, milliseconds.
    pub max_ms: u64,
    /// Attempts before the first connect gives up (reconnects never give up).
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 20,
            max_ms: 1000,
            attempts: 30,
        }
    }
}

impl Backoff {
    /// The wait before attempt `n` (0-based): doubling from `initial_ms`, capped at `max_ms`.
    pub fn delay(&self, n: u32) -> Duration {
        let ms = self
            .initial_ms
            .saturating_mul(1u64 << n.min(20))
            .min(self.max_ms.max(self.initial_ms));
        Duration::from_millis(ms)
    }
}

/// How to reach and identify with one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// gRPC address, `host:port` or `http://host:port`.
    pub addr: String,
    /// P4Runtime device id.
    #[serde(default)]
    pub device_id: u64,
    /// Election id, low 64 bits (higher wins).
    pub election_id: u64,
    /// Election id, high 64 bits.
    #[serde(default)]
    pub election_id_high: u64,
    /// Role name; empty is the default role.
    #[serde(default)]
    pub role: String,
    /// Connect retry schedule.
    #[serde(default)]
    pub backoff: Backoff,
}

/// This client's standing with the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mastership {
    /// No arbitration answer yet (connecting or reconnecting).
    Connecting,
    /// This client is the primary: its writes are accepted.
    Primary,
    /// Another client holds a higher election id.
    Backup,
}

/// A packet punted to the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// The frame.
    pub payload: Vec<u8>,
    /// `packet_in` metadata by name (values as integers).
    pub metadata: Vec<(String, u128)>,
}

impl PacketIn {
    /// A metadata value by name.
    pub fn get(&self, name: &str) -> Option<u128> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// A digest list from the switch (already acknowledged).
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Digest name from P4Info ("" if unknown).
    pub name: String,
    /// Digest id.
    pub digest_id: u32,
    /// List id.
    pub list_id: u64,
    /// The learned data.
    pub data: Vec<p4::P4Data>,
}

/// The result of a pipeline push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The switch already ran this pipeline (same cookie): nothing was sent.
    AlreadyInstalled,
    /// The pipeline was pushed.
    Pushed,
}

struct Inner {
    cfg: SessionConfig,
    client: P4RuntimeClient<Channel>,
    out_tx: mpsc::Sender<p4::StreamMessageRequest>,
    mastership: watch::Receiver<Mastership>,
    packet_in: broadcast::Sender<PacketIn>,
    digests: broadcast::Sender<Digest>,
    index: Arc<RwLock<Option<Arc<P4InfoIndex>>>>,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A P4Runtime session to one device. Cheap to clone; the stream closes when the last clone
/// is dropped or [`Session::close`] is called.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("addr", &self.inner.cfg.addr)
            .field("device_id", &self.inner.cfg.device_id)
            .field("mastership", &*self.inner.mastership.borrow())
            .finish()
    }
}

fn election(cfg: &SessionConfig) -> p4::Uint128 {
    p4::Uint128 {
        high: cfg.election_id_high,
        low: cfg.election_id,
    }
}

/// How long a Write or a Read may take before it is abandoned with DEADLINE_EXCEEDED (a
/// switch that stopped answering must not stall its controller for ever).
pub const RPC_DEADLINE: Duration = Duration::from_secs(10);

/// How long a pipeline push may take (a real switch compiles and loads it).
pub const PIPELINE_DEADLINE: Duration = Duration::from_secs(60);

/// The error of an RPC abandoned at its deadline.
fn deadline_error(op: &'static str) -> P4rtError {
    P4rtError::Rpc {
        op,
        code: tonic::Code::DeadlineExceeded,
        message: "no answer within the deadline".into(),
    }
}

impl Session {
    /// Closes the stream: the switch then elects another primary. The session is finished; its
    /// last known mastership is left as it was (the switch no longer honours it).
    pub fn close(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    /// The session's configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.cfg
    }

    /// The current mastership.
    pub fn mastership(&self) -> Mastership {
        *self.inner.mastership.borrow()
    }

    /// A receiver of mastership changes.
    pub fn watch_mastership(&self) -> watch::Receiver<Mastership> {
        self.inner.mastership.clone()
    }

    /// Waits until an arbitration answer arrived (or the timeout passed); returns the mastership.
    pub async fn wait_arbitrated(&self, timeout: Duration) -> Mastership {
        let mut rx = self.inner.mastership.clone();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|m| *m != Mastership::Connecting)).await;
        self.mastership()
    }

    /// Waits until this client is primary (or the timeout passed); true if it is.
    pub async fn wait_primary(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.mastership.clone();
        tokio::time::timeout(timeout, rx.wait_for(|m| *m == Mastership::Primary))
            .await
            .is_ok()
    }

    /// The P4Info index in use, if a pipeline is known.
    pub fn index(&self) -> Result<Arc<P4InfoIndex>, P4rtError> {
        self.inner
            .index
            .read()
            .expect("index lock")
            .clone()
            .ok_or(P4rtError::NoPipeline)
    }

    /// Uses `p4info` for names without pushing anything.
    pub fn set_p4info(&self, p4info: &flashmesh_proto::p4::config::v1::P4Info) {
        *self.inner.index.write().expect("index lock") = Some(Arc::new(P4InfoIndex::new(p4info)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            initial_ms: 10,
            max_ms: 100,
            attempts: 5,
        };
        assert_eq!(b.delay(0), Duration::from_millis(10));
        assert_eq!(b.delay(2), Duration::from_millis(40));
        assert_eq!(b.delay(10), Duration::from_millis(100));
        assert_eq!(b.delay(63), Duration::from_millis(100));
    }
}
