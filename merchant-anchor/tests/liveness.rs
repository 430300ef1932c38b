//! Liveness of a committee of in-process anchors on loopback UDP: heartbeats make every anchor
//! see its peers and a quorum in `/status` and `/metrics`; stopping peers flips the quorum
//! flag; bad heartbeats are refused by reason, counted, and never answered.

mod net;

use std::time::Duration;

use flashmesh_core::Keypair;
use flashmesh_core::messages::{Heartbeat, Liveness};
use net::{Net, eventually, http_get, http_json};

fn metric(text: &str, line_prefix: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_show_peers_and_the_quorum_flag_flips_when_peers_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path(), 4, 2).await;
    let admin = net.anchor(0).admin_addr().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || net.anchors.iter().all(|a| {
            let a = a.as_ref().unwrap();
            a.sees_quorum() && a.liveness().peer_status().iter().all(|p| p.seen)
        }))
        .await,
        "every anchor sees every peer"
    );
    let status = http_json(admin, "/status");
    assert_eq!(status["quorum_visible"], true, "{status}");
    let peers = status["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3);
    for p in peers {
        assert_eq!(p["seen"], true, "{p}");
        assert!(p["last_heard_ms_ago"].as_u64().unwrap() <= 400, "{p}");
        assert_eq!(p["applied"], 0);
    }
    let names: Vec<&str> = peers.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["anchor-1", "anchor-2", "anchor-3"]);
    let text = http_get(admin, "/metrics");
    assert_eq!(
        metric(&text, "flashmesh_peer_up{peer=\"anchor-2\"}"),
        Some(1)
    );
    assert_eq!(metric(&text, "flashmesh_quorum_visible "), Some(1));
    assert!(metric(&text, "flashmesh_heartbeats_sent_total ").unwrap() >= 3);
    assert!(metric(&text, "flashmesh_heartbeats_received_total ").unwrap() >= 2);

    // one peer down: 3 of 4 still a quorum
    net.stop(3).await;
    assert!(
        eventually(Duration::from_secs(3), || !net
            .anchor(0)
            .liveness()
            .peer_status()[2]
            .seen)
        .await
    );
    assert!(net.anchor(0).sees_quorum());
    // two down: no quorum
    net.stop(2).await;
    assert!(eventually(Duration::from_secs(3), || !net.anchor(0).sees_quorum()).await);
    let status = http_json(admin, "/status");
    assert_eq!(status["quorum_visible"], false, "{status}");
    assert_eq!(status["peers"][1]["seen"], false);
    assert_eq!(status["peers"][0]["seen"], true);
    let text = http_get(admin, "/metrics");
    assert_eq!(
        metric(&text, "flashmesh_peer_up{peer=\"anchor-2\"}"),
        Some(0)
    );
    assert_eq!(
        metric(&text, "flashmesh_peer_up{peer=\"anchor-1\"}"),
        Some(1)
    );
    assert_eq!(metric(&text, "flashmesh_quorum_visible "), Some(0));
    assert!(!net.anchor(1).sees_quorum());
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_heartbeats_are_refused_by_reason_counted_and_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::start(dir.path(), 2, 1).await;
    let target = net.addrs[0];
    let peer_key = &net.lc.anchor_keys[1];
    let stranger = Keypair::from_seed(&[0x5a; 32]);
    let datagram = |hb: Heartbeat| Liveness::Heartbeat(hb).envelope().encode().unwrap();
    let good = datagram(Heartbeat::sign(0, 1, 0, peer_key));
    let mut forged = good.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 1);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad_signature", forged),
        (
            "unknown_sender",
            datagram(Heartbeat::sign(0, 1, 0, &stranger)),
        ),
        // anchor-1's own counters start from the time in microseconds: 1 is long past
        ("replayed_counter", good.clone()),
        (
            "wrong_epoch",
            datagram(Heartbeat::sign(9, u64::MAX, 0, peer_key)),
        ),
        ("malformed", truncated),
        (
            "from_self",
            datagram(Heartbeat::sign(0, 1, 0, &net.lc.anchor_keys[0])),
        ),
    ];
    assert!(eventually(Duration::from_secs(5), || net.anchor(0).sees_quorum()).await);
    let sock = net::payer_socket().await;
    for (_, d) in &cases {
        sock.send_to(d, target).await.unwrap();
    }
    let metrics = &net.anchor(0).liveness().metrics;
    for (reason, _) in &cases {
        assert!(
            eventually(Duration::from_secs(2), || metrics.refused(reason) == 1).await,
            "{reason}: {}",
            metrics.refused(reason)
        );
    }
    let mut buf = [0u8; 2048];
    let answer = tokio::time::timeout(Duration::from_millis(400), sock.recv_from(&mut buf)).await;
    assert!(answer.is_err(), "a heartbeat was answered");
    let text = http_get(net.anchor(0).admin_addr().unwrap(), "/metrics");
    assert_eq!(
        metric(
            &text,
            "flashmesh_liveness_refused_total{reason=\"replayed_counter\"}"
        ),
        Some(1)
    );
    // the anchor still works and still sees its peer
    assert!(net.anchor(0).sees_quorum());
    assert_eq!(
        net.anchor(0).rejections(),
        0,
        "nothing reached the authority"
    );
    net.shutdown().await;
}
