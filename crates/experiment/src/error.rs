use std::path::PathBuf;

use hwnas_profiler::ProfileError;
use hwnas_space::SpaceError;
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
    /// The space named in the settings, or a sample, is not valid.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A profiler the settings ask for cannot be built (a latency table of another space or
    /// device, settings it cannot measure with).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The data set cannot be read or does not make a classification task.
    #[error(transparent)]
    Data(#[from] hwnas_data::DataError),
    /// The directory cannot be resumed, or already holds another experiment.
    #[error("{0}")]
    Resume(String),
    /// The experiment's settings are unusable.
    #[error("invalid experiment settings: {0}")]
    Config(String),
    /// A step of the run failed (testing a model, say), not because of what the user gave.
    #[error("{0}")]
    Failed(String),
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

    /// Whether the error is in what the user gave (settings, a file, a directory to resume)
    /// rather than a failure of the run itself (a disk that is full, a plot that cannot be
    /// drawn): the command line exits with 2 for the first and 1 for the second.
    pub fn is_input(&self) -> bool {
        match self {
            ExperimentError::Io { source, .. } => io_is_input(source),
            ExperimentError::Log { .. }
            | ExperimentError::Strategy(_)
            | ExperimentError::Space(_)
            | ExperimentError::Resume(_)
            | ExperimentError::Config(_) => true,
            ExperimentError::Profile(e) => e.is_input(),
            ExperimentError::Data(e) => e.is_input(),
            ExperimentError::Plot { .. } | ExperimentError::Failed(_) => false,
        }
    }
}

pub use hwnas_space::io_is_input;
