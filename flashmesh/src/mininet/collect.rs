//! What a Mininet run measured, read back into the outputs every target writes: the load
//! generators' payment rows (one file per phone; a payment whose row is missing stays
//! unfinished), the runner's event log, queue samples and reroute times, and the anchors'
//! Prometheus counters, turned into per-phase KPIs with the same code as the embedded target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flashmesh_mesh::experiment::ExperimentRun;
use flashmesh_mesh::experiment::measure::{QueueSample, queue_kpis, reroute_kpi};
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

/// Sums `name`'s samples (every label set) over the Prometheus files in `dir`.
pub fn metric_total(dir: &Path, name: &str) -> Option<f64> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut total = None;
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else {
                continue;
            };
            if !(rest.starts_with(' ') || rest.starts_with('{')) {
                continue;
            }
            if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                *total.get_or_insert(0.0) += v;
            }
        }
    }
    total
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
    let metrics = results.join("metrics");
    let rejections = metric_total(&metrics, "flashmesh_rejections_total");
    for k in &mut kpis.phases {
        queue_kpis(k, &queues);
        reroute_kpi(k, &reroute_ms);
        if k.phase == "all" {
            k.authority_rejections = rejections;
        }
    }
    let c = &mut kpis.counters;
    c.insert("mininet.setup_s".into(), summary.setup_s);
    c.insert("mininet.runner_errors".into(), summary.errors.len() as f64);
    for name in [
        "flashmesh_orders_total",
        "flashmesh_votes_total",
        "flashmesh_certificates_total",
        "flashmesh_malformed_datagrams_total",
    ] {
        if let Some(v) = metric_total(&metrics, name) {
            c.insert(
                format!("authority.{}", name.trim_start_matches("flashmesh_")),
                v,
            );
        }
    }
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
    fn metric_totals_sum_label_sets_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("m0-1.prom"),
            "# HELP flashmesh_rejections_total x\nflashmesh_rejections_total{reason=\"bad_nonce\",code=\"3\"} 2\n\
             flashmesh_rejections_total{reason=\"stale\",code=\"4\"} 1\nflashmesh_rejections_totally 9\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("m1-1.prom"),
            "flashmesh_rejections_total 4\nflashmesh_orders_total 10\n",
        )
        .unwrap();
        assert_eq!(
            metric_total(dir.path(), "flashmesh_rejections_total"),
            Some(7.0)
        );
        assert_eq!(metric_total(dir.path(), "flashmesh_votes_total"), None);
        assert_eq!(metric_total(&dir.path().join("none"), "x"), None);
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
