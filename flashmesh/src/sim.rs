//! `flashmesh sim`: a scenario file on the deterministic simulator. One seed gives one run
//! (outputs like every target's: `kpis.json`, `payments.csv`, `events.csv`); `--seeds N` runs
//! N seeds on every core and reports seeds per second, the faults injected and every
//! violation, shrunk, with the command that shows its trace.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use flashmesh_scenario::{Scenario, SwitchKind, Target, TargetKind};
use flashmesh_sim::{RunConfig, RunResult, SeedsReport, run_one, run_seeds, shrink};

/// What to run.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed (or first seed with `seeds`); the scenario's when absent.
    pub seed: Option<u64>,
    /// Run this many seeds instead of one.
    pub seeds: Option<u64>,
    /// Print the event trace; a run that broke an invariant is first shrunk to the fewest
    /// faults and payments that still break it.
    pub trace: bool,
    /// Payments to make instead of the scenario's.
    pub payments: Option<u64>,
    /// Where to write the outputs of a single run.
    pub out: Option<PathBuf>,
    /// Worker threads for `seeds` (0: one per core).
    pub threads: usize,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The file did not load.
    #[error(transparent)]
    Scenario(#[from] flashmesh_scenario::ScenarioError),
    /// The simulator cannot do what the scenario asks.
    #[error("{0}")]
    Unsupported(String),
    /// Outputs could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What a simulation found.
#[derive(Debug)]
pub enum SimOutcome {
    /// One run.
    One {
        /// The run (shrunk, when it broke an invariant).
        result: Box<RunResult>,
        /// Wall-clock seconds.
        wall_s: f64,
    },
    /// Many seeds.
    Seeds(Box<SeedsReport>),
}

impl SimOutcome {
    /// Whether no invariant broke.
    pub fn ok(&self) -> bool {
        match self {
            SimOutcome::One { result, .. } => result.ok(),
            SimOutcome::Seeds(r) => r.failed_seeds.is_empty(),
        }
    }
}

fn load(path: &Path) -> Result<Scenario, SimError> {
    let s = flashmesh_scenario::load_file(path)?;
    let target = Target {
        kind: TargetKind::Sim,
        switch: SwitchKind::Model,
    };
    target
        .check(&s)
        .map_err(|u| SimError::Unsupported(u.to_string()))?;
    Ok(s)
}

/// Runs `opts`.
pub fn run_sim(opts: &SimOptions) -> Result<SimOutcome, SimError> {
    let scenario = load(&opts.scenario)?;
    let seed = opts.seed.unwrap_or(scenario.seed);
    let mut base = RunConfig::new(&scenario, seed);
    base.payments = opts.payments.unwrap_or(0);
    if let Some(n) = opts.seeds {
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let report = run_seeds(&scenario, seed, n, threads, 3, &base);
        return Ok(SimOutcome::Seeds(Box::new(report)));
    }
    base.trace = opts.trace;
    let start = std::time::Instant::now();
    let mut result = run_one(&scenario, base.clone());
    let wall_s = start.elapsed().as_secs_f64();
    if !result.ok() && opts.trace {
        result = shrink(&scenario, &base, &result);
    }
    if let Some(dir) = &opts.out {
        flashmesh_scenario::outputs::write_outputs(
            dir,
            &result.kpis,
            &result.payments,
            &result.events,
        )
        .map_err(|source| SimError::Write {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(SimOutcome::One {
        result: Box::new(result),
        wall_s,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

/// The outcome as text.
pub fn render(opts: &SimOptions, o: &SimOutcome) -> String {
    let mut s = String::new();
    let file = opts.scenario.display();
    match o {
        SimOutcome::One { result, wall_s } => {
            let _ = writeln!(
                s,
                "sim {file} seed {}: {} events, {:.1} s virtual in {:.2} s wall",
                result.seed,
                result.steps,
                result.virtual_ms / 1000.0,
                wall_s
            );
            let _ = writeln!(
                s,
                "{:<16} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10}",
                "phase", "payments", "ok", "failed", "p50 ms", "p95 ms", "p99 ms"
            );
            for p in &result.kpis.phases {
                let _ = writeln!(
                    s,
                    "{:<16} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10}",
                    p.phase,
                    p.payments,
                    p.succeeded,
                    p.failed + p.unfinished,
                    opt(p.finality_p50_ms),
                    opt(p.finality_p95_ms),
                    opt(p.finality_p99_ms)
                );
            }
            let faults: Vec<String> = result
                .plan
                .items
                .iter()
                .map(|i| i.kind().to_string())
                .collect();
            let _ = writeln!(
                s,
                "faults: {}",
                if faults.is_empty() {
                    "none".into()
                } else {
                    faults.join(", ")
                }
            );
            if opts.trace || !result.ok() {
                for l in &result.trace {
                    let _ = writeln!(s, "  {l}");
                }
            }
            for v in &result.violations {
                let _ = writeln!(
                    s,
                    "VIOLATION {} at {:.3} ms: {}",
                    v.invariant,
                    v.at as f64 / 1000.0,
                    v.detail
                );
            }
            if result.ok() {
                let _ = writeln!(s, "no invariant broken");
            }
        }
        SimOutcome::Seeds(r) => {
            let _ = writeln!(
                s,
                "sim {file}: {} seeds in {:.1} s on {} threads: {:.1} seeds/s ({:.0} seeds/min/thread)",
                r.seeds,
                r.wall_s,
                r.threads,
                r.seeds_per_s,
                r.seeds_per_s * 60.0 / r.threads as f64
            );
            let _ = writeln!(
                s,
                "honest payments: {} ({} final within the timeout)",
                r.payments, r.payments_ok
            );
            let _ = writeln!(s, "faults and attacks exercised:");
            for (k, v) in &r.faults {
                let _ = writeln!(s, "  {k:<48} {v:>10}");
            }
            let _ = writeln!(s, "invariant checks:");
            for (k, v) in &r.checks {
                let _ = writeln!(s, "  {k:<48} {v:>10}");
            }
            let _ = writeln!(s, "seeds with a violation: {}", r.failed_seeds.len());
            for f in &r.failures {
                for v in &f.violations {
                    let _ = writeln!(
                        s,
                        "  seed {}: {} at {:.3} ms: {} (re-run: flashmesh sim {file} --seed {} --trace)",
                        f.seed,
                        v.invariant,
                        v.at as f64 / 1000.0,
                        v.detail,
                        f.seed
                    );
                }
            }
        }
    }
    s
}
