use burn::tensor::Tensor;
use burn::tensor::module as functional;
use burn::tensor::ops::ConvOptions;

use super::network::{Hidden, combine_hidden, init_layer, reduction_code};
use super::supernet::{SharedLayer, SuperOp, Supernet};
use crate::{Layer, Node, Reduction, Sample, SearchSpace, Shape, SpaceError};

/// How one decision runs in a mixed forward pass (one-shot strategies), per label.
#[derive(Debug, Clone)]
pub enum Mix {
    /// Every candidate runs; outputs are summed with these weights (`[n_candidates]`, e.g. a
    /// softmax over architecture parameters). Narrower outputs are zero-padded to the widest.
    Soft(Tensor<1>),
    /// One candidate runs, its output scaled by `gate` (`[1]`, equal to one in value), through
    /// which the architecture parameters receive a gradient.
    Binary {
        /// The candidate that runs.
        index: usize,
        /// The scale of its output.
        gate: Tensor<1>,
    },
}

/// Which candidates a forward pass takes.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// One choice index per label, in search-space order.
    Fixed(&'a [usize]),
    /// One [`Mix`] per label, in search-space order.
    Mixed(&'a [Mix]),
}

#[derive(Clone, Copy)]
pub(crate) struct Route<'a> {
    space: &'a SearchSpace,
    path: Path<'a>,
}

enum Decision<'a> {
    Index(usize),
    Soft(&'a Tensor<1>),
    Gated(usize, &'a Tensor<1>),
}

impl<'a> Route<'a> {
    fn decide(&self, label: &str) -> Decision<'a> {
        let position = self
            .space
            .position(label)
            .expect("every label of the declaration is in its search space");
        match self.path {
            Path::Fixed(indices) => Decision::Index(indices[position]),
            Path::Mixed(mixes) => match &mixes[position] {
                Mix::Soft(weights) => Decision::Soft(weights),
                Mix::Binary { index, gate } => Decision::Gated(*index, gate),
            },
        }
    }

    /// Runs the candidate(s) of a decision over `n` candidates.
    fn choose(
        &self,
        label: &str,
        n: usize,
        x: Hidden,
        run: impl Fn(usize, Hidden) -> Hidden,
    ) -> Hidden {
        match self.decide(label) {
            Decision::Index(index) => run(index, x),
            Decision::Gated(index, gate) => scale(run(index, x), gate.clone()),
            Decision::Soft(weights) => mix((0..n).map(|i| run(i, x.clone())).collect(), weights),
        }
    }
}

fn scale(x: Hidden, weight: Tensor<1>) -> Hidden {
    match x {
        Hidden::Image(x) => Hidden::Image(x * weight.reshape([1, 1, 1, 1])),
        Hidden::Flat(x) => Hidden::Flat(x * weight.reshape([1, 1])),
    }
}

fn channels(x: &Hidden) -> usize {
    x.dims()[1]
}

fn pad_channels(x: Hidden, target: usize) -> Hidden {
    let dims = x.dims();
    if dims[1] == target {
        return x;
    }
    match x {
        Hidden::Image(x) => {
            let zeros = Tensor::zeros([dims[0], target - dims[1], dims[2], dims[3]], &x.device());
            Hidden::Image(Tensor::cat(vec![x, zeros], 1))
        }
        Hidden::Flat(x) => {
            let zeros = Tensor::zeros([dims[0], target - dims[1]], &x.device());
            Hidden::Flat(Tensor::cat(vec![x, zeros], 1))
        }
    }
}

/// `sum_i weights[i] * outputs[i]`, narrower outputs zero-padded to the widest.
fn mix(outputs: Vec<Hidden>, weights: &Tensor<1>) -> Hidden {
    let widest = outputs
        .iter()
        .map(channels)
        .max()
        .expect("a choice has candidates");
    outputs
        .into_iter()
        .enumerate()
        .map(|(i, x)| scale(pad_channels(x, widest), weights.clone().slice(i..i + 1)))
        .reduce(Hidden::add)
        .expect("a choice has candidates")
}

impl Supernet {
    pub(crate) fn route_fixed<'a>(&'a self, indices: &'a [usize]) -> Route<'a> {
        Route {
            space: self.space().search_space(),
            path: Path::Fixed(indices),
        }
    }

    /// Runs the subnet of `sample` (validated first) on a batch of images.
    pub fn forward(&self, sample: &Sample, images: Tensor<4>) -> Result<Hidden, SpaceError> {
        let indices = self.space().search_space().indices(sample)?;
        self.space().resolve_indices(&indices)?.output_shape()?;
        Ok(self.forward_indices(&indices, images))
    }

    /// [`Supernet::forward`] for a classifier: the output must be logits `[batch, classes]`.
    pub fn forward_logits(
        &self,
        sample: &Sample,
        images: Tensor<4>,
    ) -> Result<Tensor<2>, SpaceError> {
        flat_logits(self.forward(sample, images)?)
    }

    /// Runs the subnet of valid choice indices (in search-space order); the caller has checked
    /// them, e.g. with [`SearchSpace::indices`] and [`ModelSpace::resolve_indices`](crate::ModelSpace::resolve_indices).
    pub fn forward_indices(&self, indices: &[usize], images: Tensor<4>) -> Hidden {
        let route = self.route_fixed(indices);
        self.root
            .forward(self.space().root(), route, Hidden::Image(images))
    }

    /// Runs every decision as `mixes` say (one [`Mix`] per label, in search-space order): the
    /// forward pass of DARTS-family (soft) and ProxylessNAS (binary) strategies. Needs
    /// [`Supernet::check_mixable`] for soft mixes.
    pub fn forward_mixed(&self, mixes: &[Mix], images: Tensor<4>) -> Result<Tensor<2>, SpaceError> {
        let space = self.space().search_space();
        if mixes.len() != space.len() {
            return Err(SpaceError::InvalidDeclaration(format!(
                "{} mixes for {} decisions",
                mixes.len(),
                space.len()
            )));
        }
        for (choice, mix) in space.choices().iter().zip(mixes) {
            let fits = match mix {
                Mix::Soft(weights) => weights.dims() == [choice.values.len()],
                Mix::Binary { index, gate } => *index < choice.values.len() && gate.dims() == [1],
            };
            if !fits {
                return Err(SpaceError::InvalidDeclaration(format!(
                    "the mix of `{}` does not fit its {} candidates",
                    choice.label,
                    choice.values.len()
                )));
            }
        }
        if mixes.iter().any(|mix| matches!(mix, Mix::Soft(_))) {
            self.check_mixable()?;
        }
        let route = Route {
            space,
            path: Path::Mixed(mixes),
        };
        flat_logits(
            self.root
                .forward(self.space().root(), route, Hidden::Image(images)),
        )
    }
}

fn flat_logits(output: Hidden) -> Result<Tensor<2>, SpaceError> {
    match output {
        Hidden::Flat(logits) => Ok(logits),
        Hidden::Image(x) => Err(SpaceError::InvalidDeclaration(format!(
            "the network outputs a feature map of shape {:?}, not logits",
            x.dims()
        ))),
    }
}

impl SuperOp {
    fn forward(&self, node: &Node, route: Route<'_>, x: Hidden) -> Hidden {
        match (self, node) {
            (SuperOp::Layer(layer), Node::Layer(spec)) => layer.forward(spec, x),
            (SuperOp::Sequential(ops), Node::Sequential(children)) => ops
                .iter()
                .zip(children)
                .fold(x, |x, (op, child)| op.forward(child, route, x)),
            (SuperOp::Residual(body), Node::Residual(node)) => {
                let output = body[0].forward(node, route, x.clone());
                if output.dims() == x.dims() {
                    x.add(output)
                } else {
                    output
                }
            }
            (SuperOp::Gate(body), Node::Gate(node)) => {
                let gate = body[0].forward(node, route, x.clone());
                x.mul(gate)
            }
            (SuperOp::Sum(ops), Node::Sum(branches)) => ops
                .iter()
                .zip(branches)
                .map(|(op, branch)| op.forward(branch, route, x.clone()))
                .reduce(Hidden::add)
                .expect("a sum has branches"),
            (SuperOp::Choice(ops), Node::LayerChoice(choice)) => {
                route.choose(&choice.label, ops.len(), x, |i, x| {
                    ops[i].forward(&choice.candidates[i].1, route, x)
                })
            }
            (SuperOp::Shared(shared), Node::ValueChoice(choice)) => {
                route.choose(&choice.label, choice.candidates.len(), x, |i, x| {
                    shared.groups[shared.group_of[i]].forward(&choice.candidates[i].1, route, x)
                })
            }
            (SuperOp::Repeat(blocks), Node::Repeat(repeat)) => {
                let run = |depth: usize, x: Hidden| {
                    blocks
                        .iter()
                        .zip(&repeat.blocks)
                        .take(depth)
                        .fold(x, |x, (op, block)| op.forward(block, route, x))
                };
                match route.decide(&repeat.label) {
                    Decision::Index(i) => run(repeat.depths[i], x),
                    Decision::Gated(i, gate) => scale(run(repeat.depths[i], x), gate.clone()),
                    Decision::Soft(weights) => {
                        // One pass down the stack, keeping the output at every allowed depth.
                        let mut at_depth = vec![None; repeat.depths.len()];
                        let mut hidden = x;
                        for depth in 0..=blocks.len() {
                            for (i, _) in repeat
                                .depths
                                .iter()
                                .enumerate()
                                .filter(|(_, d)| **d == depth)
                            {
                                at_depth[i] = Some(hidden.clone());
                            }
                            if depth < blocks.len() {
                                hidden =
                                    blocks[depth].forward(&repeat.blocks[depth], route, hidden);
                            }
                        }
                        let outputs = at_depth
                            .into_iter()
                            .map(|x| x.expect("every depth is within the stack"))
                            .collect();
                        mix(outputs, weights)
                    }
                }
            }
            (SuperOp::Cell(nodes), Node::Cell(cell)) => {
                let mut values = vec![x];
                for (super_node, cell_node) in nodes.iter().zip(&cell.nodes) {
                    let run = |i: usize| {
                        let (from, op) = &cell_node.inputs[i];
                        super_node.ops[i].forward(op, route, values[*from].clone())
                    };
                    let combined = match &cell_node.select {
                        None => combine_hidden(
                            (0..cell_node.inputs.len()).map(run).collect(),
                            reduction_code(Reduction::Sum),
                        ),
                        Some(select) => {
                            let subsets = select.combinations(cell_node.inputs.len());
                            let code = reduction_code(select.reduction);
                            match route.decide(&select.label) {
                                Decision::Index(c) => combine_hidden(
                                    subsets[c].iter().map(|&i| run(i)).collect(),
                                    code,
                                ),
                                Decision::Gated(c, gate) => scale(
                                    combine_hidden(
                                        subsets[c].iter().map(|&i| run(i)).collect(),
                                        code,
                                    ),
                                    gate.clone(),
                                ),
                                Decision::Soft(weights) => {
                                    let outputs: Vec<Hidden> =
                                        (0..cell_node.inputs.len()).map(run).collect();
                                    let combined = subsets
                                        .iter()
                                        .map(|subset| {
                                            combine_hidden(
                                                subset
                                                    .iter()
                                                    .map(|&i| outputs[i].clone())
                                                    .collect(),
                                                code,
                                            )
                                        })
                                        .collect();
                                    mix(combined, weights)
                                }
                            }
                        }
                    };
                    values.push(combined);
                }
                values.pop().expect("a cell has its input node")
            }
            _ => unreachable!("a supernet mirrors its declaration"),
        }
    }

    /// The shared layers a fixed route runs, in execution order (the order of
    /// [`Block::visit`](crate::Block::visit) on the resolved architecture).
    pub(crate) fn collect<'s>(
        &'s self,
        node: &Node,
        route: &Route<'_>,
        out: &mut Vec<&'s SharedLayer>,
    ) {
        let index = |label: &str| match route.decide(label) {
            Decision::Index(i) | Decision::Gated(i, _) => i,
            Decision::Soft(_) => unreachable!("export follows a fixed route"),
        };
        match (self, node) {
            (SuperOp::Layer(layer), Node::Layer(_)) => out.push(layer),
            (SuperOp::Sequential(ops), Node::Sequential(children))
            | (SuperOp::Sum(ops), Node::Sum(children)) => ops
                .iter()
                .zip(children)
                .for_each(|(op, child)| op.collect(child, route, out)),
            (SuperOp::Residual(body), Node::Residual(node))
            | (SuperOp::Gate(body), Node::Gate(node)) => body[0].collect(node, route, out),
            (SuperOp::Choice(ops), Node::LayerChoice(choice)) => {
                let i = index(&choice.label);
                ops[i].collect(&choice.candidates[i].1, route, out);
            }
            (SuperOp::Shared(shared), Node::ValueChoice(choice)) => {
                let i = index(&choice.label);
                shared.groups[shared.group_of[i]].collect(&choice.candidates[i].1, route, out);
            }
            (SuperOp::Repeat(blocks), Node::Repeat(repeat)) => {
                let depth = repeat.depths[index(&repeat.label)];
                blocks
                    .iter()
                    .zip(&repeat.blocks)
                    .take(depth)
                    .for_each(|(op, block)| op.collect(block, route, out));
            }
            (SuperOp::Cell(nodes), Node::Cell(cell)) => {
                for (super_node, cell_node) in nodes.iter().zip(&cell.nodes) {
                    let chosen = match &cell_node.select {
                        None => (0..cell_node.inputs.len()).collect(),
                        Some(select) => select.combinations(cell_node.inputs.len())
                            [index(&select.label)]
                        .clone(),
                    };
                    for i in chosen {
                        super_node.ops[i].collect(&cell_node.inputs[i].1, route, out);
                    }
                }
            }
            _ => unreachable!("a supernet mirrors its declaration"),
        }
    }
}

impl SharedLayer {
    fn forward(&self, spec: &Layer, x: Hidden) -> Hidden {
        match (self, spec) {
            (SharedLayer::Conv2d(shared), Layer::Conv2d(conv)) => {
                let x = x.image("conv2d");
                let (weight, bias, groups) = shared.slice(conv, x.dims()[1]);
                let options = ConvOptions::new(conv.stride, conv.padding, conv.dilation, groups);
                Hidden::Image(functional::conv2d(x, weight, bias, options))
            }
            (SharedLayer::Linear(linear), Layer::Linear { out_features, .. }) => {
                let x = x.flat("linear");
                let weight = linear
                    .weight
                    .val()
                    .slice([0..x.dims()[1], 0..*out_features]);
                let bias = linear
                    .bias
                    .as_ref()
                    .map(|b| b.val().slice(0..*out_features));
                Hidden::Flat(functional::linear(x, weight, bias))
            }
            (SharedLayer::BatchNorm(norm), Layer::BatchNorm { epsilon, momentum }) => x.map(
                |x| shared_batch_norm(norm, x, *epsilon, *momentum),
                |x| shared_batch_norm(norm, x, *epsilon, *momentum),
            ),
            (SharedLayer::LayerNorm(norm), Layer::LayerNorm { epsilon }) => {
                let x = x.flat("layer_norm");
                let features = x.dims()[1];
                let gamma = norm.gamma.val().slice(0..features);
                let beta = norm.beta.as_ref().map(|b| b.val().slice(0..features));
                Hidden::Flat(functional::layer_norm(x, gamma, beta, *epsilon))
            }
            (SharedLayer::Stateless(_), layer) => {
                // Layers without weights are configuration only: build and run.
                let device = match &x {
                    Hidden::Image(x) => x.device(),
                    Hidden::Flat(x) => x.device(),
                };
                init_layer(layer, Shape::Flat(channels(&x)), &device).forward(x)
            }
            _ => unreachable!("a shared layer serves layers of its kind"),
        }
    }
}

/// burn's batch norm on the first channels of a shared one; in training the running statistics of
/// those channels move with the batch's.
fn shared_batch_norm<const D: usize>(
    norm: &burn::nn::BatchNorm,
    x: Tensor<D>,
    epsilon: f64,
    momentum: f64,
) -> Tensor<D> {
    let device = x.device();
    let c = x.dims()[1];
    let gamma = norm.gamma.val().slice(0..c);
    let beta = norm.beta.val().slice(0..c);
    if device.is_autodiff() && norm.training.is_enabled() {
        let result = functional::batch_norm_train(x, gamma, beta, epsilon);
        let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
            let running = state.value_sync().to_device(&device);
            let moved = running
                .clone()
                .slice(0..c)
                .mul_scalar(1.0 - momentum)
                .add(batch.detach().mul_scalar(momentum));
            state.update(running.slice_assign(0..c, moved).detach());
        };
        update(&norm.running_mean, result.mean);
        update(&norm.running_var, result.variance);
        result.output
    } else {
        let mean = norm.running_mean.value().to_device(&device).slice(0..c);
        let var = norm.running_var.value().to_device(&device).slice(0..c);
        functional::batch_norm(x, gamma, beta, mean, var, epsilon)
    }
}
