//! The switching fabric: one flash-switch per node running the shared program, in-process
//! ports wired into emulated links, hosts attached to host ports, and each switch's P4Runtime
//! service on a free loopback port.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use flash_switch::device::{Device, DeviceConfig};
use flash_switch::link::LinkParams;
use flash_switch::p4rt::P4rtServer;
use flash_switch::port::{FrameSink, PortBinding};
use flashmesh_p4::ir::Program;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::error::MeshError;
use crate::frame;
use crate::plan::{AUX_PORT, HOST_PORT, MeshPlan};
use crate::transport::{FlightRecorder, FrameTransport};

/// Sender tag stamped on the reroute measurement stream.
pub const STREAM_SENDER: [u8; 8] = *b"fm-strm\0";

/// UDP port of the best-effort floods.
pub const FLOOD_PORT: u16 = 9000;

/// A 32-byte FMH header of the reroute measurement stream (a QUERY with no body) with
/// sequence number `seq`.
pub fn stream_datagram(seq: u64, epoch: u32) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[0] = 1;
    h[1] = 5;
    h[4..8].copy_from_slice(&epoch.to_be_bytes());
    h[8..16].copy_from_slice(&STREAM_SENDER);
    h[16..24].copy_from_slice(&seq.to_be_bytes());
    h[24] = 16;
    h[25] = 16;
    h
}

type PeerSlot = Arc<OnceLock<(Weak<Device>, u32)>>;

/// What an auxiliary host received.
#[derive(Debug, Default)]
pub struct AuxHost {
    /// Frames received (any kind).
    pub frames: AtomicU64,
    /// Arrivals of the reroute stream: (sequence number, arrival time).
    pub stream: Mutex<Vec<(u64, Instant)>>,
}

impl AuxHost {
    fn on_frame(&self, f: &[u8]) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        if let Ok(u) = frame::unwrap(f) {
            let p = u.payload;
            if p.len() >= 32 && p[8..16] == STREAM_SENDER {
                let seq = u64::from_be_bytes(p[16..24].try_into().unwrap_or([0; 8]));
                self.stream.lock().push((seq, Instant::now()));
            }
        }
    }
}

/// The running switches of a mesh.
pub struct Fabric {
    plan: MeshPlan,
    devices: Vec<Arc<Device>>,
    grpc: Vec<P4rtServer>,
    host_rx: Vec<Mutex<Option<mpsc::UnboundedReceiver<Vec<u8>>>>>,
    aux: Vec<Arc<AuxHost>>,
    recorder: Arc<FlightRecorder>,
}

impl Fabric {
    /// Starts a switch per node with `program` loaded, wires the links, applies their emulation
    /// and serves P4Runtime for each on 127.0.0.1 (`source` is the program's P4 source, whose
    /// derived P4Info the services adopt).
    pub async fn start(
        plan: MeshPlan,
        program: Arc<Program>,
        source: &str,
        seed: u64,
    ) -> Result<Fabric, MeshError> {
        let n = plan.nodes.len();
        let mut slots: Vec<Vec<(u32, PeerSlot)>> = vec![Vec::new(); n];
        for l in &plan.links {
            slots[l.a.0].push((l.a.1, Arc::new(OnceLock::new())));
            slots[l.b.0].push((l.b.1, Arc::new(OnceLock::new())));
        }
        let mut devices = Vec::with_capacity(n);
        let mut host_rx = Vec::with_capacity(n);
        let mut aux = Vec::with_capacity(n);
        let recorder = Arc::new(FlightRecorder::with_filter(|a| a.ip().octets()[3] == 2));
        for (i, node_slots) in slots.iter().enumerate() {
            let mut bindings: Vec<(u32, PortBinding)> = Vec::new();
            for (port, slot) in node_slots {
                let slot = slot.clone();
                let sink: FrameSink = Arc::new(move |f: Vec<u8>| {
                    if let Some((dev, port)) = slot.get()
                        && let Some(dev) = dev.upgrade()
                    {
                        dev.inject_frame(*port, f);
                    }
                });
                bindings.push((*port, PortBinding::InProcess(sink)));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            let tx = Mutex::new(tx);
            // A BCB message counts as delivered when the switch hands it to the host, whether or
            // not the host reads it at once (a payer that has its quorum reads the late answers
            // only when it next listens).
            let rec = recorder.clone();
            bindings.push((
                HOST_PORT,
                PortBinding::InProcess(Arc::new(move |f: Vec<u8>| {
                    if let Ok(u) = frame::unwrap(&f) {
                        rec.on_receive(u.src, u.dst, u.payload);
                    }
                    let _ = tx.lock().send(f);
                })),
            ));
            let a = Arc::new(AuxHost::default());
            let a2 = a.clone();
            bindings.push((
                AUX_PORT,
                PortBinding::InProcess(Arc::new(move |f: Vec<u8>| a2.on_frame(&f))),
            ));
            let mut config = DeviceConfig {
                device_id: i as u64,
                priority_queues: 8,
                ..DeviceConfig::default()
            };
            config.datapath.seed = seed.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64 + 1);
            let device = Device::start(config, Some(program.clone()), bindings)
                .map_err(|e| MeshError::Switch(plan.nodes[i].name.clone(), e.to_string()))?;
            devices.push(device);
            host_rx.push(Mutex::new(Some(rx)));
            aux.push(a);
        }
        let slot_of = |node: usize, port: u32| -> PeerSlot {
            slots[node]
                .iter()
                .find(|(p, _)| *p == port)
                .map(|(_, s)| s.clone())
                .expect("slot of a planned port")
        };
        for l in &plan.links {
            let _ = slot_of(l.a.0, l.a.1).set((Arc::downgrade(&devices[l.b.0]), l.b.1));
            let _ = slot_of(l.b.0, l.b.1).set((Arc::downgrade(&devices[l.a.0]), l.a.1));
            for (node, port) in [l.a, l.b] {
                devices[node]
                    .set_link(port, l.params)
                    .map_err(|e| MeshError::Switch(plan.nodes[node].name.clone(), e.to_string()))?;
            }
        }
        let mut grpc = Vec::with_capacity(n);
        for (i, d) in devices.iter().enumerate() {
            let server = flash_switch::p4rt::spawn_with_source(
                d.clone(),
                SocketAddr::from(([127, 0, 0, 1], 0)),
                Some(source.to_string()),
            )
            .await
            .map_err(|e| MeshError::Switch(plan.nodes[i].name.clone(), e.to_string()))?;
            grpc.push(server);
        }
        Ok(Fabric {
            plan,
            devices,
            grpc,
            host_rx,
            aux,
            recorder,
        })
    }

    /// The layout.
    pub fn plan(&self) -> &MeshPlan {
        &self.plan
    }

    /// A node's switch.
    pub fn device(&self, node: usize) -> &Arc<Device> {
        &self.devices[node]
    }

    /// The P4Runtime address of a node's switch.
    pub fn grpc_addr(&self, node: usize) -> SocketAddr {
        self.grpc[node].local_addr()
    }

    /// The auxiliary host of a node.
    pub fn aux(&self, node: usize) -> &Arc<AuxHost> {
        &self.aux[node]
    }

    /// The mesh's BCB flight recorder.
    pub fn recorder(&self) -> &Arc<FlightRecorder> {
        &self.recorder
    }

    /// The main host's transport of a node, bound to `udp_port`. Each node has one; a second
    /// call fails.
    pub fn host_transport(&self, node: usize, udp_port: u16) -> Result<FrameTransport, MeshError> {
        let n = &self.plan.nodes[node];
        let rx = self.host_rx[node]
            .lock()
            .take()
            .ok_or_else(|| MeshError::HostTaken(n.name.clone()))?;
        Ok(FrameTransport::new(
            SocketAddrV4::new(n.host_ip(), udp_port),
            n.host_mac(),
            n.router_mac(),
            self.devices[node].clone(),
            HOST_PORT,
            rx,
            self.recorder.clone(),
        ))
    }

    /// Sends a datagram from a node's auxiliary host. Returns false when the switch refused it.
    pub fn aux_send(&self, node: usize, src_port: u16, to: SocketAddrV4, payload: &[u8]) -> bool {
        let n = &self.plan.nodes[node];
        let f = frame::wrap(
            n.aux_mac(),
            n.router_mac(),
            SocketAddrV4::new(n.aux_ip(), src_port),
            to,
            payload,
        );
        self.devices[node].inject_frame(AUX_PORT, f)
    }

    /// Cuts a link in the emulation: every frame on it is lost, both ways.
    pub fn cut_link(&self, link: usize) -> Result<(), MeshError> {
        let params = LinkParams {
            loss: 1.0,
            ..self.plan.links[link].params
        };
        self.set_link(link, params)
    }

    /// Puts a link back to its planned emulation.
    pub fn restore_link(&self, link: usize) -> Result<(), MeshError> {
        self.set_link(link, self.plan.links[link].params)
    }

    /// Sets a link's emulation, both directions.
    pub fn set_link(&self, link: usize, params: LinkParams) -> Result<(), MeshError> {
        let l = &self.plan.links[link];
        for (node, port) in [l.a, l.b] {
            self.devices[node].set_link(port, params).map_err(|e| {
                MeshError::Switch(self.plan.nodes[node].name.clone(), e.to_string())
            })?;
        }
        Ok(())
    }

    /// Sets the depth of every priority queue of a link's two ports, in packets.
    pub fn set_queue_depth(&self, link: usize, depth: u32) -> Result<(), MeshError> {
        let l = &self.plan.links[link];
        for (node, port) in [l.a, l.b] {
            let cmd = flash_switch::control::parse(&format!("set_queue_depth {depth} {port}"))
                .map_err(|e| {
                    MeshError::Switch(self.plan.nodes[node].name.clone(), e.to_string())
                })?;
            self.devices[node].control(&cmd);
        }
        Ok(())
    }

    /// The packets waiting in the priority-`queue` queues of every link port of every switch,
    /// summed per port: one sample per port.
    pub fn queue_depths(&self, queue: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for l in &self.plan.links {
            for (node, port) in [l.a, l.b] {
                let stats = self.devices[node].port_report(port).tm;
                out.push(
                    stats
                        .and_then(|s| s.queues.get(queue).map(|q| q.depth))
                        .unwrap_or(0),
                );
            }
        }
        out
    }

    /// Stops the P4Runtime services and the datapaths.
    pub async fn shutdown(mut self) {
        for g in std::mem::take(&mut self.grpc) {
            let _ = g.shutdown().await;
        }
        for d in &self.devices {
            d.shutdown();
        }
    }
}

impl Drop for Fabric {
    fn drop(&mut self) {
        for d in &self.devices {
            d.shutdown();
        }
    }
}
