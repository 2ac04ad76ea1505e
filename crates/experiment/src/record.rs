use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use hwnas_space::Sample;
use hwnas_strategy::{Metrics, Reason, Status};
use serde::{Deserialize, Serialize};

use crate::ExperimentError;

/// One line of `trials.jsonl`: everything about one trial, written when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Unique within the experiment, in the order trials were proposed.
    pub id: u64,
    /// The architecture.
    pub sample: Sample,
    /// `ok`, `invalid` (rejected before training) or `failed`.
    pub status: Status,
    /// The evaluator's metrics and the costs (`flops`, `params`, `latency_ms`, ...).
    pub metrics: Metrics,
    /// Why an invalid sample was settled without evaluation (`filter`, `duplicate`,
    /// `unpriced: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Why a trial failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Intermediate metrics the evaluator reported, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intermediate: Vec<f64>,
    /// Whether a middleware stopped the trial early.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_early: bool,
    /// The trial's seed.
    pub seed: u64,
    /// Start time, seconds since the Unix epoch.
    pub started_at: f64,
    /// Wall time of the evaluation, seconds.
    pub duration_s: f64,
    /// The Slurm job that ran the trial (Slurm executor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job_id: Option<String>,
    /// How the strategy came to propose the sample, when that is worth knowing (a mutation
    /// that found no child within the budget and fell back to a random sample).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Reads a trial log. A last line cut short by a crash is dropped (its byte offset is returned so
/// the writer can truncate it); a malformed line elsewhere is an error naming it.
pub fn read_log(path: &Path) -> Result<(Vec<TrialRecord>, u64), ExperimentError> {
    read_json_lines(path)
}

/// [`read_log`] for a log of any record type (one JSON object per line); a missing file is empty.
pub(crate) fn read_json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<(Vec<T>, u64), ExperimentError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(ExperimentError::io(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let (mut records, mut good_bytes, mut line_number) = (Vec::new(), 0u64, 0);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(ExperimentError::io(path))?;
        if n == 0 {
            break;
        }
        line_number += 1;
        if line.trim().is_empty() {
            good_bytes += n as u64;
            continue;
        }
        match serde_json::from_str::<T>(&line) {
            Ok(record) if line.ends_with('\n') => {
                records.push(record);
                good_bytes += n as u64;
            }
            // The last line, unfinished: the process died while writing it.
            Ok(_) => break,
            Err(_) if !line.ends_with('\n') => break,
            Err(e) => {
                return Err(ExperimentError::Log {
                    path: path.to_owned(),
                    line: line_number,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((records, good_bytes))
}

/// Records as JSON lines, one object per line: what [`read_json_lines`] reads back.
#[cfg(feature = "burn")]
pub(crate) fn json_lines<T: Serialize>(records: &[T]) -> String {
    records
        .iter()
        .map(|record| serde_json::to_string(record).expect("records serialize") + "\n")
        .collect()
}

/// Appends `record` to the JSON-lines file at `path` (created if absent).
#[cfg(feature = "burn")]
pub(crate) fn append_json_line(
    path: &Path,
    record: &impl Serialize,
) -> Result<(), ExperimentError> {
    use std::io::Write;
    let mut line = serde_json::to_string(record).expect("records serialize");
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()))
        .map_err(ExperimentError::io(path))
}
