//! Shared harness of the P4Runtime tests: a device with in-process ports, its
//! P4Runtime server on a loopback port, clients with arbitration streams, and
//! name-based P4Info lookups.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flash_switch::device::{Device, DeviceConfig};
use flash_switch::p4rt::{self, P4rtServer};
use flash_switch::port::PortBinding;
use flashmesh_proto::p4::config::v1::P4Info;
use flashmesh_proto::p4::v1::{
    self as p4v1, MasterArbitrationUpdate, StreamMessageRequest, StreamMessageResponse, Uint128,
    p4_runtime_client::P4RuntimeClient, stream_message_request::Update as In,
    stream_message_response::Update as Out,
};
use tokio::sync::mpsc;
use tonic::transport::Channel;

pub const CPU_PORT: u32 = 255;
pub const WAIT: Duration = Duration::from_secs(5);

/// The reference corpus beside the project (read only).
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference")
}

/// A reference program's source and p4c's P4Info, or `None` (with a printed reason)
/// when the corpus is not present.
pub fn reference(name: &str) -> Option<(String, P4Info)> {
    let dir = reference_dir();
    let source = std::fs::read_to_string(dir.join(format!("{name}.p4")));
    let info = std::fs::read_to_string(dir.join(format!("{name}.p4info.txtpb")));
    match (source, info) {
        (Ok(source), Ok(info)) => Some((
            source,
            flashmesh_proto::p4info_from_text(&info).expect("p4info parses"),
        )),
        _ => {
            println!("skipped: reference corpus not found at {}", dir.display());
            None
        }
    }
}

/// A device with in-process ports 1..=3 and its P4Runtime server.
pub struct Harness {
    pub device: Arc<Device>,
    pub server: Option<P4rtServer>,
    pub addr: SocketAddr,
    pub ports: HashMap<u32, mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl Harness {
    pub async fn start(device_id: u64) -> Harness {
        Self::start_with(device_id, None).await
    }

    /// A harness whose device starts with the program in `source` already loaded.
    pub async fn start_with(device_id: u64, source: Option<&str>) -> Harness {
        Self::start_threads(device_id, source, 1).await
    }

    /// A harness whose datapath runs `threads` threads (ports {1, 2} and {3} with two).
    pub async fn start_threads(device_id: u64, source: Option<&str>, threads: usize) -> Harness {
        let mut bindings = Vec::new();
        let mut ports = HashMap::new();
        for port in 1..=3u32 {
            let (tx, rx) = mpsc::unbounded_channel();
            let sink: flash_switch::port::FrameSink = Arc::new(move |frame: Vec<u8>| {
                let _ = tx.send(frame);
            });
            bindings.push((port, PortBinding::InProcess(sink)));
            ports.insert(port, rx);
        }
        let config = DeviceConfig {
            device_id,
            cpu_port: CPU_PORT,
            datapath: flash_switch::datapath::DatapathConfig {
                threads,
                ..Default::default()
            },
            ..DeviceConfig::default()
        };
        let program =
            source.map(|s| flashmesh_p4::compile_str("start.p4", s).expect("program compiles"));
        let device = Device::start(config, program, bindings).expect("device starts");
        let server = p4rt::spawn_with_source(
            device.clone(),
            "127.0.0.1:0".parse().unwrap(),
            source.map(str::to_string),
        )
        .await
        .expect("server binds");
        let addr = server.local_addr();
        Harness {
            device,
            server: Some(server),
            addr,
            ports,
        }
    }

    pub async fn client(&self) -> P4RuntimeClient<Channel> {
        P4RuntimeClient::connect(format!("http://{}", self.addr))
            .await
            .expect("client connects")
    }

    /// The next frame out of `port`, if one comes within `wait`.
    pub async fn output(&mut self, port: u32, wait: Duration) -> Option<Vec<u8>> {
        let rx = self.ports.get_mut(&port).expect("known port");
        tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server.shutdown())
                .await
                .expect("server stops in time")
                .expect("server ok");
        }
        self.device.shutdown();
    }
}

pub fn election(id: u128) -> Option<Uint128> {
    Some(Uint128 {
        high: (id >> 64) as u64,
        low: id as u64,
    })
}

/// An open StreamChannel.
pub struct Stream {
    pub tx: mpsc::Sender<StreamMessageRequest>,
    pub rx: tonic::Streaming<StreamMessageResponse>,
}

impl Stream {
    /// Opens a stream and sends an arbitration update; returns it with the answer.
    pub async fn open(
        client: &mut P4RuntimeClient<Channel>,
        device_id: u64,
        election_id: u128,
    ) -> (Stream, MasterArbitrationUpdate) {
        let (tx, rx) = mpsc::channel(64);
        let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
        let rx = client
            .stream_channel(outbound)
            .await
            .expect("stream opens")
            .into_inner();
        let mut stream = Stream { tx, rx };
        stream.arbitrate(device_id, election_id).await;
        let update = stream.next_arbitration().await.expect("arbitration answer");
        (stream, update)
    }

    pub async fn arbitrate(&self, device_id: u64, election_id: u128) {
        let msg = StreamMessageRequest {
            update: Some(In::Arbitration(MasterArbitrationUpdate {
                device_id,
                election_id: election(election_id),
                ..Default::default()
            })),
        };
        self.tx.send(msg).await.expect("stream open");
    }

    pub async fn send(&self, update: In) {
        self.tx
            .send(StreamMessageRequest {
                update: Some(update),
            })
            .await
            .expect("stream open");
    }

    /// The next message, if one comes in time.
    pub async fn next(
        &mut self,
        wait: Duration,
    ) -> Option<Result<StreamMessageResponse, tonic::Status>> {
        tokio::time::timeout(wait, self.rx.message())
            .await
            .ok()
            .and_then(|r| r.transpose())
    }

    pub async fn next_arbitration(&mut self) -> Option<MasterArbitrationUpdate> {
        loop {
            match self.next(WAIT).await? {
                Ok(StreamMessageResponse {
                    update: Some(Out::Arbitration(a)),
                }) => return Some(a),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    pub async fn next_packet_in(&mut self) -> Option<p4v1::PacketIn> {
        loop {
            match self.next(WAIT).await? {
                Ok(StreamMessageResponse {
                    update: Some(Out::Packet(p)),
                }) => return Some(p),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

pub fn status_code(update: &MasterArbitrationUpdate) -> i32 {
    update.status.as_ref().map(|s| s.code).unwrap_or(-1)
}

/// Pushes a pipeline with VERIFY_AND_COMMIT.
pub async fn push(
    client: &mut P4RuntimeClient<Channel>,
    device_id: u64,
    election_id: u128,
    source: &str,
    p4info: &P4Info,
    action: p4v1::set_forwarding_pipeline_config_request::Action,
) -> Result<(), tonic::Status> {
    let req = p4v1::SetForwardingPipelineConfigRequest {
        device_id,
        election_id: election(election_id),
        action: action as i32,
        config: Some(p4v1::ForwardingPipelineConfig {
            p4info: Some(p4info.clone()),
            p4_device_config: source.as_bytes().to_vec(),
            cookie: Some(p4v1::forwarding_pipeline_config::Cookie { cookie: 42 }),
        }),
        ..Default::default()
    };
    client.set_forwarding_pipeline_config(req).await.map(|_| ())
}

/// Writes updates; the per-update error codes on failure.
pub async fn write(
    client: &mut P4RuntimeClient<Channel>,
    device_id: u64,
    election_id: Option<u128>,
    updates: Vec<p4v1::Update>,
) -> Result<(), (tonic::Code, Vec<i32>)> {
    let req = p4v1::WriteRequest {
        device_id,
        election_id: election_id.and_then(election),
        updates,
        ..Default::default()
    };
    match client.write(req).await {
        Ok(_) => Ok(()),
        Err(status) => {
            let codes = flash_switch::p4rt::status::write_errors(&status)
                .map(|errs| errs.iter().map(|e| e.canonical_code).collect())
                .unwrap_or_default();
            Err((status.code(), codes))
        }
    }
}

/// Reads entities.
pub async fn read(
    client: &mut P4RuntimeClient<Channel>,
    device_id: u64,
    entities: Vec<p4v1::Entity>,
) -> Result<Vec<p4v1::Entity>, tonic::Status> {
    let mut stream = client
        .read(p4v1::ReadRequest {
            device_id,
            entities,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(resp) = stream.message().await? {
        out.extend(resp.entities);
    }
    Ok(out)
}

pub fn update(kind: p4v1::update::Type, entity: p4v1::entity::Entity) -> p4v1::Update {
    p4v1::Update {
        r#type: kind as i32,
        entity: Some(p4v1::Entity {
            entity: Some(entity),
        }),
    }
}

/// Name-based lookups in a P4Info.
pub struct Names<'a>(pub &'a P4Info);

impl Names<'_> {
    pub fn table(&self, name: &str) -> u32 {
        self.0
            .tables
            .iter()
            .find(|t| t.preamble.as_ref().unwrap().name == name)
            .expect(name)
            .preamble
            .as_ref()
            .unwrap()
            .id
    }
    pub fn field(&self, table: &str, field: &str) -> u32 {
        let t = self
            .0
            .tables
            .iter()
            .find(|t| t.preamble.as_ref().unwrap().name == table)
            .expect(table);
        t.match_fields
            .iter()
            .find(|f| f.name == field)
            .expect(field)
            .id
    }
    pub fn action(&self, name: &str) -> u32 {
        self.0
            .actions
            .iter()
            .find(|a| a.preamble.as_ref().unwrap().name == name)
            .expect(name)
            .preamble
            .as_ref()
            .unwrap()
            .id
    }
    pub fn param(&self, action: &str, param: &str) -> u32 {
        let a = self
            .0
            .actions
            .iter()
            .find(|a| a.preamble.as_ref().unwrap().name == action)
            .expect(action);
        a.params.iter().find(|p| p.name == param).expect(param).id
    }
    pub fn counter(&self, name: &str) -> u32 {
        self.0
            .counters
            .iter()
            .find(|c| c.preamble.as_ref().unwrap().name == name)
            .expect(name)
            .preamble
            .as_ref()
            .unwrap()
            .id
    }
    pub fn register(&self, name: &str) -> u32 {
        self.0
            .registers
            .iter()
            .find(|c| c.preamble.as_ref().unwrap().name == name)
            .expect(name)
            .preamble
            .as_ref()
            .unwrap()
            .id
    }
    pub fn packet_metadata(&self, header: &str, field: &str) -> u32 {
        let h = self
            .0
            .controller_packet_metadata
            .iter()
            .find(|c| c.preamble.as_ref().unwrap().name == header)
            .expect(header);
        h.metadata.iter().find(|m| m.name == field).expect(field).id
    }

    /// A table entry with an action and exact/other matches given as (field, match).
    pub fn entry(
        &self,
        table: &str,
        matches: Vec<(&str, p4v1::field_match::FieldMatchType)>,
        action: &str,
        params: &[(&str, &[u8])],
        priority: i32,
    ) -> p4v1::TableEntry {
        p4v1::TableEntry {
            table_id: self.table(table),
            r#match: matches
                .into_iter()
                .map(|(f, m)| p4v1::FieldMatch {
                    field_id: self.field(table, f),
                    field_match_type: Some(m),
                })
                .collect(),
            action: Some(p4v1::TableAction {
                r#type: Some(p4v1::table_action::Type::Action(p4v1::Action {
                    action_id: self.action(action),
                    params: params
                        .iter()
                        .map(|(p, v)| p4v1::action::Param {
                            param_id: self.param(action, p),
                            value: v.to_vec(),
                        })
                        .collect(),
                })),
            }),
            priority,
            ..Default::default()
        }
    }
}

pub fn exact(v: &[u8]) -> p4v1::field_match::FieldMatchType {
    p4v1::field_match::FieldMatchType::Exact(p4v1::field_match::Exact { value: v.to_vec() })
}
pub fn lpm(v: &[u8], len: i32) -> p4v1::field_match::FieldMatchType {
    p4v1::field_match::FieldMatchType::Lpm(p4v1::field_match::Lpm {
        value: v.to_vec(),
        prefix_len: len,
    })
}
pub fn ternary(v: &[u8], m: &[u8]) -> p4v1::field_match::FieldMatchType {
    p4v1::field_match::FieldMatchType::Ternary(p4v1::field_match::Ternary {
        value: v.to_vec(),
        mask: m.to_vec(),
    })
}
pub fn range(lo: &[u8], hi: &[u8]) -> p4v1::field_match::FieldMatchType {
    p4v1::field_match::FieldMatchType::Range(p4v1::field_match::Range {
        low: lo.to_vec(),
        high: hi.to_vec(),
    })
}
pub fn optional(v: &[u8]) -> p4v1::field_match::FieldMatchType {
    p4v1::field_match::FieldMatchType::Optional(p4v1::field_match::Optional { value: v.to_vec() })
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
