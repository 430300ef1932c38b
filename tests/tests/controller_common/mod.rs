//! Shared set-up of the controller tests: flash-switches with in-process ports serving
//! P4Runtime on loopback, the flash_mesh.p4 pipeline, and FMH frames.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::Duration;

use flash_switch::device::DeviceConfig;
use flash_switch::embed::EmbeddedSwitch;
use flash_switch::p4rt::P4rtServer;
use flashmesh_controller::p4rt::{Backoff, Pipeline, Session, SessionConfig};

/// A switch with its P4Runtime server.
pub struct TestSwitch {
    pub sw: EmbeddedSwitch,
    pub server: P4rtServer,
}

impl TestSwitch {
    pub fn addr(&self) -> String {
        self.server.local_addr().to_string()
    }
}

/// Starts a switch with no program and in-process ports `ports`, 8 priority queues.
pub async fn start_switch(ports: &[u32]) -> TestSwitch {
    let cfg = DeviceConfig {
        priority_queues: 8,
        ..DeviceConfig::default()
    };
    let sw = EmbeddedSwitch::start(None, ports, cfg).expect("switch starts");
    let server = flash_switch::p4rt::spawn(sw.device().clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("P4Runtime server starts");
    TestSwitch { sw, server }
}

/// The flash_mesh.p4 pipeline (P4 source as device config, P4Info derived from it).
pub fn flash_mesh() -> Pipeline {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4src/flash_mesh.p4");
    Pipeline::from_source(std::path::Path::new(path)).expect("flash_mesh.p4 compiles")
}

pub fn session_config(addr: &str, election_id: u64) -> SessionConfig {
    SessionConfig {
        addr: addr.to_string(),
        device_id: 0,
        election_id,
        election_id_high: 0,
        role: String::new(),
        backoff: Backoff {
            initial_ms: 10,
            max_ms: 200,
            attempts: 20,
        },
    }
}

pub async fn session(addr: &str, election_id: u64) -> Session {
    Session::connect(session_config(addr, election_id))
        .await
        .expect("session connects")
}

/// An Ethernet/IPv4/UDP(47474)/FMH frame.
pub struct Fmh {
    pub msg_type: u8,
    pub retry: u8,
    pub epoch: u32,
    pub sender: [u8; 8],
    pub nonce: u64,
    pub dst: Ipv4Addr,
    pub src: Ipv4Addr,
}

impl Fmh {
    pub fn new(msg_type: u8, epoch: u32, sender: [u8; 8], nonce: u64, dst: Ipv4Addr) -> Self {
        Self {
            msg_type,
            retry: 0,
            epoch,
            sender,
            nonce,
            dst,
            src: Ipv4Addr::new(10, 9, 9, 9),
        }
    }

    pub fn frame(&self) -> Vec<u8> {
        let body = b"flash-mesh test body".to_vec();
        let udp_len = 8 + 32 + body.len();
        let ip_len = 20 + udp_len;
        let mut f = Vec::new();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0xbb]);
        f.extend_from_slice(&[0x08, 0x00]);
        let ip = f.len();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(ip_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&self.src.octets());
        f.extend_from_slice(&self.dst.octets());
        let mut sum: u32 = 0;
        for c in f[ip..ip + 20].chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        f[ip + 10..ip + 12].copy_from_slice(&ck.to_be_bytes());
        f.extend_from_slice(&47474u16.to_be_bytes());
        f.extend_from_slice(&47474u16.to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.push(1);
        f.push(self.msg_type);
        f.push(self.retry);
        f.push(0);
        f.extend_from_slice(&self.epoch.to_be_bytes());
        f.extend_from_slice(&self.sender);
        f.extend_from_slice(&self.nonce.to_be_bytes());
        f.push(10); // ttl
        f.push(8); // hop limit
        f.extend_from_slice(&(body.len() as u16).to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&body);
        f
    }
}

/// Waits for a frame on a port handle, polling without blocking the runtime.
pub async fn recv_frame(sw: &EmbeddedSwitch, port: u32, within: Duration) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(f) = sw.port(port).and_then(|p| p.try_recv()) {
            return Some(f);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Drops every frame waiting on a port.
pub fn drain(sw: &EmbeddedSwitch, port: u32) {
    if let Some(p) = sw.port(port) {
        while p.try_recv().is_some() {}
    }
}

/// Three switches in a triangle driven by one controller:
/// a:1 - b:1, a:2 - c:1, c:2 - b:2; hosts on port 3 of a (10.0.1.0/24) and b (10.0.2.0/24).
pub struct Triangle {
    pub a: TestSwitch,
    pub b: TestSwitch,
    pub c: TestSwitch,
    pub spec: flashmesh_controller::ControllerSpec,
    pub operators: Vec<flashmesh_controller::policy::OperatorKey>,
    pub audit_dir: tempfile::TempDir,
}

pub const HOST_A_MAC: [u8; 6] = [4, 0, 0, 0, 0, 1];
pub const HOST_B_MAC: [u8; 6] = [4, 0, 0, 0, 0, 2];

pub async fn triangle() -> Triangle {
    use flashmesh_controller::policy::{AuditLog, OperatorKey, PolicySettings, PolicyVerifier};
    use flashmesh_controller::runtime::SwitchSpec;
    use flashmesh_controller::sdn::topology::{Attachment, Node, Topology};
    let a = start_switch(&[1, 2, 3]).await;
    let b = start_switch(&[1, 2, 3]).await;
    let c = start_switch(&[1, 2, 3]).await;
    EmbeddedSwitch::connect(&a.sw, 1, &b.sw, 1);
    EmbeddedSwitch::connect(&a.sw, 2, &c.sw, 1);
    EmbeddedSwitch::connect(&c.sw, 2, &b.sw, 2);
    let node = |name: &str, id: u8, host: Option<[u8; 6]>| Node {
        name: name.into(),
        mac: [2, 0, 0, 0, 0, id],
        attachments: host
            .map(|mac| {
                vec![Attachment {
                    addr: Ipv4Addr::new(10, 0, id, 0),
                    prefix_len: 24,
                    port: 3,
                    mac,
                }]
            })
            .unwrap_or_default(),
    };
    let topology = Topology::new(
        vec![
            node("a", 1, Some(HOST_A_MAC)),
            node("b", 2, Some(HOST_B_MAC)),
            node("c", 3, None),
        ],
        vec![
            Topology::link("a", 1, "b", 1),
            Topology::link("a", 2, "c", 1),
            Topology::link("c", 2, "b", 2),
        ],
    )
    .unwrap();
    let pipeline = flash_mesh();
    let switches = [("a", &a), ("b", &b), ("c", &c)]
        .iter()
        .map(|(n, ts)| SwitchSpec {
            node: n.to_string(),
            session: session_config(&ts.addr(), 100),
            pipeline: pipeline.clone(),
            probe_ip: Ipv4Addr::new(169, 254, 0, 1),
        })
        .collect();
    let operators: Vec<OperatorKey> = (1..=3).map(|i| OperatorKey::from_seed([i; 32])).collect();
    let audit_dir = tempfile::tempdir().unwrap();
    let spec = flashmesh_controller::ControllerSpec {
        name: "anchor-test".into(),
        sender_tag: flashmesh_controller::runtime::config::sender_tag("anchor-test"),
        switches,
        topology,
        settings: PolicySettings::default(),
        verifier: PolicyVerifier::new(operators.iter().map(|k| k.public()).collect(), 2),
        audit: Some(AuditLog::new(audit_dir.path().join("policy-audit.jsonl"))),
        initial_epoch: 1,
    };
    Triangle {
        a,
        b,
        c,
        spec,
        operators,
        audit_dir,
    }
}

/// Waits for a controller event matching `f`.
pub async fn wait_event(
    rx: &mut tokio::sync::broadcast::Receiver<flashmesh_controller::ControllerEvent>,
    within: Duration,
    f: impl Fn(&flashmesh_controller::ControllerEvent) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(e)) if f(&e) => return true,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            _ => return false,
        }
    }
}
