//! Mutation, crossover and deduplicated proposal, shared by the evolutionary strategies.

use hwnas_space::{Sample, SearchSpace};
use rand::{Rng, RngExt};
use rustc_hash::FxHashSet;

use crate::StrategyError;
use crate::random::MAX_DUPLICATE_DRAWS;

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

/// A child of `parents` (crossover when there are two, then mutation), or a random sample.
pub(crate) fn breed<R: Rng + ?Sized>(
    space: &SearchSpace,
    parents: &Parents,
    mutation_prob: f64,
    rng: &mut R,
) -> Vec<usize> {
    match parents {
        // Constraints too tight to sample: the caller's constraint check rejects this child.
        None => space
            .random_indices(rng)
            .unwrap_or_else(|_| vec![0; space.len()]),
        Some((first, second)) => {
            let mut child = match second {
                Some(second) => crossover(first, second, rng),
                None => first.clone(),
            };
            mutate(space, &mut child, mutation_prob, rng);
            child
        }
    }
}

/// Draws children from `breed` until one satisfies the constraints and (with `dedup`) was never
/// proposed; falls back to a fresh random sample when breeding keeps repeating itself.
pub(crate) fn propose<R: Rng + ?Sized>(
    space: &SearchSpace,
    seen: &mut FxHashSet<u64>,
    dedup: bool,
    rng: &mut R,
    mut breed: impl FnMut(&mut R) -> Vec<usize>,
) -> Result<Option<Sample>, StrategyError> {
    // The last child found among those proposed before: most children of a low mutation rate
    // repeat their parent, and are told apart without hashing again.
    let mut last_seen: Option<Vec<usize>> = None;
    for attempt in 0..MAX_DUPLICATE_DRAWS {
        let indices = if attempt < MAX_DUPLICATE_DRAWS / 2 {
            breed(rng)
        } else {
            space.random_indices(rng)?
        };
        if space.check_constraints(&indices).is_err()
            || (dedup && last_seen.as_ref() == Some(&indices))
        {
            continue;
        }
        if !dedup || seen.insert(space.sample_hash(&indices)) {
            return Ok(Some(space.sample_at(&indices)));
        }
        last_seen = Some(indices);
    }
    Ok(None)
}
