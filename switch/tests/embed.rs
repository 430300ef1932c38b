//! The embedding API: switches with in-process ports running the example router, wired into a
//! chain by emulated links, and a P4Runtime service on a free loopback port.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flash_switch::bench::{install_route, router_program};
use flash_switch::device::DeviceConfig;
use flash_switch::embed::EmbeddedSwitch;
use flash_switch::frames::{UdpFlow, udp_frame};
use flash_switch::link::LinkParams;

const MAC_H1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_H2: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn flow(dst_port: u16) -> UdpFlow {
    UdpFlow {
        src_mac: MAC_H1,
        dst_mac: [2, 0, 0, 0, 0, 0xfe],
        src_ip: Ipv4Addr::new(10, 0, 1, 1),
        dst_ip: Ipv4Addr::new(10, 0, 2, 2),
        src_port: 1234,
        dst_port,
    }
}

/// Routers in a chain: h1 - [s0] - [s1] - [s2] - h2, every hop routing 10.0.2.0/24 on.
fn chain() -> Vec<EmbeddedSwitch> {
    chain_of(3)
}

fn chain_of(n: usize) -> Vec<EmbeddedSwitch> {
    let program = router_program().unwrap();
    let switches: Vec<EmbeddedSwitch> = (0..n as u64)
        .map(|i| {
            let config = DeviceConfig {
                device_id: i,
                priority_queues: 8,
                ..Default::default()
            };
            EmbeddedSwitch::start(Some(program.clone()), &[1, 2], config).unwrap()
        })
        .collect();
    for (i, s) in switches.iter().enumerate() {
        let next_mac = if i == 2 {
            MAC_H2
        } else {
            [2, 0, 0, 0, 1, i as u8 + 1]
        };
        s.device()
            .with_switch(|sw| install_route(sw.unwrap(), "10.0.2.0/24", 2, next_mac).unwrap());
    }
    for w in switches.windows(2) {
        assert!(EmbeddedSwitch::connect(&w[0], 2, &w[1], 1));
    }
    switches
}

#[test]
fn frames_cross_a_chain_of_embedded_switches() {
    let sw = chain();
    let frame = udp_frame(&flow(7000), b"payload");
    assert!(sw[0].port(1).unwrap().send(frame.clone()));
    let out = sw[2]
        .port(2)
        .unwrap()
        .recv_timeout(Duration::from_secs(5))
        .expect("frame crossed");
    assert_eq!(&out[0..6], &MAC_H2);
    assert_eq!(out[14 + 8], 64 - 3, "TTL decremented once per hop");
    assert_eq!(&out[42..], b"payload");
    assert!(sw[1].port(1).unwrap().is_connected());
    assert!(
        sw[1].port(2).unwrap().try_recv().is_none(),
        "connected ports deliver to the peer, not the handle"
    );
    assert_eq!(sw[1].device().port_counters(2).tx, 1);
}

#[test]
fn sixteen_switches_share_one_program_in_one_process() {
    let sw = chain_of(16);
    for k in 0..10u8 {
        assert!(sw[0].port(1).unwrap().send(udp_frame(&flow(7000), &[k])));
    }
    for k in 0..10u8 {
        let out = sw[15]
            .port(2)
            .unwrap()
            .recv_timeout(Duration::from_secs(5))
            .expect("frame crossed 16 hops");
        assert_eq!(out[14 + 8], 64 - 16);
        assert_eq!(out[42], k, "order kept");
    }
}

#[test]
fn emulated_link_delays_and_loses_between_embedded_switches() {
    let sw = chain();
    sw[1]
        .device()
        .set_link(
            2,
            LinkParams {
                delay_ms: 30.0,
                ..Default::default()
            },
        )
        .unwrap();
    let start = Instant::now();
    sw[0].port(1).unwrap().send(udp_frame(&flow(7000), b"x"));
    assert!(
        sw[2]
            .port(2)
            .unwrap()
            .recv_timeout(Duration::from_secs(5))
            .is_some()
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    sw[1]
        .device()
        .set_link(
            2,
            LinkParams {
                loss: 1.0,
                ..Default::default()
            },
        )
        .unwrap();
    sw[0].port(1).unwrap().send(udp_frame(&flow(7000), b"y"));
    assert!(
        sw[2]
            .port(2)
            .unwrap()
            .recv_timeout(Duration::from_millis(300))
            .is_none()
    );
    assert_eq!(sw[1].device().port_report(2).link_stats.lost, 1);
    assert!(
        sw[1]
            .device()
            .set_link(
                2,
                LinkParams {
                    loss: 2.0,
                    ..Default::default()
                }
            )
            .is_err()
    );
}

#[test]
fn embedded_switch_serves_p4runtime_on_loopback() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sw = EmbeddedSwitch::start(None, &[1], DeviceConfig::default()).unwrap();
    rt.block_on(async {
        let server = sw.start_grpc().await.unwrap();
        let addr = server.local_addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        tokio::net::TcpStream::connect(addr)
            .await
            .expect("P4Runtime port accepts connections");
        server.shutdown().await.unwrap();
    });
    // Without a pipeline frames are dropped and counted.
    sw.port(1).unwrap().send(vec![0; 60]);
    let dp = Arc::clone(sw.device().datapath());
    let deadline = Instant::now() + Duration::from_secs(5);
    while dp
        .counters
        .no_pipeline
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        dp.counters
            .no_pipeline
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
