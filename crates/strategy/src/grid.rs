use hwnas_space::{Sample, SearchSpace};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::strategy::{load_state, save_state};
use crate::{Guide, MAX_ADMISSION_DRAWS, Proposal, Strategy, StrategyError, TrialResult};

/// Largest space a shuffled grid search enumerates (its order is kept as a list of positions).
pub const MAX_SHUFFLED_GRID: f64 = 16_777_216.0;

/// Every sample of the space once, in grid order (the last label varies fastest) or shuffled;
/// samples that break a constraint are skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GridSearch {
    shuffle_seed: Option<u64>,
    /// Grid positions proposed so far.
    next: u64,
    /// The shuffled order, rebuilt from the seed rather than saved.
    #[serde(skip)]
    order: Option<Vec<u64>>,
    /// Samples the budget does not admit are skipped, when it can say.
    #[serde(skip)]
    guide: Guide,
    /// Samples proposed so far.
    #[serde(default)]
    n_proposed: u64,
}

impl GridSearch {
    /// Grid order.
    pub fn new() -> Self {
        Self::default()
    }

    /// A seeded random order over the whole grid.
    pub fn shuffled(seed: u64) -> Self {
        Self {
            shuffle_seed: Some(seed),
            ..Self::default()
        }
    }

    fn position(&mut self, space: &SearchSpace, step: u64) -> Result<u64, StrategyError> {
        let Some(seed) = self.shuffle_seed else {
            return Ok(step);
        };
        if self.order.is_none() {
            if space.size() > MAX_SHUFFLED_GRID {
                return Err(StrategyError::Config(format!(
                    "a shuffled grid keeps the order of every sample; this space has {:.3e}, \
                     more than {MAX_SHUFFLED_GRID:.0}: use random sampling instead",
                    space.size()
                )));
            }
            let mut order: Vec<u64> = (0..space.size() as u64).collect();
            order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
            self.order = Some(order);
        }
        Ok(self.order.as_ref().expect("built above")[step as usize])
    }
}

/// The mixed-radix digits of a grid position, last label fastest.
fn indices_at(space: &SearchSpace, mut position: u64) -> Vec<usize> {
    let mut indices = vec![0; space.len()];
    for (index, choice) in indices.iter_mut().zip(space.choices()).rev() {
        let n = choice.len() as u64;
        *index = (position % n) as usize;
        position /= n;
    }
    indices
}

impl Strategy for GridSearch {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        let size = space.size();
        let mut skipped = 0;
        while (self.next as f64) < size {
            let position = self.position(space, self.next)?;
            self.next += 1;
            let indices = indices_at(space, position);
            if self.guide.admits_indices(space, &indices) {
                self.n_proposed += 1;
                return Ok(Some(Proposal::evaluate(space.sample_at(&indices))));
            }
            // A budget that admits nothing would walk the whole grid: give up as the random
            // samplers do, unless it admitted something before.
            skipped += 1;
            if self.n_proposed == 0 && skipped >= MAX_ADMISSION_DRAWS && self.guide.constrains() {
                return Err(self.guide.infeasible());
            }
        }
        Ok(None)
    }

    fn tell(&mut self, _sample: &Sample, _result: &TrialResult) {}

    fn guide(&mut self, guide: Guide) {
        self.guide = guide;
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let mut restored: GridSearch = load_state(state)?;
        restored.guide = std::mem::take(&mut self.guide);
        *self = restored;
        Ok(())
    }
}
