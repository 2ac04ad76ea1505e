use std::collections::VecDeque;

use hwnas_space::{Sample, SearchSpace};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::{Parents, Proposer, breed};
use crate::{Guide, Objective, Proposal, Strategy, StrategyError, TrialResult};

/// Settings of [`RegularizedEvolution`]; the defaults are the reference toolkit's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionConfig {
    /// Individuals kept; the oldest dies when a new one arrives (aging).
    pub population_size: usize,
    /// Individuals drawn for each tournament; the best becomes a parent.
    pub sample_size: usize,
    /// Probability that each label is resampled in a child.
    pub mutation_prob: f64,
    /// Breed from two tournament winners (uniform crossover) before mutating.
    pub crossover: bool,
    /// Never propose a sample twice.
    pub dedup: bool,
    /// The metric to improve.
    pub objective: Objective,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        Self {
            population_size: 100,
            sample_size: 25,
            mutation_prob: 0.05,
            crossover: false,
            dedup: true,
            objective: Objective::default(),
            seed: 0,
        }
    }
}

impl EvolutionConfig {
    /// Builds the strategy, checking the settings.
    pub fn init(self) -> Result<RegularizedEvolution, StrategyError> {
        if self.population_size == 0 || self.sample_size == 0 {
            return Err(StrategyError::Config(
                "population_size and sample_size must be at least 1".into(),
            ));
        }
        if self.sample_size > self.population_size {
            return Err(StrategyError::Config(format!(
                "sample_size {} exceeds population_size {}",
                self.sample_size, self.population_size
            )));
        }
        if !(0.0..=1.0).contains(&self.mutation_prob) {
            return Err(StrategyError::Config(format!(
                "mutation_prob {} is not a probability",
                self.mutation_prob
            )));
        }
        Ok(RegularizedEvolution {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            population: VecDeque::new(),
            proposer: Proposer::default(),
            n_proposed: 0,
        })
    }
}

/// Regularized (aging) evolution, Real et al. 2019: random samples until the population is full,
/// then each child mutates the winner of a tournament over a random subset of the population, and
/// the oldest individual dies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegularizedEvolution {
    config: EvolutionConfig,
    rng: Xoshiro256PlusPlus,
    /// Evaluated individuals, oldest first, with their objective key (larger is better).
    population: VecDeque<(Sample, f64)>,
    #[serde(flatten)]
    proposer: Proposer,
    n_proposed: usize,
}

impl Default for RegularizedEvolution {
    fn default() -> Self {
        EvolutionConfig::default()
            .init()
            .expect("the default settings are valid")
    }
}

impl RegularizedEvolution {
    /// The settings.
    pub fn config(&self) -> &EvolutionConfig {
        &self.config
    }

    /// The living population, oldest first, with each individual's objective value.
    pub fn population(&self) -> impl Iterator<Item = (&Sample, f64)> {
        let direction = self.config.objective.direction;
        self.population
            .iter()
            .map(move |(s, key)| (s, direction.key(*key)))
    }

    /// The index in `population` of a tournament winner.
    fn tournament(&mut self) -> usize {
        let n = self.population.len();
        let size = self.config.sample_size.min(n);
        rand::seq::index::sample(&mut self.rng, n, size)
            .into_iter()
            .max_by(|&a, &b| self.population[a].1.total_cmp(&self.population[b].1))
            .expect("the population is not empty")
    }
}

impl Strategy for RegularizedEvolution {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        let warming_up =
            self.n_proposed < self.config.population_size || self.population.is_empty();
        let parents: Parents = if warming_up {
            None
        } else {
            let first = self.tournament();
            let second = self.config.crossover.then(|| self.tournament());
            let indices = |i: usize| space.indices(&self.population[i].0);
            Some((indices(first)?, second.map(indices).transpose()?))
        };
        let (mutation_prob, dedup) = (self.config.mutation_prob, self.config.dedup);
        let sample = self.proposer.bred(space, dedup, &mut self.rng, |rng| {
            breed(space, &parents, mutation_prob, rng)
        })?;
        if sample.is_some() {
            self.n_proposed += 1;
        }
        Ok(sample.map(Proposal::evaluate))
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        let Some(key) = self.config.objective.key(&result.metrics) else {
            return;
        };
        self.population.push_back((sample.clone(), key));
        if self.population.len() > self.config.population_size {
            self.population.pop_front();
        }
    }

    fn guide(&mut self, guide: Guide) {
        self.proposer.guide = guide;
    }

    fn take_notes(&mut self) -> Vec<String> {
        self.proposer.take_notes()
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        restore_same(
            self,
            state,
            "evolution",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwnas_space::Choice;

    #[test]
    fn evolution_rejects_tournament_larger_than_population() {
        let config = EvolutionConfig {
            population_size: 4,
            sample_size: 5,
            ..Default::default()
        };
        assert!(matches!(config.init(), Err(StrategyError::Config(_))));
    }

    #[test]
    fn evolution_children_stay_near_their_parent() {
        let choices = (0..20)
            .map(|i| Choice::new(format!("c{i}"), [0, 1, 2, 3]))
            .collect();
        let space = SearchSpace::new(choices, vec![]).unwrap();
        let config = EvolutionConfig {
            population_size: 1,
            sample_size: 1,
            mutation_prob: 0.1,
            ..Default::default()
        };
        let mut evolution = config.init().unwrap();
        let Some(Proposal::Evaluate { sample: parent, .. }) = evolution.ask(&space).unwrap() else {
            panic!()
        };
        evolution.tell(&parent, &TrialResult::ok([("accuracy".into(), 0.5)].into()));
        let mut changed = 0;
        for _ in 0..50 {
            let Some(Proposal::Evaluate { sample: child, .. }) = evolution.ask(&space).unwrap()
            else {
                panic!()
            };
            changed += parent
                .iter()
                .zip(child.iter())
                .filter(|(a, b)| a.1 != b.1)
                .count();
        }
        // Each of 20 labels changes with p = 0.1 x 3/4 (resampled among 4 values); a child equal
        // to its parent is never proposed, so a child's changes are Binomial(20, p) given at
        // least one. Over 50 children the sum is close to normal: a band of 5 standard
        // deviations fails a correct implementation about once in 3.5 million runs.
        let (n, p) = (20.0, 0.1 * 0.75);
        let at_least_one = 1.0 - (1.0f64 - p).powf(n);
        let mean = n * p / at_least_one;
        let second_moment = (n * p * (1.0 - p) + (n * p).powi(2)) / at_least_one;
        let (total_mean, total_sd) = (50.0 * mean, (50.0 * (second_moment - mean * mean)).sqrt());
        let band = (total_mean - 5.0 * total_sd)..=(total_mean + 5.0 * total_sd);
        assert!(
            band.contains(&(changed as f64)),
            "{changed} labels changed in 50 children, expected {band:?}"
        );
    }
}
