//! A scenario file run on the embedded target: the scenario's topology as a mesh of
//! flash-switches in this process (every merchant an anchor with its P4Runtime controller,
//! every phone a wallet), its workload, its timeline, and the same outputs as the other
//! targets (`kpis.json`, `payments.csv`, `events.csv`), computed from the payments and the
//! counters measured.
//!
//! * [`population`]: committees, genesis and payers from the scenario;
//! * [`workload`]: the seeded payment schedule and the payer tasks;
//! * [`timeline`]: the events (floods, priority, replay, link changes, crashes, moves,
//!   partitions);
//! * [`measure`]: queue, drop and rejection sampling and the per-phase KPIs.

pub mod measure;
pub mod population;
pub mod timeline;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flashmesh_scenario::{
    EventRecord, Kpis, PaymentRecord, Role, RunInfo, Scenario, outputs::kpis_from_payments,
};

use crate::error::MeshError;
use crate::mesh::{HandoffRequest, Mesh, MeshOptions};
use crate::plan::MeshPlan;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct ExperimentOptions {
    /// Where the anchors keep their stores (a temporary directory if `None`).
    pub data_dir: Option<PathBuf>,
    /// The time scale the scenario was run at (1 for the full run), for `kpis.json`.
    pub scale: f64,
}

/// What a run gives.
#[derive(Debug, Clone)]
pub struct ExperimentRun {
    /// KPIs per phase.
    pub kpis: Kpis,
    /// One record per payment.
    pub payments: Vec<PaymentRecord>,
    /// The timeline as it happened.
    pub events: Vec<EventRecord>,
    /// Deepest queue per class over time.
    pub queues: Vec<measure::QueueSample>,
    /// Set-up time, s.
    pub setup_s: f64,
    /// Whole run, s.
    pub wall_s: f64,
}

/// What the run is doing, for a progress bar.
#[derive(Debug, Clone)]
pub enum ExperimentProgress {
    /// A set-up step.
    Setup(String),
    /// Timeline position.
    Running {
        /// ms from the start.
        at_ms: u64,
        /// The timeline's length.
        total_ms: u64,
        /// Payments ended so far.
        ended: usize,
        /// Payments planned.
        planned: usize,
    },
    /// Waiting for the payments in flight.
    Draining,
}

/// The probe interval the controllers use: fast enough for millisecond-scale reroutes on small
/// meshes, slower on large ones so that probes (two per link per interval, each a packet-out
/// and a packet-in over P4Runtime) stay near 2000 a second and do not crowd two cores.
fn probe_ms(links: usize) -> u64 {
    (links as u64).clamp(20, 500)
}

/// The policy settings the anchors of `s` start with, on every target that runs anchors: the
/// default classes plus the probe rule, probes paced by the mesh's size, the scenario's epoch
/// length (an hour for a fixed epoch).
pub fn scenario_settings(s: &Scenario) -> flashmesh_controller::policy::PolicySettings {
    let mut settings = crate::control::initial_settings(probe_ms(s.links.len()), 3);
    settings.epoch_length_ms = if s.epoch_ms > 0 {
        s.epoch_ms
    } else {
        3_600_000
    };
    settings
}

/// How long one teardown step may take before the run goes on without it.
const TEARDOWN: Duration = Duration::from_secs(60);

/// `f`, or `None` with a warning when it takes longer than `limit` (a stuck part must not
/// hang the run: what was measured is still reported).
async fn bounded<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::warn!("{what} did not finish within {limit:?}; going on without it");
            None
        }
    }
}

/// Runs `s` on the embedded mesh. The caller checks the target can run it
/// ([`flashmesh_scenario::Target::check`]).
pub async fn run_experiment(
    s: &Scenario,
    opts: &ExperimentOptions,
    mut progress: impl FnMut(ExperimentProgress),
) -> Result<ExperimentRun, MeshError> {
    let t0 = Instant::now();
    let plan = MeshPlan::from_scenario(s)?;
    let population = population::population(s)?;
    let settings = scenario_settings(s);
    let w = &s.workload;
    let mesh_opts = MeshOptions {
        seed: s.seed,
        retry_interval: Duration::from_millis(w.retry_ms.max(1)),
        phase_timeout: Duration::from_millis(w.timeout_ms.max(1)),
        data_dir: opts.data_dir.clone(),
        ..MeshOptions::default()
    };
    let mut mesh = Mesh::start_layout(plan, population, settings, &mesh_opts, |step| {
        progress(ExperimentProgress::Setup(step.to_string()))
    })
    .await?;
    // Let the probes settle every link before the clock starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let setup_s = t0.elapsed().as_secs_f64();
    let memory = mesh.memory;
    let result = drive(s, &mut mesh, &mut progress).await;
    let peak = crate::memory::peak_resident_bytes();
    let stopped = bounded("stopping the mesh", TEARDOWN, mesh.shutdown()).await;
    let Driven {
        payments,
        events,
        mut kpis,
        queues,
    } = result?;
    kpis.run.scale = if opts.scale > 0.0 { opts.scale } else { 1.0 };
    kpis.counters.insert("embedded.setup_s".into(), setup_s);
    let c = &mut kpis.counters;
    let mut put = |name: &str, v: Option<f64>| {
        if let Some(v) = v {
            c.insert(format!("embedded.{name}"), v);
        }
    };
    put("memory_per_switch_bytes", memory.per_switch());
    put("memory_per_anchor_bytes", memory.per_anchor());
    put(
        "rss_after_setup_bytes",
        memory.after_setup_bytes.map(|b| b as f64),
    );
    put("peak_rss_bytes", peak.map(|b| b as f64));
    put("payments_per_s", sustained_rate(&payments));
    if stopped.is_none() {
        kpis.counters.insert("embedded.teardown_stuck".into(), 1.0);
    }
    Ok(ExperimentRun {
        kpis,
        payments,
        events,
        queues,
        setup_s,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Payments finished ok per second, from the first start to the last end of those payments.
fn sustained_rate(payments: &[PaymentRecord]) -> Option<f64> {
    let ok: Vec<&PaymentRecord> = payments
        .iter()
        .filter(|p| p.outcome == flashmesh_scenario::PaymentOutcome::Ok)
        .collect();
    let first = ok.iter().map(|p| p.start_ms).reduce(f64::min)?;
    let last = ok.iter().filter_map(|p| p.end_ms).reduce(f64::max)?;
    (last > first).then(|| ok.len() as f64 / ((last - first) / 1000.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What one drive of the timeline measured.
struct Driven {
    payments: Vec<PaymentRecord>,
    events: Vec<EventRecord>,
    kpis: Kpis,
    queues: Vec<measure::QueueSample>,
}

async fn drive(
    s: &Scenario,
    mesh: &mut Mesh,
    progress: &mut impl FnMut(ExperimentProgress),
) -> Result<Driven, MeshError> {
    let start = Instant::now();
    let epoch = Arc::new(AtomicU32::new(mesh.control.epoch()));
    let plan = workload::schedule(s, mesh.payer_nodes(), s.seed);
    let records = workload::records(s, mesh, &plan);
    let stop = start + Duration::from_millis(s.duration_ms);
    let mut tasks = Vec::new();
    let handoffs = workload::Handoffs::default();
    let mut handoff_requests = std::collections::BTreeMap::new();
    for (i, payer) in mesh.payers.iter().enumerate() {
        let payments: Vec<_> = plan.iter().filter(|p| p.payer == i).copied().collect();
        if payments.is_empty() {
            continue;
        }
        let recipients = payments
            .iter()
            .map(|p| mesh.keys.account(mesh.fabric.plan(), p.payee).public())
            .collect();
        let node = mesh.payer_nodes()[i];
        let request = Arc::new(HandoffRequest::default());
        handoff_requests.insert(node, request.clone());
        tasks.push(tokio::spawn(workload::run_payer(workload::PayerRun {
            name: s.nodes[node].name.clone(),
            handoff: request,
            handoffs: handoffs.clone(),
            payer: payer.clone(),
            payments,
            recipients,
            options: mesh.pay_options.clone(),
            retries: s.workload.retries,
            // as long as one payment may take: both phases, every attempt
            give_up_after: Duration::from_millis(
                2 * s.workload.timeout_ms * (1 + u64::from(s.workload.retries)),
            ),
            start,
            stop,
            epoch: epoch.clone(),
            records: records.clone(),
        })));
    }
    let sampler =
        measure::QueueSampler::start(mesh.fabric.clone(), start, Duration::from_millis(20));
    let snaps = measure::Snapshots::default();
    snaps.take(mesh, start).await;
    let mut timeline = timeline::Timeline::new(s, mesh, start, epoch.clone())?;
    timeline.handoff_requests = handoff_requests;
    let actions = timeline::actions(s);
    let mut boundaries: Vec<u64> = s
        .phases
        .iter()
        .flat_map(|p| [p.start_ms, p.end_ms])
        .filter(|&t| t > 0 && t <= s.duration_ms)
        .collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    let (mut next_action, mut next_boundary) = (0usize, 0usize);
    let tick = Duration::from_millis(250);
    let mut failure = None;
    loop {
        let now_ms = start.elapsed().as_millis() as u64;
        while next_action < actions.len() && actions[next_action].at_ms <= now_ms {
            if let Err(e) = timeline.run(s, mesh, &actions[next_action]).await {
                failure = Some(e);
            }
            next_action += 1;
        }
        if failure.is_some() {
            break;
        }
        while next_boundary < boundaries.len() && boundaries[next_boundary] <= now_ms {
            snaps.take(mesh, start).await;
            next_boundary += 1;
        }
        epoch.store(mesh.control.epoch(), Ordering::Relaxed);
        let ended = records.lock().iter().filter(|r| r.end_ms.is_some()).count();
        progress(ExperimentProgress::Running {
            at_ms: now_ms.min(s.duration_ms),
            total_ms: s.duration_ms,
            ended,
            planned: plan.len(),
        });
        if now_ms >= s.duration_ms && next_action >= actions.len() {
            break;
        }
        let mut wake = now_ms + tick.as_millis() as u64;
        if let Some(a) = actions.get(next_action) {
            wake = wake.min(a.at_ms);
        }
        if let Some(&b) = boundaries.get(next_boundary) {
            wake = wake.min(b);
        }
        wake = wake.min(s.duration_ms.max(now_ms));
        tokio::time::sleep_until((start + Duration::from_millis(wake)).into()).await;
    }
    progress(ExperimentProgress::Draining);
    let drain = Duration::from_millis(
        s.drain_ms
            .max(s.workload.timeout_ms * (1 + u64::from(s.workload.retries))),
    );
    let deadline = tokio::time::Instant::now() + drain;
    for t in &mut tasks {
        let _ = tokio::time::timeout_at(deadline, &mut *t).await;
    }
    for t in &tasks {
        t.abort();
    }
    snaps.take(mesh, start).await;
    let samples = bounded("the queue sampler", TEARDOWN, sampler.finish())
        .await
        .unwrap_or_default();
    let side = bounded("the side traffic", TEARDOWN, timeline.finish())
        .await
        .unwrap_or_default();
    if let Some(e) = failure {
        return Err(e);
    }
    let payments = records.lock().clone();
    let handoffs = handoffs.lock().clone();
    for h in &handoffs {
        let (kind, detail) = match &h.result {
            Ok(t) => (
                "handoff_done",
                format!(
                    "{}: to {} with nonce {}, balance {}, {:.1} ms (votes {:.1}, left {:.1}, arrived {:.1})",
                    h.node,
                    h.to,
                    t.nonce,
                    t.balance,
                    ms(t.total()),
                    ms(t.certify),
                    ms(t.leave),
                    ms(t.arrive)
                ),
            ),
            Err(e) => ("handoff_failed", format!("{}: to {}: {e}", h.node, h.to)),
        };
        timeline.log.push(EventRecord {
            at_ms: h.ended_ms,
            kind: kind.into(),
            detail,
        });
    }
    timeline.log.sort_by(|a, b| {
        a.at_ms
            .partial_cmp(&b.at_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let run = RunInfo {
        scenario: s.name.clone(),
        target: "embedded".into(),
        switch: "flash-switch".into(),
        seed: s.seed,
        nodes: s.nodes.len(),
        links: s.links.len(),
        merchants: s.nodes.iter().filter(|n| n.role == Role::Merchant).count(),
        phones: s.nodes.iter().filter(|n| n.role == Role::Phone).count(),
        scale: 1.0,
    };
    let mut kpis = kpis_from_payments(s, run, &payments);
    let end_ms = start.elapsed().as_secs_f64() * 1000.0;
    for k in &mut kpis.phases {
        // the counters of `all` cover the whole run, drain included
        let reported_end = k.end_ms;
        if k.phase == "all" {
            k.end_ms = k.end_ms.max(end_ms as u64);
        }
        measure::bcb_kpis(k, &mesh.fabric, start);
        measure::queue_kpis(k, &samples);
        measure::counter_kpis(k, &snaps);
        measure::reroute_kpi(k, &side.reroute_ms);
        for mv in &timeline.moves {
            let cut = timeline
                .log
                .iter()
                .filter(|e| e.kind == "trace_cut" && e.at_ms >= mv.at_ms)
                .map(|e| e.at_ms)
                .reduce(f64::min)
                .unwrap_or(mv.at_ms);
            if cut >= k.start_ms as f64 && cut < k.end_ms as f64 {
                let name = &s.nodes[mv.node].name;
                k.interruption_ms = measure::interruption_ms(&payments, name, cut);
            }
        }
        // the handoffs finished in the phase: the longest, from its first HANDOFF sent
        k.handoff_ms = handoffs
            .iter()
            .filter(|h| h.started_ms >= k.start_ms as f64 && h.started_ms < k.end_ms as f64)
            .filter_map(|h| h.result.as_ref().ok().map(|t| ms(t.total())))
            .reduce(f64::max);
        k.end_ms = reported_end;
    }
    let c = &mut kpis.counters;
    c.insert("flood.sent".into(), side.flood_sent as f64);
    c.insert("replay.sent".into(), side.replays_sent as f64);
    let (drops, rejections) = snaps.delta(0.0, f64::MAX);
    for (reason, n) in drops {
        let name = flashmesh_controller::sdn::flash_mesh::DROP_REASONS
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or_else(|| format!("reason_{reason}"), |(_, n)| (*n).to_string());
        c.insert(format!("switch.drop.{name}"), n as f64);
    }
    c.insert("authority.rejections".into(), rejections as f64);
    Ok(Driven {
        payments,
        events: timeline.log.clone(),
        kpis,
        queues: samples,
    })
}
