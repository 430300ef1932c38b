//! Each invariant catches the bug it guards: with a test-only switch that breaks one rule, the
//! simulator finds a violation of the matching invariant within a stated number of seeds of
//! the shipped fault campaign (`sim-faults.toml`). Run with `--features planted-bugs`.
#![cfg(feature = "planted-bugs")]

use flashmesh_core::planted::PlantedBug;
use flashmesh_sim::monitor::names;
use flashmesh_sim::{RunConfig, run_one, shrink};

fn scenario() -> flashmesh_scenario::Scenario {
    flashmesh_scenario::load_file(std::path::Path::new(
        "../bmv2-testbed/scenarios/sim-faults.toml",
    ))
    .expect("shipped scenario loads")
}

/// The first seed below `within` whose run breaks `invariant` under the planted bugs.
fn first_failing(
    bug: PlantedBug,
    lose_locks: bool,
    invariant: &str,
    within: u64,
) -> Option<(u64, RunConfig, flashmesh_sim::RunResult)> {
    let s = scenario();
    for seed in 0..within {
        let mut c = RunConfig::new(&s, seed);
        c.planted = bug;
        c.lose_locks_on_crash = lose_locks;
        let r = run_one(&s, c.clone());
        if r.violations.iter().any(|v| v.invariant == invariant) {
            return Some((seed, c, r));
        }
    }
    None
}

fn check(bug: PlantedBug, lose_locks: bool, invariant: &str, within: u64) {
    let Some((seed, cfg, r)) = first_failing(bug, lose_locks, invariant, within) else {
        panic!("{bug:?}: no violation of {invariant} within {within} seeds");
    };
    println!("{bug:?} lose_locks={lose_locks}: {invariant} found at seed {seed}");
    // The shrunk run still shows it, with a trace and no more faults than the original.
    let small = shrink(&scenario(), &cfg, &r);
    assert!(small.violations.iter().any(|v| v.invariant == invariant));
    assert!(small.plan.items.len() <= r.plan.items.len());
    assert!(!small.trace.is_empty());
    // The same bugs off: the same seed is clean.
    let mut clean = cfg.clone();
    clean.planted = PlantedBug::None;
    clean.lose_locks_on_crash = false;
    assert!(run_one(&scenario(), clean).violations.is_empty());
}

#[test]
fn skipping_the_lock_check_is_a_double_vote() {
    check(PlantedBug::SkipLockCheck, false, names::DOUBLE_VOTE, 20);
}

#[test]
fn counting_a_signer_twice_lets_an_invalid_certificate_in() {
    check(
        PlantedBug::CountSignerTwice,
        false,
        names::INVALID_ACCEPTED,
        40,
    );
}

#[test]
fn applying_twice_is_caught() {
    check(PlantedBug::ApplyTwice, false, names::APPLY_ONCE, 40);
}

#[test]
fn losing_locks_on_crash_is_a_double_vote_across_restarts() {
    check(PlantedBug::None, true, names::DOUBLE_VOTE, 200);
}
