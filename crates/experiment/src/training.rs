//! Settings of training and of the data it reads: plain data, so that a search's settings file
//! holds them without burn.

use std::path::PathBuf;

use hwnas_data::Format;
use serde::{Deserialize, Serialize};

use crate::ExperimentError;

/// burn's optimizers a training can use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum (no dampening); weight decay as L2.
    Sgd {
        /// Momentum factor.
        momentum: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
    },
    /// Adam with burn's defaults; weight decay as L2.
    Adam,
    /// AdamW: Adam with decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW,
}

/// Learning rate over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Cosine decay from the rate to zero over all steps after the warm-up.
    Cosine,
}

/// Where the images come from and how they are split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    /// An image folder, CIFAR batches or IDX files; `None`: the embedded 8x8 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The format of `path`; `None`: detected from what it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Share of each class held out for validation, where the data brings no validation split.
    pub val_fraction: f64,
    /// Share of each class held out for test, where the data brings no test split.
    pub test_fraction: f64,
    /// Seed of the split (the same for every trial).
    pub split_seed: u64,
    /// Random crop (zero padding of an eighth of the side) and horizontal flip of the training
    /// images, seeded per epoch.
    #[serde(default)]
    pub augment: bool,
}

impl Default for DataConfig {
    /// The embedded digits: 60 % train, 20 % validation, 20 % test, no augmentation.
    fn default() -> Self {
        DataConfig {
            path: None,
            format: None,
            val_fraction: 0.2,
            test_fraction: 0.2,
            split_seed: 0,
            augment: false,
        }
    }
}

impl DataConfig {
    /// Refuses split fractions that leave a split or the training images empty.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let fraction = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 && value < 1.0 {
                Ok(())
            } else {
                Err(ExperimentError::Config(format!(
                    "the {name} fraction must lie strictly between 0 and 1, not {value}"
                )))
            }
        };
        fraction("validation", self.val_fraction)?;
        fraction("test", self.test_fraction)?;
        if self.val_fraction + self.test_fraction >= 1.0 {
            return Err(ExperimentError::Config(format!(
                "validation and test fractions {} and {} leave no training image",
                self.val_fraction, self.test_fraction
            )));
        }
        Ok(())
    }
}

/// Settings of a training: the trials of a search train with them, and so does the final
/// training of a chosen architecture (`hwnas train`).
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
    /// Epochs over which the rate rises linearly from zero to its peak first.
    #[serde(default)]
    pub warmup_epochs: usize,
    /// Weight decay (L2 for SGD and Adam, decoupled for AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Label smoothing of the cross-entropy loss, in `[0, 1)`.
    #[serde(default)]
    pub label_smoothing: f64,
    /// The data and its split.
    #[serde(default)]
    pub data: DataConfig,
}

impl TrainingConfig {
    /// Refuses settings that cannot train, naming the setting.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let invalid = |message: String| Err(ExperimentError::Config(message));
        if self.epochs == 0 || self.batch_size == 0 {
            return invalid("epochs and batch size must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return invalid(format!(
                "the learning rate must be a number of at least 0, not {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return invalid(format!(
                "weight decay must be a number of at least 0, not {}",
                self.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return invalid(format!(
                "label smoothing must lie in [0, 1), not {}",
                self.label_smoothing
            ));
        }
        if let OptimizerKind::Sgd { momentum, .. } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return invalid(format!("momentum must lie in [0, 1), not {momentum}"));
        }
        if self.warmup_epochs > self.epochs {
            return invalid(format!(
                "{} warm-up epochs in a training of {}",
                self.warmup_epochs, self.epochs
            ));
        }
        self.data.validate()
    }

    /// The learning rate of step `step` (from 0) of `steps_per_epoch * epochs`: a linear
    /// warm-up, then the schedule over the steps left.
    pub fn learning_rate_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let warmup = self.warmup_epochs * steps_per_epoch;
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine => {
                let total = (self.epochs * steps_per_epoch)
                    .saturating_sub(warmup)
                    .max(1);
                let progress = (step - warmup) as f64 / total as f64;
                0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
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
            warmup_epochs: 0,
            weight_decay: 0.0,
            label_smoothing: 0.0,
            data: DataConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_warms_up_linearly_then_decays_to_zero() {
        let config = TrainingConfig {
            epochs: 3,
            warmup_epochs: 1,
            learning_rate: 0.4,
            ..TrainingConfig::default()
        };
        let rates: Vec<f64> = (0..12).map(|s| config.learning_rate_at(s, 4)).collect();
        assert_eq!(rates[..4], [0.1, 0.2, 0.30000000000000004, 0.4]);
        assert_eq!(rates[4], 0.4);
        // Half-way through the 8 decaying steps: half the peak.
        assert!((rates[8] - 0.2).abs() < 1e-12, "{rates:?}");
        assert!(rates[11] < 0.02 && rates[11] > 0.0);
        let constant = TrainingConfig {
            schedule: Schedule::Constant,
            ..config
        };
        assert_eq!(constant.learning_rate_at(9, 4), 0.4);
    }

    #[test]
    fn settings_that_cannot_train_are_refused_by_name() {
        let refused = |config: TrainingConfig, what: &str| {
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(what), "{error}");
        };
        let base = TrainingConfig::default();
        refused(
            TrainingConfig {
                learning_rate: f64::NAN,
                ..base.clone()
            },
            "learning rate",
        );
        refused(
            TrainingConfig {
                label_smoothing: 1.0,
                ..base.clone()
            },
            "label smoothing",
        );
        refused(
            TrainingConfig {
                warmup_epochs: 5,
                ..base.clone()
            },
            "warm-up",
        );
        let mut data = base.clone();
        data.data.test_fraction = 0.8;
        refused(data, "leave no training image");
        assert!(base.validate().is_ok());
    }
}
