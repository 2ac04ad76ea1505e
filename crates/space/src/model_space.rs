use std::sync::Arc;

use crate::block::FrozenCellNode;
use crate::reads::DecisionsRead;
use crate::{Architecture, Block, Constraint, Node, Sample, SearchSpace, Shape, SpaceError};

/// A space declared once: its network with choices, the [`SearchSpace`] of those choices, and the
/// input it is meant for. Everything else (frozen architectures, burn modules, profiles) derives
/// from this one declaration.
#[derive(Debug, Clone)]
pub struct ModelSpace {
    name: String,
    /// Shared: searches clone the space into their middleware.
    root: Arc<Node>,
    search_space: SearchSpace,
    input: Shape,
    /// The decisions each network reads, for [`ModelSpace::architecture_hash`].
    reads: Arc<DecisionsRead>,
}

impl ModelSpace {
    /// Declares a space; fails on conflicting labels, empty choices or malformed constraints, and
    /// when the default sample does not fit `input`.
    pub fn new(
        name: impl Into<String>,
        root: Node,
        constraints: Vec<Constraint>,
        input: Shape,
    ) -> Result<Self, SpaceError> {
        let search_space = SearchSpace::new(root.choices(), constraints)?;
        let reads = Arc::new(DecisionsRead::new(&root, &search_space));
        let space = ModelSpace {
            name: name.into(),
            root: Arc::new(root),
            search_space,
            input,
            reads,
        };
        space
            .resolve(&space.search_space.default_sample()?)?
            .output_shape()?;
        Ok(space)
    }

    /// The space's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declaration.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The decisions.
    pub fn search_space(&self) -> &SearchSpace {
        &self.search_space
    }

    /// The input shape the space is declared for (one example, batch excluded).
    pub fn input(&self) -> Shape {
        self.input
    }

    /// The same space for another input shape (another resolution or channel count).
    pub fn with_input(mut self, input: Shape) -> Self {
        self.input = input;
        self
    }

    /// Validates a sample and makes its choices: the frozen architecture, as configuration.
    pub fn resolve(&self, sample: &Sample) -> Result<Architecture, SpaceError> {
        let indices = self.search_space.indices(sample)?;
        self.resolve_indices(&indices)
    }

    /// A hash of the network `sample` builds, not of its labels: samples that differ only in
    /// choices the network never reads (blocks beyond a repeat's depth, inside a candidate not
    /// chosen) build the same network and share it, so a search need not train it twice.
    ///
    /// It hashes the choices of the decisions the network reads (the others masked), found
    /// without building the architecture: deduplication and caches call it on every proposal.
    /// The value is the same across runs and machines.
    pub fn architecture_hash(&self, sample: &Sample) -> Result<u64, SpaceError> {
        // On the stack for the hub spaces: this runs for every proposal of a search.
        let (mut on_stack, mut on_heap) = ([0; 32], Vec::new());
        let n = self.search_space.len();
        let indices = if n <= on_stack.len() {
            &mut on_stack[..n]
        } else {
            on_heap.resize(n, 0);
            &mut on_heap[..]
        };
        self.search_space.indices_into(sample, indices)?;
        if !self.reads.everything {
            let mut read = vec![false; n];
            self.reads.plan.mark(indices, &mut read)?;
            for (index, read) in indices.iter_mut().zip(read) {
                if !read {
                    *index = usize::MAX;
                }
            }
        }
        Ok(crate::sample::hash_bytes(|bytes| {
            for &index in indices.iter() {
                bytes.extend_from_slice(&(index as u32).to_le_bytes());
            }
        }))
    }

    /// [`ModelSpace::resolve`] from choice indices in declaration order.
    pub fn resolve_indices(&self, indices: &[usize]) -> Result<Architecture, SpaceError> {
        Ok(Architecture {
            input: self.input,
            root: self.resolve_node(&self.root, indices)?,
        })
    }

    fn index(&self, label: &str, indices: &[usize]) -> usize {
        let at = self
            .search_space
            .position(label)
            .expect("every label of the declaration is in its search space");
        indices[at]
    }

    fn resolve_node(&self, node: &Node, indices: &[usize]) -> Result<Block, SpaceError> {
        let all = |nodes: &[Node]| {
            nodes
                .iter()
                .map(|node| self.resolve_node(node, indices))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match node {
            Node::Layer(layer) => Block::Layer(layer.clone()),
            Node::Sequential(children) => Block::Sequential(all(children)?),
            Node::Sum(branches) => Block::Sum(all(branches)?),
            Node::Residual(body) => Block::Residual(Box::new(self.resolve_node(body, indices)?)),
            Node::Gate(body) => Block::Gate(Box::new(self.resolve_node(body, indices)?)),
            Node::LayerChoice(choice) => {
                let (_, candidate) = &choice.candidates[self.index(&choice.label, indices)];
                self.resolve_node(candidate, indices)?
            }
            Node::ValueChoice(choice) => {
                let (_, candidate) = &choice.candidates[self.index(&choice.label, indices)];
                self.resolve_node(candidate, indices)?
            }
            Node::Repeat(repeat) => {
                let depth = repeat.depths[self.index(&repeat.label, indices)];
                Block::Sequential(all(repeat.blocks_for(depth)?)?)
            }
            Node::Cell(cell) => {
                let mut nodes = Vec::with_capacity(cell.nodes.len());
                for (j, node) in cell.nodes.iter().enumerate() {
                    let (chosen, reduction) = match &node.select {
                        None => ((0..node.inputs.len()).collect(), crate::Reduction::Sum),
                        Some(select) => {
                            let combination = self.index(&select.label, indices);
                            (
                                select.combinations(node.inputs.len())[combination].clone(),
                                select.reduction,
                            )
                        }
                    };
                    let mut inputs = Vec::with_capacity(chosen.len());
                    for i in chosen {
                        let (from, op) = &node.inputs[i];
                        if *from > j {
                            return Err(SpaceError::cell_order(*from, j + 1));
                        }
                        inputs.push((*from, self.resolve_node(op, indices)?));
                    }
                    nodes.push(FrozenCellNode { inputs, reduction });
                }
                Block::Cell(nodes)
            }
        })
    }
}
