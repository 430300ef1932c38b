//! Tests of scheduling order, rates, depth limits and queueing metadata, on a hand-held clock.

use super::*;

const MS: Nanos = 1_000_000;
const S: Nanos = 1_000_000_000;

fn drain(tm: &mut TrafficManager<u32>, now: Nanos) -> Vec<Dequeued<u32>> {
    let mut out = Vec::new();
    tm.dequeue_ready(now, usize::MAX, &mut out);
    out
}

#[test]
fn strict_priority_serves_highest_queue_first() {
    let mut tm = TrafficManager::new(8);
    tm.enqueue(1, 0, 10, 100, 0).unwrap();
    tm.enqueue(1, 7, 17, 100, 0).unwrap();
    tm.enqueue(1, 3, 13, 100, 0).unwrap();
    tm.enqueue(1, 7, 27, 100, 0).unwrap();
    let order: Vec<u32> = drain(&mut tm, 0).into_iter().map(|d| d.item).collect();
    assert_eq!(order, vec![17, 27, 13, 10]);
}

#[test]
fn priority_beyond_queue_count_is_dropped() {
    let mut tm = TrafficManager::new(1);
    assert_eq!(
        tm.enqueue(2, 1, 1, 64, 0),
        Err(TmDrop::BadPriority {
            priority: 1,
            queues: 1
        })
    );
    tm.enqueue(2, 0, 2, 64, 0).unwrap();
    assert_eq!(tm.port_stats(2).unwrap().dropped_bad_priority, 1);
    let mut tm8 = TrafficManager::<u32>::new(8);
    assert!(matches!(
        tm8.enqueue(2, 8, 1, 64, 0),
        Err(TmDrop::BadPriority { .. })
    ));
}

#[test]
fn depth_limit_tail_drops_and_counts() {
    let mut tm = TrafficManager::new(2);
    tm.set_depth(3, Some(1), 2);
    for i in 0..5 {
        let r = tm.enqueue(3, 1, i, 64, 0);
        assert_eq!(r.is_ok(), i < 2, "packet {i}");
    }
    // The other queue keeps the default depth.
    for i in 0..10 {
        tm.enqueue(3, 0, i, 64, 0).unwrap();
    }
    let stats = tm.port_stats(3).unwrap();
    assert_eq!(stats.queues[1].dropped_full, 3);
    assert_eq!(stats.queues[1].depth, 2);
    assert_eq!(stats.queues[0].depth, 10);
    tm.set_depth_all(1);
    assert_eq!(tm.queue_config(3, 0).depth, 1);
    assert!(tm.enqueue(3, 0, 99, 64, 0).is_err());
}

/// Feeds two queues of one port with more than they can send for one second and counts what
/// each sends.
fn run_saturated(tm: &mut TrafficManager<u32>, port: u32, seconds: u64) -> [u64; 2] {
    let mut sent = [0u64; 2];
    let step = 100_000; // poll every 100 us
    let mut now = 0;
    while now < seconds * S {
        for prio in 0..2u8 {
            while tm.enqueue(port, prio, u32::from(prio), 100, now).is_ok() {}
        }
        for d in drain(tm, now) {
            sent[usize::from(d.meta.priority)] += 1;
        }
        now += step;
    }
    sent
}

#[test]
fn queue_rate_limits_each_queue_on_its_own_like_bmv2() {
    let mut tm = TrafficManager::new(2);
    tm.set_rate(1, None, Some(3000.0));
    let sent = run_saturated(&mut tm, 1, 2);
    for (prio, n) in sent.iter().enumerate() {
        let rate = *n as f64 / 2.0;
        assert!((rate - 3000.0).abs() < 30.0, "queue {prio}: {rate} pps");
    }
}

#[test]
fn shared_port_rate_goes_to_the_highest_queue_first() {
    let mut tm = TrafficManager::new(2);
    tm.set_port_rate(
        1,
        PortRate {
            pps: Some(3000.0),
            bps: None,
        },
    );
    let sent = run_saturated(&mut tm, 1, 2);
    let high = sent[1] as f64 / 2.0;
    assert!((high - 3000.0).abs() < 30.0, "high queue {high} pps");
    assert_eq!(
        sent[0], 0,
        "a saturated high queue starves the low one on a shared port"
    );
}

#[test]
fn shared_port_rate_leaves_spare_capacity_to_low_queue() {
    let mut tm = TrafficManager::new(2);
    tm.set_port_rate(
        1,
        PortRate {
            pps: Some(1000.0),
            bps: None,
        },
    );
    let mut sent = [0u64; 2];
    let mut now = 0;
    // High offers 300 pps, low is saturated: low gets the remaining ~700 pps.
    let mut next_high = 0;
    while now < 4 * S {
        if now >= next_high {
            tm.enqueue(1, 1, 1, 100, now).unwrap();
            next_high += S / 300;
        }
        while tm.enqueue(1, 0, 0, 100, now).is_ok() {}
        for d in drain(&mut tm, now) {
            sent[usize::from(d.meta.priority)] += 1;
            if d.meta.priority == 1 {
                assert!(
                    d.meta.deq_timedelta_us <= 2000,
                    "high waited {} us",
                    d.meta.deq_timedelta_us
                );
            }
        }
        now += 50_000;
    }
    let (low, high) = (sent[0] as f64 / 4.0, sent[1] as f64 / 4.0);
    assert!((high - 300.0).abs() < 5.0, "high {high}");
    assert!((low - 700.0).abs() < 15.0, "low {low}");
}

#[test]
fn bit_rate_accounts_frame_length() {
    let mut tm = TrafficManager::new(1);
    // 1 Mbit/s with 1250-byte frames = 100 frames/s.
    tm.set_port_rate(
        4,
        PortRate {
            pps: None,
            bps: Some(1e6),
        },
    );
    let mut sent = 0;
    let mut now = 0;
    while now < 3 * S {
        while tm.enqueue(4, 0, 0, 1250, now).is_ok() {}
        sent += drain(&mut tm, now).len();
        now += MS;
    }
    let rate = sent as f64 / 3.0;
    assert!((rate - 100.0).abs() < 2.0, "{rate} frames/s");
}

#[test]
fn queue_metadata_reports_depths_and_wait() {
    let mut tm = TrafficManager::new(1);
    tm.set_rate(1, Some(0), Some(1000.0));
    tm.enqueue(1, 0, 1, 64, 0).unwrap();
    tm.enqueue(1, 0, 2, 64, 0).unwrap();
    tm.enqueue(1, 0, 3, 64, 0).unwrap();
    let first = drain(&mut tm, 0);
    // The tolerance lets a short burst through at once.
    assert!(!first.is_empty());
    assert_eq!(first[0].meta.enq_qdepth, 0);
    assert_eq!(first[0].meta.deq_qdepth, 2);
    let mut later = Vec::new();
    let mut now = 0;
    while later.len() + first.len() < 3 {
        now += 100_000;
        later.extend(drain(&mut tm, now));
    }
    let last = later.last().map_or(first.last().unwrap().meta, |d| d.meta);
    assert_eq!(last.enq_qdepth, 2);
    assert_eq!(last.deq_qdepth, 0);
    assert_eq!(u64::from(last.deq_timedelta_us), now / 1000);
}

#[test]
fn ports_are_served_in_turn() {
    let mut tm = TrafficManager::new(1);
    for i in 0..4 {
        tm.enqueue(1, 0, 100 + i, 64, 0).unwrap();
        tm.enqueue(2, 0, 200 + i, 64, 0).unwrap();
    }
    let mut out = Vec::new();
    tm.dequeue_ready(0, 4, &mut out);
    let ports: Vec<u32> = out.iter().map(|d| d.port).collect();
    assert_eq!(ports, vec![1, 2, 1, 2]);
    assert_eq!(tm.backlog(), 4);
    assert_eq!(tm.next_ready(), Some(0));
}

#[test]
fn next_ready_reflects_rate_limits() {
    let mut tm = TrafficManager::new(1);
    tm.set_rate(1, None, Some(10.0)); // 100 ms spacing
    for i in 0..3 {
        tm.enqueue(1, 0, i, 64, 0).unwrap();
    }
    assert_eq!(drain(&mut tm, 0).len(), 1);
    let next = tm.next_ready().unwrap();
    assert_eq!(next, 100 * MS - rate::TOLERANCE);
    assert!(drain(&mut tm, next - 1).is_empty());
    assert_eq!(drain(&mut tm, next).len(), 1);
    assert_eq!(tm.next_ready(), Some(200 * MS - rate::TOLERANCE));
}
