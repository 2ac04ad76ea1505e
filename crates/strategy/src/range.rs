use hwnas_profiler::Costs;
use rand::Rng;

use crate::{Sample, SearchSpace, StrategyError};

/// Samples only subnets whose cost (FLOPs, parameters, predicted latency) lies in `[min, max]`:
/// the sampler of sampling-based one-shot training (SPOS), so that the supernet trains the subnets
/// a budget admits, not all of them.
pub struct RangeFilter {
    costs: Costs,
    metric: String,
    min: f64,
    max: f64,
    patience: usize,
}

impl RangeFilter {
    /// Admits samples whose `metric`, priced by `costs`, is in `[min, max]`; a sample `costs`
    /// cannot price is rejected.
    pub fn new(
        costs: Costs,
        metric: impl Into<String>,
        min: f64,
        max: f64,
    ) -> Result<Self, StrategyError> {
        let metric = metric.into();
        if min.is_nan() || max.is_nan() || min > max {
            return Err(StrategyError::Config(format!(
                "the cost range [{min}, {max}] is empty"
            )));
        }
        if !costs.prices(&metric) {
            return Err(StrategyError::Config(format!(
                "the cost range bounds `{metric}`, which no profiler prices"
            )));
        }
        Ok(RangeFilter {
            costs,
            metric,
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

    /// The metric it bounds.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The bounds, `(min, max)`.
    pub fn bounds(&self) -> (f64, f64) {
        (self.min, self.max)
    }

    /// Whether `sample`'s cost is in the range.
    pub fn admits(&self, sample: &Sample) -> bool {
        self.costs
            .cost(sample, &self.metric)
            .is_ok_and(|cost| (self.min..=self.max).contains(&cost))
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
