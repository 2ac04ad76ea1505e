//! Argument groups every command that needs them flattens in, and what they turn into.

use std::path::PathBuf;

use clap::Args;
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
}

impl SpaceArgs {
    /// The space at the input asked for, and the batch (1 unless `--input` gives one).
    pub fn load(&self) -> anyhow::Result<(ModelSpace, usize)> {
        let space = hub::space(&self.name)?;
        Ok(match self.input {
            None => (space, 1),
            Some(input) => (space.with_input(input.shape), input.batch),
        })
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
