//! Multicast groups written over P4Runtime take effect in the data plane: a packet the
//! program sends to group 1 leaves every replica's port, with its `egress_rid`; deleting the
//! group stops the copies.

mod p4rt_support;

use flashmesh_proto::p4::v1::{
    self as p4v1, entity::Entity as E, packet_replication_engine_entry::Type as PreType,
    replica::PortKind, set_forwarding_pipeline_config_request::Action, update::Type,
};
use p4rt_support::*;
use std::time::Duration;

const DEV: u64 = 0;
const PROGRAM: &str = include_str!("../../p4engine/tests/programs/mcast.p4");
/// An LLDP-type frame (ether type 0x88cc), which the program multicasts to group 1.
const LLDP: &str = "0180c200000e02000000000188cc0102";

fn group(replicas: &[(u32, u32)]) -> E {
    E::PacketReplicationEngineEntry(p4v1::PacketReplicationEngineEntry {
        r#type: Some(PreType::MulticastGroupEntry(p4v1::MulticastGroupEntry {
            multicast_group_id: 1,
            replicas: replicas
                .iter()
                .map(|&(port, instance)| p4v1::Replica {
                    port_kind: Some(PortKind::Port(vec![port as u8])),
                    instance,
                })
                .collect(),
            metadata: Vec::new(),
        })),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multicast_group_replicates_and_delete_stops_it() {
    let p4info = flashmesh_p4::p4info_source("mcast.p4", PROGRAM).expect("P4Info");
    let mut h = Harness::start(DEV).await;
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    push(&mut c, DEV, 1, PROGRAM, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");

    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, group(&[(2, 7), (3, 9)]))],
    )
    .await
    .expect("group written");

    assert!(h.device.inject_frame(1, hex(LLDP)));
    for (port, rid) in [(2u32, 7u16), (3, 9)] {
        let frame = h.output(port, WAIT).await.expect("a replica on each port");
        // The trailer the deparser emits after Ethernet (before the unparsed payload):
        // rid (16), instance_type (8), port (16).
        let trailer = &frame[14..19];
        assert_eq!(u16::from_be_bytes([trailer[0], trailer[1]]), rid);
        assert_eq!(u16::from_be_bytes([trailer[3], trailer[4]]), port as u16);
    }
    assert!(h.output(1, Duration::from_millis(200)).await.is_none());

    write(&mut c, DEV, Some(1), vec![update(Type::Delete, group(&[]))])
        .await
        .expect("group deleted");
    assert!(h.device.inject_frame(1, hex(LLDP)));
    assert!(h.output(2, Duration::from_millis(300)).await.is_none());
    assert!(h.output(3, Duration::from_millis(100)).await.is_none());
    h.stop().await;
}
