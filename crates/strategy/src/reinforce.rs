use hwnas_space::{Sample, SearchSpace};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::{Proposer, Told};
use crate::{Guide, Objective, Proposal, Strategy, StrategyError, TrialResult};

/// Settings of [`Reinforce`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReinforceConfig {
    /// The metric to improve (the reward).
    pub objective: Objective,
    /// Step size of the policy's logits per result.
    pub learning_rate: f64,
    /// Weight of the past in the moving-average baseline (and in the reward scale).
    pub baseline_decay: f64,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        ReinforceConfig {
            objective: Objective::default(),
            learning_rate: 0.2,
            baseline_decay: 0.9,
            seed: 0,
        }
    }
}

impl ReinforceConfig {
    /// Builds the strategy, checking the settings.
    pub fn init(self) -> Result<Reinforce, StrategyError> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(StrategyError::Config(format!(
                "the learning rate must be a positive number, not {}",
                self.learning_rate
            )));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(StrategyError::Config(format!(
                "baseline_decay {} is not in [0, 1)",
                self.baseline_decay
            )));
        }
        Ok(Reinforce {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            logits: Vec::new(),
            baseline: None,
            scale: 0.0,
            told: Vec::new(),
            proposer: Proposer::default(),
        })
    }
}

/// Policy gradient (REINFORCE, Williams 1992) over the space's choices, the reference toolkit's
/// policy-based strategy without its RL framework: an independent softmax policy per label, one
/// sample per trial, and after each result the logits move along the advantage, the reward
/// minus a moving-average baseline, scaled by the moving average of its absolute value so that
/// the step does not depend on the reward's unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reinforce {
    config: ReinforceConfig,
    rng: Xoshiro256PlusPlus,
    /// Logits per label, per candidate (empty until the first `ask` sees the space).
    logits: Vec<Vec<f64>>,
    baseline: Option<f64>,
    /// Moving average of the absolute advantage.
    scale: f64,
    told: Vec<Told>,
    #[serde(flatten)]
    proposer: Proposer,
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / total).collect()
}

impl Reinforce {
    /// The policy: each label's probabilities over its candidates.
    pub fn policy(&self) -> Vec<Vec<f64>> {
        self.logits.iter().map(|l| softmax(l)).collect()
    }

    fn learn(&mut self, indices: &[usize], reward: f64) {
        let decay = self.config.baseline_decay;
        let baseline = *self.baseline.get_or_insert(reward);
        let advantage = reward - baseline;
        self.scale = decay * self.scale + (1.0 - decay) * advantage.abs();
        self.baseline = Some(decay * baseline + (1.0 - decay) * reward);
        if self.scale <= 0.0 {
            return;
        }
        let step = self.config.learning_rate * advantage / self.scale;
        for (logits, &chosen) in self.logits.iter_mut().zip(indices) {
            let probabilities = softmax(logits);
            for (j, (logit, p)) in logits.iter_mut().zip(probabilities).enumerate() {
                *logit += step * (f64::from(u8::from(j == chosen)) - p);
            }
        }
    }
}

impl Strategy for Reinforce {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        if self.logits.is_empty() {
            self.logits = space.choices().iter().map(|c| vec![0.0; c.len()]).collect();
        }
        for (sample, reward) in std::mem::take(&mut self.told) {
            let indices = space.indices(&sample)?;
            self.learn(&indices, reward);
        }
        let policy = self.policy();
        let draw = |rng: &mut Xoshiro256PlusPlus| {
            let indices = policy.iter().map(|p| {
                let mut u: f64 = rng.random();
                p.iter()
                    .position(|&q| {
                        u -= q;
                        u < 0.0
                    })
                    .unwrap_or(p.len() - 1)
            });
            Some(indices.collect())
        };
        let sample = self.proposer.bred(space, true, &mut self.rng, draw)?;
        Ok(sample.map(Proposal::evaluate))
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
            "policy-gradient search",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )
    }
}
