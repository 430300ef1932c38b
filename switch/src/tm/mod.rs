//! The traffic manager: per egress port, strict-priority queues between ingress and egress.
//!
//! Each egress port has `N` queues (the `--priority-queues` count, 1 without it). A packet with
//! priority `p` goes to queue `p`; a priority `>= N` is dropped, as BMv2 does. Queues are served
//! highest number first. Two kinds of rate limit exist, with different meanings:
//!
//! * **per-queue rate** (`set_queue_rate`, packets/s) limits each queue on its own, exactly as
//!   BMv2's `set_queue_rate` does: a port whose queues are each limited to 3000 pps sends up to
//!   3000 pps from *every* busy queue, so a busy high queue never starves a low one;
//! * **port rate** (link emulation, packets/s and/or bits/s) is shared by all queues of the
//!   port and handed out in strict priority order, like a radio link of fixed capacity.
//!
//! Queue depth (`set_queue_depth`) bounds each queue in packets; an arrival that finds its
//! queue full is tail-dropped and counted.
//!
//! The code is pure: every operation takes the current time in nanoseconds (`now`), so tests
//! drive it with a hand-held clock.

mod rate;
mod stats;

pub use rate::Pacer;
pub use stats::{PortStats, QueueStats};

use std::collections::{BTreeMap, VecDeque};

/// Nanoseconds on the datapath's monotonic clock.
pub type Nanos = u64;

/// BMv2's default queue depth, in packets.
pub const DEFAULT_QUEUE_DEPTH: usize = 64;

/// Largest number of priority queues per port (v1model's `priority` is 3 bits).
pub const MAX_PRIORITY_QUEUES: usize = 8;

/// Settings of one priority queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueConfig {
    /// Largest number of packets the queue holds.
    pub depth: usize,
    /// Largest departure rate of this queue alone, packets per second (`None`: unlimited).
    pub rate_pps: Option<f64>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            depth: DEFAULT_QUEUE_DEPTH,
            rate_pps: None,
        }
    }
}

/// The shared capacity of an egress port, served in strict priority order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PortRate {
    /// Packets per second (`None`: unlimited).
    pub pps: Option<f64>,
    /// Bits per second of frame data (`None`: unlimited).
    pub bps: Option<f64>,
}

impl PortRate {
    /// Whether the port has any shared limit.
    pub fn is_limited(&self) -> bool {
        self.pps.is_some() || self.bps.is_some()
    }

    /// How long the port is busy sending a frame of `len` bytes.
    fn service_time(&self, len: usize) -> Nanos {
        let by_pps = self.pps.map_or(0, rate::interval_for_pps);
        let by_bps = self.bps.map_or(0, |bps| {
            if bps <= 0.0 {
                Nanos::MAX / 4
            } else {
                ((len as f64 * 8.0) * 1e9 / bps) as Nanos
            }
        });
        by_pps.max(by_bps)
    }
}

/// Why the traffic manager refused a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TmDrop {
    /// The priority has no queue on this switch.
    #[error("priority {priority} has no queue (the switch has {queues})")]
    BadPriority {
        /// The packet's priority.
        priority: u8,
        /// Queues per port.
        queues: usize,
    },
    /// The packet's queue was full.
    #[error("queue {priority} of port {port} is full")]
    QueueFull {
        /// Egress port.
        port: u32,
        /// Queue.
        priority: u8,
    },
}

/// Queueing facts about a packet, handed to the egress pipeline (v1model `standard_metadata`
/// queueing fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueMeta {
    /// Enqueue time in microseconds on the datapath clock (`enq_timestamp`).
    pub enq_timestamp_us: u32,
    /// Packets already in the packet's queue when it arrived (`enq_qdepth`).
    pub enq_qdepth: u32,
    /// Packets left in the packet's queue when it departed (`deq_qdepth`).
    pub deq_qdepth: u32,
    /// Time spent queued, microseconds (`deq_timedelta`).
    pub deq_timedelta_us: u32,
    /// The queue (priority) the packet was served from.
    pub priority: u8,
}

/// A packet leaving the traffic manager towards egress.
#[derive(Debug)]
pub struct Dequeued<T> {
    /// Egress port.
    pub port: u32,
    /// The queued item.
    pub item: T,
    /// Frame length used for bit-rate accounting.
    pub len: usize,
    /// Queueing metadata for egress.
    pub meta: QueueMeta,
}

struct Waiting<T> {
    item: T,
    len: usize,
    enq_time: Nanos,
    enq_depth: u32,
}

struct Queue<T> {
    config: QueueConfig,
    pacer: Pacer,
    packets: VecDeque<Waiting<T>>,
    stats: QueueStats,
}

impl<T> Queue<T> {
    fn new(config: QueueConfig) -> Self {
        Self {
            config,
            pacer: Pacer::default(),
            packets: VecDeque::new(),
            stats: QueueStats::default(),
        }
    }

    /// Earliest time this queue may send, if it holds a packet.
    fn ready_at(&self) -> Option<Nanos> {
        if self.packets.is_empty() {
            None
        } else {
            Some(self.pacer.next_allowed())
        }
    }
}

struct PortTm<T> {
    queues: Vec<Queue<T>>,
    rate: PortRate,
    pacer: Pacer,
    stats: PortStats,
}

impl<T> PortTm<T> {
    fn new(queues: usize, config: QueueConfig, rate: PortRate) -> Self {
        Self {
            queues: (0..queues).map(|_| Queue::new(config)).collect(),
            rate,
            pacer: Pacer::default(),
            stats: PortStats::default(),
        }
    }

    fn backlog(&self) -> usize {
        self.queues.iter().map(|q| q.packets.len()).sum()
    }

    /// Earliest time the port could send something, if anything is queued.
    fn ready_at(&self) -> Option<Nanos> {
        let queue_ready = self.queues.iter().filter_map(Queue::ready_at).min()?;
        Some(if self.rate.is_limited() {
            queue_ready.max(self.pacer.next_allowed())
        } else {
            queue_ready
        })
    }

    /// Takes the packet to send now, highest eligible queue first.
    fn pop(&mut self, now: Nanos) -> Option<(u8, Waiting<T>)> {
        if self.rate.is_limited() && self.pacer.next_allowed() > now {
            return None;
        }
        let (idx, queue) = self
            .queues
            .iter_mut()
            .enumerate()
            .rev()
            .find(|(_, q)| q.ready_at().is_some_and(|t| t <= now))?;
        let waiting = queue.packets.pop_front()?;
        if let Some(pps) = queue.config.rate_pps {
            queue.pacer.consume(now, rate::interval_for_pps(pps));
        }
        queue.stats.dequeued += 1;
        if self.rate.is_limited() {
            let service = self.rate.service_time(waiting.len);
            self.pacer.consume(now, service);
        }
        Some((idx as u8, waiting))
    }
}

/// The traffic manager of one switch: queues for every egress port.
pub struct TrafficManager<T> {
    queues_per_port: usize,
    default_queue: QueueConfig,
    ports: BTreeMap<u32, PortTm<T>>,
    /// Port served first in the next round, for fairness between ports.
    cursor: u32,
}

impl<T> TrafficManager<T> {
    /// A traffic manager with `queues_per_port` priority queues on every port (clamped to 1..=8).
    pub fn new(queues_per_port: usize) -> Self {
        Self {
            queues_per_port: queues_per_port.clamp(1, MAX_PRIORITY_QUEUES),
            default_queue: QueueConfig::default(),
            ports: BTreeMap::new(),
            cursor: 0,
        }
    }

    /// Priority queues per port.
    pub fn queues_per_port(&self) -> usize {
        self.queues_per_port
    }

    fn port_mut(&mut self, port: u32) -> &mut PortTm<T> {
        let (n, cfg) = (self.queues_per_port, self.default_queue);
        self.ports
            .entry(port)
            .or_insert_with(|| PortTm::new(n, cfg, PortRate::default()))
    }

    /// Sets the depth of every queue of every port, now and for ports seen later
    /// (BMv2 `set_queue_depth DEPTH`).
    pub fn set_depth_all(&mut self, depth: usize) {
        self.default_queue.depth = depth;
        for port in self.ports.values_mut() {
            port.queues.iter_mut().for_each(|q| q.config.depth = depth);
        }
    }

    /// Sets the per-queue rate of every queue of every port (BMv2 `set_queue_rate RATE`).
    pub fn set_rate_all(&mut self, pps: Option<f64>) {
        self.default_queue.rate_pps = pps;
        for port in self.ports.values_mut() {
            port.queues.iter_mut().for_each(|q| q.config.rate_pps = pps);
        }
    }

    /// Sets the depth of one port's queues: one queue if `priority` is given, else all of them
    /// (BMv2 `set_queue_depth DEPTH PORT [PRIORITY]`).
    pub fn set_depth(&mut self, port: u32, priority: Option<u8>, depth: usize) {
        self.update_queues(port, priority, |q| q.depth = depth);
    }

    /// Sets the rate of one port's queues, packets/s (BMv2 `set_queue_rate RATE PORT [PRIORITY]`).
    pub fn set_rate(&mut self, port: u32, priority: Option<u8>, pps: Option<f64>) {
        self.update_queues(port, priority, |q| q.rate_pps = pps);
    }

    fn update_queues(&mut self, port: u32, priority: Option<u8>, f: impl Fn(&mut QueueConfig)) {
        let tm = self.port_mut(port);
        for (i, q) in tm.queues.iter_mut().enumerate() {
            if priority.is_none_or(|p| usize::from(p) == i) {
                f(&mut q.config);
            }
        }
    }

    /// Sets the shared rate of a port (link emulation).
    pub fn set_port_rate(&mut self, port: u32, rate: PortRate) {
        self.port_mut(port).rate = rate;
    }

    /// The shared rate of a port.
    pub fn port_rate(&self, port: u32) -> PortRate {
        self.ports.get(&port).map(|p| p.rate).unwrap_or_default()
    }

    /// The settings of one queue.
    pub fn queue_config(&self, port: u32, priority: u8) -> QueueConfig {
        self.ports
            .get(&port)
            .and_then(|p| p.queues.get(usize::from(priority)))
            .map_or(self.default_queue, |q| q.config)
    }

    /// Queues a packet of `len` bytes for `port` at `priority`.
    pub fn enqueue(
        &mut self,
        port: u32,
        priority: u8,
        item: T,
        len: usize,
        now: Nanos,
    ) -> Result<(), TmDrop> {
        let queues = self.queues_per_port;
        let tm = self.port_mut(port);
        let Some(queue) = tm.queues.get_mut(usize::from(priority)) else {
            tm.stats.dropped_bad_priority += 1;
            return Err(TmDrop::BadPriority { priority, queues });
        };
        if queue.packets.len() >= queue.config.depth {
            queue.stats.dropped_full += 1;
            return Err(TmDrop::QueueFull { port, priority });
        }
        let enq_depth = queue.packets.len() as u32;
        queue.packets.push_back(Waiting {
            item,
            len,
            enq_time: now,
            enq_depth,
        });
        queue.stats.enqueued += 1;
        queue.stats.max_depth = queue.stats.max_depth.max(queue.packets.len() as u64);
        Ok(())
    }

    /// Moves up to `budget` packets that may leave at `now` into `out`, serving ports in turn
    /// and each port's queues in strict priority order. Returns how many were moved.
    pub fn dequeue_ready(
        &mut self,
        now: Nanos,
        budget: usize,
        out: &mut Vec<Dequeued<T>>,
    ) -> usize {
        let mut moved = 0;
        let start = self.cursor;
        let ports: Vec<u32> = self
            .ports
            .range(start..)
            .chain(self.ports.range(..start))
            .filter(|(_, p)| p.backlog() > 0)
            .map(|(p, _)| *p)
            .collect();
        loop {
            let mut progress = false;
            for &port in &ports {
                if moved >= budget {
                    self.cursor = port;
                    return moved;
                }
                let tm = self.ports.get_mut(&port).expect("port listed above");
                if let Some((priority, w)) = tm.pop(now) {
                    let deq_depth = tm.queues[usize::from(priority)].packets.len() as u32;
                    out.push(Dequeued {
                        port,
                        item: w.item,
                        len: w.len,
                        meta: QueueMeta {
                            enq_timestamp_us: (w.enq_time / 1000) as u32,
                            enq_qdepth: w.enq_depth,
                            deq_qdepth: deq_depth,
                            deq_timedelta_us: (now.saturating_sub(w.enq_time) / 1000) as u32,
                            priority,
                        },
                    });
                    moved += 1;
                    progress = true;
                }
            }
            if !progress || moved >= budget {
                return moved;
            }
        }
    }

    /// The earliest time at which some queued packet may leave (`None` when all queues are
    /// empty). A value `<= now` means packets are ready now.
    pub fn next_ready(&self) -> Option<Nanos> {
        self.ports.values().filter_map(PortTm::ready_at).min()
    }

    /// Drops every queued packet (when the pipeline they belong to is replaced). Returns how
    /// many were dropped.
    pub fn clear(&mut self) -> usize {
        let mut n = 0;
        for port in self.ports.values_mut() {
            for q in &mut port.queues {
                n += q.packets.len();
                q.packets.clear();
            }
        }
        n
    }

    /// Packets waiting in all queues.
    pub fn backlog(&self) -> usize {
        self.ports.values().map(PortTm::backlog).sum()
    }

    /// Statistics of one port (`None` if the port never saw a packet or a setting).
    pub fn port_stats(&self, port: u32) -> Option<PortStats> {
        self.ports.get(&port).map(|p| {
            let mut stats = p.stats.clone();
            stats.queues = p
                .queues
                .iter()
                .map(|q| QueueStats {
                    depth: q.packets.len() as u64,
                    ..q.stats
                })
                .collect();
            stats
        })
    }

    /// Ports the traffic manager knows, in order.
    pub fn ports(&self) -> Vec<u32> {
        self.ports.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests;
