//! The ProxylessNAS mobile space, as the reference toolkit defines it (see the crate's reference
//! notes): 21 MBConv layer choices over kernel 3/5/7 and expansion 3/6, and five depth choices.

use crate::hub::blocks::{MbConv, Norm, conv_bn};
use crate::layer::make_divisible;
use crate::{ActivationFn, Conv2dSpec, Groups, Layer, ModelSpace, Node, Shape, SpaceError, Width};

/// Settings of the `proxylessnas` space.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxylessConfig {
    /// Multiplies every width (then rounded to a multiple of 8).
    pub width_mult: f64,
    /// Classifier outputs.
    pub num_classes: usize,
    /// Dropout before the classifier.
    pub dropout: f64,
    /// Input shape.
    pub input: Shape,
}

impl Default for ProxylessConfig {
    fn default() -> Self {
        ProxylessConfig {
            width_mult: 1.0,
            num_classes: 1000,
            dropout: 0.0,
            input: Shape::image(3, 224, 224),
        }
    }
}

const BASE_WIDTHS: [usize; 9] = [32, 16, 32, 40, 80, 96, 192, 320, 1280];
const DOWNSAMPLE: [bool; 8] = [true, false, true, true, true, false, true, false];
const NORM: Norm = Norm {
    epsilon: 1e-3,
    momentum: 0.1,
};
const ACT: ActivationFn = ActivationFn::Relu6;

/// Candidate names in the reference order.
pub const CANDIDATES: [(&str, usize, f64); 6] = [
    ("k3e3", 3, 3.0),
    ("k5e3", 5, 3.0),
    ("k7e3", 7, 3.0),
    ("k3e6", 3, 6.0),
    ("k5e6", 5, 6.0),
    ("k7e6", 7, 6.0),
];

fn layer_choice(stage: usize, layer: usize, out: usize, stride: usize) -> Node {
    Node::layer_choice(
        format!("s{stage}_i{layer}"),
        CANDIDATES.map(|(name, kernel, expand)| {
            let block = MbConv {
                out,
                kernel,
                expand,
                stride,
                act: ACT,
                norm: NORM,
            };
            (name, block.node())
        }),
    )
}

/// Declares the space.
pub fn proxylessnas(config: &ProxylessConfig) -> Result<ModelSpace, SpaceError> {
    if !(config.width_mult > 0.0 && config.width_mult.is_finite())
        || config.num_classes == 0
        || !(0.0..1.0).contains(&config.dropout)
    {
        return Err(SpaceError::InvalidDeclaration(
            "proxylessnas needs a positive width multiplier, at least one class and dropout in [0, 1)".into(),
        ));
    }
    let widths = BASE_WIDTHS.map(|w| make_divisible(w as f64 * config.width_mult, 8));
    let stride = |stage: usize| if DOWNSAMPLE[stage] { 2 } else { 1 };

    let mut layers = vec![
        conv_bn(
            Conv2dSpec::new(Width::Fixed(widths[0]), 3, stride(0)),
            NORM,
            Some(ACT),
        ),
        // Block 1: depthwise separable, never residual (32 -> 16 channels).
        Node::residual(Node::sequential([
            conv_bn(
                Conv2dSpec::new(Width::Same, 3, stride(1)).with_groups(Groups::Depthwise),
                NORM,
                Some(ACT),
            ),
            conv_bn(Conv2dSpec::new(Width::Fixed(widths[1]), 1, 1), NORM, None),
        ])),
    ];
    for (stage, &width) in widths.iter().enumerate().take(7).skip(2) {
        layers.push(Node::repeat(format!("s{stage}_depth"), 1..=4, |layer| {
            let layer_stride = if layer == 0 { stride(stage) } else { 1 };
            layer_choice(stage, layer, width, layer_stride)
        }));
    }
    layers.push(layer_choice(7, 0, widths[7], stride(7)));
    layers.push(conv_bn(
        Conv2dSpec::new(Width::Fixed(widths[8]), 1, 1),
        NORM,
        Some(ACT),
    ));
    layers.push(Node::Layer(Layer::GlobalAvgPool));
    layers.push(Node::Layer(Layer::Dropout {
        prob: config.dropout,
    }));
    layers.push(Node::Layer(Layer::Linear {
        out_features: config.num_classes,
        bias: true,
    }));
    ModelSpace::new(
        "proxylessnas",
        Node::Sequential(layers),
        vec![],
        config.input,
    )
}
