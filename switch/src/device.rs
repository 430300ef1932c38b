//! The device: one flash-switch instance as the P4Runtime service sees it.
//!
//! A [`Device`] owns the datapath threads and their ports and holds the switch's identity (device
//! id, CPU port, priority-queue count). The P4Runtime service and other control code use it to:
//!
//! * load a program: [`Device::set_pipeline`] replaces the engine [`Switch`] with a fresh
//!   instance (empty tables, zeroed counters and registers), atomically for the datapath;
//! * read and write run-time state: [`Device::with_switch`] runs a closure on the engine under
//!   the datapath's lock (keep it short: packets wait meanwhile);
//! * send packet-outs: [`Device::packet_out`] checks the metadata, builds the controller
//!   header and injects the frame on the CPU port, where ingress runs on it as in BMv2;
//! * receive packet-ins and digests: [`Device::subscribe_packet_ins`] and
//!   [`Device::subscribe_digests`] return tokio broadcast receivers (a receiver that falls more
//!   than [`EVENT_BUFFER`] messages behind loses the oldest, and learns it through
//!   `RecvError::Lagged`);
//! * change queues and links at run time: [`Device::control`] (the text commands of
//!   [`crate::control`]) or [`Device::set_link`].
//!
//! Ports are fixed when the device starts (`-i N@IFACE` or in-process ports, see
//! [`crate::embed`]).

use std::sync::Arc;

use flashmesh_p4::exec::{DigestMessage, PacketIn, StateError, Switch, SwitchConfig};
use flashmesh_p4::ir::Program;
use tokio::sync::broadcast;

use crate::control::Command;
use crate::datapath::{Datapath, DatapathConfig, DatapathError, PortCounters, Shared};
use crate::engine::DeviceEvent;
use crate::link::{LinkError, LinkParams};
use crate::port::{Injected, PortBinding};
use crate::sched::PortReport;

/// Messages a slow subscriber may fall behind before it loses the oldest.
pub const EVENT_BUFFER: usize = 4096;

/// Identity and settings of a device.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// P4Runtime device id (`--device-id`).
    pub device_id: u64,
    /// The CPU port (`--cpu-port`); packet-outs enter here and packets sent here become
    /// packet-ins. BMv2 disables packet I/O without the flag; flash-switch uses 255 by default.
    pub cpu_port: u32,
    /// Priority queues per port (`--priority-queues`, 1 without the flag).
    pub priority_queues: u8,
    /// Datapath tuning (threads, batch size, link-emulation seed).
    pub datapath: DatapathConfig,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            device_id: 0,
            cpu_port: 255,
            priority_queues: 1,
            datapath: DatapathConfig::default(),
        }
    }
}

/// Errors of device operations.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The datapath could not start.
    #[error(transparent)]
    Datapath(#[from] DatapathError),
    /// No program is loaded.
    #[error("no forwarding pipeline is set")]
    NoPipeline,
    /// The engine refused (bad packet-out metadata, ...).
    #[error(transparent)]
    State(#[from] StateError),
    /// The datapath's injection queue is full.
    #[error("the datapath is overloaded; packet-out dropped")]
    Overloaded,
    /// Invalid link parameters.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// One running switch.
pub struct Device {
    config: DeviceConfig,
    datapath: std::sync::Mutex<Datapath<Switch>>,
    shared: Arc<Shared<Switch>>,
    packet_ins: broadcast::Sender<PacketIn>,
    digests: broadcast::Sender<DigestMessage>,
}

impl Device {
    /// Starts a device on `ports`, optionally with a program already loaded.
    pub fn start(
        config: DeviceConfig,
        program: Option<Arc<Program>>,
        ports: Vec<(u32, PortBinding)>,
    ) -> Result<Arc<Self>, DeviceError> {
        let (packet_ins, _) = broadcast::channel(EVENT_BUFFER);
        let (digests, _) = broadcast::channel(EVENT_BUFFER);
        let (pi_tx, dg_tx) = (packet_ins.clone(), digests.clone());
        let events = move |ev: DeviceEvent| match ev {
            DeviceEvent::PacketIn(pi) => drop(pi_tx.send(pi)),
            DeviceEvent::Digest(d) => drop(dg_tx.send(d)),
        };
        let mut dp_config = config.datapath.clone();
        dp_config.priority_queues = usize::from(config.priority_queues.max(1));
        let switch = program.map(|p| Switch::new(p, engine_config(&config)));
        let datapath = Datapath::start(dp_config, switch, ports, events)?;
        let shared = datapath.shared().clone();
        Ok(Arc::new(Self {
            config,
            datapath: std::sync::Mutex::new(datapath),
            shared,
            packet_ins,
            digests,
        }))
    }

    /// The P4Runtime device id.
    pub fn device_id(&self) -> u64 {
        self.config.device_id
    }

    /// The CPU port.
    pub fn cpu_port(&self) -> u32 {
        self.config.cpu_port
    }

    /// Priority queues per port.
    pub fn priority_queues(&self) -> u8 {
        self.config.priority_queues
    }

    /// The device's settings.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Loads `program` with fresh state, replacing any previous pipeline. Packets queued under
    /// the old program are dropped.
    pub fn set_pipeline(&self, program: Arc<Program>) {
        let fresh = Switch::new(program, engine_config(&self.config));
        self.shared.replace_pipeline(Some(fresh));
    }

    /// Unloads the pipeline: frames are dropped until the next [`Device::set_pipeline`].
    pub fn clear_pipeline(&self) {
        self.shared.replace_pipeline(None);
    }

    /// The loaded program, if any.
    pub fn program(&self) -> Option<Arc<Program>> {
        self.shared
            .pipeline()
            .as_ref()
            .map(|sw| sw.program().clone())
    }

    /// Runs `f` on the engine (`None` when no pipeline is set) under the datapath's lock.
    pub fn with_switch<R>(&self, f: impl FnOnce(Option<&mut Switch>) -> R) -> R {
        let mut guard = self.shared.pipeline();
        f(guard.as_mut())
    }

    /// Injects a controller packet-out: `metadata` is `(packet_out metadata id, canonical
    /// bytes)`, `payload` the frame after the controller header.
    pub fn packet_out(
        &self,
        metadata: &[(u32, Vec<u8>)],
        payload: &[u8],
    ) -> Result<(), DeviceError> {
        let frame = self.with_switch(|sw| match sw {
            Some(sw) => sw
                .packet_out_frame(metadata, payload)
                .map_err(DeviceError::from),
            None => Err(DeviceError::NoPipeline),
        })?;
        if self.shared.inject(Injected::PacketOut(frame)) {
            Ok(())
        } else {
            self.shared
                .counters
                .inject_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(DeviceError::Overloaded)
        }
    }

    /// Injects a frame as if it arrived on `port` (in-process ports, tests). Returns `false`
    /// when the datapath's injection queue is full and the frame was dropped.
    pub fn inject_frame(&self, port: u32, frame: Vec<u8>) -> bool {
        let ok = self.shared.inject(Injected::Frame { port, frame });
        if !ok {
            self.shared
                .counters
                .inject_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// A receiver of every packet-in from now on.
    pub fn subscribe_packet_ins(&self) -> broadcast::Receiver<PacketIn> {
        self.packet_ins.subscribe()
    }

    /// A receiver of every digest from now on.
    pub fn subscribe_digests(&self) -> broadcast::Receiver<DigestMessage> {
        self.digests.subscribe()
    }

    /// Applies a run-time control command (see [`crate::control`]); returns the reply line.
    pub fn control(&self, cmd: &Command) -> String {
        self.shared.control(cmd)
    }

    /// Sets the link emulation of an egress port.
    pub fn set_link(&self, port: u32, params: LinkParams) -> Result<(), DeviceError> {
        params.validate()?;
        self.shared.set_link(port, params);
        Ok(())
    }

    /// Queue and link counters of a port.
    pub fn port_report(&self, port: u32) -> PortReport {
        self.shared.report(port)
    }

    /// Receive/transmit counters of a port.
    pub fn port_counters(&self, port: u32) -> PortCounters {
        self.shared.port_counters(port)
    }

    /// The datapath's shared state (counters, port groups), for diagnostics and benchmarks.
    pub fn datapath(&self) -> &Arc<Shared<Switch>> {
        &self.shared
    }

    /// Stops the datapath threads (also done on drop).
    pub fn shutdown(&self) {
        self.datapath
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stop();
    }
}

fn engine_config(config: &DeviceConfig) -> SwitchConfig {
    SwitchConfig {
        cpu_port: config.cpu_port,
        priority_queues: config.priority_queues.max(1),
        ..SwitchConfig::default()
    }
}
