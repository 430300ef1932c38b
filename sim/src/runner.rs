//! Running seeds: one run, many runs over every core, and shrinking a failing run to the
//! fewest faults and payments that still break the same invariant, re-run with a trace.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flashmesh_scenario::Scenario;
use serde::Serialize;

use crate::report::RunResult;
use crate::world::{RunConfig, World};

/// Runs one seed under `config`.
pub fn run_one(scenario: &Scenario, config: RunConfig) -> RunResult {
    #[cfg(feature = "planted-bugs")]
    flashmesh_core::planted::plant(config.planted);
    let mut w = World::new(scenario, config);
    w.run();
    w.result()
}

/// What a batch of seeds found.
#[derive(Debug, Clone, Serialize)]
pub struct SeedsReport {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with a violation.
    pub failed_seeds: Vec<u64>,
    /// The first failures, shrunk, with their traces.
    #[serde(skip)]
    pub failures: Vec<RunResult>,
    /// Faults injected over all seeds, by kind (and event counters of the faults).
    pub faults: BTreeMap<String, f64>,
    /// Honest payments over all seeds and how many finished.
    pub payments: u64,
    /// Finished within the timeout.
    pub payments_ok: u64,
    /// Invariant checks made, by invariant.
    pub checks: BTreeMap<String, f64>,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Seeds per second.
    pub seeds_per_s: f64,
    /// Worker threads.
    pub threads: usize,
}

/// Runs seeds `first..first + count` on `threads` threads; failures (at most `keep`) are
/// shrunk and traced. `base` gives everything but the seed and plan.
pub fn run_seeds(
    scenario: &Scenario,
    first: u64,
    count: u64,
    threads: usize,
    keep: usize,
    base: &RunConfig,
) -> SeedsReport {
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let acc = Mutex::new((
        Vec::<u64>::new(),
        Vec::<RunResult>::new(),
        BTreeMap::<String, f64>::new(),
        0u64,
        0u64,
        BTreeMap::<String, f64>::new(),
    ));
    let threads = threads.max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let seed = first + i;
                    let mut cfg = RunConfig::new(scenario, seed);
                    cfg.liveness_bound = base.liveness_bound;
                    cfg.payments = base.payments;
                    cfg.lose_locks_on_crash = base.lose_locks_on_crash;
                    #[cfg(feature = "planted-bugs")]
                    {
                        cfg.planted = base.planted;
                    }
                    let r = run_one(scenario, cfg.clone());
                    let shrunk = if !r.ok() {
                        let mut g = acc.lock().unwrap_or_else(|e| e.into_inner());
                        g.0.push(seed);
                        let want = g.1.len() < keep;
                        drop(g);
                        want.then(|| shrink(scenario, &cfg, &r))
                    } else {
                        None
                    };
                    let mut g = acc.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(x) = shrunk {
                        g.1.push(x);
                    }
                    for (k, v) in &r.kpis.counters {
                        if k.starts_with("faults.")
                            || k.starts_with("byzantine")
                            || k.starts_with("switch.drop.")
                            || k.starts_with("authority.rejected.")
                            || k.starts_with("store.uncommitted")
                            || k.starts_with("penalty.")
                            || k.starts_with("payer.")
                        {
                            *g.2.entry(k.clone()).or_default() += v;
                        }
                        if let Some(c) = k.strip_prefix("checks.") {
                            *g.5.entry(c.to_string()).or_default() += v;
                        }
                    }
                    if let Some(all) = r.kpis.phase("all") {
                        g.3 += all.payments;
                        g.4 += all.succeeded;
                    }
                }
            });
        }
    });
    let (mut failed_seeds, failures, faults, payments, payments_ok, checks) =
        acc.into_inner().unwrap_or_else(|e| e.into_inner());
    failed_seeds.sort_unstable();
    let wall_s = start.elapsed().as_secs_f64();
    SeedsReport {
        seeds: count,
        failed_seeds,
        failures,
        faults,
        payments,
        payments_ok,
        checks,
        wall_s,
        seeds_per_s: count as f64 / wall_s.max(1e-9),
        threads,
    }
}

fn same_failure(r: &RunResult, invariant: &str) -> bool {
    r.violations.iter().any(|v| v.invariant == invariant)
}

/// Shrinks failing run `failed` (made with `config`): drops every fault that is not needed
/// for the same invariant to break, then halves the payments while it still breaks, and
/// re-runs the result with a trace (cut at the violation).
pub fn shrink(scenario: &Scenario, config: &RunConfig, failed: &RunResult) -> RunResult {
    let Some(first) = failed.violations.first() else {
        return failed.clone();
    };
    let invariant = first.invariant;
    let mut cfg = config.clone();
    cfg.trace = false;
    let mut i = 0;
    while i < cfg.plan.items.len() {
        let mut keep = vec![true; cfg.plan.items.len()];
        keep[i] = false;
        let mut trial = cfg.clone();
        trial.plan = cfg.plan.subset(&keep);
        if same_failure(&run_one(scenario, trial.clone()), invariant) {
            cfg = trial;
        } else {
            i += 1;
        }
    }
    let mut payments = failed.kpis.phase("all").map_or(0, |p| p.payments).max(1);
    if cfg.payments > 0 {
        payments = cfg.payments;
    }
    while payments > 1 {
        let mut trial = cfg.clone();
        trial.payments = payments / 2;
        if same_failure(&run_one(scenario, trial.clone()), invariant) {
            cfg = trial;
            payments /= 2;
        } else {
            break;
        }
    }
    cfg.trace = true;
    run_one(scenario, cfg)
}
