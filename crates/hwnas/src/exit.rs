//! Exit codes: 2 when the user's input is wrong, 1 when the run failed otherwise.

use std::fmt;
use std::process::ExitCode;

use hwnas_experiment::ExperimentError;
use hwnas_experiment::train::{OneShotRunError, TrainRunError};
use hwnas_profiler::{CostError, ProfileError};
use hwnas_space::SpaceError;
use hwnas_strategy::StrategyError;

/// A flag, a file or a combination of settings the command cannot take.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// A run that stopped on Ctrl-C or SIGTERM, and how to go on with it.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted; go on with `{}`", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The exit code of a run stopped by a signal (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Returns early with an [`InputError`].
macro_rules! bail_input {
    ($($message:tt)*) => {
        return Err(anyhow::Error::new($crate::exit::InputError(format!($($message)*))))
    };
}
pub(crate) use bail_input;

/// The error and its causes on one line, each cause once: an error whose message already
/// quotes its cause (`cannot write m.onnx: entity not found`) does not repeat it.
pub fn message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

/// What a failed command exits with: the first cause whose kind is known decides.
pub fn code(error: &anyhow::Error) -> ExitCode {
    let interrupted = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<Interrupted>()
            || cause
                .downcast_ref::<OneShotRunError>()
                .is_some_and(|e| matches!(e, OneShotRunError::Interrupted))
            || cause
                .downcast_ref::<TrainRunError>()
                .is_some_and(|e| matches!(e, TrainRunError::Interrupted))
    };
    if error.chain().any(interrupted) {
        return ExitCode::from(INTERRUPTED);
    }
    let input = error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<ExperimentError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<OneShotRunError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<TrainRunError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<hwnas_data::DataError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<ProfileError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<hwnas_onnx::OnnxError>() {
            Some(e.is_input())
        } else if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            Some(hwnas_experiment::io_is_input(e))
        } else {
            let is = |kind: bool| kind.then_some(true);
            is(cause.is::<InputError>()
                || cause.is::<SpaceError>()
                || cause.is::<hwnas_benchmark::BenchmarkError>()
                || cause.is::<CostError>()
                || cause.is::<StrategyError>()
                || cause.is::<serde_json::Error>())
        }
    });
    match input {
        Some(true) => ExitCode::from(2),
        // Not the input, or nothing known: a failure of the run.
        _ => ExitCode::FAILURE,
    }
}
