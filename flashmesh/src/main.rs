//! flashmesh: committee set-up, the demo and benchmarks.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flashmesh::bench::{BenchOptions, render, run_authority_bench};
use flashmesh::demo::{DemoOptions, render_table, run_demo};
use flashmesh::init::committee_init;
use merchant_anchor::{InitOptions, Ports};

/// Flash-Mesh: set up a committee, run the demo, run benchmarks.
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
    /// Runs a committee and wallets in this process on loopback and prints KPIs.
    Demo {
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// Honest payments in total.
        #[arg(long, default_value_t = 400)]
        payments: usize,
        /// Authorities.
        #[arg(long, default_value_t = 4)]
        authorities: usize,
        /// Wallets.
        #[arg(long, default_value_t = 8)]
        wallets: usize,
        /// Milliseconds allowed for each phase of a payment.
        #[arg(long, default_value_t = 3000)]
        phase_timeout_ms: u64,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
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
        /// Requests in flight per client.
        #[arg(long, default_value_t = 8)]
        window: usize,
        /// Seconds per measured phase.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Server sockets sharing the port [default: one per core].
        #[arg(long)]
        sockets: Option<usize>,
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
        Command::Demo {
            json,
            payments,
            authorities,
            wallets,
            phase_timeout_ms,
        } => {
            let opts = DemoOptions {
                authorities,
                wallets,
                payments,
                kill_after: Some(payments * 3 / 8),
                phase_timeout: Duration::from_millis(phase_timeout_ms),
                ..DemoOptions::default()
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
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
    }
    Ok(())
}
