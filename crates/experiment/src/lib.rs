//! Experiments: a strategy, an evaluator and a budget, run to the end or to a crash and resumed.
//!
//! An [`Experiment`] asks its strategy (usually a middleware [`Chain`](hwnas_middleware::Chain)
//! that filters on a hardware budget), profiles the costs of every proposal, evaluates the
//! survivors in parallel, tells the strategy, and appends every trial to `DIR/trials.jsonl` as it
//! ends. The directory is the state: `resume` continues from it without losing or repeating a
//! finished trial, and a failing evaluator fails its trial, not the run. [`Report`] reads a
//! directory back into top-k tables, Pareto fronts and plots.
//!
//! The core is burn-free. With the `burn` feature, [`train`] adds the training evaluator on burn
//! autodiff and the embedded data it trains on.
//!
//! ```
//! use hwnas_experiment::{Experiment, ExperimentConfig, Report, TrialContext, EvaluationError};
//! use hwnas_space::{Choice, Sample, SearchSpace};
//! use hwnas_strategy::{Metrics, Random};
//!
//! let space = SearchSpace::new(vec![Choice::new("width", [8, 16, 32, 64])], vec![])?;
//! let evaluate = |sample: &Sample, _: &TrialContext| -> Result<Metrics, EvaluationError> {
//!     let width = sample.get("width").and_then(|v| v.as_f64()).ok_or("no width")?;
//!     Ok(Metrics::from([("accuracy".to_string(), width.ln())]))
//! };
//! let dir = std::env::temp_dir().join(format!("hwnas-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let config = ExperimentConfig { max_trials: 10, ..Default::default() };
//! let summary = Experiment::new(&dir, space, Random::new(1), &evaluate, config).run()?;
//! assert_eq!(summary.progress.evaluated, 4); // the space is exhausted after 4 trials
//! assert_eq!(Report::load(&dir)?.records.len(), 4);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod benchmark;
mod curves;
mod error;
mod evaluator;
mod executor;
mod experiment;
mod in_memory;
mod plot;
mod record;
mod report;
mod search;
mod slurm;
mod stop;
mod study;
#[cfg(feature = "burn")]
pub mod train;
mod training;

pub use benchmark::BenchmarkEvaluator;
pub use curves::{Curve, Front, plot_curves, plot_fronts};
pub use error::{ExperimentError, io_is_input};
pub use evaluator::{EvaluationError, Evaluator, TrialContext};
pub use executor::{
    AbortSearch, ExecutorConfig, ProcessConfig, ProcessEvaluator, TRIALS_DIR, TrialFiles,
    TrialOutcome, TrialSpec,
};
pub(crate) use experiment::STATE_FILE;
pub use experiment::{BEST_FILE, Experiment, ExperimentConfig, Progress, StopReason, Summary};
pub use hwnas_benchmark::stats::{Welch, mean_std, welch_t_test};
pub use in_memory::InMemoryRun;
pub use plot::{PLOT_SIZE, plot_tradeoff};
pub use record::{TrialRecord, read_log};
pub use report::Report;
pub use search::{EvaluatorConfig, LatencySource, SEARCH_SETTINGS, SearchConfig};
pub use slurm::{SlurmConfig, SlurmEvaluator};
pub use stop::Stop;
pub use study::{FittedBudget, fitted_budget_study, run_study};
pub use training::{DataConfig, OptimizerKind, Schedule, TrainingConfig};

/// The trial log inside an experiment directory: one JSON object per line.
pub const LOG_FILE: &str = "trials.jsonl";
