//! Charts over the run's time, in seconds: `finality_over_time.png` (each final payment at its
//! start with its finality latency; failed and unfinished ones marked in rows at the top) and
//! `queue_depth.png` (the deepest class-0 and class-2 queue). Both shade the phases and mark
//! each event with a vertical line labelled by its kind.

use std::ops::Range;
use std::path::Path;

use flashmesh_scenario::outputs::{EventRecord, PaymentOutcome, QueueRecord};
use plotters::prelude::*;

use crate::PlotError;
use crate::font::Theme;
use crate::frame::{self, Axes, Chart, DrawResult, Line};
use crate::read::{PhaseWindow, RunData};

/// The finality chart's file name.
pub const FINALITY_FILE: &str = "finality_over_time.png";
/// The queue chart's file name.
pub const QUEUE_FILE: &str = "queue_depth.png";

/// Rows of event labels below the top edge (the row above them names the phases).
const LABEL_ROWS: usize = 4;
/// Height of a label row, pixels.
const ROW_PX: i32 = 16;

fn secs(ms: f64) -> f64 {
    ms / 1000.0
}

/// The time axis: zero to the last payment, event, phase boundary or `more` (all in ms).
fn time_range(run: &RunData, more: impl IntoIterator<Item = f64>) -> Range<f64> {
    let phases = run.phases();
    let ends = phases
        .iter()
        .flat_map(|p| [p.start_ms, p.end_ms])
        .filter(|v| v.is_finite());
    let times = run
        .payments
        .iter()
        .map(|p| p.start_ms)
        .chain(run.events.iter().map(|e| e.at_ms))
        .chain(ends)
        .chain(more)
        .map(secs);
    frame::span_from_zero(times)
}

/// Draws the finality chart of `run` to `path`; [`PlotError::Empty`] without payments.
pub(crate) fn draw_finality(path: &Path, run: &RunData, theme: Theme) -> Result<(), PlotError> {
    if run.payments.is_empty() {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut unfinished = Vec::new();
    for p in &run.payments {
        let Some(at) = frame::clamp(secs(p.start_ms)) else {
            continue;
        };
        match (p.outcome, p.finality_ms().and_then(frame::clamp)) {
            (PaymentOutcome::Ok, Some(f)) => ok.push((at, f)),
            (PaymentOutcome::Ok, None) => {}
            (PaymentOutcome::Failed, _) => failed.push(at),
            (PaymentOutcome::Unfinished, _) => unfinished.push(at),
        }
    }
    let data_top = frame::span_from_zero(ok.iter().map(|&(_, f)| f)).end;
    // Failed and unfinished payments have no finality: rows of marks above the final ones.
    let failed_at = data_top * 1.15;
    let unfinished_at = data_top * 1.07;
    let axes = Axes {
        title: "Finality over time".into(),
        x_desc: "payment start (s)",
        y_desc: "finality (ms)",
        x: time_range(run, []),
        y: 0.0..data_top * 1.4,
        whole_x: false,
    };
    frame::draw(
        path,
        theme,
        &axes,
        Some(SeriesLabelPosition::MiddleRight),
        |chart| {
            mark_phases(chart, &run.phases(), &axes, theme)?;
            mark_events(chart, &run.events, &axes, theme)?;
            if !ok.is_empty() {
                let c = frame::colour(0);
                chart
                    .draw_series(ok.iter().map(|&p| Circle::new(p, 2, c.filled())))?
                    .label(format!("final (n={})", ok.len()))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 3, c.filled()));
            }
            if !unfinished.is_empty() {
                let c = frame::colour(1);
                chart
                    .draw_series(
                        unfinished
                            .iter()
                            .map(|&at| TriangleMarker::new((at, unfinished_at), 5, c.filled())),
                    )?
                    .label(format!("unfinished (n={})", unfinished.len()))
                    .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, c.filled()));
            }
            if !failed.is_empty() {
                let c = RED;
                chart
                    .draw_series(
                        failed
                            .iter()
                            .map(|&at| Cross::new((at, failed_at), 4, c.stroke_width(2))),
                    )?
                    .label(format!("failed (n={})", failed.len()))
                    .legend(move |(x, y)| Cross::new((x + 10, y), 4, c.stroke_width(2)));
            }
            Ok(())
        },
    )
}

/// Draws the queue chart of `queues` (with `run`'s phases and events) to `path`;
/// [`PlotError::Empty`] without samples.
pub(crate) fn draw_queues(
    path: &Path,
    run: &RunData,
    queues: &[QueueRecord],
    theme: Theme,
) -> Result<(), PlotError> {
    let samples: Vec<(f64, f64, f64)> = queues
        .iter()
        .filter_map(|q| {
            Some((
                frame::clamp(secs(q.at_ms))?,
                frame::clamp(q.class0 as f64)?,
                frame::clamp(q.class2 as f64)?,
            ))
        })
        .collect();
    if samples.is_empty() {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
        });
    }
    let top = frame::span_from_zero(samples.iter().flat_map(|&(_, a, b)| [a, b])).end;
    let axes = Axes {
        title: "Deepest port queue per class".into(),
        x_desc: "time (s)",
        y_desc: "queue depth (packets)",
        x: time_range(run, queues.iter().map(|q| q.at_ms)),
        y: 0.0..top * 1.4,
        whole_x: false,
    };
    let point_size = if samples.len() <= 200 { 2 } else { 0 };
    frame::draw(
        path,
        theme,
        &axes,
        Some(SeriesLabelPosition::MiddleRight),
        |chart| {
            mark_phases(chart, &run.phases(), &axes, theme)?;
            mark_events(chart, &run.events, &axes, theme)?;
            let lines = vec![
                Line {
                    name: "class 0 (BCB)",
                    colour: frame::colour(0),
                    points: samples.iter().map(|&(t, a, _)| (t, a)).collect(),
                },
                Line {
                    name: "class 2 (best effort)",
                    colour: frame::colour(1),
                    points: samples.iter().map(|&(t, _, b)| (t, b)).collect(),
                },
            ];
            frame::draw_lines(chart, lines, 1, point_size)
        },
    )
}

/// Shades every other phase, draws a dashed line at each phase boundary and names each phase
/// at the top of its band (when the name fits before the next one).
fn mark_phases(
    chart: &mut Chart<'_, '_>,
    phases: &[PhaseWindow],
    axes: &Axes,
    theme: Theme,
) -> DrawResult {
    let (x, y) = (&axes.x, &axes.y);
    let grey = RGBColor(120, 120, 120);
    for (i, phase) in phases.iter().enumerate() {
        let start = secs(phase.start_ms).max(x.start);
        let end = secs(phase.end_ms).min(x.end);
        if start >= end {
            continue;
        }
        if i % 2 == 1 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(start, y.start), (end, y.end)],
                RGBColor(242, 242, 248).filled(),
            )))?;
        }
        for edge in [start, end] {
            if edge > x.start && edge < x.end {
                chart.draw_series(DashedLineSeries::new(
                    [(edge, y.start), (edge, y.end)],
                    6,
                    4,
                    grey.stroke_width(1),
                ))?;
            }
        }
    }
    let Some(style) = theme.text(13) else {
        return Ok(());
    };
    let style = style.color(&grey);
    let mut free_from = i32::MIN;
    for phase in phases {
        let start = secs(phase.start_ms).max(x.start);
        if start >= secs(phase.end_ms).min(x.end) {
            continue;
        }
        let left = chart.backend_coord(&(start, y.end)).0 + 4;
        if left < free_from {
            continue;
        }
        free_from = left + 8 * phase.name.chars().count() as i32 + 6;
        chart.draw_series(std::iter::once(
            EmptyElement::at((start, y.end)) + Text::new(phase.name.clone(), (4, 3), style.clone()),
        ))?;
    }
    Ok(())
}

/// The colour of events of `kind` (the same kind, the same colour).
fn event_colour(kind: &str) -> RGBColor {
    let hash = kind.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    frame::colour(2 + hash % 6)
}

/// Which label row each label goes in, given its left pixel and width, or `None` when every
/// row is taken there (labels never overlap; those that would are left out).
pub(crate) fn label_rows(labels: &[(i32, i32)]) -> Vec<Option<usize>> {
    let mut free_from = [i32::MIN; LABEL_ROWS];
    labels
        .iter()
        .map(|&(left, width)| {
            let row = free_from.iter().position(|&f| left >= f)?;
            free_from[row] = left + width + 6;
            Some(row)
        })
        .collect()
}

/// Draws each event as a vertical line in its kind's colour, labelled with the kind below
/// the top edge.
fn mark_events(
    chart: &mut Chart<'_, '_>,
    events: &[EventRecord],
    axes: &Axes,
    theme: Theme,
) -> DrawResult {
    let (x, y) = (&axes.x, &axes.y);
    let mut shown: Vec<(f64, &EventRecord)> = events
        .iter()
        .filter_map(|e| Some((frame::clamp(secs(e.at_ms))?, e)))
        .filter(|(at, _)| x.contains(at))
        .collect();
    shown.sort_by(|a, b| a.0.total_cmp(&b.0));
    for &(at, e) in &shown {
        chart.draw_series(LineSeries::new(
            [(at, y.start), (at, y.end)],
            event_colour(&e.kind).stroke_width(1),
        ))?;
    }
    let Some(style) = theme.text(12) else {
        return Ok(());
    };
    let placed: Vec<(i32, i32)> = shown
        .iter()
        .map(|&(at, e)| {
            let left = chart.backend_coord(&(at, y.end)).0 + 3;
            // About 7 px a character at 12 px.
            let width = 7 * e.kind.chars().count() as i32;
            (left, width)
        })
        .collect();
    for (&(at, e), row) in shown.iter().zip(label_rows(&placed)) {
        let Some(row) = row else { continue };
        let colour = event_colour(&e.kind);
        let style = style.color(&colour);
        chart.draw_series(std::iter::once(
            EmptyElement::at((at, y.end))
                + Text::new(e.kind.clone(), (3, 3 + ROW_PX * (row as i32 + 1)), style),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_scenario::outputs::PaymentRecord;
    use flashmesh_scenario::{Kpis, PhaseKpis};

    fn pay(start_ms: f64, outcome: PaymentOutcome, finality: f64) -> PaymentRecord {
        PaymentRecord {
            id: 0,
            payer: "p0".into(),
            payee: "m0".into(),
            committee: "c".into(),
            amount: 1,
            nonce: 0,
            start_ms,
            end_ms: Some(start_ms + finality),
            outcome,
            reason: String::new(),
            cert_ms: None,
            retries: 0,
            path: String::new(),
        }
    }

    fn run(payments: Vec<PaymentRecord>) -> RunData {
        let phase = |name: &str, start_ms, end_ms| PhaseKpis {
            phase: name.into(),
            start_ms,
            end_ms,
            ..Default::default()
        };
        RunData {
            kpis: Kpis {
                phases: vec![
                    phase("all", 0, 3000),
                    phase("a", 0, 1000),
                    phase("b", 1000, 3000),
                ],
                ..Default::default()
            },
            payments,
            events: vec![EventRecord {
                at_ms: 1500.0,
                kind: "link_cut".into(),
                detail: String::new(),
            }],
            queues: None,
        }
    }

    #[test]
    fn label_rows_never_overlap() {
        assert_eq!(
            label_rows(&[(0, 50), (10, 50), (20, 50), (30, 50), (40, 50), (100, 20)]),
            vec![Some(0), Some(1), Some(2), Some(3), None, Some(0)]
        );
    }

    #[test]
    fn the_time_axis_covers_phases_and_events() {
        let r = time_range(&run(vec![]), []);
        assert_eq!(r.start, 0.0);
        assert!(r.end >= 3.0);
        let r = time_range(&run(vec![]), [9000.0]);
        assert!(r.end >= 9.0);
    }

    #[test]
    fn all_failed_and_single_point_runs_draw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FINALITY_FILE);
        let theme = crate::font::theme(&mut Vec::new());
        for payments in [
            vec![pay(10.0, PaymentOutcome::Failed, 0.0)],
            vec![pay(10.0, PaymentOutcome::Ok, 25.0)],
            vec![
                pay(10.0, PaymentOutcome::Ok, 1e300),
                pay(20.0, PaymentOutcome::Unfinished, 0.0),
            ],
        ] {
            draw_finality(&path, &run(payments.clone()), theme).unwrap();
            draw_finality(&path, &run(payments), Theme::plain()).unwrap();
        }
    }

    #[test]
    fn no_payments_or_samples_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FINALITY_FILE);
        let err = draw_finality(&path, &run(vec![]), Theme::plain()).unwrap_err();
        assert!(matches!(err, PlotError::Empty { .. }));
        let path = dir.path().join(QUEUE_FILE);
        let err = draw_queues(&path, &run(vec![]), &[], Theme::plain()).unwrap_err();
        assert!(matches!(err, PlotError::Empty { .. }));
    }

    #[test]
    fn a_single_queue_sample_draws() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(QUEUE_FILE);
        let q = [QueueRecord {
            at_ms: 500.0,
            class0: 0,
            class2: 0,
        }];
        let theme = crate::font::theme(&mut Vec::new());
        draw_queues(&path, &run(vec![]), &q, theme).unwrap();
        assert!(path.exists());
    }
}
