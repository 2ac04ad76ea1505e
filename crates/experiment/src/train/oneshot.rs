use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::tensor::Device;
use hwnas_middleware::{Chain, Deduplication, Filter};
use hwnas_profiler::Profiler;
use hwnas_space::module::Supernet;
use hwnas_space::{ModelSpace, Sample};
use hwnas_strategy::oneshot::{Algorithm, HardwarePenalty, OneShotConfig, OneShotTrainer};
use hwnas_strategy::{EvolutionConfig, Metrics, Objective, RangeFilter, Status};
use serde::{Deserialize, Serialize};

use super::{ImageBatch, ImageBatcher, ImageSet, TrainingConfig, TrainingEvaluator, accuracy};
use crate::experiment::write_atomic;
use crate::record::read_json_lines;
use crate::{
    BEST_FILE, EvaluationError, Experiment, ExperimentConfig, ExperimentError, LOG_FILE, Summary,
    TrialContext, TrialRecord, read_log,
};

/// The supernet's training log inside a one-shot directory: one [`EpochRecord`] per line.
pub const SUPERNET_LOG: &str = "supernet.jsonl";

/// The supernet's weights inside a one-shot directory (burnpack), BatchNorm statistics included.
pub const SUPERNET_WEIGHTS: &str = "supernet.bpk";

/// The architecture parameters inside a one-shot directory (burnpack): the learnt distribution of
/// gradient-based algorithms, uniform for SPOS.
pub const ARCHITECTURE_WEIGHTS: &str = "architecture.bpk";

/// The settings of the run inside a one-shot directory: a resumed run must have the same.
pub const ONESHOT_SETTINGS: &str = "oneshot.json";

/// Settings of a [`OneShotRun`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneShotRunConfig {
    /// The algorithm and its optimisation settings.
    pub oneshot: OneShotConfig,
    /// Images per step.
    pub batch_size: usize,
    /// Share of each class held out: the architecture trains on it (gradient-based algorithms)
    /// and subnets are ranked on it.
    pub validation_share: f64,
    /// Seed of the split.
    pub split_seed: u64,
    /// Training images whose statistics a subnet's BatchNorms take before it is evaluated.
    pub calibration_size: usize,
    /// SPOS: subnets the evolution over inherited weights evaluates.
    pub search_trials: usize,
    /// Epochs the chosen subnet trains alone, from its inherited weights, after the search (0:
    /// none). Its accuracy is then `finetuned_accuracy`.
    pub finetune_epochs: usize,
    /// Peak learning rate of the fine-tune (Adam, cosine decay).
    pub finetune_learning_rate: f64,
}

impl Default for OneShotRunConfig {
    fn default() -> Self {
        OneShotRunConfig {
            oneshot: OneShotConfig::default(),
            batch_size: 32,
            validation_share: 0.2,
            split_seed: 0,
            calibration_size: 256,
            search_trials: 100,
            finetune_epochs: 0,
            finetune_learning_rate: 0.003,
        }
    }
}

/// One line of `supernet.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean training loss of the weight steps.
    pub loss: f64,
    /// Mean architecture loss, penalty included (gradient-based algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_loss: Option<f64>,
    /// Expected cost of the architecture distribution at the epoch's end, when penalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_cost: Option<f64>,
    /// The most probable sample at the epoch's end (gradient-based algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Sample>,
    /// Its validation accuracy with inherited weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Wall time of the epoch, seconds.
    pub duration_s: f64,
}

/// The outcome of a one-shot run.
#[derive(Debug, Clone)]
pub struct OneShotSummary {
    /// The chosen sample (also in `best.json`).
    pub best: Sample,
    /// Its metrics: validation accuracy with inherited weights and the costs.
    pub metrics: Metrics,
    /// One record per epoch of supernet training.
    pub epochs: Vec<EpochRecord>,
    /// SPOS: the search over subnets.
    pub search: Option<Summary>,
}

type Costs<'a> = Vec<(String, Box<dyn Profiler + 'a>)>;
type EpochCallback<'a> = Box<dyn FnMut(&EpochRecord) + 'a>;

/// A one-shot search on the embedded-data classifier task, written to an experiment directory
/// the multi-trial tools read: `trials.jsonl` (for SPOS, the evolution over subnets; otherwise
/// the most probable sample after each epoch), `best.json`, `supernet.jsonl`, and the trained
/// weights (`supernet.bpk`, `architecture.bpk`).
pub struct OneShotRun<'a> {
    dir: PathBuf,
    space: ModelSpace,
    data: &'a ImageSet,
    device: Device,
    config: OneShotRunConfig,
    penalty: Option<HardwarePenalty>,
    range: Option<RangeFilter>,
    budget: Option<Filter>,
    costs: Costs<'a>,
    on_step: Option<Box<dyn FnMut(usize, usize) + 'a>>,
    on_epoch: Option<EpochCallback<'a>>,
    trained: Option<PathBuf>,
    resume: bool,
}

impl<'a> OneShotRun<'a> {
    /// A run of `config` for `space` on `data`, trained on `device` (autodiff is added).
    pub fn new(
        dir: impl AsRef<Path>,
        space: ModelSpace,
        data: &'a ImageSet,
        device: Device,
        config: OneShotRunConfig,
    ) -> Self {
        OneShotRun {
            dir: dir.as_ref().to_owned(),
            space,
            data,
            device,
            config,
            penalty: None,
            range: None,
            budget: None,
            costs: Vec::new(),
            on_step: None,
            on_epoch: None,
            trained: None,
            resume: false,
        }
    }

    /// Goes on with a run that stopped (killed, crashed) in the same directory, with the same
    /// settings: training resumes after the last epoch in `supernet.jsonl`, from the weights and
    /// architecture parameters written after it, and a SPOS search resumes as an [`Experiment`]
    /// does. Adam's moments and the data order start afresh, so a resumed run is not bit-for-bit
    /// the uninterrupted one. A directory without a run starts one.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Searches the supernet that an earlier SPOS run trained into `dir` (its `supernet.bpk`)
    /// instead of training one: the supernet is trained once and searched under as many budgets
    /// as wanted.
    pub fn from_trained(mut self, dir: impl AsRef<Path>) -> Self {
        self.trained = Some(dir.as_ref().to_owned());
        self
    }

    /// Penalises the architecture loss (DARTS, Gumbel, Proxyless).
    pub fn with_penalty(mut self, penalty: HardwarePenalty) -> Self {
        self.penalty = Some(penalty);
        self
    }

    /// Trains only subnets within a cost range (SPOS).
    pub fn with_range(mut self, range: RangeFilter) -> Self {
        self.range = Some(range);
        self
    }

    /// Discards subnets outside a budget before the SPOS search evaluates them.
    pub fn with_budget(mut self, admits: impl Fn(&Sample) -> bool + Send + 'static) -> Self {
        self.budget = Some(Filter::new(admits));
        self
    }

    /// Records `metric` of every evaluated sample.
    pub fn with_cost(mut self, metric: impl Into<String>, profiler: impl Profiler + 'a) -> Self {
        self.costs.push((metric.into(), Box::new(profiler)));
        self
    }

    /// Called after every training step with `(step, steps in all)`.
    pub fn on_step(mut self, callback: impl FnMut(usize, usize) + 'a) -> Self {
        self.on_step = Some(Box::new(callback));
        self
    }

    /// Called after every epoch.
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochRecord) + 'a) -> Self {
        self.on_epoch = Some(Box::new(callback));
        self
    }

    /// Trains the supernet, chooses, and writes the directory.
    pub fn run(mut self) -> Result<OneShotSummary, ExperimentError> {
        let config = self.config.clone();
        let algorithm = config.oneshot.algorithm;
        let invalid = |message: String| ExperimentError::Config(message);
        let data_error =
            |e: burn::data::dataset::DatasetError| ExperimentError::Config(e.to_string());
        if config.batch_size == 0
            || config.calibration_size == 0
            || !(0.0..1.0).contains(&config.validation_share)
            || config.validation_share == 0.0
        {
            return Err(invalid(
                "batch and calibration sizes must be positive, the validation share in (0, 1)"
                    .into(),
            ));
        }
        let [c, h, w] = self.data.shape();
        if self.space.input() != hwnas_space::Shape::image(c, h, w) {
            return Err(invalid(format!(
                "space `{}` takes inputs {} but the data has {c}x{h}x{w} images",
                self.space.name(),
                self.space.input()
            )));
        }
        let settings = self.dir.join(ONESHOT_SETTINGS);
        let holds_run = self.dir.join(LOG_FILE).exists() || self.dir.join(SUPERNET_LOG).exists();
        if holds_run && !self.resume {
            return Err(ExperimentError::Resume(format!(
                "{} already holds an experiment: resume it or choose another directory",
                self.dir.display()
            )));
        }
        if self.resume && (holds_run || settings.exists()) {
            let text =
                std::fs::read_to_string(&settings).map_err(ExperimentError::io(&settings))?;
            let saved: OneShotRunConfig = serde_json::from_str(&text).map_err(|e| {
                ExperimentError::Resume(format!(
                    "{} is not a one-shot run: {e}",
                    settings.display()
                ))
            })?;
            if saved != config {
                return Err(ExperimentError::Resume(format!(
                    "{} was run with other settings ({})",
                    self.dir.display(),
                    settings.display()
                )));
            }
        }
        self.device.seed(config.oneshot.seed);
        let autodiff = self.device.clone().autodiff();
        let mut trainer = OneShotTrainer::new(&self.space, &autodiff, config.oneshot.clone())
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(penalty) = self.penalty.take() {
            trainer = trainer
                .with_penalty(penalty)
                .map_err(|e| invalid(e.to_string()))?;
        }
        if let Some(range) = self.range.take() {
            trainer = trainer
                .with_range(range)
                .map_err(|e| invalid(e.to_string()))?;
        }

        let (train, valid) = self.data.split(config.validation_share, config.split_seed);
        let (train, valid) = (Arc::new(train), Arc::new(valid));
        let loader = |set: &Arc<ImageSet>, batch: usize, seed: Option<u64>, device: &Device| {
            let mut builder = DataLoaderBuilder::new(ImageBatcher::new([c, h, w]))
                .batch_size(batch)
                .set_device(device.clone());
            if let Some(seed) = seed {
                builder = builder.shuffle(seed);
            }
            builder.build(set.clone())
        };
        let seed = config.oneshot.seed;
        let train_loader = loader(&train, config.batch_size, Some(seed), &autodiff);
        let arch_loader = loader(&valid, config.batch_size, Some(seed + 1), &autodiff);
        let eval_loader = loader(&valid, 256, None, &self.device);
        let calibration = loader(&train, config.calibration_size, Some(seed + 2), &autodiff)
            .iter()
            .next()
            .ok_or_else(|| invalid("no training images".into()))?
            .map_err(data_error)?
            .images;

        let training_epochs = match &self.trained {
            None => config.oneshot.epochs,
            Some(trained) => {
                if algorithm != Algorithm::Spos {
                    return Err(invalid(
                        "only SPOS searches a trained supernet again; gradient-based algorithms \
                         choose while they train"
                            .into(),
                    ));
                }
                trainer
                    .load_weights(&trained.join(SUPERNET_WEIGHTS))
                    .map_err(|e| invalid(e.to_string()))?;
                0
            }
        };
        // Only now, so that a run refused for its settings or weights leaves nothing behind.
        std::fs::create_dir_all(&self.dir).map_err(ExperimentError::io(&self.dir))?;
        let settings_json = serde_json::to_vec_pretty(&config).expect("settings serialize");
        write_atomic(&settings, &settings_json)?;
        let mut epochs: Vec<EpochRecord> = Vec::with_capacity(training_epochs);
        if self.resume {
            epochs = self.resume_training(&mut trainer, training_epochs)?;
        }
        let steps_per_epoch = train.len().div_ceil(config.batch_size);
        let total_steps = steps_per_epoch * training_epochs;
        let mut step = steps_per_epoch * epochs.len();
        let mut arch_batches = arch_loader.iter();
        for epoch in epochs.len()..training_epochs {
            let clock = Instant::now();
            let (mut loss, mut arch_loss, mut n_arch) = (0.0, 0.0, 0);
            let mut expected_cost = None;
            let mut n_steps = 0;
            for batch in train_loader.iter() {
                let batch = batch.map_err(data_error)?;
                let valid_batch = if algorithm.is_differentiable() {
                    let next = match arch_batches.next() {
                        Some(next) => next,
                        None => {
                            arch_batches = arch_loader.iter();
                            arch_batches
                                .next()
                                .ok_or_else(|| invalid("no validation images".into()))?
                        }
                    }
                    .map_err(data_error)?;
                    Some((next.images, next.targets))
                } else {
                    None
                };
                let report = trainer
                    .step(epoch, (batch.images, batch.targets), valid_batch)
                    .map_err(|e| invalid(e.to_string()))?;
                loss += report.loss;
                n_steps += 1;
                if let Some(value) = report.arch_loss {
                    arch_loss += value;
                    n_arch += 1;
                }
                expected_cost = report.expected_cost.or(expected_cost);
                step += 1;
                if let Some(callback) = &mut self.on_step {
                    callback(step, total_steps);
                }
            }
            let mut record = EpochRecord {
                epoch,
                loss: loss / n_steps.max(1) as f64,
                arch_loss: (n_arch > 0).then(|| arch_loss / n_arch as f64),
                expected_cost,
                chosen: trainer.chosen(),
                accuracy: None,
                duration_s: 0.0,
            };
            if let Some(chosen) = &record.chosen {
                let started_at = unix_now();
                let evaluated = Instant::now();
                let metrics =
                    self.evaluate(trainer.supernet(), chosen, &calibration, &*eval_loader);
                let (status, metrics, error) = match metrics {
                    Ok(metrics) => (Status::Ok, metrics, None),
                    Err(e) => (Status::Failed, Metrics::new(), Some(e.to_string())),
                };
                record.accuracy = metrics.get("accuracy").copied();
                append(
                    &self.dir.join(LOG_FILE),
                    &TrialRecord {
                        id: epoch as u64,
                        sample: chosen.clone(),
                        status,
                        metrics,
                        reason: None,
                        error,
                        intermediate: Vec::new(),
                        stopped_early: false,
                        seed,
                        started_at,
                        duration_s: evaluated.elapsed().as_secs_f64(),
                    },
                )?;
            }
            // After every epoch, so that a run killed later still leaves a supernet to search
            // (`from_trained`).
            save_weights(&trainer, &self.dir)?;
            record.duration_s = clock.elapsed().as_secs_f64();
            append(&self.dir.join(SUPERNET_LOG), &record)?;
            if let Some(callback) = &mut self.on_epoch {
                callback(&record);
            }
            epochs.push(record);
        }
        if training_epochs == 0 {
            save_weights(&trainer, &self.dir)?;
        }

        if algorithm.is_differentiable() {
            let best = trainer
                .chosen()
                .ok_or_else(|| invalid("the space has no valid sample".into()))?;
            let mut metrics = self
                .evaluate(trainer.supernet(), &best, &calibration, &*eval_loader)
                .map_err(|e| invalid(e.to_string()))?;
            self.finetune(trainer.supernet(), &best, &mut metrics)?;
            write_atomic(&self.dir.join(BEST_FILE), format!("{best}\n").as_bytes())?;
            return Ok(OneShotSummary {
                best,
                metrics,
                epochs,
                search: None,
            });
        }

        // SPOS: regularized evolution over subnets with inherited weights, under the budget.
        let supernet = trainer.supernet();
        let costs = std::mem::take(&mut self.costs);
        let eval_device = self.device.clone();
        let evaluate =
            |sample: &Sample, _: &TrialContext<'_>| -> Result<Metrics, EvaluationError> {
                let eval_loader = loader(&valid, 256, None, &eval_device);
                let accuracy = inherited_accuracy(supernet, sample, &calibration, &*eval_loader)?;
                Ok(Metrics::from([("accuracy".to_string(), accuracy)]))
            };
        let evolution = EvolutionConfig {
            population_size: (config.search_trials / 4).clamp(2, 100),
            sample_size: (config.search_trials / 16).clamp(2, 25),
            seed,
            ..EvolutionConfig::default()
        }
        .init()?;
        let mut chain = Chain::new(evolution).then(Deduplication::per_network(self.space.clone()));
        if let Some(budget) = self.budget.take() {
            chain = chain.then(budget);
        }
        let mut experiment = Experiment::new(
            &self.dir,
            self.space.search_space().clone(),
            chain,
            &evaluate,
            ExperimentConfig {
                max_trials: config.search_trials,
                seed,
                objective: Objective::maximize("accuracy"),
                resume: self.resume,
                ..ExperimentConfig::default()
            },
        );
        for (metric, profiler) in costs {
            experiment = experiment.with_cost(metric, profiler);
        }
        let summary = experiment.run()?;
        let best = summary
            .best
            .clone()
            .ok_or_else(|| invalid("no subnet within the budget was evaluated".into()))?;
        let mut metrics = best.metrics;
        self.finetune(supernet, &best.sample, &mut metrics)?;
        Ok(OneShotSummary {
            best: best.sample,
            metrics,
            epochs,
            search: Some(summary),
        })
    }

    /// What a stopped run finished: its epochs (a line cut short dropped), the weights and
    /// architecture parameters written after the last of them, and, for gradient-based
    /// algorithms, only the per-epoch trials of those epochs.
    fn resume_training(
        &self,
        trainer: &mut OneShotTrainer,
        training_epochs: usize,
    ) -> Result<Vec<EpochRecord>, ExperimentError> {
        let log = self.dir.join(SUPERNET_LOG);
        if !log.exists() {
            return Ok(Vec::new());
        }
        let (mut epochs, _) = read_json_lines::<EpochRecord>(&log)?;
        epochs.truncate(training_epochs);
        write_atomic(&log, json_lines(&epochs).as_bytes())?;
        if !epochs.is_empty() {
            trainer
                .load_weights(&self.dir.join(SUPERNET_WEIGHTS))
                .and_then(|()| trainer.load_architecture(&self.dir.join(ARCHITECTURE_WEIGHTS)))
                .map_err(|e| ExperimentError::Resume(e.to_string()))?;
        }
        if self.config.oneshot.algorithm.is_differentiable() {
            let trials = self.dir.join(LOG_FILE);
            let (mut records, _) = read_log(&trials)?;
            records.retain(|record| (record.id as usize) < epochs.len());
            write_atomic(&trials, json_lines(&records).as_bytes())?;
        }
        Ok(epochs)
    }

    /// Trains `sample`'s subnet alone from its inherited weights, if asked, and records its
    /// accuracy as `finetuned_accuracy`.
    fn finetune(
        &self,
        supernet: &Supernet,
        sample: &Sample,
        metrics: &mut Metrics,
    ) -> Result<(), ExperimentError> {
        if self.config.finetune_epochs == 0 {
            return Ok(());
        }
        let training = TrainingConfig {
            epochs: self.config.finetune_epochs,
            batch_size: self.config.batch_size,
            learning_rate: self.config.finetune_learning_rate,
            validation_share: self.config.validation_share,
            split_seed: self.config.split_seed,
            ..TrainingConfig::default()
        };
        let failed = |e: EvaluationError| ExperimentError::Config(format!("fine-tune: {e}"));
        let evaluator =
            TrainingEvaluator::new(self.space.clone(), self.data, training, self.device.clone())
                .map_err(failed)?;
        let network = supernet.export(sample).map_err(|e| failed(e.into()))?;
        let seed = self.config.oneshot.seed;
        let tuned = evaluator
            .train(network, &TrialContext::standalone(0, seed))
            .map_err(failed)?;
        metrics.insert("finetuned_accuracy".into(), tuned["accuracy"]);
        Ok(())
    }

    /// Validation accuracy of `sample` with the supernet's weights (its BatchNorms recalibrated),
    /// and its costs.
    fn evaluate(
        &self,
        supernet: &Supernet,
        sample: &Sample,
        calibration: &burn::tensor::Tensor<4>,
        loader: &dyn DataLoader<ImageBatch>,
    ) -> Result<Metrics, EvaluationError> {
        let accuracy = inherited_accuracy(supernet, sample, calibration, loader)?;
        let mut metrics = Metrics::from([("accuracy".to_string(), accuracy)]);
        for (metric, profiler) in &self.costs {
            metrics.insert(metric.clone(), profiler.profile(sample)?);
        }
        Ok(metrics)
    }
}

/// Validation accuracy of `sample` with the supernet's weights, its BatchNorms recalibrated on
/// `calibration`.
fn inherited_accuracy(
    supernet: &Supernet,
    sample: &Sample,
    calibration: &burn::tensor::Tensor<4>,
    loader: &dyn DataLoader<ImageBatch>,
) -> Result<f64, EvaluationError> {
    let network = supernet.export(sample)?.recalibrate(calibration.clone());
    accuracy(&burn::module::Module::valid(&network), loader)
}

/// Writes the trainer's weights into `dir`, each file whole or not at all (written aside, then
/// renamed over the previous one).
fn save_weights(trainer: &OneShotTrainer, dir: &Path) -> Result<(), ExperimentError> {
    let (weights, architecture) = (dir.join(SUPERNET_WEIGHTS), dir.join(ARCHITECTURE_WEIGHTS));
    let aside = |path: &Path| path.with_extension("bpk.tmp");
    trainer
        .save(&aside(&weights), &aside(&architecture))
        .map_err(|e| ExperimentError::Config(e.to_string()))?;
    for path in [weights, architecture] {
        std::fs::rename(aside(&path), &path).map_err(ExperimentError::io(&path))?;
    }
    Ok(())
}

/// One JSON object per line.
fn json_lines<T: Serialize>(records: &[T]) -> String {
    records
        .iter()
        .map(|record| serde_json::to_string(record).expect("records serialize") + "\n")
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn append(path: &Path, record: &impl Serialize) -> Result<(), ExperimentError> {
    let mut line = serde_json::to_string(record).expect("records serialize");
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(ExperimentError::io(path))?;
    file.write_all(line.as_bytes())
        .map_err(ExperimentError::io(path))
}
