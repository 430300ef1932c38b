//! The fault campaign CI runs: 2000 seeds of `sim-faults.toml` (a 4-authority committee with a
//! Byzantine authority, two Byzantine payers, loss, duplication, reordering, crashes and
//! partitions) on every core, with no invariant broken and every kind of fault exercised; and
//! determinism: the same seed gives the same outputs byte for byte.

use std::path::Path;

use flashmesh_sim::{RunConfig, run_one, run_seeds};

fn scenario(name: &str) -> flashmesh_scenario::Scenario {
    flashmesh_scenario::load_file(&Path::new("../bmv2-testbed/scenarios").join(name))
        .expect("shipped scenario loads")
}

#[test]
fn two_thousand_seeds_with_faults_break_no_invariant() {
    let s = scenario("sim-faults.toml");
    let seeds = std::env::var("FLASHMESH_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let r = run_seeds(&s, 0, seeds, threads, 3, &RunConfig::new(&s, 0));
    for f in &r.failures {
        eprintln!("seed {}: {:?}", f.seed, f.violations);
        for l in f.trace.iter().rev().take(40) {
            eprintln!("  {l}");
        }
    }
    assert!(
        r.failed_seeds.is_empty(),
        "violations at seeds {:?}",
        r.failed_seeds
    );
    println!(
        "{} seeds in {:.1} s ({:.1} seeds/s), {} honest payments, faults {:?}",
        r.seeds, r.wall_s, r.seeds_per_s, r.payments, r.faults
    );
    for kind in [
        "faults.crashes",
        "faults.partition",
        "faults.duplicated",
        "faults.reordered",
        "byzantine.Equivocate",
        "byzantine.SignGarbage",
        "byzantine.WithholdVotes",
        "byzantine.ReplayVotes",
        "byzantine.LieInQueries",
        "byzantine_payer.double_spend",
        "byzantine_payer.replayed_certificates",
        "byzantine_payer.forged.0",
        "byzantine_payer.forged.2",
        "byzantine_payer.wrong_epoch",
        "switch.drop.duplicate",
        "switch.drop.blocked",
    ] {
        assert!(
            r.faults.get(kind).copied().unwrap_or(0.0) > 0.0,
            "{kind} never happened"
        );
    }
    for inv in [
        "no_double_vote",
        "apply_at_most_once",
        "supply_conserved",
        "liveness",
    ] {
        assert!(
            r.checks.get(inv).copied().unwrap_or(0.0) > 0.0,
            "{inv} never checked"
        );
    }
    assert!(r.payments > seeds * 5);
}

#[test]
fn the_same_seed_gives_identical_outputs() {
    for name in ["sim-faults.toml", "failover.toml"] {
        let s = scenario(name);
        let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
        for d in &dirs {
            let r = run_one(&s, RunConfig::new(&s, 42));
            flashmesh_scenario::outputs::write_outputs(d.path(), &r.kpis, &r.payments, &r.events)
                .unwrap();
        }
        for f in ["kpis.json", "payments.csv", "events.csv"] {
            let a = std::fs::read(dirs[0].path().join(f)).unwrap();
            let b = std::fs::read(dirs[1].path().join(f)).unwrap();
            assert!(!a.is_empty());
            assert_eq!(a, b, "{name}: {f} differs between two runs of seed 42");
        }
        // Another seed is another run.
        let x = run_one(&s, RunConfig::new(&s, 42));
        let y = run_one(&s, RunConfig::new(&s, 43));
        assert_ne!(
            serde_json::to_string(&x.kpis).unwrap(),
            serde_json::to_string(&y.kpis).unwrap()
        );
    }
}
