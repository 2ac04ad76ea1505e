//! Where a search's trials run: threads of the search's own process (the default), a child
//! process per trial, or a Slurm job per trial. The experiment directory is the single source of
//! truth: a trial is rebuilt from `DIR/search.json` and `DIR/trials/ID.spec.json` alone, and its
//! outcome comes back in `DIR/trials/ID.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hwnas_space::{Metrics, Sample};
use serde::{Deserialize, Serialize};

use crate::experiment::{write_atomic, write_json};
use crate::{EvaluationError, Evaluator, ExperimentError, TrialContext};

/// The folder of per-trial files inside an experiment directory.
pub const TRIALS_DIR: &str = "trials";

/// How a search runs its trials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ExecutorConfig {
    /// Threads of the search's process (`concurrency` at once).
    #[default]
    Threads,
    /// A child process per trial (`hwnas trial DIR ID`), `concurrency` at once.
    Processes(ProcessConfig),
    /// A Slurm job per trial running `hwnas trial DIR ID`, at most `concurrency` queued or
    /// running.
    Slurm(crate::SlurmConfig),
}

impl ExecutorConfig {
    /// Whether this is the default, which settings files leave out.
    pub fn is_threads(&self) -> bool {
        matches!(self, ExecutorConfig::Threads)
    }
}

/// Settings of the process executor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// A trial still running after this many seconds is killed (its process group included) and
    /// fails with reason `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// GPU indices handed out one per running child (`CUDA_VISIBLE_DEVICES`); empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

impl ProcessConfig {
    /// Refuses a timeout that is not a positive number.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        match self.timeout_s {
            Some(timeout) if !(timeout.is_finite() && timeout > 0.0) => {
                Err(ExperimentError::Config(format!(
                    "the trial timeout must be positive, not {timeout}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// What a trial is, for the process that runs it: `DIR/trials/ID.spec.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// The trial's id.
    pub id: u64,
    /// Its seed.
    pub seed: u64,
    /// The sample to evaluate.
    pub sample: Sample,
}

/// What a trial gave, as the process that ran it reports it: `DIR/trials/ID.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    /// The trial's id.
    pub id: u64,
    /// Its seed (an outcome of another attempt at this id is not this trial's).
    pub seed: u64,
    /// The evaluator's metrics, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The intermediate metrics it reported, in order.
    #[serde(default)]
    pub intermediate: Vec<f64>,
}

/// The per-trial files of the experiment in `dir`.
#[derive(Debug, Clone)]
pub struct TrialFiles {
    dir: PathBuf,
}

impl TrialFiles {
    /// The files of the experiment in `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        TrialFiles {
            dir: dir.as_ref().join(TRIALS_DIR),
        }
    }

    /// `ID.spec.json`: the trial to run.
    pub fn spec(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.spec.json"))
    }

    /// `ID.json`: its outcome.
    pub fn outcome(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// `ID.pid`: the process running it (process executor).
    pub fn pid(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.pid"))
    }

    /// `ID.job`: the Slurm job running it (Slurm executor).
    pub fn job(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.job"))
    }

    /// `ID.log`: its standard output and error.
    pub fn log(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.log"))
    }

    /// Writes the trial to run.
    pub fn write_spec(&self, spec: &TrialSpec) -> Result<(), ExperimentError> {
        std::fs::create_dir_all(&self.dir).map_err(ExperimentError::io(&self.dir))?;
        write_json(&self.spec(spec.id), spec)
    }

    /// Reads the trial to run.
    pub fn read_spec(&self, id: u64) -> Result<TrialSpec, ExperimentError> {
        let path = self.spec(id);
        let text = std::fs::read_to_string(&path).map_err(ExperimentError::io(&path))?;
        serde_json::from_str(&text)
            .map_err(|e| ExperimentError::Resume(format!("{}: not a trial: {e}", path.display())))
    }

    /// Writes a trial's outcome whole or not at all.
    pub fn write_outcome(&self, outcome: &TrialOutcome) -> Result<(), ExperimentError> {
        std::fs::create_dir_all(&self.dir).map_err(ExperimentError::io(&self.dir))?;
        let text = serde_json::to_string(outcome).expect("an outcome serializes");
        write_atomic(&self.outcome(outcome.id), text.as_bytes())
    }

    /// The process still running trial `id` of the experiment in `experiment`, if its pid file
    /// names one (its command line is `... trial DIR ID` for this directory and id).
    pub fn running_child(&self, experiment: &Path, id: u64) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid(id))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let id = id.to_string();
        let dir = experiment.as_os_str().as_encoded_bytes();
        let ours = words.contains(&b"trial".as_slice())
            && words.contains(&id.as_bytes())
            && words.contains(&dir);
        ours.then_some(pid)
    }

    /// The outcome of trial `id` with `seed`, if one was written.
    pub fn read_outcome(&self, id: u64, seed: u64) -> Option<TrialOutcome> {
        let text = std::fs::read_to_string(self.outcome(id)).ok()?;
        let outcome: TrialOutcome = serde_json::from_str(&text).ok()?;
        (outcome.id == id && outcome.seed == seed).then_some(outcome)
    }
}

/// Runs each trial as a child process, `program trial DIR ID` (the `hwnas` binary), and reads
/// its outcome back; a child that exits non-zero, dies from a signal or outlives the timeout is a
/// failed trial naming why.
pub struct ProcessEvaluator {
    program: PathBuf,
    dir: PathBuf,
    files: TrialFiles,
    timeout: Option<Duration>,
    devices: Mutex<Vec<String>>,
}

impl ProcessEvaluator {
    /// An evaluator running `program trial DIR ID` for the experiment in `dir`.
    pub fn new(program: impl Into<PathBuf>, dir: impl AsRef<Path>, config: &ProcessConfig) -> Self {
        ProcessEvaluator {
            program: program.into(),
            dir: dir.as_ref().to_owned(),
            files: TrialFiles::new(dir),
            timeout: config.timeout_s.map(Duration::from_secs_f64),
            devices: Mutex::new(config.devices.clone()),
        }
    }

    fn take_device(&self) -> Option<String> {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices.pop()
    }

    fn give_back(&self, device: Option<String>) {
        if let Some(device) = device {
            self.devices
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(device);
        }
    }

    /// Runs the child and waits for it: `Ok` when it exited 0, else why it did not.
    fn run_child(&self, id: u64) -> Result<(), String> {
        let log_path = self.files.log(id);
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
        let err_log = log
            .try_clone()
            .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
        let mut command = Command::new(&self.program);
        command
            .arg("trial")
            .arg(&self.dir)
            .arg(id.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        // Its own process group, so that a timeout kills whatever the trial started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let device = self.take_device();
        if let Some(device) = &device {
            command.env("CUDA_VISIBLE_DEVICES", device);
        }
        let outcome = self.wait(id, command);
        self.give_back(device);
        outcome
    }

    fn wait(&self, id: u64, mut command: Command) -> Result<(), String> {
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        // A search killed now finds it again on resume and waits for it instead of starting a
        // second one.
        let _ = write_atomic(&self.files.pid(id), child.id().to_string().as_bytes());
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return exit_reason(status),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for the trial: {e}")),
            }
            if self.timeout.is_some_and(|limit| started.elapsed() >= limit) {
                kill_group(child.id());
                let _ = child.wait();
                return Err("timeout".into());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

impl Evaluator for ProcessEvaluator {
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let id = context.id();
        // Started before the search was killed and still running: waited for (within the
        // timeout, counted from now), not run again.
        if let Some(pid) = self.files.running_child(&self.dir, id)
            && !wait_for_exit(pid, self.timeout)
        {
            kill_group(pid as u32);
            return Err("timeout".into());
        }
        // Finished while the search was down: collected, not run again.
        let outcome = match self.files.read_outcome(id, context.seed()) {
            Some(outcome) => outcome,
            None => {
                self.files.write_spec(&TrialSpec {
                    id,
                    seed: context.seed(),
                    sample: sample.clone(),
                })?;
                self.run_child(id)?;
                self.files.read_outcome(id, context.seed()).ok_or_else(|| {
                    format!(
                        "the trial exited without writing {}",
                        self.files.outcome(id).display()
                    )
                })?
            }
        };
        outcome_metrics(outcome, context)
    }
}

/// The metrics of a trial's outcome (its intermediate metrics reported to `context` first), or
/// its error.
pub(crate) fn outcome_metrics(
    outcome: TrialOutcome,
    context: &TrialContext<'_>,
) -> Result<Metrics, EvaluationError> {
    for (step, value) in outcome.intermediate.iter().enumerate() {
        context.report(step, *value);
    }
    match (outcome.metrics, outcome.error) {
        (Some(metrics), None) => Ok(metrics),
        (_, Some(error)) => Err(error.into()),
        (None, None) => Err("the trial reported neither metrics nor an error".into()),
    }
}

/// An evaluator's error that stops the search instead of failing the trial (the cluster cannot
/// take jobs): the trial stays pending and runs on resume.
#[derive(Debug)]
pub struct AbortSearch(pub String);

impl std::fmt::Display for AbortSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AbortSearch {}

/// Why a child that ended did not succeed: its exit code, or the signal that killed it.
fn exit_reason(status: std::process::ExitStatus) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return Ok(());
    }
    if let Some(signal) = status.signal() {
        let name = nix::sys::signal::Signal::try_from(signal)
            .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string());
        return Err(format!("killed by {name}"));
    }
    Err(format!(
        "exited with code {}",
        status.code().map_or("?".into(), |c| c.to_string())
    ))
}

/// Waits until process `pid` (not a child of this one) is gone; false when `timeout` passed
/// first.
fn wait_for_exit(pid: i32, timeout: Option<Duration>) -> bool {
    let started = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// SIGKILL to the process group led by `pid`.
fn kill_group(pid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}
