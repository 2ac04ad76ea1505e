use hwnas_space::{Sample, SearchSpace, metric};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::surrogate::{Linear, RidgeEnsemble, poisson_one};
use crate::variation::{Proposer, Told};
use crate::{Guide, Objective, Proposal, Strategy, StrategyError, TrialResult};

/// Settings of [`Guided`]. The defaults were chosen on NAS-Bench-201 under device budgets
/// (`hwnas bench compare`, figures in `docs/results.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidedConfig {
    /// The metric to improve.
    pub objective: Objective,
    /// The cheap scores the prior prefers, each a cost the search prices, and which way
    /// (default: more parameters of the layers the output depends on, `live_params`: under a
    /// budget the best networks spend it, on operations that count). They are also features of
    /// the surrogate, which learns how much they matter. A score read from a table is free; a
    /// zero-cost proxy runs each candidate's network once (about a training step's time).
    pub prior: Vec<Objective>,
    /// Results before the surrogate proposes; until then each proposal is the best of
    /// `prior_draws` admissible random samples by the prior.
    pub n_startup: usize,
    /// Admissible random samples the prior chooses among.
    pub prior_draws: usize,
    /// Best results whose one-edit neighbours are candidates.
    pub n_parents: usize,
    /// Admissible random samples among the candidates besides the neighbours.
    pub n_random: usize,
    /// Bootstrap members of the surrogate.
    pub n_members: usize,
    /// Penalty of the surrogate's ridge regressions.
    pub ridge: f64,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl Default for GuidedConfig {
    fn default() -> Self {
        GuidedConfig {
            objective: Objective::default(),
            prior: vec![Objective::maximize(metric::LIVE_PARAMS)],
            n_startup: 10,
            prior_draws: 20,
            n_parents: 5,
            n_random: 30,
            n_members: 5,
            ridge: 1.0,
            seed: 0,
        }
    }
}

impl GuidedConfig {
    /// Builds the strategy, checking the settings.
    pub fn init(self) -> Result<Guided, StrategyError> {
        if self.prior_draws == 0 || self.n_members == 0 || self.n_parents + self.n_random == 0 {
            return Err(StrategyError::Config(
                "a guided search needs prior draws, surrogate members and candidates".into(),
            ));
        }
        if !(self.ridge > 0.0 && self.ridge.is_finite()) {
            return Err(StrategyError::Config(format!(
                "the ridge penalty must be a positive number, not {}",
                self.ridge
            )));
        }
        Ok(Guided {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            history: Vec::new(),
            told: Vec::new(),
            proposer: Proposer::default(),
            surrogate: None,
            known: Known::default(),
        })
    }
}

/// Guided search: what is known before training steers it, and what the trials teach refines it.
///
/// - **Prior.** Until `n_startup` results, each proposal is the admissible random sample with
///   the best prior score among `prior_draws` (by default the most parameters: under a budget
///   the most accurate networks are those that spend it).
/// - **Surrogate.** Then an ensemble of ridge regressions on bootstraps of the results predicts
///   the objective from a one-hot encoding of the choices and the log of each prior cost; the
///   candidates are the one-edit neighbours of the best `n_parents` results and `n_random`
///   admissible random samples, and the one a randomly drawn member predicts best is proposed
///   (Thompson sampling, as BANANAS does with its ensemble).
///
/// Only admissible samples are proposed when the guide knows the budget, none twice, and no
/// accuracy is read before its sample is evaluated as a trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guided {
    config: GuidedConfig,
    rng: Xoshiro256PlusPlus,
    /// Results: choice indices, objective key (larger is better), and how many times each
    /// surrogate member counts it.
    history: Vec<Observation>,
    told: Vec<Told>,
    #[serde(flatten)]
    proposer: Proposer,
    /// Rebuilt from `history` after a restore.
    #[serde(skip)]
    surrogate: Option<RidgeEnsemble>,
    /// What the guide said of each candidate met (pricing is the cost of a proposal; neighbours
    /// recur).
    #[serde(skip)]
    known: Known,
}

/// By [`candidate_key`], whether each candidate met is admissible and where its prior costs (as
/// features) start in one shared buffer, so that remembering a candidate allocates nothing.
#[derive(Debug, Clone, Default)]
struct Known {
    at: FxHashMap<u64, Option<u32>>,
    features: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Observation {
    indices: Vec<usize>,
    key: f64,
    weights: Vec<u32>,
}

/// A cost as a feature: its log (costs span orders of magnitude, and a cost's effect on
/// accuracy is closer to linear in its log); a negative score (`jacob_cov`) by the log of its
/// magnitude, negated, so that the order is kept.
fn log_feature(cost: f64) -> f64 {
    if cost >= 0.0 {
        cost.max(1e-12).ln()
    } else {
        -(-cost).ln_1p()
    }
}

/// One prior cost of the sample at `indices` as a feature (0 where the guide cannot price it).
fn prior_feature(guide: &Guide, space: &SearchSpace, indices: &[usize], prior: &Objective) -> f64 {
    guide
        .cost_indices(space, indices, &prior.metric)
        .map_or(0.0, log_feature)
}

/// The prior's score of a sample with these prior costs' logs: larger is preferred.
fn prior_score(prior: &[Objective], costs: &[f64]) -> f64 {
    prior
        .iter()
        .zip(costs)
        .map(|(o, &c)| o.direction.key(c))
        .sum()
}

/// Candidates remembered before the cache starts over.
const MAX_KNOWN: usize = 1 << 20;

/// A key of the candidate at `indices`: its position in the grid of choices where the space is
/// small enough to number (no hashing), else its sample hash.
fn candidate_key(space: &SearchSpace, indices: &[usize]) -> u64 {
    if space.size() >= (1u64 << 62) as f64 {
        return space.sample_hash(indices);
    }
    space
        .choices()
        .iter()
        .zip(indices)
        .fold(0, |position, (choice, &index)| {
            position * choice.len() as u64 + index as u64
        })
}

impl Guided {
    /// The prior costs of `indices` as features when admissible, from the cache or the guide.
    fn priced(&mut self, space: &SearchSpace, indices: &[usize]) -> Option<&[f64]> {
        let key = candidate_key(space, indices);
        let n = self.config.prior.len();
        let at = match self.known.at.get(&key) {
            Some(&at) => at,
            None => {
                if self.known.at.len() >= MAX_KNOWN {
                    self.known = Known::default();
                }
                let guide = &self.proposer.guide;
                let features = &mut self.known.features;
                let at = guide.admits_indices(space, indices).then(|| {
                    let at = features.len() as u32;
                    features.extend(
                        (self.config.prior.iter()).map(|o| prior_feature(guide, space, indices, o)),
                    );
                    at
                });
                self.known.at.insert(key, at);
                at
            }
        };
        at.map(|at| &self.known.features[at as usize..at as usize + n])
    }

    /// `model`'s prediction for `indices` with prior costs `costs`: the dot product with
    /// [`Guided::features`], without building them.
    fn predict(model: &Linear, space: &SearchSpace, indices: &[usize], costs: &[f64]) -> f64 {
        let (mut at, mut total) = (0, 0.0);
        for (choice, &index) in space.choices().iter().zip(indices) {
            total += model.coefficients[at + index];
            at += choice.len();
        }
        for (cost, weight) in costs.iter().zip(&model.coefficients[at..]) {
            total += cost * weight;
        }
        model.intercept + total
    }

    /// One-hot choices, then the prior costs' logs.
    fn features(space: &SearchSpace, indices: &[usize], costs: &[f64]) -> Vec<f64> {
        let mut x = Vec::with_capacity(costs.len() + 16 * indices.len());
        for (choice, &at) in space.choices().iter().zip(indices) {
            let start = x.len();
            x.resize(start + choice.len(), 0.0);
            x[start + at] = 1.0;
        }
        x.extend_from_slice(costs);
        x
    }

    fn dim(&self, space: &SearchSpace) -> usize {
        space.choices().iter().map(|c| c.len()).sum::<usize>() + self.config.prior.len()
    }

    /// Takes in the results told since the last `ask`, and rebuilds the surrogate after a
    /// restore.
    fn learn(&mut self, space: &SearchSpace) -> Result<(), StrategyError> {
        if self.surrogate.is_none() {
            let mut surrogate =
                RidgeEnsemble::new(self.dim(space), self.config.n_members, self.config.ridge);
            for observation in self.history.clone() {
                let x = self.encode(space, &observation.indices);
                surrogate.add(&x, observation.key, &observation.weights);
            }
            self.surrogate = Some(surrogate);
        }
        for (sample, key) in std::mem::take(&mut self.told) {
            let indices = space.indices(&sample)?;
            let weights: Vec<u32> = (0..self.config.n_members)
                .map(|_| poisson_one(&mut self.rng))
                .collect();
            let x = self.encode(space, &indices);
            if let Some(surrogate) = &mut self.surrogate {
                surrogate.add(&x, key, &weights);
            }
            self.history.push(Observation {
                indices,
                key,
                weights,
            });
        }
        Ok(())
    }

    /// The features of an evaluated sample (priced even when outside the budget: a penalised
    /// sample is learned from too).
    fn encode(&self, space: &SearchSpace, indices: &[usize]) -> Vec<f64> {
        let costs = self.prior_costs(space, indices);
        Self::features(space, indices, &costs)
    }

    /// The prior costs of the sample at `indices` as features (0 for one the guide cannot
    /// price).
    fn prior_costs(&self, space: &SearchSpace, indices: &[usize]) -> Vec<f64> {
        let guide = &self.proposer.guide;
        (self.config.prior.iter())
            .map(|o| prior_feature(guide, space, indices, o))
            .collect()
    }

    /// The best of `prior_draws` admissible new samples by the prior.
    fn propose_by_prior(
        &mut self,
        space: &SearchSpace,
    ) -> Result<Option<Vec<usize>>, StrategyError> {
        let mut best: Option<(f64, Vec<usize>)> = None;
        for _ in 0..self.config.prior_draws {
            let proposer = &self.proposer;
            let drawn = proposer.guide.draw(space, &mut self.rng, |indices| {
                !proposer.has_seen(space, indices)
            })?;
            let Some(indices) = drawn else { break };
            let prior = self.config.prior.clone();
            let Some(costs) = self.priced(space, &indices) else {
                continue;
            };
            let score = prior_score(&prior, costs);
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, indices));
            }
        }
        Ok(best.map(|(_, indices)| indices))
    }

    /// The candidate a surrogate member predicts best.
    fn propose_by_surrogate(
        &mut self,
        space: &SearchSpace,
    ) -> Result<Option<Vec<usize>>, StrategyError> {
        let Some(model) = self.surrogate.as_ref().and_then(|s| s.draw(&mut self.rng)) else {
            return self.propose_by_prior(space);
        };
        let mut order: Vec<usize> = (0..self.history.len()).collect();
        order.sort_by(|&a, &b| self.history[b].key.total_cmp(&self.history[a].key));
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut consider = |guided: &mut Guided, candidate: &[usize]| {
            let Some(costs) = guided.priced(space, candidate) else {
                return;
            };
            let predicted = Self::predict(&model, space, candidate, costs);
            // Whether it was proposed before is asked only of a new best (hashing is most of
            // what a candidate costs).
            if best.as_ref().is_none_or(|(b, _)| predicted > *b)
                && !guided.proposer.has_seen(space, candidate)
            {
                best = Some((predicted, candidate.to_vec()));
            }
        };
        // The one-edit neighbours of the best results, each edited in one buffer.
        for &parent in order.iter().take(self.config.n_parents) {
            let mut candidate = self.history[parent].indices.clone();
            for at in 0..space.len() {
                let own = candidate[at];
                for other in (0..space.choices()[at].len()).filter(|&other| other != own) {
                    candidate[at] = other;
                    consider(self, &candidate);
                }
                candidate[at] = own;
            }
        }
        let mut drawn = Vec::with_capacity(self.config.n_random);
        for _ in 0..self.config.n_random {
            let proposer = &self.proposer;
            drawn.extend(proposer.guide.draw(space, &mut self.rng, |indices| {
                !proposer.has_seen(space, indices)
            })?);
        }
        for candidate in &drawn {
            consider(self, candidate);
        }
        Ok(best.map(|(_, indices)| indices))
    }
}

impl Strategy for Guided {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        self.learn(space)?;
        let chosen = if self.history.len() < self.config.n_startup {
            self.propose_by_prior(space)?
        } else {
            self.propose_by_surrogate(space)?
        };
        Ok(chosen.map(|indices| {
            self.proposer.remember(space, &indices);
            Proposal::evaluate(space.sample_at(&indices))
        }))
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        if let Some(key) = self.config.objective.key(&result.metrics) {
            self.told.push((sample.clone(), key));
        }
    }

    fn guide(&mut self, guide: Guide) {
        self.proposer.guide = guide;
        // Admissibility and costs came from the old guide.
        self.known = Known::default();
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        // What the guide said of each candidate stays true.
        let known = std::mem::take(&mut self.known);
        restore_same(
            self,
            state,
            "guided search",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )?;
        self.known = known;
        Ok(())
    }
}
