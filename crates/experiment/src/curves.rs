use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ExperimentError;
use crate::plot::{Chart, finish, frame, range, render};

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
            let (m, s) = hwnas_benchmark::stats::mean_std(&values);
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
    render(&Curves { curves, x, y }, stem)
}

struct Curves<'a> {
    curves: &'a [Curve],
    x: &'a str,
    y: &'a str,
}

impl Chart for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let steps = self
            .curves
            .iter()
            .map(|c| c.mean.len())
            .max()
            .unwrap_or(1)
            .max(2);
        let values: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| c.mean.iter().zip(&c.std).flat_map(|(m, s)| [m - s, m + s]))
            .filter(|v| v.is_finite())
            .collect();
        let ranges = (1.0..steps as f64, range(values.into_iter()));
        let caption = format!("{} against {}", self.y, self.x);
        let mut chart = frame(&root, ranges, (self.x, self.y), &caption)?;
        for (i, curve) in self.curves.iter().enumerate() {
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
            let line = curve.mean.iter().enumerate().map(|(i, m)| (at(i), *m));
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(curve.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        finish(chart, &root)
    }
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
    render(&Fronts { fronts, x, y }, stem)
}

struct Fronts<'a> {
    fronts: &'a [Front],
    x: &'a str,
    y: &'a str,
}

impl Chart for Fronts<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let points: Vec<(f64, f64)> = self.fronts.iter().flat_map(|f| f.points.clone()).collect();
        let ranges = (
            range(points.iter().map(|p| p.0)),
            range(points.iter().map(|p| p.1)),
        );
        let caption = format!("{} against {}", self.y, self.x);
        let mut chart = frame(&root, ranges, (self.x, self.y), &caption)?;
        for (i, front) in self.fronts.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    front.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(front.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    front
                        .points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        finish(chart, &root)
    }
}
