use hwnas_profiler::Costs;
use hwnas_space::{Metrics, SearchSpace};
use hwnas_strategy::{Proposal, Reason, Status, Strategy, StrategyError, TrialResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;

/// What becomes of a sample the filter rejects.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterMode {
    /// The strategy is told the sample was invalid, with no metric to learn from.
    Discard,
    /// The strategy is told these metrics (`metric_for_invalid`), so it learns to avoid the
    /// region.
    Penalise(Metrics),
}

/// Keeps only the samples whose costs a predicate accepts (a FLOPs, parameter or latency
/// budget), before any training is spent on them.
///
/// The filter prices each proposal through its [`Costs`]; the priced metrics travel on with the
/// proposal into the trial's record. A sample the costs cannot price is settled as
/// [`Reason::Unpriced`], told like a rejection, and the search goes on.
pub struct Filter {
    costs: Costs,
    admits: Box<dyn Fn(&Metrics) -> bool + Send>,
    mode: FilterMode,
    patience: usize,
    counts: FilterCounts,
}

/// The tally of a [`Filter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCounts {
    /// Samples let through.
    pub accepted: u64,
    /// Samples rejected (over budget or unpriced).
    pub rejected: u64,
    /// Of the rejected, those that could not be priced.
    #[serde(default)]
    pub unpriced: u64,
    /// Rejections since the last acceptance.
    pub consecutive: usize,
}

/// Consecutive rejections after which a filter gives up, as in the reference toolkit.
pub const DEFAULT_PATIENCE: usize = 1000;

impl Filter {
    /// A discarding filter that passes the samples whose costs `admits` accepts.
    pub fn new(costs: Costs, admits: impl Fn(&Metrics) -> bool + Send + 'static) -> Self {
        Self {
            costs,
            admits: Box::new(admits),
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
        let (sample, mut costs) = match inner.ask(space)? {
            Some(Proposal::Evaluate { sample, costs }) => (sample, costs),
            other => return Ok(other),
        };
        let reason = match self.costs.complete(&sample, &mut costs) {
            Ok(()) if (self.admits)(&costs) => {
                self.counts.accepted += 1;
                self.counts.consecutive = 0;
                return Ok(Some(Proposal::Evaluate { sample, costs }));
            }
            Ok(()) => Reason::OverBudget,
            Err(error) => {
                self.counts.unpriced += 1;
                Reason::Unpriced(error.to_string())
            }
        };
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
            reason,
            costs,
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
