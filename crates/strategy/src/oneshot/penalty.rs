use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use hwnas_profiler::Costs;
use hwnas_space::{Sample, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::StrategyError;

/// How the relative cost `x = expected / baseline - 1` becomes a penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinear {
    /// `x`: over budget costs, under budget pays.
    Linear,
    /// `max(x, 0)`: only over budget costs.
    Positive,
    /// `min(x, 0)`: only under budget pays.
    Negative,
    /// `|x|`: aim at the baseline.
    Absolute,
}

/// How the penalty joins the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PenaltyMode {
    /// `loss + scale * n`.
    Add,
    /// `loss * (1 + n)^scale`.
    Mul,
}

/// Settings of a [`HardwarePenalty`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyConfig {
    /// The cost the search aims at (same unit as the cost function).
    pub baseline: f64,
    /// Strength of the penalty.
    pub scale: f64,
    /// How the penalty joins the loss.
    pub mode: PenaltyMode,
    /// How the relative cost becomes a penalty.
    pub nonlinear: Nonlinear,
}

/// The expected hardware cost of an architecture distribution, differentiable in the
/// probabilities, and the penalty it adds to the architecture loss.
///
/// The expected cost is `sum over decisions of sum over candidates p x cost`, where a candidate's
/// cost is the whole-network cost of the current most probable sample with that one decision
/// changed (the cost of the rest is counted once). Where the cost adds up over decisions (every
/// layer choice of ProxylessNAS) this is the exact expectation; where decisions interact (a width
/// and the blocks inside it) it is the expectation to first order around the most probable sample,
/// which is recomputed at every step. Candidates the costs cannot price (a constraint they
/// break) count as the dearest candidate of their decision.
pub struct HardwarePenalty {
    config: PenaltyConfig,
    costs: Costs,
    metric: String,
}

impl HardwarePenalty {
    /// A penalty on `metric`, priced by `costs`.
    pub fn new(
        config: PenaltyConfig,
        costs: Costs,
        metric: impl Into<String>,
    ) -> Result<Self, StrategyError> {
        let metric = metric.into();
        if !costs.prices(&metric) {
            return Err(StrategyError::Config(format!(
                "the penalty is on `{metric}`, which no profiler prices"
            )));
        }
        Ok(HardwarePenalty {
            config,
            costs,
            metric,
        })
    }

    /// The settings.
    pub fn config(&self) -> &PenaltyConfig {
        &self.config
    }

    /// The metric it penalises.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The cost of one sample, when it can be priced.
    pub fn cost(&self, sample: &Sample) -> Option<f64> {
        self.costs.cost(sample, &self.metric).ok()
    }

    /// Per decision, the cost of each candidate relative to `reference`'s (zero for the reference's
    /// own), and the reference's cost.
    pub fn candidate_costs(
        &self,
        space: &SearchSpace,
        reference: &Sample,
    ) -> Option<(Vec<Vec<f64>>, f64)> {
        let base = self.cost(reference)?;
        let costs = space
            .choices()
            .iter()
            .map(|choice| {
                let mut sample = reference.clone();
                let priced: Vec<Option<f64>> = choice
                    .values
                    .iter()
                    .map(|value| {
                        sample.insert(choice.label.clone(), value.clone());
                        self.cost(&sample).map(|cost| cost - base)
                    })
                    .collect();
                let dearest = priced.iter().flatten().copied().fold(0.0, f64::max);
                priced.into_iter().map(|c| c.unwrap_or(dearest)).collect()
            })
            .collect();
        Some((costs, base))
    }

    /// The expected cost of `probabilities` (one tensor per decision, search-space order) around
    /// `reference`, as a differentiable `[1]` tensor.
    pub fn expected_cost(
        &self,
        space: &SearchSpace,
        probabilities: &[Tensor<1>],
        reference: &Sample,
    ) -> Option<Tensor<1>> {
        let (costs, base) = self.candidate_costs(space, reference)?;
        let device = probabilities.first()?.device();
        let mut expected = Tensor::<1>::from_floats([base as f32], &device);
        for (p, costs) in probabilities.iter().zip(costs) {
            let costs: Vec<f32> = costs.iter().map(|c| *c as f32).collect();
            let costs = Tensor::<1>::from_floats(costs.as_slice(), &device);
            expected = expected + (p.clone() * costs).sum();
        }
        Some(expected)
    }

    /// `loss` with the penalty of `expected_cost` applied.
    pub fn apply(&self, loss: Tensor<1>, expected_cost: Tensor<1>) -> Tensor<1> {
        let x = expected_cost / self.config.baseline - 1.0;
        let n = match self.config.nonlinear {
            Nonlinear::Linear => x,
            Nonlinear::Positive => relu(x),
            Nonlinear::Negative => -relu(-x),
            Nonlinear::Absolute => x.abs(),
        };
        match self.config.mode {
            PenaltyMode::Add => loss + n * self.config.scale,
            PenaltyMode::Mul => loss * (n + 1.0).powf_scalar(self.config.scale),
        }
    }
}
