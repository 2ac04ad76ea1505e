use std::collections::{HashMap, VecDeque};

use hwnas_space::{Sample, SearchSpace};
use hwnas_strategy::{Metrics, Proposal, Status, Strategy, StrategyError, TrialResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;

/// What to do with a failed trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Tell the strategy these metrics, so it learns to avoid the sample.
    Report(Metrics),
    /// Evaluate the sample again, up to this many more times, before telling the failure.
    Retry(usize),
}

/// Turns failed trials into something a strategy can use: a reported metric, or retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureHandler {
    policy: FailurePolicy,
    retries: HashMap<u64, usize>,
    queue: VecDeque<Sample>,
}

impl FailureHandler {
    /// Failed trials are told `metrics`.
    pub fn report(metrics: Metrics) -> Self {
        Self::new(FailurePolicy::Report(metrics))
    }

    /// Failed trials are evaluated again up to `times` more times.
    pub fn retry(times: usize) -> Self {
        Self::new(FailurePolicy::Retry(times))
    }

    fn new(policy: FailurePolicy) -> Self {
        Self {
            policy,
            retries: HashMap::new(),
            queue: VecDeque::new(),
        }
    }
}

impl Middleware for FailureHandler {
    fn ask(
        &mut self,
        inner: &mut dyn Strategy,
        space: &SearchSpace,
    ) -> Result<Option<Proposal>, StrategyError> {
        match self.queue.pop_front() {
            Some(sample) => Ok(Some(Proposal::evaluate(sample))),
            None => inner.ask(space),
        }
    }

    fn tell(&mut self, inner: &mut dyn Strategy, sample: &Sample, result: &TrialResult) {
        if result.status != Status::Failed {
            return inner.tell(sample, result);
        }
        match &self.policy {
            FailurePolicy::Report(metrics) => {
                let mut reported = result.clone();
                reported
                    .metrics
                    .extend(metrics.iter().map(|(k, v)| (k.clone(), *v)));
                inner.tell(sample, &reported)
            }
            FailurePolicy::Retry(times) => {
                let used = self.retries.entry(sample.stable_hash()).or_default();
                if *used < *times {
                    *used += 1;
                    self.queue.push_back(sample.clone());
                } else {
                    inner.tell(sample, result)
                }
            }
        }
    }

    fn save(&self) -> Result<Value, StrategyError> {
        serde_json::to_value(self).map_err(StrategyError::state)
    }

    fn restore(&mut self, state: Value) -> Result<(), StrategyError> {
        *self = serde_json::from_value(state).map_err(StrategyError::state)?;
        Ok(())
    }
}
