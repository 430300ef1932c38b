//! The tonic `P4Runtime` service of one device: capabilities, pipeline config,
//! writes, reads and the stream channel, on top of [`Device`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use flashmesh_p4::exec::{DigestMessage, PacketIn};
use flashmesh_proto::p4::v1::{
    self as p4v1, get_forwarding_pipeline_config_request::ResponseType,
    p4_runtime_server::P4Runtime, set_forwarding_pipeline_config_request::Action as ConfigAction,
    stream_message_request::Update as In, stream_message_response::Update as Out,
    write_request::Atomicity,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::arbitration::{Arbitration, ClientId, Notice, election_id};
use super::digest::Digests;
use super::pipeline::{self, Installed, PipelineState};
use super::read::{self, ReadSource};
use super::replication::Replication;
use super::status::{P4rtError, write_status};
use super::write::{self, WriteTarget};
use crate::device::{Device, DeviceError};

/// Messages queued for one stream before packet-ins to it are dropped.
pub const STREAM_BUFFER: usize = 1024;

/// Entities per `ReadResponse` message.
const READ_CHUNK: usize = 1000;

type StreamTx = mpsc::Sender<Result<p4v1::StreamMessageResponse, Status>>;

/// Control-plane state besides the engine's.
#[derive(Debug, Default)]
struct Control {
    pipeline: PipelineState,
    replication: Replication,
    digests: Digests,
}

#[derive(Default)]
struct Streams {
    arbitration: Arbitration,
    senders: HashMap<ClientId, StreamTx>,
}

/// Shared by the service, the stream tasks and the event fan-out.
pub(crate) struct Shared {
    device: Arc<Device>,
    control: Mutex<Control>,
    streams: Mutex<Streams>,
    next_client: AtomicU64,
    shutdown: watch::Receiver<bool>,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The P4Runtime service of one device.
#[derive(Clone)]
pub struct P4RuntimeService {
    shared: Arc<Shared>,
}

impl P4RuntimeService {
    /// A service for `device`; streams end when `shutdown` turns true. When the device
    /// already runs a program and its P4 source is given, that pipeline is adopted with
    /// the P4Info derived from the source, as if a controller had pushed it.
    pub fn new(device: Arc<Device>, shutdown: watch::Receiver<bool>, source: Option<&str>) -> Self {
        let mut control = Control::default();
        if let (Some(program), Some(source)) = (device.program(), source) {
            match pipeline::adopt(program, source) {
                Ok(installed) => control.pipeline.active = Some(Arc::new(installed)),
                Err(e) => {
                    tracing::warn!(error = %e, "the running program's P4Info could not be derived")
                }
            }
        }
        P4RuntimeService {
            shared: Arc::new(Shared {
                device,
                control: Mutex::new(control),
                streams: Mutex::new(Streams::default()),
                next_client: AtomicU64::new(1),
                shutdown,
                started: Instant::now(),
            }),
        }
    }

    /// Forwards the device's packet-ins and digests to the primary clients until shutdown.
    pub fn spawn_event_fanout(&self) -> tokio::task::JoinHandle<()> {
        let shared = self.shared.clone();
        let mut packet_ins = shared.device.subscribe_packet_ins();
        let mut digests = shared.device.subscribe_digests();
        let mut shutdown = shared.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    pi = packet_ins.recv() => match pi {
                        Ok(pi) => shared.deliver_packet_in(pi),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(lost = n, "packet-ins lost: the P4Runtime service fell behind");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    d = digests.recv() => match d {
                        Ok(d) => shared.deliver_digest(d),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(lost = n, "digests lost: the P4Runtime service fell behind");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
                if *shutdown.borrow() {
                    break;
                }
            }
        })
    }
}

impl Shared {
    fn check_device(&self, device_id: u64) -> Result<(), P4rtError> {
        if device_id != self.device.device_id() {
            return Err(P4rtError::not_found(format!(
                "unknown device id {device_id} (this switch is device {})",
                self.device.device_id()
            )));
        }
        Ok(())
    }

    fn check_primary(
        &self,
        device_id: u64,
        role: &str,
        election: Option<&p4v1::Uint128>,
    ) -> Result<(), P4rtError> {
        let streams = lock(&self.streams);
        if streams
            .arbitration
            .is_primary(device_id, role, election_id(election))
        {
            Ok(())
        } else {
            Err(P4rtError::denied(
                "this client is not the primary: its election id is not the highest of an open stream for this device and role",
            ))
        }
    }

    fn send(&self, streams: &Streams, notices: Vec<Notice>) {
        for n in notices {
            if let Some(tx) = streams.senders.get(&n.client) {
                let msg = p4v1::StreamMessageResponse {
                    update: Some(Out::Arbitration(n.update)),
                };
                if tx.try_send(Ok(msg)).is_err() {
                    tracing::warn!(
                        client = n.client,
                        "arbitration update not delivered: stream full"
                    );
                }
            }
        }
    }

    fn to_primaries(&self, update: Out) {
        let streams = lock(&self.streams);
        for client in streams.arbitration.primaries(self.device.device_id()) {
            if let Some(tx) = streams.senders.get(&client) {
                let msg = p4v1::StreamMessageResponse {
                    update: Some(update.clone()),
                };
                if tx.try_send(Ok(msg)).is_err() {
                    tracing::debug!(client, "stream message dropped: client stream full");
                }
            }
        }
    }

    fn deliver_packet_in(&self, pi: PacketIn) {
        let packet = p4v1::PacketIn {
            payload: pi.payload,
            metadata: pi
                .metadata
                .into_iter()
                .map(|(metadata_id, value)| p4v1::PacketMetadata { metadata_id, value })
                .collect(),
        };
        self.to_primaries(Out::Packet(packet));
    }

    fn deliver_digest(&self, d: DigestMessage) {
        let timestamp = i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let list =
            lock(&self.control)
                .digests
                .offer(d.digest_id, d.members, Instant::now(), timestamp);
        if let Some(list) = list {
            self.to_primaries(Out::Digest(list));
        }
    }

    fn stream_error(
        &self,
        client: ClientId,
        error: P4rtError,
        details: Option<p4v1::stream_error::Details>,
    ) {
        let streams = lock(&self.streams);
        if let Some(tx) = streams.senders.get(&client) {
            let msg = p4v1::StreamMessageResponse {
                update: Some(Out::Error(p4v1::StreamError {
                    canonical_code: error.code as i32,
                    message: error.message,
                    details,
                    ..Default::default()
                })),
            };
            let _ = tx.try_send(Ok(msg));
        }
    }

    fn is_stream_primary(&self, client: ClientId) -> bool {
        let streams = lock(&self.streams);
        streams
            .arbitration
            .primaries(self.device.device_id())
            .contains(&client)
    }

    /// Handles one message of a stream; `Err` closes the stream with that status.
    fn on_stream_message(
        &self,
        client: ClientId,
        msg: p4v1::StreamMessageRequest,
    ) -> Result<(), Status> {
        match msg.update {
            Some(In::Arbitration(a)) => {
                self.check_device(a.device_id)?;
                if a.role.as_ref().is_some_and(|r| r.config.is_some()) {
                    return Err(Status::unimplemented(
                        "role configurations are not supported",
                    ));
                }
                let role = a.role.as_ref().map(|r| r.name.as_str());
                let mut streams = lock(&self.streams);
                let notices = streams
                    .arbitration
                    .update(
                        client,
                        a.device_id,
                        role,
                        election_id(a.election_id.as_ref()),
                    )
                    .map_err(|e| Status::new(e.code(), e.to_string()))?;
                self.send(&streams, notices);
            }
            Some(In::Packet(p)) => {
                use p4v1::stream_error::Details;
                let details = || {
                    Some(Details::PacketOut(p4v1::PacketOutError {
                        packet_out: Some(p.clone()),
                    }))
                };
                if !self.is_stream_primary(client) {
                    self.stream_error(
                        client,
                        P4rtError::denied("packet-out from a client that is not the primary"),
                        details(),
                    );
                    return Ok(());
                }
                let metadata: Vec<(u32, Vec<u8>)> = p
                    .metadata
                    .iter()
                    .map(|m| (m.metadata_id, m.value.clone()))
                    .collect();
                if let Err(e) = self.device.packet_out(&metadata, &p.payload) {
                    let error = match e {
                        DeviceError::NoPipeline => {
                            P4rtError::precondition("no forwarding pipeline is set")
                        }
                        DeviceError::Overloaded => {
                            P4rtError::new(tonic::Code::Unavailable, e.to_string())
                        }
                        DeviceError::State(s) => super::translate::state_error(s),
                        other => P4rtError::internal(other.to_string()),
                    };
                    self.stream_error(client, error, details());
                }
            }
            Some(In::DigestAck(ack)) => {
                if self.is_stream_primary(client) {
                    lock(&self.control).digests.ack(ack.digest_id, ack.list_id);
                } else {
                    use p4v1::stream_error::Details;
                    self.stream_error(
                        client,
                        P4rtError::denied("digest ack from a client that is not the primary"),
                        Some(Details::DigestListAck(p4v1::DigestListAckError {
                            digest_list_ack: Some(ack),
                        })),
                    );
                }
            }
            Some(In::Other(_)) => {
                self.stream_error(
                    client,
                    P4rtError::unimplemented("unknown stream message"),
                    None,
                );
            }
            None => {}
        }
        Ok(())
    }

    fn leave(&self, client: ClientId) {
        let mut streams = lock(&self.streams);
        streams.senders.remove(&client);
        let notices = streams.arbitration.leave(client);
        self.send(&streams, notices);
    }

    fn active(&self) -> Result<Arc<Installed>, P4rtError> {
        lock(&self.control)
            .pipeline
            .active
            .clone()
            .ok_or_else(|| P4rtError::precondition("no forwarding pipeline config has been set"))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl P4Runtime for P4RuntimeService {
    async fn write(
        &self,
        request: Request<p4v1::WriteRequest>,
    ) -> Result<Response<p4v1::WriteResponse>, Status> {
        let req = request.into_inner();
        let s = &self.shared;
        s.check_device(req.device_id)?;
        s.check_primary(req.device_id, &req.role, req.election_id.as_ref())?;
        match Atomicity::try_from(req.atomicity) {
            Ok(Atomicity::ContinueOnError) => {}
            Ok(Atomicity::RollbackOnError) | Ok(Atomicity::DataplaneAtomic) => {
                return Err(Status::unimplemented(
                    "only CONTINUE_ON_ERROR atomicity is supported",
                ));
            }
            Err(_) => return Err(Status::invalid_argument("unknown atomicity")),
        }
        let mut control = lock(&s.control);
        let control = &mut *control;
        let Some(active) = control.pipeline.active.clone() else {
            return Err(
                P4rtError::precondition("no forwarding pipeline config has been set").into(),
            );
        };
        let mut target = WriteTarget {
            device: &s.device,
            index: &active.index,
            replication: &mut control.replication,
            digests: &mut control.digests,
        };
        let outcomes: Vec<Result<(), P4rtError>> = req
            .updates
            .iter()
            .map(|u| write::apply(&mut target, u))
            .collect();
        write_status(&outcomes)?;
        Ok(Response::new(p4v1::WriteResponse {}))
    }

    type ReadStream = BoxStream<p4v1::ReadResponse>;

    async fn read(
        &self,
        request: Request<p4v1::ReadRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        let req = request.into_inner();
        let s = &self.shared;
        s.check_device(req.device_id)?;
        let control = lock(&s.control);
        let active =
            control.pipeline.active.clone().ok_or_else(|| {
                P4rtError::precondition("no forwarding pipeline config has been set")
            })?;
        let src = ReadSource {
            index: &active.index,
            replication: &control.replication,
            digests: &control.digests,
        };
        let entities = s
            .device
            .with_switch(|sw| -> Result<Vec<p4v1::Entity>, P4rtError> {
                let sw =
                    sw.ok_or_else(|| P4rtError::precondition("no forwarding pipeline is set"))?;
                let mut all = Vec::new();
                for wanted in &req.entities {
                    all.extend(read::read(&src, sw, wanted)?);
                }
                Ok(all)
            })?;
        drop(control);
        let mut responses: Vec<Result<p4v1::ReadResponse, Status>> = entities
            .chunks(READ_CHUNK)
            .map(|c| {
                Ok(p4v1::ReadResponse {
                    entities: c.to_vec(),
                })
            })
            .collect();
        if responses.is_empty() {
            responses.push(Ok(p4v1::ReadResponse::default()));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(responses))))
    }

    async fn set_forwarding_pipeline_config(
        &self,
        request: Request<p4v1::SetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4v1::SetForwardingPipelineConfigResponse>, Status> {
        let req = request.into_inner();
        let s = self.shared.clone();
        s.check_device(req.device_id)?;
        s.check_primary(req.device_id, &req.role, req.election_id.as_ref())?;
        let action = ConfigAction::try_from(req.action)
            .map_err(|_| Status::invalid_argument("unknown action"))?;
        let verified = match action {
            ConfigAction::Unspecified => {
                return Err(Status::invalid_argument("the action is unspecified"));
            }
            ConfigAction::Commit => None,
            _ => {
                let config = req.config.clone().ok_or_else(|| {
                    Status::invalid_argument("the request has no forwarding pipeline config")
                })?;
                let installed = tokio::task::spawn_blocking(move || pipeline::verify(&config))
                    .await
                    .map_err(|e| {
                        Status::internal(format!("pipeline verification failed: {e}"))
                    })??;
                Some(Arc::new(installed))
            }
        };
        let mut control = lock(&s.control);
        match action {
            ConfigAction::Verify => {}
            ConfigAction::VerifyAndSave => control.pipeline.saved = verified,
            ConfigAction::VerifyAndCommit => {
                let new = verified.expect("verified above");
                pipeline::commit(&s.device, &new);
                control.pipeline.active = Some(new);
                control.pipeline.saved = None;
                control.replication = Replication::default();
                control.digests.clear();
            }
            ConfigAction::Commit => {
                let new = control.pipeline.saved.take().ok_or_else(|| {
                    P4rtError::precondition("COMMIT without a config saved by VERIFY_AND_SAVE")
                })?;
                pipeline::commit(&s.device, &new);
                control.pipeline.active = Some(new);
                control.replication = Replication::default();
                control.digests.clear();
            }
            ConfigAction::ReconcileAndCommit => {
                let new = verified.expect("verified above");
                let old = control.pipeline.active.clone();
                pipeline::reconcile(&s.device, old.as_deref(), &new)?;
                control.pipeline.active = Some(new);
                control.pipeline.saved = None;
            }
            ConfigAction::Unspecified => unreachable!("refused above"),
        }
        Ok(Response::new(p4v1::SetForwardingPipelineConfigResponse {}))
    }

    async fn get_forwarding_pipeline_config(
        &self,
        request: Request<p4v1::GetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4v1::GetForwardingPipelineConfigResponse>, Status> {
        let req = request.into_inner();
        self.shared.check_device(req.device_id)?;
        let active = self.shared.active()?;
        let full = &active.config;
        let kind = ResponseType::try_from(req.response_type)
            .map_err(|_| Status::invalid_argument("unknown response type"))?;
        let config = match kind {
            ResponseType::All => full.clone(),
            ResponseType::CookieOnly => p4v1::ForwardingPipelineConfig {
                cookie: full.cookie,
                ..Default::default()
            },
            ResponseType::P4infoAndCookie => p4v1::ForwardingPipelineConfig {
                p4info: full.p4info.clone(),
                cookie: full.cookie,
                ..Default::default()
            },
            ResponseType::DeviceConfigAndCookie => p4v1::ForwardingPipelineConfig {
                p4_device_config: full.p4_device_config.clone(),
                cookie: full.cookie,
                ..Default::default()
            },
        };
        Ok(Response::new(p4v1::GetForwardingPipelineConfigResponse {
            config: Some(config),
        }))
    }

    type StreamChannelStream = BoxStream<p4v1::StreamMessageResponse>;

    async fn stream_channel(
        &self,
        request: Request<Streaming<p4v1::StreamMessageRequest>>,
    ) -> Result<Response<Self::StreamChannelStream>, Status> {
        let mut inbound = request.into_inner();
        let shared = self.shared.clone();
        let client = shared.next_client.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        lock(&shared.streams).senders.insert(client, tx.clone());
        let mut shutdown = shared.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    _ = shutdown.changed() => break,
                    msg = inbound.message() => msg,
                };
                match msg {
                    Ok(Some(m)) => {
                        if let Err(status) = shared.on_stream_message(client, m) {
                            let _ = tx.send(Err(status)).await;
                            break;
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            shared.leave(client);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn capabilities(
        &self,
        _request: Request<p4v1::CapabilitiesRequest>,
    ) -> Result<Response<p4v1::CapabilitiesResponse>, Status> {
        Ok(Response::new(p4v1::CapabilitiesResponse {
            p4runtime_api_version: flashmesh_proto::P4RUNTIME_API_VERSION.to_string(),
        }))
    }
}
