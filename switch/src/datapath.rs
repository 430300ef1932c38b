//! The datapath: one thread per switch that moves frames from ports through ingress, the
//! traffic manager, egress and link emulation, and out of ports again.
//!
//! Each round the thread (1) reads a batch from every AF_PACKET port with `recvmmsg` and takes
//! everything injected from other threads (in-process frames, packet-outs), (2) runs ingress on
//! the batch under one lock of the pipeline and queues the results, (3) takes every packet the
//! traffic manager lets go now and runs egress on them, (4) hands egress frames to the port's
//! emulated link or straight to the port, and (5) flushes each port's transmit batch with one
//! `sendmmsg`. When a round finds no work it sleeps in `ppoll` on the sockets and the injector's
//! eventfd, with a timeout set to the next queue or link deadline.
//!
//! The pipeline and the scheduler sit behind mutexes shared with the control plane (P4Runtime
//! writes, the control socket); the datapath takes each lock once per batch.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::control::Command;
use crate::pipeline::{Effects, Pipeline};
use crate::port::afpacket::{AfPacketError, AfPacketSocket};
use crate::port::wake::{fine_timer_slack, poll_readable};
use crate::port::{FrameSink, Injected, Injector, PortBinding};
use crate::sched::Scheduler;
use crate::tm::{Dequeued, Nanos, TmDrop};

/// Datapath settings.
#[derive(Clone, Debug)]
pub struct DatapathConfig {
    /// Priority queues per egress port (`--priority-queues`, 1 without it).
    pub priority_queues: usize,
    /// Frames read per port and per round.
    pub batch: usize,
    /// Seed of link-emulation randomness.
    pub seed: u64,
    /// Items that may wait in the injector between two rounds.
    pub inject_limit: usize,
}

impl Default for DatapathConfig {
    fn default() -> Self {
        Self {
            priority_queues: 1,
            batch: 64,
            seed: 0x5eed,
            inject_limit: 65_536,
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

/// Datapath-wide counters.
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
    /// Times the thread went to sleep.
    pub sleeps: AtomicU64,
    /// Linux thread id of the datapath thread (0 before it runs), for CPU-time accounting.
    pub thread_id: AtomicU64,
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

/// State shared between the datapath thread and the control plane.
pub struct Shared<P: Pipeline> {
    /// The loaded pipeline (`None`: frames are dropped).
    pub pipeline: Mutex<Option<P>>,
    /// Queues and links.
    pub sched: Mutex<Scheduler<P::Queued>>,
    /// Frames and packet-outs from other threads.
    pub injector: Injector<P::PacketOut>,
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

    /// Locks the scheduler.
    pub fn sched(&self) -> MutexGuard<'_, Scheduler<P::Queued>> {
        lock(&self.sched)
    }

    /// Replaces the pipeline. Packets queued under the old one are dropped, since their state
    /// belongs to the old program. The lock order is pipeline, then scheduler, everywhere.
    pub fn replace_pipeline(&self, pipeline: Option<P>) {
        let mut pipe = self.pipeline();
        let dropped = self.sched().tm.clear();
        if dropped > 0 {
            self.counters
                .tm_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        *pipe = pipeline;
    }

    /// Applies a control command; returns the reply line.
    pub fn control(&self, cmd: &Command) -> String {
        let reply = self.sched().apply(cmd);
        self.injector.wake();
        reply
    }

    /// Counters of one port.
    pub fn port_counters(&self, port: u32) -> PortCounters {
        lock(&self.ports).get(&port).copied().unwrap_or_default()
    }

    /// Asks the datapath thread to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.injector.wake();
    }
}

enum PortIo {
    Socket(Box<AfPacketSocket>),
    Sink(FrameSink),
}

struct Port {
    number: u32,
    io: PortIo,
    tx: Vec<Vec<u8>>,
}

/// A running datapath.
pub struct Datapath<P: Pipeline> {
    shared: Arc<Shared<P>>,
    thread: Option<JoinHandle<()>>,
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
    /// Opens the ports and starts the datapath thread. `events` receives everything the
    /// pipeline produces for the controller.
    pub fn start(
        config: DatapathConfig,
        pipeline: Option<P>,
        bindings: Vec<(u32, PortBinding)>,
        events: impl FnMut(P::Event) + Send + 'static,
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
            ports.push(Port {
                number,
                io,
                tx: Vec::new(),
            });
        }
        let shared = Arc::new(Shared {
            pipeline: Mutex::new(pipeline),
            sched: Mutex::new(Scheduler::new(config.priority_queues, config.seed)),
            injector: Injector::new(config.inject_limit)?,
            ports: Mutex::new(
                ports
                    .iter()
                    .map(|p| (p.number, PortCounters::default()))
                    .collect(),
            ),
            counters: DatapathCounters::default(),
            clock: Clock::new(),
            shutdown: AtomicBool::new(false),
        });
        let worker = Worker::new(shared.clone(), ports, config.batch, events);
        let thread = std::thread::Builder::new()
            .name("flash-datapath".into())
            .spawn(move || worker.run())?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// The state shared with the control plane.
    pub fn shared(&self) -> &Arc<Shared<P>> {
        &self.shared
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        self.shared.request_shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<P: Pipeline> Drop for Datapath<P> {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker<P: Pipeline, F> {
    shared: Arc<Shared<P>>,
    ports: Vec<Port>,
    index: BTreeMap<u32, usize>,
    batch: usize,
    fx: Effects<P::Queued, P::Event>,
    injected: Vec<Injected<P::PacketOut>>,
    dequeued: Vec<Dequeued<P::Queued>>,
    due: Vec<(u32, Vec<u8>)>,
    events: F,
    budget: usize,
}

impl<P: Pipeline, F: FnMut(P::Event)> Worker<P, F> {
    fn new(shared: Arc<Shared<P>>, ports: Vec<Port>, batch: usize, events: F) -> Self {
        let index = ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.number, i))
            .collect();
        Self {
            shared,
            ports,
            index,
            batch: batch.max(1),
            fx: Effects::default(),
            injected: Vec::new(),
            dequeued: Vec::new(),
            due: Vec::new(),
            events,
            budget: batch.max(1) * 4,
        }
    }

    fn run(mut self) {
        fine_timer_slack();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        self.shared
            .counters
            .thread_id
            .store(tid as u64, Ordering::Relaxed);
        let mut fds: Vec<RawFd> = vec![self.shared.injector.waker().as_raw_fd()];
        fds.extend(self.ports.iter().filter_map(|p| match &p.io {
            PortIo::Socket(s) => Some(s.as_raw_fd()),
            PortIo::Sink(_) => None,
        }));
        while !self.shared.shutdown.load(Ordering::Acquire) {
            let busy = self.round();
            if busy {
                self.shared
                    .counters
                    .busy_rounds
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let next = self.shared.sched().next_event();
            let now = self.shared.clock.now();
            let timeout = next.map(|t| t.saturating_sub(now));
            if timeout == Some(0) {
                continue;
            }
            self.shared.counters.sleeps.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = poll_readable(&fds, timeout) {
                tracing::error!(error = %e, "datapath poll failed");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        tracing::debug!("datapath stopped");
    }

    /// One round; returns whether it found any work.
    ///
    /// The pipeline lock is held from ingress until the last egress of the round, so that a
    /// packet never meets a pipeline other than the one that queued it.
    fn round(&mut self) -> bool {
        let mut busy = false;
        let shared = self.shared.clone();
        let mut pipe = shared.pipeline();
        if let Some(p) = pipe.as_mut() {
            p.begin_round(shared.clock.now());
        }
        // (1)+(2) receive and run ingress.
        for i in 0..self.ports.len() {
            let port = self.ports[i].number;
            let PortIo::Socket(sock) = &mut self.ports[i].io else {
                continue;
            };
            let before = sock.truncated;
            let fx = &mut self.fx;
            let received = match pipe.as_mut() {
                Some(p) => sock.recv_with(self.batch, |frame| p.ingress(port, frame, fx)),
                None => sock.recv_with(self.batch, |_| {}).inspect(|n| {
                    shared
                        .counters
                        .no_pipeline
                        .fetch_add(*n as u64, Ordering::Relaxed);
                }),
            };
            if sock.truncated != before {
                shared
                    .counters
                    .rx_truncated
                    .fetch_add(sock.truncated - before, Ordering::Relaxed);
            }
            let n = received.unwrap_or_else(|e| {
                tracing::warn!(port, error = %e, "receive failed");
                0
            });
            if n == 0 {
                continue;
            }
            busy = true;
            lock(&shared.ports).entry(port).or_default().rx += n as u64;
            self.settle_effects();
        }
        shared.injector.take(&mut self.injected);
        if !self.injected.is_empty() {
            busy = true;
            let mut counters = lock(&shared.ports);
            for item in self.injected.drain(..) {
                match (pipe.as_mut(), item) {
                    (Some(p), Injected::Frame { port, frame }) => {
                        counters.entry(port).or_default().rx += 1;
                        p.ingress(port, &frame, &mut self.fx);
                    }
                    (Some(p), Injected::PacketOut(po)) => p.packet_out(po, &mut self.fx),
                    (None, _) => {
                        shared.counters.no_pipeline.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            drop(counters);
            self.settle_effects();
        }
        // (3) dequeue and run egress, repeating while egress feeds the queues again.
        for _ in 0..4 {
            let now = shared.clock.now();
            shared
                .sched()
                .tm
                .dequeue_ready(now, self.budget, &mut self.dequeued);
            if self.dequeued.is_empty() {
                break;
            }
            if let Some(p) = pipe.as_mut() {
                p.begin_round(now);
            }
            busy = true;
            for d in self.dequeued.drain(..) {
                match pipe.as_mut() {
                    Some(p) => p.egress(d.port, d.item, d.meta, &mut self.fx),
                    None => {
                        shared.counters.no_pipeline.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            self.settle_effects();
        }
        drop(pipe);
        // (4) frames whose link delay is over.
        {
            let now = shared.clock.now();
            shared.sched().due_frames(now, &mut self.due);
        }
        for (port, frame) in self.due.drain(..) {
            busy = true;
            match self.index.get(&port) {
                Some(&i) => self.ports[i].tx.push(frame),
                None => lock(&shared.ports).entry(port).or_default().tx_dropped += 1,
            }
        }
        // (5) transmit.
        self.flush();
        busy
    }

    /// Queues what the pipeline produced, hands frames to links or ports, and passes events on.
    fn settle_effects(&mut self) {
        if self.fx.is_empty() {
            return;
        }
        let now = self.shared.clock.now();
        {
            let mut sched = self.shared.sched();
            for q in self.fx.queued.drain(..) {
                if let Err(e) = sched.tm.enqueue(q.port, q.priority, q.packet, q.len, now) {
                    self.shared
                        .counters
                        .tm_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    if let TmDrop::BadPriority { .. } = e {
                        tracing::trace!(error = %e, "dropped");
                    }
                }
            }
            for (port, frame) in self.fx.frames.drain(..) {
                if let Some(frame) = sched.to_link(port, frame, now) {
                    match self.index.get(&port) {
                        Some(&i) => self.ports[i].tx.push(frame),
                        None => lock(&self.shared.ports).entry(port).or_default().tx_dropped += 1,
                    }
                }
            }
        }
        for ev in self.fx.events.drain(..) {
            (self.events)(ev);
        }
    }

    fn flush(&mut self) {
        for port in &mut self.ports {
            if port.tx.is_empty() {
                continue;
            }
            let total = port.tx.len() as u64;
            let sent = match &mut port.io {
                PortIo::Socket(sock) => match sock.send_batch(&port.tx) {
                    Ok(n) => n as u64,
                    Err(e) => {
                        tracing::warn!(port = port.number, error = %e, "transmit failed");
                        0
                    }
                },
                PortIo::Sink(sink) => {
                    // Count first: the sink may hand the frame to another switch at once.
                    lock(&self.shared.ports).entry(port.number).or_default().tx += total;
                    for frame in port.tx.drain(..) {
                        sink(frame);
                    }
                    continue;
                }
            };
            port.tx.clear();
            let mut counters = lock(&self.shared.ports);
            let c = counters.entry(port.number).or_default();
            c.tx += sent;
            c.tx_dropped += total - sent;
        }
    }
}

#[cfg(test)]
mod tests;
