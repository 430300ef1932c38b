//! `flash-switch bench`: forwarding rate between veth pairs in network namespaces, with one
//! and two datapath threads, next to a bare AF_PACKET forwarder on the same ports measured in
//! the same run with one and two threads.
//!
//! The rig ([`rig`]) has two flows, each from a generator through a port pair of the switch
//! (ports 1 -> 2 and 3 -> 4) to a sink. The switch runs the example router pipeline (parser,
//! LPM route, class table, counter, TTL decrement, checksum update, deparser) and the traffic
//! manager. Runs, each a second of warm-up and then the measured window:
//!
//! * one flow: bare loop with one thread; the switch with one thread, then with two (ports 1
//!   and 2 in different groups: one thread receives and runs ingress, the other egress and
//!   transmit);
//! * two flows: bare loop with one thread for both pairs; the switch with one thread, then two
//!   (one port pair each); bare loop with two threads (one pair each).
//!
//! The figure is the rate at which the egress ports transmit inside the window; the sinks'
//! kernel counters over the whole run are the check. Each switch figure is also given as a
//! ratio to the bare loop with the same flows and threads (for one flow, the one-thread loop:
//! one flow has nothing to split between loop threads). `--pipeline-only` also measures the
//! engine alone.

pub mod rig;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use flashmesh_p4::exec::Switch;
use flashmesh_p4::ir::Program;
use flashmesh_p4::testkit::{ShellEntry, shell_entry};
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::datapath::DatapathConfig;
use crate::frames::{UdpFlow, udp_frame};
use crate::netns::is_root;
use rig::{BareRun, DST_MAC, Rig, SwitchRun, measure_bare, measure_switch};

/// The example router program (`switch/examples/router.p4`).
pub const ROUTER_P4: &str = include_str!("../examples/router.p4");

/// Compiles the example router.
pub fn router_program() -> Result<Arc<Program>> {
    flashmesh_p4::compile_str("router.p4", ROUTER_P4)
        .map_err(|d| anyhow::anyhow!("router.p4:\n{d}"))
}

/// Installs a route `prefix` (e.g. `10.0.2.0/24`) to `port`, rewriting the destination MAC.
pub fn install_route(sw: &mut Switch, prefix: &str, port: u32, dst_mac: [u8; 6]) -> Result<()> {
    let mac = format!(
        "0x{}",
        dst_mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let e = ShellEntry::new(
        "RouterIngress.ipv4_lpm",
        &[("hdr.ipv4.dst_addr", prefix)],
        "RouterIngress.forward",
        &[("port", &port.to_string()), ("dst_mac", &mac)],
    );
    let entry = shell_entry(sw.program(), &e).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    sw.insert_entry(&entry)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Puts UDP destination port `udp_port` into priority class `class`.
pub fn install_class(sw: &mut Switch, udp_port: u16, class: u8) -> Result<()> {
    let e = ShellEntry::new(
        "RouterIngress.classify",
        &[("hdr.udp.dst_port", &udp_port.to_string())],
        "RouterIngress.set_class",
        &[("class", &class.to_string())],
    );
    let entry = shell_entry(sw.program(), &e).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    sw.insert_entry(&entry)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn load(args: &BenchArgs) -> Result<Arc<Program>> {
    match &args.program {
        Some(p) => {
            flashmesh_p4::compile_file(p).map_err(|d| anyhow::anyhow!("{}:\n{d}", p.display()))
        }
        None => router_program(),
    }
}

fn bench_flow() -> UdpFlow {
    UdpFlow {
        src_mac: [0x02, 0, 0, 0, 1, 1],
        dst_mac: [0x02, 0, 0, 0, 1, 0xfe],
        src_ip: Ipv4Addr::new(10, 200, 1, 1),
        dst_ip: Ipv4Addr::new(10, 200, 2, 2),
        src_port: 40000,
        dst_port: 5001,
    }
}

/// Measures the pipeline alone: ingress + egress per second on one core.
fn pipeline_only(program: Arc<Program>, payload: usize, seconds: f64) -> Result<f64> {
    let mut sw = Switch::new(program, Default::default());
    install_route(&mut sw, "10.200.2.0/24", 2, DST_MAC)?;
    let frame = udp_frame(&bench_flow(), &vec![0u8; payload]);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..1000 {
            let r = sw.process(1, &frame);
            if r.outputs.len() != 1 {
                bail!("the pipeline did not forward the benchmark frame: {r:?}");
            }
        }
        n += 1000;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Packets per second through the pipeline alone (no ports, one core).
pub fn pipeline_pps(args: &BenchArgs) -> Result<f64> {
    let program = load(args)?;
    pipeline_only(program, args.payload, args.seconds.min(3.0))
}

/// One line of the scaling table.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingRow {
    /// Flows.
    pub flows: usize,
    /// Datapath threads of the switch.
    pub threads: usize,
    /// The switch forwarded, packets/s.
    pub switch_pps: f64,
    /// Threads of the bare loop it is compared with.
    pub bare_threads: usize,
    /// The bare loop forwarded, packets/s, same flows, same run.
    pub bare_pps: f64,
    /// switch / bare.
    pub ratio: f64,
}

/// What the forwarding benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardReport {
    /// Frame length on the wire, bytes.
    pub frame_len: usize,
    /// UDP payload, bytes.
    pub payload: usize,
    /// The program's path (the built-in router when `None`).
    pub program: Option<std::path::PathBuf>,
    /// Measured window of each run, s (after a second of warm-up).
    pub seconds: f64,
    /// The pipeline alone, packets/s on one core (with `--pipeline-only`).
    pub pipeline_pps: Option<f64>,
    /// One flow, one datapath thread: forwarded packets/s.
    pub forwarded_pps: f64,
    /// One flow, the bare loop with one thread, packets/s.
    pub bare_forwarder_pps: f64,
    /// Every (flows, threads) figure next to its bare loop.
    pub rows: Vec<ScalingRow>,
    /// The switch runs in detail.
    pub switch_runs: Vec<SwitchRun>,
    /// The bare-loop runs.
    pub bare_runs: Vec<BareRun>,
}

impl ForwardReport {
    /// The row for `flows` flows and `threads` datapath threads.
    pub fn row(&self, flows: usize, threads: usize) -> Option<&ScalingRow> {
        self.rows
            .iter()
            .find(|r| r.flows == flows && r.threads == threads)
    }

    /// The bare loop's figure for `flows` flows and `threads` threads.
    pub fn bare(&self, flows: usize, threads: usize) -> Option<f64> {
        self.bare_runs
            .iter()
            .find(|r| r.flows == flows && r.threads == threads)
            .map(|r| r.forwarded_pps)
    }
}

/// Builds the rig and runs every measurement (root).
pub fn forward(args: &BenchArgs) -> Result<ForwardReport> {
    let program = load(args)?;
    if !is_root() {
        bail!("the forwarding benchmark needs root (network namespaces and AF_PACKET)");
    }
    let seconds = args.seconds.clamp(0.5, 60.0);
    let rig = Rig::create(args.payload)?;
    let datapath = DatapathConfig {
        batch: args.batch,
        ..Default::default()
    };
    let sw = |flows, threads| measure_switch(&rig, &program, flows, threads, &datapath, seconds);
    let bare = |flows, threads| measure_bare(&rig, flows, threads, seconds);
    // Interleaved, so that a change in the machine's load moves both sides of a ratio.
    let bare_runs_1 = bare(1, 1)?;
    let switch_runs = vec![sw(1, 1)?, sw(1, 2)?];
    let bare_runs_2 = bare(2, 1)?;
    let mut switch_runs_2 = vec![sw(2, 1)?, sw(2, 2)?];
    let bare_runs = vec![bare_runs_1, bare_runs_2, bare(2, 2)?];
    let switch_runs: Vec<SwitchRun> = switch_runs
        .into_iter()
        .chain(switch_runs_2.drain(..))
        .collect();
    let bare_of = |flows: usize, threads: usize| {
        bare_runs
            .iter()
            .find(|b| b.flows == flows && b.threads == threads.min(flows))
            .map_or((0, 0.0), |b| (b.threads, b.forwarded_pps))
    };
    let rows: Vec<ScalingRow> = switch_runs
        .iter()
        .map(|r| {
            let (bare_threads, bare_pps) = bare_of(r.flows, r.threads);
            ScalingRow {
                flows: r.flows,
                threads: r.threads,
                switch_pps: r.forwarded_pps,
                bare_threads,
                bare_pps,
                ratio: r.forwarded_pps / bare_pps.max(1.0),
            }
        })
        .collect();
    let frame_len = rig.flows[0].frame.len();
    drop(rig);
    Ok(ForwardReport {
        frame_len,
        payload: args.payload,
        program: args.program.clone(),
        seconds,
        pipeline_pps: None,
        forwarded_pps: switch_runs[0].forwarded_pps,
        bare_forwarder_pps: bare_of(1, 1).1,
        rows,
        switch_runs,
        bare_runs,
    })
}

fn mpps(pps: f64) -> String {
    format!("{:.3}", pps / 1e6)
}

/// Prints the report as a table.
fn print(r: &ForwardReport) {
    println!(
        "frame: {} bytes (UDP payload {}), pipeline: {}; each run: 1 s warm-up, then {:.1} s measured",
        r.frame_len,
        r.payload,
        r.program
            .as_ref()
            .map_or("examples/router.p4".to_string(), |p| p
                .display()
                .to_string()),
        r.seconds
    );
    if let Some(pps) = r.pipeline_pps {
        println!(
            "pipeline alone: {:.0} packets/s ({:.0} ns per packet, ingress+egress, one core)",
            pps,
            1e9 / pps
        );
    }
    println!();
    println!(
        "| flows | datapath threads | flash-switch Mpps | bare AF_PACKET loop Mpps (threads) | ratio |"
    );
    println!("|---|---|---|---|---|");
    for row in &r.rows {
        println!(
            "| {} | {} | {} | {} ({}) | {:.2} |",
            row.flows,
            row.threads,
            mpps(row.switch_pps),
            mpps(row.bare_pps),
            row.bare_threads,
            row.ratio
        );
    }
    if let (Some(one), Some(two)) = (r.row(2, 1), r.row(2, 2)) {
        let (b1, b2) = (r.bare(2, 1).unwrap_or(0.0), r.bare(2, 2).unwrap_or(0.0));
        println!(
            "\ntwo flows: 2 datapath threads forward {:.2}x what 1 thread does; the bare loop with 2 threads {:.2}x its 1-thread figure",
            two.switch_pps / one.switch_pps.max(1.0),
            b2 / b1.max(1.0)
        );
    }
    println!();
    println!(
        "| flows | threads | offered Mpps | received Mpps | datapath CPU (cores) | packets per CPU-s | packets per round | sleeps/s | pipeline waits/s | machine busy | delivered = transmitted |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for s in &r.switch_runs {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} % | {} = {} |",
            s.flows,
            s.threads,
            mpps(s.offered_pps),
            mpps(s.received_pps),
            s.cpu_s / s.elapsed_s.max(1e-9),
            s.pps_per_cpu_s,
            s.packets_per_round,
            s.sleeps_per_s,
            s.pipeline_waits_per_s,
            100.0 * s.machine_busy,
            s.delivered,
            s.transmitted
        );
    }
    for b in &r.bare_runs {
        println!(
            "bare loop, {} flow(s), {} thread(s): {} Mpps, machine {:.0} % busy",
            b.flows,
            b.threads,
            mpps(b.forwarded_pps),
            100.0 * b.machine_busy
        );
    }
}

/// Runs the benchmark and prints the figures (a table, or JSON with `--json`).
pub fn run(args: BenchArgs) -> Result<()> {
    let pipeline = if args.pipeline_only {
        Some(pipeline_pps(&args)?)
    } else {
        None
    };
    let mut r = forward(&args)?;
    r.pipeline_pps = pipeline;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print(&r);
    }
    Ok(())
}
