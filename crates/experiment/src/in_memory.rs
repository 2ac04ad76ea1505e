use hwnas_profiler::Costs;
use hwnas_space::ModelSpace;
use hwnas_strategy::{Proposal, Status, Strategy, TrialResult};

use crate::{Evaluator, ExperimentError, SearchConfig, TrialContext};

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
        self.validate()?;
        let mut strategy = self.strategy(space, costs)?;
        // Only the costs the strategy learns from (a multi-objective strategy trades accuracy
        // against one) are priced: nothing else reads them.
        let learned = costs
            .select(
                self.strategy
                    .objectives()
                    .iter()
                    .map(|objective| objective.metric.as_str())
                    .filter(|metric| costs.prices(metric)),
            )
            .expect("only priced metrics are selected");
        let mut curve = Vec::with_capacity(self.trials);
        let mut best: Option<f64> = None;
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
            let result = match evaluator.evaluate(&sample, &context) {
                Ok(evaluated) if self.objective.value(&evaluated).is_some() => {
                    metrics.extend(evaluated);
                    let _ = learned.complete(&sample, &mut metrics);
                    TrialResult::ok(metrics)
                }
                _ => TrialResult::failed(),
            };
            if result.status == Status::Ok {
                let key = self.objective.key(&result.metrics);
                if key > best.map(|b| self.objective.direction.key(b)) {
                    best = self.objective.value(&result.metrics);
                }
            }
            strategy.tell(&sample, &result);
            curve.push(best.unwrap_or(f64::NAN));
        }
        Ok(curve)
    }
}
