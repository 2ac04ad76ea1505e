//! A soft target on a cost: the MnasNet reward.

use hwnas_space::{Metrics, metric};
use serde::{Deserialize, Serialize};

/// The metric a [`SoftTarget`] writes into every evaluated trial.
pub const REWARD: &str = "reward";

/// MnasNet's reward (Tan et al. 2019): `accuracy x (cost / target)^w`, with one exponent below
/// the target and one above. `w = -0.07` on both sides trades about 5 % of cost for 0.35 % of
/// accuracy everywhere (a soft target); `0` below and `-1` above rewards nothing for saving
/// beyond the target and punishes going over it steeply (a hard-soft target).
///
/// ```
/// use hwnas_space::{Metrics, metric};
/// use hwnas_strategy::SoftTarget;
///
/// let target = SoftTarget::soft(metric::LATENCY_MS, 10.0);
/// let at = |ms: f64| Metrics::from([(metric::ACCURACY.into(), 0.9), (metric::LATENCY_MS.into(), ms)]);
/// assert_eq!(target.reward(&at(10.0)), Some(0.9));
/// assert!(target.reward(&at(20.0)).unwrap() < 0.9 && target.reward(&at(5.0)).unwrap() > 0.9);
/// let hard = SoftTarget::hard_soft(metric::LATENCY_MS, 10.0);
/// assert_eq!(hard.reward(&at(5.0)), Some(0.9));
/// assert!((hard.reward(&at(20.0)).unwrap() - 0.45).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftTarget {
    /// The cost (`latency_ms`, `flops`, `params`).
    pub metric: String,
    /// Its target value.
    pub target: f64,
    /// The exponent at or below the target.
    pub below: f64,
    /// The exponent above the target.
    pub above: f64,
}

impl SoftTarget {
    /// `w = -0.07` on both sides.
    pub fn soft(metric: impl Into<String>, target: f64) -> Self {
        SoftTarget {
            metric: metric.into(),
            target,
            below: -0.07,
            above: -0.07,
        }
    }

    /// `w = 0` below the target and `-1` above.
    pub fn hard_soft(metric: impl Into<String>, target: f64) -> Self {
        SoftTarget {
            metric: metric.into(),
            target,
            below: 0.0,
            above: -1.0,
        }
    }

    /// The reward of a trial's metrics (accuracy and the cost); `None` when one is missing or
    /// not a positive number.
    pub fn reward(&self, metrics: &Metrics) -> Option<f64> {
        let accuracy = metrics.get(metric::ACCURACY).copied()?;
        let cost = metrics.get(&self.metric).copied().filter(|c| *c > 0.0)?;
        let ratio = cost / self.target;
        let exponent = if ratio <= 1.0 { self.below } else { self.above };
        Some(accuracy * ratio.powf(exponent)).filter(|r| r.is_finite())
    }

    /// Refuses a target that is not a positive number or exponents that are not finite.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.target.is_finite() && self.target > 0.0) {
            return Err(format!(
                "the target of `{}` must be a positive number, not {}",
                self.metric, self.target
            ));
        }
        if !(self.below.is_finite() && self.above.is_finite()) {
            return Err("the target's exponents must be finite".into());
        }
        Ok(())
    }
}
