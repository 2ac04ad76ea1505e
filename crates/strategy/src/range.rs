use rand::Rng;

use crate::{Sample, SearchSpace, StrategyError};

/// The cost of a sample (FLOPs, parameters, predicted latency), or `None` when it has none.
pub type CostFn = Box<dyn Fn(&Sample) -> Option<f64> + Send + Sync>;

/// Samples only subnets whose cost (FLOPs, parameters, predicted latency) lies in `[min, max]`:
/// the sampler of sampling-based one-shot training (SPOS), so that the supernet trains the subnets
/// a budget admits, not all of them.
pub struct RangeFilter {
    cost: CostFn,
    min: f64,
    max: f64,
    patience: usize,
}

impl RangeFilter {
    /// Admits samples whose `cost` is in `[min, max]`; a sample `cost` cannot price (`None`) is
    /// rejected.
    pub fn new(
        cost: impl Fn(&Sample) -> Option<f64> + Send + Sync + 'static,
        min: f64,
        max: f64,
    ) -> Result<Self, StrategyError> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(StrategyError::Config(format!(
                "the cost range [{min}, {max}] is empty"
            )));
        }
        Ok(RangeFilter {
            cost: Box::new(cost),
            min,
            max,
            patience: crate::DEFAULT_RANGE_PATIENCE,
        })
    }

    /// Consecutive rejections after which [`RangeFilter::sample`] gives up.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience.max(1);
        self
    }

    /// Whether `sample`'s cost is in the range.
    pub fn admits(&self, sample: &Sample) -> bool {
        (self.cost)(sample).is_some_and(|cost| (self.min..=self.max).contains(&cost))
    }

    /// A uniformly random sample of `space` within the range (rejection sampling).
    pub fn sample<R: Rng + ?Sized>(
        &self,
        space: &SearchSpace,
        rng: &mut R,
    ) -> Result<Sample, StrategyError> {
        for _ in 0..self.patience {
            let sample = space.random_sample(rng)?;
            if self.admits(&sample) {
                return Ok(sample);
            }
        }
        Err(StrategyError::Patience {
            middleware: "range filter",
            rejected: self.patience,
        })
    }
}
