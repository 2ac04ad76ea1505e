//! Argument groups every command that needs them flattens in, and what they turn into.

use std::path::PathBuf;

use clap::Args;
use hwnas_data::Format;
use hwnas_experiment::DataConfig;
use hwnas_experiment::train::TrainingData;
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
