use std::ops::{Add, AddAssign};

use hwnas_space::{Architecture, Layer, Shape};

use crate::ProfileError;

/// What the FLOPs count includes, as in the reference toolkit: all on by default.
///
/// FLOPs are multiply-accumulates with the batch dimension excluded. Parameters always count
/// biases and normalization weights; they never count running statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountOptions {
    /// Count the bias of convolutions and linear layers (one per output element).
    pub count_bias: bool,
    /// Count normalization layers (`2 * (1 + affine)` per element).
    pub count_norm: bool,
    /// Count activations (one per element).
    pub count_activation: bool,
}

impl Default for CountOptions {
    fn default() -> Self {
        CountOptions {
            count_bias: true,
            count_norm: true,
            count_activation: true,
        }
    }
}

impl CountOptions {
    /// Bias, normalization and activations all left out.
    pub const NONE: CountOptions = CountOptions {
        count_bias: false,
        count_norm: false,
        count_activation: false,
    };
}

/// Exact FLOPs and parameter counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Multiply-accumulates for one example.
    pub flops: u64,
    /// Trainable parameters.
    pub params: u64,
}

impl Counts {
    /// Whether both counts are zero.
    pub fn is_zero(&self) -> bool {
        self.flops == 0 && self.params == 0
    }
}

impl Add for Counts {
    type Output = Counts;

    fn add(self, other: Counts) -> Counts {
        Counts {
            flops: self.flops + other.flops,
            params: self.params + other.params,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        *self = *self + other;
    }
}

/// The counts of one layer between `input` and `output`.
///
/// Every layer kind has an explicit rule, zero included (pooling, dropout, reshapes), so no
/// kind is ever counted as zero by omission.
pub fn layer_counts(
    layer: &Layer,
    input: Shape,
    output: Shape,
    options: CountOptions,
) -> Result<Counts, ProfileError> {
    let flag = |on: bool| u64::from(on);
    Ok(match layer {
        Layer::Conv2d(conv) => {
            let (in_channels, out_channels, groups) = conv.channels(input.channels())?;
            let per_output = (conv.kernel[0] * conv.kernel[1] * in_channels / groups) as u64;
            let weights = out_channels as u64 * per_output;
            Counts {
                flops: output.elements() * (per_output + flag(conv.bias && options.count_bias)),
                params: weights + flag(conv.bias) * out_channels as u64,
            }
        }
        Layer::Linear { out_features, bias } => {
            let (inputs, outputs) = (input.channels() as u64, *out_features as u64);
            Counts {
                flops: outputs * (inputs + flag(*bias && options.count_bias)),
                params: outputs * inputs + flag(*bias) * outputs,
            }
        }
        // Affine normalization: 2 * (1 + affine) operations per element, weight and bias per
        // channel (running statistics are not parameters).
        Layer::BatchNorm { .. } | Layer::LayerNorm { .. } => Counts {
            flops: flag(options.count_norm) * 4 * output.elements(),
            params: 2 * output.channels() as u64,
        },
        Layer::Activation { .. } => Counts {
            flops: flag(options.count_activation) * output.elements(),
            params: 0,
        },
        Layer::MaxPool2d(_)
        | Layer::AvgPool2d { .. }
        | Layer::AdaptiveAvgPool2d { .. }
        | Layer::GlobalAvgPool
        | Layer::Dropout { .. }
        | Layer::Flatten
        | Layer::Zero
        | Layer::Identity => Counts::default(),
    })
}

/// Counts a frozen architecture layer by layer: the direct path, without precomputation.
pub fn count_architecture(
    architecture: &Architecture,
    options: CountOptions,
) -> Result<Counts, ProfileError> {
    count_walk(architecture, options, false)
}

/// Counts the layers of a frozen architecture its output depends on
/// ([`Architecture::visit_live`]): what a network computes, without the operations that run but
/// change nothing.
pub fn count_live(
    architecture: &Architecture,
    options: CountOptions,
) -> Result<Counts, ProfileError> {
    count_walk(architecture, options, true)
}

fn count_walk(
    architecture: &Architecture,
    options: CountOptions,
    live_only: bool,
) -> Result<Counts, ProfileError> {
    let mut total = Counts::default();
    let mut error = None;
    let mut visitor = |layer: &Layer, input: Shape, output: Shape| {
        match layer_counts(layer, input, output, options) {
            Ok(counts) => total += counts,
            Err(e) => error = Some(e),
        }
        Ok(())
    };
    if live_only {
        architecture.visit_live(&mut visitor)?;
    } else {
        architecture.visit(&mut visitor)?;
    }
    match error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}
