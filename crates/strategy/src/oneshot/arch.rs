use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Tensor};
use hwnas_space::module::Mix;
use hwnas_space::{Sample, SearchSpace};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// The one-shot algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Single-path one-shot: one uniformly random subnet per step; the search over subnets comes
    /// after training.
    Spos,
    /// DARTS: every candidate runs, mixed by a softmax over architecture parameters; first-order
    /// alternating updates of weights (training split) and architecture (validation split).
    Darts,
    /// DARTS with Gumbel-softmax samples of the mix and a temperature annealed over the epochs.
    Gumbel,
    /// ProxylessNAS: one sampled path per decision and step (binarised gates), the architecture
    /// gradient through the sampled path's gate.
    Proxyless,
}

impl Algorithm {
    /// Whether the algorithm learns architecture parameters.
    pub fn is_differentiable(self) -> bool {
        !matches!(self, Algorithm::Spos)
    }
}

/// One vector of logits per decision of a space (search-space order); the architecture
/// distribution is their softmax.
#[derive(Module, Debug)]
pub struct ArchParameters {
    /// Logits per decision.
    pub logits: Vec<Param<Tensor<1>>>,
}

impl ArchParameters {
    /// Uniform distributions (zero logits) over every decision of `space`.
    pub fn init(space: &SearchSpace, device: &Device) -> Self {
        let logits = space
            .choices()
            .iter()
            .map(|choice| Param::from_tensor(Tensor::zeros([choice.values.len()], device)))
            .collect();
        ArchParameters { logits }
    }

    /// The probabilities of each decision, differentiable.
    pub fn probabilities(&self) -> Vec<Tensor<1>> {
        self.logits
            .iter()
            .map(|logits| softmax(logits.val(), 0))
            .collect()
    }

    /// The probabilities as plain numbers.
    pub fn probability_values(&self) -> Vec<Vec<f64>> {
        self.probabilities()
            .into_iter()
            .map(|p| p.into_data().iter::<f64>().collect())
            .collect()
    }

    /// Soft mixes: the probabilities themselves (DARTS), or with `detach` constants for a weight
    /// step.
    pub fn soft(&self, detach: bool) -> Vec<Mix> {
        self.probabilities()
            .into_iter()
            .map(|p| Mix::Soft(if detach { p.detach() } else { p }))
            .collect()
    }

    /// Gumbel-softmax mixes at temperature `tau`: `softmax((logits + g) / tau)` with Gumbel noise
    /// `g`, drawn on the device (seed it for reproducibility).
    pub fn gumbel(&self, tau: f64, detach: bool) -> Vec<Mix> {
        self.logits
            .iter()
            .map(|logits| {
                let logits = logits.val();
                let uniform = Tensor::random(
                    logits.dims(),
                    Distribution::Uniform(1e-10, 1.0),
                    &logits.device(),
                );
                let noise = uniform.log().neg().log().neg();
                let mix = softmax((logits + noise) / tau, 0);
                Mix::Soft(if detach { mix.detach() } else { mix })
            })
            .collect()
    }

    /// Binarised mixes: one candidate per decision drawn from the distribution, with the gate
    /// `1 + p_k - detach(p_k)`, one in value, whose gradient reaches the logits (`with_gradient`)
    /// or a constant one.
    pub fn binary<R: Rng + ?Sized>(&self, rng: &mut R, with_gradient: bool) -> Vec<Mix> {
        self.probabilities()
            .into_iter()
            .map(|p| {
                let values: Vec<f64> = p.clone().into_data().iter::<f64>().collect();
                let index = draw(&values, rng);
                let gate = if with_gradient {
                    let chosen = p.slice(index..index + 1);
                    chosen.clone() - chosen.detach() + 1.0
                } else {
                    Tensor::ones([1], &p.device())
                };
                Mix::Binary { index, gate }
            })
            .collect()
    }

    /// The most probable sample that `space` accepts: the argmax of every decision, or, when that
    /// breaks a constraint, the valid sample of highest joint probability among the decisions the
    /// constraints name (the others keep their argmax).
    pub fn most_probable(&self, space: &SearchSpace) -> Option<Sample> {
        most_probable(space, &self.probability_values())
    }
}

/// An index drawn from `probabilities`.
fn draw<R: Rng + ?Sized>(probabilities: &[f64], rng: &mut R) -> usize {
    let mut u: f64 = rng.random::<f64>() * probabilities.iter().sum::<f64>();
    for (i, p) in probabilities.iter().enumerate() {
        if u < *p {
            return i;
        }
        u -= p;
    }
    probabilities.len() - 1
}

/// See [`ArchParameters::most_probable`].
pub(crate) fn most_probable(space: &SearchSpace, probabilities: &[Vec<f64>]) -> Option<Sample> {
    let argmax = |p: &[f64]| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let mut indices: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
    if space.check_constraints(&indices).is_ok() {
        return Some(space.sample_at(&indices));
    }
    // Enumerate the constrained decisions jointly (they are few: widths that must not shrink).
    let constrained: Vec<usize> = space
        .constraints()
        .iter()
        .flat_map(|constraint| constraint.labels())
        .filter_map(|label| space.position(label))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut best: Option<(f64, Vec<usize>)> = None;
    let mut odometer = vec![0usize; constrained.len()];
    loop {
        for (slot, &position) in constrained.iter().enumerate() {
            indices[position] = odometer[slot];
        }
        if space.check_constraints(&indices).is_ok() {
            let log_p: f64 = constrained
                .iter()
                .map(|&position| probabilities[position][indices[position]].max(1e-300).ln())
                .sum();
            if best.as_ref().is_none_or(|(b, _)| log_p > *b) {
                best = Some((log_p, indices.clone()));
            }
        }
        let mut slot = 0;
        loop {
            if slot == constrained.len() {
                return best.map(|(_, indices)| space.sample_at(&indices));
            }
            odometer[slot] += 1;
            if odometer[slot] < probabilities[constrained[slot]].len() {
                break;
            }
            odometer[slot] = 0;
            slot += 1;
        }
    }
}
