use std::fmt;

pub use hwnas_space::Metrics;
use hwnas_space::{Sample, metric};
use serde::{Deserialize, Serialize};

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
        Objective::maximize(metric::ACCURACY)
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
    Evaluate {
        /// The sample.
        sample: Sample,
        /// Its costs, as far as a middleware priced them (they go into the trial's record, so
        /// nothing prices the sample again).
        costs: Metrics,
    },
    /// A middleware settled this sample without evaluation (and told the strategies below it);
    /// it is reported for the log only.
    Resolved {
        /// The sample.
        sample: Sample,
        /// What the strategy below was told.
        result: TrialResult,
        /// Why it was settled.
        reason: Reason,
        /// Its costs, as far as they were priced.
        costs: Metrics,
    },
}

impl Proposal {
    /// Evaluate `sample`, not priced yet.
    pub fn evaluate(sample: Sample) -> Self {
        Proposal::Evaluate {
            sample,
            costs: Metrics::new(),
        }
    }

    /// The proposed sample.
    pub fn sample(&self) -> &Sample {
        match self {
            Proposal::Evaluate { sample, .. } | Proposal::Resolved { sample, .. } => sample,
        }
    }
}

/// Why a proposal was settled without evaluation. Written in trial logs as a string: `filter`,
/// `duplicate`, `unpriced: <error>`, or the text of [`Reason::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
#[non_exhaustive]
pub enum Reason {
    /// Outside the budget (a filter rejected it).
    OverBudget,
    /// The same network as a sample already evaluated or being evaluated.
    Duplicate,
    /// Its costs could not be priced: the error says which and why.
    Unpriced(String),
    /// A reason of a middleware outside this workspace.
    Other(String),
}

impl Reason {
    const OVER_BUDGET: &str = "filter";
    const DUPLICATE: &str = "duplicate";
    const UNPRICED: &str = "unpriced: ";

    /// What a report calls this reason, for a count of proposals: `3 outside the budget`.
    pub fn describe(&self) -> &str {
        match self {
            Reason::OverBudget => "outside the budget",
            Reason::Duplicate => "a network already trained",
            Reason::Unpriced(_) => "that could not be priced",
            Reason::Other(text) => text,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OverBudget => f.write_str(Self::OVER_BUDGET),
            Reason::Duplicate => f.write_str(Self::DUPLICATE),
            Reason::Unpriced(error) => write!(f, "{}{error}", Self::UNPRICED),
            Reason::Other(text) => f.write_str(text),
        }
    }
}

impl From<Reason> for String {
    fn from(reason: Reason) -> String {
        reason.to_string()
    }
}

impl From<String> for Reason {
    fn from(text: String) -> Reason {
        match text.as_str() {
            Reason::OVER_BUDGET => Reason::OverBudget,
            Reason::DUPLICATE => Reason::Duplicate,
            _ => match text.strip_prefix(Reason::UNPRICED) {
                Some(error) => Reason::Unpriced(error.to_string()),
                None => Reason::Other(text),
            },
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

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn reason_reads_back_what_it_writes() {
        let check = |reason: Reason, text: &str| {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), reason);
        };
        check(Reason::OverBudget, "filter");
        check(Reason::Duplicate, "duplicate");
        check(
            Reason::Unpriced("`flops`: bad sample".into()),
            "unpriced: `flops`: bad sample",
        );
        check(Reason::Other("too slow".into()), "too slow");
    }
}
