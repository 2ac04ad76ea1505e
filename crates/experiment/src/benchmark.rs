use hwnas_benchmark::{Dataset, NasBench201};
use hwnas_space::{Metrics, Sample, metric};

use crate::{EvaluationError, Evaluator, TrialContext};

/// Answers a trial from NAS-Bench-201's table instead of training: the cell's published test
/// accuracy on one dataset, as a share (`accuracy`, like the training evaluator), in a
/// microsecond. Every strategy, middleware and experiment feature works on it unchanged.
///
/// ```
/// use hwnas_benchmark::Dataset;
/// use hwnas_experiment::{BenchmarkEvaluator, Evaluator, TrialContext};
/// use hwnas_space::{hub, metric};
///
/// let space = hub::space("nasbench201")?;
/// let sample = space.search_space().default_sample()?;
/// let evaluator = BenchmarkEvaluator::new(Dataset::Cifar10);
/// let metrics = evaluator.evaluate(&sample, &TrialContext::standalone(0, 0))?;
/// assert!((0.0..=1.0).contains(&metrics[metric::ACCURACY]));
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BenchmarkEvaluator {
    dataset: Dataset,
}

impl BenchmarkEvaluator {
    /// Accuracies of `dataset`.
    pub fn new(dataset: Dataset) -> Self {
        BenchmarkEvaluator { dataset }
    }
}

impl Evaluator for BenchmarkEvaluator {
    fn evaluate(&self, sample: &Sample, _: &TrialContext<'_>) -> Result<Metrics, EvaluationError> {
        let bench = NasBench201::get();
        let index = bench.index(sample)?;
        let accuracy = bench.accuracy(index, self.dataset) / 100.0;
        Ok(Metrics::from([(metric::ACCURACY.to_string(), accuracy)]))
    }
}
