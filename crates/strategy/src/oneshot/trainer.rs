use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Device, Int, Tensor};
use hwnas_space::module::{Hidden, Mix, Supernet};
use hwnas_space::{ModelSpace, Sample, SpaceError};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{Algorithm, ArchParameters, HardwarePenalty};
use crate::{RangeFilter, StrategyError};

/// Settings of a [`OneShotTrainer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneShotConfig {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Epochs the supernet trains for (the Gumbel temperature anneals over them).
    pub epochs: usize,
    /// Adam's learning rate for the supernet's weights.
    pub weight_learning_rate: f64,
    /// Adam's learning rate for the architecture parameters.
    pub arch_learning_rate: f64,
    /// Epochs at the start without the hardware penalty.
    pub penalty_warmup_epochs: usize,
    /// Gumbel-softmax temperature at the first and the last epoch (annealed geometrically).
    pub gumbel_temperature: [f64; 2],
    /// Seed of the path sampling (seed the device too: it draws the Gumbel noise).
    pub seed: u64,
}

impl Default for OneShotConfig {
    fn default() -> Self {
        OneShotConfig {
            algorithm: Algorithm::Darts,
            epochs: 10,
            weight_learning_rate: 0.01,
            arch_learning_rate: 0.03,
            penalty_warmup_epochs: 0,
            gumbel_temperature: [1.0, 0.1],
            seed: 0,
        }
    }
}

/// Why one-shot training cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OneShotError {
    /// The space or a sample of it.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// Sampling a subnet (a range no subnet fits).
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// Unusable settings.
    #[error("invalid one-shot settings: {0}")]
    Config(String),
    /// Weights that cannot be read, or do not fit this space's supernet.
    #[error("supernet weights: {0}")]
    Weights(String),
    /// Weights that cannot be written.
    #[error("supernet weights: {0}")]
    Save(String),
}

impl OneShotError {
    /// Whether the error is in what the user gave (the space, settings, a weights file) rather
    /// than a failure of the run (weights that cannot be written).
    pub fn is_input(&self) -> bool {
        !matches!(self, OneShotError::Save(_))
    }
}

/// What one training step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Training loss of the weight step.
    pub loss: f64,
    /// Architecture loss (with the penalty), when the step updated the architecture.
    pub arch_loss: Option<f64>,
    /// Expected cost of the architecture distribution, when the step applied a penalty.
    pub expected_cost: Option<f64>,
    /// The subnet a sampling step trained.
    pub sample: Option<Sample>,
}

/// Trains a [`Supernet`] with a one-shot [`Algorithm`], step by step, on batches the caller
/// supplies (`(images, targets)`, on the trainer's autodiff device).
pub struct OneShotTrainer {
    config: OneShotConfig,
    space: ModelSpace,
    supernet: Option<Supernet>,
    arch: Option<ArchParameters>,
    weight_optimizer: ModuleOptimizer,
    arch_optimizer: ModuleOptimizer,
    penalty: Option<HardwarePenalty>,
    range: Option<RangeFilter>,
    rng: Xoshiro256PlusPlus,
    loss: CrossEntropyLoss,
}

/// Loads the burnpack record at `path` into `module`, which keeps its own values if the record
/// does not fit it.
fn load_record<M: Module + Clone>(
    module: &mut Option<M>,
    path: &Path,
    what: &str,
    space: &str,
) -> Result<(), OneShotError> {
    let record = ModuleRecord::load(path)
        .map_err(|e| OneShotError::Weights(format!("cannot read {}: {e}", path.display())))?;
    let current = module.take().expect("present between steps");
    let fallback = current.clone();
    match current.try_load_record(record) {
        Ok(loaded) => {
            *module = Some(loaded);
            Ok(())
        }
        Err(e) => {
            *module = Some(fallback);
            Err(OneShotError::Weights(format!(
                "{} does not hold {what} of `{space}`: {e}",
                path.display()
            )))
        }
    }
}

/// A batch of images and their class indices.
pub type Batch = (Tensor<4>, Tensor<1, Int>);

impl OneShotTrainer {
    /// A trainer for `space` on an autodiff `device`.
    pub fn new(
        space: &ModelSpace,
        device: &Device,
        config: OneShotConfig,
    ) -> Result<Self, OneShotError> {
        if !device.is_autodiff() {
            return Err(OneShotError::Config(
                "one-shot training needs an autodiff device (`device.autodiff()`)".into(),
            ));
        }
        if config.epochs == 0 || config.gumbel_temperature.iter().any(|t| *t <= 0.0) {
            return Err(OneShotError::Config(
                "needs at least one epoch and positive temperatures".into(),
            ));
        }
        let supernet = Supernet::init(space, device)?;
        if matches!(config.algorithm, Algorithm::Darts | Algorithm::Gumbel) {
            supernet.check_mixable()?;
        }
        Ok(OneShotTrainer {
            arch: Some(ArchParameters::init(space.search_space(), device)),
            space: space.clone(),
            supernet: Some(supernet),
            weight_optimizer: AdamConfig::new().init(),
            arch_optimizer: AdamConfig::new().init(),
            penalty: None,
            range: None,
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            loss: CrossEntropyLossConfig::new().init(device),
            config,
        })
    }

    /// Adds a hardware penalty to the architecture loss (gradient-based algorithms).
    pub fn with_penalty(mut self, penalty: HardwarePenalty) -> Result<Self, OneShotError> {
        if !self.config.algorithm.is_differentiable() {
            return Err(OneShotError::Config(
                "SPOS learns no architecture distribution to penalise: give it a cost range".into(),
            ));
        }
        self.penalty = Some(penalty);
        Ok(self)
    }

    /// Trains only subnets within a cost range (SPOS).
    pub fn with_range(mut self, range: RangeFilter) -> Result<Self, OneShotError> {
        if self.config.algorithm != Algorithm::Spos {
            return Err(OneShotError::Config(
                "a cost range restricts the subnets SPOS samples; gradient-based algorithms take \
                 a penalty"
                    .into(),
            ));
        }
        self.range = Some(range);
        Ok(self)
    }

    /// The settings.
    pub fn config(&self) -> &OneShotConfig {
        &self.config
    }

    /// The supernet as trained so far.
    pub fn supernet(&self) -> &Supernet {
        self.supernet.as_ref().expect("present between steps")
    }

    /// Writes the supernet's weights (BatchNorm statistics included) and the architecture
    /// parameters as burnpack files.
    pub fn save(&self, weights: &Path, architecture: &Path) -> Result<(), OneShotError> {
        let write = |record: ModuleRecord, path: &Path| {
            record
                .save(path)
                .map_err(|e| OneShotError::Save(format!("cannot write {}: {e}", path.display())))
        };
        write(self.supernet().clone().into_record(), weights)?;
        write(self.arch().clone().into_record(), architecture)
    }

    /// Replaces the supernet's weights with those [`save`](Self::save) wrote for the same space,
    /// so that a trained supernet is searched again (under another budget, say) without training.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), OneShotError> {
        load_record(&mut self.supernet, path, "a supernet", self.space.name())
    }

    /// Replaces the architecture parameters with those [`save`](Self::save) wrote for the same
    /// space (with [`load_weights`](Self::load_weights), training goes on where it stopped).
    pub fn load_architecture(&mut self, path: &Path) -> Result<(), OneShotError> {
        load_record(
            &mut self.arch,
            path,
            "architecture parameters",
            self.space.name(),
        )
    }

    /// The architecture parameters as learnt so far (uniform for SPOS).
    pub fn arch(&self) -> &ArchParameters {
        self.arch.as_ref().expect("present between steps")
    }

    /// The penalty, if any.
    pub fn penalty(&self) -> Option<&HardwarePenalty> {
        self.penalty.as_ref()
    }

    /// The most probable valid sample of the learnt distribution (gradient-based algorithms).
    pub fn chosen(&self) -> Option<Sample> {
        self.config
            .algorithm
            .is_differentiable()
            .then(|| self.arch().most_probable(self.space.search_space()))
            .flatten()
    }

    /// The Gumbel temperature at `epoch`.
    pub fn temperature(&self, epoch: usize) -> f64 {
        let [start, end] = self.config.gumbel_temperature;
        let progress = epoch as f64 / (self.config.epochs.max(2) - 1) as f64;
        start * (end / start).powf(progress.min(1.0))
    }

    /// One step: for gradient-based algorithms an architecture update on `valid` (when given),
    /// then a weight update on `train`.
    pub fn step(
        &mut self,
        epoch: usize,
        train: Batch,
        valid: Option<Batch>,
    ) -> Result<StepReport, OneShotError> {
        let mut report = StepReport {
            loss: f64::NAN,
            arch_loss: None,
            expected_cost: None,
            sample: None,
        };
        let algorithm = self.config.algorithm;
        if algorithm == Algorithm::Spos {
            let (sample, indices) = self.sample_subnet()?;
            let (images, targets) = train;
            let logits = match self.supernet().forward_indices(&indices, images) {
                Hidden::Flat(logits) => logits,
                Hidden::Image(_) => {
                    return Err(OneShotError::Config("the space is not a classifier".into()));
                }
            };
            report.loss = self.weight_step(logits, targets);
            report.sample = Some(sample);
            return Ok(report);
        }
        if let Some((images, targets)) = valid {
            let mixes = self.mixes(epoch, true);
            let logits = self.supernet().forward_mixed(&mixes, images)?;
            let mut loss = self.loss.forward(logits, targets);
            if let Some(penalty) = self
                .penalty
                .as_ref()
                .filter(|_| epoch >= self.config.penalty_warmup_epochs)
            {
                let arch = self.arch();
                let reference = arch
                    .most_probable(self.space.search_space())
                    .ok_or_else(|| OneShotError::Config("no valid sample in the space".into()))?;
                let expected = penalty
                    .expected_cost(self.space.search_space(), &arch.probabilities(), &reference)
                    .ok_or_else(|| {
                        OneShotError::Config(format!(
                            "the penalty's cost cannot price the most probable sample {reference}"
                        ))
                    })?;
                report.expected_cost = Some(expected.clone().into_scalar::<f64>());
                loss = penalty.apply(loss, expected);
            }
            report.arch_loss = Some(loss.clone().into_scalar::<f64>());
            let arch = self.arch.take().expect("present between steps");
            let gradients = GradientsParams::from_grads(loss.backward(), &arch);
            self.arch = Some(self.arch_optimizer.step(
                self.config.arch_learning_rate,
                arch,
                gradients,
            ));
        }
        let mixes = self.mixes(epoch, false);
        let (images, targets) = train;
        let logits = self.supernet().forward_mixed(&mixes, images)?;
        report.loss = self.weight_step(logits, targets);
        Ok(report)
    }

    /// The mixes of a step; `for_arch` keeps the gradient to the architecture parameters.
    fn mixes(&mut self, epoch: usize, for_arch: bool) -> Vec<Mix> {
        let tau = self.temperature(epoch);
        let arch = self.arch.as_ref().expect("present between steps");
        match self.config.algorithm {
            Algorithm::Darts => arch.soft(!for_arch),
            Algorithm::Gumbel => arch.gumbel(tau, !for_arch),
            Algorithm::Proxyless => arch.binary(&mut self.rng, for_arch),
            Algorithm::Spos => unreachable!("SPOS runs fixed paths"),
        }
    }

    fn weight_step(&mut self, logits: Tensor<2>, targets: Tensor<1, Int>) -> f64 {
        let loss = self.loss.forward(logits, targets);
        let value = loss.clone().into_scalar::<f64>();
        let supernet = self.supernet.take().expect("present between steps");
        let gradients = GradientsParams::from_grads(loss.backward(), &supernet);
        self.supernet = Some(self.weight_optimizer.step(
            self.config.weight_learning_rate,
            supernet,
            gradients,
        ));
        value
    }

    /// A uniformly random subnet (within the range, if any) whose layers fit their inputs.
    fn sample_subnet(&mut self) -> Result<(Sample, Vec<usize>), OneShotError> {
        let space = self.space.search_space();
        for _ in 0..crate::DEFAULT_RANGE_PATIENCE {
            let sample = match &self.range {
                Some(range) => range.sample(space, &mut self.rng)?,
                None => space.random_sample(&mut self.rng)?,
            };
            let indices = space.indices(&sample)?;
            if self.space.resolve_indices(&indices)?.output_shape().is_ok() {
                return Ok((sample, indices));
            }
        }
        Err(OneShotError::Config(
            "no sampled subnet fits the input shape".into(),
        ))
    }
}
