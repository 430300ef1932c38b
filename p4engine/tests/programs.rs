//! Packet tests for the programs in `tests/programs/`: table entries in, frames in, and the
//! exact frames (with ports), packet-ins, drops, digests and counters that must come out.

use std::sync::Arc;

use flashmesh_p4::exec::hash::csum16;
use flashmesh_p4::exec::shell_syntax::canonical_bytes;
use flashmesh_p4::testkit::{ShellEntry, shell_entry, shell_matches};
use flashmesh_p4::{
    DropReason, MeterConfig, Program, QueueMeta, StateError, Switch, SwitchConfig, TableEntry,
};

fn program(name: &str) -> Arc<Program> {
    let path = format!("{}/tests/programs/{name}.p4", env!("CARGO_MANIFEST_DIR"));
    flashmesh_p4::compile_file(&path).unwrap_or_else(|d| panic!("{name}.p4:\n{d}"))
}

fn entry(
    p: &Program,
    table: &str,
    m: &[(&str, &str)],
    action: &str,
    params: &[(&str, &str)],
    prio: Option<i32>,
) -> TableEntry {
    let e = ShellEntry {
        priority: prio,
        default: false,
        ..ShellEntry::new(table, m, action, params)
    };
    shell_entry(p, &e).unwrap()
}

fn eth(dst: u64, src: u64, ty: u16) -> Vec<u8> {
    let mut f = dst.to_be_bytes()[2..].to_vec();
    f.extend_from_slice(&src.to_be_bytes()[2..]);
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

/// A 20-byte IPv4 header with a correct checksum.
fn ipv4(src: u32, dst: u32, ttl: u8, proto: u8, dscp: u8, payload_len: u16) -> Vec<u8> {
    let mut h = vec![0x45, dscp << 2];
    h.extend_from_slice(&(20 + payload_len).to_be_bytes());
    h.extend_from_slice(&[0x00, 0x01, 0x40, 0x00, ttl, proto, 0, 0]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    let c = csum16(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0]);
    t
}

fn udp_frame(dst_mac: u64, src: u32, dst: u32, ttl: u8, dscp: u8, sport: u16) -> Vec<u8> {
    let payload = udp(sport, 5000, b"flash-mesh");
    let mut f = eth(dst_mac, 0x0200_0000_0001, 0x0800);
    f.extend(ipv4(src, dst, ttl, 17, dscp, payload.len() as u16));
    f.extend(payload);
    f
}

const A: u32 = 0xc0a8_0101; // 192.168.1.1

#[test]
fn router_lpm_ttl_checksum_bloom_counters() {
    let p = program("router");
    assert!(
        !p.uses_clock,
        "router.p4 reads no timestamp and has no meter"
    );
    let mut sw = Switch::new(p.clone(), SwitchConfig::default());
    let routes = [
        ("10.0.0.0/8", "1", "0x0a0000000001"),
        ("10.1.0.0/16", "2", "0x0a0000000002"),
        ("10.1.2.0/24", "3", "0x0a0000000003"),
    ];
    for (prefix, port, mac) in routes {
        sw.insert_entry(&entry(
            &p,
            "MyIngress.routes",
            &[("hdr.ipv4.dstAddr", prefix)],
            "MyIngress.forward",
            &[("port", port), ("dmac", mac)],
            None,
        ))
        .unwrap();
    }
    // longest prefix: 10.1.2.9 -> /24 -> port 3, TTL 64 -> 63, checksum recomputed
    let input = udp_frame(0x0200_0000_00ff, A, 0x0a01_0209, 64, 0, 1000);
    let r = sw.process(4, &input);
    let mut expected = eth(0x0a00_0000_0003, 0x0200_0000_00ff, 0x0800);
    let payload = udp(1000, 5000, b"flash-mesh");
    expected.extend(ipv4(A, 0x0a01_0209, 63, 17, 0, payload.len() as u16));
    expected.extend(payload.clone());
    assert_eq!(r.outputs, vec![(3, expected)]);
    // /16 and /8
    assert_eq!(
        sw.process(4, &udp_frame(1, A, 0x0a01_0909, 64, 0, 1001))
            .outputs[0]
            .0,
        2
    );
    assert_eq!(
        sw.process(4, &udp_frame(1, A, 0x0a09_0909, 64, 0, 1002))
            .outputs[0]
            .0,
        1
    );
    // no route, TTL 1 and a bad checksum are dropped
    assert_eq!(
        sw.process(4, &udp_frame(1, A, 0x0b00_0001, 64, 0, 1003))
            .drops,
        vec![DropReason::IngressDrop]
    );
    assert_eq!(
        sw.process(4, &udp_frame(1, A, 0x0a00_0001, 1, 0, 1004))
            .drops,
        vec![DropReason::IngressDrop]
    );
    let mut bad = udp_frame(1, A, 0x0a00_0001, 64, 0, 1005);
    bad[24] ^= 0xff;
    assert_eq!(sw.process(4, &bad).drops, vec![DropReason::IngressDrop]);
    // Bloom filter: the same flow again is marked DSCP 46, with a checksum over the new DSCP
    let again = sw.process(4, &input);
    let mut expected = eth(0x0a00_0000_0003, 0x0200_0000_00ff, 0x0800);
    expected.extend(ipv4(A, 0x0a01_0209, 63, 17, 46, payload.len() as u16));
    expected.extend(payload);
    assert_eq!(again.outputs, vec![(3, expected)]);
    // counters: 7 packets received on port 4, 4 sent (ports 3,2,1,3)
    let rx = &p.counters[p
        .counters
        .iter()
        .position(|c| c.name == "MyIngress.rx_port")
        .unwrap()];
    let got = sw.read_counter(rx.id, Some(4)).unwrap()[0].1;
    assert_eq!(got.packets, 7);
    assert_eq!(got.bytes, 7 * input.len() as u64);
    let tx = &p.counters[p
        .counters
        .iter()
        .position(|c| c.name == "MyEgress.tx_port")
        .unwrap()];
    assert_eq!(sw.read_counter(tx.id, Some(3)).unwrap()[0].1.packets, 2);
    assert_eq!(sw.read_counter(tx.id, Some(1)).unwrap()[0].1.packets, 1);
    // Bloom register cells are readable and writable through the state API
    let bloom = p
        .registers
        .iter()
        .find(|r| r.name == "MyIngress.bloom")
        .unwrap();
    let set: usize = (0..4096)
        .filter(|i| sw.read_register(bloom.id, *i).unwrap() == vec![1])
        .count();
    assert!((2..=12).contains(&set), "{set} Bloom cells set");
    assert!(matches!(
        sw.write_register(bloom.id, 0, &[2]),
        Err(StateError::InvalidArgument(_))
    ));
    assert!(matches!(
        sw.read_register(bloom.id, 4096),
        Err(StateError::InvalidArgument(_))
    ));
}

#[test]
fn firewall_bloom_filter_and_digests() {
    let p = program("firewall");
    let mut sw = Switch::new(p.clone(), SwitchConfig::default());
    for (inp, out) in [("1", "2"), ("2", "1")] {
        sw.insert_entry(&entry(
            &p,
            "MyIngress.fwd",
            &[("sm.ingress_port", inp)],
            "MyIngress.set_port",
            &[("port", out)],
            None,
        ))
        .unwrap();
    }
    let inside = 0x0a00_0001;
    let outside = 0x0808_0808;
    let frame = |src: u32, dst: u32, sport: u16, dport: u16| {
        let t = tcp(sport, dport);
        let mut f = eth(2, 1, 0x0800);
        f.extend(ipv4(src, dst, 64, 6, 0, t.len() as u16));
        f.extend(t);
        f
    };
    // unsolicited traffic from outside is dropped and counted
    let reply = frame(outside, inside, 443, 40000);
    assert_eq!(sw.process(2, &reply).drops, vec![DropReason::IngressDrop]);
    // inside opens the flow: forwarded to port 2, one digest with the flow
    let open = frame(inside, outside, 40000, 443);
    let r = sw.process(1, &open);
    assert_eq!(r.outputs, vec![(2, open.clone())]);
    assert_eq!(r.digests.len(), 1);
    assert_eq!(p.digests[0].name, "flow_digest_t");
    assert_eq!(r.digests[0].digest_id, p.digests[0].id);
    assert_eq!(
        r.digests[0].members,
        vec![
            canonical_bytes(inside as u128),
            canonical_bytes(outside as u128),
            canonical_bytes(40000),
            canonical_bytes(443)
        ]
    );
    // the same flow again: no new digest
    assert!(sw.process(1, &open).digests.is_empty());
    // now the reply passes
    assert_eq!(sw.process(2, &reply).outputs, vec![(1, reply.clone())]);
    // another outside flow is still blocked
    assert!(
        sw.process(2, &frame(outside, inside, 443, 40001))
            .outputs
            .is_empty()
    );
    let blocked = &p.counters[0];
    assert_eq!(
        sw.read_counter(blocked.id, Some(0)).unwrap()[0].1.packets,
        2
    );
    // non-TCP is dropped
    assert_eq!(
        sw.process(1, &udp_frame(2, inside, outside, 64, 0, 1))
            .drops,
        vec![DropReason::IngressDrop]
    );
}

#[test]
fn tunnel_encap_forward_decap() {
    let p = program("tunnel");
    let mut sw = Switch::new(p.clone(), SwitchConfig::default());
    sw.insert_entry(&entry(
        &p,
        "MyIngress.tunnel_map",
        &[("hdr.ipv4.dstAddr", "10.2.0.0/16")],
        "MyIngress.encap",
        &[("dst_id", "0x0202")],
        None,
    ))
    .unwrap();
    sw.insert_entry(&entry(
        &p,
        "MyIngress.tunnel_exact",
        &[("hdr.tun.dst_id", "0x0202")],
        "MyIngress.tunnel_forward",
        &[("port", "2"), ("last_hop", "0")],
        None,
    ))
    .unwrap();
    sw.insert_entry(&entry(
        &p,
        "MyIngress.tunnel_exact",
        &[("hdr.tun.dst_id", "0x0303")],
        "MyIngress.tunnel_forward",
        &[("port", "3"), ("last_hop", "1")],
        None,
    ))
    .unwrap();
    let ip = ipv4(A, 0x0a02_0001, 64, 17, 0, 8);
    let mut plain = eth(1, 2, 0x0800);
    plain.extend(ip.clone());
    plain.extend(udp(1, 2, b""));
    // encapsulated: eth(type 0x1212) + tunnel(0x0800, 0x0202) + the IPv4 packet, out of port 2
    let mut enc = eth(1, 2, 0x1212);
    enc.extend([0x08, 0x00, 0x02, 0x02]);
    enc.extend(ip.clone());
    enc.extend(udp(1, 2, b""));
    assert_eq!(sw.process(1, &plain).outputs, vec![(2, enc.clone())]);
    // a tunnelled packet is forwarded unchanged by id
    assert_eq!(sw.process(1, &enc).outputs, vec![(2, enc.clone())]);
    // at the last hop it is decapsulated
    let mut enc3 = eth(1, 2, 0x1212);
    enc3.extend([0x08, 0x00, 0x03, 0x03]);
    enc3.extend(ip.clone());
    enc3.extend(udp(1, 2, b""));
    assert_eq!(sw.process(1, &enc3).outputs, vec![(3, plain.clone())]);
    // unknown tunnel id and IPv4 without a tunnel are dropped
    let mut enc9 = eth(1, 2, 0x1212);
    enc9.extend([0x08, 0x00, 0x09, 0x09]);
    enc9.extend(ip);
    assert!(sw.process(1, &enc9).outputs.is_empty());
    let mut other = eth(1, 2, 0x0800);
    other.extend(ipv4(A, 0x0a03_0001, 64, 17, 0, 0));
    assert_eq!(sw.process(1, &other).drops, vec![DropReason::IngressDrop]);
}

#[test]
fn qos_meters_priorities_direct_counter() {
    let p = program("qos");
    assert!(p.uses_clock);
    let mut sw = Switch::new(
        p.clone(),
        SwitchConfig {
            cpu_port: 255,
            drop_port: 511,
            priority_queues: 8,
        },
    );
    sw.set_time_ns(1_000_000);
    let e = entry(
        &p,
        "MyIngress.classify",
        &[("hdr.eth.etherType", "0x88b5&&&0xffff")],
        "MyIngress.set_class",
        &[("prio", "7")],
        Some(10),
    );
    sw.insert_entry(&e).unwrap();
    let frame = eth(1, 2, 0x88b5);
    let trailer = |prio: u8, colour: u8, dcolour: u8, q: u32| {
        let mut f = eth(1, 2, 0x88b5);
        f.extend([prio, colour, dcolour]);
        f.extend(q.to_be_bytes());
        f
    };
    // unconfigured meters: green, classified to priority 7
    assert_eq!(
        sw.process(1, &frame).outputs,
        vec![(2, trailer(7, 0, 0, 0))]
    );
    // the queue depth given to egress is visible there
    let q = match sw.ingress(1, &frame) {
        flashmesh_p4::IngressOutcome::Queued(q) => q,
        other => panic!("{other:?}"),
    };
    assert_eq!((q.egress_port, q.priority), (2, 7));
    match sw.egress(
        q,
        QueueMeta {
            enq_qdepth: 17,
            ..Default::default()
        },
    ) {
        flashmesh_p4::EgressOutcome::Output { port, frame } => {
            assert_eq!((port, frame), (2, trailer(7, 0, 0, 17)))
        }
        other => panic!("{other:?}"),
    }
    // port meter: 2 packets committed burst, 4 peak burst, at one instant
    let meter = &p.meters[0];
    sw.set_meter_config(
        meter.id,
        1,
        Some(MeterConfig {
            cir: 10,
            cburst: 2,
            pir: 20,
            pburst: 4,
        }),
    )
    .unwrap();
    let outs: Vec<_> = (0..5).map(|_| sw.process(1, &frame)).collect();
    assert_eq!(outs[0].outputs, vec![(2, trailer(7, 0, 0, 0))]);
    assert_eq!(outs[1].outputs, vec![(2, trailer(7, 0, 0, 0))]);
    assert_eq!(outs[2].outputs, vec![(2, trailer(1, 1, 0, 0))]);
    assert_eq!(outs[3].outputs, vec![(2, trailer(1, 1, 0, 0))]);
    assert_eq!(outs[4].drops, vec![DropReason::IngressDrop]);
    // 200 ms later the buckets have refilled
    sw.set_time_ns(201_000_000);
    assert_eq!(
        sw.process(1, &frame).outputs,
        vec![(2, trailer(7, 0, 0, 0))]
    );
    // direct meter in bytes on the classifier entry: 14-byte frames, committed burst 20 bytes
    sw.set_direct_meter_config(
        e.table_id,
        &e.matches,
        10,
        Some(MeterConfig {
            cir: 1,
            cburst: 20,
            pir: 1,
            pburst: 30,
        }),
    )
    .unwrap();
    assert_eq!(
        sw.process(3, &frame).outputs,
        vec![(2, trailer(7, 0, 0, 0))]
    );
    assert_eq!(
        sw.process(3, &frame).outputs,
        vec![(2, trailer(7, 0, 1, 0))]
    );
    assert_eq!(
        sw.process(3, &frame).outputs,
        vec![(2, trailer(7, 0, 2, 0))]
    );
    // the direct counter counted every hit with the ingress length
    let d = sw.read_direct_counter(e.table_id, &e.matches, 10).unwrap();
    assert_eq!((d.packets, d.bytes), (8, 8 * 14));
    let read = sw.read_entries(Some(e.table_id)).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].counter.map(|c| c.packets), Some(8));
    // other traffic takes the default class (priority 0)
    assert_eq!(
        sw.process(3, &eth(1, 2, 0x0800)).outputs,
        vec![(2, {
            let mut f = eth(1, 2, 0x0800);
            f.extend([0, 0, 0, 0, 0, 0, 0]);
            f
        })]
    );
    // without priority queues every priority above 0 is dropped, as BMv2 does
    let mut single = Switch::new(
        p.clone(),
        SwitchConfig {
            cpu_port: 255,
            drop_port: 511,
            priority_queues: 1,
        },
    );
    single.insert_entry(&e).unwrap();
    assert_eq!(
        single.process(1, &frame).drops,
        vec![DropReason::PriorityOutOfRange]
    );
    assert_eq!(single.process(1, &eth(1, 2, 0x0800)).outputs.len(), 1);
}

#[test]
fn punt_packet_in_and_packet_out() {
    let p = program("punt");
    let mut sw = Switch::new(p.clone(), SwitchConfig::default());
    sw.insert_entry(&entry(
        &p,
        "MyIngress.l2",
        &[("hdr.eth.dst", "00:00:00:00:00:02")],
        "MyIngress.l2_fwd",
        &[("port", "2")],
        None,
    ))
    .unwrap();
    sw.insert_entry(&entry(
        &p,
        "MyIngress.l2",
        &[("hdr.eth.dst", "00:00:00:00:00:0a")],
        "MyIngress.to_cpu",
        &[("reason", "9")],
        None,
    ))
    .unwrap();
    let pin = p.packet_in.as_ref().unwrap();
    let md = |port: u128, reason: u128| {
        vec![
            (pin.fields[0].0, canonical_bytes(port)),
            (pin.fields[1].0, canonical_bytes(reason)),
            (pin.fields[2].0, vec![0]),
        ]
    };
    // ARP is punted with reason 1 and its ingress port; the header is stripped from the payload
    let arp = eth(0xffff_ffff_ffff, 1, 0x0806);
    let r = sw.process(3, &arp);
    assert!(r.outputs.is_empty());
    assert_eq!(r.packet_ins.len(), 1);
    assert_eq!(r.packet_ins[0].metadata, md(3, 1));
    assert_eq!(r.packet_ins[0].payload, arp);
    // table punt with reason 9, miss punt with reason 2, hit forwards
    assert_eq!(
        sw.process(1, &eth(0x0a, 1, 0x0800)).packet_ins[0].metadata,
        md(1, 9)
    );
    assert_eq!(
        sw.process(1, &eth(0x0b, 1, 0x0800)).packet_ins[0].metadata,
        md(1, 2)
    );
    assert_eq!(
        sw.process(1, &eth(0x02, 1, 0x0800)).outputs,
        vec![(2, eth(0x02, 1, 0x0800))]
    );
    // packet-out to port 3: the packet_out header is consumed, the frame leaves unchanged
    let po = p.packet_out.as_ref().unwrap();
    let payload = eth(0x0b, 1, 0x0800);
    let r = sw
        .packet_out(&[(po.fields[0].0, vec![3])], &payload)
        .unwrap();
    assert_eq!(r.outputs, vec![(3, payload.clone())]);
    // metadata too wide for bit<9>, or an unknown id, is refused
    assert!(matches!(
        sw.packet_out(&[(po.fields[0].0, vec![2, 0])], &payload),
        Err(StateError::InvalidArgument(_))
    ));
    assert!(matches!(
        sw.packet_out(&[(99, vec![1])], &payload),
        Err(StateError::InvalidArgument(_))
    ));
    // @defaultonly NoAction cannot be used in an entry; the table is not const
    let bad = entry(
        &p,
        "MyIngress.l2",
        &[("hdr.eth.dst", "00:00:00:00:00:03")],
        "NoAction",
        &[],
        None,
    );
    assert!(matches!(
        sw.insert_entry(&bad),
        Err(StateError::InvalidArgument(_))
    ));
}

#[test]
fn state_api_errors() {
    let dir = format!("{}/../../shared/bmv2-reference", env!("CARGO_MANIFEST_DIR"));
    let p = program("router");
    let mut sw = Switch::new(p.clone(), SwitchConfig::default());
    let e = entry(
        &p,
        "MyIngress.routes",
        &[("hdr.ipv4.dstAddr", "10.0.0.0/8")],
        "MyIngress.forward",
        &[("port", "1"), ("dmac", "1")],
        None,
    );
    sw.insert_entry(&e).unwrap();
    assert_eq!(sw.insert_entry(&e), Err(StateError::AlreadyExists));
    // modify, read back in canonical form, delete, delete again
    let fwd = &p.actions[p.action_by_name("MyIngress.forward").unwrap() as usize];
    let port_id = fwd.params.iter().find(|x| x.name == "port").unwrap().id;
    let mut m = e.clone();
    m.action
        .params
        .iter_mut()
        .find(|(id, _)| *id == port_id)
        .unwrap()
        .1 = vec![0, 0, 5];
    sw.modify_entry(&m).unwrap();
    let read = sw.read_entries(None).unwrap();
    assert_eq!(read.len(), 1);
    assert!(read[0].action.params.contains(&(port_id, vec![5])));
    assert_eq!(sw.read_entry(e.table_id, &e.matches, 0).unwrap(), read[0]);
    assert_eq!(read[0].matches, e.matches);
    sw.delete_entry(&e).unwrap();
    assert!(matches!(sw.delete_entry(&e), Err(StateError::NotFound(_))));
    assert!(matches!(sw.modify_entry(&e), Err(StateError::NotFound(_))));
    // value too wide, bits beyond the prefix, a priority where none is allowed, unknown ids
    let mut wide = e.clone();
    wide.action
        .params
        .iter_mut()
        .find(|(id, _)| *id == port_id)
        .unwrap()
        .1 = vec![2, 0];
    assert!(matches!(
        sw.insert_entry(&wide),
        Err(StateError::InvalidArgument(_))
    ));
    let host_bits = entry(
        &p,
        "MyIngress.routes",
        &[("hdr.ipv4.dstAddr", "10.0.0.1/8")],
        "MyIngress.forward",
        &[("port", "1"), ("dmac", "1")],
        None,
    );
    assert!(matches!(
        sw.insert_entry(&host_bits),
        Err(StateError::InvalidArgument(_))
    ));
    let mut prio = e.clone();
    prio.priority = 5;
    assert!(matches!(
        sw.insert_entry(&prio),
        Err(StateError::InvalidArgument(_))
    ));
    let mut unknown = e.clone();
    unknown.table_id = 1;
    assert!(matches!(
        sw.insert_entry(&unknown),
        Err(StateError::NotFound(_))
    ));
    let mut missing = e.clone();
    missing.action.params.pop();
    assert!(matches!(
        sw.insert_entry(&missing),
        Err(StateError::InvalidArgument(_))
    ));
    // default action: set, read, reset
    let t = e.table_id;
    sw.set_default_action(t, &e.action).unwrap();
    let mut want = e.action.params.clone();
    want.sort();
    assert_eq!(sw.read_default_entry(t).unwrap().action.params, want);
    sw.reset_default_action(t).unwrap();
    assert_ne!(sw.read_default_entry(t).unwrap().action, e.action);

    // a ternary table needs a priority; const entries and const defaults refuse writes
    if std::path::Path::new(&dir).exists() {
        let tp = flashmesh_p4::compile_file(format!("{dir}/tables.p4")).unwrap();
        let mut ts = Switch::new(tp.clone(), SwitchConfig::default());
        let mut t = shell_entry(
            &tp,
            &ShellEntry {
                table: "MyIngress.t_tern".into(),
                r#match: [("hdr.tin.k8".to_string(), "0x12&&&0xFF".to_string())].into(),
                action: "MyIngress.set_tern".into(),
                params: [("v".to_string(), "1".to_string())].into(),
                priority: None,
                default: false,
            },
        )
        .unwrap();
        assert!(matches!(
            ts.insert_entry(&t),
            Err(StateError::InvalidArgument(_))
        ));
        t.priority = 1;
        ts.insert_entry(&t).unwrap();
        // value bits outside the mask
        t.matches = shell_matches(
            &tp,
            "MyIngress.t_tern",
            &[("hdr.tin.k8".to_string(), "0x13&&&0x0F".to_string())].into(),
        )
        .unwrap();
        assert!(matches!(
            ts.insert_entry(&t),
            Err(StateError::InvalidArgument(_))
        ));
        let c = shell_entry(
            &tp,
            &ShellEntry {
                table: "MyIngress.t_const".into(),
                r#match: [("hdr.tin.k8".to_string(), "0x01&&&0xFF".to_string())].into(),
                action: "MyIngress.set_const".into(),
                params: [("v".to_string(), "1".to_string())].into(),
                priority: Some(100),
                default: false,
            },
        )
        .unwrap();
        assert!(matches!(
            ts.insert_entry(&c),
            Err(StateError::InvalidArgument(_))
        ));
        assert!(matches!(
            ts.set_default_action(c.table_id, &c.action),
            Err(StateError::InvalidArgument(_))
        ));
        // const entries are readable
        assert_eq!(ts.read_entries(Some(c.table_id)).unwrap().len(), 4);
    }
}

#[test]
fn unsupported_constructs_are_diagnostics() {
    let base = |body: &str| {
        format!(
            "#include <core.p4>\n#include <v1model.p4>\nheader h_t {{ bit<8> a; }}\nstruct hs {{ h_t h; }}\nstruct m_t {{ bit<8> x; }}\n\
             parser P(packet_in pkt, out hs hdr, inout m_t m, inout standard_metadata_t sm) {{ state start {{ pkt.extract(hdr.h); transition accept; }} }}\n\
             control VC(inout hs hdr, inout m_t m) {{ apply {{ }} }}\n\
             control I(inout hs hdr, inout m_t m, inout standard_metadata_t sm) {{ apply {{ {body} }} }}\n\
             control E(inout hs hdr, inout m_t m, inout standard_metadata_t sm) {{ apply {{ }} }}\n\
             control CC(inout hs hdr, inout m_t m) {{ apply {{ }} }}\n\
             control D(packet_out pkt, in hs hdr) {{ apply {{ pkt.emit(hdr.h); }} }}\n\
             V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n"
        )
    };
    assert!(flashmesh_p4::compile_str("ok.p4", &base("sm.egress_spec = 1;")).is_ok());
    for (body, needle) in [
        ("resubmit(m);", "not supported"),
        ("recirculate(m);", "not supported"),
        ("truncate(32w64);", "not supported"),
        ("clone(CloneType.I2E, 5);", "not supported"),
    ] {
        match flashmesh_p4::compile_str("bad.p4", &base(body)) {
            Ok(_) => panic!("{body} compiled"),
            Err(d) => {
                let text = d.to_string();
                assert!(
                    text.contains(needle) && text.contains("bad.p4:"),
                    "{body}: {text}"
                );
            }
        }
    }
}

/// Random and truncated frames through every program: nothing panics, and every frame has an
/// outcome.
#[test]
fn random_frames_never_panic() {
    let dir = format!("{}/../../shared/bmv2-reference", env!("CARGO_MANIFEST_DIR"));
    let mut programs: Vec<Arc<Program>> = ["router", "firewall", "tunnel", "qos", "punt"]
        .iter()
        .map(|n| program(n))
        .collect();
    for n in ["hashes", "arith", "parse", "tables", "state", "cpu"] {
        if let Ok(p) = flashmesh_p4::compile_file(format!("{dir}/{n}.p4")) {
            programs.push(p);
        }
    }
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for p in programs {
        let mut sw = Switch::new(p.clone(), SwitchConfig::default());
        for i in 0..1500 {
            let len = (next() % 90) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // steer a share of the frames into the programs' parsers
            if len >= 14 && i % 2 == 0 {
                let types = [
                    0x0800u16, 0x88b5, 0x88b6, 0x88b7, 0x88b8, 0x9000, 0x9100, 0x9200, 0x1212,
                    0x0806,
                ];
                let t = types[(next() % types.len() as u64) as usize];
                f[12..14].copy_from_slice(&t.to_be_bytes());
            }
            let port = [1u32, 2, 3, 255][(next() % 4) as usize];
            let r = sw.process(port, &f);
            assert_eq!(r.outputs.len() + r.packet_ins.len() + r.drops.len(), 1);
            let _ = sw.packet_out(&[], &f);
        }
    }
}

/// A program is shared between threads and a switch can move to a datapath thread.
#[test]
fn program_is_sync_and_switch_is_send() {
    fn sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    sync::<Program>();
    send::<Switch>();
    let p = program("router");
    let sw = std::sync::Mutex::new(Switch::new(p.clone(), SwitchConfig::default()));
    std::thread::scope(|s| {
        s.spawn(|| {
            sw.lock()
                .unwrap()
                .process(1, &udp_frame(1, A, 0x0a00_0001, 64, 0, 1))
        });
        s.spawn(|| sw.lock().unwrap().read_entries(None).unwrap());
    });
}

#[test]
fn multicast_replicas() {
    let p = program("mcast");
    let mut sw = Switch::new(p, SwitchConfig::default());
    let lldp = eth(0x0180_c200_000e, 1, 0x88cc);
    let with_trailer = |rid: u16, inst: u8, port: u16| {
        let mut f = lldp.clone();
        f.extend(rid.to_be_bytes());
        f.push(inst);
        f.extend(port.to_be_bytes());
        f
    };
    // no group configured: dropped, as BMv2 does
    assert_eq!(sw.process(1, &lldp).drops, vec![DropReason::Multicast]);
    sw.set_multicast_group(1, vec![(2, 7), (3, 9)]);
    let r = sw.process(1, &lldp);
    assert_eq!(
        r.outputs,
        vec![(2, with_trailer(7, 5, 2)), (3, with_trailer(9, 5, 3))]
    );
    // the single-outcome ingress reports multicast as a drop; ingress_all gives the replicas
    assert!(matches!(
        sw.ingress(1, &lldp),
        flashmesh_p4::IngressOutcome::Dropped(DropReason::Multicast)
    ));
    let mut out = Vec::new();
    sw.ingress_all(1, &lldp, &mut out);
    assert_eq!(out.len(), 2);
    // unicast is unaffected
    let mut plain = eth(2, 1, 0x0800);
    assert_eq!(
        sw.process(3, &plain).outputs,
        vec![(1, {
            plain.extend([0, 0, 0, 0, 0x01]);
            plain
        })]
    );
    sw.set_multicast_group(1, vec![]);
    assert_eq!(sw.multicast_group(1), None);
}
