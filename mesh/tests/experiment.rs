//! Shipped scenario files run on the embedded target in a short form: the outputs exist with
//! every phase, and the orderings and counters each experiment is about hold (not absolute
//! times: these machines are shared). One mesh at a time (a lock serialises the tests), so a
//! run is not measured while another loads the same two cores. A mesh of real signatures and
//! interpreted pipelines needs a release build to keep its timeouts (in a debug build most
//! payments time out), so these tests are ignored in the debug run and `.ci/run` runs them with
//! `cargo test --release -p flashmesh-mesh --test experiment -- --ignored`. The seed's baseline
//! and the scaling series above 20 authorities (150 to 250 nodes) take minutes each on two
//! cores; they run only with `FLASHMESH_LARGE_EXPERIMENTS=1` and otherwise skip with a printed
//! reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flashmesh_mesh::experiment::{
    ExperimentOptions, ExperimentProgress, ExperimentRun, run_experiment,
};
use flashmesh_scenario::{SwitchKind, Target, TargetKind};

/// One mesh at a time.
static ONE_MESH: Mutex<()> = Mutex::new(());

fn scenario(name: &str) -> flashmesh_scenario::Scenario {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bmv2-testbed/scenarios")
        .join(format!("{name}.toml"));
    let s = flashmesh_scenario::load_file(&path).expect("shipped scenario loads");
    Target {
        kind: TargetKind::Embedded,
        switch: SwitchKind::FlashSwitch,
    }
    .check(&s)
    .expect("embedded runs it");
    s
}

/// Time allowed beyond a scenario's own duration (set-up, drain, teardown on a slow machine).
const LIMIT: Duration = Duration::from_secs(600);

/// Ends the test process with the step it was in when a run outlives its limit: a stuck
/// experiment fails in minutes, naming where, instead of hanging the suite.
/// Dropping it (the run ended) disconnects the channel, which ends the wait.
struct Watchdog(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn start(name: &str, limit: Duration, last: Arc<Mutex<String>>) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let name = name.to_string();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                let step = last.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let _ = writeln!(
                    std::io::stderr(),
                    "experiment {name} still running after {limit:?}, at: {step}"
                );
                std::process::exit(101);
            }
        });
        Watchdog(tx)
    }
}

/// Runs `name` with its times scaled by `scale` (its own short factor when `None`), checks the
/// outputs every experiment has, and returns the run.
fn run(name: &str, scale: Option<f64>) -> ExperimentRun {
    let _one = ONE_MESH.lock().unwrap_or_else(|e| e.into_inner());
    let full = scenario(name);
    let factor = scale.unwrap_or(full.short_factor);
    let s = full.scaled(factor);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let last = Arc::new(Mutex::new(String::from("starting")));
    let _watch = Watchdog::start(
        name,
        Duration::from_millis(s.duration_ms) + LIMIT,
        last.clone(),
    );
    let run = rt
        .block_on(run_experiment(&s, &ExperimentOptions::default(), |p| {
            let step = match p {
                ExperimentProgress::Setup(step) => format!("set-up: {step}"),
                ExperimentProgress::Running { .. } => "running the timeline".into(),
                ExperimentProgress::Draining => "draining".into(),
            };
            *last.lock().unwrap_or_else(|e| e.into_inner()) = step;
        }))
        .expect("experiment runs");
    for p in &s.phases {
        assert!(
            run.kpis.phase(&p.name).is_some(),
            "{name}: phase {} reported",
            p.name
        );
    }
    assert!(!run.payments.is_empty(), "{name}: payments were made");
    assert!(!run.queues.is_empty(), "{name}: queues were sampled");
    let dir = tempfile::tempdir().unwrap();
    flashmesh_scenario::outputs::write_outputs(dir.path(), &run.kpis, &run.payments, &run.events)
        .unwrap();
    let back = flashmesh_scenario::outputs::read_kpis(&dir.path().join("kpis.json")).unwrap();
    assert_eq!(back.phases.len(), run.kpis.phases.len());
    run
}

/// The scenario's own `[[assert]]` lines hold on the run.
fn assertions_hold(name: &str, run: &ExperimentRun) {
    let s = scenario(name);
    let failed: Vec<String> =
        flashmesh_scenario::evaluate_assertions(&s.asserts, &run.kpis, "embedded")
            .into_iter()
            .filter(|a| !a.passed)
            .map(|a| a.text)
            .collect();
    assert!(failed.is_empty(), "{name}: {failed:?}");
}

/// Whether the large scenarios were asked for; prints why not otherwise.
fn large_wanted(name: &str) -> bool {
    let on = std::env::var_os("FLASHMESH_LARGE_EXPERIMENTS").is_some_and(|v| v == "1");
    if !on {
        println!("skipped {name}: set FLASHMESH_LARGE_EXPERIMENTS=1 for the large scenarios");
    }
    on
}

fn kpi(run: &ExperimentRun, phase: &str, name: &str) -> Option<f64> {
    run.kpis.phase(phase).and_then(|p| p.get(name))
}

fn kinds(run: &ExperimentRun) -> Vec<&str> {
    run.events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn congestion_priority_keeps_finality_low() {
    let run = run("congestion", Some(0.4));
    let on = kpi(&run, "congested_priority", "finality_p95_ms").expect("measured");
    let off = kpi(&run, "congested_no_priority", "finality_p95_ms").expect("measured");
    assert!(off > on, "p95 without priority {off} ms, with {on} ms");
    assert!(kpi(&run, "congested_priority", "queue_depth_max_class2").unwrap_or(0.0) > 0.0);
    assert!(kpi(&run, "idle", "success_rate").unwrap_or(0.0) >= 0.8);
    let k = kinds(&run);
    assert!(
        k.contains(&"flood_start") && k.contains(&"priority"),
        "{k:?}"
    );
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn replays_are_dropped_in_the_switches() {
    let run = run("replay", Some(0.4));
    assert!(kpi(&run, "all", "switch_replay_drops").unwrap_or(0.0) > 0.0);
    assert!(run.kpis.counters.get("replay.sent").copied().unwrap_or(0.0) > 0.0);
    assert!(kpi(&run, "under_replay", "success_rate").unwrap_or(0.0) >= 0.8);
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn failover_reroutes_and_survives_an_anchor_kill() {
    let run = run("failover", Some(0.4));
    assert!(kpi(&run, "all", "reroute_ms").is_some(), "reroute measured");
    assert!(kpi(&run, "before", "success_rate").unwrap_or(0.0) >= 0.8);
    // one of four authorities down leaves a quorum: payments go on
    assert!(kpi(&run, "anchor_down", "succeeded").unwrap_or(0.0) > 0.0);
    assert!(kpi(&run, "after_restart", "succeeded").unwrap_or(0.0) > 0.0);
    let k = kinds(&run);
    for want in ["link_cut", "link_restore", "anchor_crash", "anchor_restart"] {
        assert!(k.contains(&want), "{want} happened: {k:?}");
    }
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn a_moving_phone_keeps_paying() {
    let run = run("mobility", Some(0.5));
    assertions_hold("mobility", &run);
    assert!(
        kpi(&run, "all", "interruption_ms").is_some(),
        "interruption measured"
    );
    assert!(
        kpi(&run, "all", "handoff_ms").is_some_and(|h| h > 0.0),
        "handoff measured"
    );
    assert!(kinds(&run).contains(&"handoff_done"), "{:?}", kinds(&run));
    // After the certified handoff the phone pays through committee B.
    assert!(
        run.payments.iter().any(|p| p.payer == "p0"
            && p.committee == "B"
            && p.outcome == flashmesh_scenario::PaymentOutcome::Ok),
        "no payment of p0 through B"
    );
    let moved_after: Vec<_> = run
        .payments
        .iter()
        .filter(|p| p.payer == "p0" && p.start_ms > run.kpis.phase("in_b").unwrap().start_ms as f64)
        .collect();
    assert!(
        moved_after
            .iter()
            .any(|p| p.outcome == flashmesh_scenario::PaymentOutcome::Ok),
        "the phone paid again in its new cluster: {moved_after:?}"
    );
    assert!(kinds(&run).contains(&"trace_cut"));
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn the_seeds_baseline_runs() {
    if !large_wanted("baseline") {
        return;
    }
    let run = run("baseline", None);
    assertions_hold("baseline", &run);
    assert!(kpi(&run, "all", "success_rate").unwrap_or(0.0) >= 0.8);
    assert_eq!(run.kpis.run.merchants, 50);
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn the_baseline_as_two_committees_runs() {
    if !large_wanted("baseline-2x25") {
        return;
    }
    let run = run("baseline-2x25", None);
    assertions_hold("baseline-2x25", &run);
    assert!(kpi(&run, "all", "success_rate").unwrap_or(0.0) >= 0.8);
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn the_scaling_series_runs() {
    for n in [20, 40, 60, 80] {
        let name = format!("scaling-{n}");
        if n > 20 && !large_wanted(&name) {
            continue;
        }
        let run = run(&name, None);
        assertions_hold(&name, &run);
        assert_eq!(run.kpis.run.merchants, n);
        assert!(
            kpi(&run, "all", "succeeded").unwrap_or(0.0) > 0.0,
            "scaling-{n}"
        );
    }
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn a_third_of_the_committee_failed() {
    let run = run("failed-33", None);
    assertions_hold("failed-33", &run);
    let k = kinds(&run);
    assert!(
        k.iter().filter(|e| **e == "anchor_crash").count() >= 4,
        "{k:?}"
    );
    assert!(kpi(&run, "all", "succeeded").unwrap_or(0.0) > 0.0);
}

#[test]
#[ignore = "release build: .ci/run runs it with --release -- --ignored"]
fn the_seeds_scale_of_250_nodes_runs_in_one_process() {
    let run = run("mesh-250", None);
    assertions_hold("mesh-250", &run);
    assert_eq!(run.kpis.run.nodes, 250);
    for counter in [
        "embedded.memory_per_switch_bytes",
        "embedded.memory_per_anchor_bytes",
        "embedded.peak_rss_bytes",
        "embedded.payments_per_s",
    ] {
        assert!(
            run.kpis.counters.get(counter).is_some_and(|v| *v > 0.0),
            "{counter} measured: {:?}",
            run.kpis.counters
        );
    }
}
