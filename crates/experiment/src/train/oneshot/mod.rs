//! One-shot search written as an experiment directory: settings, the run in steps, its errors.

mod error;
mod run;
mod settings;

pub use error::OneShotRunError;
pub use run::OneShotRun;
pub use settings::{
    ARCHITECTURE_WEIGHTS, EpochRecord, ONESHOT_SETTINGS, OneShotRunConfig, OneShotSummary,
    SUPERNET_LOG, SUPERNET_WEIGHTS,
};
