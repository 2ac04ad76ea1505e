//! Settings of the training evaluator: plain data, so that a search's settings file holds them
//! without burn.

use serde::{Deserialize, Serialize};

use crate::ExperimentError;

/// burn's optimizers the evaluator can train with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum (no dampening).
    Sgd {
        /// Momentum factor.
        momentum: f64,
    },
    /// Adam with burn's defaults.
    Adam,
}

/// Learning rate over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Cosine decay from the rate to zero over all steps.
    Cosine,
}

/// Settings of the training evaluator (`train::TrainingEvaluator`, feature `burn`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Share of each class held out for validation.
    pub validation_share: f64,
    /// Seed of the train/validation split (the same for every trial).
    pub split_seed: u64,
}

impl TrainingConfig {
    /// Refuses settings that cannot train: no epoch, an empty batch, a validation share outside
    /// `(0, 1)`.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(ExperimentError::Config(
                "epochs and batch size must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.validation_share) || self.validation_share == 0.0 {
            return Err(ExperimentError::Config(format!(
                "validation share {} must lie strictly between 0 and 1",
                self.validation_share
            )));
        }
        Ok(())
    }
}

impl Default for TrainingConfig {
    /// A few epochs of Adam with cosine decay: enough to rank small networks on the digits.
    fn default() -> Self {
        Self {
            epochs: 4,
            batch_size: 32,
            learning_rate: 0.01,
            optimizer: OptimizerKind::Adam,
            schedule: Schedule::Cosine,
            validation_share: 0.2,
            split_seed: 0,
        }
    }
}
