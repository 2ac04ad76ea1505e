use hwnas_space::{Sample, SearchSpace};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::strategy::{load_state, save_state};
use crate::{Proposal, Strategy, StrategyError, TrialResult};

/// Consecutive duplicates after which a deduplicating sampler calls the space exhausted.
pub(crate) const MAX_DUPLICATE_DRAWS: usize = 10_000;

/// Uniform random sampling, seeded; by default a sample is never proposed twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Random {
    rng: Xoshiro256PlusPlus,
    dedup: bool,
    seen: FxHashSet<u64>,
}

impl Random {
    /// Random sampling with deduplication.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            dedup: true,
            seen: FxHashSet::default(),
        }
    }

    /// Turns deduplication on or off.
    pub fn with_dedup(mut self, dedup: bool) -> Self {
        self.dedup = dedup;
        self
    }
}

impl Default for Random {
    fn default() -> Self {
        Random::new(0)
    }
}

impl Strategy for Random {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        if !self.dedup {
            return Ok(Some(Proposal::evaluate(
                space.random_sample(&mut self.rng)?,
            )));
        }
        if self.seen.len() as f64 >= space.size() {
            return Ok(None);
        }
        for _ in 0..MAX_DUPLICATE_DRAWS {
            let indices = space.random_indices(&mut self.rng)?;
            if self.seen.insert(space.sample_hash(&indices)) {
                return Ok(Some(Proposal::evaluate(space.sample_at(&indices))));
            }
        }
        // Every draw in a long run was a duplicate: what constraints leave of the space is spent.
        Ok(None)
    }

    fn tell(&mut self, _sample: &Sample, _result: &TrialResult) {}

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        *self = load_state(state)?;
        Ok(())
    }
}
