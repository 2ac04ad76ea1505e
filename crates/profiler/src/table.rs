//! The precomputed form of a space's per-layer costs (counts, measured latencies).
//!
//! Costs are additive over layers, and each layer's count depends only on the few decisions that
//! decide whether it runs and which shape reaches it. Building walks the declaration once, forking
//! on a decision only where it changes a shape, and records every layer as a term "these counts,
//! when these labels take these values". Terms over the same labels fold into one dense table, so
//! a query is one lookup per group of labels: tens of nanoseconds for ProxylessNAS.

use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::AddAssign;

use hwnas_space::{Layer, ModelSpace, Node, Reduction, SearchSpace, Shape, SpaceError};

use crate::extremes::{Extreme, Factor, extreme};
use crate::{CountOptions, Counts, ProfileError, layer_counts};

/// Tables larger than this stay as a list of terms checked one by one.
const MAX_DENSE_TABLE: usize = 1 << 16;

/// A conjunction of "label at `position` takes one of the values in `mask`", sorted by position.
/// A label absent from the list is unconstrained.
type Condition = Vec<(usize, u64)>;

#[derive(Debug, Clone)]
struct Branch {
    condition: Condition,
    shape: Shape,
}

/// `a ∧ b`, or `None` when no sample satisfies both.
fn intersect(a: &Condition, b: &Condition) -> Option<Condition> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(pa, ma)), Some(&(pb, mb))) if pa == pb => {
                let mask = ma & mb;
                if mask == 0 {
                    return None;
                }
                out.push((pa, mask));
                i += 1;
                j += 1;
            }
            (Some(&(pa, ma)), Some(&(pb, _))) if pa < pb => {
                out.push((pa, ma));
                i += 1;
            }
            (Some(&entry), None) => {
                out.push(entry);
                i += 1;
            }
            (_, Some(&entry)) => {
                out.push(entry);
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    Some(out)
}

/// What a [`LayerTable`] adds up: a cost per layer that sums over the layers of a network.
pub trait LayerCost: Copy + Default + PartialEq + AddAssign + Debug + Send + Sync {}

impl LayerCost for Counts {}
impl LayerCost for f64 {}

/// Any additive per-layer cost of a space, precomputed; see the module documentation.
#[derive(Debug, Clone)]
pub struct LayerTable<T> {
    space: SearchSpace,
    input: Shape,
    constant: T,
    dense: Vec<DenseGroup<T>>,
    sparse: Vec<(Condition, T)>,
    invalid: Vec<(Condition, SpaceError)>,
}

/// Counts of a space, precomputed; see the module documentation.
#[derive(Debug, Clone)]
pub struct CountTable {
    table: LayerTable<Counts>,
    options: CountOptions,
}

#[derive(Debug, Clone)]
struct DenseGroup<T> {
    /// (position, stride) of each label of the group.
    labels: Vec<(usize, usize)>,
    table: Vec<T>,
}

/// The cost of one layer, given the shapes that reach it and leave it.
type CostFn<'a, T> = dyn FnMut(&Layer, Shape, Shape) -> Result<T, ProfileError> + 'a;

struct Walker<'a, T> {
    space: &'a SearchSpace,
    cost: &'a mut CostFn<'a, T>,
    full: Vec<u64>,
    terms: HashMap<Condition, T>,
    invalid: Vec<(Condition, SpaceError)>,
}

impl<T: LayerCost> Walker<'_, T> {
    fn position(&self, label: &str) -> usize {
        self.space
            .position(label)
            .expect("every label of the declaration is in its search space")
    }

    /// `condition ∧ (position ∈ mask)`, dropping the entry when the mask allows every value.
    fn restrict(&self, branches: &[Branch], position: usize, mask: u64) -> Vec<Branch> {
        let extra = if mask == self.full[position] {
            vec![]
        } else {
            vec![(position, mask)]
        };
        branches
            .iter()
            .filter_map(|branch| {
                intersect(&branch.condition, &extra).map(|condition| Branch {
                    condition,
                    shape: branch.shape,
                })
            })
            .collect()
    }

    fn layer(&mut self, layer: &Layer, branches: Vec<Branch>) -> Result<Vec<Branch>, ProfileError> {
        let mut out = Vec::with_capacity(branches.len());
        for branch in branches {
            match layer.output_shape(branch.shape) {
                Ok(shape) => {
                    let cost = (self.cost)(layer, branch.shape, shape)?;
                    if cost != T::default() {
                        *self.terms.entry(branch.condition.clone()).or_default() += cost;
                    }
                    out.push(Branch {
                        condition: branch.condition,
                        shape,
                    });
                }
                // Samples that reach this layer with a shape it cannot take are invalid; the
                // others are unaffected.
                Err(error) => self.invalid.push((branch.condition, error)),
            }
        }
        Ok(out)
    }

    fn walk(&mut self, node: &Node, branches: Vec<Branch>) -> Result<Vec<Branch>, ProfileError> {
        if branches.is_empty() {
            return Ok(branches);
        }
        let out = match node {
            Node::Layer(layer) => self.layer(layer, branches)?,
            Node::Sequential(children) => {
                let mut branches = branches;
                for child in children {
                    branches = self.walk(child, branches)?;
                }
                return Ok(branches);
            }
            Node::Residual(body) => self.walk(body, branches)?,
            Node::Gate(body) => {
                let mut out = Vec::new();
                for branch in branches {
                    for gate in self.walk(body, vec![branch.clone()])? {
                        match hwnas_space::gate_shape(branch.shape, gate.shape) {
                            Ok(shape) => out.push(Branch {
                                condition: gate.condition,
                                shape,
                            }),
                            Err(error) => self.invalid.push((gate.condition, error)),
                        }
                    }
                }
                out
            }
            Node::Sum(parts) => {
                let mut out = Vec::new();
                for branch in branches {
                    let mut outputs = Vec::with_capacity(parts.len());
                    for part in parts {
                        outputs.push(self.walk(part, vec![branch.clone()])?);
                    }
                    out.extend(self.combine(&outputs, Reduction::Sum));
                }
                out
            }
            Node::LayerChoice(choice) => {
                let candidates = choice.candidates.iter().map(|(_, node)| node);
                self.choose(&choice.label, candidates, &branches)?
            }
            Node::ValueChoice(choice) => {
                let candidates = choice.candidates.iter().map(|(_, node)| node);
                self.choose(&choice.label, candidates, &branches)?
            }
            Node::Repeat(repeat) => {
                let position = self.position(&repeat.label);
                let mask = |keep: &dyn Fn(usize) -> bool| -> u64 {
                    repeat
                        .depths
                        .iter()
                        .enumerate()
                        .filter(|&(_, &depth)| keep(depth))
                        .fold(0, |mask, (k, _)| mask | 1 << k)
                };
                let mut out = Vec::new();
                let mut current = branches;
                for i in 0..=repeat.blocks.len() {
                    let ends_here = mask(&|depth| depth == i);
                    if ends_here != 0 {
                        out.extend(self.restrict(&current, position, ends_here));
                    }
                    let goes_on = mask(&|depth| depth > i);
                    if goes_on == 0 {
                        break;
                    }
                    let block = &repeat.blocks_for(i + 1)?[i];
                    current = self.walk(block, self.restrict(&current, position, goes_on))?;
                }
                out
            }
            Node::Cell(cell) => {
                let mut out = Vec::new();
                for branch in branches {
                    out.extend(self.cell(cell, branch)?);
                }
                out
            }
        };
        Ok(merge(out, &self.full))
    }

    /// Walks each candidate under "label selects this candidate".
    fn choose<'n>(
        &mut self,
        label: &str,
        candidates: impl Iterator<Item = &'n Node>,
        branches: &[Branch],
    ) -> Result<Vec<Branch>, ProfileError> {
        let position = self.position(label);
        let mut out = Vec::new();
        for (k, candidate) in candidates.enumerate() {
            let restricted = self.restrict(branches, position, 1 << k);
            out.extend(self.walk(candidate, restricted)?);
        }
        Ok(out)
    }

    fn cell(
        &mut self,
        cell: &hwnas_space::Cell,
        input: Branch,
    ) -> Result<Vec<Branch>, ProfileError> {
        let mut nodes: Vec<Vec<Branch>> = vec![vec![input]];
        for (j, node) in cell.nodes.iter().enumerate() {
            let select = node.select.as_ref().map(|select| {
                (
                    self.position(&select.label),
                    select.combinations(node.inputs.len()),
                )
            });
            let mut edges = Vec::with_capacity(node.inputs.len());
            for (e, (from, op)) in node.inputs.iter().enumerate() {
                let source = nodes
                    .get(*from)
                    .filter(|_| *from <= j)
                    .ok_or_else(|| SpaceError::cell_order(*from, j + 1))?;
                let source = match &select {
                    None => source.clone(),
                    Some((position, combinations)) => {
                        let mask = combinations
                            .iter()
                            .enumerate()
                            .filter(|(_, combination)| combination.contains(&e))
                            .fold(0, |mask, (k, _)| mask | 1 << k);
                        self.restrict(source, *position, mask)
                    }
                };
                edges.push(self.walk(op, source)?);
            }
            let combined = match (&select, &node.select) {
                (Some((position, combinations)), Some(choice)) => {
                    let mut out = Vec::new();
                    for (k, combination) in combinations.iter().enumerate() {
                        let chosen: Vec<Vec<Branch>> = combination
                            .iter()
                            .map(|&e| self.restrict(&edges[e], *position, 1 << k))
                            .collect();
                        out.extend(self.combine(&chosen, choice.reduction));
                    }
                    out
                }
                _ => self.combine(&edges, Reduction::Sum),
            };
            nodes.push(merge(combined, &self.full));
        }
        Ok(nodes.pop().expect("a cell has its input node"))
    }

    /// Every consistent pick of one branch per input, combined by `reduction`.
    fn combine(&mut self, inputs: &[Vec<Branch>], reduction: Reduction) -> Vec<Branch> {
        let mut partial: Vec<(Condition, Vec<Shape>)> = vec![(vec![], vec![])];
        for options in inputs {
            let mut next = Vec::new();
            for (condition, shapes) in &partial {
                for option in options {
                    if let Some(condition) = intersect(condition, &option.condition) {
                        let mut shapes = shapes.clone();
                        shapes.push(option.shape);
                        next.push((condition, shapes));
                    }
                }
            }
            partial = next;
        }
        let mut out = Vec::new();
        for (condition, shapes) in partial {
            match hwnas_space::combine_shapes("sum", &shapes, reduction) {
                Ok(shape) => out.push(Branch { condition, shape }),
                Err(error) => self.invalid.push((condition, error)),
            }
        }
        out
    }
}

/// Folds branches that reach the same shape under conditions differing in one label only, so a
/// decision stops forking the walk as soon as its effect on shapes ends.
fn merge(mut branches: Vec<Branch>, full: &[u64]) -> Vec<Branch> {
    let mut changed = true;
    while changed {
        changed = false;
        'search: for i in 0..branches.len() {
            for j in i + 1..branches.len() {
                if branches[i].shape != branches[j].shape {
                    continue;
                }
                if let Some(condition) = union(&branches[i].condition, &branches[j].condition, full)
                {
                    branches[i].condition = condition;
                    branches.swap_remove(j);
                    changed = true;
                    break 'search;
                }
            }
        }
    }
    branches
}

/// `a ∨ b` when it is itself a conjunction: equal conditions, or conditions that differ in the
/// values allowed for exactly one label.
fn union(a: &Condition, b: &Condition, full: &[u64]) -> Option<Condition> {
    let mut positions: Vec<usize> = a.iter().chain(b).map(|&(p, _)| p).collect();
    positions.sort_unstable();
    positions.dedup();
    let mask_in = |c: &Condition, p: usize| {
        c.iter()
            .find(|&&(q, _)| q == p)
            .map_or(full[p], |&(_, m)| m)
    };
    let differing: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|&p| mask_in(a, p) != mask_in(b, p))
        .collect();
    match differing[..] {
        [] => Some(a.clone()),
        [p] => {
            let mask = mask_in(a, p) | mask_in(b, p);
            Some(
                positions
                    .iter()
                    .map(|&q| (q, if q == p { mask } else { mask_in(a, q) }))
                    .filter(|&(q, m)| m != full[q])
                    .collect(),
            )
        }
        _ => None,
    }
}

fn satisfied(condition: &Condition, indices: &[usize]) -> bool {
    condition
        .iter()
        .all(|&(p, mask)| mask >> indices[p] & 1 == 1)
}

impl<T: LayerCost> LayerTable<T> {
    /// Walks the declaration of `space` once for `input` and folds the `cost` of every layer
    /// into tables. `cost` sees each distinct (layer, input shape) of the space at least once.
    pub fn new(
        space: &ModelSpace,
        input: Shape,
        cost: &mut CostFn<'_, T>,
    ) -> Result<Self, ProfileError> {
        let search_space = space.search_space().clone();
        let mut full = Vec::with_capacity(search_space.len());
        for choice in search_space.choices() {
            if choice.len() > 64 {
                return Err(ProfileError::Unsupported(format!(
                    "label `{}` has {} values; at most 64 are supported",
                    choice.label,
                    choice.len()
                )));
            }
            full.push(if choice.len() == 64 {
                u64::MAX
            } else {
                (1u64 << choice.len()) - 1
            });
        }
        let mut walker = Walker {
            space: &search_space,
            cost,
            full,
            terms: HashMap::new(),
            invalid: Vec::new(),
        };
        walker.walk(
            space.root(),
            vec![Branch {
                condition: vec![],
                shape: input,
            }],
        )?;
        let Walker { terms, invalid, .. } = walker;

        let mut constant = T::default();
        let mut groups: HashMap<Vec<usize>, Vec<(Condition, T)>> = HashMap::new();
        for (condition, counts) in terms {
            if condition.is_empty() {
                constant += counts;
            } else {
                let labels = condition.iter().map(|&(p, _)| p).collect();
                groups.entry(labels).or_default().push((condition, counts));
            }
        }
        let mut dense = Vec::new();
        let mut sparse = Vec::new();
        let mut keys: Vec<Vec<usize>> = groups.keys().cloned().collect();
        keys.sort();
        for positions in keys {
            let terms = groups.remove(&positions).expect("key taken from the map");
            let sizes: Vec<usize> = positions
                .iter()
                .map(|&p| search_space.choices()[p].len())
                .collect();
            let size = sizes.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
            match size {
                Some(size) if size <= MAX_DENSE_TABLE => {
                    dense.push(DenseGroup::new(&positions, &sizes, size, &terms));
                }
                _ => sparse.extend(terms),
            }
        }
        Ok(LayerTable {
            space: search_space,
            input,
            constant,
            dense,
            sparse,
            invalid,
        })
    }

    /// The search space the table answers for.
    pub fn search_space(&self) -> &SearchSpace {
        &self.space
    }

    /// The input shape the table was built for.
    pub fn input(&self) -> Shape {
        self.input
    }

    /// Number of dense lookup tables a query reads.
    pub fn n_tables(&self) -> usize {
        self.dense.len()
    }

    /// The least and the most `key` of the cost is over the networks of the space, exactly
    /// (`key` must add up over layers as the cost does: FLOPs of counts, say); the space's
    /// constraints are not read, so these bound every sample's value. `None` when no sample
    /// is a network, or when the space's tables interlock too much to solve.
    pub fn range(&self, key: impl Fn(&T) -> f64) -> Option<(f64, f64)> {
        let sizes: Vec<usize> = self.space.choices().iter().map(|c| c.len()).collect();
        let over = |condition: &Condition, inside: f64| {
            let positions: Vec<usize> = condition.iter().map(|&(p, _)| p).collect();
            let n: usize = positions.iter().map(|&p| sizes[p]).product();
            let values = (0..n)
                .map(|code| {
                    let mut rest = code;
                    let mut held = true;
                    for &(p, mask) in condition.iter().rev() {
                        held &= mask >> (rest % sizes[p]) & 1 == 1;
                        rest /= sizes[p];
                    }
                    if held { inside } else { 0.0 }
                })
                .collect();
            Factor { positions, values }
        };
        let factors = |which: Extreme| -> Vec<Factor> {
            let dense = self.dense.iter().map(|group| Factor {
                positions: group.labels.iter().map(|&(p, _)| p).collect(),
                values: group.table.iter().map(&key).collect(),
            });
            let sparse = self
                .sparse
                .iter()
                .map(|(condition, cost)| over(condition, key(cost)));
            let invalid = self
                .invalid
                .iter()
                .map(|(condition, _)| over(condition, which.excluded()));
            dense.chain(sparse).chain(invalid).collect()
        };
        let constant = key(&self.constant);
        Some((
            extreme(&sizes, constant, factors(Extreme::Min), Extreme::Min)?,
            extreme(&sizes, constant, factors(Extreme::Max), Extreme::Max)?,
        ))
    }

    /// The cost for validated choice indices (declaration order).
    pub fn cost_indices(&self, indices: &[usize]) -> Result<T, ProfileError> {
        if let Some((_, error)) = self
            .invalid
            .iter()
            .find(|(condition, _)| satisfied(condition, indices))
        {
            return Err(error.clone().into());
        }
        let mut total = self.constant;
        for group in &self.dense {
            let index: usize = group
                .labels
                .iter()
                .map(|&(p, stride)| indices[p] * stride)
                .sum();
            total += group.table[index];
        }
        for (condition, counts) in &self.sparse {
            if satisfied(condition, indices) {
                total += *counts;
            }
        }
        Ok(total)
    }
}

impl CountTable {
    /// Walks the declaration of `space` once for `input` and folds every layer into tables.
    pub fn new(
        space: &ModelSpace,
        input: Shape,
        options: CountOptions,
    ) -> Result<Self, ProfileError> {
        let mut cost = |layer: &Layer, input: Shape, output: Shape| {
            layer_counts(layer, input, output, options)
        };
        let table = LayerTable::new(space, input, &mut cost)?;
        Ok(Self { table, options })
    }

    /// The search space the table answers for.
    pub fn search_space(&self) -> &SearchSpace {
        self.table.search_space()
    }

    /// The input shape the table was built for.
    pub fn input(&self) -> Shape {
        self.table.input()
    }

    /// The counting options the table was built with.
    pub fn options(&self) -> CountOptions {
        self.options
    }

    /// Number of dense lookup tables a query reads.
    pub fn n_tables(&self) -> usize {
        self.table.n_tables()
    }

    /// Counts for validated choice indices (declaration order).
    pub fn counts_indices(&self, indices: &[usize]) -> Result<Counts, ProfileError> {
        self.table.cost_indices(indices)
    }

    /// The least and the most FLOPs and parameters over the space's networks (see
    /// [`LayerTable::range`]): `(flops, params)`, each `(min, max)`.
    pub fn ranges(&self) -> Option<((u64, u64), (u64, u64))> {
        let flops = self.table.range(|c| c.flops as f64)?;
        let params = self.table.range(|c| c.params as f64)?;
        let whole = |(a, b): (f64, f64)| (a as u64, b as u64);
        Some((whole(flops), whole(params)))
    }
}

impl<T: LayerCost> DenseGroup<T> {
    fn new(positions: &[usize], sizes: &[usize], size: usize, terms: &[(Condition, T)]) -> Self {
        let mut strides = vec![1; positions.len()];
        for k in (0..positions.len().saturating_sub(1)).rev() {
            strides[k] = strides[k + 1] * sizes[k + 1];
        }
        let mut table = vec![T::default(); size];
        let mut digits = vec![0; positions.len()];
        for (index, entry) in table.iter_mut().enumerate() {
            let mut rest = index;
            for (digit, &stride) in digits.iter_mut().zip(&strides) {
                *digit = rest / stride;
                rest %= stride;
            }
            for (condition, counts) in terms {
                if condition
                    .iter()
                    .zip(&digits)
                    .all(|(&(_, mask), &digit)| mask >> digit & 1 == 1)
                {
                    *entry += *counts;
                }
            }
        }
        DenseGroup {
            labels: positions.iter().copied().zip(strides).collect(),
            table,
        }
    }
}

#[cfg(test)]
mod tests {
    use hwnas_space::{
        ActivationFn, Cell, CellNode, Conv2dSpec, InputChoice, ModelSpace, Node, PoolSpec, Width,
    };

    use super::*;
    use crate::count_architecture;

    fn conv(out: usize, kernel: usize, stride: usize) -> Node {
        Node::Layer(Layer::Conv2d(
            Conv2dSpec::new(Width::Fixed(out), kernel, stride).with_bias(true),
        ))
    }

    /// A space that exercises every kind of node: shape-changing choices, a repeat whose blocks
    /// change the shape, a concatenating input choice, a gate, a residual, a sum of branches and
    /// candidates that do not fit.
    fn mixed_space() -> ModelSpace {
        let squeeze_excite = Node::sequential([
            conv(16, 1, 1),
            Node::gate(Node::sequential([
                Node::Layer(Layer::AdaptiveAvgPool2d { output: [1, 1] }),
                Node::Layer(Layer::Conv2d(
                    Conv2dSpec::new(
                        Width::Reduce {
                            ratio: 0.25,
                            divisor: 8,
                        },
                        1,
                        1,
                    )
                    .with_bias(true),
                )),
                Node::Layer(Layer::Activation {
                    function: ActivationFn::Relu,
                }),
                conv(16, 1, 1),
                Node::Layer(Layer::Activation {
                    function: ActivationFn::HardSigmoid,
                }),
            ])),
        ]);
        let cell = Node::Cell(Cell {
            nodes: vec![
                CellNode {
                    inputs: vec![(0, conv(8, 3, 1)), (0, conv(8, 1, 1))],
                    select: None,
                },
                CellNode {
                    inputs: vec![
                        (
                            0,
                            Node::layer_choice(
                                "edge",
                                [
                                    ("conv", conv(8, 3, 1)),
                                    ("skip", Node::Layer(Layer::Identity)),
                                ],
                            ),
                        ),
                        (1, Node::Layer(Layer::Identity)),
                        (1, Node::Layer(Layer::MaxPool2d(PoolSpec::new(3, 1, 1)))),
                    ],
                    select: Some(InputChoice {
                        label: "pick".into(),
                        n_chosen: 2,
                        reduction: Reduction::Concat,
                    }),
                },
            ],
        });
        let root = Node::sequential([
            Node::value_choice("width", [8usize, 16], |w| {
                conv(w.as_i64().unwrap() as usize, 3, 1)
            }),
            Node::repeat("depth", [0, 1, 2], |i| conv(8 * (i + 1), 3, 2)),
            Node::layer_choice(
                "head",
                [
                    ("se", squeeze_excite),
                    (
                        "valid7",
                        Node::Layer(Layer::Conv2d(
                            Conv2dSpec::new(Width::Same, 7, 1).with_padding(0),
                        )),
                    ),
                ],
            ),
            conv(8, 1, 1),
            Node::residual(conv(8, 3, 1)),
            Node::Sum(vec![conv(8, 1, 1), Node::Layer(Layer::Identity)]),
            cell,
            Node::Layer(Layer::GlobalAvgPool),
            Node::Layer(Layer::LayerNorm { epsilon: 1e-5 }),
            Node::Layer(Layer::Linear {
                out_features: 3,
                bias: true,
            }),
        ]);
        ModelSpace::new("mixed", root, vec![], Shape::image(2, 12, 12)).unwrap()
    }

    #[test]
    fn count_table_equals_direct_count_on_every_sample() {
        let space = mixed_space();
        let table = CountTable::new(&space, space.input(), CountOptions::default()).unwrap();
        let (mut n_valid, mut n_invalid) = (0, 0);
        for indices in space.search_space().grid_indices() {
            let direct = space
                .resolve_indices(&indices)
                .map_err(ProfileError::from)
                .and_then(|architecture| {
                    count_architecture(&architecture, CountOptions::default())
                });
            match (table.counts_indices(&indices), direct) {
                (Ok(table), Ok(direct)) => {
                    assert_eq!(table, direct, "{indices:?}");
                    n_valid += 1;
                }
                (Err(_), Err(_)) => n_invalid += 1,
                (table, direct) => panic!("{indices:?}: table {table:?}, direct {direct:?}"),
            }
        }
        // An unpadded 7x7 convolution fits the 12x12 map (depth 0) but not the 6x6 or 3x3 ones.
        let n_invalid_expected = 2 * 2 * 3 * 2;
        assert_eq!(
            (n_valid, n_invalid),
            (72 - n_invalid_expected, n_invalid_expected)
        );
    }
}
