//! Meters, direct meters, registers and digests over gRPC, on a program of this test
//! suite whose P4Info the engine derives.

mod p4rt_support;

use std::time::Duration;

use flashmesh_proto::p4::config::v1::P4Info;
use flashmesh_proto::p4::v1::{
    self as p4v1, entity::Entity as E, set_forwarding_pipeline_config_request::Action,
    stream_message_request::Update as In, stream_message_response::Update as Out, update::Type,
};
use p4rt_support::*;

const DEV: u64 = 3;

fn features() -> (String, P4Info) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/p4rt_support/features.p4");
    let source = std::fs::read_to_string(&path).unwrap();
    let p4info = flashmesh_p4::p4info_source("features.p4", &source).expect("features.p4 compiles");
    (source, p4info)
}

fn id_of(p: Option<&flashmesh_proto::p4::config::v1::Preamble>) -> u32 {
    p.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_and_direct_meters() {
    let (source, p4info) = features();
    let h = Harness::start(DEV).await;
    let n = Names(&p4info);
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");

    let meter_id = id_of(p4info.meters[0].preamble.as_ref());
    let config = p4v1::MeterConfig {
        cir: 100,
        cburst: 10,
        pir: 200,
        pburst: 20,
        eburst: 0,
    };
    let cell = p4v1::MeterEntry {
        meter_id,
        index: Some(p4v1::Index { index: 2 }),
        config: Some(config),
        counter_data: None,
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::MeterEntry(cell))],
    )
    .await
    .expect("meter write");
    let all = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::MeterEntry(p4v1::MeterEntry {
                meter_id,
                ..Default::default()
            })),
        }],
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 4, "every cell of the meter");
    let configured: Vec<_> = all
        .iter()
        .filter_map(|e| match &e.entity {
            Some(E::MeterEntry(m)) if m.config.is_some() => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(configured, vec![cell]);

    let mut bad = cell;
    bad.config = Some(p4v1::MeterConfig {
        cir: 300,
        pir: 200,
        ..config
    });
    let err = write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::MeterEntry(bad))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::InvalidArgument as i32]);

    // A direct meter follows its table entry.
    let flows = n.entry(
        "FIngress.flows",
        vec![("hdr.eth.src", exact(&[2, 0, 0, 0, 0, 9]))],
        "FIngress.police",
        &[],
        0,
    );
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, E::TableEntry(flows.clone()))],
    )
    .await
    .expect("insert");
    let mut key = flows.clone();
    key.action = None;
    let dm = p4v1::DirectMeterEntry {
        table_entry: Some(key),
        config: Some(config),
        counter_data: None,
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::DirectMeterEntry(dm.clone()))],
    )
    .await
    .expect("direct meter write");
    let back = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::DirectMeterEntry(p4v1::DirectMeterEntry::default())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        back,
        vec![p4v1::Entity {
            entity: Some(E::DirectMeterEntry(dm))
        }]
    );
    h.stop().await;
}

async fn next_digest(s: &mut Stream, wait: Duration) -> Option<p4v1::DigestList> {
    match s.next(wait).await {
        Some(Ok(p4v1::StreamMessageResponse {
            update: Some(Out::Digest(d)),
        })) => Some(d),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_need_config_and_wait_for_acks() {
    let (source, p4info) = features();
    let h = Harness::start(DEV).await;
    let mut c = h.client().await;
    let (mut s, _) = Stream::open(&mut c, DEV, 1).await;
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");
    let digest_id = id_of(p4info.digests[0].preamble.as_ref());
    let learn = |src: u8| {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, src, 0x88, 0xb5]);
        f.extend_from_slice(b"hello");
        f
    };

    // Not configured: nothing is streamed.
    assert!(h.device.inject_frame(1, learn(5)));
    assert!(
        next_digest(&mut s, Duration::from_millis(300))
            .await
            .is_none()
    );

    let entry = p4v1::DigestEntry {
        digest_id,
        config: Some(p4v1::digest_entry::Config {
            max_timeout_ns: 0,
            max_list_size: 1,
            ack_timeout_ns: 10_000_000_000,
        }),
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, E::DigestEntry(entry))],
    )
    .await
    .expect("digest config");
    let configured = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::DigestEntry(p4v1::DigestEntry::default())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        configured,
        vec![p4v1::Entity {
            entity: Some(E::DigestEntry(entry))
        }]
    );

    assert!(h.device.inject_frame(1, learn(5)));
    let list = next_digest(&mut s, WAIT).await.expect("a digest list");
    assert_eq!(list.digest_id, digest_id);
    let members = match list.data[0].data.as_ref() {
        Some(p4v1::p4_data::Data::Struct(st)) => st
            .members
            .iter()
            .map(|m| match &m.data {
                Some(p4v1::p4_data::Data::Bitstring(b)) => b.clone(),
                other => panic!("bitstring expected, got {other:?}"),
            })
            .collect::<Vec<_>>(),
        other => panic!("struct expected, got {other:?}"),
    };
    assert_eq!(members, vec![vec![2, 0, 0, 0, 0, 5], vec![1]]);

    // The same data is not sent again before it is acknowledged.
    assert!(h.device.inject_frame(1, learn(5)));
    assert!(
        next_digest(&mut s, Duration::from_millis(300))
            .await
            .is_none()
    );
    s.send(In::DigestAck(p4v1::DigestListAck {
        digest_id,
        list_id: list.list_id,
    }))
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.device.inject_frame(1, learn(5)));
    let again = next_digest(&mut s, WAIT)
        .await
        .expect("sent again after the ack");
    assert_ne!(again.list_id, list.list_id);
    h.stop().await;
}
