//! The mesh demo: build the mesh, then run its phases and measure each.
//!
//! 1. `idle`: every phone pays its merchant in a loop (seeded think times).
//! 2. `congestion_priority`: the same, with a best-effort flood at `flood_factor` × the
//!    bottleneck rate crossing the bottleneck link, priority flows installed.
//! 3. `congestion_no_priority`: the same flood with the BCB classification withheld by a signed
//!    policy bundle (BCB falls to best effort); restored afterwards by the next bundle.
//! 4. `replay`: an attacker host captures orders and certificates, then resends exact copies
//!    and forged retries (within and beyond the allowance).
//! 5. `link_failure`: a 1 kHz BCB stream and payments cross a link that is cut in the
//!    emulation; the controllers' probes find it and traffic takes the detour.
//!
//! Between phases every controller moves two epochs on, so nothing left over by one phase
//! (duplicate-filter cells, half-finished orders) colours the next.
//!
//! What is measured, per phase:
//! * finality: first ORDER to quorum of receipts, for payments that finished (failures are
//!   counted apart); also for the bottleneck flows, the phones that cannot reach a quorum
//!   without crossing the bottleneck link in the flood's direction (the goals compare those;
//!   see [`crate::report`]);
//! * BCB delay and loss: every ORDER, VOTE, CERTIFICATE and RECEIPT between main hosts, paired
//!   send to delivery at the receiving host's switch port by the flight recorder (so a late
//!   answer that a payer with its quorum reads only later still counts when it arrived);
//! * best-effort throughput: flood frames reaching the sink host per second;
//! * replays: what the attacker sent, the switches' duplicate and over-allowance drop counters
//!   (read over P4Runtime) and the authorities' rejection counters, as deltas over the phase;
//! * reroute: a 1 kHz stream of 32-byte QUERY headers crosses the link that is cut; the outage
//!   is the time from the cut to the send time of the first later packet that arrived.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flashmesh_controller::ControllerEvent;
use flashmesh_core::BCB_UDP_PORT;
use flashmesh_scenario::outputs::percentile;
use flashmesh_wallet::PayOptions;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;

use crate::error::MeshError;
use crate::fabric::{Fabric, stream_datagram};
use crate::mesh::{Mesh, MeshOptions, PayLog, PayOutcome, Payer};
use crate::report::{DemoReport, PhaseReport};

pub use crate::fabric::FLOOD_PORT;

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The mesh.
    pub mesh: MeshOptions,
    /// Measured time of each phase, seconds.
    pub phase_secs: f64,
    /// Flood rate as a multiple of the bottleneck rate.
    pub flood_factor: f64,
    /// Think time between a phone's payments, ms (uniform in the range).
    pub think_ms: (u64, u64),
    /// Orders and certificates the attacker captures.
    pub replay_captures: usize,
    /// Probe interval in force during the link-failure phase, ms (set by a signed policy
    /// bundle just before it). The other phases use `mesh.probe_ms`, which can be longer so that
    /// a loaded machine does not raise false link alarms while nothing is being cut.
    pub failure_probe_ms: u64,
    /// Which phases to run (names as in [`PhaseReport::name`]); all if empty.
    pub phases: Vec<String>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            mesh: MeshOptions {
                probe_ms: 50,
                ..MeshOptions::default()
            },
            failure_probe_ms: 10,
            phase_secs: 5.0,
            flood_factor: 2.0,
            think_ms: (40, 120),
            replay_captures: 40,
            phases: Vec::new(),
        }
    }
}

/// The phases in the order they run.
pub const PHASES: [&str; 5] = [
    "idle",
    "congestion_priority",
    "congestion_no_priority",
    "replay",
    "link_failure",
];

/// What the demo is doing, for a progress bar.
#[derive(Debug, Clone)]
pub enum ProgressEvent {
    /// A set-up step began.
    Setup(String),
    /// A phase began.
    PhaseStarted {
        /// 0-based.
        index: usize,
        /// Phases in the run.
        total: usize,
        /// Name.
        name: String,
        /// Planned duration.
        seconds: f64,
    },
    /// Part of the phase's time has passed.
    PhaseProgress {
        /// 0-based.
        index: usize,
        /// 0..=1.
        fraction: f64,
    },
    /// A phase ended with its KPI row.
    PhaseFinished {
        /// 0-based.
        index: usize,
        /// The row.
        report: Box<PhaseReport>,
    },
}

/// Extra traffic of a phase.
enum Side {
    None,
    Flood,
    Replay,
    LinkFailure,
}

/// What the side traffic measured.
#[derive(Default)]
struct SideResult {
    offered: u64,
    replays_sent: u64,
    replays_beyond: u64,
    reroute_ms: Option<(f64, f64)>,
}

async fn pay_loop(
    payer: Arc<tokio::sync::Mutex<Payer>>,
    epoch: u32,
    opts: PayOptions,
    until: Instant,
    think: (u64, u64),
    seed: u64,
    log: Arc<PayLog>,
) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = payer.lock().await;
    while Instant::now() < until {
        match p.pay(1, epoch, &opts).await {
            PayOutcome::Finished(d) => {
                let ms = d.as_secs_f64() * 1000.0;
                log.finality_ms.lock().push(ms);
                if p.crosses_bottleneck {
                    log.bottleneck_ms.lock().push(ms);
                }
            }
            PayOutcome::Failed(e) => {
                tracing::debug!(node = p.node, error = %e, "payment failed");
                log.failed.fetch_add(1, Ordering::Relaxed);
                let name = &p.transport().local_addr_v4().ip().to_string();
                *log.failures
                    .lock()
                    .entry(format!("{name}: {e}"))
                    .or_insert(0) += 1;
                if p.crosses_bottleneck {
                    log.bottleneck_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let t = rng.random_range(think.0..=think.1.max(think.0));
        tokio::time::sleep(Duration::from_millis(t)).await;
    }
}

async fn flood(fabric: Arc<Fabric>, src: usize, dst: usize, pps: f64, until: Instant) -> u64 {
    let to = SocketAddrV4::new(fabric.plan().nodes[dst].aux_ip(), FLOOD_PORT);
    let payload = [0x5au8; 64];
    let start = Instant::now();
    let mut sent = 0u64;
    while Instant::now() < until {
        let due = (start.elapsed().as_secs_f64() * pps) as u64;
        while sent < due {
            fabric.aux_send(src, FLOOD_PORT, to, &payload);
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sent
}

async fn link_failure(
    fabric: Arc<Fabric>,
    epoch: u32,
    cut_after: Duration,
    until: Instant,
) -> Result<Option<(f64, f64)>, MeshError> {
    let Some((link, src)) = fabric.plan().failure_link() else {
        return Ok(None);
    };
    let dst = fabric.plan().payee_of(src);
    let to = SocketAddrV4::new(fabric.plan().nodes[dst].aux_ip(), BCB_UDP_PORT);
    fabric.aux(dst).stream.lock().clear();
    let start = Instant::now();
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut cut_at = None;
    while Instant::now() < until {
        if cut_at.is_none() && start.elapsed() >= cut_after {
            fabric.cut_link(link)?;
            cut_at = Some(Instant::now());
        }
        let seq = sent_at.len() as u64;
        sent_at.push(Instant::now());
        fabric.aux_send(src, 47_000, to, &stream_datagram(seq, epoch));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Let the last frames land, then look for the first one sent after the cut that arrived.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Some(cut) = cut_at else { return Ok(None) };
    let arrivals = fabric.aux(dst).stream.lock().clone();
    // The outage as the sender sees it: from the cut to the first packet sent after it that
    // reached the far end (1 ms resolution); and when that packet arrived.
    let first = arrivals
        .iter()
        .filter_map(|(seq, at)| {
            let sent = *sent_at.get(*seq as usize)?;
            (sent >= cut).then_some((sent, *at))
        })
        .min();
    fabric.restore_link(link)?;
    let ms = |t: Instant| t.duration_since(cut).as_secs_f64() * 1000.0;
    Ok(first.map(|(sent, at)| (ms(sent), ms(at))))
}

async fn replay(
    fabric: Arc<Fabric>,
    payers: Vec<Arc<crate::transport::FrameTransport>>,
    attacker: usize,
    captures: usize,
    allowance: u8,
    phase: Duration,
) -> (u64, u64) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for t in &payers {
        t.set_tap(Some(tx.clone()));
    }
    drop(tx);
    tokio::time::sleep(phase / 3).await;
    for t in &payers {
        t.set_tap(None);
    }
    let mut captured = Vec::new();
    while let Ok((d, to)) = rx.try_recv() {
        // orders and certificates as first sent
        if d.len() > 32 && (d[1] == 1 || d[1] == 3) && d[2] == 0 && captured.len() < captures {
            captured.push((d, to));
        }
    }
    // Let the captured payments finish, so that the replays are of settled messages.
    tokio::time::sleep(phase / 6).await;
    let (mut sent, mut beyond) = (0u64, 0u64);
    for (d, to) in &captured {
        let std::net::SocketAddr::V4(to) = *to else {
            continue;
        };
        let mut copies: Vec<(u8, bool)> = vec![(d[2], true)];
        for r in 1..=allowance {
            copies.push((r, false));
            copies.push((r, true));
        }
        for r in allowance.saturating_add(1)..=allowance.saturating_add(3) {
            copies.push((r, true));
        }
        for (retry, is_beyond) in copies {
            let mut forged = d.clone();
            forged[2] = retry;
            fabric.aux_send(attacker, 47_001, to, &forged);
            sent += 1;
            beyond += u64::from(is_beyond);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (sent, beyond)
}

fn drop_name(reason: u32) -> String {
    flashmesh_controller::sdn::flash_mesh::DROP_REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or_else(|| format!("reason_{reason}"), |(_, n)| (*n).to_string())
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    mesh: &Mesh,
    opts: &DemoOptions,
    index: usize,
    total: usize,
    name: &str,
    side: Side,
    probe_interval_ms: u64,
    progress: &mut impl FnMut(ProgressEvent),
) -> Result<PhaseReport, MeshError> {
    let secs = opts.phase_secs;
    progress(ProgressEvent::PhaseStarted {
        index,
        total,
        name: name.to_string(),
        seconds: secs,
    });
    let fabric = mesh.fabric.clone();
    let plan = fabric.plan().clone();
    let epoch = mesh.epoch();
    let drops0 = mesh.control.drops().await;
    let rejections0 = mesh.authority_rejections();
    let sink = plan.bottleneck().map(|l| plan.links[l].b.0).unwrap_or(0);
    let source = plan.first_phone(0);
    let sink0 = fabric.aux(sink).frames.load(Ordering::Relaxed);
    fabric.recorder().reset();
    let mut events: Vec<_> = mesh
        .control
        .controllers()
        .iter()
        .map(|c| c.events())
        .collect();
    let log = Arc::new(PayLog::default());
    let start = Instant::now();
    let phase = Duration::from_secs_f64(secs);
    let until = start + phase;
    let mut tasks = Vec::new();
    for (i, p) in mesh.payers.iter().enumerate() {
        tasks.push(tokio::spawn(pay_loop(
            p.clone(),
            epoch,
            mesh.pay_options.clone(),
            until,
            opts.think_ms,
            opts.mesh.seed ^ ((index as u64) << 32) ^ i as u64,
            log.clone(),
        )));
    }
    let side_task = match side {
        Side::None => None,
        Side::Flood => {
            let pps = plan.links[plan.bottleneck().unwrap_or(0)]
                .params
                .rate_pps
                .unwrap_or(1000.0)
                * opts.flood_factor;
            let f = fabric.clone();
            Some(tokio::spawn(async move {
                let offered = flood(f, source, sink, pps, until).await;
                Ok(SideResult {
                    offered,
                    ..SideResult::default()
                })
            }))
        }
        Side::Replay => {
            let transports = mesh.payer_transports.clone();
            let attacker = plan.nodes.len() - 1;
            let f = fabric.clone();
            let (captures, allowance) = (opts.replay_captures, mesh.settings.retry_allowance);
            Some(tokio::spawn(async move {
                let (sent, beyond) =
                    replay(f, transports, attacker, captures, allowance, phase).await;
                Ok(SideResult {
                    replays_sent: sent,
                    replays_beyond: beyond,
                    ..SideResult::default()
                })
            }))
        }
        Side::LinkFailure => {
            let f = fabric.clone();
            Some(tokio::spawn(async move {
                let reroute_ms = link_failure(f, epoch, phase / 3, until).await?;
                Ok::<_, MeshError>(SideResult {
                    reroute_ms,
                    ..SideResult::default()
                })
            }))
        }
    };
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress(ProgressEvent::PhaseProgress {
            index,
            fraction: (start.elapsed().as_secs_f64() / secs).min(1.0),
        });
    }
    let side = match side_task {
        Some(t) => t
            .await
            .map_err(|e| MeshError::Setup(format!("phase task: {e}")))??,
        None => SideResult::default(),
    };
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let measured = elapsed.max(secs);
    let flights = fabric.recorder().summary();
    let drops1 = mesh.control.drops().await;
    let mut switch_drops = BTreeMap::new();
    for (reason, n) in &drops1 {
        let d = n.saturating_sub(drops0.get(reason).copied().unwrap_or(0));
        if d > 0 {
            switch_drops.insert(drop_name(*reason), d);
        }
    }
    let replay_drops = [3u32, 5]
        .iter()
        .map(|r| {
            drops1
                .get(r)
                .copied()
                .unwrap_or(0)
                .saturating_sub(drops0.get(r).copied().unwrap_or(0))
        })
        .sum::<u64>();
    let mut link_down_events = 0;
    for rx in &mut events {
        while let Ok(e) = rx.try_recv() {
            if matches!(e, ControllerEvent::LinkDown { .. }) {
                link_down_events += 1;
            }
        }
    }
    let finality = log.finality_ms.lock().clone();
    let bottleneck = log.bottleneck_ms.lock().clone();
    let is_flood = side.offered > 0;
    let is_replay = side.replays_sent > 0;
    let report = PhaseReport {
        name: name.to_string(),
        duration_s: elapsed,
        payments: finality.len(),
        payments_failed: log.failed.load(Ordering::Relaxed) as usize,
        finality_ms_p50: percentile(&finality, 0.5),
        finality_ms_p95: percentile(&finality, 0.95),
        bottleneck_payments: bottleneck.len(),
        bottleneck_payments_failed: log.bottleneck_failed.load(Ordering::Relaxed) as usize,
        bottleneck_finality_ms_p50: percentile(&bottleneck, 0.5),
        bottleneck_finality_ms_p95: percentile(&bottleneck, 0.95),
        bcb_delay_ms_p95: percentile(&flights.delays_ms, 0.95),
        bcb_loss: flights.loss(),
        best_effort_throughput_pps: if is_flood {
            (fabric.aux(sink).frames.load(Ordering::Relaxed) - sink0) as f64 / measured
        } else {
            0.0
        },
        best_effort_offered_pps: side.offered as f64 / secs,
        replays_sent: side.replays_sent,
        replays_beyond_allowance: side.replays_beyond,
        replays_dropped_in_switch: if is_replay { replay_drops } else { 0 },
        replays_rejected_by_authority: if is_replay {
            mesh.authority_rejections().saturating_sub(rejections0)
        } else {
            0
        },
        reroute_ms: side.reroute_ms.map(|r| r.0),
        reroute_first_arrival_ms: side.reroute_ms.map(|r| r.1),
        probe_interval_ms,
        link_down_events,
        failures: log.failures.lock().clone(),
        switch_drops,
    };
    progress(ProgressEvent::PhaseFinished {
        index,
        report: Box::new(report.clone()),
    });
    Ok(report)
}

/// Builds the mesh, runs the phases and returns their KPIs. `progress` hears about set-up
/// steps and phases (for a progress bar).
pub async fn run_demo(
    opts: DemoOptions,
    mut progress: impl FnMut(ProgressEvent),
) -> Result<DemoReport, MeshError> {
    let t0 = Instant::now();
    let mesh = Mesh::start(&opts.mesh, |s| {
        progress(ProgressEvent::Setup(s.to_string()))
    })
    .await?;
    let wanted: Vec<&str> = PHASES
        .iter()
        .copied()
        .filter(|p| opts.phases.is_empty() || opts.phases.iter().any(|w| w == p))
        .collect();
    let plan = mesh.fabric.plan().clone();
    let bottleneck_pps = plan
        .bottleneck()
        .and_then(|l| plan.links[l].params.rate_pps)
        .unwrap_or(0.0);
    let mut report = DemoReport {
        seed: opts.mesh.seed,
        committee: opts.mesh.committee.name().to_string(),
        switches: plan.nodes.len(),
        merchants: plan.merchants,
        phones: plan.phones().count(),
        links: plan.links.len(),
        bottleneck_pps,
        flood_pps: bottleneck_pps * opts.flood_factor,
        probe_interval_ms: opts.failure_probe_ms,
        retry_allowance: mesh.settings.retry_allowance,
        setup_s: mesh.setup.as_secs_f64(),
        ..DemoReport::default()
    };
    // Let the probes confirm every link before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = wanted.len();
    let mut base = mesh.settings.clone();
    let result = async {
        for (i, name) in wanted.iter().enumerate() {
            let side = match *name {
                "congestion_priority" => Side::Flood,
                "congestion_no_priority" => {
                    let s = crate::control::withheld(&base);
                    // control-plane change through a signed bundle
                    mesh.control
                        .apply(&s, "withhold BCB priority flows")
                        .await?;
                    Side::Flood
                }
                "replay" => Side::Replay,
                "link_failure" => {
                    if base.probe_interval_ms != opts.failure_probe_ms {
                        base.probe_interval_ms = opts.failure_probe_ms;
                        mesh.control
                            .apply(&base, "fast link probes for the failure experiment")
                            .await?;
                        mesh.control.wait_links_up(Duration::from_secs(2)).await;
                    }
                    Side::LinkFailure
                }
                _ => Side::None,
            };
            let probe_ms = base.probe_interval_ms;
            let row =
                run_phase(&mesh, &opts, i, total, name, side, probe_ms, &mut progress).await?;
            if *name == "congestion_no_priority" {
                mesh.control
                    .apply(&base, "restore BCB priority flows")
                    .await?;
            }
            report.phases.push(row);
            mesh.advance_epochs(2).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok::<(), MeshError>(())
    }
    .await;
    mesh.shutdown().await;
    result?;
    report.wall_time_s = t0.elapsed().as_secs_f64();
    report.check_goals();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn the_demo_future_can_be_spawned() {
        let f = run_demo(DemoOptions::default(), |_| {});
        assert_send(&f);
        assert_eq!(PHASES.len(), 5);
        assert_eq!(DemoOptions::default().failure_probe_ms, 10);
    }

    #[test]
    fn stream_header_is_a_valid_fmh_query() {
        let h = stream_datagram(7, 3);
        let hdr = flashmesh_core::Header::new_checked(&h[..]).expect("valid FMH");
        assert_eq!(hdr.msg_type(), Some(flashmesh_core::MsgType::Query));
        assert_eq!(hdr.nonce(), 7);
        assert_eq!(hdr.epoch(), 3);
        assert_eq!(h[8..16], crate::fabric::STREAM_SENDER);
    }
}
