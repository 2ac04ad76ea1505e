use std::path::PathBuf;

use hwnas_middleware::Budget;
use hwnas_space::{Metrics, Sample};
use hwnas_strategy::oneshot::{OneShotConfig, PenaltyConfig};
use serde::{Deserialize, Serialize};

use crate::{DataConfig, Summary};

/// The supernet's training log inside a one-shot directory: one [`EpochRecord`] per line.
pub const SUPERNET_LOG: &str = "supernet.jsonl";

/// The supernet's weights inside a one-shot directory (burnpack), BatchNorm statistics included.
pub const SUPERNET_WEIGHTS: &str = "supernet.bpk";

/// The architecture parameters inside a one-shot directory (burnpack): the learnt distribution of
/// gradient-based algorithms, uniform for SPOS.
pub const ARCHITECTURE_WEIGHTS: &str = "architecture.bpk";

/// The settings of the run inside a one-shot directory: a resumed run must have the same.
pub const ONESHOT_SETTINGS: &str = "oneshot.json";

/// Settings of a [`OneShotRun`](super::OneShotRun).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneShotRunConfig {
    /// The algorithm and its optimisation settings.
    pub oneshot: OneShotConfig,
    /// Images per step.
    pub batch_size: usize,
    /// The data and its split: the architecture trains on the validation split (gradient-based
    /// algorithms) and subnets are ranked on it; the choice is reported on the test split.
    pub data: DataConfig,
    /// Training images whose statistics a subnet's BatchNorms take before it is evaluated.
    pub calibration_size: usize,
    /// SPOS: subnets the evolution over inherited weights evaluates.
    pub search_trials: usize,
    /// Epochs the chosen subnet trains alone, from its inherited weights, after the search (0:
    /// none). Its accuracy is then `finetuned_accuracy`.
    pub finetune_epochs: usize,
    /// Peak learning rate of the fine-tune (Adam, cosine decay).
    pub finetune_learning_rate: f64,
}

impl Default for OneShotRunConfig {
    fn default() -> Self {
        OneShotRunConfig {
            oneshot: OneShotConfig::default(),
            batch_size: 32,
            data: DataConfig::default(),
            calibration_size: 256,
            search_trials: 100,
            finetune_epochs: 0,
            finetune_learning_rate: 0.003,
        }
    }
}

/// One line of `supernet.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean training loss of the weight steps.
    pub loss: f64,
    /// Mean architecture loss, penalty included (gradient-based algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_loss: Option<f64>,
    /// Expected cost of the architecture distribution at the epoch's end, when penalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_cost: Option<f64>,
    /// The most probable sample at the epoch's end (gradient-based algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Sample>,
    /// Its validation accuracy with inherited weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Wall time of the epoch, seconds.
    pub duration_s: f64,
}

/// The outcome of a one-shot run.
#[derive(Debug, Clone)]
pub struct OneShotSummary {
    /// The chosen sample (also in `best.json`).
    pub best: Sample,
    /// Its metrics: validation accuracy with inherited weights, the costs, and `test_accuracy`
    /// of the model the run ends with (fine-tuned, if it was).
    pub metrics: Metrics,
    /// One record per epoch of supernet training.
    pub epochs: Vec<EpochRecord>,
    /// SPOS: the search over subnets.
    pub search: Option<Summary>,
}

/// The penalty of a run, as its settings record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PenaltySettings {
    /// The metric penalised.
    pub metric: String,
    /// How.
    #[serde(flatten)]
    pub config: PenaltyConfig,
}

/// The cost range of a run, as its settings record it (`None`: unbounded on that side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RangeSettings {
    /// The metric bounded.
    pub metric: String,
    /// The lower bound.
    pub min: Option<f64>,
    /// The upper bound.
    pub max: Option<f64>,
}

/// What `oneshot.json` holds: every setting that changes what a run computes, so that a resumed
/// run is refused when one differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OneShotSettings {
    /// The run's own settings.
    #[serde(flatten)]
    pub run: OneShotRunConfig,
    /// The hardware penalty (gradient-based algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<PenaltySettings>,
    /// The range of the subnets SPOS trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeSettings>,
    /// The budget of the SPOS search over subnets.
    #[serde(default)]
    pub budget: Budget,
    /// The costs recorded for every subnet evaluated.
    #[serde(default)]
    pub costs: Vec<String>,
    /// The directory whose trained supernet is searched instead of training one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained: Option<PathBuf>,
}
