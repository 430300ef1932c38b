//! Priority flows on and off under a best-effort flood at twice the bottleneck's rate: the
//! payments that cross the bottleneck finish faster with the BCB classification installed
//! than with it withheld. Only the order of the two is asserted, never absolute times.

use flash_switch::link::LinkParams;
use flashmesh_mesh::plan::LinkProfile;
use flashmesh_mesh::{DemoOptions, MeshOptions, PhaseReport, run_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_beats_best_effort_under_a_flood() {
    let slow = |pps: f64| LinkParams {
        delay_ms: 2.0,
        jitter_ms: 0.0,
        loss: 0.0,
        rate_pps: Some(pps),
        rate_bps: None,
    };
    let opts = DemoOptions {
        mesh: MeshOptions {
            merchants: 2,
            phones_per_cluster: 1,
            probe_ms: 50,
            links: LinkProfile {
                ring: slow(5_000.0),
                bottleneck: slow(400.0),
                radio: slow(5_000.0),
            },
            ..MeshOptions::default()
        },
        phase_secs: 3.0,
        phases: vec![
            "congestion_priority".into(),
            "congestion_no_priority".into(),
        ],
        ..DemoOptions::default()
    };
    let report = run_demo(opts, |_| {}).await.expect("demo runs");
    assert_eq!(report.phases.len(), 2);
    let (on, off) = (&report.phases[0], &report.phases[1]);
    assert_eq!(on.name, "congestion_priority");
    assert!(on.best_effort_offered_pps > 0.0, "the flood ran");
    assert!(on.bottleneck_payments > 0, "{on:?}");
    // The 95th percentile of finality counting a payment that never finished as infinitely
    // late: with priority it must be the smaller one.
    let score = |p: &PhaseReport| {
        let all = p.bottleneck_payments + p.bottleneck_payments_failed;
        if all == 0 || p.bottleneck_payments_failed * 20 > all {
            f64::INFINITY
        } else {
            p.bottleneck_finality_ms_p95
        }
    };
    let (on_p95, off_p95) = (score(on), score(off));
    assert!(
        on_p95.is_finite() && on_p95 < off_p95,
        "p95 with priority {on_p95:.1} ms, without {off_p95:.1} ms\n{}",
        report.render_table()
    );
}
