use hwnas_profiler::CostError;
use hwnas_strategy::oneshot::OneShotError;

use crate::{EvaluationError, ExperimentError};

/// Why a one-shot run could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OneShotRunError {
    /// Settings, the directory, the search over subnets, or a file.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// The trainer refused its settings or weights, or a step failed.
    #[error(transparent)]
    Trainer(#[from] OneShotError),
    /// The chosen subnet could not be priced.
    #[error("cannot price the choice: {0}")]
    Unpriced(#[from] CostError),
    /// A [`Stop`](crate::Stop) was requested; the directory holds the epochs (and SPOS trials)
    /// finished before it, and resuming goes on from there.
    #[error("stopped on request before the run ended")]
    Interrupted,
    /// Reading a batch, evaluating or fine-tuning a subnet failed.
    #[error("{what}: {source}")]
    Evaluation {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: EvaluationError,
    },
}

impl OneShotRunError {
    pub(crate) fn evaluation(what: &'static str) -> impl FnOnce(EvaluationError) -> Self {
        move |source| OneShotRunError::Evaluation { what, source }
    }

    /// Whether the error is in what the user gave (settings, a directory, weights of another
    /// space) rather than a failure of the run (a disk that is full, a step that fails).
    pub fn is_input(&self) -> bool {
        match self {
            OneShotRunError::Experiment(e) => e.is_input(),
            OneShotRunError::Trainer(e) => e.is_input(),
            OneShotRunError::Unpriced(_) => true,
            OneShotRunError::Interrupted | OneShotRunError::Evaluation { .. } => false,
        }
    }
}
