//! The Slurm executor: each trial a job (`sbatch --parsable`) running `hwnas trial DIR ID` on a
//! node that shares the experiment directory. One poller per search asks Slurm about the jobs
//! still waited on (one `squeue` for all of them per poll, then one `scontrol show job` per job
//! the first time it is seen gone), so a poll costs what the queue holds, not what has finished.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use hwnas_space::{Metrics, Sample};
use serde::{Deserialize, Serialize};

use crate::executor::{TrialFiles, TrialSpec, outcome_metrics};
use crate::experiment::write_atomic;
use crate::{AbortSearch, EvaluationError, Evaluator, ExperimentError, TrialContext};

/// Settings of the Slurm executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmConfig {
    /// Arguments every `sbatch` gets: partition, `--gres=gpu:1`, `--time`, `--account`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Seconds between two polls of the queue.
    pub poll_s: f64,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            args: Vec::new(),
            poll_s: 1.0,
        }
    }
}

impl SlurmConfig {
    /// Refuses a poll interval that is not a positive number.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        if !(self.poll_s.is_finite() && self.poll_s > 0.0) {
            return Err(ExperimentError::Config(format!(
                "the Slurm poll interval must be positive, not {}",
                self.poll_s
            )));
        }
        Ok(())
    }

    /// Asks Slurm whether it would take the jobs (`sbatch --test-only` with the arguments): a
    /// rejected argument is the user's error, an unreachable controller or a missing `sbatch` a
    /// failure of the cluster (`ExperimentError::Failed`).
    pub fn check(&self) -> Result<(), ExperimentError> {
        let output = Command::new("sbatch")
            .arg("--test-only")
            .args(&self.args)
            .args(["--wrap", "true"])
            .output()
            .map_err(|e| ExperimentError::Failed(format!("cannot run sbatch: {e}")))?;
        if output.status.success() {
            return Ok(());
        }
        let message = one_line(&output.stderr);
        if cluster_failure(&message) {
            Err(ExperimentError::Failed(format!(
                "Slurm cannot take jobs: {message}"
            )))
        } else {
            Err(ExperimentError::Config(format!(
                "Slurm refuses --slurm-args {:?}: {message}",
                self.args.join(" ")
            )))
        }
    }
}

/// A tool's error output on one line.
fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

/// Whether sbatch's complaint is about the cluster rather than the job's arguments.
fn cluster_failure(message: &str) -> bool {
    [
        "Unable to contact",
        "Connection refused",
        "Socket timed out",
        "Zero Bytes were transmitted",
        "Communication connection failure",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

/// How a job ended, as Slurm says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobEnd {
    state: String,
    exit_code: String,
}

#[derive(Default)]
struct QueueState {
    waiting: BTreeSet<String>,
    ended: HashMap<String, JobEnd>,
    polling: bool,
    /// Polls made, for the scale bench.
    polls: u64,
}

/// The jobs a search waits on, and the one thread that polls Slurm about them.
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
    poll: Duration,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until job `id` has ended; starts the poller if none runs.
    fn wait(self: &Arc<Self>, id: &str) -> JobEnd {
        let mut state = self.lock();
        state.waiting.insert(id.to_string());
        if !state.polling {
            state.polling = true;
            let queue = Arc::clone(self);
            std::thread::spawn(move || queue.poll_until_idle());
        }
        loop {
            if let Some(end) = state.ended.remove(id) {
                return end;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn poll_until_idle(&self) {
        loop {
            std::thread::sleep(self.poll);
            let waiting: Vec<String> = {
                let mut state = self.lock();
                if state.waiting.is_empty() {
                    state.polling = false;
                    return;
                }
                state.polls += 1;
                state.waiting.iter().cloned().collect()
            };
            // A failed poll (the controller busy or restarting) is tried again next time.
            let Some(active) = active_jobs(&waiting) else {
                continue;
            };
            let ended: Vec<(String, JobEnd)> = waiting
                .into_iter()
                .filter(|id| !active.contains(id))
                .filter_map(|id| job_end(&id).map(|end| (id, end)))
                .collect();
            if ended.is_empty() {
                continue;
            }
            let mut state = self.lock();
            for (id, end) in ended {
                state.waiting.remove(&id);
                state.ended.insert(id, end);
            }
            self.changed.notify_all();
        }
    }
}

/// The jobs among `ids` that Slurm still holds as queued or running: one `squeue` call.
fn active_jobs(ids: &[String]) -> Option<BTreeSet<String>> {
    let output = Command::new("squeue")
        .args(["-h", "-o", "%i %T", "-j", &ids.join(",")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() && text.trim().is_empty() {
        // Every id unknown to Slurm (purged) is an error for squeue: none of them is active.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return stderr.contains("Invalid job id").then(BTreeSet::new);
    }
    Some(
        text.lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let (id, state) = (words.next()?, words.next()?);
                let ended = matches!(
                    state,
                    "COMPLETED"
                        | "FAILED"
                        | "CANCELLED"
                        | "TIMEOUT"
                        | "NODE_FAIL"
                        | "OUT_OF_MEMORY"
                        | "PREEMPTED"
                        | "BOOT_FAIL"
                        | "DEADLINE"
                );
                (!ended).then(|| id.to_string())
            })
            .collect(),
    )
}

/// How job `id` ended (`scontrol show job`), `None` while Slurm cannot say yet.
fn job_end(id: &str) -> Option<JobEnd> {
    let output = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return stderr.contains("Invalid job id").then(|| JobEnd {
            state: "UNKNOWN (purged by Slurm)".into(),
            exit_code: "?".into(),
        });
    }
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .map(str::to_string)
    };
    let state = field("JobState=")?;
    if matches!(
        state.as_str(),
        "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
    ) {
        return None;
    }
    Some(JobEnd {
        state,
        exit_code: field("ExitCode=").unwrap_or_else(|| "?".into()),
    })
}

/// Runs each trial as a Slurm job and reads its outcome back; a job that fails, is cancelled,
/// runs out of time or loses its node is a failed trial naming Slurm's state and exit code.
pub struct SlurmEvaluator {
    program: PathBuf,
    dir: PathBuf,
    name: String,
    files: TrialFiles,
    config: SlurmConfig,
    queue: Arc<Queue>,
}

impl SlurmEvaluator {
    /// An evaluator submitting `program trial DIR ID` jobs for the experiment in `dir` (a
    /// directory every node sees at the same path).
    pub fn new(
        program: impl Into<PathBuf>,
        dir: impl AsRef<Path>,
        config: &SlurmConfig,
    ) -> Result<Self, ExperimentError> {
        let dir = std::path::absolute(dir.as_ref()).map_err(ExperimentError::io(dir.as_ref()))?;
        let name = dir
            .file_name()
            .map_or("search".into(), |n| n.to_string_lossy().into_owned());
        Ok(SlurmEvaluator {
            program: program.into(),
            files: TrialFiles::new(&dir),
            dir,
            name,
            config: config.clone(),
            queue: Arc::new(Queue {
                state: Mutex::default(),
                changed: Condvar::new(),
                poll: Duration::from_secs_f64(config.poll_s),
            }),
        })
    }

    /// Polls of the queue made so far.
    pub fn polls(&self) -> u64 {
        self.queue.lock().polls
    }

    /// Submits trial `id`; its job id is written to `ID.job` before it is returned.
    fn submit(&self, id: u64) -> Result<String, EvaluationError> {
        let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
        let command = format!(
            "{} trial {} {id}",
            quote(&self.program.to_string_lossy()),
            quote(&self.dir.to_string_lossy())
        );
        let output = Command::new("sbatch")
            .arg("--parsable")
            .arg(format!("--job-name=hwnas-{}-{id}", self.name))
            .arg(format!("--output={}", self.files.log(id).display()))
            .args(&self.config.args)
            .args(["--wrap", &command])
            .output()
            .map_err(|e| AbortSearch(format!("cannot run sbatch: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let message = one_line(&output.stderr);
            return Err(Box::new(AbortSearch(format!(
                "sbatch refused trial {id}: {message}"
            ))));
        }
        // `--parsable`: the id, then `;cluster` on a federation.
        let job = stdout.trim().split(';').next().unwrap_or("").to_string();
        if job.is_empty() {
            return Err(Box::new(AbortSearch(format!(
                "sbatch printed no job id for trial {id}"
            ))));
        }
        write_atomic(&self.files.job(id), job.as_bytes())?;
        Ok(job)
    }
}

impl Evaluator for SlurmEvaluator {
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let id = context.id();
        // Submitted before the search was killed: found again by its id, not submitted twice.
        let job = match std::fs::read_to_string(self.files.job(id)) {
            Ok(job) if !job.trim().is_empty() => job.trim().to_string(),
            _ => {
                self.files.write_spec(&TrialSpec {
                    id,
                    seed: context.seed(),
                    sample: sample.clone(),
                })?;
                self.submit(id)?
            }
        };
        context.set_slurm_job(&job);
        let end = match self.files.read_outcome(id) {
            // Ended while the search was down and reported: collected.
            Some(_) => None,
            None => Some(self.queue.wait(&job)),
        };
        match (self.files.read_outcome(id), end) {
            (Some(outcome), _) => outcome_metrics(outcome, context),
            (None, Some(end)) => Err(format!(
                "slurm job {job} {} (exit code {})",
                end.state, end.exit_code
            )
            .into()),
            (None, None) => Err(format!("slurm job {job} left no outcome").into()),
        }
    }
}
