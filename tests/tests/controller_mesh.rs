//! The controller driving three flash-switches running flash_mesh.p4: links confirmed by probes,
//! routes with backups, fast reroute when a link is cut (observed by the traffic arriving again,
//! not timed), recovery when it returns, and the penalty path.

mod controller_common;

use std::net::Ipv4Addr;
use std::time::Duration;

use controller_common::*;
use flash_switch::embed::EmbeddedSwitch;
use flashmesh_controller::p4rt::FieldMatch;
use flashmesh_controller::sdn::flash_mesh::names;
use flashmesh_controller::{Controller, ControllerEvent};

const VOTE: u8 = 2;

fn to_b(ctrl_epoch: u32, sender: [u8; 8], nonce: u64) -> Vec<u8> {
    Fmh::new(VOTE, ctrl_epoch, sender, nonce, Ipv4Addr::new(10, 0, 2, 7)).frame()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroutes_around_a_cut_link_and_back() {
    let t = triangle().await;
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller starts");
    let mut ev = ctrl.events();
    // every link confirmed by probes
    let links_up = async {
        loop {
            let ls = ctrl.links().await;
            if ls.iter().all(|l| {
                l.a.as_ref().is_some_and(|s| s.confirmed)
                    && l.b.as_ref().is_some_and(|s| s.confirmed)
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), links_up)
        .await
        .expect("probes confirm every link");

    // traffic a -> b takes the direct link
    let epoch = ctrl.epoch();
    t.a.sw.port(3).unwrap().send(to_b(epoch, [1; 8], 1));
    let f = recv_frame(&t.b.sw, 3, Duration::from_secs(5))
        .await
        .expect("delivered");
    assert_eq!(&f[0..6], &HOST_B_MAC);

    // a steady stream a -> b (one frame a millisecond); cut a:1 - b:1 in the middle of it and
    // note when frames sent after the cut arrive again (reported, not asserted: timing on a
    // loaded machine is no test)
    drain(&t.b.sw, 3);
    let mut cut_at = None;
    let mut cut_nonce = u64::MAX;
    let mut restored_after = None;
    for n in 0..3000u64 {
        let nonce = 10_000 + n;
        t.a.sw
            .port(3)
            .unwrap()
            .send(to_b(ctrl.epoch(), [1; 8], nonce));
        if n == 30 {
            cut_nonce = nonce;
            cut_at = Some(std::time::Instant::now());
            t.a.sw.disconnect(1);
            t.b.sw.disconnect(1);
        }
        while let Some(f) = t.b.sw.port(3).unwrap().try_recv() {
            let got = u64::from_be_bytes(f[58..66].try_into().unwrap());
            if got > cut_nonce && restored_after.is_none() {
                restored_after = cut_at.map(|c| c.elapsed());
            }
        }
        if restored_after.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "reroute: traffic restored {:?} after the cut (probe interval 10 ms, 3 misses)",
        restored_after
    );
    assert!(
        wait_event(
            &mut ev,
            Duration::from_secs(10),
            |e| matches!(e, ControllerEvent::LinkDown { node, port: 1 } if node == "a")
        )
        .await,
        "the monitor notices the cut"
    );
    let down = ctrl
        .session("a")
        .unwrap()
        .read_table(names::PORT_DOWN)
        .await
        .unwrap();
    assert!(
        down.iter()
            .any(|e| e.matches == vec![(names::F_OUT_PORT.to_string(), FieldMatch::Exact(vec![1]))]),
        "port_down entry written: {down:?}"
    );

    // traffic gets through again, now via c
    drain(&t.b.sw, 3);
    let mut delivered = false;
    for n in 0..50u64 {
        t.a.sw
            .port(3)
            .unwrap()
            .send(to_b(ctrl.epoch(), [1; 8], 100 + n));
        if recv_frame(&t.b.sw, 3, Duration::from_millis(100))
            .await
            .is_some()
        {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "traffic restored over the backup path");
    let via_c = ctrl.kpis().await;
    assert!(
        via_c["c"].tx_packets_per_class.values().sum::<u64>() > 0,
        "c forwarded: {via_c:?}"
    );

    // the link comes back: probes confirm it and the port_down entry goes
    EmbeddedSwitch::connect(&t.a.sw, 1, &t.b.sw, 1);
    assert!(
        wait_event(
            &mut ev,
            Duration::from_secs(10),
            |e| matches!(e, ControllerEvent::LinkUp { node, port: 1 } if node == "a")
        )
        .await
    );
    let down = ctrl
        .session("a")
        .unwrap()
        .read_table(names::PORT_DOWN)
        .await
        .unwrap();
    let port1 = vec![(names::F_OUT_PORT.to_string(), FieldMatch::Exact(vec![1]))];
    assert!(
        !down.iter().any(|e| e.matches == port1),
        "port_down entry of port 1 removed: {down:?}"
    );
    let metrics = ctrl.metrics().await;
    assert!(
        // (its value may already have flapped on a loaded machine: 10 ms probes, 3 misses)
        metrics.contains("flashmesh_link_up{node=\"a\",port=\"1\"} "),
        "{metrics}"
    );
    assert!(metrics.contains("flashmesh_controller_primary{node=\"a\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_penalised_sender_is_dropped_in_the_switch_until_it_expires() {
    let mut t = triangle().await;
    // this test is about penalties: a monitor that tolerates a loaded machine keeps routes still
    t.spec.settings.probe_miss_count = 50;
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller starts");
    let mut ev = ctrl.events();
    let cheat = [0xc4; 8];
    let honest = [0x11; 8];

    t.a.sw.port(3).unwrap().send(to_b(ctrl.epoch(), cheat, 1));
    assert!(
        recv_frame(&t.b.sw, 3, Duration::from_secs(5))
            .await
            .is_some()
    );

    ctrl.penalize(cheat, Some(Duration::from_millis(500)))
        .await
        .unwrap();
    assert!(ctrl.is_blocked(&cheat).await);
    let rows = ctrl
        .session("a")
        .unwrap()
        .read_table(names::BLOCKED_SENDERS)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    drain(&t.b.sw, 3);
    let mut honest_seen = false;
    for n in 0..10u64 {
        t.a.sw
            .port(3)
            .unwrap()
            .send(to_b(ctrl.epoch(), cheat, 2 + n));
        t.a.sw
            .port(3)
            .unwrap()
            .send(to_b(ctrl.epoch(), honest, 2 + n));
        while let Some(got) = recv_frame(&t.b.sw, 3, Duration::from_millis(300)).await {
            // FMH sender at 14 + 20 + 8 + 8
            assert_eq!(
                &got[50..58],
                &honest,
                "a blocked sender's frame got through"
            );
            honest_seen = true;
        }
        if honest_seen {
            break;
        }
    }
    assert!(honest_seen, "the honest sender's frames arrive");
    let k = ctrl.kpis().await;
    assert!(
        k["a"]
            .drops_per_reason
            .get("blocked_sender")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{k:?}"
    );

    assert!(
        wait_event(&mut ev, Duration::from_secs(10), |e| *e
            == ControllerEvent::Unblocked(cheat))
        .await,
        "the penalty expires"
    );
    assert!(
        ctrl.session("a")
            .unwrap()
            .read_table(names::BLOCKED_SENDERS)
            .await
            .unwrap()
            .is_empty()
    );
    let mut back = false;
    for n in 0..10u64 {
        t.a.sw
            .port(3)
            .unwrap()
            .send(to_b(ctrl.epoch(), cheat, 100 + n));
        if recv_frame(&t.b.sw, 3, Duration::from_millis(500))
            .await
            .is_some()
        {
            back = true;
            break;
        }
    }
    assert!(back, "the sender gets through again once unblocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_controller_takes_over_when_the_primary_goes() {
    use flashmesh_controller::p4rt::{Mastership, P4rtError};
    let mut t = triangle().await;
    t.spec.settings.probe_miss_count = 50; // about arbitration, not links
    let primary = Controller::start(t.spec.clone())
        .await
        .expect("primary starts");
    let mut spec2 = t.spec.clone();
    spec2.name = "anchor-backup".into();
    spec2.sender_tag = flashmesh_controller::runtime::config::sender_tag("anchor-backup");
    for s in &mut spec2.switches {
        s.session.election_id = 50;
    }
    spec2.audit = None;
    let backup = Controller::start(spec2).await.expect("backup starts");
    for n in ["a", "b", "c"] {
        assert_eq!(backup.session(n).unwrap().mastership(), Mastership::Backup);
    }
    // a backup cannot change the switches
    let tag = [0x5a; 8];
    let e = backup
        .penalize(tag, Some(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(e, P4rtError::NotPrimary { .. }), "{e}");
    assert!(
        backup
            .metrics()
            .await
            .contains("flashmesh_control_writes_denied_total 3")
    );

    // withholding classification is a primary's job; check it works and comes back
    primary.set_classification(false).await.unwrap();
    let s = primary.session("a").unwrap();
    let kept = s.read_table(names::CLASSIFY).await.unwrap();
    assert_eq!(kept.len(), 1, "only the probe rule stays: {kept:?}");
    assert_eq!(
        kept[0]
            .matches
            .iter()
            .find(|m| m.0 == names::F_MSG_TYPE)
            .unwrap()
            .1,
        flashmesh_controller::p4rt::FieldMatch::Ternary(vec![9], vec![0xff])
    );
    primary.set_classification(true).await.unwrap();
    assert!(s.read_table(names::CLASSIFY).await.unwrap().len() > 1);

    drop(primary);
    for n in ["a", "b", "c"] {
        assert!(
            backup
                .session(n)
                .unwrap()
                .wait_primary(Duration::from_secs(10))
                .await,
            "{n}: backup took over"
        );
    }
    // on taking over it reconciles: the penalty it was asked for is now in the switches
    let mut found = false;
    for _ in 0..200 {
        let rows = backup
            .session("a")
            .unwrap()
            .read_table(names::BLOCKED_SENDERS)
            .await
            .unwrap();
        if rows.len() == 1 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "takeover reconciled the blocked sender");
    // the epoch set by the new primary reaches the switches
    backup.set_epoch(40).await;
    assert_eq!(*backup.watch_epoch().borrow(), 40);
    let ep = backup
        .session("a")
        .unwrap()
        .read_default(names::EPOCH_WINDOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ep.params.iter().find(|p| p.0 == "current_epoch").unwrap().1,
        vec![40]
    );
    t.a.sw
        .port(3)
        .unwrap()
        .send(to_b(backup.epoch(), [1; 8], 1));
    assert!(
        recv_frame(&t.b.sw, 3, Duration::from_secs(5))
            .await
            .is_some()
    );
}
