use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ExperimentError;
use crate::plot::{PLOT_SIZE, range, register_font, tick};

/// One line of [`plot_curves`]: a mean over runs at each step, with its standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The legend entry.
    pub name: String,
    /// The mean at steps 1, 2, ...
    pub mean: Vec<f64>,
    /// The standard deviation at the same steps.
    pub std: Vec<f64>,
}

impl Curve {
    /// The mean and standard deviation, step by step, of `runs` (runs shorter than the longest
    /// count at the steps they reached).
    pub fn of(name: impl Into<String>, runs: &[Vec<f64>]) -> Self {
        let steps = runs.iter().map(Vec::len).max().unwrap_or(0);
        let (mut mean, mut std) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for step in 0..steps {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.get(step).copied())
                .collect();
            let (m, s) = crate::stats::mean_std(&values);
            mean.push(m);
            std.push(s);
        }
        Curve {
            name: name.into(),
            mean,
            std,
        }
    }
}

/// Plots each curve's mean against the step, with a band of one standard deviation, as
/// `{stem}.png` and `{stem}.svg` (best-so-far against trials, say). Returns the two paths.
pub fn plot_curves(
    curves: &[Curve],
    x: &str,
    y: &str,
    stem: &Path,
) -> Result<[PathBuf; 2], ExperimentError> {
    register_font();
    let (png, svg) = (stem.with_extension("png"), stem.with_extension("svg"));
    let error = |path: &Path| {
        let path = path.to_owned();
        move |e: String| ExperimentError::Plot { path, message: e }
    };
    draw(
        BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area(),
        curves,
        x,
        y,
    )
    .map_err(error(&png))?;
    draw(
        SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area(),
        curves,
        x,
        y,
    )
    .map_err(error(&svg))?;
    Ok([png, svg])
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    curves: &[Curve],
    x: &str,
    y: &str,
) -> Result<(), String> {
    let steps = curves
        .iter()
        .map(|c| c.mean.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let values = curves.iter().flat_map(|c| {
        c.mean
            .iter()
            .zip(&c.std)
            .flat_map(|(m, s)| [m - s, m + s])
            .filter(|v| v.is_finite())
    });
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y} against {x}"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            1.0..steps as f64,
            range(values.collect::<Vec<_>>().into_iter()),
        )
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
    for (i, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let at = |step: usize| (step + 1) as f64;
        let upper = curve.mean.iter().zip(&curve.std).map(|(m, s)| m + s);
        let lower = curve.mean.iter().zip(&curve.std).map(|(m, s)| m - s);
        let band: Vec<(f64, f64)> = upper
            .enumerate()
            .map(|(i, v)| (at(i), v))
            .chain(lower.enumerate().map(|(i, v)| (at(i), v)).rev())
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color.mix(0.15).filled(),
            )))
            .map_err(|e| e.to_string())?;
        let line: Vec<(f64, f64)> = curve
            .mean
            .iter()
            .enumerate()
            .map(|(i, m)| (at(i), *m))
            .collect();
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(curve.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
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

/// One front of [`plot_fronts`]: named points, joined in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Front {
    /// The legend entry.
    pub name: String,
    /// `(x, y)`, in the order they are joined.
    pub points: Vec<(f64, f64)>,
}

/// Plots several fronts (accuracy against each device's latency, say) on one chart, each a line
/// through marked points, as `{stem}.png` and `{stem}.svg`. Returns the two paths.
pub fn plot_fronts(
    fronts: &[Front],
    x: &str,
    y: &str,
    stem: &Path,
) -> Result<[PathBuf; 2], ExperimentError> {
    register_font();
    let (png, svg) = (stem.with_extension("png"), stem.with_extension("svg"));
    let error = |path: &Path| {
        let path = path.to_owned();
        move |e: String| ExperimentError::Plot { path, message: e }
    };
    draw_fronts(
        BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area(),
        fronts,
        x,
        y,
    )
    .map_err(error(&png))?;
    draw_fronts(
        SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area(),
        fronts,
        x,
        y,
    )
    .map_err(error(&svg))?;
    Ok([png, svg])
}

fn draw_fronts<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    fronts: &[Front],
    x: &str,
    y: &str,
) -> Result<(), String> {
    let points = || fronts.iter().flat_map(|f| f.points.iter().copied());
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y} against {x}"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            range(points().map(|p| p.0).collect::<Vec<_>>().into_iter()),
            range(points().map(|p| p.1).collect::<Vec<_>>().into_iter()),
        )
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
    for (i, front) in fronts.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                front.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(front.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(
                front
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
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
