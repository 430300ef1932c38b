//! `finality_cdf.png`: the cumulative distribution of finality latency, one curve per phase
//! (a payment belongs to the phase its start falls in), the legend naming each phase and how
//! many final payments it had.

use std::path::Path;

use plotters::prelude::*;

use crate::PlotError;
use crate::font::Theme;
use crate::frame::{self, Axes};
use crate::read::RunData;

/// The chart's file name.
pub const FILE: &str = "finality_cdf.png";

/// The finality latencies of one phase, sorted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PhaseCurve {
    pub name: String,
    pub finality_ms: Vec<f64>,
}

/// One curve per phase of `run`, in phase order (curves may be empty).
pub(crate) fn curves(run: &RunData) -> Vec<PhaseCurve> {
    run.phases()
        .into_iter()
        .map(|phase| {
            let mut finality_ms: Vec<f64> = run
                .payments
                .iter()
                .filter(|p| phase.contains(p.start_ms))
                .filter_map(|p| p.finality_ms())
                .filter_map(frame::clamp)
                .collect();
            finality_ms.sort_by(f64::total_cmp);
            PhaseCurve {
                name: phase.name,
                finality_ms,
            }
        })
        .collect()
}

/// The corners of the empirical CDF of `sorted`: from `(first, 0)` up to `(last, 1)`, one
/// rise per distinct value (no zero-length segments: plotters draws those as spikes).
pub(crate) fn steps(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len() as f64;
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(sorted.len() * 2);
    for (i, &v) in sorted.iter().enumerate() {
        let below = i as f64 / n;
        let above = (i + 1) as f64 / n;
        match points.last_mut() {
            // The same value again: the rise gets taller.
            Some(last) if last.0 == v => last.1 = above,
            _ => {
                points.push((v, below));
                points.push((v, above));
            }
        }
    }
    points
}

/// Draws `curves` to `path`; [`PlotError::Empty`] when no curve has a point.
pub(crate) fn draw(path: &Path, curves: &[PhaseCurve], theme: Theme) -> Result<(), PlotError> {
    if curves.iter().all(|c| c.finality_ms.is_empty()) {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
        });
    }
    let x = frame::span_from_zero(curves.iter().flat_map(|c| c.finality_ms.iter().copied()));
    let axes = Axes {
        title: "Finality latency CDF by phase".into(),
        x_desc: "finality (ms)",
        y_desc: "fraction of final payments",
        x: x.clone(),
        y: 0.0..1.02,
        whole_x: false,
    };
    frame::draw(
        path,
        theme,
        &axes,
        Some(SeriesLabelPosition::LowerRight),
        |chart| {
            for (i, curve) in curves.iter().enumerate() {
                if curve.finality_ms.is_empty() {
                    continue;
                }
                let colour = frame::colour(i);
                let mut points = steps(&curve.finality_ms);
                // Carry the finished curve on to the right edge.
                if points.last().is_some_and(|p| p.0 < x.end) {
                    points.push((x.end, 1.0));
                }
                chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                    .label(format!("{} (n={})", curve.name, curve.finality_ms.len()))
                    .legend(frame::legend_line(colour));
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_scenario::outputs::{PaymentOutcome, PaymentRecord};
    use flashmesh_scenario::{Kpis, PhaseKpis};

    fn pay(start_ms: f64, finality: Option<f64>) -> PaymentRecord {
        PaymentRecord {
            id: 0,
            payer: "p0".into(),
            payee: "m0".into(),
            committee: "c".into(),
            amount: 1,
            nonce: 0,
            start_ms,
            end_ms: finality.map(|f| start_ms + f),
            outcome: if finality.is_some() {
                PaymentOutcome::Ok
            } else {
                PaymentOutcome::Failed
            },
            reason: String::new(),
            cert_ms: None,
            retries: 0,
            path: String::new(),
        }
    }

    fn run() -> RunData {
        let phase = |name: &str, start_ms, end_ms| PhaseKpis {
            phase: name.into(),
            start_ms,
            end_ms,
            ..Default::default()
        };
        RunData {
            kpis: Kpis {
                phases: vec![
                    phase("all", 0, 200),
                    phase("a", 0, 100),
                    phase("b", 100, 200),
                ],
                ..Default::default()
            },
            payments: vec![
                pay(10.0, Some(30.0)),
                pay(20.0, Some(10.0)),
                pay(50.0, None),
                pay(150.0, Some(f64::NAN)),
                pay(160.0, Some(80.0)),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn payments_go_to_the_phase_they_started_in() {
        let c = curves(&run());
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].name.as_str(), &c[0].finality_ms[..]),
            ("a", &[10.0, 30.0][..])
        );
        assert_eq!(
            (c[1].name.as_str(), &c[1].finality_ms[..]),
            ("b", &[80.0][..])
        );
    }

    #[test]
    fn steps_rise_to_one() {
        assert_eq!(
            steps(&[1.0, 2.0]),
            vec![(1.0, 0.0), (1.0, 0.5), (2.0, 0.5), (2.0, 1.0)]
        );
        assert_eq!(
            steps(&[1.0, 1.0, 3.0, 3.0]),
            vec![(1.0, 0.0), (1.0, 0.5), (3.0, 0.5), (3.0, 1.0)]
        );
        assert!(steps(&[]).is_empty());
    }

    #[test]
    fn draws_with_and_without_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        draw(&path, &curves(&run()), Theme::plain()).unwrap();
        assert!(path.exists());
        let theme = crate::font::theme(&mut Vec::new());
        draw(&path, &curves(&run()), theme).unwrap();
    }

    #[test]
    fn nothing_final_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let none = vec![PhaseCurve {
            name: "a".into(),
            finality_ms: vec![],
        }];
        assert!(matches!(
            draw(&path, &none, Theme::plain()),
            Err(PlotError::Empty { .. })
        ));
        assert!(!path.exists());
    }
}
