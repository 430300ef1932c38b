//! `flash-switch bench`: forwarding rate between two veth pairs in network namespaces.
//!
//! Layout (all created here and removed at the end):
//!
//! ```text
//!   namespace A            root namespace (flash-switch)          namespace B
//!   fbNa1 (generator) <-> fbNa0 = port 1 ==router.p4==> port 2 = fbNb0 <-> fbNb1 (counted)
//! ```
//!
//! A generator thread inside namespace A writes UDP frames to fbNa1 as fast as it can with
//! `sendmmsg` (64 frames per call). The switch receives them on port 1 with `recvmmsg`, runs
//! the example router pipeline (parser, LPM route, class table, counter, TTL decrement,
//! checksum update, deparser) and the traffic manager, and sends them on port 2 with
//! `sendmmsg`. The figure is the rate at which frames arrive on fbNb1 (its kernel counter),
//! measured over a window after a warm-up. `--pipeline-only` also measures the engine alone.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flashmesh_p4::exec::Switch;
use flashmesh_p4::ir::Program;
use flashmesh_p4::testkit::{ShellEntry, shell_entry};

use crate::cli::BenchArgs;
use crate::datapath::DatapathConfig;
use crate::device::{Device, DeviceConfig};
use crate::frames::{UdpFlow, udp_frame};
use crate::netns::{Netns, Veth, is_root};
use crate::port::PortBinding;
use crate::port::afpacket::AfPacketSocket;

/// The example router program (`switch/examples/router.p4`).
pub const ROUTER_P4: &str = include_str!("../examples/router.p4");

/// Compiles the example router.
pub fn router_program() -> Result<Arc<Program>> {
    flashmesh_p4::compile_str("router.p4", ROUTER_P4)
        .map_err(|d| anyhow::anyhow!("router.p4:\n{d}"))
}

fn shell(
    table: &str,
    key: &str,
    value: &str,
    action: &str,
    params: &[(&str, String)],
) -> ShellEntry {
    ShellEntry {
        table: table.into(),
        r#match: [(key.to_string(), value.to_string())].into_iter().collect(),
        action: action.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        priority: None,
        default: false,
    }
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
    let e = shell(
        "RouterIngress.ipv4_lpm",
        "hdr.ipv4.dst_addr",
        prefix,
        "RouterIngress.forward",
        &[("port", port.to_string()), ("dst_mac", mac)],
    );
    let entry = shell_entry(sw.program(), &e).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    sw.insert_entry(&entry)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Puts UDP destination port `udp_port` into priority class `class`.
pub fn install_class(sw: &mut Switch, udp_port: u16, class: u8) -> Result<()> {
    let e = shell(
        "RouterIngress.classify",
        "hdr.udp.dst_port",
        &udp_port.to_string(),
        "RouterIngress.set_class",
        &[("class", class.to_string())],
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

const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x02, 0x02];

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

/// CPU time a thread of this process has used, from `/proc/self/task/TID/schedstat` (ns).
fn thread_cpu_ns(tid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// What the forwarding benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForwardReport {
    /// Frame length on the wire, bytes.
    pub frame_len: usize,
    /// UDP payload, bytes.
    pub payload: usize,
    /// The program's path (the built-in router when `None`).
    pub program: Option<std::path::PathBuf>,
    /// Offered by the generator, packets/s.
    pub offered_pps: f64,
    /// Received by the switch, packets/s.
    pub received_pps: f64,
    /// Forwarded (port 2 transmit), packets/s: the figure.
    pub forwarded_pps: f64,
    /// Frames that arrived at the far end over the whole run.
    pub delivered: u64,
    /// Frames port 2 transmitted over the whole run.
    pub transmitted: u64,
    /// Datapath rounds per second.
    pub rounds_per_s: f64,
    /// Packets per datapath round.
    pub packets_per_round: f64,
    /// Datapath sleeps per second.
    pub sleeps_per_s: f64,
    /// Datapath CPU time in the window, s.
    pub cpu_s: f64,
    /// The window, s.
    pub elapsed_s: f64,
    /// Packets forwarded per datapath CPU-second.
    pub pps_per_cpu_s: f64,
    /// System calls per packet.
    pub syscalls_per_packet: f64,
    /// The same ports forwarded by a bare AF_PACKET loop (no pipeline, no queues), same run,
    /// packets/s: how far the kernel lets one thread go.
    pub bare_forwarder_pps: f64,
}

/// Sends `frame` from `iface` in namespace `ns` as fast as the kernel takes it, counting into
/// `sent`, until `stop` (or two minutes).
fn generate(
    ns: &str,
    iface: &str,
    frame: &[u8],
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> std::thread::JoinHandle<Result<()>> {
    let (ns, iface, frame) = (ns.to_string(), iface.to_string(), frame.to_vec());
    std::thread::spawn(move || -> Result<()> {
        let f = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
        // SAFETY: setns on a valid namespace descriptor affects only this thread.
        if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) } != 0 {
            bail!("setns: {}", std::io::Error::last_os_error());
        }
        let mut sock = AfPacketSocket::open(&iface)?;
        let batch: Vec<&[u8]> = (0..64).map(|_| frame.as_slice()).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let n = sock.send_batch(&batch)?;
            sent.fetch_add(n as u64, Ordering::Relaxed);
            if n == 0 {
                std::thread::yield_now();
            }
        }
        Ok(())
    })
}

/// Packets/s a bare loop forwards from `ports.0` to `ports.1` (AF_PACKET, the same rings as the
/// switch, a copy per frame, no pipeline), while the generator floods from `source` for
/// `seconds` after a second of warm-up.
fn bare_forwarder(
    source: (&str, &str),
    ports: (&str, &str),
    frame: &[u8],
    seconds: f64,
) -> Result<f64> {
    let mut rx = AfPacketSocket::open(ports.0)?;
    let mut tx = AfPacketSocket::open(ports.1)?;
    let stop = Arc::new(AtomicBool::new(false));
    let generator = generate(
        source.0,
        source.1,
        frame,
        stop.clone(),
        Arc::new(AtomicU64::new(0)),
    );
    let mut pool: Vec<Vec<u8>> = (0..64).map(|_| Vec::with_capacity(2048)).collect();
    let (warm, end) = (
        Instant::now() + Duration::from_secs(1),
        Instant::now() + Duration::from_secs_f64(1.0 + seconds),
    );
    let (mut forwarded, mut counting) = (0u64, false);
    let mut t0 = Instant::now();
    while Instant::now() < end {
        if !counting && Instant::now() >= warm {
            (counting, forwarded, t0) = (true, 0, Instant::now());
        }
        let mut n = 0;
        rx.recv_with(64, |f| {
            pool[n].clear();
            pool[n].extend_from_slice(f);
            n += 1;
        })?;
        if n == 0 {
            std::thread::yield_now();
            continue;
        }
        forwarded += tx.send_batch(&pool[..n])? as u64;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))?
        .context("generator")?;
    Ok(forwarded as f64 / elapsed.max(1e-9))
}

/// Packets per second through the pipeline alone (no ports, one core).
pub fn pipeline_pps(args: &BenchArgs) -> Result<f64> {
    let program = load(args)?;
    pipeline_only(program, args.payload, args.seconds.min(3.0))
}

/// Runs the benchmark and prints the figures.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.pipeline_only {
        let pps = pipeline_pps(&args)?;
        println!(
            "pipeline only: {:.0} packets/s ({:.0} ns per packet, ingress+egress, one core)",
            pps,
            1e9 / pps
        );
    }
    let r = forward(&args)?;
    println!(
        "frame: {} bytes (UDP payload {}), pipeline: {}",
        r.frame_len,
        r.payload,
        r.program
            .as_ref()
            .map_or("examples/router.p4".to_string(), |p| p
                .display()
                .to_string())
    );
    println!("offered by generator : {:>12.0} packets/s", r.offered_pps);
    println!("received by switch   : {:>12.0} packets/s", r.received_pps);
    println!(
        "forwarded (port 2 tx): {:>12.0} packets/s  <== figure",
        r.forwarded_pps
    );
    println!(
        "check                : {} frames arrived at the far end, {} transmitted on port 2 in the whole run",
        r.delivered, r.transmitted
    );
    println!(
        "datapath rounds      : {:>12.0} /s, {:.1} packets per round, {:.0} sleeps/s",
        r.rounds_per_s, r.packets_per_round, r.sleeps_per_s
    );
    println!(
        "datapath CPU time    : {:.2} s of {:.2} s wall ({:.0} % of one core); {:.0} packets per CPU-second",
        r.cpu_s,
        r.elapsed_s,
        100.0 * r.cpu_s / r.elapsed_s,
        r.pps_per_cpu_s
    );
    println!(
        "syscalls per packet  : about {:.3} (receive: none, PACKET_MMAP ring; transmit: PACKET_MMAP ring, one send per round; one ppoll per sleep)",
        r.syscalls_per_packet
    );
    println!(
        "bare AF_PACKET loop  : {:>12.0} packets/s on the same ports (no pipeline); the switch forwards {:.2} of it",
        r.bare_forwarder_pps,
        r.forwarded_pps / r.bare_forwarder_pps.max(1.0)
    );
    Ok(())
}

/// Forwards between two veth pairs in namespaces (root) and measures.
pub fn forward(args: &BenchArgs) -> Result<ForwardReport> {
    let program = load(args)?;
    if !is_root() {
        bail!("the forwarding benchmark needs root (network namespaces and AF_PACKET)");
    }
    let id = std::process::id() % 100_000;
    let ns_a = Netns::create(&format!("fsb{id}a"))?;
    let ns_b = Netns::create(&format!("fsb{id}b"))?;
    let (a0, a1) = (format!("fb{id}a0"), format!("fb{id}a1"));
    let (b0, b1) = (format!("fb{id}b0"), format!("fb{id}b1"));
    let va = Veth::create(&a0, &a1, &ns_a, None)?;
    let vb = Veth::create(&b0, &b1, &ns_b, None)?;
    let config = DeviceConfig {
        priority_queues: 8,
        datapath: DatapathConfig {
            batch: args.batch,
            ..Default::default()
        },
        ..Default::default()
    };
    let device = Device::start(
        config,
        Some(program),
        vec![
            (1, PortBinding::Interface(va.host().into())),
            (2, PortBinding::Interface(vb.host().into())),
        ],
    )
    .context("starting the switch")?;
    device.with_switch(|sw| {
        install_route(sw.expect("program loaded"), "10.200.2.0/24", 2, DST_MAC)
    })?;
    // A deep queue so the traffic manager never limits the figure.
    device.control(&crate::control::Command::SetQueueDepth {
        depth: 4096,
        port: None,
        priority: None,
    });

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let frame = udp_frame(&bench_flow(), &vec![0u8; args.payload]);
    let generator = generate(ns_a.name(), &a1, &frame, stop.clone(), sent.clone());
    // In-process counters only inside the window: a helper process could be starved when the
    // benchmark runs at real-time priority. The kernel's counters are checked at the end.
    let counters = |dev: &Device| -> Result<(u64, u64)> {
        Ok((dev.port_counters(2).tx, dev.port_counters(1).rx))
    };
    std::thread::sleep(Duration::from_secs(1));
    let dp = device.datapath().clone();
    let (d0, rx0) = counters(&device)?;
    let sent0 = sent.load(Ordering::Relaxed);
    let (busy0, sleeps0) = (
        dp.counters.busy_rounds.load(Ordering::Relaxed),
        dp.counters.sleeps.load(Ordering::Relaxed),
    );
    let tid = dp.thread_ids()[0];
    let cpu0 = thread_cpu_ns(tid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.seconds.clamp(0.5, 60.0)));
    let (d1, rx1) = counters(&device)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns(tid).saturating_sub(cpu0)) as f64 / 1e9;
    let sent1 = sent.load(Ordering::Relaxed);
    let (busy1, sleeps1) = (
        dp.counters.busy_rounds.load(Ordering::Relaxed),
        dp.counters.sleeps.load(Ordering::Relaxed),
    );
    stop.store(true, Ordering::Relaxed);
    let gen_result = generator
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))?;
    gen_result.context("generator")?;
    std::thread::sleep(Duration::from_millis(200));
    device.shutdown();
    let transmitted = device.port_counters(2).tx;
    let delivered = ns_b.counter(&b1, "rx_packets")?;
    drop(device);
    let bare_pps = bare_forwarder(
        (ns_a.name(), &a1),
        (va.host(), vb.host()),
        &frame,
        args.seconds.clamp(0.5, 60.0),
    )?;

    let forwarded = (d1 - d0) as f64 / elapsed;
    let offered = (sent1 - sent0) as f64 / elapsed;
    let received = (rx1 - rx0) as f64 / elapsed;
    let rounds = (busy1 - busy0).max(1) as f64;
    let (packets, sleeps) = ((rx1 - rx0).max(1) as f64, (sleeps1 - sleeps0) as f64);
    let report = ForwardReport {
        frame_len: frame.len(),
        payload: args.payload,
        program: args.program.clone(),
        offered_pps: offered,
        received_pps: received,
        forwarded_pps: forwarded,
        delivered,
        transmitted,
        rounds_per_s: rounds / elapsed,
        packets_per_round: (rx1 - rx0) as f64 / rounds,
        sleeps_per_s: sleeps / elapsed,
        cpu_s: cpu,
        elapsed_s: elapsed,
        pps_per_cpu_s: (d1 - d0) as f64 / cpu.max(1e-9),
        syscalls_per_packet: (rounds + sleeps) / packets,
        bare_forwarder_pps: bare_pps,
    };
    drop((va, vb, ns_a, ns_b));
    Ok(report)
}
