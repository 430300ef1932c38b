//! The queue-depth histogram of `p4src/flash_mesh.p4`: egress counts each packet in
//! `FmEgress.qdepth_hist[(port * 4 + class) * 8 + bucket]` with the bucket taken from
//! `standard_metadata.enq_qdepth` (0:0, 1:1, 2:2-3, 3:4-7, 4:8-15, 5:16-31, 6:32-63, 7:64+).
//! The engine's two-phase API lets the test choose the queue depth egress sees.

use std::path::PathBuf;

use flashmesh_p4::{EgressOutcome, IngressOutcome, QueueMeta};
use flashmesh_tests::pkt_test;
use flashmesh_tests::runner::EngineHarness;

#[test]
fn queue_depth_lands_in_its_bucket() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = flashmesh_p4::compile_file(repo.join("p4src/flash_mesh.p4"))
        .unwrap_or_else(|d| panic!("{d}"));
    let mut h = EngineHarness::new(program);
    let t = pkt_test::parse(
        "setup",
        "entry FmIngress.ipv4_lpm hdr.ipv4.dstAddr=10.0.2.0/24 -> FmIngress.set_next_hop(port=2, \
         dmac=02:00:00:00:02:01, backup_port=3, backup_dmac=02:00:00:00:03:01, smac=02:00:00:00:00:aa)\n\
         entry FmIngress.classify meta.fmh_valid=1 hdr.fmh.msg_type=2&&&0xFF -> \
         FmIngress.set_class(class_id=0, prio=7) priority 1\n\
         packet vote = eth(dst=02:00:00:00:00:aa, src=02:00:00:00:01:01) / ipv4(src=10.0.1.1, dst=10.0.2.1) \
         / udp() / fmh(msg_type=VOTE)\n\
         send 1 $vote\n\
         expect 2 [priority=7] $vote(eth.dst=02:00:00:00:02:01, eth.src=02:00:00:00:00:aa, ipv4.ttl=63, fmh.hop_limit=15)\n",
    )
    .expect("setup parses");
    for s in &t.steps[..2] {
        h.step(s).expect("setup");
    }
    let frame = match &t.steps[2] {
        pkt_test::Step::Send { bytes, .. } => bytes.clone(),
        s => panic!("{s:?}"),
    };
    let cases: &[(u32, u32)] = &[
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 3),
        (7, 3),
        (8, 4),
        (15, 4),
        (16, 5),
        (31, 5),
        (32, 6),
        (63, 6),
        (64, 7),
        (1000, 7),
    ];
    // Port 2, class 0: slot 8, cells 64..72.
    let mut want = [0u64; 8];
    for &(depth, bucket) in cases {
        let sw = h.switch();
        let q = match sw.ingress(1, &frame) {
            IngressOutcome::Queued(q) => q,
            IngressOutcome::Dropped(d) => panic!("dropped: {d:?}"),
        };
        let out = sw.egress(
            q,
            QueueMeta {
                enq_qdepth: depth,
                ..QueueMeta::default()
            },
        );
        assert!(
            matches!(out, EgressOutcome::Output { port: 2, .. }),
            "{out:?}"
        );
        want[bucket as usize] += 1;
        for (b, w) in want.iter().enumerate() {
            let (p, _) = h
                .counter("FmEgress.qdepth_hist", 64 + b as u32)
                .expect("counter");
            assert_eq!(p, *w, "after depth {depth}: bucket {b}");
        }
    }
    let (p, _) = h.counter("FmEgress.tx_class", 8).expect("counter");
    assert_eq!(p, cases.len() as u64);
}
