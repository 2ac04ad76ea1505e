use hwnas_profiler::Costs;
use hwnas_space::{Metrics, ModelSpace, Sample};
use hwnas_strategy::{Proposal, Status, Strategy, TrialResult};

use crate::experiment::judge;
use crate::{Evaluator, ExperimentError, SearchConfig, TrialContext};

/// A search run in memory ([`SearchConfig::in_memory`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryRun {
    /// The best objective value after each evaluated trial (NaN before the first success).
    pub curve: Vec<f64>,
    /// The best trial: its sample and metrics.
    pub best: Option<(Sample, Metrics)>,
}

impl SearchConfig {
    /// Runs the search in memory, without a directory, and returns the best objective value
    /// found after each evaluated trial: for evaluators that answer in microseconds (a tabular
    /// benchmark), where thousands of searches are compared over seeds. The chain is the one
    /// [`SearchConfig::strategy`] builds; a failed trial counts as a trial.
    pub fn best_so_far(
        &self,
        space: &ModelSpace,
        costs: &Costs,
        evaluator: &dyn Evaluator,
    ) -> Result<Vec<f64>, ExperimentError> {
        Ok(self.in_memory(space, costs, evaluator)?.curve)
    }

    /// [`best_so_far`](Self::best_so_far), with the best trial.
    pub fn in_memory(
        &self,
        space: &ModelSpace,
        costs: &Costs,
        evaluator: &dyn Evaluator,
    ) -> Result<InMemoryRun, ExperimentError> {
        self.validate()?;
        let mut strategy = self.strategy(space, costs)?;
        // Only the costs the strategy learns from (a multi-objective strategy trades accuracy
        // against one) and the cost a soft target's reward reads are priced: nothing else
        // reads them.
        let learned = costs
            .select(
                self.strategy
                    .objectives()
                    .iter()
                    .map(|objective| objective.metric.as_str())
                    .chain(self.target.iter().map(|target| target.metric.as_str()))
                    .filter(|metric| costs.prices(metric)),
            )
            .expect("only priced metrics are selected");
        let mut curve = Vec::with_capacity(self.trials);
        let mut best: Option<(f64, Sample, Metrics)> = None;
        while curve.len() < self.trials {
            let Some(proposal) = strategy.ask(space.search_space())? else {
                break;
            };
            let Proposal::Evaluate {
                sample,
                costs: mut metrics,
            } = proposal
            else {
                continue;
            };
            let id = curve.len() as u64;
            let context = TrialContext::standalone(id, self.seed ^ id);
            let _ = learned.complete(&sample, &mut metrics);
            let judged = evaluator
                .evaluate(&sample, &context)
                .map(|evaluated| judge(&metrics, evaluated, &self.objective, self.target.as_ref()));
            let result = match judged {
                Ok(Ok(metrics)) => TrialResult::ok(metrics),
                _ => TrialResult::failed(),
            };
            if result.status == Status::Ok
                && let Some(key) = self.objective.key(&result.metrics)
                && best.as_ref().is_none_or(|(b, _, _)| key > *b)
            {
                best = Some((key, sample.clone(), result.metrics.clone()));
            }
            strategy.tell(&sample, &result);
            let direction = self.objective.direction;
            curve.push(
                best.as_ref()
                    .map_or(f64::NAN, |(key, _, _)| direction.key(*key)),
            );
        }
        Ok(InMemoryRun {
            curve,
            best: best.map(|(_, sample, metrics)| (sample, metrics)),
        })
    }
}
