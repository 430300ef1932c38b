//! `flashmesh experiment`: a scenario file run with one command. `run` loads and checks the
//! scenario against the target (a bad file or an unsupported feature stops it before anything
//! starts), runs it, writes `kpis.json`, `payments.csv`, `events.csv` and `run.json` to the
//! output folder and checks the scenario's assertions; `list` shows the shipped scenarios.
//! The embedded target runs in this process, the mininet target through
//! [`crate::mininet`]; the simulator is `flashmesh sim`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use flashmesh_mesh::experiment::{ExperimentOptions, ExperimentProgress, run_experiment};
use flashmesh_scenario::{AssertOutcome, Scenario, SwitchKind, Target, TargetKind};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Target.
    pub target: TargetKind,
    /// Switch.
    pub switch: SwitchKind,
    /// Output folder.
    pub out: PathBuf,
    /// Seed instead of the scenario's.
    pub seed: Option<u64>,
    /// Every time of the scenario scaled by this (CI's short form: the scenario's
    /// `short_factor`).
    pub scale: Option<f64>,
    /// Draw a progress bar on standard error.
    pub progress: bool,
}

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The file did not load.
    #[error(transparent)]
    Scenario(#[from] flashmesh_scenario::ScenarioError),
    /// The target cannot do what the scenario asks.
    #[error("{0}")]
    Unsupported(#[from] flashmesh_scenario::Unsupported),
    /// The target is run by another command.
    #[error("{0}")]
    OtherCommand(String),
    /// The run failed.
    #[error("run: {0}")]
    Run(#[from] flashmesh_mesh::MeshError),
    /// The mininet target could not run or failed.
    #[error("{0}")]
    Mininet(#[from] crate::mininet::MininetError),
    /// Outputs could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What a run gave.
#[derive(Debug)]
pub struct RunReport {
    /// The run.
    pub run: flashmesh_mesh::experiment::ExperimentRun,
    /// The scenario's assertions.
    pub asserts: Vec<AssertOutcome>,
    /// Where the outputs are.
    pub out: PathBuf,
}

impl RunReport {
    /// Whether every assertion held.
    pub fn ok(&self) -> bool {
        self.asserts.iter().all(|a| a.passed)
    }
}

/// Loads `path` and checks it against `target`, scaled by `scale` when given.
pub fn load_for(
    path: &Path,
    target: Target,
    scale: Option<f64>,
) -> Result<Scenario, ExperimentError> {
    let mut s = flashmesh_scenario::load_file(path)?;
    target.check(&s)?;
    if let Some(f) = scale
        && f > 0.0
        && (f - 1.0).abs() > f64::EPSILON
    {
        s = s.scaled(f);
    }
    Ok(s)
}

/// Runs `opts`.
pub async fn run(opts: &RunOptions) -> Result<RunReport, ExperimentError> {
    let target = Target {
        kind: opts.target,
        switch: opts.switch,
    };
    match opts.target {
        TargetKind::Sim => {
            return Err(ExperimentError::OtherCommand(
                "the simulator target runs with `flashmesh sim SCENARIO --out DIR`".into(),
            ));
        }
        TargetKind::Mininet | TargetKind::Embedded => {}
    }
    let mut s = load_for(&opts.scenario, target, opts.scale)?;
    if let Some(seed) = opts.seed {
        s.seed = seed;
    }
    let run = match opts.target {
        TargetKind::Mininet => {
            let mopts = crate::mininet::MininetOptions {
                switch: opts.switch,
                run_dir: opts.out.join("mininet"),
                scale: opts.scale.unwrap_or(1.0),
            };
            if opts.progress {
                eprintln!(
                    "{}: running on mininet ({}); files and logs in {}",
                    s.name,
                    opts.switch.name(),
                    mopts.run_dir.display()
                );
            }
            let scenario = s.clone();
            tokio::task::spawn_blocking(move || crate::mininet::run(&scenario, &mopts))
                .await
                .map_err(|e| ExperimentError::OtherCommand(format!("the mininet run: {e}")))??
        }
        _ => run_embedded(&s, opts).await?,
    };
    let write = |source| ExperimentError::Write {
        path: opts.out.clone(),
        source,
    };
    flashmesh_scenario::outputs::write_outputs(&opts.out, &run.kpis, &run.payments, &run.events)
        .map_err(write)?;
    flashmesh_scenario::outputs::write_queues(&opts.out, &run.queues).map_err(write)?;
    let facts = serde_json::json!({
        "scenario": s.name,
        "file": opts.scenario,
        "target": opts.target.name(),
        "switch": opts.switch.name(),
        "seed": s.seed,
        "setup_s": run.setup_s,
        "wall_s": run.wall_s,
    });
    std::fs::write(
        opts.out.join("run.json"),
        serde_json::to_string_pretty(&facts).unwrap_or_default() + "\n",
    )
    .map_err(write)?;
    let asserts =
        flashmesh_scenario::evaluate_assertions(&s.asserts, &run.kpis, opts.target.name());
    Ok(RunReport {
        run,
        asserts,
        out: opts.out.clone(),
    })
}

/// Runs `s` in this process, with a progress bar when asked.
async fn run_embedded(
    s: &Scenario,
    opts: &RunOptions,
) -> Result<flashmesh_mesh::experiment::ExperimentRun, ExperimentError> {
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:32}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(s.name.clone());
    let eopts = ExperimentOptions {
        data_dir: None,
        scale: opts.scale.unwrap_or(1.0),
    };
    let result = run_experiment(s, &eopts, |p| match p {
        ExperimentProgress::Setup(step) => bar.set_message(step),
        ExperimentProgress::Running {
            at_ms,
            total_ms,
            ended,
            planned,
        } => {
            bar.set_position(at_ms * 1000 / total_ms.max(1));
            bar.set_message(format!(
                "{:.1}/{:.1} s, {ended}/{planned} payments ended",
                at_ms as f64 / 1000.0,
                total_ms as f64 / 1000.0
            ));
        }
        ExperimentProgress::Draining => bar.set_message("waiting for payments in flight"),
    })
    .await;
    bar.finish_and_clear();
    Ok(result?)
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.0}"))
}

/// The KPI table of a run, with the assertions.
pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    let k = &r.run.kpis;
    let _ = writeln!(
        out,
        "{} on {} ({} nodes, {} links, seed {}): set-up {:.1} s, run {:.1} s",
        k.run.scenario,
        k.run.target,
        k.run.nodes,
        k.run.links,
        k.run.seed,
        r.run.setup_s,
        r.run.wall_s
    );
    let counter = |name: &str| k.counters.get(&format!("embedded.{name}")).copied();
    if let (Some(after), Some(peak)) = (counter("rss_after_setup_bytes"), counter("peak_rss_bytes"))
    {
        let kib = |v: Option<f64>| v.map_or_else(|| "-".into(), |b| format!("{:.0}", b / 1024.0));
        let _ = writeln!(
            out,
            "memory: {:.0} MiB after set-up ({} KiB per switch, {} KiB per anchor with its \
             controller and wallets), peak {:.0} MiB; {} payments/s sustained",
            after / 1048576.0,
            kib(counter("memory_per_switch_bytes")),
            kib(counter("memory_per_anchor_bytes")),
            peak / 1048576.0,
            counter("payments_per_s").map_or_else(|| "-".into(), |v| format!("{v:.0}")),
        );
    }
    let _ = writeln!(
        out,
        "{:<24} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7} {:>8}",
        "phase",
        "pays",
        "success",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "bcb p95",
        "bcb loss",
        "q0 max",
        "q2 max",
        "reroute"
    );
    for p in &k.phases {
        let _ = writeln!(
            out,
            "{:<24} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7} {:>8}",
            p.phase,
            p.payments,
            p.success_rate
                .map_or("-".into(), |x| format!("{:.1}%", x * 100.0)),
            ms(p.finality_p50_ms),
            ms(p.finality_p95_ms),
            ms(p.finality_p99_ms),
            p.bcb_delay_p95_ms.map_or("-".into(), |x| format!("{x:.1}")),
            p.bcb_loss
                .map_or("-".into(), |x| format!("{:.2}%", x * 100.0)),
            ms(p.queue_depth_max_class0),
            ms(p.queue_depth_max_class2),
            ms(p.reroute_ms),
        );
    }
    if let Some(all) = k.phase("all") {
        if !all.failure_reasons.is_empty() {
            let _ = writeln!(out, "failures: {:?}", all.failure_reasons);
        }
        let _ = writeln!(
            out,
            "switch drops: duplicate {}, stale {}, blocked {}; authority rejections {}; interruption {} ms",
            ms(all.switch_duplicate_drops),
            ms(all.switch_stale_drops),
            ms(all.switch_blocked_drops),
            ms(all.authority_rejections),
            ms(all.interruption_ms)
        );
    }
    for a in &r.asserts {
        let _ = writeln!(
            out,
            "[{}] {}",
            if a.passed { "ok" } else { "FAILED" },
            a.text
        );
    }
    let _ = writeln!(out, "outputs in {}", r.out.display());
    out
}

/// The shipped scenarios in `dir`: file name, name, description, targets.
pub fn list(dir: &Path) -> Result<String, ExperimentError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ExperimentError::Write {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::new();
    for f in files {
        match flashmesh_scenario::load_file(&f) {
            Ok(s) => {
                let targets = if s.only.is_empty() {
                    "embedded, mininet, sim".to_string()
                } else {
                    s.only.join(", ")
                };
                let _ = writeln!(
                    out,
                    "{:<16} {:>5} nodes  [{targets}]  {}",
                    s.name,
                    s.nodes.len(),
                    s.description
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<16} error: {e}", f.display());
            }
        }
    }
    Ok(out)
}
