//! Datapath tests over in-process ports with a small Rust pipeline.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::link::LinkParams;
use crate::pipeline::Effects;
use crate::port::FrameSink;
use crate::tm::QueueMeta;

/// Forwards port 1 <-> 2; the first byte of the frame is the priority; frames starting with
/// 0xFF go to the controller as events, frames starting with 0xFE out of the other port at
/// once (no queue); egress appends the dequeue metadata. `seen` counts ingress runs: state
/// that every datapath thread shares.
#[derive(Default)]
struct Crossover {
    seen: u64,
}

impl Pipeline for Crossover {
    type Queued = Vec<u8>;
    type Event = Vec<u8>;
    type PacketOut = (u32, Vec<u8>);

    fn ingress(&mut self, port: u32, frame: &[u8], fx: &mut Effects<Vec<u8>, Vec<u8>>) {
        self.seen += 1;
        let out = if port == 1 { 2 } else { 1 };
        match frame.first() {
            Some(&0xFF) => return fx.events.push(frame.to_vec()),
            Some(&0xFE) => return fx.frames.push((out, frame.to_vec())),
            _ => {}
        }
        let priority = frame.first().copied().unwrap_or(0);
        fx.queued.push(ToQueue {
            port: out,
            priority,
            len: frame.len(),
            packet: frame.to_vec(),
        });
    }

    fn egress(
        &mut self,
        port: u32,
        mut packet: Vec<u8>,
        meta: QueueMeta,
        fx: &mut Effects<Vec<u8>, Vec<u8>>,
    ) {
        packet.push(meta.priority);
        fx.frames.push((port, packet));
    }

    fn packet_out(&mut self, (port, frame): (u32, Vec<u8>), fx: &mut Effects<Vec<u8>, Vec<u8>>) {
        fx.queued.push(ToQueue {
            port,
            priority: 0,
            len: frame.len(),
            packet: frame,
        });
    }
}

use crate::pipeline::ToQueue;

fn sink() -> (FrameSink, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    (Arc::new(move |f| drop(lock(&tx).send(f))), rx)
}

type Rx = mpsc::Receiver<Vec<u8>>;

fn start(queues: usize) -> (Datapath<Crossover>, Rx, Rx, Rx) {
    start_threads(queues, 1)
}

/// A datapath on in-process ports 1 and 2 with `threads` threads; the receivers get what ports
/// 1 and 2 transmit and the controller events.
fn start_threads(queues: usize, threads: usize) -> (Datapath<Crossover>, Rx, Rx, Rx) {
    let (s1, r1) = sink();
    let (s2, r2) = sink();
    let (etx, erx) = mpsc::channel();
    let config = DatapathConfig {
        priority_queues: queues,
        threads,
        ..Default::default()
    };
    let dp = Datapath::start(
        config,
        Some(Crossover::default()),
        vec![
            (1, PortBinding::InProcess(s1)),
            (2, PortBinding::InProcess(s2)),
        ],
        move |e| drop(etx.send(e)),
    )
    .unwrap();
    (dp, r1, r2, erx)
}

fn inject(dp: &Datapath<Crossover>, port: u32, frame: &[u8]) {
    assert!(dp.shared().inject(Injected::Frame {
        port,
        frame: frame.to_vec()
    }));
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn frames_cross_and_events_reach_the_controller() {
    let (dp, r1, r2, events) = start(1);
    inject(&dp, 1, &[0, 0xAA]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0, 0xAA, 0]);
    inject(&dp, 2, &[0, 0xBB]);
    assert_eq!(r1.recv_timeout(WAIT).unwrap(), vec![0, 0xBB, 0]);
    inject(&dp, 1, &[0xFF, 1]);
    assert_eq!(events.recv_timeout(WAIT).unwrap(), vec![0xFF, 1]);
    assert!(dp.shared().inject(Injected::PacketOut((1, vec![9]))));
    assert_eq!(r1.recv_timeout(WAIT).unwrap(), vec![9, 0]);
    let c = dp.shared().port_counters(2);
    assert_eq!((c.rx, c.tx), (1, 1));
}

#[test]
fn priority_without_queue_is_dropped() {
    let (dp, _r1, r2, _e) = start(1);
    inject(&dp, 1, &[1, 0xAA]);
    inject(&dp, 1, &[0, 0xAB]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0, 0xAB, 0]);
    assert_eq!(dp.shared().counters.tm_dropped.load(Ordering::Relaxed), 1);
}

#[test]
fn link_delay_and_loss_apply() {
    let (dp, _r1, r2, _e) = start(8);
    dp.shared()
        .control(&crate::control::parse("set_link 2 30 0 0").unwrap());
    let t = Instant::now();
    inject(&dp, 1, &[3, 1]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![3, 1, 3]);
    assert!(t.elapsed() >= Duration::from_millis(30));
    dp.shared().set_link(
        2,
        LinkParams {
            loss: 1.0,
            ..Default::default()
        },
    );
    inject(&dp, 1, &[0, 2]);
    assert!(r2.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(dp.shared().report(2).link_stats.lost, 1);
}

#[test]
fn no_pipeline_drops_and_counts() {
    let (s1, _r1) = sink();
    let mut dp: Datapath<Crossover> = Datapath::start(
        DatapathConfig::default(),
        None,
        vec![(1, PortBinding::InProcess(s1))],
        |_| {},
    )
    .unwrap();
    assert!(dp.shared().inject(Injected::Frame {
        port: 1,
        frame: vec![0],
    }));
    let deadline = Instant::now() + WAIT;
    while dp.shared().counters.no_pipeline.load(Ordering::Relaxed) == 0 && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(dp.shared().counters.no_pipeline.load(Ordering::Relaxed), 1);
    dp.stop();
}

#[test]
fn duplicate_port_is_refused() {
    let (s1, _r1) = sink();
    let r = Datapath::<Crossover>::start(
        DatapathConfig::default(),
        None,
        vec![
            (1, PortBinding::InProcess(s1.clone())),
            (1, PortBinding::InProcess(s1)),
        ],
        |_| {},
    );
    assert!(matches!(r, Err(DatapathError::DuplicatePort(1))));
}

mod threads;
