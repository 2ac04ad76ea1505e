use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hwnas_space::metric;
use hwnas_strategy::pareto::{objective_keys, pareto_front};
use hwnas_strategy::{Objective, Status};

use crate::{ExperimentError, LOG_FILE, TrialRecord, read_log};

/// An experiment directory read back: rankings, fronts and tables over its trials.
#[derive(Debug, Clone)]
pub struct Report {
    /// The directory.
    pub dir: PathBuf,
    /// Every trial, in log order.
    pub records: Vec<TrialRecord>,
}

impl Report {
    /// Reads `dir/trials.jsonl`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ExperimentError> {
        let dir = dir.as_ref();
        let path = dir.join(LOG_FILE);
        if !path.is_file() {
            return Err(ExperimentError::Resume(format!(
                "{} holds no experiment ({LOG_FILE} is missing)",
                dir.display()
            )));
        }
        let (records, _) = read_log(&path)?;
        Ok(Self {
            dir: dir.to_owned(),
            records,
        })
    }

    /// How many trials ended ok, invalid and failed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |status| self.records.iter().filter(|r| r.status == status).count();
        (
            count(Status::Ok),
            count(Status::Invalid),
            count(Status::Failed),
        )
    }

    /// How many proposals each kind of reason settled without evaluating them, keyed by
    /// [`Reason::describe`](hwnas_strategy::Reason::describe) (`outside the budget`, `a network
    /// already trained`, ...).
    pub fn reasons(&self) -> std::collections::BTreeMap<&str, usize> {
        let mut reasons = std::collections::BTreeMap::new();
        for reason in self.records.iter().filter_map(|r| r.reason.as_ref()) {
            *reasons.entry(reason.describe()).or_default() += 1;
        }
        reasons
    }

    /// The `k` best evaluated trials by `objective`, best first (ties: earlier trial first).
    pub fn top_k(&self, objective: &Objective, k: usize) -> Vec<&TrialRecord> {
        let mut ranked: Vec<(&TrialRecord, f64)> = self
            .records
            .iter()
            .filter(|r| r.status == Status::Ok)
            .filter_map(|r| objective.key(&r.metrics).map(|key| (r, key)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
        ranked.into_iter().take(k).map(|(r, _)| r).collect()
    }

    /// The evaluated trials that no other trial beats in every objective, ordered by the first
    /// objective, best first.
    pub fn pareto_front(&self, objectives: &[Objective]) -> Vec<&TrialRecord> {
        let (records, keys): (Vec<&TrialRecord>, Vec<Vec<f64>>) = self
            .records
            .iter()
            .filter(|r| r.status == Status::Ok)
            .filter_map(|r| objective_keys(objectives, &r.metrics).map(|k| (r, k)))
            .unzip();
        let mut front: Vec<usize> = pareto_front(&keys);
        front.sort_by(|&a, &b| keys[b][0].total_cmp(&keys[a][0]));
        front.into_iter().map(|i| records[i]).collect()
    }

    /// The metric names that appear in the log, objective-like ones first.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for record in &self.records {
            for name in record.metrics.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let rank = |n: &str| {
            [
                metric::ACCURACY,
                metric::LATENCY_MS,
                metric::FLOPS,
                metric::PARAMS,
            ]
            .iter()
            .position(|k| *k == n)
        };
        names.sort_by_key(|n| (rank(n).unwrap_or(usize::MAX), n.clone()));
        names
    }

    /// A plain-text table of `records`: id and every metric (`hwnas export` prints the samples).
    pub fn table(&self, records: &[&TrialRecord]) -> String {
        let names = self.metric_names();
        let mut out = format!("{:>6}", "id");
        for name in &names {
            let _ = write!(out, " {name:>14}");
        }
        out.push('\n');
        for record in records {
            let _ = write!(out, "{:>6}", record.id);
            for name in &names {
                match record.metrics.get(name) {
                    Some(value) => {
                        let _ = write!(out, " {:>14}", format_metric(name, *value));
                    }
                    None => {
                        let _ = write!(out, " {:>14}", "-");
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Counts as integers with thousands separators, the rest with four significant decimals.
pub(crate) fn format_metric(name: &str, value: f64) -> String {
    let counted = [
        metric::FLOPS,
        metric::PARAMS,
        metric::LIVE_FLOPS,
        metric::LIVE_PARAMS,
    ];
    if counted.contains(&name) && value.fract() == 0.0 {
        let digits = format!("{}", value as i64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_metric;

    #[test]
    fn format_metric_groups_counts() {
        assert_eq!(format_metric("flops", 1_234_567.0), "1,234,567");
        assert_eq!(format_metric("params", 999.0), "999");
        assert_eq!(format_metric("live_params", 35_634.0), "35,634");
        assert_eq!(format_metric("accuracy", 0.91234), "0.9123");
    }
}
