//! `scaling.png` for a collection of runs: finality P50 and P95 of each run's `all` phase
//! against its number of merchants, one line each.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::PlotError;
use crate::font::Theme;
use crate::frame::{self, Axes, Line};
use crate::read::load_kpis;

/// The chart's file name.
pub const FILE: &str = "scaling.png";

/// One run of the collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScalePoint {
    pub merchants: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// Reads the point of each run folder, sorted by merchants; runs without an `all` phase or
/// without finality figures are left out.
pub(crate) fn points(dirs: &[PathBuf]) -> Result<Vec<ScalePoint>, PlotError> {
    let mut points = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let kpis = load_kpis(dir)?;
        let Some(all) = kpis.phase("all") else {
            continue;
        };
        let point = ScalePoint {
            merchants: kpis.run.merchants as f64,
            p50: all.finality_p50_ms.and_then(frame::clamp),
            p95: all.finality_p95_ms.and_then(frame::clamp),
        };
        if point.p50.is_some() || point.p95.is_some() {
            points.push(point);
        }
    }
    points.sort_by(|a, b| a.merchants.total_cmp(&b.merchants));
    Ok(points)
}

/// Draws `out/scaling.png` from the run folders `dirs` (creating `out` if needed) and returns
/// its path; [`PlotError::Empty`] when no run has finality figures.
pub fn plot_scaling(dirs: &[PathBuf], out: &Path) -> Result<PathBuf, PlotError> {
    let path = out.join(FILE);
    let points = points(dirs)?;
    std::fs::create_dir_all(out).map_err(|source| PlotError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let theme = crate::font::theme(&mut Vec::new());
    draw(&path, &points, theme)?;
    Ok(path)
}

/// Draws `points` to `path`.
pub(crate) fn draw(path: &Path, points: &[ScalePoint], theme: Theme) -> Result<(), PlotError> {
    if points.is_empty() {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
        });
    }
    let axes = Axes {
        title: "Finality against merchants (phase all)".into(),
        x_desc: "merchants",
        y_desc: "finality (ms)",
        x: frame::span(points.iter().map(|p| p.merchants)),
        y: frame::span_from_zero(points.iter().flat_map(|p| p.p50.into_iter().chain(p.p95))),
        whole_x: true,
    };
    frame::draw(
        path,
        theme,
        &axes,
        Some(SeriesLabelPosition::UpperLeft),
        |chart| {
            let line = |name, colour, pick: fn(&ScalePoint) -> Option<f64>| Line {
                name,
                colour,
                points: points
                    .iter()
                    .filter_map(|p| Some((p.merchants, pick(p)?)))
                    .collect(),
            };
            let lines = vec![
                line("P50", frame::colour(0), |p| p.p50),
                line("P95", frame::colour(1), |p| p.p95),
            ];
            frame::draw_lines(chart, lines, 2, 4)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_scenario::outputs::write_outputs;
    use flashmesh_scenario::{Kpis, PhaseKpis};

    fn run_dir(root: &Path, merchants: usize, p50: Option<f64>) -> PathBuf {
        let dir = root.join(format!("m{merchants}"));
        let kpis = Kpis {
            run: flashmesh_scenario::RunInfo {
                merchants,
                ..Default::default()
            },
            phases: vec![PhaseKpis {
                phase: "all".into(),
                finality_p50_ms: p50,
                finality_p95_ms: p50.map(|v| v * 2.0),
                ..Default::default()
            }],
            ..Default::default()
        };
        write_outputs(&dir, &kpis, &[], &[]).unwrap();
        dir
    }

    #[test]
    fn points_are_sorted_and_runs_without_figures_left_out() {
        let root = tempfile::tempdir().unwrap();
        let dirs = [
            run_dir(root.path(), 8, Some(40.0)),
            run_dir(root.path(), 2, Some(20.0)),
            run_dir(root.path(), 4, None),
        ];
        let p = points(&dirs).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].merchants, p[0].p95), (2.0, Some(40.0)));
        assert_eq!(p[1].merchants, 8.0);
    }

    #[test]
    fn one_run_or_none() {
        let root = tempfile::tempdir().unwrap();
        let one = [run_dir(root.path(), 3, Some(10.0))];
        let path = plot_scaling(&one, &root.path().join("out")).unwrap();
        assert!(path.exists());
        let none = [run_dir(root.path(), 5, None)];
        assert!(matches!(
            plot_scaling(&none, root.path()),
            Err(PlotError::Empty { .. })
        ));
        assert!(matches!(
            plot_scaling(&[], root.path()),
            Err(PlotError::Empty { .. })
        ));
        let missing = [root.path().join("nope")];
        assert!(matches!(
            plot_scaling(&missing, root.path()),
            Err(PlotError::Read { .. })
        ));
    }
}
