//! The `flash-switch` binary: a simple_switch_grpc-compatible switch, plus the `compile` and
//! `bench` subcommands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use flash_switch::cli::{BenchArgs, CompileArgs, RunArgs};
use flash_switch::config::{LinkConfig, parse_link_option};
use flash_switch::control_server::{self, ControlAddr};
use flash_switch::datapath::DatapathConfig;
use flash_switch::device::{Device, DeviceConfig};
use flash_switch::port::PortBinding;
use flashmesh_p4::ir::Program;
use tracing::level_filters::LevelFilter;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("compile") => compile(CompileArgs::parse_from(&args[1..])),
        Some("bench") => flash_switch::bench::run(BenchArgs::parse_from(&args[1..])),
        _ => match RunArgs::parse_from_args(&args) {
            Ok(run_args) => run(run_args),
            Err(e) => e.exit(),
        },
    };
    if let Err(e) = result {
        eprintln!("flash-switch: {e:#}");
        std::process::exit(1);
    }
}

/// `flash-switch compile`: checks the program (and that it lowers for the interpreter) and
/// writes its P4Info. Diagnostics go to stderr as `file:line:col: error: ...`.
fn compile(args: CompileArgs) -> Result<()> {
    let checked = flashmesh_p4::p4info_file(&args.program)
        .and_then(|p4info| flashmesh_p4::compile_file(&args.program).map(|_| p4info));
    let p4info = match checked {
        Ok(p) => p,
        Err(diags) => {
            eprintln!("{diags}");
            std::process::exit(1);
        }
    };
    if let Some(out) = &args.p4info {
        std::fs::write(out, flashmesh_p4::p4info_text(&p4info))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn init_logging(args: &RunArgs) -> Result<()> {
    let level = match args.log_level.as_deref() {
        None if args.log_console || args.log_file.is_some() => LevelFilter::INFO,
        None => LevelFilter::WARN,
        Some("trace") => LevelFilter::TRACE,
        Some("debug") => LevelFilter::DEBUG,
        Some("info") => LevelFilter::INFO,
        Some("warn" | "warning") => LevelFilter::WARN,
        Some("error" | "critical") => LevelFilter::ERROR,
        Some("off") => LevelFilter::OFF,
        Some(other) => bail!("unknown log level {other:?} (trace, debug, info, warn, error, off)"),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    match &args.log_file {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            builder.with_ansi(false).with_writer(Arc::new(file)).init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

/// The P4 source for a program argument: the file itself, or for a BMv2 JSON the source it
/// names (`"program"`), looked up beside the JSON, one directory up, then in the current one.
fn program_source(path: &Path) -> Result<PathBuf> {
    if path.extension().is_none_or(|e| e != "json") {
        return Ok(path.to_path_buf());
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let named = json
        .get("program")
        .and_then(|p| p.as_str())
        .map(PathBuf::from);
    let stem = path.with_extension("p4");
    let name = named.unwrap_or_else(|| stem.file_name().map(PathBuf::from).unwrap_or_default());
    let dir = path.parent().unwrap_or(Path::new("."));
    let candidates = [
        dir.join(&name),
        dir.join("..").join(&name),
        PathBuf::from(&name),
        stem,
    ];
    for c in &candidates {
        if c.is_file() {
            tracing::info!(json = %path.display(), source = %c.display(), "running the P4 source of a BMv2 JSON");
            return Ok(c.clone());
        }
    }
    bail!(
        "{} is a BMv2 JSON; flash-switch runs P4_16 source and could not find {} beside it (pass the .p4 file)",
        path.display(),
        name.display()
    )
}

/// Compiles the program; returns it with its source text (served by
/// GetForwardingPipelineConfig).
fn load_program(path: &Path) -> Result<(Arc<Program>, String)> {
    let source = program_source(path)?;
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("reading {}", source.display()))?;
    let program = flashmesh_p4::compile_file(&source)
        .map_err(|d| anyhow::anyhow!("{}:\n{d}", source.display()))?;
    Ok((program, text))
}

fn run(args: RunArgs) -> Result<()> {
    init_logging(&args)?;
    for ignored in args.ignored_options() {
        tracing::info!("option {ignored} accepted for compatibility and ignored");
    }
    if args.target.drop_port.is_some_and(|p| p != 511) {
        bail!("--drop-port: only 511 (the v1model drop port) is supported");
    }
    let (program, source) = match (&args.program, args.no_p4) {
        (Some(_), true) => bail!("give either a program or --no-p4, not both"),
        (Some(p), false) => {
            let (program, text) = load_program(p)?;
            (Some(program), Some(text))
        }
        (None, _) => (None, None),
    };
    let mut commands = Vec::new();
    let mut seed = args.seed;
    if let Some(path) = &args.link_config {
        let cfg = LinkConfig::load(path)?;
        seed = seed.or(cfg.seed);
        commands.extend(cfg.commands()?);
    }
    for l in &args.links {
        commands.push(parse_link_option(l).with_context(|| format!("--link {l}"))?);
    }
    let config = DeviceConfig {
        device_id: args.device_id,
        cpu_port: args.target.cpu_port.unwrap_or(255),
        priority_queues: args.target.priority_queues.unwrap_or(1),
        datapath: DatapathConfig {
            batch: args.batch,
            seed: seed.unwrap_or(0x5eed),
            threads: usize::from(args.datapath_threads),
            ..DatapathConfig::default()
        },
    };
    let ports: Vec<(u32, PortBinding)> = args
        .interfaces
        .iter()
        .map(|(n, iface)| (*n, PortBinding::Interface(iface.clone())))
        .collect();
    let device = Device::start(config, program, ports).context("starting the datapath")?;
    for cmd in &commands {
        let reply = device.control(cmd);
        tracing::info!(?cmd, reply, "applied");
    }
    tracing::info!(
        device_id = args.device_id,
        ports = ?args.interfaces,
        datapath_threads = device.datapath().groups.len(),
        grpc = args.grpc_addr(),
        "flash-switch running"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(&args, device.clone(), source));
    device.shutdown();
    tracing::info!("flash-switch stopped");
    result
}

async fn serve(args: &RunArgs, device: Arc<Device>, source: Option<String>) -> Result<()> {
    if let Some(addr) = &args.control_addr {
        let (local, fut) = control_server::bind(&ControlAddr::parse(addr), device.clone())
            .await
            .with_context(|| format!("control socket {addr}"))?;
        tracing::info!(addr, ?local, "control commands served");
        tokio::spawn(fut);
    }
    let grpc = flash_switch::grpc::start(device.clone(), args.grpc_addr(), source).await?;
    wait_for_signal().await?;
    tracing::info!("shutting down");
    match tokio::time::timeout(std::time::Duration::from_secs(3), grpc.shutdown()).await {
        Ok(Err(e)) => tracing::warn!(error = %e, "P4Runtime server stopped with an error"),
        Err(_) => tracing::warn!("P4Runtime server did not stop within 3 s"),
        Ok(Ok(())) => {}
    }
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
