//! What every chart shares: the canvas size, axis ranges that survive bad data (empty, a
//! single value, huge values), a palette, and the frame (caption, grid, axes, legend) drawn
//! with text when the theme has a font and without when it has none.

use std::error::Error;
use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::PlotError;
use crate::font::Theme;

/// Width of every chart, pixels.
pub const WIDTH: u32 = 1000;
/// Height of every chart, pixels.
pub const HEIGHT: u32 = 600;

/// Values beyond this magnitude are clamped to it before they reach an axis.
const LIMIT: f64 = 1e12;

/// A chart with two `f64` axes on a PNG.
pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// What a chart body returns: any drawing error, turned into [`PlotError::Draw`] by [`draw`].
pub(crate) type DrawResult = Result<(), Box<dyn Error>>;

/// Titles and ranges of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Axes {
    pub title: String,
    pub x_desc: &'static str,
    pub y_desc: &'static str,
    pub x: Range<f64>,
    pub y: Range<f64>,
    /// Label only whole numbers on the x axis (counts).
    pub whole_x: bool,
}

/// `v` clamped into `±LIMIT`; non-finite values become `None`.
pub(crate) fn clamp(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(-LIMIT, LIMIT))
}

/// Smallest and largest finite value (clamped), if any.
fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter_map(clamp)
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// How much a range with a single value is widened by on each side.
fn widen(v: f64) -> f64 {
    (v.abs() * 0.1).max(1.0)
}

/// A range covering `values` with 5% room on each side; `0..1` for none, widened when all
/// values are equal.
pub(crate) fn span(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let Some((mut lo, mut hi)) = extent(values) else {
        return 0.0..1.0;
    };
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let w = widen(lo);
        lo -= w;
        hi += w;
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad)..(hi + pad)
}

/// A range from zero (or the lowest negative value) to the largest of `values`, with 5% room
/// above; `0..1` for none or all zero.
pub(crate) fn span_from_zero(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = extent(values).unwrap_or((0.0, 0.0));
    let (lo, mut hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        hi = lo + widen(lo);
    }
    let pad = (hi - lo) * 0.05;
    let lo = if lo < 0.0 { lo - pad } else { lo };
    lo..(hi + pad)
}

/// The `i`-th colour of the series palette.
pub(crate) fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
    ];
    PALETTE[i % PALETTE.len()]
}

/// Draws a chart to the PNG at `path`: frame and grid from `axes`, then `body`, then the legend
/// of the labelled series when `legend` and the theme has text.
pub(crate) fn draw(
    path: &Path,
    theme: Theme,
    axes: &Axes,
    legend: Option<SeriesLabelPosition>,
    body: impl FnOnce(&mut Chart<'_, '_>) -> DrawResult,
) -> Result<(), PlotError> {
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    draw_on(&root, theme, axes, legend, body).map_err(|e| PlotError::draw(path, e))?;
    root.present().map_err(|e| PlotError::draw(path, e))
}

fn draw_on(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    theme: Theme,
    axes: &Axes,
    legend: Option<SeriesLabelPosition>,
    body: impl FnOnce(&mut Chart<'_, '_>) -> DrawResult,
) -> DrawResult {
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(root);
    builder.margin(20);
    if let Some(style) = theme.text(22) {
        builder
            .caption(&axes.title, style)
            .x_label_area_size(50)
            .y_label_area_size(80);
    }
    let mut chart = builder.build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    {
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215));
        if let (Some(label), Some(desc)) = (theme.text(14), theme.text(16)) {
            mesh.x_desc(axes.x_desc)
                .y_desc(axes.y_desc)
                .label_style(label)
                .axis_desc_style(desc);
            if axes.whole_x {
                mesh.x_label_formatter(&whole);
            }
        }
        mesh.draw()?;
    }
    body(&mut chart)?;
    chart.plotting_area().draw(&Rectangle::new(
        [(axes.x.start, axes.y.start), (axes.x.end, axes.y.end)],
        BLACK.stroke_width(1),
    ))?;
    if let (Some(position), Some(style)) = (legend, theme.text(14)) {
        chart
            .configure_series_labels()
            .position(position)
            .label_font(style)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

/// A labelled line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub name: &'static str,
    pub colour: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// Draws `lines` (empty ones left out) `width` pixels wide with a dot of `point_size` at each
/// point, so that a line of one point still shows. Spiky data wants `width` 1: plotters joins
/// wider segments with mitres that overshoot far at sharp angles.
pub(crate) fn draw_lines(
    chart: &mut Chart<'_, '_>,
    lines: Vec<Line>,
    width: u32,
    point_size: u32,
) -> DrawResult {
    for line in lines {
        if line.points.is_empty() {
            continue;
        }
        chart
            .draw_series(
                LineSeries::new(line.points, line.colour.stroke_width(width))
                    .point_size(point_size),
            )?
            .label(line.name)
            .legend(legend_line(line.colour));
    }
    Ok(())
}

/// `v` as a whole number, or nothing when it has a fraction.
fn whole(v: &f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// A legend entry: a short line in `colour`.
pub(crate) fn legend_line(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_survive_bad_data() {
        assert_eq!(span([]), 0.0..1.0);
        assert_eq!(span([f64::NAN, f64::INFINITY]), 0.0..1.0);
        let r = span([5.0]);
        assert!(r.start < 5.0 && r.end > 5.0, "{r:?}");
        let r = span([1.0, 3.0]);
        assert!(
            (r.start - 0.9).abs() < 1e-9 && (r.end - 3.1).abs() < 1e-9,
            "{r:?}"
        );
        let r = span([0.0, 1e300]);
        assert!(r.end <= LIMIT * 1.06, "{r:?}");
    }

    #[test]
    fn ranges_from_zero() {
        assert_eq!(span_from_zero([]), 0.0..1.05);
        assert_eq!(span_from_zero([0.0, 0.0]), 0.0..1.05);
        let r = span_from_zero([10.0, 20.0]);
        assert_eq!(r.start, 0.0);
        assert!((r.end - 21.0).abs() < 1e-9, "{r:?}");
        let r = span_from_zero([7.0]);
        assert_eq!(r.start, 0.0);
        assert!(r.end > 7.0);
        assert!(span_from_zero([-4.0, 2.0]).start < -4.0);
    }

    #[test]
    fn whole_labels() {
        assert_eq!(whole(&4.0), "4");
        assert_eq!(whole(&4.2), "");
    }

    #[test]
    fn clamp_drops_non_finite() {
        assert_eq!(clamp(f64::NAN), None);
        assert_eq!(clamp(2.0), Some(2.0));
        assert_eq!(clamp(-1e20), Some(-LIMIT));
    }
}
