//! What a strategy may know about a candidate before any training is spent on it.

use std::fmt;

use hwnas_profiler::Costs;
use hwnas_space::{Sample, SearchSpace};
use rand::Rng;

use crate::StrategyError;

/// Draws a constraint-aware sampler makes before it calls the admissible region empty.
pub const MAX_ADMISSION_DRAWS: usize = 10_000;

/// A bound on one priced metric: admitted when `min <= value <= max`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The metric (`flops`, `params`, `latency_ms`, ...).
    pub metric: String,
    /// The smallest admitted value.
    pub min: Option<f64>,
    /// The largest admitted value.
    pub max: Option<f64>,
}

impl Bound {
    /// Whether `value` is within the bound.
    pub fn admits(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(min), Some(max)) => write!(f, "{min} <= {} <= {max}", self.metric),
            (Some(min), None) => write!(f, "{} >= {min}", self.metric),
            (None, Some(max)) => write!(f, "{} <= {max}", self.metric),
            (None, None) => write!(f, "any {}", self.metric),
        }
    }
}

/// What a strategy may know about a sample before it is trained, at no cost: the costs read from
/// tables (FLOPs, parameters, a latency table or a benchmark's device column) and, when the budget
/// bounds only such costs, whether it admits the sample.
///
/// A search gives it to its strategy ([`Strategy::guide`](crate::Strategy::guide)); a strategy
/// that has one proposes only admissible samples, so no trial is spent on a proposal the budget
/// would reject. A latency measured on a device is never in it: pricing it runs a network, so the
/// budget's filter judges it after the proposal. It never holds an accuracy.
///
/// ```
/// use hwnas_profiler::Costs;
/// use hwnas_space::{hub, metric};
/// use hwnas_strategy::{Bound, Guide};
///
/// let space = hub::space("nasbench201")?;
/// let costs = Costs::counts(&space)?;
/// let bound = Bound { metric: metric::FLOPS.into(), min: None, max: Some(100e6) };
/// let guide = Guide::new(&costs).with_bounds(vec![bound]);
/// assert!(guide.constrains());
/// let sample = space.search_space().default_sample()?;
/// assert_eq!(guide.admits(&sample), guide.cost(&sample, metric::FLOPS).unwrap() <= 100e6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Guide {
    costs: Costs,
    bounds: Vec<Bound>,
    /// The budget penalises samples outside it instead of filtering them: proposals are not
    /// restricted, and strategies rank by [`Guide::violation`].
    penalised: bool,
}

impl fmt::Debug for Guide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guide")
            .field("costs", &self.costs.metrics().collect::<Vec<_>>())
            .field("bounds", &self.bounds)
            .field("penalised", &self.penalised)
            .finish()
    }
}

impl Guide {
    /// The costs of `costs` (measured ones, once per network, only where a strategy asks for
    /// them: a prior on a zero-cost proxy), and no bound.
    pub fn new(costs: &Costs) -> Self {
        Guide {
            costs: costs.clone(),
            bounds: Vec::new(),
            penalised: false,
        }
    }

    /// The budget penalises samples outside it rather than filtering them (the strategy is told
    /// a penalty): proposals are not restricted to it, and a strategy that ranks samples outside
    /// it does so by their [`violation`](Guide::violation).
    pub fn penalised(mut self, penalised: bool) -> Self {
        self.penalised = penalised;
        self
    }

    /// How far `sample` is outside the bounds: the sum of each bound's excess relative to it
    /// (0 within every bound; infinite when a table cannot price it).
    pub fn violation(&self, sample: &Sample) -> f64 {
        let relative = |excess: f64, limit: f64| excess / limit.abs().max(f64::MIN_POSITIVE);
        self.bounds
            .iter()
            .map(|bound| match self.costs.cost(sample, &bound.metric) {
                Err(_) => f64::INFINITY,
                Ok(value) => {
                    let over = bound
                        .max
                        .map_or(0.0, |max| relative((value - max).max(0.0), max));
                    let under = bound
                        .min
                        .map_or(0.0, |min| relative((min - value).max(0.0), min));
                    over + under
                }
            })
            .sum()
    }

    /// Admits only samples within `bounds`, when every bound's metric comes from a table; a bound
    /// on a measured (or unpriced) metric leaves the guide without bounds, since asking it would
    /// run a network per candidate: the budget's filter judges such samples after the proposal.
    pub fn with_bounds(mut self, bounds: Vec<Bound>) -> Self {
        let free = |metric: &str| self.costs.prices(metric) && !self.costs.measures(metric);
        if bounds.iter().all(|bound| free(&bound.metric)) {
            self.bounds = bounds;
        }
        self
    }

    /// Whether it restricts proposals to the samples the budget admits: it can tell them apart,
    /// and the budget filters rather than penalises.
    pub fn constrains(&self) -> bool {
        !self.bounds.is_empty() && !self.penalised
    }

    /// The bounds, as the budget states them (`flops <= 300000000, latency_ms <= 12`).
    pub fn budget(&self) -> String {
        let bounds: Vec<String> = self.bounds.iter().map(ToString::to_string).collect();
        bounds.join(", ")
    }

    /// The costs it prices.
    pub fn costs(&self) -> &Costs {
        &self.costs
    }

    /// `sample`'s `metric`, when it is priced (a measured metric runs the sample's network the
    /// first time).
    pub fn cost(&self, sample: &Sample, metric: &str) -> Option<f64> {
        self.costs.cost(sample, metric).ok()
    }

    /// Whether the budget admits `sample` (always, without bounds or when it penalises); a
    /// sample the tables cannot price is not admitted.
    pub fn admits(&self, sample: &Sample) -> bool {
        !self.constrains()
            || self.bounds.iter().all(|bound| {
                self.costs
                    .cost(sample, &bound.metric)
                    .is_ok_and(|value| bound.admits(value))
            })
    }

    /// Whether the choice indices satisfy the space's constraints and the budget.
    pub fn admits_indices(&self, space: &SearchSpace, indices: &[usize]) -> bool {
        space.check_constraints(indices).is_ok() && self.within_bounds(space, indices)
    }

    /// Whether the budget admits the choice indices (always, without bounds or when it
    /// penalises), priced from the indices.
    fn within_bounds(&self, space: &SearchSpace, indices: &[usize]) -> bool {
        !self.constrains()
            || self.bounds.iter().all(|bound| {
                self.costs
                    .cost_indices(space, indices, &bound.metric)
                    .is_ok_and(|value| bound.admits(value))
            })
    }

    /// The `metric` of the sample at choice `indices` (constraints checked), when it is priced.
    pub fn cost_indices(
        &self,
        space: &SearchSpace,
        indices: &[usize],
        metric: &str,
    ) -> Option<f64> {
        self.costs.cost_indices(space, indices, metric).ok()
    }

    /// Uniformly random admissible choice indices for which `fresh` holds (a sample the strategy
    /// has not proposed yet; `fresh` is asked only of admissible ones), by rejection over at
    /// most [`MAX_ADMISSION_DRAWS`] draws. `Ok(None)`: admissible samples were drawn but none
    /// was fresh (what the budget leaves of the space is spent); an error when no draw was
    /// admissible at all.
    pub fn draw<R: Rng + ?Sized>(
        &self,
        space: &SearchSpace,
        rng: &mut R,
        mut fresh: impl FnMut(&[usize]) -> bool,
    ) -> Result<Option<Vec<usize>>, StrategyError> {
        let mut admissible = false;
        for _ in 0..MAX_ADMISSION_DRAWS {
            let indices = space.random_indices(rng)?;
            if self.within_bounds(space, &indices) {
                admissible = true;
                if fresh(&indices) {
                    return Ok(Some(indices));
                }
            }
        }
        if admissible {
            Ok(None)
        } else {
            Err(self.infeasible())
        }
    }

    /// What the space can reach on the bounded metrics, where the costs know their range: the
    /// bounds it lies beyond (`no network of the space has fewer than 436,554 flops`), or the
    /// range of each (`the space spans 1,000 to 9,000 flops`).
    fn reach(&self) -> String {
        let mut beyond = Vec::new();
        let mut spans = Vec::new();
        for bound in &self.bounds {
            let Some((least, most)) = self.costs.range(&bound.metric) else {
                continue;
            };
            let metric = &bound.metric;
            if bound.max.is_some_and(|max| least > max) {
                beyond.push(format!("fewer than {} {metric}", readable(least)));
            } else if bound.min.is_some_and(|min| most < min) {
                beyond.push(format!("more than {} {metric}", readable(most)));
            } else {
                spans.push(format!(
                    "{} to {} {metric}",
                    readable(least),
                    readable(most)
                ));
            }
        }
        if !beyond.is_empty() {
            format!("no network of the space has {}", beyond.join(", nor "))
        } else if !spans.is_empty() {
            format!(
                "together the bounds admit (almost) nothing, though the space spans {}",
                spans.join(" and ")
            )
        } else {
            "it admits (almost) nothing in this space".to_string()
        }
    }

    /// The error of a budget no sample tried meets.
    pub fn infeasible(&self) -> StrategyError {
        StrategyError::Infeasible {
            budget: self.budget(),
            draws: MAX_ADMISSION_DRAWS,
            reach: self.reach(),
        }
    }
}

/// `value` as people read it: whole numbers with thousands separators (`436,554`), others to
/// four decimals.
fn readable(value: f64) -> String {
    if value.fract() != 0.0 || value.abs() >= 1e15 {
        return format!("{}", (value * 1e4).round() / 1e4);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    format!(
        "{sign}{}",
        hwnas_space::metric::thousands(value.abs() as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwnas_profiler::from_fn;
    use hwnas_space::Choice;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn width_space() -> (SearchSpace, Costs) {
        let space = SearchSpace::new(vec![Choice::new("width", [1, 2, 3, 4])], vec![]).unwrap();
        let costs = Costs::new().with(
            "width",
            from_fn(|sample: &Sample| Ok(sample.get("width").unwrap().as_f64().unwrap())),
        );
        (space, costs)
    }

    fn max(metric: &str, limit: f64) -> Bound {
        Bound {
            metric: metric.into(),
            min: None,
            max: Some(limit),
        }
    }

    #[test]
    fn guide_draws_only_admissible_samples_and_says_when_none_is() {
        let (space, costs) = width_space();
        let guide = Guide::new(&costs).with_bounds(vec![max("width", 2.0)]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..50 {
            let indices = guide.draw(&space, &mut rng, |_| true).unwrap().unwrap();
            assert!(indices[0] <= 1);
        }
        assert!(guide.draw(&space, &mut rng, |_| false).unwrap().is_none());
        let empty = Guide::new(&costs).with_bounds(vec![max("width", 0.5)]);
        let error = empty.draw(&space, &mut rng, |_| true).unwrap_err();
        assert!(error.to_string().contains("width <= 0.5"), "{error}");
    }

    #[test]
    fn guide_leaves_a_bound_on_an_unpriced_metric_to_the_filter() {
        let (_, costs) = width_space();
        assert!(
            !Guide::new(&costs)
                .with_bounds(vec![max("latency_ms", 1.0)])
                .constrains()
        );
        assert!(
            Guide::new(&costs)
                .with_bounds(vec![max("width", 1.0)])
                .constrains()
        );
    }

    /// A metric that runs something per sample, counting how often it is asked.
    struct Measured(std::sync::atomic::AtomicUsize);

    impl hwnas_profiler::Profiler for Measured {
        fn profile(&self, sample: &Sample) -> Result<f64, hwnas_profiler::ProfileError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(10.0 * sample.get("width").unwrap().as_f64().unwrap())
        }

        fn measures(&self) -> bool {
            true
        }
    }

    #[test]
    fn guide_prices_a_measured_metric_once_but_never_bounds_proposals_by_it() {
        let (space, costs) = width_space();
        let measured = std::sync::Arc::new(Measured(Default::default()));
        let costs = costs.with("score", measured.clone());
        let guide = Guide::new(&costs).with_bounds(vec![max("score", 15.0)]);
        // Bounding by it would run a network per candidate: the filter judges after proposals.
        assert!(!guide.constrains());
        let sample = space.sample_at(&[2]);
        assert_eq!(guide.cost(&sample, "score"), Some(30.0));
        assert_eq!(guide.cost(&sample, "score"), Some(30.0));
        assert_eq!(measured.0.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
