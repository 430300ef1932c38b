//! P4Runtime arbitration over gRPC: primary and backups, notifications, writes
//! from a backup denied, failover when the primary's stream closes.

mod p4rt_support;

use flashmesh_proto::google::rpc::Code;
use flashmesh_proto::p4::v1::{
    self as p4v1, set_forwarding_pipeline_config_request::Action, update::Type,
};
use p4rt_support::*;

const DEV: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_primary_backup_and_failover() {
    let Some((source, p4info)) = reference("cpu") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let names = Names(&p4info);
    let mut c1 = h.client().await;
    let mut c2 = h.client().await;

    let (s1, a1) = Stream::open(&mut c1, DEV, 10).await;
    assert_eq!(
        status_code(&a1),
        Code::Ok as i32,
        "first client is primary: {a1:?}"
    );

    let (mut s2, a2) = Stream::open(&mut c2, DEV, 5).await;
    assert_eq!(
        status_code(&a2),
        Code::AlreadyExists as i32,
        "lower id is a backup: {a2:?}"
    );
    assert_eq!(
        a2.election_id,
        election(10),
        "backups learn the primary's election id"
    );

    // Only the primary may push a pipeline or write.
    let denied = push(&mut c2, DEV, 5, &source, &p4info, Action::VerifyAndCommit)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    push(&mut c1, DEV, 10, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("primary pushes");

    let entry = names.entry(
        "MyIngress.proto_tbl",
        vec![("hdr.ipv4.protocol", exact(&[17]))],
        "MyIngress.fwd",
        &[("port", &[3])],
        0,
    );
    let insert = |e: &p4v1::TableEntry| {
        vec![update(
            Type::Insert,
            p4v1::entity::Entity::TableEntry(e.clone()),
        )]
    };
    let err = write(&mut c2, DEV, Some(5), insert(&entry))
        .await
        .unwrap_err();
    assert_eq!(err.0, tonic::Code::PermissionDenied, "backup write denied");
    let err = write(&mut c2, DEV, Some(10), insert(&entry)).await;
    assert!(
        err.is_ok(),
        "the primary's election id is what authorises a write"
    );
    let err = write(&mut c2, DEV, None, insert(&entry)).await.unwrap_err();
    assert_eq!(
        err.0,
        tonic::Code::PermissionDenied,
        "no election id is denied"
    );

    // The primary leaves: the backup is promoted and told so.
    drop(s1);
    let promoted = s2.next_arbitration().await.expect("failover notice");
    assert_eq!(status_code(&promoted), Code::Ok as i32, "{promoted:?}");
    assert_eq!(promoted.election_id, election(5));
    let e2 = names.entry(
        "MyIngress.proto_tbl",
        vec![("hdr.ipv4.protocol", exact(&[6]))],
        "MyIngress.drop",
        &[],
        0,
    );
    write(&mut c2, DEV, Some(5), insert(&e2))
        .await
        .expect("new primary writes");
    let err = write(&mut c2, DEV, Some(10), insert(&e2))
        .await
        .unwrap_err();
    assert_eq!(
        err.0,
        tonic::Code::PermissionDenied,
        "the old primary's id no longer works"
    );

    // A higher election id takes over and everybody is told.
    let mut c3 = h.client().await;
    let (_s3, a3) = Stream::open(&mut c3, DEV, 20).await;
    assert_eq!(status_code(&a3), Code::Ok as i32);
    let demoted = s2.next_arbitration().await.expect("demotion notice");
    assert_eq!(status_code(&demoted), Code::AlreadyExists as i32);
    assert_eq!(demoted.election_id, election(20));
    drop(s2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitration_errors_close_the_stream() {
    let h = Harness::start(DEV).await;
    let mut c1 = h.client().await;
    let (_s1, a1) = Stream::open(&mut c1, DEV, 3).await;
    assert_eq!(status_code(&a1), Code::Ok as i32);

    // The same election id from another client.
    let mut c2 = h.client().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut rx2 = c2
        .stream_channel(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut s2 = Stream { tx, rx: rx2 };
    s2.arbitrate(DEV, 3).await;
    let err = s2.next(WAIT).await.expect("an answer").unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // An unknown device id.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    rx2 = c2
        .stream_channel(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut s3 = Stream { tx, rx: rx2 };
    s3.arbitrate(DEV + 1, 9).await;
    let err = s3.next(WAIT).await.expect("an answer").unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    h.stop().await;
}
