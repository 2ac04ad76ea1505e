use std::collections::BTreeMap;

use hwnas_strategy::{Decision, Direction, Strategy, StrategyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;

/// Stops a trial whose intermediate metric at a step is worse than the median of what earlier
/// trials reported at the same step (Golovin et al. 2017, the median stopping rule).
///
/// The decision reaches the evaluator, which ends training and reports its last metric: the run
/// really stops, which the reference toolkit's version cannot do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MedianStop {
    direction: Direction,
    min_trials: usize,
    warmup_steps: usize,
    by_step: BTreeMap<usize, Vec<f64>>,
    stopped: u64,
}

impl MedianStop {
    /// The rule for a metric that improves in `direction`, once 3 trials reported a step.
    pub fn new(direction: Direction) -> Self {
        Self {
            direction,
            min_trials: 3,
            warmup_steps: 0,
            by_step: BTreeMap::new(),
            stopped: 0,
        }
    }

    /// Earlier reports needed at a step before it can stop anything.
    pub fn with_min_trials(mut self, min_trials: usize) -> Self {
        self.min_trials = min_trials.max(1);
        self
    }

    /// Steps before which no trial is stopped.
    pub fn with_warmup_steps(mut self, warmup_steps: usize) -> Self {
        self.warmup_steps = warmup_steps;
        self
    }

    /// Trials stopped so far.
    pub fn stopped(&self) -> u64 {
        self.stopped
    }

    fn decide(&self, step: usize, value: f64) -> Decision {
        let Some(earlier) = self.by_step.get(&step) else {
            return Decision::Continue;
        };
        if step < self.warmup_steps || earlier.len() < self.min_trials {
            return Decision::Continue;
        }
        let mut sorted = earlier.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 0 {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        if self.direction.better(median, value) {
            Decision::Stop
        } else {
            Decision::Continue
        }
    }
}

impl Middleware for MedianStop {
    fn intermediate(
        &mut self,
        inner: &mut dyn Strategy,
        trial_id: u64,
        step: usize,
        value: f64,
    ) -> Decision {
        let own = self.decide(step, value);
        self.by_step.entry(step).or_default().push(value);
        let below = inner.intermediate(trial_id, step, value);
        if own == Decision::Stop || below == Decision::Stop {
            self.stopped += u64::from(own == Decision::Stop);
            Decision::Stop
        } else {
            Decision::Continue
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
