//! `merchant-anchor --config anchor.toml`: runs one merchant anchor until interrupted.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use merchant_anchor::{Anchor, AnchorConfig};

/// Runs a Flash-Mesh merchant anchor: the FastPay authority, its durable store, the BCB UDP
/// server, the admin HTTP API and, with a `controller` entry in the configuration, the P4Runtime
/// controller of its switches.
#[derive(Debug, Parser)]
#[command(name = "merchant-anchor", version)]
struct Args {
    /// The anchor's configuration file.
    #[arg(long, short)]
    config: PathBuf,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let config = AnchorConfig::load(&args.config)?;
    // Two runtime threads per core: a worker that waits for the authority's lock (held while a
    // vote is signed) leaves its core to another thread instead of idling it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2 * cores)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let anchor = Anchor::start(&config)
            .await
            .with_context(|| format!("starting anchor from {}", args.config.display()))?;
        println!(
            "anchor {} serving BCB on udp://{} and admin on http://{}",
            config.name,
            anchor.bcb_addr(),
            anchor
                .admin_addr()
                .map_or_else(|| "-".to_string(), |a| a.to_string())
        );
        if let Some(h) = anchor.controller_health() {
            let primary = h.switches.iter().filter(|s| s.primary).count();
            println!(
                "controller {} driving {} switch(es) ({primary} as primary), epoch {}",
                h.name,
                h.switches.len(),
                h.epoch
            );
        }
        wait_for_stop_signal().await?;
        tracing::info!("shutting down");
        anchor.shutdown().await;
        anyhow::Ok(())
    })
}

/// Waits for SIGINT (ctrl-c) or SIGTERM. Stopping abruptly is safe too: every vote and receipt
/// that left the process was durable first.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c")?,
        _ = term.recv() => {}
    }
    Ok(())
}
