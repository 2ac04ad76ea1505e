use burn::module::Module;
use burn::nn::activation::{HardSwish, Relu6, SiLU};
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Gelu, HardSigmoid, HardSigmoidConfig,
    Identity, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu, Sigmoid,
    conv::{Conv2d, Conv2dConfig},
};
use burn::tensor::{Device, Tensor};

use crate::block::{combine_shapes as combine, gate_shape};
use crate::{
    ActivationFn, Architecture, Block, Layer, ModelSpace, Reduction, Sample, Shape, SpaceError,
};

/// What flows between layers: a batch of feature maps or of flat vectors.
#[derive(Debug, Clone)]
pub enum Hidden {
    /// `[batch, channels, height, width]`.
    Image(Tensor<4>),
    /// `[batch, features]`.
    Flat(Tensor<2>),
}

impl Hidden {
    pub(crate) fn image(self, what: &str) -> Tensor<4> {
        match self {
            Hidden::Image(x) => x,
            // Shapes were checked when the network was built.
            Hidden::Flat(_) => unreachable!("{what} received a flat tensor"),
        }
    }

    pub(crate) fn flat(self, what: &str) -> Tensor<2> {
        match self {
            Hidden::Flat(x) => x,
            Hidden::Image(_) => unreachable!("{what} received an image tensor"),
        }
    }

    pub(crate) fn map(
        self,
        image: impl FnOnce(Tensor<4>) -> Tensor<4>,
        flat: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> Hidden {
        match self {
            Hidden::Image(x) => Hidden::Image(image(x)),
            Hidden::Flat(x) => Hidden::Flat(flat(x)),
        }
    }

    pub(crate) fn add(self, other: Hidden) -> Hidden {
        match (self, other) {
            (Hidden::Image(a), Hidden::Image(b)) => Hidden::Image(a + b),
            (Hidden::Flat(a), Hidden::Flat(b)) => Hidden::Flat(a + b),
            _ => unreachable!("added tensors of different ranks"),
        }
    }

    /// `self * gate`, the gate broadcast over space (checked shapes).
    pub(crate) fn mul(self, gate: Hidden) -> Hidden {
        match (self, gate) {
            (Hidden::Image(x), Hidden::Image(gate)) => Hidden::Image(x * gate),
            (Hidden::Flat(x), Hidden::Flat(gate)) => Hidden::Flat(x * gate),
            _ => unreachable!("gate shapes were checked"),
        }
    }

    /// The dimensions, batch first.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Hidden::Image(x) => x.dims().to_vec(),
            Hidden::Flat(x) => x.dims().to_vec(),
        }
    }
}

/// Outputs zeros of its input's shape.
#[derive(Module, Debug, Default)]
pub struct Zero;

/// Flattens a feature map to a vector.
#[derive(Module, Debug, Default)]
pub struct Flatten;

/// One operation of a frozen network. The variant names are the path segments of saved records.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub enum Op {
    Conv2d(Conv2d),
    Linear(Linear),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    Relu(Relu),
    Relu6(Relu6),
    Gelu(Gelu),
    Silu(SiLU),
    HardSwish(HardSwish),
    Sigmoid(Sigmoid),
    HardSigmoid(HardSigmoid),
    MaxPool2d(MaxPool2d),
    AvgPool2d(AvgPool2d),
    AdaptiveAvgPool2d(AdaptiveAvgPool2d),
    GlobalAvgPool(AdaptiveAvgPool2d),
    Dropout(Dropout),
    Flatten(Flatten),
    Zero(Zero),
    Identity(Identity),
    Sequential(Sequential),
    Sum(Sum),
    Gate(Gate),
    Cell(Cell),
}

/// Children in sequence.
#[derive(Module, Debug)]
pub struct Sequential {
    /// The children.
    pub ops: Vec<Op>,
}

/// Sum of branches applied to the same input.
#[derive(Module, Debug)]
pub struct Sum {
    /// The branches.
    pub branches: Vec<Op>,
}

/// `x * body(x)`.
#[derive(Module, Debug)]
pub struct Gate {
    /// Computes the gate.
    pub body: Sequential,
}

/// A frozen cell graph.
#[derive(Module, Debug)]
pub struct Cell {
    /// One entry per computed node.
    pub nodes: Vec<CellNode>,
}

/// A node of a frozen cell.
#[derive(Module, Debug)]
pub struct CellNode {
    /// The earlier node each operation reads.
    pub sources: Vec<usize>,
    /// One operation per source.
    pub ops: Vec<Op>,
    /// 0 sum, 1 mean, 2 concatenation.
    pub reduction: usize,
}

/// A frozen architecture as a burn module, ready for `forward`.
#[derive(Module, Debug)]
pub struct Network {
    /// The network.
    pub root: Op,
}

pub(crate) fn reduction_code(reduction: Reduction) -> usize {
    match reduction {
        Reduction::Sum => 0,
        Reduction::Mean => 1,
        Reduction::Concat => 2,
    }
}

fn padding(padding: [usize; 2]) -> PaddingConfig2d {
    let [h, w] = padding;
    PaddingConfig2d::Explicit(h, w, h, w)
}

/// A fresh module for `layer` on an input of shape `input` (checked by `output_shape`).
pub(crate) fn init_layer(layer: &Layer, input: Shape, device: &Device) -> Op {
    match layer {
        Layer::Conv2d(conv) => {
            let (in_channels, out_channels, groups) = conv
                .channels(input.channels())
                .expect("checked by output_shape");
            Op::Conv2d(
                Conv2dConfig::new([in_channels, out_channels], conv.kernel)
                    .with_stride(conv.stride)
                    .with_padding(padding(conv.padding))
                    .with_dilation(conv.dilation)
                    .with_groups(groups)
                    .with_bias(conv.bias)
                    .init(device),
            )
        }
        Layer::Linear { out_features, bias } => Op::Linear(
            LinearConfig::new(input.channels(), *out_features)
                .with_bias(*bias)
                .init(device),
        ),
        Layer::BatchNorm { epsilon, momentum } => Op::BatchNorm(
            BatchNormConfig::new(input.channels())
                .with_epsilon(*epsilon)
                .with_momentum(*momentum)
                .init(device),
        ),
        Layer::LayerNorm { epsilon } => Op::LayerNorm(
            LayerNormConfig::new(input.channels())
                .with_epsilon(*epsilon)
                .init(device),
        ),
        Layer::Activation { function } => match function {
            ActivationFn::Relu => Op::Relu(Relu::new()),
            ActivationFn::Relu6 => Op::Relu6(Relu6::new()),
            ActivationFn::Gelu => Op::Gelu(Gelu::new()),
            ActivationFn::Silu => Op::Silu(SiLU::new()),
            ActivationFn::HardSwish => Op::HardSwish(HardSwish::new()),
            ActivationFn::Sigmoid => Op::Sigmoid(Sigmoid::new()),
            ActivationFn::HardSigmoid => Op::HardSigmoid(
                HardSigmoidConfig::new()
                    .with_alpha(1.0 / 6.0)
                    .with_beta(0.5)
                    .init(),
            ),
        },
        Layer::MaxPool2d(pool) => Op::MaxPool2d(
            MaxPool2dConfig::new(pool.kernel)
                .with_strides(pool.stride)
                .with_padding(padding(pool.padding))
                .init(),
        ),
        Layer::AvgPool2d {
            pool,
            count_include_pad,
        } => Op::AvgPool2d(
            AvgPool2dConfig::new(pool.kernel)
                .with_strides(pool.stride)
                .with_padding(padding(pool.padding))
                .with_count_include_pad(*count_include_pad)
                .init(),
        ),
        Layer::AdaptiveAvgPool2d { output } => {
            Op::AdaptiveAvgPool2d(AdaptiveAvgPool2dConfig::new(*output).init())
        }
        Layer::GlobalAvgPool => Op::GlobalAvgPool(AdaptiveAvgPool2dConfig::new([1, 1]).init()),
        Layer::Dropout { prob } => Op::Dropout(DropoutConfig::new(*prob).init()),
        Layer::Flatten => Op::Flatten(Flatten),
        Layer::Zero => Op::Zero(Zero),
        Layer::Identity => Op::Identity(Identity::new()),
    }
}

/// Builds the module of `block` for `input`; returns it with its output shape. `make` builds each
/// primitive layer, in execution order (fresh weights, or weights inherited from a supernet).
pub(crate) fn build_block(
    block: &Block,
    input: Shape,
    make: &mut impl FnMut(&Layer, Shape) -> Op,
) -> Result<(Op, Shape), SpaceError> {
    let mut sequence = |children: &[Block]| -> Result<(Sequential, Shape), SpaceError> {
        let mut ops = Vec::with_capacity(children.len());
        let mut shape = input;
        for child in children {
            let (op, output) = build_block(child, shape, make)?;
            ops.push(op);
            shape = output;
        }
        Ok((Sequential { ops }, shape))
    };
    Ok(match block {
        Block::Layer(layer) => {
            let output = layer.output_shape(input)?;
            (make(layer, input), output)
        }
        Block::Sequential(children) => {
            let (sequential, output) = sequence(children)?;
            (Op::Sequential(sequential), output)
        }
        Block::Residual(body) => {
            let (body, output) = build_block(body, input, make)?;
            if output == input {
                let branches = vec![Op::Identity(Identity::new()), body];
                (Op::Sum(Sum { branches }), output)
            } else {
                (body, output)
            }
        }
        Block::Gate(body) => {
            let (body, gate) = sequence(std::slice::from_ref(body))?;
            (Op::Gate(Gate { body }), gate_shape(input, gate)?)
        }
        Block::Sum(branches) => {
            let mut ops = Vec::with_capacity(branches.len());
            let mut shapes = Vec::with_capacity(branches.len());
            for branch in branches {
                let (op, shape) = build_block(branch, input, make)?;
                ops.push(op);
                shapes.push(shape);
            }
            (
                Op::Sum(Sum { branches: ops }),
                combine("sum", &shapes, Reduction::Sum)?,
            )
        }
        Block::Cell(nodes) => {
            let mut shapes = vec![input];
            let mut modules = Vec::with_capacity(nodes.len());
            for node in nodes {
                let mut sources = Vec::with_capacity(node.inputs.len());
                let mut ops = Vec::with_capacity(node.inputs.len());
                let mut inputs = Vec::with_capacity(node.inputs.len());
                for (from, block) in &node.inputs {
                    let source = *shapes
                        .get(*from)
                        .ok_or_else(|| SpaceError::cell_order(*from, shapes.len()))?;
                    let (op, shape) = build_block(block, source, make)?;
                    sources.push(*from);
                    ops.push(op);
                    inputs.push(shape);
                }
                shapes.push(combine("cell node", &inputs, node.reduction)?);
                modules.push(CellNode {
                    sources,
                    ops,
                    reduction: reduction_code(node.reduction),
                });
            }
            let output = *shapes.last().expect("a cell has its input node");
            (Op::Cell(Cell { nodes: modules }), output)
        }
    })
}

impl Op {
    /// Applies the operation.
    pub fn forward(&self, x: Hidden) -> Hidden {
        match self {
            Op::Conv2d(m) => Hidden::Image(m.forward(x.image("conv2d"))),
            Op::Linear(m) => Hidden::Flat(m.forward(x.flat("linear"))),
            Op::BatchNorm(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::LayerNorm(m) => Hidden::Flat(m.forward(x.flat("layer_norm"))),
            Op::Relu(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::Relu6(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::Gelu(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::Silu(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::HardSwish(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::Sigmoid(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::HardSigmoid(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::MaxPool2d(m) => Hidden::Image(m.forward(x.image("max_pool2d"))),
            Op::AvgPool2d(m) => Hidden::Image(m.forward(x.image("avg_pool2d"))),
            Op::AdaptiveAvgPool2d(m) => Hidden::Image(m.forward(x.image("adaptive_avg_pool2d"))),
            Op::GlobalAvgPool(m) => {
                let pooled = m.forward(x.image("global_avg_pool"));
                let [batch, channels, _, _] = pooled.dims();
                Hidden::Flat(pooled.reshape([batch, channels]))
            }
            Op::Dropout(m) => x.map(|x| m.forward(x), |x| m.forward(x)),
            Op::Flatten(_) => {
                let image = x.image("flatten");
                let [batch, channels, height, width] = image.dims();
                Hidden::Flat(image.reshape([batch, channels * height * width]))
            }
            Op::Zero(_) => x.map(|x| x.zeros_like(), |x| x.zeros_like()),
            Op::Identity(_) => x,
            Op::Sequential(m) => m.forward(x),
            Op::Sum(m) => {
                let mut outputs = m.branches.iter().map(|branch| branch.forward(x.clone()));
                let first = outputs.next().expect("a sum has branches");
                outputs.fold(first, Hidden::add)
            }
            Op::Gate(m) => {
                let gate = m.body.forward(x.clone());
                x.mul(gate)
            }
            Op::Cell(m) => m.forward(x),
        }
    }
}

impl Op {
    fn for_each_batch_norm(&mut self, f: &mut impl FnMut(&mut BatchNorm)) {
        match self {
            Op::BatchNorm(norm) => f(norm),
            Op::Sequential(m) => m.ops.iter_mut().for_each(|op| op.for_each_batch_norm(f)),
            Op::Sum(m) => m
                .branches
                .iter_mut()
                .for_each(|op| op.for_each_batch_norm(f)),
            Op::Gate(m) => m
                .body
                .ops
                .iter_mut()
                .for_each(|op| op.for_each_batch_norm(f)),
            Op::Cell(m) => m
                .nodes
                .iter_mut()
                .flat_map(|node| node.ops.iter_mut())
                .for_each(|op| op.for_each_batch_norm(f)),
            _ => {}
        }
    }
}

impl Sequential {
    /// Applies the children in order.
    pub fn forward(&self, x: Hidden) -> Hidden {
        self.ops.iter().fold(x, |x, op| op.forward(x))
    }
}

impl Cell {
    /// Computes every node; returns the last.
    pub fn forward(&self, x: Hidden) -> Hidden {
        let mut nodes = vec![x];
        for node in &self.nodes {
            let outputs: Vec<Hidden> = node
                .sources
                .iter()
                .zip(&node.ops)
                .map(|(&from, op)| op.forward(nodes[from].clone()))
                .collect();
            nodes.push(combine_hidden(outputs, node.reduction));
        }
        nodes.pop().expect("a cell has its input node")
    }
}

/// Combines a cell node's inputs by a reduction code (see [`CellNode::reduction`]).
pub(crate) fn combine_hidden(outputs: Vec<Hidden>, reduction: usize) -> Hidden {
    let n_outputs = outputs.len();
    match reduction {
        // Along channels, or along features for flat inputs (the shapes were checked alike).
        2 => match outputs.first() {
            Some(Hidden::Flat(_)) => {
                let flats = outputs.into_iter().map(|h| h.flat("concat")).collect();
                Hidden::Flat(Tensor::cat(flats, 1))
            }
            _ => {
                let images = outputs.into_iter().map(|h| h.image("concat")).collect();
                Hidden::Image(Tensor::cat(images, 1))
            }
        },
        code => {
            let mut outputs = outputs.into_iter();
            let first = outputs.next().expect("a cell node has inputs");
            let sum = outputs.fold(first, Hidden::add);
            if code == 1 {
                let n = n_outputs as f64;
                sum.map(|x| x / n, |x| x / n)
            } else {
                sum
            }
        }
    }
}

impl Network {
    /// Builds the module of a frozen architecture on `device`.
    pub fn init(architecture: &Architecture, device: &Device) -> Result<Self, SpaceError> {
        let (root, _) = build_block(
            &architecture.root,
            architecture.input,
            &mut |layer, input| init_layer(layer, input, device),
        )?;
        Ok(Network { root })
    }

    /// Runs the network on a batch of images.
    pub fn forward(&self, input: Tensor<4>) -> Hidden {
        self.root.forward(Hidden::Image(input))
    }

    /// Replaces every BatchNorm's running statistics by the statistics of `images`, a batch on an
    /// autodiff device (where BatchNorm trains). A subnet exported from a supernet inherits
    /// statistics gathered over many subnets; these are its own.
    pub fn recalibrate(mut self, images: Tensor<4>) -> Network {
        let mut momenta = Vec::new();
        self.root.for_each_batch_norm(&mut |norm| {
            momenta.push(norm.momentum);
            norm.momentum = 1.0;
        });
        self.forward(images);
        let mut momenta = momenta.into_iter();
        self.root.for_each_batch_norm(&mut |norm| {
            norm.momentum = momenta.next().expect("the same batch norms");
        });
        self
    }

    /// Runs a classifier: the output must be flat (`[batch, classes]`).
    pub fn forward_logits(&self, input: Tensor<4>) -> Result<Tensor<2>, SpaceError> {
        match self.forward(input) {
            Hidden::Flat(logits) => Ok(logits),
            Hidden::Image(x) => Err(SpaceError::shape(
                "network",
                format!("outputs a feature map of shape {:?}, not logits", x.dims()),
            )),
        }
    }
}

impl ModelSpace {
    /// Validates `sample` and builds its network on `device` for the space's input shape.
    pub fn freeze(&self, sample: &Sample, device: &Device) -> Result<Network, SpaceError> {
        Network::init(&self.resolve(sample)?, device)
    }
}
