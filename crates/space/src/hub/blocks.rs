//! Building blocks shared by the hub spaces.

use crate::{ActivationFn, Conv2dSpec, Groups, Layer, Node, Width};

/// Batch-normalization settings of a space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Norm {
    pub epsilon: f64,
    pub momentum: f64,
}

impl Norm {
    pub const TORCH: Norm = Norm {
        epsilon: 1e-5,
        momentum: 0.1,
    };

    pub fn layer(self) -> Node {
        Node::Layer(Layer::BatchNorm {
            epsilon: self.epsilon,
            momentum: self.momentum,
        })
    }
}

pub(crate) fn activation(function: ActivationFn) -> Node {
    Node::Layer(Layer::Activation { function })
}

/// Convolution, batch norm, then the activation if any.
pub(crate) fn conv_bn(conv: Conv2dSpec, norm: Norm, act: Option<ActivationFn>) -> Node {
    let mut layers = vec![Node::Layer(Layer::Conv2d(conv)), norm.layer()];
    layers.extend(act.map(activation));
    Node::Sequential(layers)
}

/// Settings of an inverted residual block (MBConv).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MbConv {
    pub out: usize,
    pub kernel: usize,
    pub expand: f64,
    pub stride: usize,
    pub act: ActivationFn,
    pub norm: Norm,
}

impl MbConv {
    /// 1x1 expansion (skipped at ratio 1), depthwise `kernel` convolution, 1x1 projection without
    /// activation; a residual whenever the block keeps its input's shape.
    pub fn node(self) -> Node {
        let mut layers = Vec::with_capacity(3);
        if self.expand != 1.0 {
            let hidden = Width::Expand {
                ratio: self.expand,
                divisor: 8,
            };
            layers.push(conv_bn(
                Conv2dSpec::new(hidden, 1, 1),
                self.norm,
                Some(self.act),
            ));
        }
        let depthwise =
            Conv2dSpec::new(Width::Same, self.kernel, self.stride).with_groups(Groups::Depthwise);
        layers.push(conv_bn(depthwise, self.norm, Some(self.act)));
        layers.push(conv_bn(
            Conv2dSpec::new(Width::Fixed(self.out), 1, 1),
            self.norm,
            None,
        ));
        Node::residual(Node::Sequential(layers))
    }
}
