//! The P4 engine ([`flashmesh_p4::exec::Switch`]) as a datapath [`Pipeline`].
//!
//! Ingress and egress map one to one onto the engine's two phases. A packet-out arrives as the
//! frame the engine built from the controller metadata and enters ingress on the CPU port, as
//! in BMv2. Packet-ins (egress to the CPU port) and digests become [`DeviceEvent`]s.

use flashmesh_p4::exec::{
    DigestMessage, EgressOutcome, IngressOutcome, PacketIn, QueueMeta, QueuedPacket, Switch,
};

use crate::pipeline::{Effects, Pipeline, ToQueue};
use crate::tm;

/// Something the switch tells the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A packet for the controller.
    PacketIn(PacketIn),
    /// A digest message.
    Digest(DigestMessage),
}

fn engine_meta(meta: tm::QueueMeta) -> QueueMeta {
    QueueMeta {
        enq_qdepth: meta.enq_qdepth,
        deq_qdepth: meta.deq_qdepth,
        deq_timedelta: meta.deq_timedelta_us,
        enq_timestamp: meta.enq_timestamp_us,
    }
}

fn collect_digests(sw: &mut Switch, fx: &mut Effects<QueuedPacket, DeviceEvent>) {
    for d in sw.take_digests() {
        fx.events.push(DeviceEvent::Digest(d));
    }
}

fn run_ingress(
    sw: &mut Switch,
    port: u32,
    frame: &[u8],
    fx: &mut Effects<QueuedPacket, DeviceEvent>,
) {
    // `ingress_all` also yields the replicas of a multicast packet; the scratch list is
    // reused between packets so the hot path does not allocate.
    INGRESS_OUTCOMES.with_borrow_mut(|outcomes| {
        outcomes.clear();
        sw.ingress_all(port, frame, outcomes);
        for outcome in outcomes.drain(..) {
            if let IngressOutcome::Queued(q) = outcome {
                fx.queued.push(ToQueue {
                    port: q.egress_port,
                    priority: q.priority,
                    len: q.frame_len(),
                    packet: q,
                });
            }
        }
    });
    collect_digests(sw, fx);
}

thread_local! {
    static INGRESS_OUTCOMES: std::cell::RefCell<Vec<IngressOutcome>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Pipeline for Switch {
    type Queued = QueuedPacket;
    type Event = DeviceEvent;
    /// The complete frame (controller header + payload) to inject on the CPU port.
    type PacketOut = Vec<u8>;

    /// The engine's timestamps (`ingress_global_timestamp`, meters) follow the datapath clock,
    /// set once per round.
    fn begin_round(&mut self, now_ns: u64) {
        self.set_time_ns(now_ns);
    }

    fn ingress(&mut self, port: u32, frame: &[u8], fx: &mut Effects<QueuedPacket, DeviceEvent>) {
        run_ingress(self, port, frame, fx);
    }

    fn egress(
        &mut self,
        _port: u32,
        packet: QueuedPacket,
        meta: tm::QueueMeta,
        fx: &mut Effects<QueuedPacket, DeviceEvent>,
    ) {
        match Switch::egress(self, packet, engine_meta(meta)) {
            EgressOutcome::Output { port, frame } => fx.frames.push((port, frame)),
            EgressOutcome::PacketIn(pi) => fx.events.push(DeviceEvent::PacketIn(pi)),
            EgressOutcome::Dropped(_) => {}
        }
        collect_digests(self, fx);
    }

    fn packet_out(&mut self, frame: Vec<u8>, fx: &mut Effects<QueuedPacket, DeviceEvent>) {
        let cpu = self.config().cpu_port;
        run_ingress(self, cpu, &frame, fx);
    }
}
