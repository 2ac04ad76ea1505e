use std::collections::BTreeMap;

use hwnas_space::Sample;
use serde::{Deserialize, Serialize};

/// Named metrics of a trial (`accuracy`, `flops`, `params`, `latency_ms`, ...). A `BTreeMap` so
/// the JSON form is ordered and stable.
pub type Metrics = BTreeMap<String, f64>;

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy).
    #[default]
    Maximize,
    /// Smaller is better (latency, FLOPs, loss).
    Minimize,
}

impl Direction {
    /// The value mapped so that larger is always better.
    pub fn key(self, value: f64) -> f64 {
        match self {
            Direction::Maximize => value,
            Direction::Minimize => -value,
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        self.key(a) > self.key(b)
    }
}

/// A metric and the way it improves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The metric's name in [`Metrics`].
    pub metric: String,
    /// Which way it improves.
    pub direction: Direction,
}

impl Objective {
    /// A metric to maximize.
    pub fn maximize(metric: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            direction: Direction::Maximize,
        }
    }

    /// A metric to minimize.
    pub fn minimize(metric: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            direction: Direction::Minimize,
        }
    }

    /// The metric's value in `metrics` when it is a finite number.
    pub fn value(&self, metrics: &Metrics) -> Option<f64> {
        metrics.get(&self.metric).copied().filter(|v| v.is_finite())
    }

    /// The value mapped so that larger is always better.
    pub fn key(&self, metrics: &Metrics) -> Option<f64> {
        self.value(metrics).map(|v| self.direction.key(v))
    }
}

impl Default for Objective {
    /// Validation accuracy, maximized: what the training evaluator reports.
    fn default() -> Self {
        Objective::maximize("accuracy")
    }
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Evaluated; the metrics are its results.
    Ok,
    /// Rejected before evaluation (outside a budget, a duplicate).
    Invalid,
    /// The evaluator errored, panicked or returned a non-finite metric.
    Failed,
}

/// What a strategy is told about a sample.
///
/// A strategy learns from a result whose metrics hold its objective, whatever the status: that is
/// how middleware penalise a rejected sample or report a metric for a failure. A result without
/// the objective only marks the sample as visited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// How the trial ended.
    pub status: Status,
    /// Its metrics.
    #[serde(default)]
    pub metrics: Metrics,
}

impl TrialResult {
    /// An evaluated trial.
    pub fn ok(metrics: Metrics) -> Self {
        Self {
            status: Status::Ok,
            metrics,
        }
    }

    /// A rejected sample, with no metric to learn from.
    pub fn invalid() -> Self {
        Self {
            status: Status::Invalid,
            metrics: Metrics::new(),
        }
    }

    /// A failed trial, with no metric to learn from.
    pub fn failed() -> Self {
        Self {
            status: Status::Failed,
            metrics: Metrics::new(),
        }
    }
}

/// What a strategy (or middleware) proposes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// Evaluate this sample and tell the result.
    Evaluate(Sample),
    /// A middleware settled this sample without evaluation (and told the strategies below it);
    /// it is reported for the log only.
    Resolved {
        /// The sample.
        sample: Sample,
        /// What the strategy below was told.
        result: TrialResult,
        /// Why it was settled (`"filter"`, `"duplicate"`).
        reason: String,
    },
}

impl Proposal {
    /// The proposed sample.
    pub fn sample(&self) -> &Sample {
        match self {
            Proposal::Evaluate(sample) | Proposal::Resolved { sample, .. } => sample,
        }
    }
}

/// Whether a running trial should go on, after an intermediate report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Keep training.
    #[default]
    Continue,
    /// Stop now and report the last metric.
    Stop,
}
