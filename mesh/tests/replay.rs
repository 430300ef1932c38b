//! Replay injection: an attacker host resends captured orders and certificates and forges
//! retries; every copy beyond the allowance is dropped by a switch (read over P4Runtime).

use flashmesh_mesh::{DemoOptions, MeshOptions, run_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_beyond_the_allowance_die_in_the_switch() {
    let opts = DemoOptions {
        mesh: MeshOptions {
            merchants: 2,
            phones_per_cluster: 1,
            probe_ms: 50,
            ..MeshOptions::default()
        },
        phase_secs: 2.0,
        replay_captures: 10,
        phases: vec!["replay".into()],
        ..DemoOptions::default()
    };
    let report = run_demo(opts, |_| {}).await.expect("demo runs");
    let r = &report.phases[0];
    assert_eq!(r.name, "replay");
    assert!(r.replays_sent > 0, "{r:?}");
    assert!(r.replays_beyond_allowance > 0, "{r:?}");
    assert!(
        r.replays_dropped_in_switch >= r.replays_beyond_allowance,
        "{}",
        report.render_table()
    );
    assert_eq!(report.goals.replays_all_dropped_in_switch, Some(true));
}
