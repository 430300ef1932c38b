//! Flash-Mesh experiment plots: PNG charts drawn from a run's output folder (`kpis.json`,
//! `payments.csv`, `events.csv`, optionally `queues.csv`) written by any target.
//!
//! [`plot_dir`] draws `finality_cdf.png`, `finality_over_time.png` and, when the target
//! sampled queues, `queue_depth.png` into the run's folder; [`plot_scaling`] compares a
//! collection of runs in `scaling.png`. Text is drawn with a TTF found at run time (DejaVu
//! Sans by default); without one the charts are drawn without text and a warning says so.

mod cdf;
mod error;
mod font;
mod frame;
mod read;
mod scaling;
mod timeline;

use std::path::{Path, PathBuf};

pub use error::PlotError;
pub use font::{FONT_ENV, FONT_PATHS};
pub use frame::{HEIGHT, WIDTH};
pub use read::{PhaseWindow, RunData, load_run};
pub use scaling::plot_scaling;

/// File names of the charts.
pub mod files {
    pub use crate::cdf::FILE as FINALITY_CDF;
    pub use crate::scaling::FILE as SCALING;
    pub use crate::timeline::{FINALITY_FILE as FINALITY_OVER_TIME, QUEUE_FILE as QUEUE_DEPTH};
}

/// What [`plot_dir`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotReport {
    /// The PNGs written.
    pub written: Vec<PathBuf>,
    /// Charts left out and why, missing optional files, a missing font.
    pub warnings: Vec<String>,
}

/// Draws the charts of the run in `dir` into `dir`. A chart without data is left out with a
/// warning; [`PlotError::Empty`] when no chart had any.
pub fn plot_dir(dir: &Path) -> Result<PlotReport, PlotError> {
    let mut report = PlotReport::default();
    let run = load_run(dir, &mut report.warnings)?;
    let theme = font::theme(&mut report.warnings);

    let path = dir.join(cdf::FILE);
    let drawn = cdf::draw(&path, &cdf::curves(&run), theme);
    record(path, drawn, &mut report)?;

    let path = dir.join(timeline::FINALITY_FILE);
    let drawn = timeline::draw_finality(&path, &run, theme);
    record(path, drawn, &mut report)?;

    if let Some(queues) = &run.queues {
        let path = dir.join(timeline::QUEUE_FILE);
        let drawn = timeline::draw_queues(&path, &run, queues, theme);
        record(path, drawn, &mut report)?;
    }

    if report.written.is_empty() {
        return Err(PlotError::Empty {
            path: dir.to_path_buf(),
        });
    }
    Ok(report)
}

/// Notes the outcome of drawing the chart at `path`: written, left out for lack of data, or
/// a failure that stops the run's plots.
fn record(
    path: PathBuf,
    drawn: Result<(), PlotError>,
    report: &mut PlotReport,
) -> Result<(), PlotError> {
    match drawn {
        Ok(()) => report.written.push(path),
        Err(PlotError::Empty { .. }) => report
            .warnings
            .push(format!("{} not drawn: nothing to plot", path.display())),
        Err(e) => return Err(e),
    }
    Ok(())
}
