//! The datapath with two threads: ports 1 and 2 are in different groups, so every packet
//! crosses from the thread that ran ingress to the thread that owns its egress port.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::*;

fn recv_n(rx: &Rx, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(f) => out.push(f),
            Err(_) => panic!("got {} of {n} frames", out.len()),
        }
    }
    out
}

#[test]
fn two_threads_serve_one_group_each_and_hand_packets_over() {
    let (dp, r1, r2, events) = start_threads(1, 2);
    assert_eq!(dp.shared().groups.len(), 2);
    assert_eq!(
        (dp.shared().groups.owner(1), dp.shared().groups.owner(2)),
        (0, 1)
    );
    inject(&dp, 1, &[0, 0xAA]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0, 0xAA, 0]);
    inject(&dp, 2, &[0, 0xBB]);
    assert_eq!(r1.recv_timeout(WAIT).unwrap(), vec![0, 0xBB, 0]);
    inject(&dp, 2, &[0xFF, 1]);
    assert_eq!(events.recv_timeout(WAIT).unwrap(), vec![0xFF, 1]);
    // Packet-outs run on group 0's thread; this one is queued for port 2 (group 1).
    assert!(dp.shared().inject(Injected::PacketOut((2, vec![9]))));
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![9, 0]);
    let ids = dp.shared().thread_ids();
    assert!(ids.iter().all(|t| *t != 0) && ids[0] != ids[1], "{ids:?}");
    let (c1, c2) = (dp.shared().port_counters(1), dp.shared().port_counters(2));
    assert_eq!((c1.rx, c1.tx, c2.rx, c2.tx), (1, 1, 2, 2));
    // One pipeline instance saw every ingress (packet-outs do not run ingress here).
    assert_eq!(dp.shared().pipeline().as_ref().unwrap().seen, 3);
}

#[test]
fn strict_priority_holds_for_packets_queued_by_another_thread() {
    let (dp, _r1, r2, _e) = start_threads(8, 2);
    // Port 2 (group 1) sends 5 packets/s: after one packet leaves, the next ones queue.
    dp.shared()
        .control(&crate::control::parse("set_link 2 0 0 0 5").unwrap());
    inject(&dp, 1, &[0, 0]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0, 0, 0]);
    for i in 1..=3 {
        inject(&dp, 1, &[0, i]);
    }
    for i in 1..=3 {
        inject(&dp, 1, &[7, i]);
    }
    let got = recv_n(&r2, 6);
    let order: Vec<(u8, u8)> = got.iter().map(|f| (f[0], f[1])).collect();
    assert_eq!(
        order,
        vec![(7, 1), (7, 2), (7, 3), (0, 1), (0, 2), (0, 3)],
        "the high queue of port 2 goes first, whichever thread queued it"
    );
}

#[test]
fn heavy_traffic_both_ways_arrives_complete_and_in_order() {
    const N: u16 = 3000;
    let (dp, r1, r2, _e) = start_threads(1, 2);
    dp.shared()
        .control(&crate::control::parse("set_queue_depth 100000").unwrap());
    let shared = dp.shared().clone();
    std::thread::scope(|s| {
        for port in [1u32, 2] {
            let shared = &shared;
            s.spawn(move || {
                for i in 0..N {
                    let [hi, lo] = i.to_be_bytes();
                    let frame = vec![0, port as u8, hi, lo];
                    while !shared.inject(Injected::Frame {
                        port,
                        frame: frame.clone(),
                    }) {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    for (rx, from) in [(&r2, 1u8), (&r1, 2u8)] {
        let got = recv_n(rx, usize::from(N));
        let seq: Vec<u16> = got
            .iter()
            .map(|f| {
                assert_eq!(f[1], from);
                u16::from_be_bytes([f[2], f[3]])
            })
            .collect();
        assert_eq!(seq, (0..N).collect::<Vec<_>>(), "frames from port {from}");
    }
    assert_eq!(
        dp.shared().pipeline().as_ref().unwrap().seen,
        2 * u64::from(N)
    );
    assert_eq!(dp.shared().counters.tm_dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn link_emulation_runs_on_the_owner_of_the_egress_port() {
    let (dp, r1, r2, _e) = start_threads(8, 2);
    dp.shared()
        .control(&crate::control::parse("set_link 2 30 0 0").unwrap());
    dp.shared().set_link(
        1,
        LinkParams {
            loss: 1.0,
            ..Default::default()
        },
    );
    // Queued by group 0, delayed by group 1's link.
    let t = Instant::now();
    inject(&dp, 1, &[3, 1]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![3, 1, 3]);
    assert!(t.elapsed() >= Duration::from_millis(30));
    // Produced without a queue on group 0's thread, handed to group 1 for its link.
    let t = Instant::now();
    inject(&dp, 1, &[0xFE, 2]);
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0xFE, 2]);
    assert!(t.elapsed() >= Duration::from_millis(30));
    // Port 1's link (group 0) loses everything group 1 sends it.
    inject(&dp, 2, &[0, 3]);
    inject(&dp, 2, &[0xFE, 4]);
    assert!(r1.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(dp.shared().report(1).link_stats.lost, 2);
    let stats = dp
        .shared()
        .control(&crate::control::parse("stats").unwrap());
    let ports: BTreeSet<u32> = serde_json::from_str::<serde_json::Value>(&stats[3..])
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["port"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(ports, BTreeSet::from([1, 2]), "{stats}");
}

#[test]
fn replacing_the_pipeline_drops_what_every_group_queued() {
    let (dp, _r1, r2, _e) = start_threads(1, 2);
    dp.shared()
        .control(&crate::control::parse("set_link 2 0 0 0 2").unwrap());
    for i in 0..4 {
        inject(&dp, 1, &[0, i]);
    }
    assert_eq!(r2.recv_timeout(WAIT).unwrap(), vec![0, 0, 0]);
    let deadline = Instant::now() + WAIT;
    while dp.shared().report(2).tm.map(|t| t.queues[0].depth) != Some(3) {
        assert!(Instant::now() < deadline, "three packets wait on port 2");
        std::thread::sleep(Duration::from_millis(1));
    }
    dp.shared().replace_pipeline(Some(Crossover::default()));
    assert!(r2.recv_timeout(Duration::from_millis(700)).is_err());
    assert_eq!(dp.shared().counters.tm_dropped.load(Ordering::Relaxed), 3);
}
