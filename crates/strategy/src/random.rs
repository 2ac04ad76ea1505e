use hwnas_space::{Sample, SearchSpace};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::Proposer;
use crate::{Guide, Proposal, Strategy, StrategyError, TrialResult};

/// Uniform random sampling, seeded; by default a sample is never proposed twice. With a
/// [`Guide`] that knows the budget, uniform over the admissible samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Random {
    rng: Xoshiro256PlusPlus,
    dedup: bool,
    #[serde(flatten)]
    proposer: Proposer,
}

impl Random {
    /// Random sampling with deduplication.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            dedup: true,
            proposer: Proposer::default(),
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
        if self.dedup && self.proposer.n_seen() as f64 >= space.size() {
            return Ok(None);
        }
        // `None`: every draw in a long run was a duplicate, what the constraints and the budget
        // leave of the space is spent.
        let sample = self
            .proposer
            .random_sample(space, self.dedup, &mut self.rng)?;
        Ok(sample.map(Proposal::evaluate))
    }

    fn tell(&mut self, _sample: &Sample, _result: &TrialResult) {}

    fn guide(&mut self, guide: Guide) {
        self.proposer.guide = guide;
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        restore_same(
            self,
            state,
            "random search",
            |_, _| true,
            |s| &mut s.proposer,
        )
    }
}
