//! Argument groups every command that needs them flattens in, and what they turn into.

use std::path::PathBuf;

use clap::Args;
use hwnas_data::Format;
use hwnas_experiment::train::TrainingData;
use hwnas_experiment::{DataConfig, OptimizerKind, Schedule, TrainingConfig};
use hwnas_profiler::{DEFAULT_INTERLEAVE, LatencyBackend};
use hwnas_space::{Backend, InputShape, ModelSpace, Sample, hub};

use crate::samples;

/// A hub space, at the space's own input or another one.
#[derive(Args)]
pub struct SpaceArgs {
    /// Hub space name (`hwnas spaces` lists them).
    pub name: String,
    /// Input shape, batch first: `1,3,224,224` (FLOPs exclude the batch).
    #[arg(long)]
    pub input: Option<InputShape>,
    /// Classes the networks classify into (default: the space's own), as for a model trained
    /// on data with that many classes.
    #[arg(long)]
    pub classes: Option<usize>,
}

impl SpaceArgs {
    /// The space at the input and class count asked for, and the batch (1 unless `--input`
    /// gives one).
    pub fn load(&self) -> anyhow::Result<(ModelSpace, usize)> {
        let space = hub::space(&self.name)?;
        let batch = self.input.map_or(1, |input| input.batch);
        Ok(match (self.input, self.classes) {
            (None, None) => (space, 1),
            (Some(input), None) => (space.with_input(input.shape), batch),
            (input, Some(classes)) => {
                let input = input.map_or(space.input(), |input| input.shape);
                (hub::space_for(&self.name, input, classes)?, batch)
            }
        })
    }
}

/// The images a command trains on, and their split.
#[derive(Args)]
pub struct DataArgs {
    /// Images to train on: a folder of class subfolders (PNG, JPEG, BMP; optional train/, val/,
    /// test/), CIFAR-10/100 binary batches, or MNIST-style IDX files (default: the embedded 8x8
    /// digits).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The format of `--data` (folder, cifar or idx) when what it holds does not tell.
    #[arg(long)]
    pub data_format: Option<Format>,
    /// Share of each class held out for validation, where the data brings no split of its own.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Share of each class held out for test, where the data brings no split of its own.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Augment the training images: random crop of the zero-padded image and horizontal flip.
    #[arg(long)]
    pub augment: bool,
}

impl DataArgs {
    /// The settings (the path made absolute, so that a run is rebuilt from its directory
    /// wherever it is started).
    pub fn config(&self) -> anyhow::Result<DataConfig> {
        let path =
            match &self.data {
                Some(path) => Some(std::path::absolute(path).map_err(|e| {
                    crate::exit::InputError(format!("--data {}: {e}", path.display()))
                })?),
                None => None,
            };
        // The folder an archive unpacked into, holding the data's one folder: that folder,
        // said once (an unreadable path is reported where the data is read).
        let path = match path {
            Some(path) if self.data_format.is_none() && path.is_dir() => {
                match Format::locate(&path) {
                    Ok((inner, format)) if inner != path => {
                        let what = match format {
                            Format::Cifar => "CIFAR batches",
                            Format::Idx => "IDX files",
                            Format::ImageFolder => "class folders",
                        };
                        eprintln!("data: reading the {what} in {}", inner.display());
                        Some(inner)
                    }
                    _ => Some(path),
                }
            }
            other => other,
        };
        Ok(DataConfig {
            path,
            format: self.data_format,
            val_fraction: self.val_fraction,
            test_fraction: self.test_fraction,
            split_seed: self.split_seed,
            augment: self.augment,
        })
    }

    /// The data read and split, at its own image size.
    pub fn load(&self) -> anyhow::Result<TrainingData> {
        Ok(TrainingData::load(&self.config()?, None)?)
    }
}

/// A file of samples.
#[derive(Args)]
pub struct SampleArgs {
    /// File of samples (JSON lines), or `-` for standard input.
    #[arg(long)]
    pub sample: PathBuf,
}

impl SampleArgs {
    /// Every sample of the file.
    pub fn read(&self) -> anyhow::Result<Vec<Sample>> {
        samples::read(&self.sample)
    }
}

/// The device a command runs networks on.
#[derive(Args)]
pub struct DeviceArgs {
    /// Device: flex, ndarray, wgpu or cuda (each but flex needs its cargo feature).
    #[arg(long, default_value = "flex")]
    pub device: Backend,
}

/// The device a latency command times networks on.
#[derive(Args)]
pub struct LatencyDeviceArgs {
    /// Device: flex, ndarray, wgpu or cuda (burn; each but flex needs its cargo feature), or
    /// tract (the network exported to ONNX and run by tract on this CPU, one thread).
    #[arg(long, default_value = "flex")]
    pub device: LatencyBackend,
}

/// How many networks are timed together.
#[derive(Args)]
pub struct InterleaveArgs {
    /// Networks held at once and timed in interleaved visits, so that a drifting machine slows
    /// them alike (1: one after another).
    #[arg(long, default_value_t = DEFAULT_INTERLEAVE as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub interleave: u64,
}

/// How latency is timed.
#[derive(Args)]
pub struct TimingArgs {
    /// Timing budget per sample, milliseconds (at least 10 timed passes).
    #[arg(long, default_value_t = 200)]
    pub budget_ms: u64,
    #[command(flatten)]
    pub interleave: InterleaveArgs,
}

/// Machine-readable output.
#[derive(Args)]
pub struct JsonArgs {
    /// One JSON object per sample per line.
    #[arg(long)]
    pub json: bool,
}

/// An optimizer by name.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Adam,
    Adamw,
}

/// How networks train: the settings `train` and a search's trials share. Each flag left out
/// keeps the command's own default (`hwnas train`: SGD with Nesterov momentum at 0.05, weight
/// decay 5e-4, one warm-up epoch, label smoothing 0.1, batch 64; a search's trials: Adam at
/// 0.01, batch 32, nothing else).
#[derive(Args)]
pub struct OptimizerArgs {
    /// Images per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The optimizer (sgd: with `--momentum`, Nesterov unless `--no-nesterov`).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD's momentum (default 0.9).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Plain momentum instead of Nesterov's.
    #[arg(long)]
    pub no_nesterov: bool,
    /// Weight decay (L2 for sgd and adam, decoupled for adamw).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Epochs of linear warm-up before the cosine decay.
    #[arg(long)]
    pub warmup_epochs: Option<usize>,
    /// A constant learning rate after the warm-up instead of cosine decay.
    #[arg(long)]
    pub constant_lr: bool,
    /// Label smoothing of the loss.
    #[arg(long)]
    pub label_smoothing: Option<f64>,
}

impl OptimizerArgs {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.batch_size.is_some()
            || self.optimizer.is_some()
            || self.lr.is_some()
            || self.momentum.is_some()
            || self.no_nesterov
            || self.weight_decay.is_some()
            || self.warmup_epochs.is_some()
            || self.constant_lr
            || self.label_smoothing.is_some()
    }

    /// `base` with every flag given replacing its setting.
    pub fn apply(&self, mut base: TrainingConfig) -> anyhow::Result<TrainingConfig> {
        for (flag, value) in [
            ("--lr", self.lr),
            ("--momentum", self.momentum),
            ("--weight-decay", self.weight_decay),
            ("--label-smoothing", self.label_smoothing),
        ] {
            if let Some(value) = value
                && !(value.is_finite() && value >= 0.0)
            {
                crate::exit::bail_input!("{flag} must be a number of at least 0, not {value}");
            }
        }
        let sgd = |momentum: f64, nesterov: bool| OptimizerKind::Sgd {
            momentum: self.momentum.unwrap_or(momentum),
            nesterov: nesterov && !self.no_nesterov,
        };
        base.optimizer = match (self.optimizer, base.optimizer) {
            (Some(OptimizerName::Sgd), OptimizerKind::Sgd { momentum, nesterov }) => {
                sgd(momentum, nesterov)
            }
            (Some(OptimizerName::Sgd), _) => sgd(0.9, true),
            (Some(OptimizerName::Adam), _) => OptimizerKind::Adam,
            (Some(OptimizerName::Adamw), _) => OptimizerKind::AdamW,
            (None, OptimizerKind::Sgd { momentum, nesterov }) => sgd(momentum, nesterov),
            (None, other) => other,
        };
        base.batch_size = self.batch_size.unwrap_or(base.batch_size);
        base.learning_rate = self.lr.unwrap_or(base.learning_rate);
        base.weight_decay = self.weight_decay.unwrap_or(base.weight_decay);
        base.warmup_epochs = self.warmup_epochs.unwrap_or(base.warmup_epochs);
        base.label_smoothing = self.label_smoothing.unwrap_or(base.label_smoothing);
        if self.constant_lr {
            base.schedule = Schedule::Constant;
        }
        base.validate()?;
        Ok(base)
    }
}
