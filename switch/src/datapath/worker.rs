//! One datapath thread: the round loop over the ports of one port group (see the
//! [datapath](super) documentation for the steps of a round and the locking rules).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Shared, lock};
use crate::pipeline::{Effects, Pipeline, ToQueue};
use crate::port::afpacket::AfPacketSocket;
use crate::port::wake::{fine_timer_slack, poll_readable};
use crate::port::{FrameSink, Injected};
use crate::tm::{Dequeued, TmDrop};

/// How a port moves frames.
pub(super) enum PortIo {
    /// A Linux interface.
    Socket(Box<AfPacketSocket>),
    /// An in-process port: transmitted frames go to the sink.
    Sink(FrameSink),
}

/// A port as its thread holds it, with the round's transmit batch.
pub(super) struct Port {
    pub(super) number: u32,
    io: PortIo,
    tx: Vec<Vec<u8>>,
}

impl Port {
    pub(super) fn new(number: u32, io: PortIo) -> Self {
        Self {
            number,
            io,
            tx: Vec::new(),
        }
    }
}

/// The thread of port group `group`.
pub(super) struct Worker<P: Pipeline, F> {
    shared: Arc<Shared<P>>,
    group: usize,
    ports: Vec<Port>,
    index: BTreeMap<u32, usize>,
    batch: usize,
    fx: Effects<P::Queued, P::Event>,
    injected: Vec<Injected<P::PacketOut>>,
    dequeued: Vec<Dequeued<P::Queued>>,
    due: Vec<(u32, Vec<u8>)>,
    /// Packets for the traffic manager, sorted by the group that owns their port.
    by_group: Vec<Vec<ToQueue<P::Queued>>>,
    events: Arc<F>,
    budget: usize,
}

impl<P: Pipeline, F: Fn(P::Event)> Worker<P, F> {
    pub(super) fn new(
        shared: Arc<Shared<P>>,
        group: usize,
        ports: Vec<Port>,
        batch: usize,
        events: Arc<F>,
    ) -> Self {
        let index = ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.number, i))
            .collect();
        let by_group = (0..shared.groups.len()).map(|_| Vec::new()).collect();
        Self {
            shared,
            group,
            ports,
            index,
            batch: batch.max(1),
            fx: Effects::default(),
            injected: Vec::new(),
            dequeued: Vec::new(),
            due: Vec::new(),
            by_group,
            events,
            budget: batch.max(1) * 4,
        }
    }

    pub(super) fn run(mut self) {
        fine_timer_slack();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let group = self.shared.groups.get(self.group);
        group.thread_id.store(tid as u64, Ordering::Relaxed);
        let mut fds: Vec<RawFd> = vec![group.injector.waker().as_raw_fd()];
        fds.extend(self.ports.iter().filter_map(|p| match &p.io {
            PortIo::Socket(s) => Some(s.as_raw_fd()),
            PortIo::Sink(_) => None,
        }));
        while !self.shared.stopping() {
            let busy = self.round();
            if busy {
                self.shared
                    .counters
                    .busy_rounds
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let next = self.shared.groups.sched(self.group).next_event();
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
        tracing::debug!(group = self.group, "datapath thread stopped");
    }

    /// One round; returns whether it found any work.
    ///
    /// The pipeline lock is held from ingress until the last egress of the round, so that a
    /// packet never meets a pipeline other than the one that queued it.
    fn round(&mut self) -> bool {
        let mut busy = false;
        let shared = self.shared.clone();
        let mut pipe = shared.pipeline_for_round();
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
        shared
            .groups
            .get(self.group)
            .injector
            .take(&mut self.injected);
        if !self.injected.is_empty() {
            busy = true;
            let mut counters = lock(&shared.ports);
            for item in self.injected.drain(..) {
                match (pipe.as_mut(), item) {
                    (_, Injected::Transmit { port, frame }) => self.fx.frames.push((port, frame)),
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
                .groups
                .sched(self.group)
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
            shared
                .groups
                .sched(self.group)
                .due_frames(now, &mut self.due);
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

    /// Queues what the pipeline produced (in the queues of the group that owns each egress
    /// port, waking that group), hands frames for this group's ports to their links or ports
    /// and others to their owners, and passes events on.
    fn settle_effects(&mut self) {
        if self.fx.is_empty() {
            return;
        }
        let shared = &*self.shared;
        let now = shared.clock.now();
        for q in self.fx.queued.drain(..) {
            self.by_group[shared.groups.owner(q.port)].push(q);
        }
        for (g, queued) in self.by_group.iter_mut().enumerate() {
            if queued.is_empty() {
                continue;
            }
            let mut sched = shared.groups.sched(g);
            for q in queued.drain(..) {
                if let Err(e) = sched.tm.enqueue(q.port, q.priority, q.packet, q.len, now) {
                    shared.counters.tm_dropped.fetch_add(1, Ordering::Relaxed);
                    if let TmDrop::BadPriority { .. } = e {
                        tracing::trace!(error = %e, "dropped");
                    }
                }
            }
            drop(sched);
            if g != self.group {
                shared.groups.get(g).injector.wake();
            }
        }
        if !self.fx.frames.is_empty() {
            let mut sched = shared.groups.sched(self.group);
            for (port, frame) in self.fx.frames.drain(..) {
                let owner = shared.groups.owner(port);
                if owner != self.group {
                    if !shared.inject(Injected::Transmit { port, frame }) {
                        shared
                            .counters
                            .inject_dropped
                            .fetch_add(1, Ordering::Relaxed);
                        lock(&shared.ports).entry(port).or_default().tx_dropped += 1;
                    }
                    continue;
                }
                if let Some(frame) = sched.to_link(port, frame, now) {
                    match self.index.get(&port) {
                        Some(&i) => self.ports[i].tx.push(frame),
                        None => lock(&shared.ports).entry(port).or_default().tx_dropped += 1,
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
