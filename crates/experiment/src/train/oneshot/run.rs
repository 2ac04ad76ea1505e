use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use burn::data::dataloader::DataLoader;
use burn::tensor::{Device, Tensor};
use hwnas_middleware::Budget;
use hwnas_profiler::Costs;
use hwnas_space::module::Supernet;
use hwnas_space::{Metrics, ModelSpace, Sample, metric};
use hwnas_strategy::oneshot::{Algorithm, HardwarePenalty, OneShotTrainer};
use hwnas_strategy::{EvolutionConfig, Objective, RangeFilter, Status, StrategyConfig};

use super::settings::{OneShotSettings, PenaltySettings, RangeSettings};
use super::{
    ARCHITECTURE_WEIGHTS, EpochRecord, ONESHOT_SETTINGS, OneShotRunConfig, OneShotRunError,
    OneShotSummary, SUPERNET_LOG, SUPERNET_WEIGHTS,
};
use crate::experiment::write_atomic;
use crate::record::{append_json_line as append, json_lines, read_json_lines};
use crate::search::changed_settings;
use crate::train::data::mix;
use crate::train::{
    ImageBatch, ImageSet, TrainingConfig, TrainingData, TrainingEvaluator, accuracy,
};
use crate::{
    BEST_FILE, EvaluationError, EvaluatorConfig, ExperimentError, LOG_FILE, SearchConfig, Stop,
    StopReason, TrialContext, TrialRecord, read_log,
};

type EpochCallback<'a> = Box<dyn FnMut(&EpochRecord) + 'a>;
type Loader = Arc<dyn DataLoader<ImageBatch>>;

/// A one-shot search on the embedded-data classifier task, written to an experiment directory
/// the multi-trial tools read: `trials.jsonl` (for SPOS, the evolution over subnets; otherwise
/// the most probable sample after each epoch), `best.json`, `supernet.jsonl`, and the trained
/// weights (`supernet.bpk`, `architecture.bpk`).
///
/// A run goes in steps: [prepare](Self::run) (check the settings, against those of the run being
/// resumed too, build the trainer and the data), train the epochs still missing, then choose
/// (gradient-based algorithms: the most probable sample) or search (SPOS: regularized evolution
/// over subnets with inherited weights, through [`SearchConfig`]).
pub struct OneShotRun<'a> {
    dir: PathBuf,
    space: ModelSpace,
    data: &'a TrainingData,
    device: Device,
    config: OneShotRunConfig,
    penalty: Option<HardwarePenalty>,
    range: Option<RangeFilter>,
    budget: Budget,
    costs: Costs,
    on_step: Option<Box<dyn FnMut(usize, usize) + 'a>>,
    on_epoch: Option<EpochCallback<'a>>,
    trained: Option<PathBuf>,
    resume: bool,
    stop: Stop,
}

/// What the steps after preparation share.
struct Prepared {
    trainer: OneShotTrainer,
    train: Arc<ImageSet>,
    valid: Arc<ImageSet>,
    test: Arc<ImageSet>,
    autodiff: Device,
    /// Training images a subnet's BatchNorms take their statistics from before it is evaluated.
    calibration: Tensor<4>,
    /// Epochs of supernet training in all (0: a trained supernet is searched again).
    training_epochs: usize,
}

impl<'a> OneShotRun<'a> {
    /// A run of `config` for `space` on `data` (read by `config.data`), trained on `device`
    /// (autodiff is added).
    pub fn new(
        dir: impl AsRef<Path>,
        space: ModelSpace,
        data: &'a TrainingData,
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
            budget: Budget::new(),
            costs: Costs::new(),
            on_step: None,
            on_epoch: None,
            trained: None,
            resume: false,
            stop: Stop::new(),
        }
    }

    /// Stops before the next training step (or, searching, the next subnet) once `stop` is
    /// requested, with [`OneShotRunError::Interrupted`]; the directory can be resumed.
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Goes on with a run that stopped (killed, crashed) in the same directory, with the same
    /// settings (every setting that changes results is compared, and each that differs named):
    /// training resumes after the last epoch in `supernet.jsonl`, from the weights and
    /// architecture parameters written after it, and a SPOS search resumes as an
    /// [`Experiment`](crate::Experiment) does. Adam's moments and the data order start afresh, so
    /// a resumed run is not bit-for-bit the uninterrupted one. A directory without a run starts
    /// one.
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

    /// Discards subnets outside `budget` (priced through the run's costs) before the SPOS search
    /// evaluates them.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The costs recorded for every subnet evaluated, and that the budget prices through.
    pub fn with_costs(mut self, costs: Costs) -> Self {
        self.costs = costs;
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
    pub fn run(mut self) -> Result<OneShotSummary, OneShotRunError> {
        let mut prepared = self.prepare()?;
        let epochs = self.train_epochs(&mut prepared)?;
        if self.config.oneshot.algorithm.is_differentiable() {
            self.choose(&prepared, epochs)
        } else {
            self.search(&prepared, epochs)
        }
    }

    /// Every setting that changes what the run computes.
    fn settings(&self) -> OneShotSettings {
        let bound = |value: f64| value.is_finite().then_some(value);
        OneShotSettings {
            run: self.config.clone(),
            penalty: self.penalty.as_ref().map(|penalty| PenaltySettings {
                metric: penalty.metric().to_string(),
                config: penalty.config().clone(),
            }),
            range: self.range.as_ref().map(|range| {
                let (min, max) = range.bounds();
                RangeSettings {
                    metric: range.metric().to_string(),
                    min: bound(min),
                    max: bound(max),
                }
            }),
            budget: self.budget.clone(),
            costs: self.costs.metrics().map(str::to_string).collect(),
            trained: self.trained.clone(),
        }
    }

    /// Refuses a directory that holds a run unless resuming it with the same settings.
    fn check_settings(&self, settings: &OneShotSettings) -> Result<(), ExperimentError> {
        let path = self.dir.join(ONESHOT_SETTINGS);
        let holds_run = self.dir.join(LOG_FILE).exists() || self.dir.join(SUPERNET_LOG).exists();
        if holds_run && !self.resume {
            return Err(ExperimentError::Resume(format!(
                "{} already holds an experiment: resume it (--resume) or choose another directory",
                self.dir.display()
            )));
        }
        if !(self.resume && (holds_run || path.exists())) {
            return Ok(());
        }
        let current = serde_json::to_value(settings).expect("settings serialize");
        let changed = changed_settings(&path, "a one-shot run", "", &current)?;
        if changed.is_empty() {
            return Ok(());
        }
        Err(ExperimentError::Resume(format!(
            "{} was run with other settings ({}): {}",
            self.dir.display(),
            path.display(),
            changed.join("; ")
        )))
    }

    /// Checks the settings and the data, builds the trainer (with the weights of a trained
    /// supernet, if one is searched again) and writes the settings.
    fn prepare(&mut self) -> Result<Prepared, OneShotRunError> {
        let config = self.config.clone();
        let invalid = |message: String| ExperimentError::Config(message);
        if config.batch_size == 0 || config.calibration_size == 0 {
            return Err(invalid("batch and calibration sizes must be positive".into()).into());
        }
        config.data.validate()?;
        if self.data.config() != &config.data {
            return Err(
                invalid("the data given was read by other settings than the run's".into()).into(),
            );
        }
        self.data.check_fits(&self.space)?;
        let settings = self.settings();
        self.check_settings(&settings)?;
        let autodiff = self.device.clone().autodiff();
        let mut trainer = hwnas_space::module::seeded(&self.device, config.oneshot.seed, || {
            OneShotTrainer::new(&self.space, &autodiff, config.oneshot.clone())
        })?;
        if let Some(penalty) = self.penalty.take() {
            trainer = trainer.with_penalty(penalty)?;
        }
        if let Some(range) = self.range.take() {
            trainer = trainer.with_range(range)?;
        }
        let training_epochs = match &self.trained {
            None => config.oneshot.epochs,
            Some(trained) => {
                if config.oneshot.algorithm != Algorithm::Spos {
                    return Err(invalid(
                        "only SPOS searches a trained supernet again; gradient-based algorithms \
                         choose while they train"
                            .into(),
                    )
                    .into());
                }
                check_trained_on(trained, &config)?;
                trainer.load_weights(&trained.join(SUPERNET_WEIGHTS))?;
                0
            }
        };
        let (train, valid, test) = (
            self.data.train().clone(),
            self.data.val().clone(),
            self.data.test().clone(),
        );
        let seed = config.oneshot.seed;
        let calibration = loader(&train, config.calibration_size, Some(seed + 2), &autodiff)
            .iter()
            .next()
            .ok_or_else(|| invalid("no training images".into()))?
            .map_err(|e| OneShotRunError::evaluation("calibration images")(e.into()))?
            .images;
        // Only now, so that a run refused for its settings or weights leaves nothing behind.
        std::fs::create_dir_all(&self.dir).map_err(ExperimentError::io(&self.dir))?;
        let settings_json = serde_json::to_vec_pretty(&settings).expect("settings serialize");
        write_atomic(&self.dir.join(ONESHOT_SETTINGS), &settings_json)?;
        Ok(Prepared {
            trainer,
            train,
            valid,
            test,
            autodiff,
            calibration,
            training_epochs,
        })
    }

    /// Trains the epochs the directory does not hold yet; every epoch's weights are written
    /// after it.
    fn train_epochs(
        &mut self,
        prepared: &mut Prepared,
    ) -> Result<Vec<EpochRecord>, OneShotRunError> {
        let mut epochs = Vec::new();
        if self.resume {
            epochs = self.resume_training(prepared)?;
        }
        let (batch_size, seed) = (self.config.batch_size, self.config.oneshot.seed);
        let augment = self.config.data.augment;
        let arch_loader = loader(
            &prepared.valid,
            batch_size,
            Some(seed + 1),
            &prepared.autodiff,
        );
        let eval_loader = loader(&prepared.valid, 256, None, &self.device);
        let steps_per_epoch = prepared.train.len().div_ceil(batch_size);
        let total_steps = steps_per_epoch * prepared.training_epochs;
        let mut step = steps_per_epoch * epochs.len();
        let mut arch_batches = arch_loader.iter();
        for epoch in epochs.len()..prepared.training_epochs {
            let clock = Instant::now();
            let (mut loss, mut arch_loss, mut n_arch, mut n_steps) = (0.0, 0.0, 0, 0);
            let mut expected_cost = None;
            let epoch_seed = mix(seed, epoch as u64);
            let train_loader = crate::train::loader(
                &prepared.train,
                batch_size,
                Some(epoch_seed),
                augment.then_some(epoch_seed ^ 1),
                &prepared.autodiff,
            );
            for batch in train_loader.iter() {
                if self.stop.is_requested() {
                    return Err(OneShotRunError::Interrupted);
                }
                let batch =
                    batch.map_err(|e| OneShotRunError::evaluation("training batch")(e.into()))?;
                let valid_batch = if self.config.oneshot.algorithm.is_differentiable() {
                    let next = match arch_batches.next() {
                        Some(next) => next,
                        None => {
                            arch_batches = arch_loader.iter();
                            arch_batches.next().ok_or_else(|| {
                                ExperimentError::Config("no validation images".into())
                            })?
                        }
                    }
                    .map_err(|e| OneShotRunError::evaluation("validation batch")(e.into()))?;
                    Some((next.images, next.targets))
                } else {
                    None
                };
                let report =
                    prepared
                        .trainer
                        .step(epoch, (batch.images, batch.targets), valid_batch)?;
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
                chosen: prepared.trainer.chosen(),
                accuracy: None,
                duration_s: 0.0,
            };
            if let Some(chosen) = &record.chosen {
                record.accuracy = self.log_choice(prepared, epoch, chosen, &*eval_loader)?;
            }
            // After every epoch, so that a run killed later still leaves a supernet to search
            // (`from_trained`).
            save_weights(&prepared.trainer, &self.dir)?;
            record.duration_s = clock.elapsed().as_secs_f64();
            append(&self.dir.join(SUPERNET_LOG), &record)?;
            if let Some(callback) = &mut self.on_epoch {
                callback(&record);
            }
            epochs.push(record);
        }
        if prepared.training_epochs == 0 {
            save_weights(&prepared.trainer, &self.dir)?;
        }
        Ok(epochs)
    }

    /// Logs the most probable sample after `epoch` as trial `epoch`; its accuracy, unless its
    /// evaluation failed (then the trial is `failed`).
    fn log_choice(
        &self,
        prepared: &Prepared,
        epoch: usize,
        chosen: &Sample,
        eval_loader: &dyn DataLoader<ImageBatch>,
    ) -> Result<Option<f64>, OneShotRunError> {
        let started_at = unix_now();
        let clock = Instant::now();
        let metrics = self.evaluate(prepared, chosen, eval_loader);
        let (status, metrics, error) = match metrics {
            Ok(metrics) => (Status::Ok, metrics, None),
            Err(e) => (Status::Failed, Metrics::new(), Some(e.to_string())),
        };
        let accuracy = metrics.get(metric::ACCURACY).copied();
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
                seed: self.config.oneshot.seed,
                started_at,
                duration_s: clock.elapsed().as_secs_f64(),
                notes: Vec::new(),
                slurm_job_id: None,
            },
        )?;
        Ok(accuracy)
    }

    /// Gradient-based algorithms: the most probable sample, evaluated and fine-tuned if asked.
    fn choose(
        &self,
        prepared: &Prepared,
        epochs: Vec<EpochRecord>,
    ) -> Result<OneShotSummary, OneShotRunError> {
        let best = prepared
            .trainer
            .chosen()
            .ok_or_else(|| ExperimentError::Config("the space has no valid sample".into()))?;
        let eval_loader = loader(&prepared.valid, 256, None, &self.device);
        let mut metrics = self
            .evaluate(prepared, &best, &*eval_loader)
            .map_err(OneShotRunError::evaluation("evaluating the choice"))?;
        self.costs.complete(&best, &mut metrics)?;
        self.test(prepared, &best, &mut metrics)?;
        write_atomic(&self.dir.join(BEST_FILE), format!("{best}\n").as_bytes())?;
        Ok(OneShotSummary {
            best,
            metrics,
            epochs,
            search: None,
        })
    }

    /// SPOS: regularized evolution over subnets with inherited weights, under the budget.
    fn search(
        &self,
        prepared: &Prepared,
        epochs: Vec<EpochRecord>,
    ) -> Result<OneShotSummary, OneShotRunError> {
        let supernet = prepared.trainer.supernet();
        let (valid, calibration) = (&prepared.valid, &prepared.calibration);
        let eval_device = self.device.clone();
        let evaluate =
            |sample: &Sample, _: &TrialContext<'_>| -> Result<Metrics, EvaluationError> {
                let eval_loader = loader(valid, 256, None, &eval_device);
                let accuracy = inherited_accuracy(supernet, sample, calibration, &*eval_loader)?;
                Ok(Metrics::from([(metric::ACCURACY.to_string(), accuracy)]))
            };
        let trials = self.config.search_trials;
        let seed = self.config.oneshot.seed;
        let search = SearchConfig {
            strategy: StrategyConfig::Evolution(EvolutionConfig {
                population_size: (trials / 4).clamp(2, 100),
                sample_size: (trials / 16).clamp(2, 25),
                seed,
                ..EvolutionConfig::default()
            }),
            budget: self.budget.clone(),
            evaluator: EvaluatorConfig::Supernet,
            device: None,
            trials,
            seed,
            objective: Objective::maximize(metric::ACCURACY),
            ..SearchConfig::new(self.space.name())
        };
        let summary = search
            .experiment(
                &self.dir,
                &self.space,
                self.costs.clone(),
                &evaluate,
                self.resume,
            )?
            .with_stop(self.stop.clone())
            .run()?;
        if summary.stop == StopReason::Interrupted {
            return Err(OneShotRunError::Interrupted);
        }
        let best = summary.best.clone().ok_or_else(|| {
            ExperimentError::Config("no subnet within the budget was evaluated".into())
        })?;
        let mut metrics = best.metrics;
        self.test(prepared, &best.sample, &mut metrics)?;
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
        prepared: &mut Prepared,
    ) -> Result<Vec<EpochRecord>, OneShotRunError> {
        let log = self.dir.join(SUPERNET_LOG);
        if !log.exists() {
            return Ok(Vec::new());
        }
        let (mut epochs, _) = read_json_lines::<EpochRecord>(&log)?;
        epochs.truncate(prepared.training_epochs);
        write_atomic(&log, json_lines(&epochs).as_bytes())?;
        if !epochs.is_empty() {
            let trainer = &mut prepared.trainer;
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

    /// Tests the choice: with its inherited weights, or, when the settings ask for a fine-tune,
    /// after it trained alone from them (its validation accuracy then `finetuned_accuracy`).
    fn test(
        &self,
        prepared: &Prepared,
        sample: &Sample,
        metrics: &mut Metrics,
    ) -> Result<(), OneShotRunError> {
        let failed = OneShotRunError::evaluation;
        let supernet = prepared.trainer.supernet();
        if self.config.finetune_epochs == 0 {
            let test_loader = loader(&prepared.test, 256, None, &self.device);
            let accuracy =
                inherited_accuracy(supernet, sample, &prepared.calibration, &*test_loader)
                    .map_err(failed("testing the choice"))?;
            metrics.insert(metric::TEST_ACCURACY.into(), accuracy);
            return Ok(());
        }
        let training = TrainingConfig {
            epochs: self.config.finetune_epochs,
            batch_size: self.config.batch_size,
            learning_rate: self.config.finetune_learning_rate,
            data: self.config.data.clone(),
            ..TrainingConfig::default()
        };
        let evaluator =
            TrainingEvaluator::new(self.space.clone(), self.data, training, self.device.clone())?;
        let network = supernet
            .export(sample)
            .map_err(|e| failed("exporting the choice")(e.into()))?;
        let seed = self.config.oneshot.seed;
        let (tuned, tuned_metrics) = evaluator
            .fit(network, &TrialContext::standalone(0, seed))
            .map_err(failed("fine-tuning the choice"))?;
        metrics.insert(
            metric::FINETUNED_ACCURACY.into(),
            tuned_metrics[metric::ACCURACY],
        );
        let accuracy = evaluator
            .test_accuracy(&tuned)
            .map_err(failed("testing the choice"))?;
        metrics.insert(metric::TEST_ACCURACY.into(), accuracy);
        Ok(())
    }

    /// Validation accuracy of `sample` with the supernet's weights (its BatchNorms recalibrated),
    /// and its costs.
    fn evaluate(
        &self,
        prepared: &Prepared,
        sample: &Sample,
        loader: &dyn DataLoader<ImageBatch>,
    ) -> Result<Metrics, EvaluationError> {
        let supernet = prepared.trainer.supernet();
        let accuracy = inherited_accuracy(supernet, sample, &prepared.calibration, loader)?;
        let mut metrics = Metrics::from([(metric::ACCURACY.to_string(), accuracy)]);
        self.costs.complete(sample, &mut metrics)?;
        Ok(metrics)
    }
}

/// Refuses a supernet trained on other data or another split: its search would rank subnets on
/// images it trained on, and test them on images it chose by.
fn check_trained_on(trained: &Path, config: &OneShotRunConfig) -> Result<(), ExperimentError> {
    let path = trained.join(ONESHOT_SETTINGS);
    let current = serde_json::to_value(&config.data).expect("settings serialize");
    let changed = changed_settings(&path, "a one-shot run", "data", &current)?;
    if changed.is_empty() {
        return Ok(());
    }
    Err(ExperimentError::Config(format!(
        "the supernet in {} was trained on other data or another split ({}): search it with the \
         same data settings",
        trained.display(),
        changed.join("; ")
    )))
}

/// A loader of `set` in batches of `batch` on `device`, shuffled with `seed` if given.
fn loader(set: &Arc<ImageSet>, batch: usize, seed: Option<u64>, device: &Device) -> Loader {
    crate::train::loader(set, batch, seed, None, device)
}

/// Validation accuracy of `sample` with the supernet's weights, its BatchNorms recalibrated on
/// `calibration`.
fn inherited_accuracy(
    supernet: &Supernet,
    sample: &Sample,
    calibration: &Tensor<4>,
    loader: &dyn DataLoader<ImageBatch>,
) -> Result<f64, EvaluationError> {
    let network = supernet.export(sample)?.recalibrate(calibration.clone());
    accuracy(&burn::module::Module::valid(&network), loader)
}

/// Writes the trainer's weights into `dir`, each file whole or not at all (written aside, then
/// renamed over the previous one).
fn save_weights(trainer: &OneShotTrainer, dir: &Path) -> Result<(), OneShotRunError> {
    let (weights, architecture) = (dir.join(SUPERNET_WEIGHTS), dir.join(ARCHITECTURE_WEIGHTS));
    let aside = |path: &Path| path.with_extension("bpk.tmp");
    trainer.save(&aside(&weights), &aside(&architecture))?;
    for path in [weights, architecture] {
        std::fs::rename(aside(&path), &path).map_err(ExperimentError::io(&path))?;
    }
    Ok(())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
