//! `mobile-micro`: a small MobileNet-style space that trains in seconds on the CPU on 8x8 or 28x28
//! grey images. Three stages choose their width and depth, and every block its kernel size and
//! expansion ratio; widths never shrink from one stage to the next.

use crate::hub::blocks::{MbConv, Norm, conv_bn};
use crate::{
    ActivationFn, Constraint, Conv2dSpec, Layer, ModelSpace, Node, Shape, SpaceError, Value, Width,
};

/// Settings of the `mobile-micro` space.
#[derive(Debug, Clone, PartialEq)]
pub struct MobileMicroConfig {
    /// Classifier outputs.
    pub num_classes: usize,
    /// Input shape (1x8x8 digits by default; 1x28x28 for MNIST).
    pub input: Shape,
}

impl Default for MobileMicroConfig {
    fn default() -> Self {
        MobileMicroConfig {
            num_classes: 10,
            input: Shape::image(1, 8, 8),
        }
    }
}

/// Per stage: width candidates and the stride of its first block.
const STAGES: [(&[usize], usize); 3] = [(&[8, 12, 16], 1), (&[16, 24, 32], 2), (&[24, 32, 48], 2)];
const DEPTHS: [usize; 3] = [1, 2, 3];
const KERNELS: [usize; 2] = [3, 5];
const EXPANDS: [f64; 3] = [1.0, 3.0, 6.0];
const STEM: usize = 8;
const HEAD: usize = 64;
const ACT: ActivationFn = ActivationFn::Relu;

fn stage(index: usize, widths: &[usize], stride: usize) -> Node {
    let s = index + 1;
    Node::value_choice(format!("s{s}_width"), widths.iter().copied(), |width| {
        let out = width.as_i64().expect("widths are integers") as usize;
        Node::repeat(format!("s{s}_depth"), DEPTHS, |block| {
            Node::value_choice(format!("s{s}_b{block}_kernel"), KERNELS, |kernel| {
                let kernel = kernel.as_i64().expect("kernels are integers") as usize;
                Node::value_choice(
                    format!("s{s}_b{block}_expand"),
                    EXPANDS,
                    |expand: &Value| {
                        MbConv {
                            out,
                            kernel,
                            expand: expand.as_f64().expect("ratios are numbers"),
                            stride: if block == 0 { stride } else { 1 },
                            act: ACT,
                            norm: Norm::TORCH,
                        }
                        .node()
                    },
                )
            })
        })
    })
}

/// Declares the space.
pub fn mobile_micro(config: &MobileMicroConfig) -> Result<ModelSpace, SpaceError> {
    if config.num_classes == 0 {
        return Err(SpaceError::InvalidDeclaration(
            "mobile-micro needs at least one class".into(),
        ));
    }
    let mut layers = vec![conv_bn(
        Conv2dSpec::new(Width::Fixed(STEM), 3, 1),
        Norm::TORCH,
        Some(ACT),
    )];
    layers.extend(
        STAGES
            .iter()
            .enumerate()
            .map(|(i, (widths, stride))| stage(i, widths, *stride)),
    );
    layers.extend([
        conv_bn(
            Conv2dSpec::new(Width::Fixed(HEAD), 1, 1),
            Norm::TORCH,
            Some(ACT),
        ),
        Node::Layer(Layer::GlobalAvgPool),
        Node::Layer(Layer::Linear {
            out_features: config.num_classes,
            bias: true,
        }),
    ]);
    let never_narrower = |lower: &str, upper: &str| Constraint::LessOrEqual {
        lower: lower.into(),
        upper: upper.into(),
    };
    ModelSpace::new(
        "mobile-micro",
        Node::Sequential(layers),
        vec![
            never_narrower("s1_width", "s2_width"),
            never_narrower("s2_width", "s3_width"),
        ],
        config.input,
    )
}
