//! The controller's P4Runtime client against a real flash-switch over gRPC on loopback:
//! arbitration (backup writes denied, take-over, reclaim), pipeline reconciliation (no second
//! push), write batches with per-update errors, wildcard reads, counters, packet-out/in.

mod controller_common;

use std::time::Duration;

use controller_common::*;
use flashmesh_controller::p4rt::spec::{EntrySpec, EntryUpdate, FieldMatch, UpdateKind};
use flashmesh_controller::p4rt::{Mastership, P4rtError, PushOutcome};
use flashmesh_controller::sdn::flash_mesh::{self as fm, names};
use flashmesh_controller::sdn::probe::{self, Probe};

fn blocked(tag: u8) -> EntrySpec {
    fm::blocked_entry([tag; 8])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitration_denies_backup_writes_and_hands_over() {
    let ts = start_switch(&[1, 2]).await;
    let pipeline = flash_mesh();

    let high = session(&ts.addr(), 10).await;
    assert_eq!(high.mastership(), Mastership::Primary);
    assert_eq!(
        high.ensure_pipeline(&pipeline).await.unwrap(),
        PushOutcome::Pushed
    );

    let low = session(&ts.addr(), 5).await;
    assert_eq!(low.mastership(), Mastership::Backup);
    low.set_p4info(&pipeline.p4info);
    let denied = low
        .write(&[EntryUpdate::insert(blocked(1))])
        .await
        .unwrap_err();
    assert!(matches!(denied, P4rtError::NotPrimary { .. }), "{denied}");
    // the backup can still read
    assert!(
        low.read_table(names::BLOCKED_SENDERS)
            .await
            .unwrap()
            .is_empty()
    );

    high.write(&[EntryUpdate::insert(blocked(2))])
        .await
        .unwrap();

    // the primary goes: the backup takes over
    high.close();
    drop(high);
    assert!(
        low.wait_primary(Duration::from_secs(5)).await,
        "backup took over"
    );
    low.write(&[EntryUpdate::insert(blocked(3))]).await.unwrap();

    // the high election id comes back and reclaims mastership
    let again = session(&ts.addr(), 10).await;
    assert!(again.wait_primary(Duration::from_secs(5)).await);
    let mut m = low.watch_mastership();
    tokio::time::timeout(
        Duration::from_secs(5),
        m.wait_for(|m| *m == Mastership::Backup),
    )
    .await
    .expect("old backup demoted")
    .unwrap();
    // reconciliation: same pipeline, so no second push, and the entries survive
    again.set_p4info(&pipeline.p4info);
    assert_eq!(
        again.ensure_pipeline(&pipeline).await.unwrap(),
        PushOutcome::AlreadyInstalled
    );
    let rows = again.read_table(names::BLOCKED_SENDERS).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_report_each_failed_update_and_reads_are_wildcards() {
    let ts = start_switch(&[1, 2]).await;
    let pipeline = flash_mesh();
    let s = session(&ts.addr(), 1).await;
    s.ensure_pipeline(&pipeline).await.unwrap();

    let routes: Vec<EntrySpec> = (1..=3u8)
        .map(|i| {
            EntrySpec::new(names::IPV4_LPM, names::SET_NEXT_HOP)
                .matching(
                    names::F_DST,
                    FieldMatch::lpm(u128::from(0x0a00_0000u32 | (u32::from(i) << 8)), 24),
                )
                .param("port", 1)
                .param("dmac", 0x0200_0000_0001)
                .param("backup_port", 2)
                .param("backup_dmac", 0x0200_0000_0002)
                .param("smac", 0x0200_0000_00ff)
        })
        .collect();
    // a batch whose second update duplicates the first
    let batch = vec![
        EntryUpdate::insert(routes[0].clone()),
        EntryUpdate::insert(routes[0].clone()),
        EntryUpdate::insert(routes[1].clone()),
        EntryUpdate::delete(routes[2].clone()),
    ];
    match s.write(&batch).await.unwrap_err() {
        P4rtError::Batch { total, errors } => {
            assert_eq!(total, 4);
            let idx: Vec<usize> = errors.iter().map(|e| e.index).collect();
            assert_eq!(idx, vec![1, 3], "{errors:?}");
            assert_eq!(errors[0].code, tonic_code_already_exists());
            assert!(errors[0].what.contains("Insert"));
        }
        other => panic!("expected a batch error, got {other}"),
    }
    let mut read = s.read_table(names::IPV4_LPM).await.unwrap();
    read.sort_by_key(|e| e.key());
    let mut want = vec![routes[0].clone(), routes[1].clone()];
    want.sort_by_key(|e| e.key());
    assert_eq!(read.len(), 2);
    for (r, w) in read.iter().zip(&want) {
        assert_eq!(r.key(), w.key());
        assert!(r.same_action(w));
    }
    // default action modify and read back
    s.write(&[EntryUpdate {
        kind: UpdateKind::Modify,
        entry: fm::epoch_entry(7, 2),
    }])
    .await
    .unwrap();
    let d = s.read_default(names::EPOCH_WINDOW).await.unwrap().unwrap();
    assert!(d.same_action(&fm::epoch_entry(7, 2)), "{d:?}");
    // whole-switch wildcard read sees the routes too
    let all = s.read_all_entries().await.unwrap();
    assert!(all.iter().filter(|e| e.table == names::IPV4_LPM).count() >= 2);
    // counters read as wildcards over every index
    let cells = s.read_counter(names::DROPS).await.unwrap();
    assert_eq!(cells.len(), 16);
    // a name P4Info does not have never reaches the switch
    let bad = EntrySpec::new("FmIngress.nope", "NoAction");
    assert!(matches!(
        s.write(&[EntryUpdate::insert(bad)]).await.unwrap_err(),
        P4rtError::P4Info(_)
    ));
}

fn tonic_code_already_exists() -> flashmesh_proto::tonic::Code {
    flashmesh_proto::tonic::Code::AlreadyExists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_goes_out_by_packet_out_and_its_reply_comes_back_as_packet_in() {
    let a = start_switch(&[1, 2]).await;
    let b = start_switch(&[1, 2]).await;
    flash_switch::embed::EmbeddedSwitch::connect(&a.sw, 1, &b.sw, 1);
    let pipeline = flash_mesh();
    let sa = session(&a.addr(), 1).await;
    let sb = session(&b.addr(), 1).await;
    sa.ensure_pipeline(&pipeline).await.unwrap();
    sb.ensure_pipeline(&pipeline).await.unwrap();
    for s in [&sa, &sb] {
        s.write(&[EntryUpdate::modify(fm::epoch_entry(3, 2))])
            .await
            .unwrap();
    }
    let mut pins = sa.packet_ins();
    let p = Probe {
        origin: flashmesh_core::Tag([7; 8]),
        port: 1,
        seq: 99,
        sent_ns: 12345,
        epoch: 3,
        reply: false,
    };
    let frame = probe::build(
        &p,
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 2],
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
    );
    sa.packet_out(frame, &[(names::PO_EGRESS_PORT, 1), (names::PO_FLAGS, 0)])
        .await
        .unwrap();
    let pin = tokio::time::timeout(Duration::from_secs(5), pins.recv())
        .await
        .expect("a packet-in arrives")
        .unwrap();
    assert_eq!(pin.get(names::PI_INGRESS_PORT), Some(1));
    assert_eq!(
        pin.get(names::PI_REASON),
        Some(u128::from(fm::REASON_PROBE_REPLY))
    );
    let reply = probe::parse(&pin.payload).unwrap();
    assert!(reply.reply);
    assert_eq!(
        (reply.origin, reply.port, reply.seq, reply.sent_ns),
        (flashmesh_core::Tag([7; 8]), 1, 99, 12345)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_reconnects_and_reclaims_mastership_after_the_server_restarts() {
    let ts = start_switch(&[1]).await;
    let addr = ts.server.local_addr();
    let device = ts.sw.device().clone();
    let pipeline = flash_mesh();
    let s = session(&addr.to_string(), 3).await;
    assert_eq!(s.mastership(), Mastership::Primary);
    s.ensure_pipeline(&pipeline).await.unwrap();
    s.write(&[EntryUpdate::insert(blocked(9))]).await.unwrap();
    let mut m = s.watch_mastership();

    let TestSwitch { sw, server } = ts;
    server.shutdown().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        m.wait_for(|x| *x == Mastership::Connecting),
    )
    .await
    .expect("the session notices the server is gone")
    .unwrap();

    let _server = flash_switch::p4rt::spawn(device, addr).await.unwrap();
    assert!(
        s.wait_primary(Duration::from_secs(10)).await,
        "mastership reclaimed after reconnect"
    );
    // a restarted server may have forgotten the cookie: reconciling pushes only if needed,
    // and writes are accepted again
    s.ensure_pipeline(&pipeline).await.unwrap();
    assert_eq!(
        s.ensure_pipeline(&pipeline).await.unwrap(),
        PushOutcome::AlreadyInstalled
    );
    s.write(&[EntryUpdate::insert(blocked(10))]).await.unwrap();
    assert!(
        !s.read_table(names::BLOCKED_SENDERS)
            .await
            .unwrap()
            .is_empty()
    );
    drop(sw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_arrive_by_name_and_direct_counters_read_per_entry() {
    let ts = start_switch(&[1, 2]).await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../controller/tests/data/learn.p4"
    );
    let pipeline =
        flashmesh_controller::p4rt::Pipeline::from_source(std::path::Path::new(path)).unwrap();
    let s = session(&ts.addr(), 1).await;
    s.ensure_pipeline(&pipeline).await.unwrap();
    let entry = EntrySpec::new("LearnIngress.fwd", "LearnIngress.set_port")
        .matching("hdr.eth.dst", FieldMatch::exact(0x0200_0000_0002))
        .param("port", 2);
    s.write(&[EntryUpdate::insert(entry.clone())])
        .await
        .unwrap();
    let name = "learn_t"; // P4Info names a digest after its struct type
    s.enable_digest(name, 0, 1, 1_000_000_000).await.unwrap();
    let mut digests = s.digests();

    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x11, 0x88, 0xb5];
    frame.extend_from_slice(&[0u8; 46]);
    ts.sw.port(1).unwrap().send(frame);
    let out = recv_frame(&ts.sw, 2, Duration::from_secs(5)).await;
    assert!(out.is_some(), "forwarded by the entry");
    let d = tokio::time::timeout(Duration::from_secs(5), digests.recv())
        .await
        .expect("a digest arrives")
        .unwrap();
    assert_eq!(d.name, name);
    assert!(!d.data.is_empty());
    let hits = s.read_direct_counters("LearnIngress.fwd").await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0.key(), entry.key());
    assert_eq!(hits[0].1, 1, "one packet counted on the entry");
    assert!(hits[0].2 >= 60);
}
