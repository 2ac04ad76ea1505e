use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use hwnas_space::{Architecture, Block, Layer, ModelSpace, Sample, Shape};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::fingerprint::DeviceFingerprint;
use crate::fitted::{FitProvenance, grid_len, grid_position};
use crate::latency::{LatencyConfig, LatencyProfiler, Statistic, time_interleaved};
use crate::rank::{PredictionAccuracy, fit_line, fit_plane};
use crate::table::LayerTable;
use crate::{LatencyDevice, ProfileError, Profiler};

/// Version of the table file format this build writes for a table with a per-architecture term
/// (`per_architecture_ms`); tables without one are still written as version 1, which builds
/// before that term read correctly. A file of a later version is refused.
pub const TABLE_VERSION: u32 = 2;

/// Settings of [`LatencyPredictor::build`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorConfig {
    /// Examples per forward pass.
    pub batch: usize,
    /// How each distinct layer is timed.
    pub layer_timing: LatencyConfig,
    /// How each whole network of the correction fit is timed.
    pub model_timing: LatencyConfig,
    /// Random samples measured end to end to fit the correction.
    pub fit_samples: usize,
    /// Seed of those samples.
    pub seed: u64,
    /// What the table predicts: layers and whole networks are summarised by this statistic of
    /// their timed passes.
    pub statistic: Statistic,
}

impl Default for PredictorConfig {
    fn default() -> Self {
        Self {
            batch: 1,
            layer_timing: LatencyConfig {
                warmup: 2,
                min_runs: 15,
                max_runs: 400,
                budget: Duration::from_millis(40),
                ..LatencyConfig::default()
            },
            model_timing: LatencyConfig::default(),
            fit_samples: 30,
            seed: 0,
            statistic: Statistic::Median,
        }
    }
}

/// One measured layer: its declaration, the shape that reaches it, its latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLatency {
    /// The layer.
    pub layer: Layer,
    /// Its input shape (one example).
    pub input: Shape,
    /// Latency (the table's statistic), ms.
    pub ms: f64,
}

/// One held-out sample of [`LatencyPredictor::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The sample.
    pub sample: Sample,
    /// Its predicted latency, ms.
    pub predicted_ms: f64,
    /// Its measured latency (the table's statistic), ms.
    pub measured_ms: f64,
}

/// The file form of a latency predictor (`hwnas latency build --out TABLE.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyTableFile {
    /// 1, or [`TABLE_VERSION`] with a per-architecture term.
    pub version: u32,
    /// The hub name of the space.
    pub space: String,
    /// Hash of the space's labels, choices and constraints.
    pub space_hash: u64,
    /// Input shape, batch first.
    pub input: Vec<usize>,
    /// Where the latencies were measured.
    pub device: DeviceFingerprint,
    /// The statistic of the timed passes that the table predicts (tables written before it was
    /// recorded predict the median).
    #[serde(default)]
    pub statistic: Statistic,
    /// Every distinct layer of the space, the timing overhead taken out.
    pub layers: Vec<LayerLatency>,
    /// What timing an empty network cost (call and sync), ms.
    pub overhead_ms: f64,
    /// `predicted = slope * sum_of_layers + per_layer_ms * layers + intercept`, fitted on whole
    /// networks (`layers`: how many layers the sample runs; it carries the per-operation cost
    /// that a layer timed alone does not show).
    pub slope: f64,
    /// See `slope`; ms per layer.
    pub per_layer_ms: f64,
    /// See `slope`; ms.
    pub intercept: f64,
    /// Added to the prediction per architecture, by grid position (see
    /// [`grid_position`](crate::grid_position)): what a fitted table takes from published
    /// latencies of other devices, for a space small enough to list. Empty for a built table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_architecture_ms: Vec<f32>,
    /// Accuracy on the networks the correction (or, for a fitted table, the fit) was fitted on.
    pub fit: Option<PredictionAccuracy>,
    /// How a fitted table was fitted (`hwnas latency fit` or `calibrate`); absent for a built one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<FitProvenance>,
    /// Seconds the build took.
    pub build_seconds: f64,
}

impl LatencyTableFile {
    /// [`LatencyPredictor::budget_margin`] of the table this file holds.
    pub fn budget_margin(&self) -> f64 {
        self.fitted
            .as_ref()
            .and_then(|provenance| provenance.fit.as_ref())
            .map_or(0.0, |fit| fit.budget_margin())
    }
}

impl LatencyTableFile {
    /// Refuses a table whose numbers cannot be latencies: a layer whose latency is negative or
    /// not finite (0 is what a layer cheaper than the timing overhead measures), a layer listed
    /// twice, an overhead or a fit that is not a finite number.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut seen = std::collections::HashSet::new();
        for (i, entry) in self.layers.iter().enumerate() {
            let what = || format!("layer #{} ({:?} at {:?})", i + 1, entry.layer, entry.input);
            if !(entry.ms.is_finite() && entry.ms >= 0.0) {
                return Err(ProfileError::Table(format!(
                    "{}: latency {} ms is not a latency",
                    what(),
                    entry.ms
                )));
            }
            if !seen.insert(layer_key(&entry.layer, entry.input)) {
                return Err(ProfileError::Table(format!("{} is listed twice", what())));
            }
        }
        for (name, value) in [
            ("overhead_ms", self.overhead_ms),
            ("slope", self.slope),
            ("per_layer_ms", self.per_layer_ms),
            ("intercept", self.intercept),
        ] {
            if !value.is_finite() || (name == "overhead_ms" && value < 0.0) {
                return Err(ProfileError::Table(format!("`{name}` is {value}")));
            }
        }
        if let Some(position) = self.per_architecture_ms.iter().position(|v| !v.is_finite()) {
            return Err(ProfileError::Table(format!(
                "`per_architecture_ms` #{} is {}",
                position + 1,
                self.per_architecture_ms[position]
            )));
        }
        if self.slope <= 0.0 {
            return Err(ProfileError::Table(format!(
                "`slope` is {}: a slower layer would predict a faster network",
                self.slope
            )));
        }
        Ok(())
    }

    /// Each measured layer's latency, by layer key.
    pub(crate) fn latency_by_layer(&self) -> HashMap<String, f64> {
        self.layers
            .iter()
            .map(|l| (layer_key(&l.layer, l.input), l.ms))
            .collect()
    }
}

/// Latency of any sample of a space on one device, predicted from per-layer measurements.
///
/// Building measures every distinct (layer, input shape) of the space once, folds the latencies
/// into the same lookup tables the FLOPs profiler uses, and fits
/// `slope * sum + per_layer_ms * layers + intercept` to a few whole networks measured end to end
/// (per-call overhead, memory traffic). Layers and networks are timed in interleaved visits (see
/// [`time_interleaved`]). A query validates the
/// sample and adds a few table entries.
#[derive(Debug, Clone)]
pub struct LatencyPredictor {
    pub(crate) file: LatencyTableFile,
    /// Per layer `slope * ms + per_layer_ms`: the whole correction but its intercept, folded in
    /// so that a query reads one table.
    table: LayerTable<f64>,
}

/// The correction `(slope, per_layer_ms, intercept)`: a plane through (sum, layers) when it is
/// physical (both slopes non-negative), else a line through the sums, else a proportion.
fn fit(sums: &[f64], counts: &[f64], times: &[f64]) -> (f64, f64, f64) {
    if let Some((slope, per_layer, intercept)) = fit_plane(sums, counts, times)
        && slope > 0.0
        && per_layer >= 0.0
    {
        return (slope, per_layer, intercept);
    }
    let (slope, intercept) = fit_line(sums, times);
    if slope > 0.0 {
        return (slope, 0.0, intercept);
    }
    // Too few or too noisy networks: a larger sum never means a faster network.
    let (total_sum, total_time) = (sums.iter().sum::<f64>(), times.iter().sum::<f64>());
    (
        if total_sum > 0.0 {
            total_time / total_sum
        } else {
            1.0
        },
        0.0,
        0.0,
    )
}

/// The key of a distinct layer: its JSON and its input shape.
pub(crate) fn layer_key(layer: &Layer, input: Shape) -> String {
    format!(
        "{}@{input:?}",
        serde_json::to_string(layer).expect("a layer always serializes")
    )
}

/// Every distinct (layer, input shape) of `space` at `input`, with the shape it outputs, in the
/// order the declaration's walk first meets them: the rows of a table.
pub(crate) fn distinct_layers(
    space: &ModelSpace,
    input: Shape,
) -> Result<Vec<(Layer, Shape, Shape)>, ProfileError> {
    let mut distinct = Vec::new();
    let mut seen = HashSet::new();
    LayerTable::new(space, input, &mut |layer: &Layer, input, output| {
        if seen.insert(layer_key(layer, input)) {
            distinct.push((layer.clone(), input, output));
        }
        Ok(0.0)
    })?;
    Ok(distinct)
}

/// The identity of a space for a table: name, labels, choices, constraints.
pub fn space_hash(space: &ModelSpace) -> u64 {
    let json = serde_json::to_string(space.search_space()).expect("a space always serializes");
    xxhash_rust::xxh3::xxh3_64(format!("{}\n{json}", space.name()).as_bytes())
}

/// A one-layer network for `layer` at `input`; layers on flat vectors read a `c x 1 x 1` image
/// through a flatten, since networks take images.
fn single_layer(layer: &Layer, input: Shape) -> Architecture {
    match input {
        Shape::Flat(features) => Architecture {
            input: Shape::image(features, 1, 1),
            root: Block::Sequential(vec![
                Block::Layer(Layer::Flatten),
                Block::Layer(layer.clone()),
            ]),
        },
        image => Architecture {
            input: image,
            root: Block::Layer(layer.clone()),
        },
    }
}

/// The latency of each small network (`config.statistic` of its timed passes) with the cost of
/// timing an empty network (the call and the sync) taken out, and that cost. The networks are
/// timed interleaved in groups of `layer_timing.interleave`, each with the empty network among
/// them, so that each group's overhead is measured in the same spell as its layers.
fn time_layers(
    architectures: &[Architecture],
    empty: &Architecture,
    device: &LatencyDevice,
    config: &PredictorConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f64>, f64), ProfileError> {
    let freeze =
        |architecture: &Architecture| device.load(architecture, config.batch, Some(config.seed));
    let statistic = |times: Vec<f64>| {
        crate::Latency::from_times(times, Vec::new(), String::new()).get(config.statistic)
    };
    let mut latencies = Vec::with_capacity(architectures.len());
    let mut overheads = Vec::new();
    for group in architectures.chunks(config.layer_timing.interleave.max(2) - 1) {
        progress(latencies.len(), architectures.len());
        let networks = std::iter::once(empty)
            .chain(group)
            .map(freeze)
            .collect::<Result<Vec<_>, _>>()?;
        let mut times = time_interleaved(&networks, &config.layer_timing)?.into_iter();
        let overhead = statistic(times.next().expect("the empty network was timed"));
        latencies.extend(times.map(|times| (statistic(times) - overhead).max(0.0)));
        overheads.push(overhead);
    }
    progress(latencies.len(), architectures.len());
    let overhead = if overheads.is_empty() {
        0.0
    } else {
        overheads.iter().sum::<f64>() / overheads.len() as f64
    };
    Ok((latencies, overhead))
}

impl LatencyPredictor {
    /// Measures `space` on `device`; `progress(done, total)` follows the layer measurements.
    pub fn build(
        space: &ModelSpace,
        device: impl Into<LatencyDevice>,
        config: &PredictorConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, ProfileError> {
        let device = &device.into();
        let began = Instant::now();
        let input = space.input();
        let distinct = distinct_layers(space, input)?;

        // Every single-layer measurement pays the cost of timing an empty network once, a whole
        // network pays it once in all: it is taken out of each layer.
        let architectures: Vec<Architecture> = distinct
            .iter()
            .map(|(layer, shape, _)| single_layer(layer, *shape))
            .collect();
        let empty = single_layer(&Layer::Identity, input);
        let (latencies, overhead_ms) =
            time_layers(&architectures, &empty, device, config, progress)?;
        let layers = distinct
            .into_iter()
            .zip(latencies)
            .map(|((layer, input, _), ms)| LayerLatency { layer, input, ms })
            .collect();

        let mut file = LatencyTableFile {
            version: 1,
            space: space.name().to_string(),
            space_hash: space_hash(space),
            input: input.with_batch(config.batch),
            device: DeviceFingerprint::of(device),
            statistic: config.statistic,
            layers,
            overhead_ms,
            slope: 1.0,
            per_layer_ms: 0.0,
            intercept: 0.0,
            per_architecture_ms: Vec::new(),
            fit: None,
            fitted: None,
            build_seconds: 0.0,
        };
        let latencies = file.latency_by_layer();
        let sum_table = LayerTable::new(space, input, &mut |layer, shape, _| {
            Ok(latencies[&layer_key(layer, shape)])
        })?;
        let count_table = LayerTable::new(space, input, &mut |_, _, _| Ok(1.0))?;
        let measured = LatencyProfiler::new(
            space.clone(),
            device.clone(),
            LatencyConfig {
                batch: config.batch,
                ..config.model_timing.clone()
            },
        )?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let samples = (0..config.fit_samples)
            .map(|_| space.search_space().random_sample(&mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut sums, mut counts) = (Vec::new(), Vec::new());
        for sample in &samples {
            let indices = space.search_space().indices(sample)?;
            sums.push(sum_table.cost_indices(&indices)?);
            counts.push(count_table.cost_indices(&indices)?);
        }
        let times: Vec<f64> = measured
            .measure_many(&samples, &mut |_, _| {})?
            .iter()
            .map(|latency| latency.get(config.statistic))
            .collect();
        (file.slope, file.per_layer_ms, file.intercept) = fit(&sums, &counts, &times);
        if sums.len() >= 2 {
            let predicted: Vec<f64> = sums
                .iter()
                .zip(&counts)
                .map(|(s, n)| file.slope * s + file.per_layer_ms * n + file.intercept)
                .collect();
            file.fit = Some(PredictionAccuracy::new(&predicted, &times));
        }
        file.build_seconds = began.elapsed().as_secs_f64();
        Self::from_file(space, file)
    }

    /// A predictor from its file form, checked against `space`.
    pub fn from_file(space: &ModelSpace, file: LatencyTableFile) -> Result<Self, ProfileError> {
        if !(1..=TABLE_VERSION).contains(&file.version) {
            return Err(ProfileError::Table(format!(
                "table format version {} (this build reads versions 1 to {TABLE_VERSION})",
                file.version
            )));
        }
        file.validate()?;
        if file.space != space.name() || file.space_hash != space_hash(space) {
            return Err(ProfileError::Table(format!(
                "the table was built for space `{}`, not for this `{}`",
                file.space,
                space.name()
            )));
        }
        let batch = file.input.first().copied().unwrap_or(1);
        if file.input != space.input().with_batch(batch) {
            return Err(ProfileError::Table(format!(
                "the table was built for input {:?}, the space takes {:?}",
                file.input,
                space.input().with_batch(batch)
            )));
        }
        if !file.per_architecture_ms.is_empty() {
            let listed = grid_len(space.search_space());
            if Some(file.per_architecture_ms.len()) != listed {
                return Err(ProfileError::Table(format!(
                    "`per_architecture_ms` lists {} architectures, the space has {}",
                    file.per_architecture_ms.len(),
                    listed.map_or("too many to list".to_string(), |n| n.to_string())
                )));
            }
        }
        let latencies = file.latency_by_layer();
        let (slope, per_layer) = (file.slope, file.per_layer_ms);
        let mut lookup = |layer: &Layer, input: Shape, _: Shape| {
            let ms = latencies.get(&layer_key(layer, input)).ok_or_else(|| {
                ProfileError::Table(format!("no latency for layer {layer:?} at {input:?}"))
            })?;
            Ok(slope * ms + per_layer)
        };
        let table = LayerTable::new(space, space.input(), &mut lookup)?;
        Ok(Self { file, table })
    }

    /// Reads a table file made for `space`.
    pub fn load(path: &Path, space: &ModelSpace) -> Result<Self, ProfileError> {
        Self::from_file(space, Self::read_file(path)?)
    }

    /// Reads only the file form (to learn which space and device it is for).
    pub fn read_file(path: &Path) -> Result<LatencyTableFile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProfileError::Table(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            ProfileError::Table(format!("{} is not a latency table: {e}", path.display()))
        })
    }

    /// Writes the table as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let text = serde_json::to_string_pretty(&self.file).expect("a table always serializes");
        std::fs::write(path, text)
            .map_err(|e| ProfileError::Write(format!("cannot write {}: {e}", path.display())))
    }

    /// The share a search shrinks a latency budget by when this table prices it: the fit's
    /// [`budget_margin`](crate::fit::LatencyFit::budget_margin), or 0 for a table measured
    /// layer by layer.
    pub fn budget_margin(&self) -> f64 {
        self.file.budget_margin()
    }

    /// The file form.
    pub fn file(&self) -> &LatencyTableFile {
        &self.file
    }

    /// Refuses a device other than the one the table was measured on.
    pub fn check_device(&self, device: impl Into<LatencyDevice>) -> Result<(), ProfileError> {
        let here = DeviceFingerprint::of(device);
        if here != self.file.device {
            return Err(ProfileError::Table(format!(
                "the table was measured on {}, not on {here}: build one here with `hwnas latency build`",
                self.file.device
            )));
        }
        Ok(())
    }

    /// Predicted latency of validated choice indices, ms.
    pub fn predict_indices(&self, indices: &[usize]) -> Result<f64, ProfileError> {
        let listed = if self.file.per_architecture_ms.is_empty() {
            0.0
        } else {
            let position = grid_position(self.table.search_space(), indices);
            f64::from(self.file.per_architecture_ms[position])
        };
        Ok(self.table.cost_indices(indices)? + self.file.intercept + listed)
    }

    /// Predicted latency of `sample`, ms.
    pub fn predict(&self, sample: &Sample) -> Result<f64, ProfileError> {
        let mut indices = [0usize; 64];
        let n = self.table.search_space().len();
        if n <= indices.len() {
            self.table
                .search_space()
                .indices_into(sample, &mut indices[..n])?;
            return self.predict_indices(&indices[..n]);
        }
        self.predict_indices(&self.table.search_space().indices(sample)?)
    }

    /// Measures `n` random samples (seeded) end to end on `device` as `timing` says (interleaved,
    /// `timing.interleave` at a time) and compares them with the predictions;
    /// `progress(done, total)` follows the samples.
    pub fn evaluate(
        &self,
        space: &ModelSpace,
        device: impl Into<LatencyDevice>,
        n: usize,
        seed: u64,
        timing: &LatencyConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(PredictionAccuracy, Vec<Evaluated>), ProfileError> {
        if n < 2 {
            return Err(ProfileError::Unsupported(
                "evaluation needs at least 2 samples".into(),
            ));
        }
        let batch = self.file.input.first().copied().unwrap_or(1);
        let measured = LatencyProfiler::new(
            space.clone(),
            device,
            LatencyConfig {
                batch,
                ..timing.clone()
            },
        )?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let samples = (0..n)
            .map(|_| space.search_space().random_sample(&mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let latencies = measured.measure_many(&samples, progress)?;
        let rows = samples
            .into_iter()
            .zip(latencies)
            .map(|(sample, latency)| {
                Ok(Evaluated {
                    predicted_ms: self.predict(&sample)?,
                    measured_ms: latency.get(self.file.statistic),
                    sample,
                })
            })
            .collect::<Result<Vec<_>, ProfileError>>()?;
        let predicted: Vec<f64> = rows.iter().map(|r| r.predicted_ms).collect();
        let times: Vec<f64> = rows.iter().map(|r| r.measured_ms).collect();
        Ok((PredictionAccuracy::new(&predicted, &times), rows))
    }
}

impl Profiler for LatencyPredictor {
    /// The predicted latency in milliseconds.
    fn profile(&self, sample: &Sample) -> Result<f64, ProfileError> {
        self.predict(sample)
    }

    fn profile_indices(
        &self,
        _: &hwnas_space::SearchSpace,
        indices: &[usize],
    ) -> Result<f64, ProfileError> {
        self.predict_indices(indices)
    }

    /// Known for a table without a list per architecture (the list makes the terms interlock).
    fn range(&self) -> Option<(f64, f64)> {
        if !self.file.per_architecture_ms.is_empty() {
            return None;
        }
        let (min, max) = self.table.range(|&ms| ms)?;
        Some((min + self.file.intercept, max + self.file.intercept))
    }
}
