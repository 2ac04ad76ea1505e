use hwnas_space::{Sample, SearchSpace};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::{Proposer, Told, neighbours};
use crate::{Guide, Objective, Proposal, Strategy, StrategyError, TrialResult};

/// Settings of [`LocalSearch`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LocalConfig {
    /// The metric to improve.
    pub objective: Objective,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl LocalConfig {
    /// Builds the strategy.
    pub fn init(self) -> LocalSearch {
        LocalSearch {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            current: None,
            untried: Vec::new(),
            told: Vec::new(),
            n_restarts: 0,
            proposer: Proposer::default(),
        }
    }
}

/// Local search by first improvement: from a random start, the one-edit neighbours of the
/// current sample are tried in a random order, and the first that beats it becomes current;
/// when every admissible neighbour is tried (a local optimum), it restarts from a new random
/// sample. No sample is proposed twice. On NAS-Bench-201 this is what the landscape study
/// (`hwnas bench landscape`) says mutation-based search needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalSearch {
    config: LocalConfig,
    rng: Xoshiro256PlusPlus,
    /// The sample climbed from and its objective key (larger is better).
    current: Option<(Sample, f64)>,
    /// Neighbours of the current sample not tried yet, next last.
    untried: Vec<Vec<usize>>,
    /// Results told since the last `ask`.
    told: Vec<Told>,
    n_restarts: u64,
    #[serde(flatten)]
    proposer: Proposer,
}

impl LocalSearch {
    /// The sample climbed from, with its objective value.
    pub fn current(&self) -> Option<(&Sample, f64)> {
        let direction = self.config.objective.direction;
        self.current
            .as_ref()
            .map(|(s, key)| (s, direction.key(*key)))
    }

    /// Restarts from a random sample so far (local optima left).
    pub fn n_restarts(&self) -> u64 {
        self.n_restarts
    }

    /// Moves to every told sample that beats the current one (the first improvement).
    fn climb(&mut self, space: &SearchSpace) -> Result<(), StrategyError> {
        for (sample, key) in std::mem::take(&mut self.told) {
            if self.current.as_ref().is_some_and(|(_, best)| key <= *best) {
                continue;
            }
            let mut untried = neighbours(space, &space.indices(&sample)?);
            untried.shuffle(&mut self.rng);
            self.untried = untried;
            self.current = Some((sample, key));
        }
        Ok(())
    }
}

impl Strategy for LocalSearch {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        self.climb(space)?;
        if self.current.is_some() {
            while let Some(neighbour) = self.untried.pop() {
                if self.proposer.accept(space, &neighbour, true) {
                    return Ok(Some(Proposal::evaluate(space.sample_at(&neighbour))));
                }
            }
            // A local optimum: every admissible neighbour is worse or was tried.
            self.current = None;
            self.n_restarts += 1;
        }
        let start = self.proposer.random_sample(space, true, &mut self.rng)?;
        Ok(start.map(Proposal::evaluate))
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        if let Some(key) = self.config.objective.key(&result.metrics) {
            self.told.push((sample.clone(), key));
        }
    }

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
            "local search",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )
    }
}
