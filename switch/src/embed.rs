//! Embedding switches in one process: a switch with in-process ports, handles to send and
//! receive frames on each port, and links between switches of the same process.
//!
//! ```text
//! let a = EmbeddedSwitch::start(Some(program.clone()), &[1, 2], DeviceConfig::default())?;
//! let b = EmbeddedSwitch::start(Some(program), &[1, 2], DeviceConfig::default())?;
//! EmbeddedSwitch::connect(&a, 2, &b, 1);      // a:2 <-> b:1, both directions
//! a.device().set_link(2, LinkParams { delay_ms: 5.0, ..Default::default() })?;
//! a.port(1).unwrap().send(frame);             // enters a on port 1
//! let out = b.port(2).unwrap().recv_timeout(Duration::from_secs(1));
//! ```
//!
//! A port that is connected to another switch delivers there instead of to its handle. Links
//! hold only weak references, so dropping an [`EmbeddedSwitch`] stops its datapath even when
//! it is still connected.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use flashmesh_p4::ir::Program;

use crate::device::{Device, DeviceConfig, DeviceError};
use crate::port::{FrameSink, PortBinding};

type Peer = Arc<RwLock<Option<(Weak<Device>, u32)>>>;

/// One in-process port of an embedded switch.
pub struct PortHandle {
    number: u32,
    device: Weak<Device>,
    rx: Mutex<Receiver<Vec<u8>>>,
    peer: Peer,
}

impl PortHandle {
    /// The port number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Sends a frame into the switch on this port. Returns `false` when the switch is gone or
    /// overloaded (the frame is dropped, as on a full NIC ring).
    pub fn send(&self, frame: Vec<u8>) -> bool {
        self.device
            .upgrade()
            .is_some_and(|d| d.inject_frame(self.number, frame))
    }

    /// Waits up to `timeout` for a frame the switch transmitted on this port.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(timeout)
            .ok()
    }

    /// A frame the switch transmitted on this port, if one is waiting.
    pub fn try_recv(&self) -> Option<Vec<u8>> {
        self.rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_recv()
            .ok()
    }

    /// Whether this port is wired to another switch.
    pub fn is_connected(&self) -> bool {
        self.peer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

fn port_sink(tx: Sender<Vec<u8>>, peer: Peer) -> FrameSink {
    let tx = Mutex::new(tx);
    Arc::new(move |frame: Vec<u8>| {
        let target = peer.read().unwrap_or_else(|e| e.into_inner()).clone();
        match target {
            Some((dev, port)) => {
                if let Some(dev) = dev.upgrade() {
                    dev.inject_frame(port, frame);
                }
            }
            None => {
                let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(frame);
            }
        }
    })
}

/// A switch whose ports all live in this process.
pub struct EmbeddedSwitch {
    device: Arc<Device>,
    ports: BTreeMap<u32, PortHandle>,
}

impl EmbeddedSwitch {
    /// Starts a switch with in-process ports numbered `ports`, optionally with a program.
    pub fn start(
        program: Option<Arc<Program>>,
        ports: &[u32],
        config: DeviceConfig,
    ) -> Result<Self, DeviceError> {
        let mut bindings = Vec::new();
        let mut pending = Vec::new();
        for &n in ports {
            let (tx, rx) = mpsc::channel();
            let peer: Peer = Arc::new(RwLock::new(None));
            bindings.push((n, PortBinding::InProcess(port_sink(tx, peer.clone()))));
            pending.push((n, rx, peer));
        }
        let device = Device::start(config, program, bindings)?;
        let ports = pending
            .into_iter()
            .map(|(n, rx, peer)| {
                (
                    n,
                    PortHandle {
                        number: n,
                        device: Arc::downgrade(&device),
                        rx: Mutex::new(rx),
                        peer,
                    },
                )
            })
            .collect();
        Ok(Self { device, ports })
    }

    /// The device (P4Runtime state, packet-in/out, link emulation).
    pub fn device(&self) -> &Arc<Device> {
        &self.device
    }

    /// Starts the P4Runtime service of this switch on 127.0.0.1 with a free port (needs a
    /// tokio runtime); the handle tells the address and stops the service on drop.
    pub async fn start_grpc(&self) -> Result<crate::p4rt::P4rtServer, crate::p4rt::ServeError> {
        crate::p4rt::spawn(
            self.device.clone(),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
    }

    /// A port's handle.
    pub fn port(&self, n: u32) -> Option<&PortHandle> {
        self.ports.get(&n)
    }

    /// Wires port `pa` of `a` to port `pb` of `b` in both directions: what one transmits, the
    /// other receives. Returns `false` if either port does not exist.
    pub fn connect(a: &EmbeddedSwitch, pa: u32, b: &EmbeddedSwitch, pb: u32) -> bool {
        let (Some(ha), Some(hb)) = (a.ports.get(&pa), b.ports.get(&pb)) else {
            return false;
        };
        *ha.peer.write().unwrap_or_else(|e| e.into_inner()) = Some((Arc::downgrade(&b.device), pb));
        *hb.peer.write().unwrap_or_else(|e| e.into_inner()) = Some((Arc::downgrade(&a.device), pa));
        true
    }

    /// Undoes [`EmbeddedSwitch::connect`] on one port (frames go to its handle again).
    pub fn disconnect(&self, port: u32) {
        if let Some(h) = self.ports.get(&port) {
            *h.peer.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

impl Drop for EmbeddedSwitch {
    fn drop(&mut self) {
        self.device.shutdown();
    }
}
