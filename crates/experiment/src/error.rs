use std::path::PathBuf;

use hwnas_profiler::ProfileError;
use hwnas_strategy::StrategyError;

/// Why an experiment could not run, resume or report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of a trial log is not a trial record.
    #[error("{}:{line}: not a trial record: {message}", path.display())]
    Log {
        /// The log.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The strategy (or a middleware) failed.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// A cost profiler failed on a sample the strategy proposed.
    #[error("cost `{metric}`: {source}")]
    Profile {
        /// The metric.
        metric: String,
        /// The cause.
        source: ProfileError,
    },
    /// The directory cannot be resumed, or already holds another experiment.
    #[error("{0}")]
    Resume(String),
    /// The experiment's settings are unusable.
    #[error("invalid experiment settings: {0}")]
    Config(String),
    /// A plot could not be drawn.
    #[error("plot {}: {message}", path.display())]
    Plot {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ExperimentError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ExperimentError::Io { path, source }
    }
}
