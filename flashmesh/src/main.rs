//! flashmesh: committee set-up, the demo, benchmarks, and signed policy bundles.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flashmesh::bench::{BenchOptions, render, run_authority_bench};
use flashmesh::demo::{DemoOptions, render_table, run_demo};
use flashmesh::init::committee_init;
use flashmesh::policy::{self as pol, NewOptions};
use merchant_anchor::{InitOptions, Ports};

/// Flash-Mesh: set up a committee, run the demo, run benchmarks, manage signed policy.
#[derive(Debug, Parser)]
#[command(name = "flashmesh", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Committee set-up.
    Committee {
        #[command(subcommand)]
        command: CommitteeCommand,
    },
    /// Runs the whole Flash-Mesh in this process (no root): flash-switches running
    /// flash_mesh.p4 on emulated links, merchant anchors controlling them over P4Runtime,
    /// wallets paying through the mesh; phases idle, congestion with and without priority
    /// flows, replay injection, link failure; prints a KPI row per phase.
    /// With --loopback: the settlement-only demo over UDP on loopback instead.
    Demo {
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// Run the settlement-only demo over UDP loopback (authorities, wallets, a double
        /// spend, an authority stopped mid-run) instead of the mesh.
        #[arg(long)]
        loopback: bool,
        /// Mesh: seconds measured per phase.
        #[arg(long, default_value_t = 5.0)]
        phase_secs: f64,
        /// Mesh: only these phases (comma-separated; default all).
        #[arg(long, value_delimiter = ',')]
        phases: Vec<String>,
        /// Mesh: seed of keys and link randomness.
        #[arg(long)]
        seed: Option<u64>,
        /// Mesh: `shared` (one committee of all merchant authorities, quorum 3 of 4) or
        /// `per-merchant` (each merchant a committee of one).
        #[arg(long, default_value = "shared")]
        committee: flashmesh_mesh::CommitteeMode,
        /// Loopback: honest payments in total.
        #[arg(long, default_value_t = 400)]
        payments: usize,
        /// Loopback: authorities.
        #[arg(long, default_value_t = 4)]
        authorities: usize,
        /// Loopback: wallets.
        #[arg(long, default_value_t = 8)]
        wallets: usize,
        /// Loopback: milliseconds allowed for each phase of a payment.
        #[arg(long, default_value_t = 3000)]
        phase_timeout_ms: u64,
    },
    /// Runs a scenario file on the deterministic simulator (virtual time, the real authority
    /// and payment protocol, modelled network, store and data plane, faults from the seed,
    /// invariants checked after every event). Exits 1 when an invariant broke.
    Sim {
        /// The scenario file (e.g. bmv2-testbed/scenarios/sim-faults.toml).
        scenario: PathBuf,
        /// Seed (first seed with --seeds) [default: the scenario's].
        #[arg(long)]
        seed: Option<u64>,
        /// Run this many seeds (from --seed) on every core.
        #[arg(long)]
        seeds: Option<u64>,
        /// Print the event trace (of the shrunk run, when an invariant broke).
        #[arg(long)]
        trace: bool,
        /// Payments to make instead of the scenario's workload.
        #[arg(long)]
        payments: Option<u64>,
        /// Write kpis.json, payments.csv and events.csv here (single seed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads for --seeds [default: one per core].
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Wallet load against a running committee: payers (account key files) pay at a total
    /// rate with seeded Poisson arrivals, each through its own wallet over UDP; one row per
    /// payment in `--out` (the experiments' payments.csv format).
    Load {
        /// Committee file.
        #[arg(long)]
        committee: PathBuf,
        /// Key file of a paying account (repeat).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Key file of a receiving account (repeat; default: the payers pay each other).
        #[arg(long = "payee")]
        payees: Vec<PathBuf>,
        /// Payments per second over all payers.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds during which payments start.
        #[arg(long, default_value_t = 10)]
        duration_s: u64,
        /// At most this many payments (0: by duration).
        #[arg(long, default_value_t = 0)]
        payments: u64,
        /// Smallest amount.
        #[arg(long, default_value_t = 1)]
        amount_min: u64,
        /// Largest amount.
        #[arg(long, default_value_t = 10)]
        amount_max: u64,
        /// Seed of arrivals, payers, payees and amounts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the rows go.
        #[arg(long, default_value = "payments.csv")]
        out: PathBuf,
        /// Wallet state (one directory per payer; default: `wallets/` beside `--out`).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Source address of the payers' sockets.
        #[arg(long, default_value = "0.0.0.0")]
        bind: IpAddr,
        /// Retransmit after this silence (ms).
        #[arg(long, default_value_t = 200)]
        retry_ms: u64,
        /// Time allowed per phase (votes, receipts), ms.
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
        /// Epoch of the orders.
        #[arg(long, default_value_t = 1)]
        epoch: u32,
        /// Committee name in the rows (default: the committee file's stem).
        #[arg(long)]
        committee_name: Option<String>,
        /// Make the payments of this schedule file (JSON) instead of drawing arrivals.
        #[arg(long)]
        schedule: Option<PathBuf>,
        /// The schedule's times count from this moment, Unix ms [default: now].
        #[arg(long)]
        start_at_unix_ms: Option<u64>,
        /// Attempts after the first for a failed payment (the same order again).
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Abandon a payment unsent when its turn comes this many ms late (0: never).
        #[arg(long, default_value_t = 0)]
        give_up_ms: u64,
    },
    /// Experiments from scenario files (`bmv2-testbed/scenarios/`): run one, list them.
    Experiment {
        #[command(subcommand)]
        command: ExperimentCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Signed policy bundles: write, sign, check and push them to an anchor.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Operator keys (ed25519) that sign policy bundles.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Writes a new operator key (seed hex, mode 0600) and prints its public key.
    Keygen {
        /// The key file to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Also add the public key to this operators file (created if missing).
        #[arg(long)]
        operators: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Writes an unsigned bundle: the default settings changed by the flags.
    New {
        /// Bundle version; an anchor accepts only versions above the one in force.
        #[arg(long = "bundle-version", default_value_t = 1)]
        version: u64,
        /// Validity from now: 90s, 15m, 12h, 30d.
        #[arg(long, default_value = "30d", value_parser = pol::parse_duration_secs)]
        expires_in: u64,
        /// Expiry as unix seconds (instead of --expires-in).
        #[arg(long, conflicts_with = "expires_in")]
        expires_at: Option<u64>,
        /// Free-form note.
        #[arg(long, default_value = "")]
        note: String,
        /// Class and queue priority of a message type: TYPE=CLASS:PRIORITY (e.g. vote=0:6,
        /// payment_data=1:3); repeatable; replaces that type's default rule.
        #[arg(long = "class", value_parser = pol::parse_class_rule)]
        classes: Vec<flashmesh_controller::policy::ClassRule>,
        /// Retransmissions of one message let through per epoch window.
        #[arg(long)]
        retry_allowance: Option<u8>,
        /// Epoch length in milliseconds.
        #[arg(long)]
        epoch_length_ms: Option<u64>,
        /// Link probe interval in milliseconds.
        #[arg(long)]
        probe_interval_ms: Option<u64>,
        /// Missed probes before a link is declared down.
        #[arg(long)]
        probe_miss_count: Option<u32>,
        /// How long a double-spender stays blocked in the switches, seconds.
        #[arg(long)]
        penalty_secs: Option<u64>,
        /// Message types through the in-switch duplicate filter (comma separated).
        #[arg(long, value_delimiter = ',', value_parser = pol::parse_msg_type)]
        dedup_types: Option<Vec<u8>>,
        /// Write JSON instead of TOML.
        #[arg(long)]
        json: bool,
        /// Output file [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Adds this operator's signature to a bundle (in place unless --out).
    Sign {
        /// The operator's key file.
        #[arg(long)]
        key: PathBuf,
        /// The bundle file.
        bundle: PathBuf,
        /// Write the signed bundle here instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks a bundle offline against pinned operators, and says why it would be refused.
    Verify {
        /// Operators file: keys = [...] (and optionally threshold = k).
        #[arg(long)]
        operators: PathBuf,
        /// Signatures required [default: the operators file's threshold].
        #[arg(long)]
        threshold: Option<usize>,
        /// The version in force at the anchor (to check for a replay).
        #[arg(long)]
        current_version: Option<u64>,
        /// The bundle file.
        bundle: PathBuf,
    },
    /// POSTs a bundle to an anchor's admin API.
    Push {
        /// The anchor's admin address.
        #[arg(long, default_value = "http://127.0.0.1:8474")]
        admin: String,
        /// The anchor's admin bearer token.
        #[arg(long, env = "FLASHMESH_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// The bundle file.
        bundle: PathBuf,
    },
    /// Shows the policy in force at an anchor.
    Show {
        /// The anchor's admin address.
        #[arg(long, default_value = "http://127.0.0.1:8474")]
        admin: String,
    },
}

#[derive(Debug, Subcommand)]
enum CommitteeCommand {
    /// Writes a committee, genesis, anchor configs and keys, and account keys.
    Init {
        /// Number of authorities.
        #[arg(long, default_value_t = 4)]
        authorities: usize,
        /// Number of funded accounts.
        #[arg(long, default_value_t = 8)]
        accounts: usize,
        /// Genesis balance of each account.
        #[arg(long, default_value_t = 1_000_000)]
        balance: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Address the anchors listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// First BCB UDP port (anchor i gets this + i).
        #[arg(long, default_value_t = 47474)]
        bcb_port: u16,
        /// First admin HTTP port (anchor i gets this + i).
        #[arg(long, default_value_t = 8474)]
        admin_port: u16,
    },
    /// Makes two committees neighbours (accounts may move between them by handoff): each
    /// committee file gets the other under [[neighbours]]. Run before starting their anchors.
    Link {
        /// One committee file.
        a: PathBuf,
        /// The other committee file.
        b: PathBuf,
        /// The name `b` gets in `a`'s file [default: the name of b's directory].
        #[arg(long)]
        b_name: Option<String>,
        /// The name `a` gets in `b`'s file [default: the name of a's directory].
        #[arg(long)]
        a_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Orders and certificates per second through one authority, next to the crypto ceiling.
    Authority {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Orders to prepare (one account each).
        #[arg(long, default_value_t = 60_000)]
        orders: usize,
        /// Concurrent client sockets.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Requests in flight per client (32 x 16 = 512 in flight keep both cores busy while a
        /// group commit waits for the disk; with 8 the server idles during commits).
        #[arg(long, default_value_t = 16)]
        window: usize,
        /// Seconds per measured phase.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Server sockets sharing the port [default: one per core].
        #[arg(long)]
        sockets: Option<usize>,
    },
    /// Every benchmark in one run: one JSON (`bench.json`) and one markdown table
    /// (`bench.md`), each figure next to its same-run reference.
    All {
        /// Where the report goes.
        #[arg(long, default_value = "results/bench")]
        out: PathBuf,
        /// Smaller sizes: a smoke run in about a minute (not the published figures).
        #[arg(long)]
        quick: bool,
    },
    /// Anchor restart time after a long history: the whole journal replayed, then from a
    /// snapshot, on one store in one run.
    Recovery {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Applied certificates in the history.
        #[arg(long, default_value_t = 1_000_000)]
        certificates: u64,
        /// Accounts paying in turn.
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Where the store goes [default: a temporary directory].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    match args.command {
        Command::Committee {
            command:
                CommitteeCommand::Init {
                    authorities,
                    accounts,
                    balance,
                    out,
                    host,
                    bcb_port,
                    admin_port,
                },
        } => {
            let opts = InitOptions {
                authorities,
                accounts,
                balance,
                host,
                ports: Ports::Fixed {
                    bcb: bcb_port,
                    admin: admin_port,
                },
                workers: 0,
            };
            let (_, text) = committee_init(&out, &opts)?;
            print!("{text}");
        }
        Command::Committee {
            command:
                CommitteeCommand::Link {
                    a,
                    b,
                    a_name,
                    b_name,
                },
        } => {
            let name_of = |p: &std::path::Path, given: Option<String>| {
                given.unwrap_or_else(|| {
                    p.canonicalize()
                        .ok()
                        .and_then(|c| c.parent()?.file_name()?.to_str().map(str::to_owned))
                        .unwrap_or_else(|| "neighbour".into())
                })
            };
            let (an, bn) = (name_of(&a, a_name), name_of(&b, b_name));
            flashmesh::init::link_committees(&a, &an, &b, &bn)?;
            println!("{} now lists {bn} as a neighbour", a.display());
            println!("{} now lists {an} as a neighbour", b.display());
        }
        Command::Demo {
            json,
            loopback,
            phase_secs,
            phases,
            seed,
            committee,
            payments,
            authorities,
            wallets,
            phase_timeout_ms,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            if loopback {
                let opts = DemoOptions {
                    authorities,
                    wallets,
                    payments,
                    kill_after: Some(payments * 3 / 8),
                    phase_timeout: Duration::from_millis(phase_timeout_ms),
                    ..DemoOptions::default()
                };
                let report = runtime
                    .block_on(run_demo(&opts))
                    .context("running the demo")?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print!("{}", render_table(&report));
                }
                if report.double_spend_certificates != 0 || !report.supply_conserved {
                    anyhow::bail!("safety violated: see the report");
                }
            } else {
                let mut opts = flashmesh_mesh::DemoOptions {
                    phase_secs,
                    phases,
                    ..flashmesh_mesh::DemoOptions::default()
                };
                if let Some(seed) = seed {
                    opts.mesh.seed = seed;
                }
                opts.mesh.committee = committee;
                let progress = flashmesh_mesh::DemoProgress::new();
                let report = runtime
                    .block_on(flashmesh_mesh::run_demo(opts, progress.callback()))
                    .context("running the mesh demo")?;
                progress.finish();
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print!("{}", report.render_table());
                }
            }
        }
        Command::Bench {
            command:
                BenchCommand::Authority {
                    json,
                    orders,
                    clients,
                    window,
                    seconds,
                    sockets,
                },
        } => {
            let defaults = BenchOptions::default();
            let opts = BenchOptions {
                orders,
                clients,
                window,
                phase: Duration::from_secs_f64(seconds),
                sockets: sockets.unwrap_or(defaults.sockets),
                ..defaults
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(opts.threads)
                .enable_all()
                .build()?;
            let report = runtime.block_on(run_authority_bench(&opts))?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", render(&report));
            }
        }
        Command::Bench {
            command: BenchCommand::All { out, quick },
        } => {
            let report = flashmesh::bench_all::run_all(&flashmesh::bench_all::AllOptions {
                out: out.clone(),
                quick,
            })?;
            print!("{}", flashmesh::bench_all::render_all(&report));
            eprintln!(
                "wrote {} and {}",
                out.join("bench.json").display(),
                out.join("bench.md").display()
            );
        }
        Command::Bench {
            command:
                BenchCommand::Recovery {
                    json,
                    certificates,
                    accounts,
                    dir,
                },
        } => {
            let report = flashmesh::recovery_bench::run_recovery_bench(
                &flashmesh::recovery_bench::RecoveryBenchOptions {
                    certificates,
                    accounts,
                    dir,
                },
            )?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", flashmesh::recovery_bench::render_recovery(&report));
            }
        }
        Command::Operator {
            command: OperatorCommand::Keygen { out, operators },
        } => {
            let key = pol::keygen(&out, operators.as_deref())?;
            println!("{}", key.public_hex());
            eprintln!("wrote operator key {}", out.display());
            if let Some(o) = operators {
                eprintln!("added its public key to {}", o.display());
            }
        }
        Command::Policy { command } => policy_command(command)?,
        Command::Load {
            committee,
            keys,
            payees,
            rate,
            duration_s,
            payments,
            amount_min,
            amount_max,
            seed,
            out,
            state,
            bind,
            retry_ms,
            timeout_ms,
            epoch,
            committee_name,
            schedule,
            start_at_unix_ms,
            retries,
            give_up_ms,
        } => {
            let state = state.unwrap_or_else(|| {
                out.parent()
                    .unwrap_or_else(|| std::path::Path::new("."))
                    .join("wallets")
            });
            let committee_name = committee_name.unwrap_or_else(|| {
                committee
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            });
            let o = flashmesh::load::LoadOptions {
                committee,
                payers: keys,
                payees,
                rate_per_s: rate,
                duration: Duration::from_secs(duration_s),
                payments,
                amount: (amount_min, amount_max),
                seed,
                out,
                state,
                bind,
                pay: flashmesh_wallet::PayOptions {
                    retry_interval: Duration::from_millis(retry_ms.max(1)),
                    phase_timeout: Duration::from_millis(timeout_ms.max(1)),
                    epoch,
                    payee: None,
                },
                committee_name,
                schedule,
                start_at_unix_ms,
                retries,
                give_up_after: (give_up_ms > 0).then(|| Duration::from_millis(give_up_ms)),
            };
            let rt = tokio::runtime::Runtime::new()?;
            let r = rt.block_on(flashmesh::load::run_load(&o))?;
            let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.0}"));
            println!(
                "{} payments, {} final, finality p50 {} ms p95 {} ms, {:.1} s; rows in {}",
                r.payments.len(),
                r.succeeded(),
                ms(r.finality_ms(0.5)),
                ms(r.finality_ms(0.95)),
                r.wall_s,
                o.out.display()
            );
        }
        Command::Experiment { command } => experiment_command(command)?,
        Command::Sim {
            scenario,
            seed,
            seeds,
            trace,
            payments,
            out,
            threads,
        } => {
            let opts = flashmesh::sim::SimOptions {
                scenario,
                seed,
                seeds,
                trace,
                payments,
                out,
                threads,
            };
            let outcome = flashmesh::sim::run_sim(&opts)?;
            // A closed pipe (e.g. `| head`) is not an error of the simulation.
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                flashmesh::sim::render(&opts, &outcome).as_bytes(),
            );
            if !outcome.ok() {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum ExperimentCommand {
    /// Runs a scenario file with one command and writes kpis.json, payments.csv, events.csv
    /// and run.json to --out; exits 1 when one of the scenario's assertions fails.
    Run {
        /// The scenario file (e.g. bmv2-testbed/scenarios/congestion.toml).
        scenario: PathBuf,
        /// Where it runs: embedded (in this process, no root), mininet, sim.
        #[arg(long, default_value = "embedded")]
        target: String,
        /// The switch: flash-switch or bmv2 (mininet only).
        #[arg(long, default_value = "flash-switch")]
        switch: String,
        /// Output folder [default: results/NAME].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Scale every time in the scenario by this factor.
        #[arg(long)]
        scale: Option<f64>,
        /// The short form CI runs: times scaled by the scenario's short_factor.
        #[arg(long)]
        short: bool,
    },
    /// Draws PNG charts of a run's outputs into its folder: finality_cdf.png,
    /// finality_over_time.png, queue_depth.png (when queues.csv exists); with --scaling, also
    /// scaling.png comparing the given run folders.
    Plot {
        /// The run's output folder (kpis.json, payments.csv, events.csv, queues.csv).
        dir: PathBuf,
        /// A run folder to compare in DIR/scaling.png (repeat for each run).
        #[arg(long)]
        scaling: Vec<PathBuf>,
    },
    /// Lists the scenarios in a folder.
    List {
        /// The folder.
        #[arg(default_value = "bmv2-testbed/scenarios")]
        dir: PathBuf,
    },
}

fn experiment_command(command: ExperimentCommand) -> anyhow::Result<()> {
    use flashmesh_scenario::{SwitchKind, TargetKind};
    match command {
        ExperimentCommand::List { dir } => {
            print!("{}", flashmesh::experiment::list(&dir)?);
        }
        ExperimentCommand::Plot { dir, scaling } => {
            let plots = flashmesh_plot::plot_dir(&dir)
                .with_context(|| format!("plotting {}", dir.display()))?;
            print_plots(&plots);
            if !scaling.is_empty() {
                let path = flashmesh_plot::plot_scaling(&scaling, &dir)
                    .context("plotting the scaling of the given runs")?;
                println!("wrote {}", path.display());
            }
        }
        ExperimentCommand::Run {
            scenario,
            target,
            switch,
            out,
            seed,
            scale,
            short,
        } => {
            let target = match target.as_str() {
                "embedded" => TargetKind::Embedded,
                "mininet" => TargetKind::Mininet,
                "sim" => TargetKind::Sim,
                other => anyhow::bail!("unknown target {other:?} (embedded, mininet or sim)"),
            };
            let switch = match (target, switch.as_str()) {
                (TargetKind::Sim, _) => SwitchKind::Model,
                (_, "flash-switch") => SwitchKind::FlashSwitch,
                (TargetKind::Mininet, "bmv2") => SwitchKind::Bmv2,
                (_, other) => anyhow::bail!(
                    "switch {other:?} is not available on target {} (flash-switch; bmv2 on mininet)",
                    target.name()
                ),
            };
            let scale = if short {
                let s = flashmesh_scenario::load_file(&scenario)?;
                Some(scale.unwrap_or(1.0) * s.short_factor)
            } else {
                scale
            };
            let out = out.unwrap_or_else(|| {
                let stem = scenario
                    .file_stem()
                    .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
                PathBuf::from("results").join(stem)
            });
            let opts = flashmesh::experiment::RunOptions {
                scenario,
                target,
                switch,
                out,
                seed,
                scale,
                progress: true,
            };
            let rt = tokio::runtime::Runtime::new()?;
            let report = rt.block_on(flashmesh::experiment::run(&opts))?;
            print!("{}", flashmesh::experiment::render(&report));
            match flashmesh_plot::plot_dir(&report.out) {
                Ok(plots) => print_plots(&plots),
                Err(e) => eprintln!("warning: plots not drawn: {e}"),
            }
            if !report.ok() {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

/// Prints the charts written and the warnings of drawing them.
fn print_plots(plots: &flashmesh_plot::PlotReport) {
    for w in &plots.warnings {
        eprintln!("warning: {w}");
    }
    for path in &plots.written {
        println!("wrote {}", path.display());
    }
}

fn policy_command(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::New {
            version,
            expires_in,
            expires_at,
            note,
            classes,
            retry_allowance,
            epoch_length_ms,
            probe_interval_ms,
            probe_miss_count,
            penalty_secs,
            dedup_types,
            json,
            out,
        } => {
            let bundle = pol::new_bundle(&NewOptions {
                version,
                expires_at: expires_at
                    .unwrap_or_else(|| flashmesh_core::host::clock::unix_secs() + expires_in),
                note,
                classes,
                retry_allowance,
                epoch_length_ms,
                probe_interval_ms,
                probe_miss_count,
                penalty_secs,
                dedup_types,
            })?;
            let format = if json {
                pol::Format::Json
            } else {
                pol::Format::Toml
            };
            let text = format.render(&bundle);
            match out {
                Some(path) => {
                    pol::write_file(&path, &text, false)?;
                    eprintln!(
                        "wrote unsigned bundle version {} to {} (digest {})",
                        bundle.body.version,
                        path.display(),
                        bundle.digest_hex()
                    );
                }
                None => print!("{text}"),
            }
        }
        PolicyCommand::Sign { key, bundle, out } => {
            let operator = pol::read_operator_key(&key)?;
            let (mut b, format) = pol::read_bundle(&bundle)?;
            operator.sign(&mut b);
            let target = out.unwrap_or(bundle);
            pol::write_file(&target, &format.render(&b), false)?;
            println!(
                "signed version {} as {} ({} signature(s)) -> {}",
                b.body.version,
                operator.public_hex(),
                b.signatures.len(),
                target.display()
            );
        }
        PolicyCommand::Verify {
            operators,
            threshold,
            current_version,
            bundle,
        } => {
            let ops = pol::Operators::load(&operators)?;
            let k = threshold
                .or(ops.threshold)
                .ok_or(pol::PolicyToolError::NoThreshold)?;
            let (b, _) = pol::read_bundle(&bundle)?;
            match pol::verify(
                &b,
                &ops.keys,
                k,
                current_version,
                flashmesh_core::host::clock::unix_secs(),
            )? {
                Ok(v) => println!(
                    "ok: version {} signed by {} of {} pinned operator(s) (threshold {k}), digest {}",
                    v.bundle.body.version,
                    v.signers.len(),
                    ops.keys.len(),
                    v.digest
                ),
                Err(r) => anyhow::bail!("{} ({})", r, r.kind()),
            }
        }
        PolicyCommand::Push {
            admin,
            token,
            bundle,
        } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let answer = block_on(pol::push(&admin, &token, &text))??;
            println!("{}", answer.body.trim_end());
            if answer.status != 200 {
                anyhow::bail!("{admin} answered HTTP {}", answer.status);
            }
        }
        PolicyCommand::Show { admin } => {
            let answer = block_on(flashmesh::admin_client::request(
                &admin,
                "GET",
                "/policy",
                None,
                "text/plain",
                Vec::new(),
            ))??;
            println!("{}", answer.body.trim_end());
            if answer.status != 200 {
                anyhow::bail!("{admin} answered HTTP {}", answer.status);
            }
        }
    }
    Ok(())
}

fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}
