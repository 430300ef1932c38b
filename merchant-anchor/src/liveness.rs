//! Liveness at the anchor's edge: signs and sends a heartbeat to every committee peer each
//! interval, takes in the peers' heartbeats and sync requests (decoded, verified, fed to the
//! pure [`PeerView`]), and sends catching-up peers the certificates they missed, in apply
//! order, at most `sync_batch` per peer per interval, as ordinary CERTIFICATE datagrams.
//!
//! Bad heartbeats and sync requests (malformed, unknown sender, bad signature, replayed
//! counter, epoch outside the window) are refused with a [`LivenessError`] and counted by
//! reason; none is ever answered, so two anchors can never bounce errors at each other.
//!
//! [`LivenessState::sees_quorum`] is the question other parts ask ("can this anchor see a
//! quorum of its committee right now?"), e.g. before accepting a withdrawal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashmesh_core::host::prometheus::{Kind, help_and_type, sample};
use flashmesh_core::messages::{Heartbeat, Liveness, LivenessError, SyncRequest};
use flashmesh_core::wire::MsgType;
use flashmesh_core::{Committee, Envelope, Keypair, MAX_DATAGRAM_LEN};
use flashmesh_transport::Transport;
use parking_lot::Mutex;

use crate::applied::AppliedLog;
use crate::config::LivenessConfig;
use crate::metrics::{get, inc};
use crate::peers::{PeerStatus, PeerView, ViewLimits};

/// Counters of the liveness edge.
#[derive(Debug)]
pub struct LivenessMetrics {
    /// Heartbeats sent (one per peer per interval).
    pub heartbeats_sent: AtomicU64,
    /// Heartbeats accepted.
    pub heartbeats_received: AtomicU64,
    /// Heartbeats and sync requests refused, by [`LivenessError::index`].
    refused: [AtomicU64; LivenessError::NAMES.len()],
    /// Sync requests sent.
    pub sync_requests_sent: AtomicU64,
    /// Sync requests accepted.
    pub sync_requests_received: AtomicU64,
    /// Certificates sent to catching-up peers.
    pub sync_certificates_sent: AtomicU64,
    /// Certificates a peer needed that were no longer in the recent ring.
    pub sync_unavailable: AtomicU64,
    /// Receipts that came back from peers (for certificates sent them).
    pub peer_receipts: AtomicU64,
    /// Errors that came back from peers.
    pub peer_errors: AtomicU64,
}

impl Default for LivenessMetrics {
    fn default() -> Self {
        Self {
            heartbeats_sent: AtomicU64::new(0),
            heartbeats_received: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
            sync_requests_sent: AtomicU64::new(0),
            sync_requests_received: AtomicU64::new(0),
            sync_certificates_sent: AtomicU64::new(0),
            sync_unavailable: AtomicU64::new(0),
            peer_receipts: AtomicU64::new(0),
            peer_errors: AtomicU64::new(0),
        }
    }
}

impl LivenessMetrics {
    /// Heartbeats and sync requests refused for `reason` (a [`LivenessError::NAMES`] entry).
    pub fn refused(&self, reason: &str) -> u64 {
        LivenessError::NAMES
            .iter()
            .position(|n| *n == reason)
            .map_or(0, |i| get(&self.refused[i]))
    }
}

/// The anchor's liveness state: its peer view, applied log and counters.
#[derive(Debug)]
pub struct LivenessState {
    key: Keypair,
    committee: Arc<Committee>,
    config: LivenessConfig,
    started: Instant,
    view: Mutex<PeerView>,
    applied: Arc<AppliedLog>,
    counter: AtomicU64,
    /// The counters.
    pub metrics: LivenessMetrics,
}

impl LivenessState {
    /// The state of authority `key` in `committee`, having applied what `applied` holds.
    pub fn new(
        key: Keypair,
        committee: Arc<Committee>,
        config: LivenessConfig,
        applied: Arc<AppliedLog>,
    ) -> LivenessState {
        let limits = ViewLimits {
            timeout_ms: config.peer_timeout_ms,
            batch: u64::from(config.sync_batch),
        };
        let view = PeerView::new(&committee, key.tag(), limits);
        LivenessState {
            key,
            committee,
            config,
            started: Instant::now(),
            view: Mutex::new(view),
            applied,
            // grows across restarts: a restart begins far above any count a run could reach
            counter: AtomicU64::new(
                flashmesh_core::host::clock::unix_millis().saturating_mul(1000),
            ),
            metrics: LivenessMetrics::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The applied log.
    pub fn applied(&self) -> &Arc<AppliedLog> {
        &self.applied
    }

    /// Whether this anchor and the peers it heard within the timeout reach the committee's
    /// quorum weight, now. Cheap (a short lock, no I/O).
    pub fn sees_quorum(&self) -> bool {
        self.view.lock().sees_quorum(self.now_ms())
    }

    /// Every peer's status, now.
    pub fn peer_status(&self) -> Vec<PeerStatus> {
        self.view.lock().status(self.now_ms())
    }

    /// The `/status` fields: `peers` and `quorum_visible`.
    pub fn status_json(&self) -> serde_json::Value {
        let now = self.now_ms();
        let view = self.view.lock();
        serde_json::json!({
            "peers": view.status(now),
            "quorum_visible": view.sees_quorum(now),
            "visible_weight": view.visible_weight(now),
            "applied": self.applied.applied(),
        })
    }

    fn refuse(&self, e: LivenessError) -> LivenessError {
        inc(&self.metrics.refused[e.index()]);
        tracing::debug!(reason = e.name(), error = %e, "liveness datagram refused");
        e
    }

    /// Takes in one HEARTBEAT or SYNC datagram received during `epoch`. Never answers.
    pub fn handle_datagram(&self, bytes: &[u8], epoch: u32) -> Result<(), LivenessError> {
        let env = Envelope::decode(bytes).map_err(|e| self.refuse(e.into()))?;
        let message = match Liveness::from_message(&env.message) {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(self.refuse(e.into())),
            None => {
                return Err(self.refuse(LivenessError::Malformed(
                    flashmesh_core::DecodeError::InvalidField("not a liveness message"),
                )));
            }
        };
        let me = self.key.tag();
        let result = match message {
            Liveness::Heartbeat(hb) => hb.verify(&self.committee).and_then(|hb| {
                let mine = self.applied.applied();
                let now = self.now_ms();
                let heard = self.view.lock().accept_heartbeat(now, &hb, epoch, mine)?;
                if heard.came_back {
                    tracing::info!(peer = %hb.authority, applied = hb.applied, mine, "peer seen");
                }
                inc(&self.metrics.heartbeats_received);
                Ok(())
            }),
            Liveness::Sync(s) => s.verify(&self.committee, &me).and_then(|s| {
                self.view.lock().accept_sync(&s, epoch)?;
                inc(&self.metrics.sync_requests_received);
                Ok(())
            }),
        };
        result.map_err(|e| self.refuse(e))
    }

    /// One interval's sends through `transport` during `epoch`: a heartbeat to every peer, the
    /// sync requests the view asks for, and each catching-up peer's next batch.
    pub async fn beat(&self, transport: &dyn Transport, epoch: u32) {
        let mine = self.applied.applied();
        let now = self.now_ms();
        let (addrs, pushes, asks) = {
            let mut view = self.view.lock();
            let pushes = view.tick(now, mine);
            let asks = view.take_asks();
            let addrs: Vec<_> = view.peers().iter().map(|p| (p.tag, p.addr)).collect();
            (addrs, pushes, asks)
        };
        let counter = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let hb = Liveness::Heartbeat(Heartbeat::sign(epoch, counter, mine, &self.key));
        let Ok(datagram) = hb.envelope().encode() else {
            return;
        };
        for (_, addr) in &addrs {
            if let Some(addr) = addr
                && transport.send_to(&datagram, *addr).await.is_ok()
            {
                inc(&self.metrics.heartbeats_sent);
            }
        }
        for ask in asks {
            let Some((tag, Some(addr))) = addrs.get(ask.peer).copied() else {
                continue;
            };
            let counter = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
            let limit = u32::try_from(self.config.recent_certificates).unwrap_or(u32::MAX);
            let sync = SyncRequest::sign(tag, epoch, counter, ask.from, limit, &self.key);
            if let Ok(d) = Liveness::Sync(sync).envelope().encode()
                && transport.send_to(&d, addr).await.is_ok()
            {
                inc(&self.metrics.sync_requests_sent);
            }
        }
        for push in pushes {
            let Some((_, Some(addr))) = addrs.get(push.peer).copied() else {
                continue;
            };
            let range = self.applied.range(push.from, push.to);
            self.metrics
                .sync_unavailable
                .fetch_add(range.unavailable, Ordering::Relaxed);
            for cert in range.certificates {
                if let Ok(d) = Envelope::certificate(cert, epoch).encode()
                    && d.len() <= MAX_DATAGRAM_LEN
                    && transport.send_to(&d, addr).await.is_ok()
                {
                    inc(&self.metrics.sync_certificates_sent);
                }
            }
        }
    }

    /// Appends the liveness metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let now = self.now_ms();
        let (peers, quorum) = {
            let view = self.view.lock();
            (view.status(now), view.sees_quorum(now))
        };
        let name = "flashmesh_peer_up";
        help_and_type(
            out,
            name,
            "committee peer heard within the timeout",
            Kind::Gauge,
        );
        for p in &peers {
            sample(out, name, &[("peer", &p.name)], u8::from(p.seen));
        }
        let name = "flashmesh_peer_applied";
        help_and_type(
            out,
            name,
            "certificates a peer reported applied",
            Kind::Gauge,
        );
        for p in &peers {
            sample(out, name, &[("peer", &p.name)], p.applied);
        }
        let name = "flashmesh_quorum_visible";
        help_and_type(
            out,
            name,
            "this anchor and the peers it sees reach a quorum",
            Kind::Gauge,
        );
        sample(out, name, &[], u8::from(quorum));
        let m = &self.metrics;
        let counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "flashmesh_heartbeats_sent_total",
                "heartbeats sent",
                &m.heartbeats_sent,
            ),
            (
                "flashmesh_heartbeats_received_total",
                "heartbeats accepted",
                &m.heartbeats_received,
            ),
            (
                "flashmesh_sync_requests_sent_total",
                "SYNC requests sent",
                &m.sync_requests_sent,
            ),
            (
                "flashmesh_sync_requests_received_total",
                "SYNC requests accepted",
                &m.sync_requests_received,
            ),
            (
                "flashmesh_sync_certificates_sent_total",
                "certificates sent to catching-up peers",
                &m.sync_certificates_sent,
            ),
            (
                "flashmesh_sync_unavailable_total",
                "certificates a peer needed that were no longer kept",
                &m.sync_unavailable,
            ),
            (
                "flashmesh_peer_receipts_total",
                "receipts received from peers",
                &m.peer_receipts,
            ),
            (
                "flashmesh_peer_errors_total",
                "errors received from peers",
                &m.peer_errors,
            ),
        ];
        for (name, help, c) in counters {
            help_and_type(out, name, help, Kind::Counter);
            sample(out, name, &[], get(c));
        }
        let name = "flashmesh_liveness_refused_total";
        help_and_type(
            out,
            name,
            "heartbeats and SYNC requests refused, by reason",
            Kind::Counter,
        );
        for (i, reason) in LivenessError::NAMES.iter().enumerate() {
            sample(out, name, &[("reason", reason)], get(&m.refused[i]));
        }
    }
}

/// Whether a datagram's FMH type is HEARTBEAT or SYNC (it goes to [`LivenessState`], never to
/// the authority, even when it does not decode).
pub fn is_liveness_datagram(bytes: &[u8]) -> bool {
    bytes
        .get(1)
        .copied()
        .and_then(MsgType::from_u8)
        .is_some_and(|t| matches!(t, MsgType::Heartbeat | MsgType::Sync))
}

/// Runs the heartbeat loop on `transport` until the task is aborted.
pub fn start(
    state: Arc<LivenessState>,
    transport: Arc<dyn Transport>,
    epoch: Arc<AtomicU32>,
) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_millis(state.config.heartbeat_interval_ms.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            state
                .beat(transport.as_ref(), epoch.load(Ordering::Relaxed))
                .await;
        }
    })
}
