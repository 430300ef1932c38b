//! The shared committee: all four merchants' authorities in one committee (quorum 3 of 4), and
//! a phone paying through it over the multi-hop mesh. Its ORDER goes to every authority through
//! the same first switch (the duplicate filter keys on the destination too, so the copies are
//! not taken for duplicates), the votes of at least three come back over one to three hops, and
//! the certificate reaches a quorum of them.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use flashmesh_mesh::mesh::{CommitteeMode, Mesh, MeshOptions, PayOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_settles_with_the_shared_committee_across_several_switches() {
    let opts = MeshOptions {
        committee: CommitteeMode::Shared,
        merchants: 4,
        phones_per_cluster: 1,
        probe_ms: 50,
        phase_timeout: Duration::from_secs(5),
        retry_interval: Duration::from_millis(1000),
        ..MeshOptions::default()
    };
    let mesh = Mesh::start(&opts, |_| {}).await.expect("mesh starts");
    let plan = mesh.fabric.plan().clone();
    assert_eq!(plan.nodes.len(), 8);
    assert!(
        mesh.epoch() > 0,
        "the epoch (and so the duplicate filter) is configured"
    );
    let epoch = mesh.epoch();
    let drops_before = mesh.control.drops().await;
    let options = mesh.pay_options.clone();
    // Cluster 0's phone pays m1: the authorities are one (m0), two (m1, m3) and three (m2)
    // switches beyond its own.
    let phone = 0;
    let mut payer = mesh.payers[phone].lock().await;
    assert_eq!(payer.committee().members().len(), 4);
    assert_eq!(payer.committee().quorum(), 3);
    for round in 1..=2u64 {
        let outcome = payer.pay(5, epoch, &options).await;
        let PayOutcome::Finished(finality) = outcome else {
            panic!("payment {round}: {outcome:?}");
        };
        // The first copies reached a quorum: no retransmission was needed (a filter that took
        // the copies to other authorities for duplicates lets one through per retry).
        assert!(
            finality < options.retry_interval,
            "payment {round} took {finality:?}"
        );
        let cert = payer.last_certificate().expect("certificate kept");
        let signers: BTreeSet<_> = cert.signatures.iter().map(|s| s.authority).collect();
        assert!(signers.len() >= 3, "{} distinct signers", signers.len());
        cert.check(payer.committee()).expect("certificate verifies");
        assert_eq!(cert.order.order().nonce, round - 1);
    }
    drop(payer);
    // Every authority was asked, and at least a quorum executed both certificates.
    let asked = mesh
        .running_anchors()
        .filter(|a| a.metrics().orders.load(Ordering::Relaxed) >= 1)
        .count();
    assert!(asked >= 3, "{asked} authorities saw an order");
    let executed = mesh
        .running_anchors()
        .filter(|a| a.metrics().certificates.load(Ordering::Relaxed) >= 2)
        .count();
    assert!(
        executed >= 3,
        "{executed} authorities executed both certificates"
    );
    // No copy was dropped as a duplicate (drop reason 5) on the way.
    let drops_after = mesh.control.drops().await;
    let dup = |d: &std::collections::BTreeMap<u32, u64>| d.get(&5).copied().unwrap_or(0);
    assert_eq!(dup(&drops_after), dup(&drops_before), "{drops_after:?}");
    // A phone of another cluster pays through the same committee.
    let other = mesh.payers[2].lock().await.pay(3, epoch, &options).await;
    assert!(matches!(other, PayOutcome::Finished(_)), "{other:?}");
    mesh.shutdown().await;
}
