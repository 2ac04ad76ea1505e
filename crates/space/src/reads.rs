//! Which decisions a sample's network reads, compiled once from the declaration.
//!
//! Two samples build the same network when they agree on every decision that network reads; the
//! others (blocks beyond a repeat's depth, candidates not chosen) make no difference. Walking this
//! plan instead of resolving the architecture lets a search key its deduplication and caches on
//! the network in well under a microsecond.

use crate::{Node, SearchSpace, SpaceError};

/// The decisions the networks of a declaration read.
#[derive(Debug)]
pub(crate) struct DecisionsRead {
    pub(crate) plan: Reads,
    /// Every decision is read by every network (NAS-Bench-201): the plan need not be walked.
    pub(crate) everything: bool,
}

impl DecisionsRead {
    pub(crate) fn new(root: &Node, space: &SearchSpace) -> Self {
        let plan = Reads::compile(root, space);
        let everything = matches!(&plan, Reads::All(always, below) if below.is_empty() && always.len() == space.len());
        DecisionsRead { plan, everything }
    }
}

/// The decisions a declaration reads, as positions of its search space.
#[derive(Debug, Clone)]
pub(crate) enum Reads {
    /// Decisions read whatever the others are, then the parts below, all read.
    All(Vec<usize>, Vec<Reads>),
    /// The decision at `at` is read, then what the branch it selects reads.
    Branch { at: usize, branches: Vec<Reads> },
    /// A branch the declaration cannot build (a repeat deeper than its blocks, a cell input from
    /// a later node): resolving a sample that takes it fails the same way.
    Invalid(SpaceError),
}

impl Reads {
    /// The plan of `node`, whose labels are those of `space`.
    pub(crate) fn compile(node: &Node, space: &SearchSpace) -> Reads {
        let position = |label: &str| {
            space
                .position(label)
                .expect("every label of the declaration is in its search space")
        };
        let all = |nodes: &mut dyn Iterator<Item = &Node>| {
            Reads::all(nodes.map(|node| Reads::compile(node, space)).collect())
        };
        match node {
            Node::Layer(_) => Reads::all(Vec::new()),
            Node::Sequential(children) | Node::Sum(children) => all(&mut children.iter()),
            Node::Residual(body) | Node::Gate(body) => Reads::compile(body, space),
            Node::LayerChoice(choice) => Reads::branch(
                position(&choice.label),
                all_of(choice.candidates.iter().map(|(_, node)| node), space),
            ),
            Node::ValueChoice(choice) => Reads::branch(
                position(&choice.label),
                all_of(choice.candidates.iter().map(|(_, node)| node), space),
            ),
            Node::Repeat(repeat) => Reads::branch(
                position(&repeat.label),
                repeat
                    .depths
                    .iter()
                    .map(|&depth| match repeat.blocks_for(depth) {
                        Ok(blocks) => all(&mut blocks.iter()),
                        Err(error) => Reads::Invalid(error),
                    })
                    .collect(),
            ),
            Node::Cell(cell) => Reads::all(
                cell.nodes
                    .iter()
                    .enumerate()
                    .map(|(j, cell_node)| {
                        // The inputs `chosen` of node j, or why they cannot be built.
                        let inputs = |chosen: &mut dyn Iterator<Item = usize>| {
                            let mut reads = Vec::new();
                            for i in chosen {
                                let (from, op) = &cell_node.inputs[i];
                                if *from > j {
                                    return Reads::Invalid(SpaceError::cell_order(*from, j + 1));
                                }
                                reads.push(Reads::compile(op, space));
                            }
                            Reads::all(reads)
                        };
                        match &cell_node.select {
                            None => inputs(&mut (0..cell_node.inputs.len())),
                            Some(select) => Reads::branch(
                                position(&select.label),
                                select
                                    .combinations(cell_node.inputs.len())
                                    .into_iter()
                                    .map(|combination| inputs(&mut combination.into_iter()))
                                    .collect(),
                            ),
                        }
                    })
                    .collect(),
            ),
        }
    }

    /// Parts all read, with the decisions they always read gathered into one sorted list.
    fn all(parts: Vec<Reads>) -> Reads {
        let mut always = Vec::new();
        let mut below = Vec::new();
        for part in parts {
            match part {
                Reads::All(read, rest) => {
                    always.extend(read);
                    below.extend(rest);
                }
                other => below.push(other),
            }
        }
        always.sort_unstable();
        always.dedup();
        Reads::All(always, below)
    }

    /// Decision `at` selects one of `branches`; when none of them reads anything, it is simply
    /// read.
    fn branch(at: usize, branches: Vec<Reads>) -> Reads {
        let reads_nothing =
            |reads: &Reads| matches!(reads, Reads::All(a, b) if a.is_empty() && b.is_empty());
        if branches.iter().all(reads_nothing) {
            Reads::All(vec![at], Vec::new())
        } else {
            Reads::Branch { at, branches }
        }
    }

    /// Marks in `read` every decision the network of `indices` (choice indices in declaration
    /// order) reads.
    pub(crate) fn mark(&self, indices: &[usize], read: &mut [bool]) -> Result<(), SpaceError> {
        match self {
            Reads::All(always, below) => {
                for &at in always {
                    read[at] = true;
                }
                below.iter().try_for_each(|reads| reads.mark(indices, read))
            }
            Reads::Branch { at, branches } => {
                read[*at] = true;
                branches[indices[*at]].mark(indices, read)
            }
            Reads::Invalid(error) => Err(error.clone()),
        }
    }
}

fn all_of<'a>(nodes: impl Iterator<Item = &'a Node>, space: &SearchSpace) -> Vec<Reads> {
    nodes.map(|node| Reads::compile(node, space)).collect()
}
