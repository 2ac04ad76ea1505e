use serde::{Deserialize, Serialize};

use crate::{Shape, SpaceError};

/// A primitive layer of a network, described without its input shape: input channels come from
/// the shape that reaches it, so one description serves every width a search can choose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layer {
    /// 2-d convolution.
    Conv2d(Conv2dSpec),
    /// Fully connected layer on a flat input.
    Linear {
        /// Output features.
        out_features: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// Batch normalization over channels (affine).
    BatchNorm {
        /// Numerical stability term.
        epsilon: f64,
        /// Running statistics momentum.
        momentum: f64,
    },
    /// Layer normalization over the features of a flat input (affine).
    LayerNorm {
        /// Numerical stability term.
        epsilon: f64,
    },
    /// An element-wise activation.
    Activation {
        /// Which function.
        function: ActivationFn,
    },
    /// Max pooling.
    MaxPool2d(PoolSpec),
    /// Average pooling.
    AvgPool2d {
        /// Window.
        #[serde(flatten)]
        pool: PoolSpec,
        /// Whether zero padding counts in the denominator.
        count_include_pad: bool,
    },
    /// Adaptive average pooling to a fixed output size.
    AdaptiveAvgPool2d {
        /// Output height and width.
        output: [usize; 2],
    },
    /// Global average pooling, flattening the result to a vector of channels.
    GlobalAvgPool,
    /// Dropout (identity at inference).
    Dropout {
        /// Drop probability in `[0, 1)`.
        prob: f64,
    },
    /// Flattens an image to a vector.
    Flatten,
    /// Outputs zeros of its input's shape (the `none` operation of cell spaces).
    Zero,
    /// Passes its input through.
    Identity,
}

/// An element-wise activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationFn {
    /// `max(0, x)`.
    Relu,
    /// `min(max(0, x), 6)`.
    Relu6,
    /// Gaussian error linear unit.
    Gelu,
    /// `x * sigmoid(x)`.
    Silu,
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    /// Logistic function (the gate of squeeze-and-excite).
    Sigmoid,
    /// `relu6(x + 3) / 6`.
    HardSigmoid,
}

/// Output channels of a convolution, possibly relative to its input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Width {
    /// A fixed number of channels.
    Fixed(usize),
    /// As many channels as the input (depthwise convolutions).
    Same,
    /// `make_divisible(input * ratio, divisor)`: the hidden width of an inverted residual.
    Expand {
        /// Expansion ratio.
        ratio: f64,
        /// The width is rounded to a multiple of this.
        divisor: usize,
    },
    /// `max(min, make_divisible(input * ratio, divisor))`: the bottleneck of squeeze-and-excite.
    Reduce {
        /// Reduction ratio (e.g. 0.25).
        ratio: f64,
        /// The width is rounded to a multiple of this.
        divisor: usize,
    },
}

impl Width {
    /// Channels for an input of `input` channels.
    pub fn resolve(&self, input: usize) -> usize {
        match *self {
            Width::Fixed(channels) => channels,
            Width::Same => input,
            Width::Expand { ratio, divisor } | Width::Reduce { ratio, divisor } => {
                make_divisible(input as f64 * ratio, divisor)
            }
        }
    }
}

/// Groups of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Groups {
    /// A fixed number of groups.
    Fixed(usize),
    /// One group per input channel.
    Depthwise,
}

/// A 2-d convolution. Padding is symmetric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2dSpec {
    /// Output channels.
    pub out_channels: Width,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Zero padding on each side.
    pub padding: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: Groups,
    /// Whether the convolution has a bias.
    pub bias: bool,
}

impl Conv2dSpec {
    /// A square `kernel` convolution with `same`-style padding `(kernel - 1) / 2`, no bias.
    pub fn new(out_channels: Width, kernel: usize, stride: usize) -> Self {
        Conv2dSpec {
            out_channels,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [(kernel - 1) / 2; 2],
            dilation: [1, 1],
            groups: Groups::Fixed(1),
            bias: false,
        }
    }

    /// Sets the groups.
    pub fn with_groups(mut self, groups: Groups) -> Self {
        self.groups = groups;
        self
    }

    /// Sets the padding.
    pub fn with_padding(mut self, padding: usize) -> Self {
        self.padding = [padding, padding];
        self
    }

    /// Sets whether there is a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Input channels, output channels and groups for an input of `in_channels`.
    pub fn channels(&self, in_channels: usize) -> Result<(usize, usize, usize), SpaceError> {
        let out = self.out_channels.resolve(in_channels);
        let groups = match self.groups {
            Groups::Fixed(groups) => groups,
            Groups::Depthwise => in_channels,
        };
        if out == 0
            || groups == 0
            || !in_channels.is_multiple_of(groups)
            || !out.is_multiple_of(groups)
        {
            return Err(SpaceError::shape(
                "conv2d",
                format!("{in_channels} -> {out} channels cannot form {groups} groups"),
            ));
        }
        Ok((in_channels, out, groups))
    }
}

/// A pooling window. Padding is symmetric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding on each side.
    pub padding: [usize; 2],
}

impl PoolSpec {
    /// A square window.
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Self {
        PoolSpec {
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [padding, padding],
        }
    }
}

/// `make_divisible` of the MobileNet family: round `value` half up to a multiple of `divisor`, at
/// least `divisor`, and never more than 10 % below `value`.
pub fn make_divisible(value: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let rounded = (((value + d / 2.0) / d).floor() * d).max(d);
    if rounded < 0.9 * value {
        (rounded + d) as usize
    } else {
        rounded as usize
    }
}

fn positive(value: f64) -> bool {
    value > 0.0 && value.is_finite()
}

fn window_output(
    layer: &str,
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Result<usize, SpaceError> {
    let span = dilation * (kernel - 1) + 1;
    if kernel == 0 || stride == 0 || size + 2 * padding < span {
        return Err(SpaceError::shape(
            layer,
            format!(
                "window {kernel} (stride {stride}, padding {padding}) does not fit size {size}"
            ),
        ));
    }
    Ok((size + 2 * padding - span) / stride + 1)
}

impl Layer {
    /// The layer's kind, as named in files and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv2d(_) => "conv2d",
            Layer::Linear { .. } => "linear",
            Layer::BatchNorm { .. } => "batch_norm",
            Layer::LayerNorm { .. } => "layer_norm",
            Layer::Activation { .. } => "activation",
            Layer::MaxPool2d(_) => "max_pool2d",
            Layer::AvgPool2d { .. } => "avg_pool2d",
            Layer::AdaptiveAvgPool2d { .. } => "adaptive_avg_pool2d",
            Layer::GlobalAvgPool => "global_avg_pool",
            Layer::Dropout { .. } => "dropout",
            Layer::Flatten => "flatten",
            Layer::Zero => "zero",
            Layer::Identity => "identity",
        }
    }

    /// The shape this layer outputs for `input`, or why it cannot take it.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, SpaceError> {
        let image = || match input {
            Shape::Image {
                channels,
                height,
                width,
            } => Ok((channels, height, width)),
            Shape::Flat(_) => Err(SpaceError::shape(self.kind(), "needs an image input")),
        };
        let flat = || match input {
            Shape::Flat(features) => Ok(features),
            Shape::Image { .. } => Err(SpaceError::shape(self.kind(), "needs a flat input")),
        };
        match *self {
            Layer::BatchNorm { epsilon, momentum }
                if !positive(epsilon) || !(0.0..=1.0).contains(&momentum) =>
            {
                return Err(SpaceError::shape(
                    self.kind(),
                    "needs epsilon > 0 and momentum in [0, 1]",
                ));
            }
            Layer::LayerNorm { epsilon } if !positive(epsilon) => {
                return Err(SpaceError::shape(self.kind(), "needs epsilon > 0"));
            }
            Layer::Dropout { prob } if !(0.0..1.0).contains(&prob) => {
                return Err(SpaceError::shape(
                    self.kind(),
                    "needs a probability in [0, 1)",
                ));
            }
            Layer::Linear {
                out_features: 0, ..
            }
            | Layer::AdaptiveAvgPool2d {
                output: [0, _] | [_, 0],
            } => {
                return Err(SpaceError::shape(
                    self.kind(),
                    "needs a positive output size",
                ));
            }
            _ => {}
        }
        Ok(match self {
            Layer::Conv2d(conv) => {
                let (channels, height, width) = image()?;
                let (_, out, _) = conv.channels(channels)?;
                let window = |i: usize, size| {
                    window_output(
                        "conv2d",
                        size,
                        conv.kernel[i],
                        conv.stride[i],
                        conv.padding[i],
                        conv.dilation[i],
                    )
                };
                Shape::image(out, window(0, height)?, window(1, width)?)
            }
            Layer::Linear { out_features, .. } => {
                flat()?;
                Shape::Flat(*out_features)
            }
            Layer::LayerNorm { .. } => Shape::Flat(flat()?),
            Layer::MaxPool2d(pool) | Layer::AvgPool2d { pool, .. } => {
                let (channels, height, width) = image()?;
                let window = |i: usize, size| {
                    let (kernel, padding) = (pool.kernel[i], pool.padding[i]);
                    if 2 * padding > kernel {
                        return Err(SpaceError::shape(
                            self.kind(),
                            format!("padding {padding} exceeds half the window {kernel}"),
                        ));
                    }
                    window_output(self.kind(), size, kernel, pool.stride[i], padding, 1)
                };
                Shape::image(channels, window(0, height)?, window(1, width)?)
            }
            Layer::AdaptiveAvgPool2d { output } => {
                let (channels, ..) = image()?;
                Shape::image(channels, output[0], output[1])
            }
            Layer::GlobalAvgPool => Shape::Flat(image()?.0),
            Layer::Flatten => Shape::Flat(input.elements() as usize),
            Layer::BatchNorm { .. }
            | Layer::Activation { .. }
            | Layer::Dropout { .. }
            | Layer::Zero
            | Layer::Identity => input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_the_reference_rule() {
        let check =
            |value: f64, expected: usize| assert_eq!(make_divisible(value, 8), expected, "{value}");
        check(32.0, 32);
        check(3.0, 8);
        check(16.0 * 3.0, 48);
        check(40.0 * 6.0, 240);
        check(12.0, 16);
        check(11.0, 16);
        check(1280.0 * 0.35, 448);
        check(1280.0 * 1.4, 1792);
        check(96.0 * 0.35, 32);
    }

    #[test]
    fn layer_output_shapes() {
        let input = Shape::image(16, 15, 15);
        let conv = Layer::Conv2d(Conv2dSpec::new(Width::Fixed(32), 3, 2));
        assert_eq!(conv.output_shape(input).unwrap(), Shape::image(32, 8, 8));
        let depthwise =
            Layer::Conv2d(Conv2dSpec::new(Width::Same, 7, 1).with_groups(Groups::Depthwise));
        assert_eq!(depthwise.output_shape(input).unwrap(), input);
        assert_eq!(
            Layer::GlobalAvgPool.output_shape(input).unwrap(),
            Shape::Flat(16)
        );
        assert_eq!(
            Layer::Flatten.output_shape(input).unwrap(),
            Shape::Flat(3600)
        );
        let pool = Layer::MaxPool2d(PoolSpec::new(3, 2, 1));
        assert_eq!(pool.output_shape(input).unwrap(), Shape::image(16, 8, 8));
        let linear = Layer::Linear {
            out_features: 10,
            bias: true,
        };
        assert!(
            linear
                .output_shape(input)
                .unwrap_err()
                .to_string()
                .contains("linear")
        );
        let grouped =
            Layer::Conv2d(Conv2dSpec::new(Width::Fixed(10), 1, 1).with_groups(Groups::Fixed(4)));
        assert!(grouped.output_shape(input).is_err());
        let too_big = Layer::Conv2d(Conv2dSpec::new(Width::Fixed(8), 7, 1).with_padding(0));
        assert!(too_big.output_shape(Shape::image(3, 4, 4)).is_err());
    }
}
