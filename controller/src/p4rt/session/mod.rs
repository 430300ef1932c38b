//! One P4Runtime session to one device: the gRPC channel (connected with retry and backoff), the
//! StreamChannel with arbitration (primary or backup, re-claimed after every reconnect), pipeline
//! push with cookie reconciliation, name-based writes with per-update errors, wildcard reads,
//! packet-out, packet-in and digests.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use flashmesh_proto::p4::v1::{self as p4, p4_runtime_client::P4RuntimeClient};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, info, warn};

use super::error::{P4rtError, rpc_error, write_error};
use super::p4info::P4InfoIndex;
use super::pipeline::Pipeline;
use super::spec::{EntrySpec, EntryUpdate, UpdateKind};

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

struct StreamTask {
    cfg: SessionConfig,
    client: P4RuntimeClient<Channel>,
    out_rx: mpsc::Receiver<p4::StreamMessageRequest>,
    mastership: watch::Sender<Mastership>,
    packet_in: broadcast::Sender<PacketIn>,
    digests: broadcast::Sender<Digest>,
    index: Arc<RwLock<Option<Arc<P4InfoIndex>>>>,
    shutdown: watch::Receiver<bool>,
}

impl StreamTask {
    async fn run(mut self) {
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
                                super::bytes::to_u128(&m.value).unwrap_or(0),
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

    /// The cookie of the switch's pipeline, or None if it has none.
    pub async fn pipeline_cookie(&self) -> Result<Option<u64>, P4rtError> {
        let req = p4::GetForwardingPipelineConfigRequest {
            device_id: self.inner.cfg.device_id,
            response_type: p4::get_forwarding_pipeline_config_request::ResponseType::CookieOnly
                as i32,
        };
        let mut client = self.inner.client.clone();
        let got = tokio::time::timeout(RPC_DEADLINE, client.get_forwarding_pipeline_config(req))
            .await
            .map_err(|_| deadline_error("GetForwardingPipelineConfig"))?;
        match got {
            Ok(r) => Ok(r
                .into_inner()
                .config
                .and_then(|c| c.cookie)
                .map(|c| c.cookie)),
            Err(s) if s.code() == tonic::Code::FailedPrecondition => Ok(None),
            Err(s) => Err(rpc_error("GetForwardingPipelineConfig", s)),
        }
    }

    /// Reconciles the switch with `pipeline`: asks for the cookie first and pushes only when it
    /// differs. Either way the P4Info becomes this session's index.
    pub async fn ensure_pipeline(&self, pipeline: &Pipeline) -> Result<PushOutcome, P4rtError> {
        let current = self.pipeline_cookie().await?;
        self.set_p4info(&pipeline.p4info);
        if current == Some(pipeline.cookie) {
            info!(addr = %self.inner.cfg.addr, cookie = pipeline.cookie, "pipeline already installed");
            return Ok(PushOutcome::AlreadyInstalled);
        }
        let req = p4::SetForwardingPipelineConfigRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            election_id: Some(election(&self.inner.cfg)),
            action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: Some(pipeline.p4info.clone()),
                p4_device_config: pipeline.device_config.clone(),
                cookie: Some(p4::forwarding_pipeline_config::Cookie {
                    cookie: pipeline.cookie,
                }),
            }),
            ..Default::default()
        };
        let mut client = self.inner.client.clone();
        let set = tokio::time::timeout(
            PIPELINE_DEADLINE,
            client.set_forwarding_pipeline_config(req),
        )
        .await
        .map_err(|_| deadline_error("SetForwardingPipelineConfig"))?;
        match set {
            Ok(_) => {
                info!(addr = %self.inner.cfg.addr, cookie = pipeline.cookie, "pipeline pushed");
                Ok(PushOutcome::Pushed)
            }
            Err(s) if s.code() == tonic::Code::PermissionDenied => Err(P4rtError::NotPrimary {
                device_id: self.inner.cfg.device_id,
                message: s.message().into(),
            }),
            Err(s) => Err(rpc_error("SetForwardingPipelineConfig", s)),
        }
    }

    /// Sends raw updates in one batch (CONTINUE_ON_ERROR, the mode BMv2 supports).
    pub async fn write_raw(
        &self,
        updates: Vec<p4::Update>,
        what: impl Fn(usize) -> String,
    ) -> Result<(), P4rtError> {
        if updates.is_empty() {
            return Ok(());
        }
        let total = updates.len();
        let req = p4::WriteRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            election_id: Some(election(&self.inner.cfg)),
            updates,
            atomicity: p4::write_request::Atomicity::ContinueOnError as i32,
            ..Default::default()
        };
        let mut client = self.inner.client.clone();
        match tokio::time::timeout(RPC_DEADLINE, client.write(req)).await {
            Ok(r) => r
                .map(|_| ())
                .map_err(|s| write_error(s, self.inner.cfg.device_id, total, what)),
            Err(_) => Err(deadline_error("Write")),
        }
    }

    /// Writes name-based updates in one batch; failed updates come back as
    /// [`P4rtError::Batch`] with their index in `updates`.
    pub async fn write(&self, updates: &[EntryUpdate]) -> Result<(), P4rtError> {
        let ix = self.index()?;
        let mut raw = Vec::with_capacity(updates.len());
        for u in updates {
            let entry = ix.build_entry(&u.entry)?;
            let t = match u.kind {
                UpdateKind::Insert => p4::update::Type::Insert,
                UpdateKind::Modify => p4::update::Type::Modify,
                UpdateKind::Delete => p4::update::Type::Delete,
            };
            raw.push(p4::Update {
                r#type: t as i32,
                entity: Some(p4::Entity {
                    entity: Some(p4::entity::Entity::TableEntry(entry)),
                }),
            });
        }
        self.write_raw(raw, |i| {
            updates
                .get(i)
                .map(|u| format!("{:?} {}", u.kind, u.entry.table))
                .unwrap_or_default()
        })
        .await
    }

    /// Reads entities matching `entities` (wildcards allowed).
    pub async fn read_raw(&self, entities: Vec<p4::Entity>) -> Result<Vec<p4::Entity>, P4rtError> {
        let req = p4::ReadRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            entities,
        };
        let mut client = self.inner.client.clone();
        let read = async move {
            let mut stream = client
                .read(req)
                .await
                .map_err(|s| rpc_error("Read", s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(r) = stream.message().await.map_err(|s| rpc_error("Read", s))? {
                out.extend(r.entities);
            }
            Ok(out)
        };
        tokio::time::timeout(RPC_DEADLINE, read)
            .await
            .unwrap_or_else(|_| Err(deadline_error("Read")))
    }

    /// All entries of a table (not its default entry).
    pub async fn read_table(&self, table: &str) -> Result<Vec<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        let sel = ix.table_selector(table)?;
        self.read_entries(&ix, sel).await
    }

    /// The default entry of a table.
    pub async fn read_default(&self, table: &str) -> Result<Option<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        let mut sel = ix.table_selector(table)?;
        sel.is_default_action = true;
        Ok(self.read_entries(&ix, sel).await?.into_iter().next())
    }

    /// Every entry of every table.
    pub async fn read_all_entries(&self) -> Result<Vec<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        self.read_entries(&ix, p4::TableEntry::default()).await
    }

    async fn read_entries(
        &self,
        ix: &P4InfoIndex,
        sel: p4::TableEntry,
    ) -> Result<Vec<EntrySpec>, P4rtError> {
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::TableEntry(sel)),
            }])
            .await?;
        let mut out = Vec::new();
        for e in ents {
            if let Some(p4::entity::Entity::TableEntry(t)) = e.entity {
                out.push(ix.decode_entry(&t)?);
            }
        }
        Ok(out)
    }

    /// Every cell of an indirect counter: (index, packets, bytes).
    pub async fn read_counter(&self, name: &str) -> Result<Vec<(i64, u64, u64)>, P4rtError> {
        let ix = self.index()?;
        let id = ix.counter(name)?.id;
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::CounterEntry(p4::CounterEntry {
                    counter_id: id,
                    index: None,
                    data: None,
                })),
            }])
            .await?;
        Ok(ents
            .into_iter()
            .filter_map(|e| match e.entity {
                Some(p4::entity::Entity::CounterEntry(c)) => {
                    let d = c.data.unwrap_or_default();
                    Some((
                        c.index.map(|i| i.index).unwrap_or(0),
                        d.packet_count.max(0) as u64,
                        d.byte_count.max(0) as u64,
                    ))
                }
                _ => None,
            })
            .collect())
    }

    /// The direct counter of every entry of `table`: (entry, packets, bytes).
    pub async fn read_direct_counters(
        &self,
        table: &str,
    ) -> Result<Vec<(EntrySpec, u64, u64)>, P4rtError> {
        let ix = self.index()?;
        let sel = ix.table_selector(table)?;
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::DirectCounterEntry(
                    p4::DirectCounterEntry {
                        table_entry: Some(sel),
                        data: None,
                    },
                )),
            }])
            .await?;
        let mut out = Vec::new();
        for e in ents {
            if let Some(p4::entity::Entity::DirectCounterEntry(c)) = e.entity {
                let d = c.data.unwrap_or_default();
                if let Some(t) = c.table_entry {
                    out.push((
                        ix.decode_entry(&t)?,
                        d.packet_count.max(0) as u64,
                        d.byte_count.max(0) as u64,
                    ));
                }
            }
        }
        Ok(out)
    }

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

    /// Enables a digest by name with the given batching.
    pub async fn enable_digest(
        &self,
        name: &str,
        max_timeout_ns: i64,
        max_list_size: i32,
        ack_timeout_ns: i64,
    ) -> Result<(), P4rtError> {
        let id = self.index()?.digest(name)?;
        let u = p4::Update {
            r#type: p4::update::Type::Insert as i32,
            entity: Some(p4::Entity {
                entity: Some(p4::entity::Entity::DigestEntry(p4::DigestEntry {
                    digest_id: id,
                    config: Some(p4::digest_entry::Config {
                        max_timeout_ns,
                        max_list_size,
                        ack_timeout_ns,
                    }),
                })),
            }),
        };
        self.write_raw(vec![u], |_| format!("digest {name}")).await
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
