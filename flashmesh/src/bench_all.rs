//! `flashmesh bench all --out DIR`: every benchmark in one run, one JSON and one markdown table
//! (figure, unit, the same-run reference it is compared with, and the ratio).
//!
//! Run here: the authority under load next to the verify-then-sign ceiling measured in the
//! same run; anchor restart after a long history, replayed and from a snapshot; the P4 pipeline
//! alone, and flash-switch forwarding over veth next to a bare AF_PACKET loop on the same ports
//! (one flow with one datapath thread, two flows with one and two threads, each against the
//! bare loop with as many threads; root only, skipped with the reason otherwise); the
//! simulator's fault campaign and its 1000-node and baseline runs. Every figure comes from the
//! benchmark's own report, never from a constant.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use serde::Serialize;

use crate::bench::{BenchOptions, run_authority_bench};
use crate::recovery_bench::{RecoveryBenchOptions, run_recovery_bench};
use crate::sim::{SimOptions, SimOutcome, run_sim};

/// What to run.
#[derive(Debug, Clone)]
pub struct AllOptions {
    /// Where `bench.json` and `bench.md` go.
    pub out: PathBuf,
    /// Smaller sizes (a smoke run: minutes become seconds; the figures are not the README's).
    pub quick: bool,
}

/// One figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Which benchmark.
    pub bench: String,
    /// What was measured.
    pub figure: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// What it is compared with, measured in the same run (if anything).
    pub reference: Option<String>,
    /// The reference's value.
    pub reference_value: Option<f64>,
    /// `value / reference_value`.
    pub ratio: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct AllReport {
    /// Cores of the machine.
    pub cores: usize,
    /// Whether this was a quick run.
    pub quick: bool,
    /// The figures.
    pub figures: Vec<Figure>,
    /// Benchmarks not run, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Wall-clock seconds for everything.
    pub wall_s: f64,
}

fn fig(bench: &str, figure: &str, value: f64, unit: &str) -> Figure {
    Figure {
        bench: bench.into(),
        figure: figure.into(),
        value,
        unit: unit.into(),
        reference: None,
        reference_value: None,
        ratio: None,
    }
}

fn against(mut f: Figure, reference: &str, value: f64) -> Figure {
    f.ratio = (value > 0.0).then(|| f.value / value);
    f.reference = Some(reference.into());
    f.reference_value = Some(value);
    f
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bmv2-testbed/scenarios")
        .join(format!("{name}.toml"))
}

/// Runs every benchmark, writes `bench.json` and `bench.md` into `opts.out`, and returns the
/// report.
pub fn run_all(opts: &AllOptions) -> anyhow::Result<AllReport> {
    let started = std::time::Instant::now();
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The authority next to its same-run crypto ceiling.
    let bopts = BenchOptions {
        orders: if opts.quick { 8_000 } else { 60_000 },
        ..BenchOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(bopts.threads)
        .enable_all()
        .build()?;
    let a = rt.block_on(run_authority_bench(&bopts))?;
    drop(rt);
    let ceiling = "verify-then-sign ceiling, same run";
    figures.push(against(
        fig("authority", "orders", a.orders_per_sec, "orders/s"),
        ceiling,
        a.crypto_ceiling_per_sec,
    ));
    figures.push(fig(
        "authority",
        "orders per core",
        a.orders_per_sec_per_core,
        "orders/s/core",
    ));
    figures.push(against(
        fig(
            "authority",
            "certificates",
            a.certificates_per_sec,
            "certificates/s",
        ),
        "check-then-sign-receipt ceiling, same run",
        a.certificate_ceiling_per_sec,
    ));
    figures.push(fig(
        "authority",
        "datagrams per signature batch (mean)",
        a.mean_signature_batch,
        "datagrams",
    ));

    // Restart after a long history.
    let r = run_recovery_bench(&RecoveryBenchOptions {
        certificates: if opts.quick { 50_000 } else { 1_000_000 },
        accounts: 1000,
        dir: None,
    })?;
    let replay = format!("whole journal replayed ({} certificates)", r.certificates);
    figures.push(fig(
        "recovery",
        &format!("restart, {replay}"),
        r.restart_full_replay_s,
        "s",
    ));
    figures.push(against(
        fig(
            "recovery",
            "restart from a snapshot",
            r.restart_from_snapshot_s,
            "s",
        ),
        &format!("restart, {replay}"),
        r.restart_full_replay_s,
    ));

    // The pipeline alone, then forwarding over veth through it.
    let seconds = if opts.quick { "1" } else { "5" };
    let sargs = flash_switch::cli::BenchArgs::parse_from(["bench", "--seconds", seconds]);
    let pipeline = flash_switch::bench::pipeline_pps(&sargs)?;
    figures.push(fig(
        "flash-switch",
        "pipeline alone (router example, one core)",
        pipeline,
        "packets/s",
    ));
    match flash_switch::bench::forward(&sargs) {
        Ok(f) => {
            figures.push(fig(
                "flash-switch",
                "bare AF_PACKET forwarding loop, same ports (no pipeline)",
                f.bare_forwarder_pps,
                "packets/s",
            ));
            figures.push(against(
                fig(
                    "flash-switch",
                    "forwarded over veth (AF_PACKET, one datapath thread)",
                    f.forwarded_pps,
                    "packets/s",
                ),
                "bare AF_PACKET loop, same run",
                f.bare_forwarder_pps,
            ));
            // Two flows through two port pairs, with one and two datapath threads, each next to
            // the bare loop with as many threads on the same ports.
            for threads in [1, 2] {
                if let Some(row) = f.row(2, threads) {
                    let s = if threads == 1 { "" } else { "s" };
                    figures.push(fig(
                        "flash-switch",
                        &format!("bare AF_PACKET loop, two flows, {threads} thread{s}"),
                        row.bare_pps,
                        "packets/s",
                    ));
                    figures.push(against(
                        fig(
                            "flash-switch",
                            &format!(
                                "forwarded over veth, two flows, {threads} datapath thread{s}"
                            ),
                            row.switch_pps,
                            "packets/s",
                        ),
                        &format!("bare loop, {threads} thread{s}, same run"),
                        row.bare_pps,
                    ));
                }
            }
        }
        Err(e) => skipped.push(("flash-switch over veth".into(), e.to_string())),
    }

    // The simulator.
    let seeds = if opts.quick { 200 } else { 2_000 };
    let out = run_sim(&SimOptions {
        scenario: scenario("sim-faults"),
        seed: None,
        seeds: Some(seeds),
        trace: false,
        payments: None,
        out: None,
        threads: 0,
    })?;
    if let SimOutcome::Seeds(rep) = &out {
        figures.push(fig(
            "simulator",
            &format!(
                "sim-faults, {seeds} seeds with faults ({} violations)",
                rep.failed_seeds.len()
            ),
            rep.seeds_per_s,
            "seeds/s",
        ));
    }
    let payments = if opts.quick { 1_000 } else { 10_000 };
    for name in ["mesh-1000", "baseline-2x25"] {
        let out = run_sim(&SimOptions {
            scenario: scenario(name),
            seed: None,
            seeds: None,
            trace: false,
            payments: Some(payments),
            out: None,
            threads: 0,
        })?;
        if let SimOutcome::One { result, wall_s } = &out {
            let ok = result
                .kpis
                .phase("all")
                .and_then(|p| p.get("succeeded"))
                .unwrap_or(0.0);
            figures.push(fig(
                "simulator",
                &format!("{name}, {payments} payments ({ok:.0} settled), wall clock"),
                *wall_s,
                "s",
            ));
        }
    }
    let report = AllReport {
        cores,
        quick: opts.quick,
        figures,
        skipped,
        wall_s: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    std::fs::write(
        opts.out.join("bench.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(opts.out.join("bench.md"), render_all(&report))?;
    Ok(report)
}

fn num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The report as a markdown table.
pub fn render_all(r: &AllReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| bench | figure | value | unit | same-run reference | ratio |\n|---|---|---|---|---|---|"
    );
    for f in &r.figures {
        let reference = match (&f.reference, f.reference_value) {
            (Some(n), Some(v)) => format!("{n}: {}", num(v)),
            _ => "-".into(),
        };
        let ratio = f.ratio.map_or("-".into(), |x| format!("{x:.3}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {reference} | {ratio} |",
            f.bench,
            f.figure,
            num(f.value),
            f.unit
        );
    }
    for (b, why) in &r.skipped {
        let _ = writeln!(s, "| {b} | skipped: {why} | | | | |");
    }
    let _ = writeln!(
        s,
        "\n{} cores; all benchmarks in {:.0} s{}.",
        r.cores,
        r.wall_s,
        if r.quick { " (quick sizes)" } else { "" }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_is_against_its_reference_and_the_table_shows_it() {
        let f = against(fig("b", "x", 50.0, "u/s"), "ceiling", 200.0);
        assert_eq!(f.ratio, Some(0.25));
        let r = AllReport {
            cores: 2,
            quick: true,
            figures: vec![f, fig("b", "y", 3.0, "s")],
            skipped: vec![("veth".into(), "needs root".into())],
            wall_s: 1.0,
        };
        let t = render_all(&r);
        assert!(
            t.contains("| b | x | 50.0 | u/s | ceiling: 200.0 | 0.250 |"),
            "{t}"
        );
        assert!(t.contains("skipped: needs root"));
    }
}
