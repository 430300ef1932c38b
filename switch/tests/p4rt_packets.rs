//! Packet I/O over the stream channel: a packet-out comes out of its port, a packet
//! sent to the CPU port reaches the primary as a packet-in with its metadata, and a
//! backup's packet-out is refused with a stream error.

mod p4rt_support;

use std::time::Duration;

use flashmesh_proto::p4::v1::{
    self as p4v1, entity::Entity as E, set_forwarding_pipeline_config_request::Action,
    stream_message_request::Update as In, stream_message_response::Update as Out, update::Type,
};
use p4rt_support::*;

const DEV: u64 = 0;
/// An IPv4/UDP frame (cpu.vectors.json, `po_port2_plain`).
const PAYLOAD: &str =
    "02000000020202000000010108004500001c123440004011119b0a0001010a0002026162636465666768";
/// IPv4 with TTL 1, which cpu.p4 punts with reason 2 (`ttl1_punt`).
const TTL1: &str =
    "02000000020202000000010108004500001c123440000111509b0a0001010a000202616263646566";
/// ICMP, punted through proto_tbl with reason 3 and tag 0x0101 (`icmp_punt`).
const ICMP: &str =
    "02000000020202000000010108004500001c12344000400111ab0a0001010a000202616263646566";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_out_to_port_and_packet_in_to_primary() {
    packet_io(1).await;
}

/// The same with two datapath threads: ports 1 and 2 in one group, 3 and the CPU port's
/// packet-ins and packet-outs split between the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_io_with_two_datapath_threads() {
    packet_io(2).await;
}

async fn packet_io(threads: usize) {
    let Some((source, p4info)) = reference("cpu") else {
        return;
    };
    let mut h = Harness::start_threads(DEV, None, threads).await;
    assert_eq!(h.device.datapath().groups.len(), threads);
    let n = Names(&p4info);
    let mut c = h.client().await;
    let (mut s, _) = Stream::open(&mut c, DEV, 2).await;
    push(&mut c, DEV, 2, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");

    // Packet-out to port 2, or with two threads to port 3 (the other thread's).
    let out_port: u32 = if threads == 1 { 2 } else { 3 };
    let meta = |field: &str, v: &[u8]| p4v1::PacketMetadata {
        metadata_id: n.packet_metadata("packet_out", field),
        value: v.to_vec(),
    };
    let out = p4v1::PacketOut {
        payload: hex(PAYLOAD),
        metadata: vec![
            meta("egress_port", &[out_port as u8]),
            meta("flags", &[0]),
            meta("tag", &[0]),
        ],
    };
    s.send(In::Packet(out)).await;
    let frame = h.output(out_port, WAIT).await.expect("packet-out leaves");
    assert_eq!(frame, hex(PAYLOAD));

    // A packet that the program punts arrives as a packet-in with its metadata.
    assert!(h.device.inject_frame(1, hex(TTL1)));
    let pi = s.next_packet_in().await.expect("packet-in");
    assert_eq!(pi.payload, hex(TTL1));
    let value = |field: &str| {
        let id = n.packet_metadata("packet_in", field);
        pi.metadata
            .iter()
            .find(|m| m.metadata_id == id)
            .map(|m| m.value.clone())
    };
    assert_eq!(value("ingress_port"), Some(vec![1]));
    assert_eq!(value("reason"), Some(vec![2]));
    assert_eq!(value("tag"), Some(vec![1]));

    // Through a table entry written over P4Runtime.
    let punt = n.entry(
        "MyIngress.proto_tbl",
        vec![("hdr.ipv4.protocol", exact(&[1]))],
        "MyIngress.punt",
        &[("reason", &[3]), ("tag", &[1, 1])],
        0,
    );
    write(
        &mut c,
        DEV,
        Some(2),
        vec![update(Type::Insert, E::TableEntry(punt))],
    )
    .await
    .expect("insert");
    assert!(h.device.inject_frame(3, hex(ICMP)));
    let pi = s.next_packet_in().await.expect("packet-in");
    let reason = pi
        .metadata
        .iter()
        .find(|m| m.metadata_id == n.packet_metadata("packet_in", "reason"))
        .map(|m| m.value.clone());
    assert_eq!(reason, Some(vec![3]));

    // A backup gets no packet-ins and may not send packet-outs.
    let mut c2 = h.client().await;
    let (mut backup, _) = Stream::open(&mut c2, DEV, 1).await;
    backup
        .send(In::Packet(p4v1::PacketOut {
            payload: hex(PAYLOAD),
            metadata: vec![meta("egress_port", &[3])],
        }))
        .await;
    let err = backup
        .next(WAIT)
        .await
        .expect("an answer")
        .expect("stream stays open");
    match err.update {
        Some(Out::Error(e)) => assert_eq!(e.canonical_code, tonic::Code::PermissionDenied as i32),
        other => panic!("expected a stream error, got {other:?}"),
    }
    assert!(
        h.output(3, Duration::from_millis(300)).await.is_none(),
        "the backup's packet-out was dropped"
    );
    assert!(h.device.inject_frame(1, hex(TTL1)));
    assert!(
        s.next_packet_in().await.is_some(),
        "primary still gets packet-ins"
    );
    assert!(
        backup.next(Duration::from_millis(300)).await.is_none(),
        "backup gets none"
    );

    // Bad packet-out metadata is reported on the stream.
    s.send(In::Packet(p4v1::PacketOut {
        payload: hex(PAYLOAD),
        metadata: vec![meta("egress_port", &[0xff, 0xff])],
    }))
    .await;
    let err = s
        .next(WAIT)
        .await
        .expect("an answer")
        .expect("stream stays open");
    match err.update {
        Some(Out::Error(e)) => assert_eq!(e.canonical_code, tonic::Code::InvalidArgument as i32),
        other => panic!("expected a stream error, got {other:?}"),
    }
    h.stop().await;
}
