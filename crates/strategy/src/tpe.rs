use hwnas_space::{Sample, SearchSpace};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::{MAX_BREED_TRIES, Proposer, Told};
use crate::{Guide, Objective, Proposal, Strategy, StrategyError, TrialResult};

/// Settings of [`Tpe`]; the defaults are the reference toolkit's (Hyperopt's and Optuna's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TpeConfig {
    /// The metric to improve.
    pub objective: Objective,
    /// Random samples before the densities are used.
    pub n_startup: usize,
    /// Candidates drawn from the good density per proposal; the best ratio is proposed.
    pub n_candidates: usize,
    /// Share of the results that count as good.
    pub gamma: f64,
    /// Weight of the uniform prior in each density, in observations.
    pub prior_weight: f64,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl Default for TpeConfig {
    fn default() -> Self {
        TpeConfig {
            objective: Objective::default(),
            n_startup: 10,
            n_candidates: 24,
            gamma: 0.25,
            prior_weight: 1.0,
            seed: 0,
        }
    }
}

impl TpeConfig {
    /// Builds the strategy, checking the settings.
    pub fn init(self) -> Result<Tpe, StrategyError> {
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return Err(StrategyError::Config(format!(
                "gamma {} is not a share strictly between 0 and 1",
                self.gamma
            )));
        }
        if self.n_candidates == 0 || self.prior_weight.is_nan() || self.prior_weight <= 0.0 {
            return Err(StrategyError::Config(
                "TPE needs at least one candidate and a positive prior weight".into(),
            ));
        }
        Ok(Tpe {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            history: Vec::new(),
            told: Vec::new(),
            proposer: Proposer::default(),
        })
    }
}

/// Tree-structured Parzen Estimator (Bergstra et al. 2011), the reference toolkit's tuner: the
/// results so far are split into the best `gamma` share and the rest, each label gets a density
/// over its candidates from each group (a categorical one with a uniform prior; for numeric
/// choices, a discretised Gaussian kernel around each observed position, so near values share
/// evidence), candidates are drawn from the good densities and the one with the largest ratio
/// good/rest is proposed. Labels are independent, as in the original.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tpe {
    config: TpeConfig,
    rng: Xoshiro256PlusPlus,
    /// Results as choice indices and objective keys (larger is better).
    history: Vec<(Vec<usize>, f64)>,
    told: Vec<Told>,
    #[serde(flatten)]
    proposer: Proposer,
}

/// One label's density over its candidates.
struct Density(Vec<f64>);

impl Density {
    /// The density of `observed` positions of a choice with `n` candidates: a uniform prior of
    /// `prior_weight` observations plus one kernel per observation (a point mass for a
    /// categorical choice, a discretised Gaussian for a numeric one).
    fn fit(observed: &[usize], n: usize, numeric: bool, prior_weight: f64) -> Density {
        let mut weights = vec![prior_weight / n as f64; n];
        // Scott's rule over positions, at least half a step, shrinking as evidence grows.
        let bandwidth = (n as f64 / (observed.len() as f64 + 1.0).powf(0.2) / 4.0).max(0.5);
        for &at in observed {
            if numeric {
                let kernel: Vec<f64> = (0..n)
                    .map(|i| (-0.5 * ((i as f64 - at as f64) / bandwidth).powi(2)).exp())
                    .collect();
                let total: f64 = kernel.iter().sum();
                for (w, k) in weights.iter_mut().zip(kernel) {
                    *w += k / total;
                }
            } else {
                weights[at] += 1.0;
            }
        }
        let total: f64 = weights.iter().sum();
        Density(weights.into_iter().map(|w| w / total).collect())
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let mut u: f64 = rng.random();
        for (i, p) in self.0.iter().enumerate() {
            u -= p;
            if u < 0.0 {
                return i;
            }
        }
        self.0.len() - 1
    }
}

impl Tpe {
    /// The good and the rest densities of every label.
    fn densities(&self, space: &SearchSpace) -> (Vec<Density>, Vec<Density>) {
        let mut order: Vec<usize> = (0..self.history.len()).collect();
        order.sort_by(|&a, &b| self.history[b].1.total_cmp(&self.history[a].1));
        let n_good = ((self.config.gamma * order.len() as f64).ceil() as usize).max(1);
        let (good, rest) = order.split_at(n_good.min(order.len()));
        let density = |group: &[usize], at: usize| {
            let choice = &space.choices()[at];
            let numeric = choice.len() > 2 && choice.values.iter().all(|v| v.as_f64().is_some());
            let observed: Vec<usize> = group.iter().map(|&i| self.history[i].0[at]).collect();
            Density::fit(&observed, choice.len(), numeric, self.config.prior_weight)
        };
        let labels = 0..space.len();
        (
            labels.clone().map(|at| density(good, at)).collect(),
            labels.map(|at| density(rest, at)).collect(),
        )
    }
}

impl Strategy for Tpe {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        for (sample, key) in std::mem::take(&mut self.told) {
            self.history.push((space.indices(&sample)?, key));
        }
        if self.history.len() < self.config.n_startup {
            let sample = self.proposer.random_sample(space, true, &mut self.rng)?;
            return Ok(sample.map(Proposal::evaluate));
        }
        let (good, rest) = self.densities(space);
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut n_admissible = 0;
        for _ in 0..MAX_BREED_TRIES {
            let candidate: Vec<usize> = good.iter().map(|d| d.draw(&mut self.rng)).collect();
            if !self.proposer.guide.admits_indices(space, &candidate)
                || self.proposer.has_seen(space, &candidate)
            {
                continue;
            }
            let ratio: f64 = candidate
                .iter()
                .zip(good.iter().zip(&rest))
                .map(|(&i, (l, g))| l.0[i].ln() - g.0[i].ln())
                .sum();
            if best.as_ref().is_none_or(|(b, _)| ratio > *b) {
                best = Some((ratio, candidate));
            }
            n_admissible += 1;
            if n_admissible == self.config.n_candidates {
                break;
            }
        }
        match best {
            Some((_, indices)) => {
                self.proposer.remember(space, &indices);
                Ok(Some(Proposal::evaluate(space.sample_at(&indices))))
            }
            None => {
                self.proposer.note(format!(
                    "no candidate of the good density within the budget and new to the search \
                     in {MAX_BREED_TRIES} draws: a random sample instead"
                ));
                let sample = self.proposer.random_sample(space, true, &mut self.rng)?;
                Ok(sample.map(Proposal::evaluate))
            }
        }
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        if let Some(key) = self.config.objective.key(&result.metrics) {
            self.told.push((sample.clone(), key));
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
            "TPE search",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )
    }
}
