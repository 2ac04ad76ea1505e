use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::{ExperimentError, TrialRecord};

/// Width and height of every plot, pixels (PNG) or user units (SVG).
pub const PLOT_SIZE: (u32, u32) = (800, 560);

/// Plots `y` against `x` for every record, the Pareto `front` highlighted and joined, as
/// `{stem}.png` and `{stem}.svg`. Returns the two paths.
pub fn plot_tradeoff(
    records: &[&TrialRecord],
    front: &[&TrialRecord],
    x: &str,
    y: &str,
    stem: &Path,
) -> Result<[PathBuf; 2], ExperimentError> {
    let points = |records: &[&TrialRecord]| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter_map(|r| Some((*r.metrics.get(x)?, *r.metrics.get(y)?)))
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .collect()
    };
    let all = points(records);
    let mut front = points(front);
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    render(&Tradeoff { all, front, x, y }, stem)
}

/// A chart drawn on any plotters backend: [`render`] draws it as PNG and as SVG.
pub(crate) trait Chart {
    /// Draws the chart on `root`.
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws `chart` into `{stem}.png` and `{stem}.svg` and returns the two paths.
pub(crate) fn render(chart: &impl Chart, stem: &Path) -> Result<[PathBuf; 2], ExperimentError> {
    register_font();
    let (png, svg) = (stem.with_extension("png"), stem.with_extension("svg"));
    let error = |path: &Path| {
        let path = path.to_owned();
        move |message: String| ExperimentError::Plot { path, message }
    };
    chart
        .draw(BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area())
        .map_err(error(&png))?;
    chart
        .draw(SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area())
        .map_err(error(&svg))?;
    Ok([png, svg])
}

/// The chart every plot draws on.
pub(crate) type Frame<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white page with the caption and axes labelled `(x, y)` over the ranges.
pub(crate) fn frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    (x_range, y_range): (std::ops::Range<f64>, std::ops::Range<f64>),
    (x, y): (&str, &str),
    caption: &str,
) -> Result<Frame<'a, DB>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// Draws the legend of `chart` and writes the page out.
pub(crate) fn finish<'a, DB: DrawingBackend + 'a>(
    mut chart: Frame<'a, DB>,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Every trial, and the Pareto front joined.
struct Tradeoff<'a> {
    all: Vec<(f64, f64)>,
    front: Vec<(f64, f64)>,
    x: &'a str,
    y: &'a str,
}

/// The axis scale and label: large counts in millions.
fn scaled(metric: &str, values: impl Iterator<Item = f64>) -> (f64, String) {
    let max = values.fold(0.0f64, |m, v| m.max(v.abs()));
    if max >= 1e6 {
        (1e-6, format!("{metric} (millions)"))
    } else if max >= 1e4 {
        (1e-3, format!("{metric} (thousands)"))
    } else {
        (1.0, metric.to_string())
    }
}

pub(crate) fn range(values: impl Iterator<Item = f64> + Clone) -> std::ops::Range<f64> {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.01).max(1e-9);
    (lo - pad)..(hi + pad)
}

impl Chart for Tradeoff<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let (x, y) = (self.x, self.y);
        let (x_scale, x_label) = scaled(x, self.all.iter().map(|p| p.0));
        let (y_scale, y_label) = scaled(y, self.all.iter().map(|p| p.1));
        let scale = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            points
                .iter()
                .map(|&(a, b)| (a * x_scale, b * y_scale))
                .collect()
        };
        let (all, front) = (scale(&self.all), scale(&self.front));
        let ranges = (
            range(all.iter().map(|p| p.0)),
            range(all.iter().map(|p| p.1)),
        );
        let caption = format!("{y} against {x}");
        let mut chart = frame(&root, ranges, (&x_label, &y_label), &caption)?;
        let trials = BLUE.mix(0.45);
        chart
            .draw_series(all.iter().map(|&p| Circle::new(p, 3, trials.filled())))
            .map_err(|e| e.to_string())?
            .label("trials")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, trials.filled()));
        chart
            .draw_series(LineSeries::new(front.iter().copied(), RED.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(front.iter().map(|&p| Circle::new(p, 4, RED.filled())))
            .map_err(|e| e.to_string())?
            .label("Pareto front")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
        finish(chart, &root)
    }
}

/// Tick labels with as many decimals as their size needs.
fn tick(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.3}"),
    }
}

/// Bitmaps need glyphs; the font ships with the crate so plots render on machines without fonts.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, font)
            .unwrap_or_else(|_| panic!("the embedded font is valid"));
    });
}
