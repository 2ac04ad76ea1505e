use std::collections::BTreeMap;

use hwnas_profiler::Costs;
use hwnas_space::Metrics;
use hwnas_strategy::{Bound, Guide, StrategyError};
use serde::{Deserialize, Serialize};

use crate::filter::{DEFAULT_PATIENCE, Filter};

/// A hardware budget: an upper bound per metric (`flops`, `params`, `latency_ms`, ...), what the
/// strategy learns from a sample outside it, and how long to go on when nothing fits.
///
/// It is data (part of a search's settings); [`Budget::filter`] turns it into the middleware
/// that enforces it, pricing only the metrics it bounds.
///
/// ```
/// use hwnas_middleware::Budget;
/// use hwnas_space::{Metrics, metric};
///
/// let budget = Budget::new().max(metric::FLOPS, 300e6).max(metric::PARAMS, 4.5e6);
/// let small = Metrics::from([(metric::FLOPS.into(), 200e6), (metric::PARAMS.into(), 3e6)]);
/// let wide = Metrics::from([(metric::FLOPS.into(), 200e6), (metric::PARAMS.into(), 5e6)]);
/// assert!(budget.admits(&small) && !budget.admits(&wide));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The largest admitted value of each metric.
    pub max: BTreeMap<String, f64>,
    /// The smallest admitted value of each metric (a cost range, as one-shot searches use).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min: BTreeMap<String, f64>,
    /// What the strategy is told for a sample outside the budget (an accuracy of 0, say);
    /// `None`: it is told the sample was invalid, with nothing to learn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalise: Option<Metrics>,
    /// Consecutive rejections after which the search stops.
    pub patience: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max: BTreeMap::new(),
            min: BTreeMap::new(),
            penalise: None,
            patience: DEFAULT_PATIENCE,
        }
    }
}

impl Budget {
    /// No bound yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds `metric` by `limit`.
    pub fn max(mut self, metric: impl Into<String>, limit: f64) -> Self {
        self.max.insert(metric.into(), limit);
        self
    }

    /// Admits only samples whose `metric` is at least `limit`.
    pub fn min(mut self, metric: impl Into<String>, limit: f64) -> Self {
        self.min.insert(metric.into(), limit);
        self
    }

    /// Tells the strategy `metrics` for samples outside the budget.
    pub fn penalise(mut self, metrics: Metrics) -> Self {
        self.penalise = Some(metrics);
        self
    }

    /// Consecutive rejections after which the search stops.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether it bounds nothing.
    pub fn is_unbounded(&self) -> bool {
        self.max.is_empty() && self.min.is_empty()
    }

    /// The metrics it bounds, each once.
    pub fn metrics(&self) -> impl Iterator<Item = &str> {
        let bounded: std::collections::BTreeSet<&str> = self
            .max
            .keys()
            .chain(self.min.keys())
            .map(String::as_str)
            .collect();
        bounded.into_iter()
    }

    /// Whether `metrics` hold every bounded metric, each within its bounds.
    pub fn admits(&self, metrics: &Metrics) -> bool {
        let value = |metric: &String| metrics.get(metric).copied();
        self.max
            .iter()
            .all(|(metric, limit)| value(metric).is_some_and(|value| value <= *limit))
            && self
                .min
                .iter()
                .all(|(metric, limit)| value(metric).is_some_and(|value| value >= *limit))
    }

    /// Its bounds, one per bounded metric.
    pub fn bounds(&self) -> Vec<Bound> {
        self.metrics()
            .map(|metric| Bound {
                metric: metric.to_string(),
                min: self.min.get(metric).copied(),
                max: self.max.get(metric).copied(),
            })
            .collect()
    }

    /// What a strategy may know before proposing: the costs of `costs` read from tables and,
    /// when every bounded metric is one of them, the bounds, so that it proposes only admissible
    /// samples (or, when the budget penalises, ranks those outside it by how far). A bound on a
    /// measured latency is left to the filter.
    pub fn guide(&self, costs: &Costs) -> Guide {
        Guide::new(costs)
            .with_bounds(self.bounds())
            .penalised(self.penalise.is_some())
    }

    /// The middleware that enforces the budget, pricing the bounded metrics through `costs`.
    /// Every bound must be a positive number of a metric `costs` prices.
    pub fn filter(&self, costs: &Costs) -> Result<Filter, StrategyError> {
        for (metric, limit) in &self.max {
            if limit.is_nan() || *limit <= 0.0 {
                return Err(StrategyError::Config(format!(
                    "the budget on `{metric}` must be a positive number, not {limit}"
                )));
            }
        }
        for (metric, limit) in &self.min {
            if limit.is_nan() || self.max.get(metric).is_some_and(|max| max < limit) {
                return Err(StrategyError::Config(format!(
                    "the budget's range of `{metric}` is empty"
                )));
            }
        }
        let costs = costs
            .select(self.metrics())
            .map_err(|e| StrategyError::Config(format!("budget: {e}")))?;
        let budget = self.clone();
        let filter =
            Filter::new(costs, move |metrics| budget.admits(metrics)).with_patience(self.patience);
        Ok(match &self.penalise {
            Some(metrics) => filter.penalise(metrics.clone()),
            None => filter,
        })
    }
}
