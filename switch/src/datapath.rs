//! The datapath: one or more threads per switch that move frames from ports through ingress,
//! the traffic manager, egress and link emulation, and out of ports again.
//!
//! The ports are split into port groups, one per datapath thread ([`group`] has the rule). Each
//! round a thread (1) reads a batch from every AF_PACKET port of its group (PACKET_MMAP ring)
//! and takes everything other threads handed to it (in-process frames, packet-outs, frames for
//! its ports), (2) runs ingress on the batch and queues the results in the queues of the
//! packets' egress ports, whichever group owns them, (3) takes every packet its own queues let
//! go now and runs egress on them, (4) hands egress frames to the port's emulated link or
//! straight to the port, and (5) flushes each port's transmit batch with one `send`. When a
//! round finds no work the thread sleeps in `ppoll` on its sockets and its injector's eventfd,
//! with a timeout set to its next queue or link deadline; a thread that queues a packet for
//! another group's port wakes that group's thread.
//!
//! The pipeline's state (tables, registers, counters, meters, digests) is one engine instance
//! behind one mutex, shared by every datapath thread and the control plane. A thread holds it
//! from the ingress of its batch until the last egress of its round, so every packet sees one
//! consistent state, read-modify-write sequences on registers (the Bloom filter of
//! `flash_mesh.p4`) are never interleaved, and a packet never meets a pipeline other than the
//! one that queued it, exactly as with one thread. What runs in parallel is the rest of the
//! round: above all the transmit system calls, in which the kernel does the veth transmit and
//! the peer's receive. Lock order everywhere: pipeline, then at most one group's scheduler at
//! a time, then the port counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::control::Command;
use crate::link::LinkParams;
use crate::pipeline::Pipeline;
use crate::port::afpacket::{AfPacketError, AfPacketSocket};
use crate::port::{Injected, PortBinding};
use crate::sched::{PortReport, Scheduler};
use crate::tm::Nanos;

pub mod group;
mod worker;

use group::Groups;
use worker::{Port, PortIo, Worker};

/// Datapath settings.
#[derive(Clone, Debug)]
pub struct DatapathConfig {
    /// Priority queues per egress port (`--priority-queues`, 1 without it).
    pub priority_queues: usize,
    /// Frames read per port and per round.
    pub batch: usize,
    /// Seed of link-emulation randomness.
    pub seed: u64,
    /// Items that may wait in one thread's injector between two rounds.
    pub inject_limit: usize,
    /// Datapath threads, each serving one group of ports (`--datapath-threads`; clamped to
    /// 1 ..= the number of ports).
    pub threads: usize,
}

impl Default for DatapathConfig {
    fn default() -> Self {
        Self {
            priority_queues: 1,
            batch: 64,
            seed: 0x5eed,
            inject_limit: 65_536,
            threads: 1,
        }
    }
}

/// Counters of one port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortCounters {
    /// Frames received.
    pub rx: u64,
    /// Frames transmitted.
    pub tx: u64,
    /// Frames the port could not transmit (full transmit queue, no interface behind the port).
    pub tx_dropped: u64,
}

/// Datapath-wide counters (sums over the threads).
#[derive(Debug, Default)]
pub struct DatapathCounters {
    /// Frames dropped because no pipeline is loaded.
    pub no_pipeline: AtomicU64,
    /// Packets the traffic manager refused (full queue or bad priority).
    pub tm_dropped: AtomicU64,
    /// Items refused by a full injector.
    pub inject_dropped: AtomicU64,
    /// Frames too long for a receive buffer.
    pub rx_truncated: AtomicU64,
    /// Rounds that found work.
    pub busy_rounds: AtomicU64,
    /// Times a thread went to sleep.
    pub sleeps: AtomicU64,
    /// Rounds that found the pipeline held by another datapath thread (or the control plane)
    /// and waited for it.
    pub pipeline_waits: AtomicU64,
}

/// The monotonic clock of a datapath.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub fn now(&self) -> Nanos {
        self.base.elapsed().as_nanos() as Nanos
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// State shared between the datapath threads and the control plane.
pub struct Shared<P: Pipeline> {
    /// The loaded pipeline (`None`: frames are dropped).
    pub pipeline: Mutex<Option<P>>,
    /// Port groups: queues, links and injector of each datapath thread.
    pub groups: Groups<P::Queued, P::PacketOut>,
    /// Per-port counters.
    pub ports: Mutex<BTreeMap<u32, PortCounters>>,
    /// Datapath-wide counters.
    pub counters: DatapathCounters,
    /// The datapath's clock.
    pub clock: Clock,
    shutdown: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<P: Pipeline> Shared<P> {
    /// Locks the pipeline.
    pub fn pipeline(&self) -> MutexGuard<'_, Option<P>> {
        lock(&self.pipeline)
    }

    /// Locks the pipeline for a datapath round, counting a wait when someone else holds it.
    fn pipeline_for_round(&self) -> MutexGuard<'_, Option<P>> {
        match self.pipeline.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.counters.pipeline_waits.fetch_add(1, Ordering::Relaxed);
                self.pipeline()
            }
        }
    }

    /// Locks the scheduler (queues and link) that serves `port`.
    pub fn sched_of(&self, port: u32) -> MutexGuard<'_, Scheduler<P::Queued>> {
        self.groups.sched_of(port)
    }

    /// Replaces the pipeline. Packets queued under the old one are dropped, since their state
    /// belongs to the old program.
    pub fn replace_pipeline(&self, pipeline: Option<P>) {
        let mut pipe = self.pipeline();
        let dropped = self.groups.clear_queues();
        if dropped > 0 {
            self.counters
                .tm_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        *pipe = pipeline;
    }

    /// Applies a control command; returns the reply line.
    pub fn control(&self, cmd: &Command) -> String {
        self.groups.apply(cmd)
    }

    /// Sets the link emulation of an egress port.
    pub fn set_link(&self, port: u32, params: LinkParams) {
        self.groups.set_link(port, params);
    }

    /// Queue and link counters of a port.
    pub fn report(&self, port: u32) -> PortReport {
        self.groups.report(port)
    }

    /// Hands an item to the thread that serves it: a frame to its port's owner, a packet-out
    /// to group 0 (the CPU port's). Returns `false` (and drops the item) when that thread's
    /// injector is full, as a NIC drops on a full receive ring.
    pub fn inject(&self, item: Injected<P::PacketOut>) -> bool {
        let g = match &item {
            Injected::Frame { port, .. } | Injected::Transmit { port, .. } => {
                self.groups.owner(*port)
            }
            Injected::PacketOut(_) => 0,
        };
        self.groups.get(g).injector.push(item)
    }

    /// Counters of one port.
    pub fn port_counters(&self, port: u32) -> PortCounters {
        lock(&self.ports).get(&port).copied().unwrap_or_default()
    }

    /// Linux thread ids of the datapath threads, by group (0 for one not running yet).
    pub fn thread_ids(&self) -> Vec<u64> {
        self.groups
            .iter()
            .map(|g| g.thread_id.load(Ordering::Relaxed))
            .collect()
    }

    /// Asks the datapath threads to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.groups.wake_all();
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

/// A running datapath.
pub struct Datapath<P: Pipeline> {
    shared: Arc<Shared<P>>,
    threads: Vec<JoinHandle<()>>,
}

/// Errors starting a datapath.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    /// A port's interface could not be opened.
    #[error(transparent)]
    Port(#[from] AfPacketError),
    /// Two bindings for one port number.
    #[error("port {0} is bound twice")]
    DuplicatePort(u32),
    /// The OS refused a resource (eventfd, thread).
    #[error("datapath setup: {0}")]
    Io(#[from] std::io::Error),
}

impl<P: Pipeline> Datapath<P> {
    /// Opens the ports and starts the datapath threads (`config.threads`, one per port group).
    /// `events` receives everything the pipeline produces for the controller, from whichever
    /// thread ran the packet.
    pub fn start(
        config: DatapathConfig,
        pipeline: Option<P>,
        bindings: Vec<(u32, PortBinding)>,
        events: impl Fn(P::Event) + Send + Sync + 'static,
    ) -> Result<Self, DatapathError> {
        let mut ports = Vec::new();
        for (number, binding) in bindings {
            if ports.iter().any(|p: &Port| p.number == number) {
                return Err(DatapathError::DuplicatePort(number));
            }
            let io = match binding {
                PortBinding::Interface(name) => {
                    PortIo::Socket(Box::new(AfPacketSocket::open(&name)?))
                }
                PortBinding::InProcess(sink) => PortIo::Sink(sink),
            };
            ports.push(Port::new(number, io));
        }
        let numbers: Vec<u32> = ports.iter().map(|p| p.number).collect();
        let groups = Groups::new(
            &numbers,
            config.threads,
            config.priority_queues,
            config.seed,
            config.inject_limit,
        )?;
        let shared = Arc::new(Shared {
            pipeline: Mutex::new(pipeline),
            groups,
            ports: Mutex::new(
                numbers
                    .iter()
                    .map(|p| (*p, PortCounters::default()))
                    .collect(),
            ),
            counters: DatapathCounters::default(),
            clock: Clock::new(),
            shutdown: AtomicBool::new(false),
        });
        let events = Arc::new(events);
        let mut datapath = Self {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        for g in 0..shared.groups.len() {
            let members = &shared.groups.get(g).ports;
            let (mine, rest) = ports.into_iter().partition(|p| members.contains(&p.number));
            ports = rest;
            let worker = Worker::new(shared.clone(), g, mine, config.batch, events.clone());
            let thread = std::thread::Builder::new()
                .name(format!("flash-dp{g}"))
                .spawn(move || worker.run());
            match thread {
                Ok(t) => datapath.threads.push(t),
                // Dropping `datapath` stops the threads already started.
                Err(e) => return Err(e.into()),
            }
        }
        Ok(datapath)
    }

    /// The state shared with the control plane.
    pub fn shared(&self) -> &Arc<Shared<P>> {
        &self.shared
    }

    /// Stops the threads and waits for them.
    pub fn stop(&mut self) {
        self.shared.request_shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl<P: Pipeline> Drop for Datapath<P> {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
