use std::collections::{HashMap, VecDeque};

use hwnas_space::{Sample, SearchSpace};
use hwnas_strategy::{Metrics, Proposal, Status, Strategy, StrategyError, TrialResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;

/// Evaluates every sample `repeats` times and tells the strategy the mean of each metric, for
/// metrics too noisy to trust once (a short training run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultipleEvaluation {
    repeats: usize,
    queue: VecDeque<Sample>,
    collected: HashMap<u64, Vec<TrialResult>>,
}

impl MultipleEvaluation {
    /// Each sample is evaluated `repeats` times (at least once).
    pub fn new(repeats: usize) -> Self {
        Self {
            repeats: repeats.max(1),
            queue: VecDeque::new(),
            collected: HashMap::new(),
        }
    }
}

/// The mean of every metric present in all successful results; failed when none succeeded.
fn mean_result(results: &[TrialResult]) -> TrialResult {
    let ok: Vec<&TrialResult> = results.iter().filter(|r| r.status == Status::Ok).collect();
    let Some(first) = ok.first() else {
        return results.last().cloned().unwrap_or_else(TrialResult::failed);
    };
    let mut metrics = Metrics::new();
    for name in first.metrics.keys() {
        let values: Option<Vec<f64>> = ok.iter().map(|r| r.metrics.get(name).copied()).collect();
        if let Some(values) = values {
            metrics.insert(
                name.clone(),
                values.iter().sum::<f64>() / values.len() as f64,
            );
        }
    }
    TrialResult::ok(metrics)
}

impl Middleware for MultipleEvaluation {
    fn ask(
        &mut self,
        inner: &mut dyn Strategy,
        space: &SearchSpace,
    ) -> Result<Option<Proposal>, StrategyError> {
        if let Some(sample) = self.queue.pop_front() {
            return Ok(Some(Proposal::evaluate(sample)));
        }
        let proposal = inner.ask(space)?;
        if let Some(Proposal::Evaluate { sample, .. }) = &proposal {
            self.queue
                .extend(std::iter::repeat_n(sample.clone(), self.repeats - 1));
        }
        Ok(proposal)
    }

    fn tell(&mut self, inner: &mut dyn Strategy, sample: &Sample, result: &TrialResult) {
        let hash = sample.stable_hash();
        let results = self.collected.entry(hash).or_default();
        results.push(result.clone());
        if results.len() >= self.repeats {
            let results = self.collected.remove(&hash).expect("collected above");
            inner.tell(sample, &mean_result(&results));
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
