//! The NAS-Bench-201 cell space: one 4-node cell design, six edges of five operations, shared by
//! the 15 cells of a CIFAR skeleton.

use crate::hub::blocks::{Norm, activation};
use crate::{
    ActivationFn, CellNode, Conv2dSpec, Layer, ModelSpace, Node, PoolSpec, Shape, SpaceError, Width,
};

/// Settings of the `nasbench201` space.
#[derive(Debug, Clone, PartialEq)]
pub struct NasBench201Config {
    /// Channels of the first stage (doubled by each reduction).
    pub channels: usize,
    /// Cells per stage.
    pub cells_per_stage: usize,
    /// Classifier outputs.
    pub num_classes: usize,
    /// Input shape.
    pub input: Shape,
}

impl Default for NasBench201Config {
    fn default() -> Self {
        NasBench201Config {
            channels: 16,
            cells_per_stage: 5,
            num_classes: 10,
            input: Shape::image(3, 32, 32),
        }
    }
}

/// Operation names in the reference order.
pub const OPERATIONS: [&str; 5] = [
    "none",
    "skip_connect",
    "conv_1x1",
    "conv_3x3",
    "avg_pool_3x3",
];

const NORM: Norm = Norm::TORCH;

/// ReLU, convolution without bias, batch norm.
fn relu_conv_bn(out: Width, kernel: usize, stride: usize) -> Node {
    Node::sequential([
        activation(ActivationFn::Relu),
        Node::Layer(Layer::Conv2d(Conv2dSpec::new(out, kernel, stride))),
        NORM.layer(),
    ])
}

fn operation(name: &str) -> Node {
    match name {
        "none" => Node::Layer(Layer::Zero),
        "skip_connect" => Node::Layer(Layer::Identity),
        "conv_1x1" => relu_conv_bn(Width::Same, 1, 1),
        "conv_3x3" => relu_conv_bn(Width::Same, 3, 1),
        "avg_pool_3x3" => Node::Layer(Layer::AvgPool2d {
            pool: PoolSpec::new(3, 1, 1),
            count_include_pad: false,
        }),
        _ => unreachable!("operation names come from OPERATIONS"),
    }
}

fn cell() -> Node {
    let nodes = (1..4)
        .map(|j| CellNode {
            inputs: (0..j)
                .map(|i| {
                    let edge = Node::layer_choice(
                        format!("cell/{i}_{j}"),
                        OPERATIONS.map(|name| (name, operation(name))),
                    );
                    (i, edge)
                })
                .collect(),
            select: None,
        })
        .collect();
    Node::Cell(crate::Cell { nodes })
}

/// ResNet basic block with stride 2: two ReLU-conv-BN and an average-pooled 1x1 shortcut.
fn reduction(out: usize) -> Node {
    Node::Sum(vec![
        Node::sequential([
            relu_conv_bn(Width::Fixed(out), 3, 2),
            relu_conv_bn(Width::Fixed(out), 3, 1),
        ]),
        Node::sequential([
            Node::Layer(Layer::AvgPool2d {
                pool: PoolSpec::new(2, 2, 0),
                count_include_pad: true,
            }),
            Node::Layer(Layer::Conv2d(Conv2dSpec::new(Width::Fixed(out), 1, 1))),
        ]),
    ])
}

/// Declares the space.
pub fn nasbench201(config: &NasBench201Config) -> Result<ModelSpace, SpaceError> {
    if config.channels == 0 || config.num_classes == 0 {
        return Err(SpaceError::InvalidDeclaration(
            "nasbench201 needs positive channels and classes".into(),
        ));
    }
    let c = config.channels;
    let mut layers = vec![
        Node::Layer(Layer::Conv2d(Conv2dSpec::new(Width::Fixed(c), 3, 1))),
        NORM.layer(),
    ];
    for (stage, width) in [c, 2 * c, 4 * c].into_iter().enumerate() {
        if stage > 0 {
            layers.push(reduction(width));
        }
        layers.extend((0..config.cells_per_stage).map(|_| cell()));
    }
    layers.extend([
        NORM.layer(),
        activation(ActivationFn::Relu),
        Node::Layer(Layer::GlobalAvgPool),
        Node::Layer(Layer::Linear {
            out_features: config.num_classes,
            bias: true,
        }),
    ]);
    ModelSpace::new(
        "nasbench201",
        Node::Sequential(layers),
        vec![],
        config.input,
    )
}
