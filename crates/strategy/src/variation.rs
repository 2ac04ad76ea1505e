//! Mutation, crossover and the constraint-aware, deduplicated proposal every strategy shares.

use hwnas_space::{Sample, SearchSpace};
use rand::{Rng, RngExt};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::{Guide, StrategyError};

/// Children bred for one proposal before falling back to a random admissible sample.
pub const MAX_BREED_TRIES: usize = 1000;

/// Resamples each label with probability `probability` (the new value may equal the old one, as
/// in the reference toolkit).
pub(crate) fn mutate<R: Rng + ?Sized>(
    space: &SearchSpace,
    indices: &mut [usize],
    probability: f64,
    rng: &mut R,
) {
    for (index, choice) in indices.iter_mut().zip(space.choices()) {
        if rng.random_bool(probability) {
            *index = rng.random_range(0..choice.len());
        }
    }
}

/// Uniform crossover: every label from either parent with equal odds.
pub(crate) fn crossover<R: Rng + ?Sized>(a: &[usize], b: &[usize], rng: &mut R) -> Vec<usize> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| if rng.random_bool(0.5) { x } else { y })
        .collect()
}

/// The parents of one child: one, or two for crossover; `None` while warming up (random child).
pub(crate) type Parents = Option<(Vec<usize>, Option<Vec<usize>>)>;

/// A child of `parents` (crossover when there are two, then mutation); `None` without parents.
pub(crate) fn breed<R: Rng + ?Sized>(
    space: &SearchSpace,
    parents: &Parents,
    mutation_prob: f64,
    rng: &mut R,
) -> Option<Vec<usize>> {
    let (first, second) = parents.as_ref()?;
    let mut child = match second {
        Some(second) => crossover(first, second, rng),
        None => first.clone(),
    };
    mutate(space, &mut child, mutation_prob, rng);
    Some(child)
}

/// What every strategy keeps to propose: the samples proposed so far (by hash), the guide that
/// tells admissible samples apart, and notes for the log. Serialized as its `seen` set alone
/// (flattened into the strategy's state); the guide is the search's, given again on every run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Proposer {
    seen: FxHashSet<u64>,
    #[serde(skip)]
    pub(crate) guide: Guide,
    #[serde(skip)]
    notes: Vec<String>,
}

impl Proposer {
    /// Whether `indices` were proposed before.
    pub(crate) fn has_seen(&self, space: &SearchSpace, indices: &[usize]) -> bool {
        self.seen.contains(&space.sample_hash(indices))
    }

    /// Remembers `indices` as proposed; false when they were already.
    pub(crate) fn remember(&mut self, space: &SearchSpace, indices: &[usize]) -> bool {
        self.seen.insert(space.sample_hash(indices))
    }

    /// Samples proposed so far.
    pub(crate) fn n_seen(&self) -> usize {
        self.seen.len()
    }

    /// A note for the log.
    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The notes since the last call.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Uniformly random admissible indices, new to the search with `dedup` (then remembered);
    /// `None` when the admissible samples are spent.
    pub(crate) fn random<R: Rng + ?Sized>(
        &mut self,
        space: &SearchSpace,
        dedup: bool,
        rng: &mut R,
    ) -> Result<Option<Vec<usize>>, StrategyError> {
        let Proposer { seen, guide, .. } = self;
        guide.draw(space, rng, |indices| {
            !dedup || seen.insert(space.sample_hash(indices))
        })
    }

    /// Whether `indices` can be proposed now: within the constraints and the budget, and new
    /// with `dedup` (then remembered).
    pub(crate) fn accept(&mut self, space: &SearchSpace, indices: &[usize], dedup: bool) -> bool {
        self.guide.admits_indices(space, indices) && (!dedup || self.remember(space, indices))
    }

    /// Breeds children (of a population, or draws of a policy) until one is admissible and
    /// (with `dedup`) new, for at most [`MAX_BREED_TRIES`] children; then a random admissible
    /// sample, noted for the log. A `breed` that returns `None` (no parents yet) asks for a
    /// random sample at once.
    pub(crate) fn bred<R: Rng + ?Sized>(
        &mut self,
        space: &SearchSpace,
        dedup: bool,
        rng: &mut R,
        mut breed: impl FnMut(&mut R) -> Option<Vec<usize>>,
    ) -> Result<Option<Sample>, StrategyError> {
        // Most children of a low mutation rate repeat their parent: the last child found among
        // those proposed before is told apart without hashing or pricing it again.
        let mut last_refused: Option<Vec<usize>> = None;
        for _ in 0..MAX_BREED_TRIES {
            let Some(child) = breed(rng) else {
                return self.random_sample(space, dedup, rng);
            };
            if last_refused.as_ref() == Some(&child) {
                continue;
            }
            if self.accept(space, &child, dedup) {
                return Ok(Some(space.sample_at(&child)));
            }
            last_refused = Some(child);
        }
        let why = if self.guide.constrains() {
            "within the budget and new to the search"
        } else {
            "new to the search"
        };
        self.note(format!(
            "no proposal {why} in {MAX_BREED_TRIES} tries: a random sample instead"
        ));
        self.random_sample(space, dedup, rng)
    }

    /// [`Proposer::random`] as a sample.
    pub(crate) fn random_sample<R: Rng + ?Sized>(
        &mut self,
        space: &SearchSpace,
        dedup: bool,
        rng: &mut R,
    ) -> Result<Option<Sample>, StrategyError> {
        Ok(self
            .random(space, dedup, rng)?
            .map(|indices| space.sample_at(&indices)))
    }
}

/// Every sample one edit away from `indices`: one label changed to another of its candidates
/// (constraints not checked), in declaration order.
pub(crate) fn neighbours(space: &SearchSpace, indices: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for (at, choice) in space.choices().iter().enumerate() {
        for other in (0..choice.len()).filter(|&other| other != indices[at]) {
            let mut neighbour = indices.to_vec();
            neighbour[at] = other;
            out.push(neighbour);
        }
    }
    out
}

/// A result worth learning from: the sample and its objective key (larger is better), kept
/// until the next `ask`, where the space turns the sample into choice indices.
pub(crate) type Told = (Sample, f64);
