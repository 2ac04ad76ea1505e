use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Device;
use hwnas_profiler::Costs;
use hwnas_space::module::Network;
use hwnas_space::{Architecture, Backend, ModelSpace, Sample, Shape, metric};
use serde::{Deserialize, Serialize};

use crate::experiment::{write_atomic, write_json};
use crate::record::{append_json_line as append, json_lines, read_json_lines};
use crate::search::{changed_settings, hub_space};
use crate::train::TrainingData;
use crate::train::evaluator::save_record;
use crate::train::fit::{EpochStats, evaluate, optimizer, train_epoch};
use crate::{EvaluationError, ExperimentError, Stop, TrainingConfig};

/// The settings of a final training inside its directory: `--resume` must find the same.
pub const TRAIN_SETTINGS: &str = "train.json";
/// The architecture trained, with its space and input ([`ModelFile`]).
pub const MODEL_FILE: &str = "model.json";
/// The weights of the epoch with the best validation accuracy (burnpack).
pub const WEIGHTS_FILE: &str = "weights.bpk";
/// One [`EpochLine`] per finished epoch.
pub const EPOCHS_LOG: &str = "epochs.jsonl";
/// The [`TrainResult`] of the kept weights.
pub const RESULT_FILE: &str = "result.json";
/// `checkpoint/N/`: the network and optimizer after `N` epochs, the state a resumed run goes on
/// from.
pub const CHECKPOINTS: &str = "checkpoint";

/// A final training: one sample of a hub space, trained from scratch on the data its training
/// settings name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRunConfig {
    /// The hub space.
    pub space: String,
    /// Its input (channels, height, width), when not the space's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Shape>,
    /// Its classes, when not the space's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// The architecture trained.
    pub sample: Sample,
    /// How it trains, and on what.
    pub training: TrainingConfig,
    /// The device it trains on.
    pub device: Backend,
    /// Seed of the initial weights, the data order and the augmentation.
    pub seed: u64,
}

impl TrainRunConfig {
    /// The space at its input and class count.
    pub fn model_space(&self) -> Result<ModelSpace, ExperimentError> {
        hub_space(&self.space, self.input, self.classes)
    }
}

/// `model.json`: what a trained model is, for loading its weights elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// The hub space.
    pub space: String,
    /// Its classes, by label.
    pub classes: Vec<String>,
    /// The sample.
    pub sample: Sample,
    /// The frozen architecture, input included.
    pub architecture: Architecture,
    /// Per-channel mean the inputs are normalized by (pixels scaled to [0, 1]).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation the inputs are normalized by.
    pub std: Vec<f32>,
}

/// One line of `epochs.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLine {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean training loss of its steps.
    pub loss: f64,
    /// Share of the training images classified correctly as they trained.
    pub train_accuracy: f64,
    /// Validation accuracy after the epoch.
    pub val_accuracy: f64,
    /// Wall time of the epoch, seconds.
    pub duration_s: f64,
}

/// `result.json`: the kept weights on the test split, and the architecture's costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    /// Test accuracy of the kept weights, as a fraction.
    pub test_accuracy: f64,
    /// Their validation accuracy.
    pub val_accuracy: f64,
    /// The epoch they are from.
    pub best_epoch: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Multiply-accumulates of one example.
    pub flops: f64,
    /// Trainable parameters.
    pub params: f64,
}

/// Why a final training could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainRunError {
    /// Settings, data, the directory or a file.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// A [`Stop`] was requested; the directory holds the epochs finished before it.
    #[error("stopped on request before the training ended")]
    Interrupted,
    /// A training step or an evaluation failed.
    #[error("{what}: {source}")]
    Training {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: EvaluationError,
    },
}

impl TrainRunError {
    /// Whether the error is in what the user gave (settings, data, a directory).
    pub fn is_input(&self) -> bool {
        match self {
            TrainRunError::Experiment(e) => e.is_input(),
            TrainRunError::Interrupted | TrainRunError::Training { .. } => false,
        }
    }

    fn training(what: &'static str) -> impl FnOnce(EvaluationError) -> Self {
        move |source| TrainRunError::Training { what, source }
    }
}

type StepCallback<'a> = Box<dyn FnMut(usize, usize) + 'a>;
type EpochCallback<'a> = Box<dyn FnMut(&EpochLine) + 'a>;

/// A final training written to a directory: `train.json` (the settings), `model.json`,
/// `weights.bpk` (the best validation epoch), `epochs.jsonl`, `result.json` and a checkpoint
/// after every epoch.
///
/// Each epoch reads its images in its own seeded order and augmentation, so a run stopped at any
/// moment (killed, too) and resumed goes on from the last finished epoch, with the network and
/// optimizer state written after it, and on a deterministic backend (flex) ends with the same
/// weights as a run never stopped.
pub struct TrainRun<'a> {
    dir: PathBuf,
    config: TrainRunConfig,
    data: &'a TrainingData,
    device: Device,
    resume: bool,
    stop: Stop,
    on_step: Option<StepCallback<'a>>,
    on_epoch: Option<EpochCallback<'a>>,
}

impl<'a> TrainRun<'a> {
    /// A run of `config` on `data` (read by `config.training.data`), on `device` (autodiff is
    /// added).
    pub fn new(
        dir: impl AsRef<Path>,
        config: TrainRunConfig,
        data: &'a TrainingData,
        device: Device,
    ) -> Self {
        TrainRun {
            dir: dir.as_ref().to_owned(),
            config,
            data,
            device,
            resume: false,
            stop: Stop::new(),
            on_step: None,
            on_epoch: None,
        }
    }

    /// Goes on with the run in the directory (same settings) after its last finished epoch.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Stops before the next step once `stop` is requested, with
    /// [`TrainRunError::Interrupted`].
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Called after every step with `(step, steps in all)`.
    pub fn on_step(mut self, callback: impl FnMut(usize, usize) + 'a) -> Self {
        self.on_step = Some(Box::new(callback));
        self
    }

    /// Called after every epoch.
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochLine) + 'a) -> Self {
        self.on_epoch = Some(Box::new(callback));
        self
    }

    /// Trains the epochs the directory lacks, then tests the kept weights.
    pub fn run(mut self) -> Result<TrainResult, TrainRunError> {
        let training = self.config.training.clone();
        training.validate()?;
        if self.data.config() != &training.data {
            return Err(ExperimentError::Config(
                "the data given was read by other settings than the training's".into(),
            )
            .into());
        }
        let space = self.config.model_space()?;
        self.data.check_fits(&space)?;
        let architecture = space
            .resolve(&self.config.sample)
            .map_err(ExperimentError::from)?;
        self.write_settings(&space, &architecture)?;

        let autodiff = self.device.clone().autodiff();
        let mut network = hwnas_space::module::seeded(&self.device, self.config.seed, || {
            Network::init(&architecture, &autodiff)
        })
        .map_err(ExperimentError::from)?;
        let mut optimizer = optimizer(&training);
        let mut epochs = Vec::new();
        if self.resume {
            (epochs, network, optimizer) = self.restore(network, optimizer)?;
        }
        let steps_per_epoch = self.data.train().len().div_ceil(training.batch_size);
        let total_steps = steps_per_epoch * training.epochs;
        let mut best = best_epoch(&epochs);
        for epoch in epochs.len()..training.epochs {
            let clock = Instant::now();
            let (stop, on_step) = (&self.stop, &mut self.on_step);
            let mut interrupted = false;
            if stop.is_requested() {
                return Err(TrainRunError::Interrupted);
            }
            let mut step = |done: usize, in_epoch: usize| {
                if let Some(callback) = on_step.as_mut() {
                    callback(epoch * steps_per_epoch + done, total_steps);
                }
                // A finished epoch is kept: the stop then comes before the next one.
                interrupted = done < in_epoch && stop.is_requested();
                !interrupted
            };
            let stats: EpochStats;
            (network, stats) = train_epoch(
                network,
                &mut optimizer,
                &training,
                self.data.train(),
                (self.config.seed, epoch),
                &autodiff,
                &mut step,
            )
            .map_err(TrainRunError::training("training"))?;
            if interrupted {
                return Err(TrainRunError::Interrupted);
            }
            let val_accuracy = evaluate(&network, self.data.val(), &self.device)
                .map_err(TrainRunError::training("validating"))?;
            let line = EpochLine {
                epoch,
                loss: stats.loss,
                train_accuracy: stats.train_accuracy,
                val_accuracy,
                duration_s: clock.elapsed().as_secs_f64(),
            };
            self.checkpoint(epoch + 1, &network, &optimizer, &line)?;
            // After the epoch is committed; a kill before this is mended on resume (`restore`).
            if best.is_none_or(|(_, accuracy)| val_accuracy > accuracy) {
                best = Some((epoch, val_accuracy));
                save_record(&network, &self.dir.join(WEIGHTS_FILE))
                    .map_err(TrainRunError::training("writing the weights"))?;
            }
            if let Some(callback) = &mut self.on_epoch {
                callback(&line);
            }
            epochs.push(line);
        }
        let (best_epoch, val_accuracy) = best.expect("at least one epoch");
        self.result(&architecture, &space, best_epoch, val_accuracy)
    }

    /// Refuses a directory that holds another run (or any run, unless resuming), then writes
    /// `train.json` and `model.json`.
    fn write_settings(
        &self,
        space: &ModelSpace,
        architecture: &Architecture,
    ) -> Result<(), ExperimentError> {
        let path = self.dir.join(TRAIN_SETTINGS);
        let current = serde_json::to_value(&self.config).expect("settings serialize");
        if path.exists() {
            if !self.resume {
                return Err(ExperimentError::Resume(format!(
                    "{} already holds a training: resume it (--resume) or choose another directory",
                    self.dir.display()
                )));
            }
            let changed = changed_settings(&path, "a training", "", &current)?;
            if !changed.is_empty() {
                return Err(ExperimentError::Resume(format!(
                    "{} was trained with other settings: {}",
                    self.dir.display(),
                    changed.join("; ")
                )));
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(ExperimentError::io(&self.dir))?;
        let model = ModelFile {
            space: space.name().to_string(),
            classes: self.data.classes().to_vec(),
            sample: self.config.sample.clone(),
            architecture: architecture.clone(),
            mean: self.data.normalization().mean.clone(),
            std: self.data.normalization().std.clone(),
        };
        write_json(&self.dir.join(MODEL_FILE), &model)?;
        write_json(&path, &current)
    }

    /// The finished epochs (a line cut short dropped), and the network and optimizer after the
    /// last of them.
    fn restore(
        &self,
        network: Network,
        optimizer: ModuleOptimizer,
    ) -> Result<(Vec<EpochLine>, Network, ModuleOptimizer), ExperimentError> {
        let log = self.dir.join(EPOCHS_LOG);
        let (mut epochs, _) = read_json_lines::<EpochLine>(&log)?;
        epochs.truncate(self.config.training.epochs);
        write_atomic(&log, json_lines(&epochs).as_bytes())?;
        let done = epochs.len();
        self.remove_checkpoints_but(done)?;
        if done == 0 {
            return Ok((epochs, network, optimizer));
        }
        let dir = self.dir.join(CHECKPOINTS).join(done.to_string());
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            ExperimentError::Resume(format!(
                "{} lists {done} epochs but the {what} after them cannot be read from {}: {e}",
                log.display(),
                dir.display()
            ))
        };
        let record =
            ModuleRecord::load(dir.join("network.bpk")).map_err(|e| unreadable("network", &e))?;
        let network = network
            .try_load_record(record)
            .map_err(|e| unreadable("network", &e))?;
        let optimizer = optimizer
            .load(dir.join("optimizer.bpk"))
            .map_err(|e| unreadable("optimizer state", &e))?;
        // The last epoch was the best: the kept weights may not have been written before the
        // stop, and these are they.
        if best_epoch(&epochs).is_some_and(|(epoch, _)| epoch + 1 == done) {
            save_record(&network, &self.dir.join(WEIGHTS_FILE))
                .map_err(|e| ExperimentError::Failed(format!("writing the weights: {e}")))?;
        }
        Ok((epochs, network, optimizer))
    }

    /// Writes the state after `done` epochs to `checkpoint/done/` (aside, then renamed), then
    /// appends the epoch's line, which makes it the state to resume from, then removes the older
    /// checkpoint.
    fn checkpoint(
        &self,
        done: usize,
        network: &Network,
        optimizer: &ModuleOptimizer,
        line: &EpochLine,
    ) -> Result<(), TrainRunError> {
        let root = self.dir.join(CHECKPOINTS);
        let aside = root.join(format!("{done}.tmp"));
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::create_dir_all(&aside).map_err(ExperimentError::io(&aside))?;
        network
            .clone()
            .into_record()
            .save(aside.join("network.bpk"))
            .map_err(|e| TrainRunError::training("writing a checkpoint")(e.to_string().into()))?;
        optimizer
            .save(aside.join("optimizer.bpk"))
            .map_err(|e| TrainRunError::training("writing a checkpoint")(e.to_string().into()))?;
        let target = root.join(done.to_string());
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&aside, &target).map_err(ExperimentError::io(&target))?;
        append(&self.dir.join(EPOCHS_LOG), line)?;
        self.remove_checkpoints_but(done)?;
        Ok(())
    }

    fn remove_checkpoints_but(&self, keep: usize) -> Result<(), ExperimentError> {
        let root = self.dir.join(CHECKPOINTS);
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry.map_err(ExperimentError::io(&root))?;
            if entry.file_name().to_string_lossy() != keep.to_string() {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(ExperimentError::io(&path))?;
            }
        }
        Ok(())
    }

    /// Tests the kept weights and writes `result.json`.
    fn result(
        &self,
        architecture: &Architecture,
        space: &ModelSpace,
        best_epoch: usize,
        val_accuracy: f64,
    ) -> Result<TrainResult, TrainRunError> {
        let path = self.dir.join(WEIGHTS_FILE);
        let network = load_network(architecture, &path, &self.device)?;
        let test_accuracy = evaluate(&network, self.data.test(), &self.device)
            .map_err(TrainRunError::training("testing"))?;
        let mut costs = hwnas_space::Metrics::new();
        Costs::counts(space)
            .map_err(ExperimentError::from)?
            .complete(&self.config.sample, &mut costs)
            .map_err(|e| ExperimentError::Config(e.to_string()))?;
        let result = TrainResult {
            test_accuracy,
            val_accuracy,
            best_epoch,
            epochs: self.config.training.epochs,
            flops: costs[metric::FLOPS],
            params: costs[metric::PARAMS],
        };
        write_json(&self.dir.join(RESULT_FILE), &result)?;
        Ok(result)
    }
}

/// A network of `architecture` on `device` with the weights at `path`.
pub fn load_network(
    architecture: &Architecture,
    path: &Path,
    device: &Device,
) -> Result<Network, ExperimentError> {
    let network = Network::init(architecture, device)?;
    let record = ModuleRecord::load(path)
        .map_err(|e| ExperimentError::Resume(format!("cannot read {}: {e}", path.display())))?;
    network.try_load_record(record).map_err(|e| {
        ExperimentError::Resume(format!(
            "{} does not hold the weights of this network: {e}",
            path.display()
        ))
    })
}

/// The epoch of the best validation accuracy (the first of equals) and that accuracy.
fn best_epoch(epochs: &[EpochLine]) -> Option<(usize, f64)> {
    epochs.iter().fold(None, |best, line| match best {
        Some((_, accuracy)) if accuracy >= line.val_accuracy => best,
        _ => Some((line.epoch, line.val_accuracy)),
    })
}
