//! Latency of a device from a few measured networks.
//!
//! A fitted latency is a nonnegative combination of terms plus a nonnegative intercept: what a base
//! table predicts (drift and transfer), per-layer features of the network (how many layers of
//! each kind it runs, its FLOPs), and, for a space small enough to list, the published latencies
//! of reference devices (a device is described by how it times reference networks, the HELP
//! idea). Nonnegative weights keep every layer's cost, and so every prediction, nonnegative,
//! which is physics and, with
//! ten measurements against twenty terms, the regularisation. Several candidate models (subsets
//! of the terms) are scored by their leave-one-out error on the measurements, and the simplest
//! within one standard error of the best wins, so nothing held out is ever looked at.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use hwnas_space::{Layer, ModelSpace, Shape};

use crate::ProfileError;
use crate::count::{CountOptions, layer_counts};
use crate::rank::PredictionAccuracy;
use crate::table::LayerTable;

/// What a term of a fitted latency reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermSource {
    /// The prediction of base table number `.0` of [`Design::bases`].
    Base(usize),
    /// Per-layer feature number `.0` of [`Design::features`] (for a space: [`LayerFeatures`]).
    Feature(usize),
    /// Reference device number `.0` of [`Design::references`].
    Reference(usize),
}

/// One weighted term of a [`LatencyFit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    /// What it reads, for people: `base <device>`, `layers: conv2d`, `MFLOPs`, `device pixel3`.
    pub name: String,
    /// What it reads.
    pub source: TermSource,
    /// Its weight (nonnegative): ms per unit of the term.
    pub weight: f64,
}

/// A candidate model and its leave-one-out error on the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateError {
    /// The candidate (`scale base 1`, `layers`, `reference devices`, ...).
    pub name: String,
    /// Root mean squared log ratio of the left-out predictions to the measurements (0.1 is
    /// about 10 %); `None` with fewer than three measurements, when the choice is in-sample.
    pub loo_rmsle: Option<f64>,
}

/// A fitted latency: `sum of weight x term + intercept`, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyFit {
    /// The candidate that won.
    pub model: String,
    /// Its terms with a nonzero weight.
    pub terms: Vec<Term>,
    /// ms.
    pub intercept: f64,
    /// Every candidate tried, with its error.
    pub candidates: Vec<CandidateError>,
    /// The winner's left-out predictions against the measurements (three or more).
    pub leave_one_out: Option<PredictionAccuracy>,
}

/// The terms known at each measured network; `base`, `features` and `references` are indexed
/// `[term][measurement]`.
#[derive(Debug, Clone, Default)]
pub struct Design {
    /// Per base table, its name and its predictions.
    pub bases: Vec<(String, Vec<f64>)>,
    /// Per feature, its name and its values.
    pub features: Vec<(String, Vec<f64>)>,
    /// Per reference device, its name and its latencies.
    pub references: Vec<(String, Vec<f64>)>,
}

/// Why a latency cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Fewer measurements than the terms need.
    #[error("{0}")]
    TooFew(String),
    /// A measurement that is not a latency.
    #[error("measurement #{index}: {value} ms is not a latency (a positive number)")]
    NotALatency {
        /// 1-based.
        index: usize,
        /// The value.
        value: f64,
    },
}

struct Candidate {
    name: String,
    terms: Vec<TermSource>,
    intercept: bool,
    /// Nothing fitted: the one term with weight 1 (a base as it is).
    fixed: bool,
}

impl Candidate {
    /// A candidate whose weights are fitted.
    fn fitted(name: String, terms: Vec<TermSource>, intercept: bool) -> Self {
        Self {
            name,
            terms,
            intercept,
            fixed: false,
        }
    }

    /// How many parameters it fits.
    fn parameters(&self) -> usize {
        if self.fixed {
            0
        } else {
            self.terms.len() + usize::from(self.intercept)
        }
    }
}

impl Design {
    fn column(&self, source: TermSource) -> &(String, Vec<f64>) {
        match source {
            TermSource::Base(i) => &self.bases[i],
            TermSource::Feature(i) => &self.features[i],
            TermSource::Reference(i) => &self.references[i],
        }
    }

    /// The candidate models these terms allow with `k` measurements, simplest first (ties go
    /// to the simpler).
    fn candidates(&self, k: usize) -> Vec<Candidate> {
        let bases = || {
            self.bases
                .iter()
                .enumerate()
                .map(|(i, (name, _))| (i, name))
        };
        let features: Vec<TermSource> = (0..self.features.len()).map(TermSource::Feature).collect();
        let references: Vec<TermSource> = (0..self.references.len())
            .map(TermSource::Reference)
            .collect();
        let with_base = |i: usize, rest: &[TermSource]| -> Vec<TermSource> {
            std::iter::once(TermSource::Base(i))
                .chain(rest.iter().copied())
                .collect()
        };
        let mut candidates = Vec::new();
        if k >= 3 {
            // The simplest of all: a base unchanged, which a few noisy measurements must beat by
            // more than their standard error to be moved.
            for (i, name) in bases() {
                candidates.push(Candidate {
                    fixed: true,
                    ..Candidate::fitted(
                        format!("{name} unchanged"),
                        vec![TermSource::Base(i)],
                        false,
                    )
                });
            }
        }
        for (i, name) in bases() {
            candidates.push(Candidate::fitted(
                format!("scale {name}"),
                vec![TermSource::Base(i)],
                false,
            ));
        }
        if k < 3 {
            return candidates;
        }
        for (i, name) in bases() {
            candidates.push(Candidate::fitted(
                format!("{name} + intercept"),
                vec![TermSource::Base(i)],
                true,
            ));
        }
        if self.bases.len() > 1 {
            let all = (0..self.bases.len()).map(TermSource::Base).collect();
            candidates.push(Candidate::fitted("mix of the bases".into(), all, true));
        }
        // With a base, every candidate keeps it: the base is the prior, measured layer by layer,
        // and a few noisy measurements must not replace it by a handful of counts or by other
        // devices.
        for (i, name) in bases() {
            candidates.push(Candidate::fitted(
                format!("{name} + layers"),
                with_base(i, &features),
                true,
            ));
        }
        if self.bases.is_empty() && !features.is_empty() {
            candidates.push(Candidate::fitted("layers".into(), features, true));
        }
        if !references.is_empty() {
            if self.bases.is_empty() {
                candidates.push(Candidate::fitted(
                    "reference devices".into(),
                    references.clone(),
                    true,
                ));
            }
            for (i, name) in bases() {
                candidates.push(Candidate::fitted(
                    format!("{name} + reference devices"),
                    with_base(i, &references),
                    true,
                ));
            }
        }
        candidates
    }
}

/// Fits `measured` (ms, one per network of `design`) and chooses the model.
///
/// With one base table, one measurement is enough (the base is scaled); without, at least three.
/// With three or more, every candidate is scored by leave-one-out error, the simplest within one
/// standard error of the best is chosen, and it is refitted on all measurements.
pub fn fit_latency(design: &Design, measured: &[f64]) -> Result<LatencyFit, FitError> {
    let k = measured.len();
    if let Some((index, &value)) = measured
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return Err(FitError::NotALatency {
            index: index + 1,
            value,
        });
    }
    for (name, values) in design
        .bases
        .iter()
        .chain(&design.features)
        .chain(&design.references)
    {
        assert_eq!(values.len(), k, "term `{name}`: one value per measurement");
    }
    let candidates = design.candidates(k);
    if k == 0 || candidates.is_empty() {
        return Err(FitError::TooFew(if design.bases.is_empty() {
            format!("{k} measurements: at least 3 are needed without a base table")
        } else {
            "no measurements: nothing to fit (with none, the base is used unchanged)".into()
        }));
    }
    let columns = |candidate: &Candidate| -> Vec<&[f64]> {
        candidate
            .terms
            .iter()
            .map(|&source| design.column(source).1.as_slice())
            .collect()
    };
    let mut errors = Vec::with_capacity(candidates.len());
    let mut squared = Vec::with_capacity(candidates.len());
    let mut left_outs = Vec::with_capacity(candidates.len());
    for candidate in &candidates {
        let columns = columns(candidate);
        let predicted = if candidate.fixed {
            columns[0].to_vec()
        } else if k >= 3 {
            leave_one_out(&columns, measured, candidate.intercept)
        } else {
            let fit = relative_nonnegative_least_squares(&columns, measured, candidate.intercept);
            (0..k).map(|row| fit.predict(&columns, row)).collect()
        };
        let errors_squared = squared_log_ratios(&predicted, measured);
        errors.push(CandidateError {
            name: candidate.name.clone(),
            loo_rmsle: (k >= 3).then(|| mean(&errors_squared).sqrt()),
        });
        squared.push(errors_squared);
        left_outs.push(predicted);
    }
    let complexity: Vec<usize> = candidates.iter().map(Candidate::parameters).collect();
    let chosen = one_standard_error_rule(&squared, &complexity);
    let left_out = std::mem::take(&mut left_outs[chosen]);
    let candidate = &candidates[chosen];
    let fit = if candidate.fixed {
        LinearModel {
            weights: vec![1.0],
            intercept: 0.0,
        }
    } else {
        relative_nonnegative_least_squares(&columns(candidate), measured, candidate.intercept)
    };
    let terms = candidate
        .terms
        .iter()
        .zip(&fit.weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(&source, &weight)| Term {
            name: design.column(source).0.clone(),
            source,
            weight,
        })
        .collect();
    Ok(LatencyFit {
        model: candidate.name.clone(),
        terms,
        intercept: fit.intercept,
        candidates: errors,
        leave_one_out: (k >= 3).then(|| PredictionAccuracy::new(&left_out, measured)),
    })
}

impl LatencyFit {
    /// The share by which a search shrinks a latency budget priced by this fit, so that what it
    /// picks at the edge of the budget is within it on the device too: half the fit's
    /// leave-one-out mean absolute percentage error (0 without one). Chosen by `hwnas bench
    /// fitted-search` on NAS-Bench-201 (docs/results.md): no margin let the winner run more than
    /// 5 % over the budget in 12 % of searches, half the error in 8 %, the whole error in 6 % at
    /// four times the regret.
    pub fn budget_margin(&self) -> f64 {
        self.leave_one_out
            .as_ref()
            .map_or(0.0, |accuracy| 0.5 * accuracy.mape_percent / 100.0)
    }

    /// The fitted latency of a network whose terms are `value(source)`.
    pub fn predict(&self, mut value: impl FnMut(TermSource) -> f64) -> f64 {
        self.terms
            .iter()
            .map(|term| term.weight * value(term.source))
            .sum::<f64>()
            + self.intercept
    }
}

/// Squared log ratio per measurement; a prediction at or below zero counts as 1 % of the
/// measurement.
fn squared_log_ratios(predicted: &[f64], measured: &[f64]) -> Vec<f64> {
    predicted
        .iter()
        .zip(measured)
        .map(|(&p, &m)| (p.max(0.01 * m) / m).ln().powi(2))
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The candidate with the fewest parameters among those whose mean error is within one
/// standard error of the smallest (Breiman's rule: ten measurements cannot tell apart models
/// closer than that, and the simpler one generalises better); ties go to the smaller error, then
/// to the earlier candidate.
fn one_standard_error_rule(squared: &[Vec<f64>], complexity: &[usize]) -> usize {
    let means: Vec<f64> = squared.iter().map(|e| mean(e)).collect();
    let best = (0..means.len())
        .min_by(|&a, &b| means[a].total_cmp(&means[b]))
        .expect("at least one candidate");
    let errors = &squared[best];
    let spread = errors
        .iter()
        .map(|e| (e - means[best]).powi(2))
        .sum::<f64>()
        / (errors.len().max(2) - 1) as f64;
    let threshold = means[best] + (spread / errors.len() as f64).sqrt() + 1e-12;
    (0..means.len())
        .filter(|&c| means[c] <= threshold)
        .min_by(|&a, &b| {
            complexity[a]
                .cmp(&complexity[b])
                .then(means[a].total_cmp(&means[b]))
                .then(a.cmp(&b))
        })
        .expect("the best is within its own threshold")
}

/// Each measurement predicted by the model fitted on all the others.
fn leave_one_out(columns: &[&[f64]], y: &[f64], intercept: bool) -> Vec<f64> {
    let k = y.len();
    let mut kept_columns: Vec<Vec<f64>> = vec![Vec::with_capacity(k - 1); columns.len()];
    let mut kept_y = Vec::with_capacity(k - 1);
    (0..k)
        .map(|out| {
            kept_y.clear();
            kept_y.extend((0..k).filter(|&r| r != out).map(|r| y[r]));
            for (kept, column) in kept_columns.iter_mut().zip(columns) {
                kept.clear();
                kept.extend((0..k).filter(|&r| r != out).map(|r| column[r]));
            }
            let views: Vec<&[f64]> = kept_columns.iter().map(Vec::as_slice).collect();
            relative_nonnegative_least_squares(&views, &kept_y, intercept).predict(columns, out)
        })
        .collect()
}

/// Weights and intercept of a linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// One per column, nonnegative.
    pub weights: Vec<f64>,
    /// Nonnegative (0 without one).
    pub intercept: f64,
}

impl LinearModel {
    fn predict(&self, columns: &[&[f64]], row: usize) -> f64 {
        self.weights
            .iter()
            .zip(columns)
            .map(|(w, c)| w * c[row])
            .sum::<f64>()
            + self.intercept
    }
}

/// Least squares `y ~ sum w_j x_j (+ c)` with every `w_j >= 0` and `c >= 0` (Lawson and Hanson's
/// active-set method); columns are scaled to unit norm, and a column of zeros gets weight 0.
pub fn nonnegative_least_squares(columns: &[&[f64]], y: &[f64], intercept: bool) -> LinearModel {
    weighted_nonnegative_least_squares(columns, y, intercept, None)
}

/// [`nonnegative_least_squares`] of relative errors: each residual divided by its measurement, so
/// that a network ten times faster counts as much and one slow outlier does not set the scale.
fn relative_nonnegative_least_squares(
    columns: &[&[f64]],
    y: &[f64],
    intercept: bool,
) -> LinearModel {
    let inverse: Vec<f64> = y.iter().map(|v| 1.0 / v).collect();
    weighted_nonnegative_least_squares(columns, y, intercept, Some(&inverse))
}

/// Minimises `sum (row_weight_i * residual_i)^2`; all row weights 1 without them. The intercept
/// is a column of ones, nonnegative like every weight: a latency is a fixed cost plus
/// nonnegative per-layer costs, so no network is predicted below zero.
fn weighted_nonnegative_least_squares(
    columns: &[&[f64]],
    y: &[f64],
    intercept: bool,
    row_weights: Option<&[f64]>,
) -> LinearModel {
    if intercept {
        let ones = vec![1.0; y.len()];
        let mut with_ones = columns.to_vec();
        with_ones.push(&ones);
        let mut model = weighted_nonnegative_least_squares(&with_ones, y, false, row_weights);
        model.intercept = model.weights.pop().expect("the column of ones");
        return model;
    }
    let rows = y.len();
    let row_weight = |row: usize| row_weights.map_or(1.0, |w| w[row]);
    let mut scales = Vec::with_capacity(columns.len());
    let mut a = DMatrix::<f64>::zeros(rows, columns.len());
    for (j, column) in columns.iter().enumerate() {
        for (row, v) in column.iter().enumerate() {
            a[(row, j)] = row_weight(row) * v;
        }
        let scale = a.column(j).norm();
        if scale > 0.0 {
            a.column_mut(j).unscale_mut(scale);
        }
        scales.push(scale);
    }
    let b = DVector::from_iterator(rows, y.iter().enumerate().map(|(r, v)| row_weight(r) * v));
    let solution = lawson_hanson(&a, &b);
    let weights = solution
        .iter()
        .zip(&scales)
        .map(|(x, s)| if *s > 0.0 { x / s } else { 0.0 })
        .collect();
    LinearModel {
        weights,
        intercept: 0.0,
    }
}

/// `argmin |a x - b|` over `x >= 0`.
fn lawson_hanson(a: &DMatrix<f64>, b: &DVector<f64>) -> DVector<f64> {
    let n = a.ncols();
    let mut x = DVector::<f64>::zeros(n);
    let mut passive = vec![false; n];
    // A column that entered and had to leave at once (collinear with the passive ones) is not
    // tried again until the solution moves.
    let mut refused = vec![false; n];
    let tolerance = 1e-10 * (1.0 + b.norm());
    for _ in 0..3 * n + 3 {
        let gradient = a.tr_mul(&(b - a * &x));
        let Some(entering) = (0..n)
            .filter(|&j| !passive[j] && !refused[j] && gradient[j] > tolerance)
            .max_by(|&i, &j| gradient[i].total_cmp(&gradient[j]))
        else {
            break;
        };
        passive[entering] = true;
        for _ in 0..=n {
            let s = passive_solution(a, b, &passive);
            if (0..n).filter(|&j| passive[j]).all(|j| s[j] > 0.0) {
                x = s;
                refused.fill(false);
                break;
            }
            // Step from x towards s until the first passive weight reaches zero; that one
            // leaves exactly (round-off must not keep it).
            let Some((blocking, step)) = (0..n)
                .filter(|&j| passive[j] && s[j] <= 0.0 && x[j] - s[j] > 0.0)
                .map(|j| (j, x[j] / (x[j] - s[j])))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                // Only the entering column would go negative from zero: refuse it.
                passive[entering] = false;
                refused[entering] = true;
                break;
            };
            x += (s - &x) * step;
            x[blocking] = 0.0;
            for j in 0..n {
                if passive[j] && x[j] <= 1e-14 * (1.0 + x.amax()) {
                    passive[j] = false;
                    x[j] = 0.0;
                }
            }
        }
    }
    x
}

/// Least squares over the passive columns, zero elsewhere.
fn passive_solution(a: &DMatrix<f64>, b: &DVector<f64>, passive: &[bool]) -> DVector<f64> {
    let chosen: Vec<usize> = (0..a.ncols()).filter(|&j| passive[j]).collect();
    let sub = a.select_columns(&chosen);
    let solved = sub
        .svd(true, true)
        .solve(b, 1e-12)
        .unwrap_or_else(|_| DVector::zeros(chosen.len()));
    let mut s = DVector::zeros(a.ncols());
    for (value, &j) in solved.iter().zip(&chosen) {
        s[j] = *value;
    }
    s
}

/// Per-layer features of a space's networks, additive over layers: how many layers of each kind
/// a network runs, and its MFLOPs.
#[derive(Debug, Clone)]
pub struct LayerFeatures {
    kinds: Vec<&'static str>,
    tables: Vec<LayerTable<f64>>,
}

impl LayerFeatures {
    /// The features of `space` at `input`.
    pub fn new(space: &ModelSpace, input: Shape) -> Result<Self, ProfileError> {
        let mut kinds: Vec<&'static str> = Vec::new();
        LayerTable::new(space, input, &mut |layer: &Layer, _, _| {
            if !kinds.contains(&layer.kind()) {
                kinds.push(layer.kind());
            }
            Ok(0.0)
        })?;
        kinds.sort_unstable();
        let mut tables = Vec::with_capacity(kinds.len() + 1);
        for kind in &kinds {
            tables.push(LayerTable::new(
                space,
                input,
                &mut |layer: &Layer, _, _| Ok(f64::from(u8::from(layer.kind() == *kind))),
            )?);
        }
        tables.push(LayerTable::new(
            space,
            input,
            &mut |layer, input, output| Ok(mflops(layer, input, output)),
        )?);
        Ok(Self { kinds, tables })
    }

    /// The features' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.kinds
            .iter()
            .map(|kind| format!("layers: {kind}"))
            .chain(std::iter::once("MFLOPs".to_string()))
            .collect()
    }

    /// How many features there are.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether there are none (never: MFLOPs is always one).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The features of the network of validated choice indices.
    pub fn of_indices(&self, indices: &[usize]) -> Result<Vec<f64>, ProfileError> {
        self.tables
            .iter()
            .map(|table| table.cost_indices(indices))
            .collect()
    }

    /// Feature `feature` of one layer: 1 for its kind, its MFLOPs.
    pub fn of_layer(&self, feature: usize, layer: &Layer, input: Shape, output: Shape) -> f64 {
        match self.kinds.get(feature) {
            Some(kind) => f64::from(u8::from(layer.kind() == *kind)),
            None => mflops(layer, input, output),
        }
    }
}

fn mflops(layer: &Layer, input: Shape, output: Shape) -> f64 {
    layer_counts(layer, input, output, CountOptions::default())
        .map_or(0.0, |counts| counts.flops as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonnegative_least_squares_recovers_a_nonnegative_model_and_clips_a_negative_one() {
        let x1 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let x2 = [2.0, 1.0, 0.0, 3.0, 1.0, 2.0];
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| 2.0 * a + 0.5 * b + 3.0)
            .collect();
        let fit = nonnegative_least_squares(&[&x1, &x2], &y, true);
        assert!((fit.weights[0] - 2.0).abs() < 1e-9 && (fit.weights[1] - 0.5).abs() < 1e-9);
        assert!((fit.intercept - 3.0).abs() < 1e-9);
        // y falls with x2: its weight is held at 0 and x1 alone is fitted.
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| a - 2.0 * b + 10.0)
            .collect();
        let fit = nonnegative_least_squares(&[&x1, &x2], &y, true);
        assert_eq!(fit.weights[1], 0.0);
        let (slope, intercept) = crate::rank::fit_line(&x1, &y);
        assert!((fit.weights[0] - slope).abs() < 1e-9 && (fit.intercept - intercept).abs() < 1e-9);
        // The intercept is nonnegative too: a line through (0, -5) becomes a proportion.
        let y: Vec<f64> = x1.iter().map(|a| 2.0 * a - 5.0).collect();
        let fit = nonnegative_least_squares(&[&x1], &y, true);
        assert_eq!(fit.intercept, 0.0);
        assert!(fit.weights[0] > 0.0);
        // Without an intercept: a proportion.
        let fit = nonnegative_least_squares(&[&x1], &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0], false);
        assert!((fit.weights[0] - 2.0).abs() < 1e-12 && fit.intercept == 0.0);
        // A constant column gets no weight.
        let fit = nonnegative_least_squares(&[&[1.0; 6], &x1], &x1, true);
        assert_eq!(fit.weights[0], 0.0);
    }

    #[test]
    fn the_simplest_model_within_a_standard_error_of_the_best_wins() {
        // The device is twice the base plus noise-free per-layer work on a second term.
        let base = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let layers = vec![3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0];
        let scaled: Vec<f64> = base.iter().map(|b| 2.0 * b).collect();
        let design = Design {
            bases: vec![("base".into(), base.clone())],
            features: vec![("layers: conv2d".into(), layers.clone())],
            references: vec![],
        };
        let fit = fit_latency(&design, &scaled).unwrap();
        assert_eq!(fit.model, "scale base");
        assert_eq!(fit.terms.len(), 1);
        assert!((fit.terms[0].weight - 2.0).abs() < 1e-9);
        // Every candidate keeps the base.
        assert_eq!(fit.candidates.len(), 4);
        assert_eq!(fit.candidates[0].name, "base unchanged");
        let loo = fit.leave_one_out.unwrap();
        assert!(loo.rmse_ms < 1e-9 && loo.n == 7);

        let mixed: Vec<f64> = base
            .iter()
            .zip(&layers)
            .map(|(b, l)| b + 0.5 * l + 1.0)
            .collect();
        let fit = fit_latency(&design, &mixed).unwrap();
        assert_eq!(fit.model, "base + layers");
        assert!((fit.predict(|s| design.column(s).1[2]) - mixed[2]).abs() < 1e-9);
        assert!((fit.intercept - 1.0).abs() < 1e-9);

        // Two measurements: only the scale, chosen in-sample.
        let two = Design {
            bases: vec![("base".into(), base[..2].to_vec())],
            features: vec![("layers: conv2d".into(), layers[..2].to_vec())],
            references: vec![],
        };
        let fit = fit_latency(&two, &scaled[..2]).unwrap();
        assert_eq!(fit.model, "scale base");
        assert_eq!(fit.candidates[0].loo_rmsle, None);
    }

    #[test]
    fn with_a_base_every_candidate_keeps_it() {
        let column = vec![1.0, 2.0, 3.0, 4.0];
        let design = Design {
            bases: vec![("base 1".into(), column.clone())],
            features: vec![("MFLOPs".into(), column.clone())],
            references: vec![("device a".into(), column.clone())],
        };
        let candidates = design.candidates(4);
        let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "base 1 unchanged",
                "scale base 1",
                "base 1 + intercept",
                "base 1 + layers",
                "base 1 + reference devices"
            ]
        );
        assert!(
            candidates
                .iter()
                .all(|c| c.terms.contains(&TermSource::Base(0)))
        );
        let without = Design {
            bases: vec![],
            ..design
        };
        let names: Vec<String> = without.candidates(4).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["layers", "reference devices"]);
    }

    #[test]
    fn one_standard_error_rule_prefers_fewer_parameters_when_the_errors_cannot_tell() {
        // Candidate 1 is best on average, but candidate 0 is within one standard error of it.
        let squared = vec![
            vec![0.010, 0.030, 0.020, 0.040],
            vec![0.000, 0.040, 0.000, 0.040],
            vec![0.500, 0.500, 0.500, 0.500],
        ];
        assert_eq!(one_standard_error_rule(&squared, &[1, 5, 0]), 0);
        // Clearly better: the complex one.
        let squared = vec![vec![0.10, 0.11, 0.09, 0.10], vec![0.01, 0.01, 0.02, 0.01]];
        assert_eq!(one_standard_error_rule(&squared, &[1, 5]), 1);
        // Equal parameters within the band: the smaller error.
        let squared = vec![vec![0.03, 0.03, 0.03, 0.05], vec![0.02, 0.02, 0.02, 0.06]];
        assert_eq!(one_standard_error_rule(&squared, &[3, 3]), 1);
    }

    #[test]
    fn too_few_or_bad_measurements_are_refused() {
        let design = Design {
            features: vec![("MFLOPs".into(), vec![1.0, 2.0])],
            ..Design::default()
        };
        assert!(matches!(
            fit_latency(&design, &[1.0, 2.0]),
            Err(FitError::TooFew(message)) if message.contains("at least 3")
        ));
        let design = Design {
            bases: vec![("base".into(), vec![1.0, 2.0, 3.0])],
            ..Design::default()
        };
        assert_eq!(
            fit_latency(&design, &[1.0, -2.0, 3.0]),
            Err(FitError::NotALatency {
                index: 2,
                value: -2.0
            })
        );
        let empty = Design {
            bases: vec![("base".into(), vec![])],
            ..Design::default()
        };
        assert!(matches!(fit_latency(&empty, &[]), Err(FitError::TooFew(_))));
    }
}
