use hwnas_space::{Sample, SearchSpace};
use hwnas_strategy::{Metrics, Proposal, Status, Strategy, StrategyError, TrialResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;

/// The `reason` of a trial that [`Filter`] rejected.
pub const FILTER_REASON: &str = "filter";

/// What becomes of a sample the predicate rejects.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterMode {
    /// The strategy is told the sample was invalid, with no metric to learn from.
    Discard,
    /// The strategy is told these metrics (`metric_for_invalid`), so it learns to avoid the
    /// region.
    Penalise(Metrics),
}

/// Keeps only the samples a predicate accepts (a FLOPs, parameter or latency budget), before any
/// training is spent on them.
pub struct Filter {
    predicate: Box<dyn Fn(&Sample) -> bool + Send>,
    mode: FilterMode,
    patience: usize,
    counts: FilterCounts,
}

/// The tally of a [`Filter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCounts {
    /// Samples let through.
    pub accepted: u64,
    /// Samples rejected.
    pub rejected: u64,
    /// Rejections since the last acceptance.
    pub consecutive: usize,
}

/// Consecutive rejections after which a filter gives up, as in the reference toolkit.
pub const DEFAULT_PATIENCE: usize = 1000;

impl Filter {
    /// A discarding filter that passes the samples for which `predicate` is true.
    pub fn new(predicate: impl Fn(&Sample) -> bool + Send + 'static) -> Self {
        Self {
            predicate: Box::new(predicate),
            mode: FilterMode::Discard,
            patience: DEFAULT_PATIENCE,
            counts: FilterCounts::default(),
        }
    }

    /// Tells the strategy `metric_for_invalid` for rejected samples instead of discarding them.
    pub fn penalise(mut self, metric_for_invalid: Metrics) -> Self {
        self.mode = FilterMode::Penalise(metric_for_invalid);
        self
    }

    /// Consecutive rejections after which the search stops with [`StrategyError::Patience`].
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience.max(1);
        self
    }

    /// Accepted and rejected samples so far.
    pub fn counts(&self) -> FilterCounts {
        self.counts
    }
}

impl Middleware for Filter {
    fn ask(
        &mut self,
        inner: &mut dyn Strategy,
        space: &SearchSpace,
    ) -> Result<Option<Proposal>, StrategyError> {
        let sample = match inner.ask(space)? {
            Some(Proposal::Evaluate(sample)) => sample,
            other => return Ok(other),
        };
        if (self.predicate)(&sample) {
            self.counts.accepted += 1;
            self.counts.consecutive = 0;
            return Ok(Some(Proposal::Evaluate(sample)));
        }
        self.counts.rejected += 1;
        self.counts.consecutive += 1;
        let result = match &self.mode {
            FilterMode::Discard => TrialResult::invalid(),
            FilterMode::Penalise(metrics) => TrialResult {
                status: Status::Invalid,
                metrics: metrics.clone(),
            },
        };
        inner.tell(&sample, &result);
        if self.counts.consecutive >= self.patience {
            return Err(StrategyError::Patience {
                middleware: "the filter",
                rejected: self.counts.consecutive,
            });
        }
        Ok(Some(Proposal::Resolved {
            sample,
            result,
            reason: FILTER_REASON.into(),
        }))
    }

    fn save(&self) -> Result<Value, StrategyError> {
        serde_json::to_value(self.counts).map_err(StrategyError::state)
    }

    fn restore(&mut self, state: Value) -> Result<(), StrategyError> {
        self.counts = serde_json::from_value(state).map_err(StrategyError::state)?;
        Ok(())
    }
}
