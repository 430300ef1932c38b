//! What a Mininet run measured, read back into the outputs every target writes: the load
//! generators' payment rows (one file per phone; a payment whose row is missing stays
//! unfinished), the runner's event log, queue samples and reroute times, and the anchors'
//! Prometheus counters scraped at every phase boundary (their own rejections, and their
//! switches' drop counters read over P4Runtime), turned into per-phase KPIs with the same code
//! as the embedded target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashmesh_mesh::experiment::ExperimentRun;
use flashmesh_mesh::experiment::measure::{QueueSample, drop_kpis, queue_kpis, reroute_kpi};
use flashmesh_mesh::experiment::workload::payment_path;
use flashmesh_scenario::outputs::{kpis_from_payments, read_payments};
use flashmesh_scenario::{EventRecord, PaymentRecord, Role, RunInfo, Scenario, SwitchKind};
use serde::Deserialize;

use super::files::Prepared;

/// A result file that is there but unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CollectError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// The runner's summary (`results/runner.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunnerSummary {
    /// The clock's start, Unix ms.
    #[serde(default)]
    pub t0_unix_ms: u64,
    /// Set-up time, s.
    #[serde(default)]
    pub setup_s: f64,
    /// Whole run, s.
    #[serde(default)]
    pub wall_s: f64,
    /// What went wrong, if anything.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One reroute measurement (`results/reroute.json`).
#[derive(Debug, Clone, Deserialize)]
struct Reroute {
    at_ms: f64,
    ms: Option<f64>,
}

/// Reads `path` as JSON, `default` when it does not exist.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, default: T) -> Result<T, CollectError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| CollectError {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default),
        Err(e) => Err(CollectError {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

/// The payments: every scheduled one, with the row its load generator wrote when there is one.
pub fn payments(
    s: &Scenario,
    p: &Prepared,
    payments_dir: &Path,
) -> Result<Vec<PaymentRecord>, CollectError> {
    let mut written: BTreeMap<u64, PaymentRecord> = BTreeMap::new();
    let mut phones: Vec<&str> = p.payments.iter().map(|x| x.payer.as_str()).collect();
    phones.sort_unstable();
    phones.dedup();
    for phone in phones {
        let path = payments_dir.join(format!("{phone}.csv"));
        if !path.is_file() {
            continue;
        }
        let rows = read_payments(&path).map_err(|e| CollectError {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for r in rows {
            written.insert(r.id, r);
        }
    }
    let node = |name: &str| s.node(name);
    Ok(p.payments
        .iter()
        .map(|x| {
            let payee = x
                .payee
                .file_stem()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let path = match (node(&x.payer), node(&payee)) {
                (Some(a), Some(b)) => payment_path(s, &p.plan, a, b),
                _ => String::new(),
            };
            let committee = node(&x.payer)
                .and_then(|n| s.committee_of(n))
                .map(|c| s.committees[c].name.clone())
                .unwrap_or_default();
            let row = written.remove(&x.id).unwrap_or_else(|| {
                PaymentRecord::planned(
                    x.id,
                    x.payer.clone(),
                    payee.clone(),
                    committee,
                    x.amount,
                    x.at_ms,
                )
            });
            PaymentRecord { path, ..row }
        })
        .collect())
}

/// One scrape of an anchor's `/metrics` (`results/scrapes.json`).
#[derive(Debug, Clone, Deserialize)]
struct Scrape {
    /// The phase boundary it was taken for, or when it was taken, ms.
    at_ms: f64,
    /// The anchor.
    anchor: String,
    /// The Prometheus text.
    file: PathBuf,
}

/// The samples of `name` in a Prometheus text: (labels, value).
pub fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let labels = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, _)) => l.to_string(),
                None => continue,
            },
            None if rest.starts_with(' ') => String::new(),
            None => continue,
        };
        if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            out.push((labels, v));
        }
    }
    out
}

/// A label's value in a label set (`node="m0",reason="stale"`).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// How much a counter grew over the readings `(at_ms, value)` (in time order) inside
/// `[from, to]`: a reading below the one before is a restarted process counting from zero.
pub fn growth(readings: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let inside: Vec<f64> = readings
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .map(|r| r.1)
        .collect();
    inside
        .windows(2)
        .map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] })
        .sum()
}

/// Counter series from the scrapes: in-switch drops by (node, reason name), and each
/// anchor's rejections.
#[derive(Debug, Default)]
struct Series {
    drops: BTreeMap<(String, String), Vec<(f64, f64)>>,
    rejections: BTreeMap<String, Vec<(f64, f64)>>,
}

fn series(scrapes: &[Scrape]) -> Series {
    let mut out = Series::default();
    let mut sorted: Vec<&Scrape> = scrapes.iter().collect();
    sorted.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    for s in sorted {
        let Ok(text) = std::fs::read_to_string(&s.file) else {
            continue;
        };
        for (labels, v) in samples(&text, "flashmesh_switch_drops_total") {
            if let (Some(node), Some(reason)) = (label(&labels, "node"), label(&labels, "reason")) {
                out.drops
                    .entry((node.to_string(), reason.to_string()))
                    .or_default()
                    .push((s.at_ms, v));
            }
        }
        let rejected: f64 = samples(&text, "flashmesh_rejections_total")
            .iter()
            .map(|x| x.1)
            .sum();
        out.rejections
            .entry(s.anchor.clone())
            .or_default()
            .push((s.at_ms, rejected));
    }
    out
}

/// The drop and rejection KPIs of the window `[from, to]`.
fn counters(k: &mut flashmesh_scenario::PhaseKpis, s: &Series, from: f64, to: f64) {
    use flashmesh_controller::sdn::flash_mesh::DROP_REASONS;
    let mut drops: BTreeMap<u32, u64> = BTreeMap::new();
    for ((_, reason), readings) in &s.drops {
        if let Some((n, _)) = DROP_REASONS.iter().find(|(_, name)| name == reason) {
            *drops.entry(*n).or_insert(0) += growth(readings, from, to) as u64;
        }
    }
    let rejections: f64 = s.rejections.values().map(|r| growth(r, from, to)).sum();
    drop_kpis(k, &drops, rejections as u64);
}

/// Everything the run measured, as the embedded target reports it.
pub fn run(
    s: &Scenario,
    p: &Prepared,
    switch: SwitchKind,
    scale: f64,
) -> Result<ExperimentRun, CollectError> {
    let run_dir = &p.description.run_dir;
    let results = run_dir.join("results");
    let summary: RunnerSummary = read_json(&results.join("runner.json"), RunnerSummary::default())?;
    let payments = payments(s, p, &run_dir.join("payments"))?;
    let events: Vec<EventRecord> = read_json(&results.join("events.json"), Vec::new())?;
    let queues: Vec<QueueSample> = read_json(&results.join("queues.json"), Vec::new())?;
    let reroutes: Vec<Reroute> = read_json(&results.join("reroute.json"), Vec::new())?;
    let reroute_ms: Vec<(f64, f64)> = reroutes
        .iter()
        .filter_map(|r| r.ms.map(|ms| (r.at_ms, ms)))
        .collect();
    let info = RunInfo {
        scenario: s.name.clone(),
        target: "mininet".into(),
        switch: switch.name().into(),
        seed: s.seed,
        nodes: s.nodes.len(),
        links: s.links.len(),
        merchants: s.nodes.iter().filter(|n| n.role == Role::Merchant).count(),
        phones: s.nodes.iter().filter(|n| n.role == Role::Phone).count(),
        scale: if scale > 0.0 { scale } else { 1.0 },
    };
    let mut kpis = kpis_from_payments(s, info, &payments);
    let scrapes: Vec<Scrape> = read_json(&results.join("scrapes.json"), Vec::new())?;
    let series = series(&scrapes);
    for k in &mut kpis.phases {
        queue_kpis(k, &queues);
        reroute_kpi(k, &reroute_ms);
        if !scrapes.is_empty() {
            // `all` runs to the last scrape, after the drain
            let to = if k.phase == "all" {
                f64::MAX
            } else {
                k.end_ms as f64
            };
            counters(k, &series, k.start_ms as f64, to);
        }
    }
    let c = &mut kpis.counters;
    c.insert("mininet.setup_s".into(), summary.setup_s);
    c.insert("mininet.runner_errors".into(), summary.errors.len() as f64);
    for ((_, reason), readings) in &series.drops {
        *c.entry(format!("switch.drop.{reason}")).or_insert(0.0) +=
            growth(readings, f64::MIN, f64::MAX);
    }
    let rejected: f64 = series
        .rejections
        .values()
        .map(|r| growth(r, f64::MIN, f64::MAX))
        .sum();
    c.insert("authority.rejections".into(), rejected);
    Ok(ExperimentRun {
        kpis,
        payments,
        events,
        queues,
        setup_s: summary.setup_s,
        wall_s: summary.wall_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_growth_across_a_restart() {
        let text = "# HELP flashmesh_rejections_total x\n\
            flashmesh_rejections_total{reason=\"bad_nonce\",code=\"3\"} 2\n\
            flashmesh_rejections_total{reason=\"stale\",code=\"4\"} 1\n\
            flashmesh_rejections_totally 9\nflashmesh_orders_total 10\n";
        let r = samples(text, "flashmesh_rejections_total");
        assert_eq!(r.len(), 2);
        assert_eq!(label(&r[0].0, "reason"), Some("bad_nonce"));
        assert_eq!(
            samples(text, "flashmesh_orders_total"),
            vec![(String::new(), 10.0)]
        );
        assert!(samples(text, "flashmesh_votes_total").is_empty());
        // 0 -> 5 -> 9, then a restart (counting from 0 again) -> 3 -> 4
        let readings = [
            (0.0, 0.0),
            (10.0, 5.0),
            (20.0, 9.0),
            (30.0, 3.0),
            (40.0, 4.0),
        ];
        assert_eq!(growth(&readings, 0.0, 20.0), 9.0);
        assert_eq!(growth(&readings, 10.0, 40.0), 4.0 + 3.0 + 1.0);
        assert_eq!(
            growth(&readings, 15.0, 25.0),
            0.0,
            "one reading is no growth"
        );
    }

    #[test]
    fn missing_results_are_defaults_and_broken_ones_errors() {
        let dir = tempfile::tempdir().unwrap();
        let v: Vec<EventRecord> = read_json(&dir.path().join("none.json"), Vec::new()).unwrap();
        assert!(v.is_empty());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "[{").unwrap();
        assert!(read_json::<Vec<EventRecord>>(&bad, Vec::new()).is_err());
    }
}
