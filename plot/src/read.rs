//! Loading a run folder: `kpis.json` and `payments.csv` are required, `events.csv` and
//! `queues.csv` are optional (a missing one is an empty list, noted in the warnings). Values
//! that are not finite (NaN, infinities) are dropped here, so the charts never see them.

use std::path::{Path, PathBuf};

use flashmesh_scenario::outputs::{
    EventRecord, Kpis, PaymentRecord, QueueRecord, read_events, read_kpis, read_payments,
    read_queues,
};

use crate::PlotError;

/// The outputs of one run.
#[derive(Debug, Clone, Default)]
pub struct RunData {
    /// `kpis.json`.
    pub kpis: Kpis,
    /// `payments.csv`, rows with a non-finite start dropped.
    pub payments: Vec<PaymentRecord>,
    /// `events.csv` (empty when missing), rows with a non-finite time dropped.
    pub events: Vec<EventRecord>,
    /// `queues.csv`, `None` when the target wrote none.
    pub queues: Option<Vec<QueueRecord>>,
}

/// A phase of the run as the charts use it: payments starting in `[start_ms, end_ms)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseWindow {
    /// Phase name.
    pub name: String,
    /// Start, ms since the run's start.
    pub start_ms: f64,
    /// End (exclusive).
    pub end_ms: f64,
}

impl PhaseWindow {
    /// Whether a payment started at `start_ms` belongs to this phase.
    pub fn contains(&self, start_ms: f64) -> bool {
        start_ms >= self.start_ms && start_ms < self.end_ms
    }
}

impl RunData {
    /// The phases to compare: those of `kpis.json` except `all`, unless `all` is the only
    /// one; a single unbounded `all` when `kpis.json` lists none.
    pub fn phases(&self) -> Vec<PhaseWindow> {
        let window = |p: &flashmesh_scenario::PhaseKpis| PhaseWindow {
            name: p.phase.clone(),
            start_ms: p.start_ms as f64,
            end_ms: p.end_ms as f64,
        };
        let named: Vec<PhaseWindow> = self
            .kpis
            .phases
            .iter()
            .filter(|p| p.phase != "all")
            .map(window)
            .collect();
        if !named.is_empty() {
            return named;
        }
        match self.kpis.phase("all") {
            Some(all) => vec![window(all)],
            None => vec![PhaseWindow {
                name: "all".into(),
                start_ms: f64::NEG_INFINITY,
                end_ms: f64::INFINITY,
            }],
        }
    }
}

/// Reads the outputs in `dir`; notes about optional files go to `warnings`.
pub fn load_run(dir: &Path, warnings: &mut Vec<String>) -> Result<RunData, PlotError> {
    let kpis = load_kpis(dir)?;
    let payments = read_with(&dir.join("payments.csv"), read_payments)?
        .into_iter()
        .filter(|p| p.start_ms.is_finite())
        .collect();
    let events_path = dir.join("events.csv");
    let events = if events_path.exists() {
        read_with(&events_path, read_events)?
            .into_iter()
            .filter(|e| e.at_ms.is_finite())
            .collect()
    } else {
        warnings.push(format!(
            "{} is missing; no events marked",
            events_path.display()
        ));
        Vec::new()
    };
    let queues_path = dir.join("queues.csv");
    let queues = if queues_path.exists() {
        Some(
            read_with(&queues_path, read_queues)?
                .into_iter()
                .filter(|q| q.at_ms.is_finite())
                .collect(),
        )
    } else {
        None
    };
    Ok(RunData {
        kpis,
        payments,
        events,
        queues,
    })
}

/// Reads `dir/kpis.json`.
pub fn load_kpis(dir: &Path) -> Result<Kpis, PlotError> {
    read_with(&dir.join("kpis.json"), read_kpis)
}

fn read_with<T>(
    path: &Path,
    read: impl FnOnce(&Path) -> std::io::Result<T>,
) -> Result<T, PlotError> {
    read(path).map_err(|source| PlotError::Read {
        path: PathBuf::from(path),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_scenario::outputs::write_outputs;

    #[test]
    fn a_missing_kpis_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_run(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, PlotError::Read { path, .. } if path.ends_with("kpis.json")),
            "{err}"
        );
    }

    #[test]
    fn a_broken_payments_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path(), &Kpis::default(), &[], &[]).unwrap();
        std::fs::write(dir.path().join("payments.csv"), "id,start_ms\nx,y\n").unwrap();
        let err = load_run(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, PlotError::Read { path, .. } if path.ends_with("payments.csv")),
            "{err}"
        );
    }

    #[test]
    fn optional_files_may_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path(), &Kpis::default(), &[], &[]).unwrap();
        std::fs::remove_file(dir.path().join("events.csv")).unwrap();
        let mut warnings = Vec::new();
        let run = load_run(dir.path(), &mut warnings).unwrap();
        assert!(run.payments.is_empty() && run.events.is_empty());
        assert!(run.queues.is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    fn phase(name: &str, start_ms: u64, end_ms: u64) -> flashmesh_scenario::PhaseKpis {
        flashmesh_scenario::PhaseKpis {
            phase: name.into(),
            start_ms,
            end_ms,
            ..Default::default()
        }
    }

    #[test]
    fn phases_skip_all_unless_alone() {
        let mut run = RunData::default();
        assert_eq!(run.phases().len(), 1);
        assert!(run.phases()[0].contains(1e9));
        run.kpis.phases = vec![phase("all", 0, 300)];
        assert_eq!(run.phases()[0].end_ms, 300.0);
        run.kpis.phases.push(phase("calm", 0, 100));
        run.kpis.phases.push(phase("flood", 100, 300));
        let names: Vec<String> = run.phases().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["calm", "flood"]);
        let calm = &run.phases()[0];
        assert!(calm.contains(0.0) && calm.contains(99.9) && !calm.contains(100.0));
    }

    #[test]
    fn non_finite_times_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let ev = |at_ms| EventRecord {
            at_ms,
            kind: "link_cut".into(),
            detail: String::new(),
        };
        write_outputs(
            dir.path(),
            &Kpis::default(),
            &[],
            &[ev(1.0), ev(f64::NAN), ev(f64::INFINITY)],
        )
        .unwrap();
        let run = load_run(dir.path(), &mut Vec::new()).unwrap();
        assert_eq!(run.events, vec![ev(1.0)]);
    }
}
