use serde::{Deserialize, Serialize};

use crate::{Layer, Reduction, Shape, SpaceError};

/// A frozen network part: a [`Node`](crate::Node) with every choice made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// A primitive layer.
    Layer(Layer),
    /// Children in sequence.
    Sequential(Vec<Block>),
    /// `x + body(x)` when the body keeps the shape of `x`, else `body(x)`.
    Residual(Box<Block>),
    /// `x * body(x)`.
    Gate(Box<Block>),
    /// Sum of branches on the same input.
    Sum(Vec<Block>),
    /// A cell graph.
    Cell(Vec<FrozenCellNode>),
}

/// A node of a frozen cell: the chosen inputs and how they combine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenCellNode {
    /// Each input: an earlier node's index and the operation applied to it.
    pub inputs: Vec<(usize, Block)>,
    /// How the inputs combine.
    pub reduction: Reduction,
}

/// A frozen network: its input shape and its root block. Plain, serializable configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// Shape of one input example.
    pub input: Shape,
    /// The network.
    pub root: Block,
}

/// What a walk over a frozen network reports for each primitive layer.
pub trait LayerVisitor {
    /// Called once per layer, in execution order, with the shapes around it.
    fn layer(&mut self, layer: &Layer, input: Shape, output: Shape) -> Result<(), SpaceError>;
}

impl<F: FnMut(&Layer, Shape, Shape) -> Result<(), SpaceError>> LayerVisitor for F {
    fn layer(&mut self, layer: &Layer, input: Shape, output: Shape) -> Result<(), SpaceError> {
        self(layer, input, output)
    }
}

impl Architecture {
    /// The output shape, or the first layer that cannot take its input.
    pub fn output_shape(&self) -> Result<Shape, SpaceError> {
        self.visit(&mut |_: &Layer, _, _| Ok(()))
    }

    /// Elements of every BatchNorm's running mean and variance: burn's `num_params()` counts them,
    /// the parameter convention does not.
    pub fn running_statistics(&self) -> Result<u64, SpaceError> {
        let mut total = 0;
        self.visit(&mut |layer: &Layer, _, output: Shape| {
            if let Layer::BatchNorm { .. } = layer {
                total += 2 * output.channels() as u64;
            }
            Ok(())
        })?;
        Ok(total)
    }

    /// Walks every primitive layer with its shapes; returns the output shape.
    pub fn visit(&self, visitor: &mut impl LayerVisitor) -> Result<Shape, SpaceError> {
        self.root.visit(self.input, visitor)
    }

    /// Walks the layers whose output the network's output depends on: inside a cell, an edge
    /// whose operation is a [`Layer::Zero`] carries nothing, so an edge counts only when its
    /// source is reached from the cell's input and its target reaches the cell's output through
    /// edges that carry something. The others run but change nothing (NAS-Bench-201's cells
    /// with a node cut off by `none` edges). Returns the output shape.
    pub fn visit_live(&self, visitor: &mut impl LayerVisitor) -> Result<Shape, SpaceError> {
        self.root.visit_with(self.input, visitor, true)
    }
}

impl Block {
    /// Walks every primitive layer of this block for `input`; returns the output shape.
    pub fn visit(
        &self,
        input: Shape,
        visitor: &mut impl LayerVisitor,
    ) -> Result<Shape, SpaceError> {
        self.visit_with(input, visitor, false)
    }

    /// [`Block::visit`], or with `live_only` the walk of [`Architecture::visit_live`].
    fn visit_with(
        &self,
        input: Shape,
        visitor: &mut impl LayerVisitor,
        live_only: bool,
    ) -> Result<Shape, SpaceError> {
        match self {
            Block::Layer(layer) => {
                let output = layer.output_shape(input)?;
                visitor.layer(layer, input, output)?;
                Ok(output)
            }
            Block::Sequential(children) => children.iter().try_fold(input, |shape, child| {
                child.visit_with(shape, visitor, live_only)
            }),
            Block::Residual(body) => body.visit_with(input, visitor, live_only),
            Block::Gate(body) => {
                let gate = body.visit_with(input, visitor, live_only)?;
                gate_shape(input, gate)
            }
            Block::Sum(branches) => {
                let shapes = branches
                    .iter()
                    .map(|branch| branch.visit_with(input, visitor, live_only))
                    .collect::<Result<Vec<_>, _>>()?;
                combine_shapes("sum", &shapes, Reduction::Sum)
            }
            Block::Cell(nodes) => {
                let live = if live_only {
                    live_edges(nodes)
                } else {
                    nodes
                        .iter()
                        .map(|node| vec![true; node.inputs.len()])
                        .collect()
                };
                let mut shapes = vec![input];
                for (node, live) in nodes.iter().zip(live) {
                    let mut inputs = Vec::with_capacity(node.inputs.len());
                    for ((from, op), live) in node.inputs.iter().zip(live) {
                        let source = *shapes
                            .get(*from)
                            .ok_or_else(|| SpaceError::cell_order(*from, shapes.len()))?;
                        inputs.push(if live {
                            op.visit_with(source, visitor, live_only)?
                        } else {
                            op.visit_with(source, &mut ShapesOnly, live_only)?
                        });
                    }
                    shapes.push(combine_shapes("cell node", &inputs, node.reduction)?);
                }
                Ok(*shapes.last().expect("a cell has its input node"))
            }
        }
    }

    /// Whether the block is a [`Layer::Zero`]: its output is zero whatever its input.
    fn is_zero(&self) -> bool {
        matches!(self, Block::Layer(Layer::Zero))
    }
}

/// A visitor that only wants the shapes (of the edges a live walk skips).
struct ShapesOnly;

impl LayerVisitor for ShapesOnly {
    fn layer(&mut self, _: &Layer, _: Shape, _: Shape) -> Result<(), SpaceError> {
        Ok(())
    }
}

/// Per cell node, per input edge: whether the edge carries something from the cell's input to
/// its output (not a zero, its source reached from the input, its target reaching the output).
fn live_edges(nodes: &[FrozenCellNode]) -> Vec<Vec<bool>> {
    // Node 0 is the cell's input; node k + 1 is `nodes[k]`; the last is the output.
    let n = nodes.len() + 1;
    let mut reached = vec![false; n];
    reached[0] = true;
    for (k, node) in nodes.iter().enumerate() {
        reached[k + 1] = node
            .inputs
            .iter()
            .any(|(from, op)| !op.is_zero() && reached.get(*from).copied().unwrap_or(false));
    }
    let mut reaches = vec![false; n];
    reaches[n - 1] = true;
    for (k, node) in nodes.iter().enumerate().rev() {
        if !reaches[k + 1] {
            continue;
        }
        for (from, op) in &node.inputs {
            if !op.is_zero() && *from < n {
                reaches[*from] = true;
            }
        }
    }
    nodes
        .iter()
        .enumerate()
        .map(|(k, node)| {
            node.inputs
                .iter()
                .map(|(from, op)| {
                    !op.is_zero() && reaches[k + 1] && reached.get(*from).copied().unwrap_or(false)
                })
                .collect()
        })
        .collect()
}

/// The shape of `x * gate` for an input `x`: the gate is the input's shape or one value per channel.
pub fn gate_shape(input: Shape, gate: Shape) -> Result<Shape, SpaceError> {
    let per_channel = Shape::image(input.channels(), 1, 1);
    if gate == input || gate == per_channel {
        Ok(input)
    } else {
        Err(SpaceError::shape(
            "gate",
            format!("gate of shape {gate} cannot scale an input of shape {input}"),
        ))
    }
}

/// The shape of several tensors combined by `reduction`.
pub fn combine_shapes(
    what: &str,
    shapes: &[Shape],
    reduction: Reduction,
) -> Result<Shape, SpaceError> {
    let (first, rest) = shapes
        .split_first()
        .ok_or_else(|| SpaceError::shape(what, "has no input"))?;
    match reduction {
        Reduction::Sum | Reduction::Mean => {
            if let Some(other) = rest.iter().find(|shape| *shape != first) {
                return Err(SpaceError::shape(
                    what,
                    format!("cannot add shapes {first} and {other}"),
                ));
            }
            Ok(*first)
        }
        Reduction::Concat => {
            let mut channels = 0;
            for shape in shapes {
                match (*shape, *first) {
                    (
                        Shape::Image {
                            channels: c,
                            height,
                            width,
                        },
                        Shape::Image {
                            height: h,
                            width: w,
                            ..
                        },
                    ) if (height, width) == (h, w) => channels += c,
                    (Shape::Flat(features), Shape::Flat(_)) => channels += features,
                    _ => {
                        return Err(SpaceError::shape(
                            what,
                            format!("cannot concatenate shapes {first} and {shape}"),
                        ));
                    }
                }
            }
            Ok(match *first {
                Shape::Image { height, width, .. } => Shape::image(channels, height, width),
                Shape::Flat(_) => Shape::Flat(channels),
            })
        }
    }
}
