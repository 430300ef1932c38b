//! `gateway`: settles withdrawal certificates of a committee on a primary ledger exactly once,
//! and turns deposits taken in on that ledger into funding certificates for the committee.
//!
//! `gateway init --committee committee/committee.toml --out gw` sets a gateway up for a committee
//! in one step (key, configuration, `[[gateways]]` pin); `gateway keygen --key gw.key --name gw --address 127.0.0.1:47480` writes a key and prints
//! the `[[gateways]]` entry for the committee file; `gateway serve --config gateway.toml` runs
//! the service (see [`flashmesh_gateway::config`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use flashmesh_core::{Committee, Keypair};
use flashmesh_gateway::admin::{self, AdminContext};
use flashmesh_gateway::config::{GatewayConfig, LedgerConfig};
use flashmesh_gateway::deposit::DepositPusher;
use flashmesh_gateway::ledger::postgres::describe_conninfo;
use flashmesh_gateway::ledger::{PostgresLedger, PrimaryLedger, SqliteLedger};
use flashmesh_gateway::metrics::Metrics;
use flashmesh_gateway::server::Service;
use flashmesh_gateway::setup;
use flashmesh_gateway::worker::LedgerHandle;
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{CommitteeClient, PayOptions, read_key, write_key};

#[derive(Debug, Parser)]
#[command(
    name = "gateway",
    version,
    about = "The Flash-Mesh gateway to a primary ledger"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sets a gateway up for a committee: writes a key and `gateway.toml` (SQLite ledger, a
    /// fresh admin token) into --out and pins the gateway under [[gateways]] in the committee
    /// file. Run it before the committee's anchors start.
    Init {
        /// The committee file (rewritten with the gateway added).
        #[arg(long)]
        committee: PathBuf,
        /// Directory for the key, configuration and ledger.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "gw")]
        name: String,
        /// UDP address for withdrawal certificates.
        #[arg(long, default_value = "127.0.0.1:47480")]
        listen: std::net::SocketAddr,
        /// HTTP address of /status, /metrics and POST /deposits.
        #[arg(long, default_value = "127.0.0.1:9480")]
        admin: std::net::SocketAddr,
    },
    /// Writes a new gateway key and prints its committee file entry.
    Keygen {
        #[arg(long)]
        key: PathBuf,
        /// Its name in the committee file.
        #[arg(long, default_value = "gw")]
        name: String,
        /// Its UDP address.
        #[arg(long, default_value = "127.0.0.1:47480")]
        address: String,
    },
    /// Runs the gateway.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
}

/// Opens the configured ledger. Blocking, and called before the async runtime starts: the
/// PostgreSQL client runs a runtime of its own, which cannot start (or be dropped) on a thread
/// that drives the gateway's.
fn open_ledger(c: &LedgerConfig) -> anyhow::Result<Box<dyn PrimaryLedger>> {
    Ok(match c {
        LedgerConfig::Sqlite { path } => Box::new(
            SqliteLedger::open(path)
                .with_context(|| format!("opening the SQLite ledger {}", path.display()))?,
        ),
        LedgerConfig::Postgres { conninfo } => {
            Box::new(PostgresLedger::connect(conninfo).with_context(|| {
                format!(
                    "connecting to the PostgreSQL ledger ({})",
                    describe_conninfo(conninfo)
                )
            })?)
        }
    })
}

async fn serve(config: GatewayConfig, ledger: LedgerHandle) -> anyhow::Result<()> {
    let key: Keypair = read_key(&config.key_file)?;
    let text = std::fs::read_to_string(&config.committee_file)
        .with_context(|| format!("reading {}", config.committee_file.display()))?;
    let committee = Committee::from_toml(&text)?;
    if committee.gateway_by_key(&key.public()).is_none() {
        bail!(
            "{} does not pin this gateway's key {} under [[gateways]]",
            config.committee_file.display(),
            key.public().to_hex()
        );
    }
    let committee = Arc::new(committee);
    let key = Arc::new(key);
    let metrics = Arc::new(Metrics::default());
    let socket = Arc::new(
        tokio::net::UdpSocket::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?,
    );
    let recorded = Arc::new(tokio::sync::Notify::new());
    let confirmed_below = Arc::new(AtomicU64::new(0));
    let transport = Arc::new(UdpTransport::bind("0.0.0.0:0".parse()?).await?);
    let pusher = DepositPusher {
        key: key.clone(),
        client: CommitteeClient::new((*committee).clone(), transport)?,
        ledger: ledger.clone(),
        metrics: metrics.clone(),
        opts: PayOptions {
            retry_interval: Duration::from_millis(200),
            phase_timeout: Duration::from_secs(5),
            epoch: config.epoch,
            payee: None,
        },
        recorded: recorded.clone(),
        confirmed_below: confirmed_below.clone(),
    };
    tokio::spawn(pusher.run());
    if let Some(addr) = config.admin {
        let ctx = AdminContext {
            name: config.name.clone(),
            key: key.clone(),
            committee_id: committee.id().to_hex(),
            ledger: ledger.clone(),
            metrics: metrics.clone(),
            token: config.admin_token.clone(),
            recorded,
            confirmed_below,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, admin::router(ctx)).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
        println!("admin on http://{addr}");
    }
    println!(
        "gateway {} settling withdrawals on {} (udp)",
        config.name, config.listen
    );
    let service = Service {
        key,
        committee,
        ledger,
        metrics,
        epoch: config.epoch,
    };
    tokio::select! {
        () = service.serve(socket) => {}
        r = tokio::signal::ctrl_c() => { r?; }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Args::parse().command {
        Command::Init {
            committee,
            out,
            name,
            listen,
            admin,
        } => {
            let r = flashmesh_gateway::setup::init(&setup::InitOptions {
                committee_file: committee.clone(),
                out,
                name,
                listen,
                admin,
            })?;
            println!(
                "gateway {} pinned in {} (key {})",
                r.gateway.name,
                committee.display(),
                r.gateway.public_key.to_hex()
            );
            println!(
                "  wrote {} and {}",
                r.config_file.display(),
                r.key_file.display()
            );
            println!(
                "  start it:  gateway serve --config {}",
                r.config_file.display()
            );
            println!("  status:    curl http://{admin}/status  http://{admin}/metrics");
            println!(
                "  deposit:   curl -X POST -H 'Authorization: Bearer {}' --data \
                 '{{\"account\":\"<public key>\",\"amount\":100,\"reference\":\"bank-tx-1\"}}' \
                 http://{admin}/deposits",
                r.admin_token
            );
            Ok(())
        }
        Command::Keygen { key, name, address } => {
            let k = Keypair::generate().context("generating a key")?;
            write_key(&key, &k)?;
            println!("# wrote {}; add this to the committee file:", key.display());
            println!("[[gateways]]");
            println!("name = {name:?}");
            println!("public_key = \"{}\"", k.public().to_hex());
            println!("address = {address:?}");
            Ok(())
        }
        Command::Serve { config } => {
            let config = GatewayConfig::load(&config)?;
            // Opened here, on the main thread before the runtime exists, then owned by the
            // ledger's own thread (see `open_ledger`).
            let ledger = LedgerHandle::spawn(open_ledger(&config.ledger)?);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(serve(config, ledger))
        }
    }
}
