use serde::{Deserialize, Serialize};

use crate::{Choice, Label, Layer, SpaceError, Value};

/// One part of a space declaration: a fixed layer, a composition, or a choice.
///
/// A declaration is plain data: factories (the block of a [`Repeat`], the candidate built for each
/// value of a [`ValueChoice`]) run when the declaration is made, so that one value can be resolved
/// into a frozen [`Block`](crate::Block), profiled layer by layer, or turned into a supernet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// A primitive layer.
    Layer(Layer),
    /// Children applied one after another.
    Sequential(Vec<Node>),
    /// `x + body(x)` when the body keeps the shape of `x`, else `body(x)`.
    Residual(Box<Node>),
    /// `x * body(x)`, the body's output broadcast over space (squeeze-and-excite).
    Gate(Box<Node>),
    /// The sum of branches applied to the same input (their shapes must agree).
    Sum(Vec<Node>),
    /// One of named candidates.
    LayerChoice(LayerChoice),
    /// A hyper-parameter choice: one candidate per value.
    ValueChoice(ValueChoice),
    /// The first `depth` blocks.
    Repeat(Repeat),
    /// A cell: a small graph whose nodes sum (or choose among) operations on earlier nodes.
    Cell(Cell),
}

/// A choice among named candidates; the label's values are the names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerChoice {
    /// The decision's label.
    pub label: Label,
    /// Name and network of each candidate, in order.
    pub candidates: Vec<(String, Node)>,
}

/// A hyper-parameter choice; the candidate of each value is that value built into plain fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueChoice {
    /// The decision's label.
    pub label: Label,
    /// Each value with the network it builds.
    pub candidates: Vec<(Value, Node)>,
}

/// A depth choice over a block factory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeat {
    /// The decision's label.
    pub label: Label,
    /// Allowed depths, in order.
    pub depths: Vec<usize>,
    /// One block per position up to the largest depth; a depth `d` keeps `blocks[..d]`.
    pub blocks: Vec<Node>,
}

/// A cell graph. Node 0 is the cell's input; `nodes[j]` computes node `j + 1`; the last node is the
/// output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The computed nodes.
    pub nodes: Vec<CellNode>,
}

/// A node of a cell: operations on earlier nodes, combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellNode {
    /// Each input: the index of an earlier node and the operation applied to it.
    pub inputs: Vec<(usize, Node)>,
    /// Without a choice every input is summed; with one, only the chosen inputs are combined.
    pub select: Option<InputChoice>,
}

/// Picks `n_chosen` of a cell node's inputs and combines them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputChoice {
    /// The decision's label. Its values are input indices (`n_chosen == 1`) or comma-separated
    /// index lists such as `"0,2"`.
    pub label: Label,
    /// How many inputs to pick.
    pub n_chosen: usize,
    /// How the chosen inputs combine.
    pub reduction: Reduction,
}

/// How several tensors combine into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Element-wise sum.
    Sum,
    /// Element-wise mean.
    Mean,
    /// Concatenation along channels.
    Concat,
}

impl Repeat {
    /// The blocks a depth keeps, or an error when the declaration has fewer blocks than the depth.
    pub fn blocks_for(&self, depth: usize) -> Result<&[Node], SpaceError> {
        self.blocks.get(..depth).ok_or_else(|| {
            SpaceError::InvalidDeclaration(format!(
                "`{}` allows depth {depth} but declares {} blocks",
                self.label,
                self.blocks.len()
            ))
        })
    }
}

impl InputChoice {
    /// The subsets of `n_inputs` inputs this choice can pick, in lexicographic order.
    pub fn combinations(&self, n_inputs: usize) -> Vec<Vec<usize>> {
        let mut all = Vec::new();
        let mut current = Vec::with_capacity(self.n_chosen);
        fn extend(
            start: usize,
            n: usize,
            k: usize,
            current: &mut Vec<usize>,
            all: &mut Vec<Vec<usize>>,
        ) {
            if current.len() == k {
                all.push(current.clone());
                return;
            }
            for i in start..n {
                current.push(i);
                extend(i + 1, n, k, current, all);
                current.pop();
            }
        }
        extend(0, n_inputs, self.n_chosen, &mut current, &mut all);
        all
    }

    /// The choice's values for `n_inputs` inputs, one per combination.
    pub fn values(&self, n_inputs: usize) -> Vec<Value> {
        self.combinations(n_inputs)
            .into_iter()
            .map(|combination| match combination[..] {
                [single] => Value::from(single),
                _ => {
                    let parts: Vec<String> = combination.iter().map(ToString::to_string).collect();
                    Value::from(parts.join(","))
                }
            })
            .collect()
    }
}

impl Node {
    /// A layer.
    pub fn layer(layer: Layer) -> Self {
        Node::Layer(layer)
    }

    /// Children in sequence.
    pub fn sequential(children: impl IntoIterator<Item = Node>) -> Self {
        Node::Sequential(children.into_iter().collect())
    }

    /// A residual around `body`.
    pub fn residual(body: Node) -> Self {
        Node::Residual(Box::new(body))
    }

    /// A gate `x * body(x)`.
    pub fn gate(body: Node) -> Self {
        Node::Gate(Box::new(body))
    }

    /// A choice among named candidates.
    pub fn layer_choice<S: Into<String>>(
        label: impl Into<Label>,
        candidates: impl IntoIterator<Item = (S, Node)>,
    ) -> Self {
        Node::LayerChoice(LayerChoice {
            label: label.into(),
            candidates: candidates
                .into_iter()
                .map(|(name, node)| (name.into(), node))
                .collect(),
        })
    }

    /// A hyper-parameter choice: `build` runs once per value.
    pub fn value_choice<V: Into<Value>>(
        label: impl Into<Label>,
        values: impl IntoIterator<Item = V>,
        build: impl Fn(&Value) -> Node,
    ) -> Self {
        Node::ValueChoice(ValueChoice {
            label: label.into(),
            candidates: values
                .into_iter()
                .map(|value| {
                    let value = value.into();
                    let node = build(&value);
                    (value, node)
                })
                .collect(),
        })
    }

    /// A depth choice: `block(i)` builds position `i`, up to the largest depth.
    pub fn repeat(
        label: impl Into<Label>,
        depths: impl IntoIterator<Item = usize>,
        block: impl Fn(usize) -> Node,
    ) -> Self {
        let depths: Vec<usize> = depths.into_iter().collect();
        let max = depths.iter().copied().max().unwrap_or(0);
        Node::Repeat(Repeat {
            label: label.into(),
            depths,
            blocks: (0..max).map(block).collect(),
        })
    }

    /// Every choice this node declares, in depth-first order (a label may appear several times).
    pub fn choices(&self) -> Vec<Choice> {
        let mut choices = Vec::new();
        self.collect_choices(&mut choices);
        choices
    }

    fn collect_choices(&self, out: &mut Vec<Choice>) {
        match self {
            Node::Layer(_) => {}
            Node::Sequential(children) | Node::Sum(children) => {
                children.iter().for_each(|child| child.collect_choices(out));
            }
            Node::Residual(body) | Node::Gate(body) => body.collect_choices(out),
            Node::LayerChoice(choice) => {
                out.push(Choice::new(
                    choice.label.clone(),
                    choice.candidates.iter().map(|(name, _)| name.as_str()),
                ));
                choice
                    .candidates
                    .iter()
                    .for_each(|(_, node)| node.collect_choices(out));
            }
            Node::ValueChoice(choice) => {
                out.push(Choice {
                    label: choice.label.clone(),
                    values: choice
                        .candidates
                        .iter()
                        .map(|(value, _)| value.clone())
                        .collect(),
                });
                choice
                    .candidates
                    .iter()
                    .for_each(|(_, node)| node.collect_choices(out));
            }
            Node::Repeat(repeat) => {
                out.push(Choice::new(
                    repeat.label.clone(),
                    repeat.depths.iter().copied(),
                ));
                repeat
                    .blocks
                    .iter()
                    .for_each(|block| block.collect_choices(out));
            }
            Node::Cell(cell) => {
                for node in &cell.nodes {
                    if let Some(select) = &node.select {
                        out.push(Choice {
                            label: select.label.clone(),
                            values: select.values(node.inputs.len()),
                        });
                    }
                    node.inputs
                        .iter()
                        .for_each(|(_, op)| op.collect_choices(out));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_choice_values_enumerate_combinations() {
        let choice = |n_chosen| InputChoice {
            label: "x".into(),
            n_chosen,
            reduction: Reduction::Sum,
        };
        assert_eq!(
            choice(1).values(3),
            vec![Value::Int(0), Value::Int(1), Value::Int(2)]
        );
        assert_eq!(
            choice(2).values(3),
            vec![Value::from("0,1"), Value::from("0,2"), Value::from("1,2")]
        );
    }
}
