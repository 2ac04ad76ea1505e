//! Latency tables fitted to a few measured networks: a new device, or a table whose machine
//! drifted (see [`crate::fit`] for the method).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use hwnas_space::{ModelSpace, Sample, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::fingerprint::DeviceFingerprint;
use crate::fit::{Design, LatencyFit, LayerFeatures, TermSource, fit_latency};
use crate::predictor::{LatencyTableFile, TABLE_VERSION, distinct_layers, layer_key, space_hash};
use crate::rank::PredictionAccuracy;
use crate::{LatencyPredictor, ProfileError, Statistic};

/// Architectures a table may list one by one (NAS-Bench-201 has 15,625).
pub const MAX_LISTED_ARCHITECTURES: usize = 1 << 22;

/// How a fitted table came about (`fitted` in the table file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitProvenance {
    /// Networks measured on the device.
    pub measurements: usize,
    /// Where they came from (a file, or `calibrate` on a device).
    pub measured: String,
    /// The base tables, each as the device it was built on.
    pub bases: Vec<String>,
    /// The published devices that were references, when the space has them.
    pub references: usize,
    /// The fit; absent with no measurements (the base unchanged).
    pub fit: Option<LatencyFit>,
}

/// One measured network.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The sample.
    pub sample: Sample,
    /// Its latency on the device, ms.
    pub latency_ms: f64,
}

#[derive(Deserialize)]
struct MeasurementLine {
    sample: Option<Sample>,
    latency_ms: Option<f64>,
    median_ms: Option<f64>,
    min_ms: Option<f64>,
    input: Option<Vec<usize>>,
}

/// Reads measurements, one JSON object per line with a `sample` and its `latency_ms`, or the
/// `statistic` the table predicts as `hwnas latency measure --json` writes it (`median_ms`,
/// `min_ms`); blank lines are skipped. A line that is not one, a sample not of `space`, a
/// latency that is not positive and finite, a network measured twice, or an `input` (batch
/// first) other than `input` is refused, naming the line.
pub fn read_measurements(
    path: &Path,
    space: &ModelSpace,
    input: &[usize],
    statistic: Statistic,
) -> Result<Vec<Measurement>, ProfileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProfileError::Measurements(format!("cannot read {}: {e}", path.display())))?;
    let mut measurements = Vec::new();
    let mut lines_by_network: HashMap<u64, usize> = HashMap::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            ProfileError::Measurements(format!("{} line {number}: {why}", path.display()))
        };
        let parsed: MeasurementLine =
            serde_json::from_str(line).map_err(|e| bad(format!("not a measurement: {e}")))?;
        let sample = parsed.sample.ok_or_else(|| bad("no `sample`".into()))?;
        let (field, of_statistic) = match statistic {
            Statistic::Median => ("median_ms", parsed.median_ms),
            Statistic::Min => ("min_ms", parsed.min_ms),
        };
        let latency_ms = parsed
            .latency_ms
            .or(of_statistic)
            .ok_or_else(|| bad(format!("no `latency_ms` (or `{field}`)")))?;
        if let Some(measured) = parsed.input.filter(|measured| measured != input) {
            return Err(bad(format!(
                "measured at input {measured:?}, the table is for {input:?}"
            )));
        }
        if !(latency_ms.is_finite() && latency_ms > 0.0) {
            return Err(bad(format!(
                "latency {latency_ms} ms is not a latency (a positive number)"
            )));
        }
        let network = space
            .architecture_hash(&sample)
            .map_err(|e| bad(format!("not a sample of `{}`: {e}", space.name())))?;
        if let Some(first) = lines_by_network.insert(network, number) {
            return Err(bad(format!("the same network as line {first}")));
        }
        measurements.push(Measurement { sample, latency_ms });
    }
    Ok(measurements)
}

/// The grid position of choice indices: the indices as digits, the first label most
/// significant (the order of [`SearchSpace::grid`] without constraints).
pub fn grid_position(space: &SearchSpace, indices: &[usize]) -> usize {
    space
        .choices()
        .iter()
        .zip(indices)
        .fold(0, |position, (choice, &index)| {
            position * choice.len() + index
        })
}

/// How many grid positions a space has, when at most [`MAX_LISTED_ARCHITECTURES`].
pub fn grid_len(space: &SearchSpace) -> Option<usize> {
    space
        .choices()
        .iter()
        .try_fold(1usize, |n, choice| n.checked_mul(choice.len()))
        .filter(|&n| n <= MAX_LISTED_ARCHITECTURES)
}

impl LatencyPredictor {
    /// Fits a table for the device that measured `measurements` (see [`crate::fit`]): from the
    /// `bases` (tables of the same space and input, on any device) and, when `references` is not
    /// empty, from the published latencies of other devices by grid position (NAS-Bench-201's).
    /// With no measurements the one base is returned unchanged. `device` is where the
    /// measurements were taken; `measured` says where they came from, for the file.
    pub fn fit(
        space: &ModelSpace,
        batch: usize,
        bases: &[LatencyPredictor],
        references: &[(String, Vec<f32>)],
        measurements: &[Measurement],
        device: DeviceFingerprint,
        measured: &str,
    ) -> Result<Self, ProfileError> {
        let began = Instant::now();
        let search_space = space.search_space();
        let hash = space_hash(space);
        for base in bases {
            let file = base.file();
            if file.space_hash != hash || file.input != space.input().with_batch(batch) {
                return Err(ProfileError::Table(format!(
                    "a base table was built for `{}` at {:?}, not for `{}` at {:?}",
                    file.space,
                    file.input,
                    space.name(),
                    space.input().with_batch(batch)
                )));
            }
        }
        let provenance = |fit: Option<LatencyFit>| FitProvenance {
            measurements: measurements.len(),
            measured: measured.to_string(),
            bases: bases.iter().map(|b| b.file().device.to_string()).collect(),
            references: references.len(),
            fit,
        };
        if measurements.is_empty() {
            let [base] = bases else {
                return Err(ProfileError::Measurements(format!(
                    "no measurements and {} base tables: with none, one base is returned unchanged",
                    bases.len()
                )));
            };
            let mut file = base.file().clone();
            file.fitted = Some(provenance(None));
            return Self::from_file(space, file);
        }
        let listed = grid_len(search_space);
        if let Some((name, column)) = references
            .iter()
            .find(|(_, column)| Some(column.len()) != listed)
        {
            return Err(ProfileError::Unsupported(format!(
                "reference `{name}` lists {} architectures, the space has {}",
                column.len(),
                listed.map_or("too many to list".to_string(), |n| n.to_string())
            )));
        }

        let indices: Vec<Vec<usize>> = measurements
            .iter()
            .map(|m| search_space.indices(&m.sample))
            .collect::<Result<_, _>>()?;
        let features = LayerFeatures::new(space, space.input())?;
        let feature_values: Vec<Vec<f64>> = indices
            .iter()
            .map(|i| features.of_indices(i))
            .collect::<Result<_, _>>()?;
        // Only a listable space has grid positions (the others overflow them).
        let positions: Vec<usize> = if references.is_empty() {
            Vec::new()
        } else {
            indices
                .iter()
                .map(|i| grid_position(search_space, i))
                .collect()
        };
        let design = Design {
            bases: bases
                .iter()
                .enumerate()
                .map(|(b, base)| {
                    let column = indices
                        .iter()
                        .map(|i| base.predict_indices(i))
                        .collect::<Result<_, _>>()?;
                    Ok((format!("base {}", b + 1), column))
                })
                .collect::<Result<_, ProfileError>>()?,
            features: features
                .names()
                .into_iter()
                .enumerate()
                .map(|(f, name)| (name, feature_values.iter().map(|v| v[f]).collect()))
                .collect(),
            references: references
                .iter()
                .map(|(name, column)| {
                    let values = positions.iter().map(|&p| f64::from(column[p])).collect();
                    (name.clone(), values)
                })
                .collect(),
        };
        let latencies: Vec<f64> = measurements.iter().map(|m| m.latency_ms).collect();
        let fit = fit_latency(&design, &latencies)
            .map_err(|e| ProfileError::Measurements(e.to_string()))?;

        // Every term folds into the layers, the intercept or the list per architecture.
        let distinct = distinct_layers(space, space.input())?;
        let base_layers: Vec<HashMap<String, f64>> =
            bases.iter().map(|b| b.file().latency_by_layer()).collect();
        let mut intercept = fit.intercept;
        let mut per_architecture: Vec<f64> = Vec::new();
        let mut add_listed = |weight: f64, column: &mut dyn Iterator<Item = f32>| {
            if per_architecture.is_empty() {
                per_architecture = vec![0.0; listed.unwrap_or(0)];
            }
            for (total, value) in per_architecture.iter_mut().zip(column) {
                *total += weight * f64::from(value);
            }
        };
        for term in &fit.terms {
            match term.source {
                TermSource::Base(b) => {
                    let file = bases[b].file();
                    intercept += term.weight * file.intercept;
                    if !file.per_architecture_ms.is_empty() {
                        add_listed(term.weight, &mut file.per_architecture_ms.iter().copied());
                    }
                }
                TermSource::Reference(r) => {
                    add_listed(term.weight, &mut references[r].1.iter().copied());
                }
                TermSource::Feature(_) => {}
            }
        }
        let layers = distinct
            .iter()
            .map(|(layer, input, output)| {
                let key = layer_key(layer, *input);
                let ms = fit
                    .terms
                    .iter()
                    .map(|term| {
                        term.weight
                            * match term.source {
                                TermSource::Base(b) => {
                                    let file = bases[b].file();
                                    file.slope * base_layers[b][&key] + file.per_layer_ms
                                }
                                TermSource::Feature(f) => {
                                    features.of_layer(f, layer, *input, *output)
                                }
                                TermSource::Reference(_) => 0.0,
                            }
                    })
                    .sum();
                crate::predictor::LayerLatency {
                    layer: layer.clone(),
                    input: *input,
                    ms,
                }
            })
            .collect();
        let first = bases.first().map(LatencyPredictor::file);
        let mut file = LatencyTableFile {
            version: 1,
            space: space.name().to_string(),
            space_hash: hash,
            input: space.input().with_batch(batch),
            device,
            statistic: first.map_or(Statistic::Median, |f| f.statistic),
            layers,
            overhead_ms: first.map_or(0.0, |f| f.overhead_ms),
            slope: 1.0,
            per_layer_ms: 0.0,
            intercept,
            per_architecture_ms: per_architecture.into_iter().map(|v| v as f32).collect(),
            fit: None,
            fitted: None,
            build_seconds: 0.0,
        };
        if !file.per_architecture_ms.is_empty() {
            file.version = TABLE_VERSION;
        }
        let mut predictor = Self::from_file(space, file)?;
        let predicted: Vec<f64> = indices
            .iter()
            .map(|i| predictor.predict_indices(i))
            .collect::<Result<_, _>>()?;
        predictor.file.fit =
            (predicted.len() >= 2).then(|| PredictionAccuracy::new(&predicted, &latencies));
        predictor.file.fitted = Some(provenance(Some(fit)));
        predictor.file.build_seconds = began.elapsed().as_secs_f64();
        Ok(predictor)
    }
}
