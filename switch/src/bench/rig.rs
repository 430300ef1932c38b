//! The forwarding benchmark's rig: network namespaces and veth pairs for up to two flows,
//! traffic generators, the bare AF_PACKET forwarder, and one measured run of the switch.
//!
//! ```text
//!   namespace G (generators)     root namespace (switch or bare loop)      namespace S (sinks)
//!   fbNa1 <-> fbNa0 = port 1 ==> port 2 = fbNb0 <-> fbNb1        flow 0: 10.200.1.1 -> 10.200.2.2
//!   fbNc1 <-> fbNc0 = port 3 ==> port 4 = fbNd0 <-> fbNd1        flow 1: 10.200.3.1 -> 10.200.4.2
//! ```
//!
//! A generator thread per flow, inside namespace G, writes UDP frames to its interface as fast
//! as the kernel takes them (64 frames per `send`). Forwarded frames are counted in the
//! switch's own port counters inside the window, and the sinks' kernel counters are read over
//! the whole run as a check.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flashmesh_p4::ir::Program;
use serde::Serialize;

use super::install_route;
use crate::control::Command;
use crate::datapath::DatapathConfig;
use crate::device::{Device, DeviceConfig};
use crate::frames::{UdpFlow, udp_frame};
use crate::netns::{Netns, Veth};
use crate::port::PortBinding;
use crate::port::afpacket::AfPacketSocket;

/// Destination MAC the router writes.
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x02, 0x02];

/// Flows the rig carries at most.
pub const MAX_FLOWS: usize = 2;

/// One flow: generator interface -> switch port `in_port` -> `out_port` -> sink interface.
pub struct Flow {
    /// The switch's ingress interface (root namespace) and port number.
    pub in_host: String,
    /// Ingress port number.
    pub in_port: u32,
    /// The switch's egress interface (root namespace).
    pub out_host: String,
    /// Egress port number.
    pub out_port: u32,
    gen_iface: String,
    sink_iface: String,
    /// The route the switch needs (`10.200.2.0/24`).
    pub prefix: String,
    /// The frame the generator sends.
    pub frame: Vec<u8>,
}

/// The namespaces, veth pairs and flows; everything is removed on drop.
pub struct Rig {
    /// The flows (up to [`MAX_FLOWS`]).
    pub flows: Vec<Flow>,
    _veths: Vec<Veth>,
    sources: Netns,
    sink: Netns,
}

impl Rig {
    /// Builds the rig for [`MAX_FLOWS`] flows with frames of `payload` UDP bytes.
    pub fn create(payload: usize) -> Result<Self> {
        sweep_stale();
        let id = std::process::id();
        let sources = Netns::create(&format!("fsb{id}g"))?;
        let sink = Netns::create(&format!("fsb{id}s"))?;
        let mut veths = Vec::new();
        let mut flows = Vec::new();
        for k in 0..MAX_FLOWS {
            let (i, o) = ([b'a', b'c'][k] as char, [b'b', b'd'][k] as char);
            let (in_host, gen_iface) = (format!("fb{id}{i}0"), format!("fb{id}{i}1"));
            let (out_host, sink_iface) = (format!("fb{id}{o}0"), format!("fb{id}{o}1"));
            veths.push(Veth::create(&in_host, &gen_iface, &sources, None)?);
            veths.push(Veth::create(&out_host, &sink_iface, &sink, None)?);
            let net = 2 * k as u8 + 1;
            let flow = UdpFlow {
                src_mac: [0x02, 0, 0, 0, net, 1],
                dst_mac: [0x02, 0, 0, 0, net, 0xfe],
                src_ip: Ipv4Addr::new(10, 200, net, 1),
                dst_ip: Ipv4Addr::new(10, 200, net + 1, 2),
                src_port: 40000 + k as u16,
                dst_port: 5001,
            };
            flows.push(Flow {
                in_host,
                in_port: u32::from(net),
                out_host,
                out_port: u32::from(net) + 1,
                gen_iface,
                sink_iface,
                prefix: format!("10.200.{}.0/24", net + 1),
                frame: udp_frame(&flow, &vec![0u8; payload]),
            });
        }
        Ok(Self {
            flows,
            _veths: veths,
            sources,
            sink,
        })
    }

    /// Frames the sinks of the first `flows` flows have received so far (kernel counters).
    fn delivered(&self, flows: usize) -> Result<u64> {
        let mut n = 0;
        for f in &self.flows[..flows] {
            n += self.sink.counter(&f.sink_iface, "rx_packets")?;
        }
        Ok(n)
    }

    /// Starts a generator on each of the first `flows` flows.
    fn generators(&self, flows: usize) -> Result<Generators> {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let threads = self.flows[..flows]
            .iter()
            .map(|f| generate(self.sources.name(), &f.gen_iface, &f.frame, &stop, &sent))
            .collect::<Result<Vec<_>>>();
        // Generators already started stop when `stop` is set.
        let threads = threads.inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
        Ok(Generators {
            stop,
            sent,
            threads,
        })
    }
}

/// Deletes the namespaces of rigs whose process is gone (a benchmark killed before it could
/// clean up); deleting a namespace removes its veth pairs with it.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for name in dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        let Some(pid) = name
            .strip_prefix("fsb")
            .and_then(|r| r.strip_suffix(['g', 's']))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.windows(5).any(|w| w == b"flash"));
        if !alive {
            tracing::info!(namespace = name, "removing a stale benchmark namespace");
            let _ = crate::netns::ip(&["netns", "del", &name]);
        }
    }
}

/// Running generators.
struct Generators {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<JoinHandle<Result<()>>>,
}

impl Generators {
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn finish(self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join()
                .map_err(|_| anyhow::anyhow!("generator panicked"))?
                .context("generator")?;
        }
        Ok(())
    }
}

/// Sends `frame` from `iface` in namespace `ns` as fast as the kernel takes it, counting into
/// `sent`, until `stop` (or two minutes).
fn generate(
    ns: &str,
    iface: &str,
    frame: &[u8],
    stop: &Arc<AtomicBool>,
    sent: &Arc<AtomicU64>,
) -> Result<JoinHandle<Result<()>>> {
    let (ns, iface, frame) = (ns.to_string(), iface.to_string(), frame.to_vec());
    let (stop, sent) = (stop.clone(), sent.clone());
    let named = std::thread::Builder::new().name("bench-gen".into());
    let body = move || -> Result<()> {
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
    };
    Ok(named.spawn(body)?)
}

/// CPU time a thread of this process has used, from `/proc/self/task/TID/schedstat` (ns).
fn thread_cpu_ns(tid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// (busy, total) jiffies of the whole machine, from `/proc/stat` (idle and iowait are not busy).
fn machine_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

fn busy_share(a: (u64, u64), b: (u64, u64)) -> f64 {
    (b.0 - a.0) as f64 / (b.1 - a.1).max(1) as f64
}

/// What one run of the switch measured.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchRun {
    /// Flows (generator pairs and port pairs).
    pub flows: usize,
    /// Datapath threads.
    pub threads: usize,
    /// Offered by the generators, packets/s.
    pub offered_pps: f64,
    /// Received by the switch, packets/s.
    pub received_pps: f64,
    /// Forwarded (egress ports' transmit), packets/s: the figure.
    pub forwarded_pps: f64,
    /// Frames that arrived at the sinks over the whole run (kernel counters).
    pub delivered: u64,
    /// Frames the egress ports transmitted over the whole run.
    pub transmitted: u64,
    /// Datapath rounds per second (all threads).
    pub rounds_per_s: f64,
    /// Packets per datapath round.
    pub packets_per_round: f64,
    /// Datapath sleeps per second.
    pub sleeps_per_s: f64,
    /// Rounds per second that waited for the pipeline lock held by the other thread.
    pub pipeline_waits_per_s: f64,
    /// Datapath CPU time in the window (all threads), s.
    pub cpu_s: f64,
    /// The window, s.
    pub elapsed_s: f64,
    /// Packets forwarded per datapath CPU-second.
    pub pps_per_cpu_s: f64,
    /// System calls per packet (one `send` per busy round and port at most, one `ppoll` per
    /// sleep).
    pub syscalls_per_packet: f64,
    /// Share of the machine's CPU time that was busy in the window (every process).
    pub machine_busy: f64,
}

/// What one run of the bare forwarder measured.
#[derive(Debug, Clone, Serialize)]
pub struct BareRun {
    /// Flows.
    pub flows: usize,
    /// Forwarding threads.
    pub threads: usize,
    /// Forwarded, packets/s.
    pub forwarded_pps: f64,
    /// Share of the machine's CPU time that was busy in the window.
    pub machine_busy: f64,
}

/// Runs the switch on the first `flows` flows with `threads` datapath threads (the rest of
/// the datapath settings from `datapath`): a second of warm-up, then `seconds` measured.
pub fn measure_switch(
    rig: &Rig,
    program: &Arc<Program>,
    flows: usize,
    threads: usize,
    datapath: &DatapathConfig,
    seconds: f64,
) -> Result<SwitchRun> {
    let used = &rig.flows[..flows];
    let mut ports = Vec::new();
    for f in used {
        ports.push((f.in_port, PortBinding::Interface(f.in_host.clone())));
        ports.push((f.out_port, PortBinding::Interface(f.out_host.clone())));
    }
    let config = DeviceConfig {
        priority_queues: 8,
        datapath: DatapathConfig {
            threads,
            ..datapath.clone()
        },
        ..Default::default()
    };
    let device =
        Device::start(config, Some(program.clone()), ports).context("starting the switch")?;
    device.with_switch(|sw| -> Result<()> {
        let sw = sw.context("program loaded")?;
        for f in used {
            install_route(sw, &f.prefix, f.out_port, DST_MAC)?;
        }
        Ok(())
    })?;
    // A deep queue so the traffic manager never limits the figure.
    device.control(&Command::SetQueueDepth {
        depth: 4096,
        port: None,
        priority: None,
    });
    let delivered0 = rig.delivered(flows)?;
    let gens = rig.generators(flows)?;
    // In-process counters only inside the window: the kernel's counters are read at the end.
    let snapshot = |dev: &Device| {
        let dp = dev.datapath();
        let c = &dp.counters;
        (
            used.iter().map(|f| dev.port_counters(f.out_port).tx).sum(),
            used.iter().map(|f| dev.port_counters(f.in_port).rx).sum(),
            c.busy_rounds.load(Ordering::Relaxed),
            c.sleeps.load(Ordering::Relaxed),
            c.pipeline_waits.load(Ordering::Relaxed),
            dp.thread_ids().into_iter().map(thread_cpu_ns).sum::<u64>(),
        )
    };
    std::thread::sleep(Duration::from_secs(1));
    let (tx0, rx0, busy0, sleeps0, waits0, cpu0): (u64, u64, u64, u64, u64, u64) =
        snapshot(&device);
    let (sent0, mach0, t0) = (gens.sent(), machine_jiffies(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (tx1, rx1, busy1, sleeps1, waits1, cpu1): (u64, u64, u64, u64, u64, u64) =
        snapshot(&device);
    let (sent1, mach1, elapsed) = (gens.sent(), machine_jiffies(), t0.elapsed().as_secs_f64());
    gens.finish()?;
    std::thread::sleep(Duration::from_millis(200));
    device.shutdown();
    let transmitted = used
        .iter()
        .map(|f| device.port_counters(f.out_port).tx)
        .sum();
    drop(device);
    let delivered = rig.delivered(flows)? - delivered0;
    let (rounds, sleeps) = ((busy1 - busy0).max(1) as f64, (sleeps1 - sleeps0) as f64);
    let packets = (rx1 - rx0).max(1) as f64;
    let cpu = (cpu1 - cpu0) as f64 / 1e9;
    Ok(SwitchRun {
        flows,
        threads,
        offered_pps: (sent1 - sent0) as f64 / elapsed,
        received_pps: (rx1 - rx0) as f64 / elapsed,
        forwarded_pps: (tx1 - tx0) as f64 / elapsed,
        delivered,
        transmitted,
        rounds_per_s: rounds / elapsed,
        packets_per_round: (rx1 - rx0) as f64 / rounds,
        sleeps_per_s: sleeps / elapsed,
        pipeline_waits_per_s: (waits1 - waits0) as f64 / elapsed,
        cpu_s: cpu,
        elapsed_s: elapsed,
        pps_per_cpu_s: (tx1 - tx0) as f64 / cpu.max(1e-9),
        syscalls_per_packet: (rounds + sleeps) / packets,
        machine_busy: busy_share(mach0, mach1),
    })
}

/// A bare forwarding loop over some of the flows' port pairs: AF_PACKET with the same rings as
/// the switch, a copy per frame, no pipeline and no queues. Returns frames forwarded in the
/// window and the window's length.
fn bare_loop(
    mut pairs: Vec<(AfPacketSocket, AfPacketSocket)>,
    warm: Instant,
    end: Instant,
) -> Result<(u64, f64)> {
    let mut pool: Vec<Vec<u8>> = (0..64).map(|_| Vec::with_capacity(2048)).collect();
    let (mut forwarded, mut counting, mut t0) = (0u64, false, Instant::now());
    while Instant::now() < end {
        if !counting && Instant::now() >= warm {
            (counting, forwarded, t0) = (true, 0, Instant::now());
        }
        let mut idle = true;
        for (rx, tx) in &mut pairs {
            let mut n = 0;
            rx.recv_with(64, |f| {
                pool[n].clear();
                pool[n].extend_from_slice(f);
                n += 1;
            })?;
            if n > 0 {
                idle = false;
                forwarded += tx.send_batch(&pool[..n])? as u64;
            }
        }
        if idle {
            std::thread::yield_now();
        }
    }
    Ok((forwarded, t0.elapsed().as_secs_f64()))
}

/// Runs the bare forwarder on the first `flows` flows with `threads` threads (the port pairs
/// dealt out in turn): a second of warm-up, then `seconds` measured.
pub fn measure_bare(rig: &Rig, flows: usize, threads: usize, seconds: f64) -> Result<BareRun> {
    let threads = threads.clamp(1, flows);
    let mut shares: Vec<Vec<(AfPacketSocket, AfPacketSocket)>> =
        (0..threads).map(|_| Vec::new()).collect();
    for (k, f) in rig.flows[..flows].iter().enumerate() {
        let pair = (
            AfPacketSocket::open(&f.in_host)?,
            AfPacketSocket::open(&f.out_host)?,
        );
        shares[k % threads].push(pair);
    }
    let gens = rig.generators(flows)?;
    let warm = Instant::now() + Duration::from_secs(1);
    let end = warm + Duration::from_secs_f64(seconds);
    let mach = std::thread::spawn(move || {
        std::thread::sleep(warm.saturating_duration_since(Instant::now()));
        let a = machine_jiffies();
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        busy_share(a, machine_jiffies())
    });
    let workers: std::io::Result<Vec<_>> = shares
        .into_iter()
        .map(|pairs| {
            std::thread::Builder::new()
                .name("bench-bare".into())
                .spawn(move || bare_loop(pairs, warm, end))
        })
        .collect::<Result<_, _>>();
    let workers: Vec<_> = match workers {
        Ok(w) => w,
        Err(e) => {
            gens.finish()?;
            return Err(anyhow::Error::from(e).context("bare forwarder thread"));
        }
    };
    let mut pps = 0.0;
    for w in workers {
        let (n, elapsed) = w
            .join()
            .map_err(|_| anyhow::anyhow!("bare forwarder panicked"))??;
        pps += n as f64 / elapsed.max(1e-9);
    }
    gens.finish()?;
    Ok(BareRun {
        flows,
        threads,
        forwarded_pps: pps,
        machine_busy: mach.join().unwrap_or(0.0),
    })
}
