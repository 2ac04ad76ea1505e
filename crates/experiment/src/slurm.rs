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

    /// The job name of trial `id`: the directory's name and a hash of its path, so that the
    /// job is found by name again if its id was never written.
    fn job_name(&self, id: u64) -> String {
        let hash = xxhash_rust::xxh3::xxh3_64(self.dir.as_os_str().as_encoded_bytes());
        format!("hwnas-{}-{:08x}-{id}", self.name, hash as u32)
    }

    /// The job Slurm holds under trial `id`'s name, if any (a submission whose id the search
    /// did not get to write down).
    fn job_by_name(&self, id: u64) -> Option<String> {
        let output = Command::new("squeue")
            .args(["-h", "-o", "%i", "--name", &self.job_name(id)])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().next().map(|line| line.trim().to_string())
    }

    /// Submits trial `id`, trying again for a while when the controller does not answer; its
    /// job id is written to `ID.job` before it is returned.
    fn submit(&self, id: u64) -> Result<String, EvaluationError> {
        let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
        let command = format!(
            "{} trial {} {id}",
            quote(&self.program.to_string_lossy()),
            quote(&self.dir.to_string_lossy())
        );
        // `%` starts a file name pattern for sbatch.
        let log = self.files.log(id).display().to_string().replace('%', "%%");
        let mut pause = Duration::from_secs(1);
        let output = loop {
            let output = Command::new("sbatch")
                .arg("--parsable")
                .arg(format!("--job-name={}", self.job_name(id)))
                .arg(format!("--output={log}"))
                .args(&self.config.args)
                .args(["--wrap", &command])
                .output()
                .map_err(|e| AbortSearch(format!("cannot run sbatch: {e}")))?;
            let message = one_line(&output.stderr);
            if output.status.success() || !cluster_failure(&message) || pause.as_secs() > 16 {
                break output;
            }
            // The controller may have taken the job before it stopped answering.
            if let Some(job) = self.job_by_name(id) {
                write_atomic(&self.files.job(id), job.as_bytes())?;
                return Ok(job);
            }
            std::thread::sleep(pause);
            pause *= 2;
        };
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

    /// Trial `id`'s outcome once its job ended: a shared file system may show the file a while
    /// after the job wrote it.
    fn outcome_after(&self, id: u64, seed: u64) -> Option<crate::TrialOutcome> {
        for _ in 0..60 {
            if let Some(outcome) = self.files.read_outcome(id, seed) {
                return Some(outcome);
            }
            // Listing the folder refreshes what NFS clients cache of it.
            let _ = std::fs::read_dir(self.files.outcome(id).parent()?);
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    }
}

impl Evaluator for SlurmEvaluator {
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let (id, seed) = (context.id(), context.seed());
        let recorded = std::fs::read_to_string(self.files.job(id))
            .ok()
            .map(|job| job.trim().to_string())
            .filter(|job| !job.is_empty());
        if let Some(job) = &recorded {
            context.set_slurm_job(job);
        }
        // Ended and reported while the search was down: collected, never submitted again.
        if let Some(outcome) = self.files.read_outcome(id, seed) {
            return outcome_metrics(outcome, context);
        }
        // Submitted before the search was killed: found again by its id (or, if the id was never
        // written down, by its name), not submitted twice.
        let started = self.files.spec(id).exists();
        let job = match recorded {
            Some(job) => job,
            None => match started.then(|| self.job_by_name(id)).flatten() {
                Some(job) => {
                    write_atomic(&self.files.job(id), job.as_bytes())?;
                    job
                }
                None => {
                    self.files.write_spec(&TrialSpec {
                        id,
                        seed,
                        sample: sample.clone(),
                    })?;
                    self.submit(id)?
                }
            },
        };
        context.set_slurm_job(&job);
        let end = self.queue.wait(&job);
        let completed = end.state == "COMPLETED";
        // A completed job's outcome may show late on a shared file system; another job's may have
        // been written before it ended otherwise (cancelled while writing its log, say).
        match completed
            .then(|| self.outcome_after(id, seed))
            .flatten()
            .or_else(|| self.files.read_outcome(id, seed))
        {
            Some(outcome) => outcome_metrics(outcome, context),
            None => Err(format!(
                "slurm job {job} {} (exit code {})",
                end.state, end.exit_code
            )
            .into()),
        }
    }
}
