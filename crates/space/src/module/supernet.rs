use std::sync::Arc;

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::network::{Network, Op, build_block, init_layer};
use crate::block::combine_shapes;
use crate::{Groups, Layer, ModelSpace, Node, Reduction, Sample, Shape, SpaceError};

/// A weight-sharing supernet: every candidate of every choice of a space exists once, and every
/// sample of the space runs through it with inherited weights.
///
/// Built from the same declaration as [`ModelSpace::freeze`]. A [`LayerChoice`](crate::LayerChoice)
/// keeps one module per candidate. The candidates of a [`ValueChoice`](crate::ValueChoice) that
/// differ only in widths or kernel sizes share one module sized for the largest, and a smaller
/// width or kernel uses the first channels or the centre of it (weight slicing, as in
/// Once-for-All); candidates of another structure keep their own. A [`Repeat`](crate::Repeat)
/// keeps its deepest stack and a depth runs its first blocks; a cell keeps every operation of every
/// input of an [`InputChoice`](crate::InputChoice).
///
/// ```
/// use hwnas_space::{hub, module::Supernet};
///
/// let space = hub::space("mobile-micro")?;
/// let device = burn::tensor::Device::flex();
/// let supernet = Supernet::init(&space, &device)?;
/// let sample = space.search_space().default_sample()?;
/// let images = burn::tensor::Tensor::<4>::zeros([2, 1, 8, 8], &device);
/// assert_eq!(supernet.forward_logits(&sample, images)?.dims(), [2, 10]);
/// // The subnet as a standalone network carrying the inherited weights.
/// let network = supernet.export(&sample)?;
/// # Ok::<(), hwnas_space::SpaceError>(())
/// ```
#[derive(Module, Debug)]
pub struct Supernet {
    /// The shared modules, in the shape of the declaration.
    pub root: SuperOp,
    #[module(skip)]
    space: Arc<ModelSpace>,
    #[module(skip)]
    mix_issue: Option<String>,
}

/// One part of a supernet, mirroring a [`Node`] of the declaration.
#[derive(Module, Debug)]
#[allow(missing_docs)]
// Layers are most of a supernet's nodes; boxing them would add an indirection to each.
#[allow(clippy::large_enum_variant)]
pub enum SuperOp {
    Layer(SharedLayer),
    Sequential(Vec<SuperOp>),
    /// One body.
    Residual(Vec<SuperOp>),
    /// One body.
    Gate(Vec<SuperOp>),
    Sum(Vec<SuperOp>),
    /// One module per candidate of a layer choice.
    Choice(Vec<SuperOp>),
    /// A value choice whose candidates share modules by group.
    Shared(SharedChoice),
    /// The deepest stack of a repeat.
    Repeat(Vec<SuperOp>),
    Cell(Vec<SuperCellNode>),
}

/// The candidates of a value choice, grouped by structure: candidates of one group share one
/// module sized for the largest of them.
#[derive(Module, Debug)]
pub struct SharedChoice {
    /// One module per group.
    pub groups: Vec<SuperOp>,
    /// The group of each candidate, in declaration order.
    pub group_of: Vec<usize>,
}

/// A cell node of a supernet: one operation per input, chosen or not.
#[derive(Module, Debug)]
pub struct SuperCellNode {
    /// One operation per declared input.
    pub ops: Vec<SuperOp>,
}

/// A primitive layer whose weights are sized for the largest shape any sample gives it.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub enum SharedLayer {
    Conv2d(SharedConv2d),
    Linear(Linear),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    /// A layer without weights, built from its declaration when it runs.
    Stateless(Stateless),
}

/// A convolution at its largest width and kernel; smaller ones slice the first channels and the
/// centre of the kernel.
#[derive(Module, Debug)]
pub struct SharedConv2d {
    /// burn's convolution at the largest size.
    pub conv: Conv2d,
    /// One group per channel: slices keep one input channel per filter.
    pub depthwise: bool,
}

/// Marks a layer without weights.
#[derive(Module, Debug, Default)]
pub struct Stateless;

impl Supernet {
    /// Builds the supernet of `space` on `device`; fails when candidates that must share weights
    /// cannot (a grouped convolution whose channels vary, kernels of different parity).
    pub fn init(space: &ModelSpace, device: &Device) -> Result<Self, SpaceError> {
        let mut builder = Builder {
            device,
            mix_issue: None,
        };
        let (root, _) = builder.build(&[space.root()], &[space.input()])?;
        Ok(Supernet {
            root,
            space: Arc::new(space.clone()),
            mix_issue: builder.mix_issue,
        })
    }

    /// The space the supernet was built from.
    pub fn space(&self) -> &ModelSpace {
        &self.space
    }

    /// Whether the supernet can run every candidate of a choice at once and mix their outputs
    /// (DARTS-style): candidates must agree on the spatial size of their output.
    pub fn check_mixable(&self) -> Result<(), SpaceError> {
        match &self.mix_issue {
            None => Ok(()),
            Some(issue) => Err(SpaceError::InvalidDeclaration(format!(
                "`{}` cannot mix candidate outputs: {issue}",
                self.space.name()
            ))),
        }
    }

    /// Exports the subnet of `sample` as a standalone [`Network`] carrying the supernet's weights
    /// (the same modules [`ModelSpace::freeze`] builds, with inherited instead of fresh weights).
    pub fn export(&self, sample: &Sample) -> Result<Network, SpaceError> {
        let indices = self.space.search_space().indices(sample)?;
        let architecture = self.space.resolve_indices(&indices)?;
        let mut path = Vec::new();
        self.root
            .collect(self.space.root(), &self.route_fixed(&indices), &mut path);
        // A supernet without a single parameter has no device of its own (and its export none
        // to place): any will do, and `flex` may not be built.
        let device = self.devices().into_iter().next().unwrap_or_default();
        let mut path = path.into_iter();
        let (root, _) = build_block(
            &architecture.root,
            architecture.input,
            &mut |layer, input| {
                let shared = path
                    .next()
                    .expect("the path visits every layer of the subnet");
                shared.export(layer, input, &device)
            },
        )?;
        Ok(Network { root })
    }
}

struct Builder<'d> {
    device: &'d Device,
    mix_issue: Option<String>,
}

fn push_unique(shapes: &mut Vec<Shape>, shape: Shape) {
    if !shapes.contains(&shape) {
        shapes.push(shape);
    }
}

fn union(sets: impl IntoIterator<Item = Vec<Shape>>) -> Vec<Shape> {
    let mut all = Vec::new();
    for set in sets {
        set.into_iter()
            .for_each(|shape| push_unique(&mut all, shape));
    }
    all
}

fn spatial(shape: Shape) -> Option<(usize, usize)> {
    match shape {
        Shape::Image { height, width, .. } => Some((height, width)),
        Shape::Flat(_) => None,
    }
}

impl Builder<'_> {
    fn note_mix(&mut self, label: &str, outputs: &[Shape]) {
        if self.mix_issue.is_some() {
            return;
        }
        if let Some((first, rest)) = outputs.split_first()
            && let Some(other) = rest.iter().find(|s| spatial(**s) != spatial(*first))
        {
            self.mix_issue = Some(format!(
                "candidates of `{label}` output shapes {first} and {other}"
            ));
        }
    }

    /// Builds one module shared by `nodes` (structurally compatible declarations) for any of the
    /// `inputs` shapes; returns it with every output shape it can give.
    fn build(
        &mut self,
        nodes: &[&Node],
        inputs: &[Shape],
    ) -> Result<(SuperOp, Vec<Shape>), SpaceError> {
        let first = nodes[0];
        let children = |i: usize| -> Vec<&Node> {
            nodes
                .iter()
                .map(|node| match node {
                    Node::Sequential(children) | Node::Sum(children) => &children[i],
                    Node::Residual(body) | Node::Gate(body) => body.as_ref(),
                    Node::LayerChoice(choice) => &choice.candidates[i].1,
                    Node::ValueChoice(choice) => &choice.candidates[i].1,
                    Node::Repeat(repeat) => &repeat.blocks[i],
                    Node::Layer(_) | Node::Cell(_) => unreachable!("no children by position"),
                })
                .collect()
        };
        Ok(match first {
            Node::Layer(_) => {
                let layers: Vec<&Layer> = nodes
                    .iter()
                    .map(|node| match node {
                        Node::Layer(layer) => layer,
                        _ => unreachable!("merged nodes are compatible"),
                    })
                    .collect();
                let (layer, outputs) = self.shared_layer(&layers, inputs)?;
                (SuperOp::Layer(layer), outputs)
            }
            Node::Sequential(items) => {
                let mut ops = Vec::with_capacity(items.len());
                let mut shapes = inputs.to_vec();
                for i in 0..items.len() {
                    let (op, outputs) = self.build(&children(i), &shapes)?;
                    ops.push(op);
                    shapes = outputs;
                }
                (SuperOp::Sequential(ops), shapes)
            }
            Node::Residual(_) => {
                let (body, outputs) = self.build(&children(0), inputs)?;
                (SuperOp::Residual(vec![body]), outputs)
            }
            Node::Gate(_) => {
                let (body, _) = self.build(&children(0), inputs)?;
                (SuperOp::Gate(vec![body]), inputs.to_vec())
            }
            Node::Sum(branches) => {
                let mut ops = Vec::with_capacity(branches.len());
                let mut sets = Vec::with_capacity(branches.len());
                for i in 0..branches.len() {
                    let (op, outputs) = self.build(&children(i), inputs)?;
                    ops.push(op);
                    sets.push(outputs);
                }
                (SuperOp::Sum(ops), union(sets))
            }
            Node::LayerChoice(choice) => {
                let mut ops = Vec::with_capacity(choice.candidates.len());
                let mut sets = Vec::with_capacity(choice.candidates.len());
                for i in 0..choice.candidates.len() {
                    let (op, outputs) = self.build(&children(i), inputs)?;
                    ops.push(op);
                    sets.push(outputs);
                }
                let outputs = union(sets);
                self.note_mix(&choice.label, &outputs);
                (SuperOp::Choice(ops), outputs)
            }
            Node::ValueChoice(choice) => {
                let mut groups: Vec<Vec<usize>> = Vec::new();
                let mut group_of = Vec::with_capacity(choice.candidates.len());
                for i in 0..choice.candidates.len() {
                    let candidates = children(i);
                    let joined = groups.iter().position(|group| {
                        let representative = children(group[0])[0];
                        candidates
                            .iter()
                            .all(|candidate| compatible(candidate, representative))
                    });
                    match joined {
                        Some(g) => {
                            groups[g].push(i);
                            group_of.push(g);
                        }
                        None => {
                            group_of.push(groups.len());
                            groups.push(vec![i]);
                        }
                    }
                }
                let mut ops = Vec::with_capacity(groups.len());
                let mut sets = Vec::with_capacity(groups.len());
                for group in &groups {
                    let members: Vec<&Node> = group.iter().flat_map(|&i| children(i)).collect();
                    let (op, outputs) = self.build(&members, inputs)?;
                    ops.push(op);
                    sets.push(outputs);
                }
                let outputs = union(sets);
                self.note_mix(&choice.label, &outputs);
                let shared = SharedChoice {
                    groups: ops,
                    group_of,
                };
                (SuperOp::Shared(shared), outputs)
            }
            Node::Repeat(repeat) => {
                let mut ops = Vec::with_capacity(repeat.blocks.len());
                let mut shapes = inputs.to_vec();
                let mut outputs = Vec::new();
                if repeat.depths.contains(&0) {
                    outputs = shapes.clone();
                }
                for i in 0..repeat.blocks.len() {
                    let (op, after) = self.build(&children(i), &shapes)?;
                    ops.push(op);
                    shapes = after;
                    if repeat.depths.contains(&(i + 1)) {
                        outputs = union([outputs, shapes.clone()]);
                    }
                }
                self.note_mix(&repeat.label, &outputs);
                (SuperOp::Repeat(ops), outputs)
            }
            Node::Cell(cell) => {
                let mut shapes: Vec<Vec<Shape>> = vec![inputs.to_vec()];
                let mut super_nodes = Vec::with_capacity(cell.nodes.len());
                for (j, cell_node) in cell.nodes.iter().enumerate() {
                    let mut ops = Vec::with_capacity(cell_node.inputs.len());
                    let mut sets = Vec::with_capacity(cell_node.inputs.len());
                    for (i, (from, _)) in cell_node.inputs.iter().enumerate() {
                        let sources = shapes
                            .get(*from)
                            .ok_or_else(|| SpaceError::cell_order(*from, j + 1))?
                            .clone();
                        let ops_i: Vec<&Node> = nodes
                            .iter()
                            .map(|node| match node {
                                Node::Cell(cell) => &cell.nodes[j].inputs[i].1,
                                _ => unreachable!("merged nodes are compatible"),
                            })
                            .collect();
                        let (op, outputs) = self.build(&ops_i, &sources)?;
                        ops.push(op);
                        sets.push(outputs);
                    }
                    let (subsets, reduction) = match &cell_node.select {
                        None => (vec![(0..sets.len()).collect()], Reduction::Sum),
                        Some(select) => (select.combinations(sets.len()), select.reduction),
                    };
                    let combined = cell_output(&sets, &subsets, reduction)?;
                    if let Some(select) = &cell_node.select {
                        self.note_mix(&select.label, &combined);
                    }
                    shapes.push(combined);
                    super_nodes.push(SuperCellNode { ops });
                }
                let outputs = shapes.pop().expect("a cell has its input node");
                (SuperOp::Cell(super_nodes), outputs)
            }
        })
    }

    fn shared_layer(
        &mut self,
        layers: &[&Layer],
        inputs: &[Shape],
    ) -> Result<(SharedLayer, Vec<Shape>), SpaceError> {
        let mut outputs = Vec::new();
        let mut pairs = Vec::new();
        let mut first_error = None;
        for layer in layers {
            for &input in inputs {
                match layer.output_shape(input) {
                    Ok(output) => {
                        push_unique(&mut outputs, output);
                        pairs.push((*layer, input));
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        if pairs.is_empty() {
            return Err(first_error.expect("a layer was tried on at least one shape"));
        }
        let max_in = pairs.iter().map(|(_, s)| s.channels()).max().unwrap_or(0);
        let device = self.device;
        let layer = match pairs[0].0 {
            Layer::Conv2d(_) => SharedLayer::Conv2d(shared_conv(&pairs, device)?),
            Layer::Linear { bias, .. } => {
                let max_out = pairs
                    .iter()
                    .map(|(layer, _)| match layer {
                        Layer::Linear { out_features, .. } => *out_features,
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                SharedLayer::Linear(
                    LinearConfig::new(max_in, max_out)
                        .with_bias(*bias)
                        .init(device),
                )
            }
            Layer::BatchNorm { .. } => {
                SharedLayer::BatchNorm(BatchNormConfig::new(max_in).init(device))
            }
            Layer::LayerNorm { .. } => {
                SharedLayer::LayerNorm(LayerNormConfig::new(max_in).init(device))
            }
            _ => SharedLayer::Stateless(Stateless),
        };
        Ok((layer, outputs))
    }
}

fn cell_output(
    sets: &[Vec<Shape>],
    subsets: &[Vec<usize>],
    reduction: Reduction,
) -> Result<Vec<Shape>, SpaceError> {
    let mut outputs = Vec::new();
    for subset in subsets {
        match reduction {
            Reduction::Sum | Reduction::Mean => {
                outputs = union([outputs, union(subset.iter().map(|&i| sets[i].clone()))]);
            }
            Reduction::Concat => {
                // Every combination of the inputs' shapes that concatenates (an over-approximation:
                // the shapes of one sample always agree in size).
                let mut partial: Vec<Vec<Shape>> = vec![Vec::new()];
                for &i in subset {
                    partial = partial
                        .iter()
                        .flat_map(|prefix| {
                            sets[i].iter().map(move |shape| {
                                let mut next = prefix.clone();
                                next.push(*shape);
                                next
                            })
                        })
                        .collect();
                }
                for shapes in partial {
                    if let Ok(shape) = combine_shapes("cell node", &shapes, reduction) {
                        push_unique(&mut outputs, shape);
                    }
                }
            }
        }
    }
    if outputs.is_empty() {
        return Err(SpaceError::InvalidDeclaration(
            "no combination of a cell node's inputs concatenates".into(),
        ));
    }
    Ok(outputs)
}

fn shared_conv(pairs: &[(&Layer, Shape)], device: &Device) -> Result<SharedConv2d, SpaceError> {
    let mut specs = Vec::with_capacity(pairs.len());
    for (layer, input) in pairs {
        let Layer::Conv2d(conv) = layer else {
            unreachable!("merged layers are of one kind")
        };
        specs.push((conv, conv.channels(input.channels())?));
    }
    let (first, (in_0, out_0, groups_0)) = specs[0];
    let kernel = [0, 1].map(|d| specs.iter().map(|(c, _)| c.kernel[d]).max().unwrap_or(1));
    if specs
        .iter()
        .any(|(conv, _)| (0..2).any(|d| (kernel[d] - conv.kernel[d]) % 2 != 0))
    {
        return Err(SpaceError::InvalidDeclaration(format!(
            "kernels {:?} of one shared convolution differ in parity, so they have no common centre",
            specs.iter().map(|(c, _)| c.kernel).collect::<Vec<_>>()
        )));
    }
    let max_in = specs.iter().map(|(_, (i, _, _))| *i).max().unwrap_or(0);
    let max_out = specs.iter().map(|(_, (_, o, _))| *o).max().unwrap_or(0);
    let all_depthwise = specs
        .iter()
        .all(|(conv, (i, o, _))| conv.groups == Groups::Depthwise && i == o);
    let all_dense = specs.iter().all(|(_, (_, _, g))| *g == 1);
    let config = if all_dense {
        Conv2dConfig::new([max_in, max_out], kernel)
    } else if all_depthwise {
        Conv2dConfig::new([max_in, max_in], kernel).with_groups(max_in)
    } else if specs
        .iter()
        .all(|(c, s)| *s == (in_0, out_0, groups_0) && c.kernel == kernel)
    {
        Conv2dConfig::new([in_0, out_0], kernel).with_groups(groups_0)
    } else {
        return Err(SpaceError::InvalidDeclaration(format!(
            "a grouped convolution ({groups_0} groups) whose channels vary cannot share weights"
        )));
    };
    Ok(SharedConv2d {
        conv: config.with_bias(first.bias).init(device),
        depthwise: all_depthwise && !all_dense,
    })
}

/// Whether two declarations can share one module: the same structure, with layers that differ at
/// most in widths, kernel sizes of one parity, or the settings of layers without weights.
pub(crate) fn compatible(a: &Node, b: &Node) -> bool {
    let all = |x: &[Node], y: &[Node]| {
        x.len() == y.len() && x.iter().zip(y).all(|(x, y)| compatible(x, y))
    };
    match (a, b) {
        (Node::Layer(x), Node::Layer(y)) => match (x, y) {
            (Layer::Conv2d(x), Layer::Conv2d(y)) => {
                x.stride == y.stride
                    && x.dilation == y.dilation
                    && x.groups == y.groups
                    && x.bias == y.bias
                    && (0..2).all(|d| x.kernel[d] % 2 == y.kernel[d] % 2)
            }
            (Layer::Linear { bias: x, .. }, Layer::Linear { bias: y, .. }) => x == y,
            _ => x.kind() == y.kind(),
        },
        (Node::Sequential(x), Node::Sequential(y)) | (Node::Sum(x), Node::Sum(y)) => all(x, y),
        (Node::Residual(x), Node::Residual(y)) | (Node::Gate(x), Node::Gate(y)) => compatible(x, y),
        (Node::LayerChoice(x), Node::LayerChoice(y)) => {
            x.label == y.label
                && x.candidates.len() == y.candidates.len()
                && x.candidates
                    .iter()
                    .zip(&y.candidates)
                    .all(|((n, x), (m, y))| n == m && compatible(x, y))
        }
        (Node::ValueChoice(x), Node::ValueChoice(y)) => {
            x.label == y.label
                && x.candidates.len() == y.candidates.len()
                && x.candidates
                    .iter()
                    .zip(&y.candidates)
                    .all(|((v, x), (w, y))| v == w && compatible(x, y))
        }
        (Node::Repeat(x), Node::Repeat(y)) => {
            x.label == y.label && x.depths == y.depths && all(&x.blocks, &y.blocks)
        }
        (Node::Cell(x), Node::Cell(y)) => {
            x.nodes.len() == y.nodes.len()
                && x.nodes.iter().zip(&y.nodes).all(|(x, y)| {
                    x.select == y.select
                        && x.inputs.len() == y.inputs.len()
                        && x.inputs
                            .iter()
                            .zip(&y.inputs)
                            .all(|((f, x), (g, y))| f == g && compatible(x, y))
                })
        }
        _ => false,
    }
}

impl SharedConv2d {
    /// The weight and bias of `spec` for an input of `in_channels`, and its groups.
    pub(crate) fn slice(
        &self,
        spec: &crate::Conv2dSpec,
        in_channels: usize,
    ) -> (Tensor<4>, Option<Tensor<1>>, usize) {
        let (_, out, groups) = spec
            .channels(in_channels)
            .expect("shapes were checked when the sample was resolved");
        let [_, _, kh, kw] = self.conv.weight.dims();
        let (top, left) = ((kh - spec.kernel[0]) / 2, (kw - spec.kernel[1]) / 2);
        let per_group = if self.depthwise {
            1
        } else {
            in_channels / groups
        };
        let weight = self.conv.weight.val().slice([
            0..out,
            0..per_group,
            top..top + spec.kernel[0],
            left..left + spec.kernel[1],
        ]);
        let bias = self.conv.bias.as_ref().map(|b| b.val().slice(0..out));
        (weight, bias, groups)
    }
}

impl SharedLayer {
    /// A standalone module of `spec` on an input of shape `input`, with the shared weights.
    fn export(&self, spec: &Layer, input: Shape, device: &Device) -> Op {
        let channels = input.channels();
        let mut op = init_layer(spec, input, device);
        let param = |tensor: Tensor<1>| Param::from_tensor(tensor.detach());
        match (self, &mut op) {
            (SharedLayer::Conv2d(shared), Op::Conv2d(conv)) => {
                let Layer::Conv2d(spec) = spec else {
                    unreachable!("a shared convolution serves convolutions")
                };
                let (weight, bias, _) = shared.slice(spec, channels);
                conv.weight = Param::from_tensor(weight.detach());
                conv.bias = bias.map(param);
            }
            (SharedLayer::Linear(shared), Op::Linear(linear)) => {
                let [_, out] = linear.weight.dims();
                let weight = shared.weight.val().slice([0..channels, 0..out]);
                linear.weight = Param::from_tensor(weight.detach());
                linear.bias = shared.bias.as_ref().map(|b| param(b.val().slice(0..out)));
            }
            (SharedLayer::BatchNorm(shared), Op::BatchNorm(norm)) => {
                norm.gamma = param(shared.gamma.val().slice(0..channels));
                norm.beta = param(shared.beta.val().slice(0..channels));
                let running = |state: &RunningState<Tensor<1>>| {
                    RunningState::new(state.value().slice(0..channels).detach())
                };
                norm.running_mean = running(&shared.running_mean);
                norm.running_var = running(&shared.running_var);
            }
            (SharedLayer::LayerNorm(shared), Op::LayerNorm(norm)) => {
                norm.gamma = param(shared.gamma.val().slice(0..channels));
                norm.beta = shared
                    .beta
                    .as_ref()
                    .map(|b| param(b.val().slice(0..channels)));
            }
            (SharedLayer::Stateless(_), _) => {}
            _ => unreachable!("a shared layer serves layers of its kind"),
        }
        op
    }
}
