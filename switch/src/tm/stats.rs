//! Counters kept by the traffic manager for every port and queue.

use serde::Serialize;

/// Counters of one priority queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Packets accepted into the queue.
    pub enqueued: u64,
    /// Packets that left the queue towards egress.
    pub dequeued: u64,
    /// Packets dropped because the queue was full.
    pub dropped_full: u64,
    /// Packets in the queue now.
    pub depth: u64,
    /// Largest depth seen.
    pub max_depth: u64,
}

/// Counters of one egress port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortStats {
    /// Packets dropped because their priority had no queue.
    pub dropped_bad_priority: u64,
    /// Per-queue counters, index = priority.
    pub queues: Vec<QueueStats>,
}
