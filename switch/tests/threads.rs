//! `p4src/flash_mesh.p4` on a switch with two datapath threads: the duplicate filter's Bloom
//! registers and the drop counters are one state for both port groups, so a replay entering
//! through a port of the other thread is still dropped, and of two copies of an ORDER sent at
//! once through both groups exactly one gets through.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flash_switch::datapath::DatapathConfig;
use flash_switch::device::DeviceConfig;
use flash_switch::embed::EmbeddedSwitch;
use flash_switch::frames::{UdpFlow, udp_frame};
use flashmesh_p4::exec::Switch;
use flashmesh_p4::testkit::{ShellEntry, shell_entry};

const FLASH_MESH_P4: &str = include_str!("../../p4src/flash_mesh.p4");
const EPOCH: u32 = 10;
const OUT: u32 = 4;
const DROP_DUPLICATE: u32 = 5;
const WAIT: Duration = Duration::from_secs(5);

fn entry(sw: &mut Switch, table: &str, m: &[(&str, &str)], action: &str, p: &[(&str, &str)]) {
    let e = ShellEntry::new(table, m, action, p);
    let te = shell_entry(sw.program(), &e).expect("entry");
    if e.default {
        sw.modify_entry(&te).expect("default action");
    } else {
        sw.insert_entry(&te).expect("insert");
    }
}

/// Ports 1..=4 in two groups ({1, 2} and {3, 4}); ORDERs are filtered and routed out of port 4.
fn start() -> EmbeddedSwitch {
    let program = flashmesh_p4::compile_str("flash_mesh.p4", FLASH_MESH_P4).expect("compiles");
    let config = DeviceConfig {
        priority_queues: 8,
        datapath: DatapathConfig {
            threads: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let sw = EmbeddedSwitch::start(Some(program), &[1, 2, 3, 4], config).expect("starts");
    assert_eq!(sw.device().datapath().groups.len(), 2);
    sw.device().with_switch(|s| {
        let s = s.expect("program loaded");
        entry(
            s,
            "FmIngress.epoch_window",
            &[],
            "FmIngress.set_epoch",
            &[
                ("current_epoch", &EPOCH.to_string()),
                ("retry_allowance", "3"),
            ],
        );
        entry(
            s,
            "FmIngress.dedup_types",
            &[("hdr.fmh.msg_type", "1")],
            "FmIngress.dedup_enable",
            &[],
        );
        entry(
            s,
            "FmIngress.ipv4_lpm",
            &[("hdr.ipv4.dstAddr", "10.0.2.0/24")],
            "FmIngress.set_next_hop",
            &[
                ("port", &OUT.to_string()),
                ("dmac", "0x020000000202"),
                ("backup_port", &OUT.to_string()),
                ("backup_dmac", "0x020000000202"),
                ("smac", "0x0200000002fe"),
            ],
        );
    });
    sw
}

/// An ORDER from `sender` with `nonce`, as a wallet sends it towards 10.0.2.1.
fn order(sender: u64, nonce: u64) -> Vec<u8> {
    let mut fmh = vec![1u8, 1, 0, 0];
    fmh.extend_from_slice(&EPOCH.to_be_bytes());
    fmh.extend_from_slice(&sender.to_be_bytes());
    fmh.extend_from_slice(&nonce.to_be_bytes());
    fmh.extend_from_slice(&[1, 8, 0, 0, 0, 0, 0, 0]);
    let flow = UdpFlow {
        src_mac: [2, 0, 0, 0, 1, 1],
        dst_mac: [2, 0, 0, 0, 1, 0xfe],
        src_ip: Ipv4Addr::new(10, 0, 1, 1),
        dst_ip: Ipv4Addr::new(10, 0, 2, 1),
        src_port: 40000,
        dst_port: 47474,
    };
    udp_frame(&flow, &fmh)
}

/// The nonce of an ORDER that came out (FMH at offset 42, nonce at 16..24).
fn nonce_of(frame: &[u8]) -> u64 {
    u64::from_be_bytes(frame[42 + 16..42 + 24].try_into().expect("FMH present"))
}

fn duplicates_dropped(sw: &EmbeddedSwitch) -> u64 {
    sw.device().with_switch(|s| {
        let s = s.expect("program loaded");
        let id = s
            .program()
            .counters
            .iter()
            .find(|c| c.name == "FmIngress.drops")
            .expect("drop counter")
            .id;
        s.read_counter(id, Some(DROP_DUPLICATE)).expect("cell")[0]
            .1
            .packets
    })
}

#[test]
fn a_replay_through_the_other_thread_is_dropped() {
    let sw = start();
    let out = sw.port(OUT).unwrap();
    assert!(sw.port(1).unwrap().send(order(7, 1)));
    assert_eq!(nonce_of(&out.recv_timeout(WAIT).expect("first copy")), 1);
    // The same ORDER through port 3, served by the other thread.
    assert!(sw.port(3).unwrap().send(order(7, 1)));
    assert!(out.recv_timeout(Duration::from_millis(300)).is_none());
    assert_eq!(duplicates_dropped(&sw), 1);
    // A fresh nonce passes through port 3, and its replay through port 1 is dropped.
    assert!(sw.port(3).unwrap().send(order(7, 2)));
    assert_eq!(nonce_of(&out.recv_timeout(WAIT).expect("fresh order")), 2);
    assert!(sw.port(1).unwrap().send(order(7, 2)));
    assert!(out.recv_timeout(Duration::from_millis(300)).is_none());
    assert_eq!(duplicates_dropped(&sw), 2);
    let (p1, p3) = (sw.device().port_counters(1), sw.device().port_counters(3));
    assert_eq!((p1.rx, p3.rx, sw.device().port_counters(OUT).tx), (2, 2, 2));
}

#[test]
fn of_two_copies_sent_at_once_through_both_threads_exactly_one_passes() {
    const ORDERS: u64 = 400;
    let sw = start();
    // Room for every copy in port 4's queue: only the filter may drop here.
    sw.device()
        .control(&flash_switch::control::parse("set_queue_depth 1000").unwrap());
    std::thread::scope(|s| {
        for port in [1u32, 3] {
            let sw = &sw;
            s.spawn(move || {
                for nonce in 0..ORDERS {
                    assert!(sw.port(port).unwrap().send(order(9, nonce)));
                }
            });
        }
    });
    let out = sw.port(OUT).unwrap();
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while seen.values().sum::<u32>() < ORDERS as u32 && Instant::now() < deadline {
        if let Some(f) = out.recv_timeout(Duration::from_millis(100)) {
            *seen.entry(nonce_of(&f)).or_default() += 1;
        }
    }
    // Anything more would have come by now.
    while let Some(f) = out.recv_timeout(Duration::from_millis(300)) {
        *seen.entry(nonce_of(&f)).or_default() += 1;
    }
    let twice: Vec<u64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    assert!(twice.is_empty(), "passed twice: {twice:?}");
    assert_eq!(seen.len() as u64, ORDERS, "every ORDER passed once");
    assert_eq!(duplicates_dropped(&sw), ORDERS);
    let dp = sw.device().datapath();
    assert_eq!(dp.counters.tm_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(dp.counters.inject_dropped.load(Ordering::Relaxed), 0);
}
