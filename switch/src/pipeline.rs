//! What the datapath needs from a packet-processing pipeline.
//!
//! The datapath runs a packet in two phases, as v1model does: [`Pipeline::ingress`] decides the
//! egress port and priority (or drops), the traffic manager queues the packet, and
//! [`Pipeline::egress`] runs when the packet leaves its queue, with the queueing metadata filled
//! in. Either phase may also produce events for the controller (packet-ins, digests), which the
//! datapath forwards without looking at them.
//!
//! The P4 engine implements this trait (see [`crate::engine`]); tests use small Rust pipelines.

use crate::tm::QueueMeta;

/// A packet that ingress sent to the traffic manager.
#[derive(Debug)]
pub struct ToQueue<Q> {
    /// Egress port chosen by ingress.
    pub port: u32,
    /// Priority (queue number) chosen by ingress.
    pub priority: u8,
    /// Frame length, for bit-rate accounting.
    pub len: usize,
    /// Whatever the pipeline needs to resume the packet in egress.
    pub packet: Q,
}

/// Where a pipeline puts what a packet produced.
#[derive(Debug)]
pub struct Effects<Q, E> {
    /// Packets for the traffic manager.
    pub queued: Vec<ToQueue<Q>>,
    /// Frames to transmit now: (port, frame).
    pub frames: Vec<(u32, Vec<u8>)>,
    /// Events for the controller.
    pub events: Vec<E>,
}

impl<Q, E> Default for Effects<Q, E> {
    fn default() -> Self {
        Self {
            queued: Vec::new(),
            frames: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<Q, E> Effects<Q, E> {
    /// Whether nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.frames.is_empty() && self.events.is_empty()
    }
}

/// A two-phase packet pipeline.
pub trait Pipeline: Send + 'static {
    /// A packet between ingress and egress.
    type Queued: Send + 'static;
    /// Something for the controller (a packet-in, a digest, ...).
    type Event: Send + 'static;
    /// A packet-out from the controller.
    type PacketOut: Send + 'static;

    /// Called once per datapath round before any packet, with the datapath clock (ns), so
    /// that a pipeline can timestamp the round's packets without reading the clock per packet.
    fn begin_round(&mut self, _now_ns: u64) {}

    /// Runs ingress on a frame that arrived on `port`.
    fn ingress(&mut self, port: u32, frame: &[u8], fx: &mut Effects<Self::Queued, Self::Event>);

    /// Runs egress on a packet that left its queue for `port`.
    fn egress(
        &mut self,
        port: u32,
        packet: Self::Queued,
        meta: QueueMeta,
        fx: &mut Effects<Self::Queued, Self::Event>,
    );

    /// Runs a controller packet-out (it enters as if received on the CPU port).
    fn packet_out(&mut self, packet: Self::PacketOut, fx: &mut Effects<Self::Queued, Self::Event>);
}
