use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hwnas_profiler::Costs;
use hwnas_space::{Sample, SearchSpace};
use hwnas_strategy::{
    Metrics, Objective, Proposal, REWARD, SoftTarget, Status, Strategy, TrialResult,
};
use serde::{Deserialize, Serialize};

use crate::evaluator::{Evaluator, TrialContext};
use crate::record::{TrialRecord, read_log};
use crate::{AbortSearch, ExperimentError, LOG_FILE, Stop};

/// The strategy snapshot, rewritten after every step.
pub(crate) const STATE_FILE: &str = "state.json";
/// The best sample that met the constraints, as sample JSON.
pub const BEST_FILE: &str = "best.json";

/// Budget and parallelism of an experiment.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// Trials to evaluate (rejected samples do not count).
    pub max_trials: usize,
    /// No new trial starts after this long.
    pub max_duration: Option<Duration>,
    /// Trials evaluated at once.
    pub concurrency: usize,
    /// Seed of the trial seeds.
    pub seed: u64,
    /// The metric that ranks trials (`best.json`, progress).
    pub objective: Objective,
    /// A soft target whose reward ([`REWARD`]) every evaluated trial records (the objective
    /// then names it).
    pub target: Option<SoftTarget>,
    /// Continue the experiment already in the directory instead of refusing to touch it.
    pub resume: bool,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            max_trials: 20,
            max_duration: None,
            concurrency: 1,
            seed: 0,
            objective: Objective::default(),
            target: None,
            resume: false,
        }
    }
}

/// Where an experiment stands, handed to the progress observer after every trial.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Trials evaluated (ok or failed), including earlier runs of a resumed experiment.
    pub evaluated: usize,
    /// The trial budget.
    pub max_trials: usize,
    /// Trials that failed.
    pub failed: usize,
    /// Samples rejected before evaluation.
    pub rejected: usize,
    /// The best objective value so far.
    pub best: Option<f64>,
    /// Time since this run started.
    pub elapsed: Duration,
}

/// Why an experiment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The trial budget is spent.
    Trials,
    /// The time budget is spent.
    Time,
    /// The strategy has nothing more to propose.
    Exhausted,
    /// A [`Stop`] was requested: the running trials finished, no new one started.
    Interrupted,
}

/// The outcome of [`Experiment::run`].
#[derive(Debug, Clone)]
pub struct Summary {
    /// Counters at the end.
    pub progress: Progress,
    /// The best trial (status ok, best objective).
    pub best: Option<TrialRecord>,
    /// Why it ended.
    pub stop: StopReason,
}

/// What is saved in `state.json`.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    space: u64,
    seed: u64,
    next_id: u64,
    pending: BTreeMap<u64, Sample>,
    strategy: serde_json::Value,
}

type Observer = Box<dyn FnMut(&Progress, &TrialRecord) + Send>;

/// A search run: a strategy proposes, costs are priced (once: the costs a middleware priced come
/// with the proposal), the evaluator evaluates, and every trial is appended to
/// `DIR/trials.jsonl` as it ends.
///
/// The directory is the whole state: after a crash or a kill, running again with `resume` picks
/// up where it stopped, without losing or repeating a finished trial. An evaluator that errors,
/// panics or returns NaN fails its trial; the search goes on.
pub struct Experiment<'a> {
    runner: Runner<'a>,
    strategy: Box<dyn Strategy + 'a>,
    observer: Option<Observer>,
}

/// The parts of an experiment every worker reads.
struct Runner<'a> {
    dir: PathBuf,
    space: SearchSpace,
    /// Identifies the space in `state.json`; hashed once, since every snapshot carries it.
    space_hash: u64,
    evaluator: &'a dyn Evaluator,
    costs: Costs,
    config: ExperimentConfig,
    stop: Stop,
}

/// Mutable state shared by the workers.
struct Shared<'a> {
    began: Instant,
    strategy: Box<dyn Strategy + 'a>,
    next_id: u64,
    pending: BTreeMap<u64, Sample>,
    /// Trials proposed before a crash that never finished: they run first on resume.
    rerun: VecDeque<(u64, Sample)>,
    logged: HashSet<u64>,
    log: File,
    started: usize,
    progress: Progress,
    best: Option<(f64, TrialRecord)>,
    stop: Option<StopReason>,
    error: Option<ExperimentError>,
    observer: Option<Observer>,
}

enum Job {
    /// A trial, with the costs priced so far and the strategy's notes on its proposal.
    Evaluate(u64, Sample, Metrics, Vec<String>),
    Done,
}

impl<'a> Experiment<'a> {
    /// An experiment writing to `dir`.
    pub fn new(
        dir: impl Into<PathBuf>,
        space: SearchSpace,
        strategy: impl Strategy + 'a,
        evaluator: &'a dyn Evaluator,
        config: ExperimentConfig,
    ) -> Self {
        Self {
            runner: Runner {
                dir: dir.into(),
                space_hash: space_hash(&space),
                space,
                evaluator,
                costs: Costs::new(),
                config,
                stop: Stop::new(),
            },
            strategy: Box::new(strategy),
            observer: None,
        }
    }

    /// The costs recorded for every proposal (`flops`, `params`, `latency_ms`): those a
    /// middleware priced already are taken from the proposal, the rest priced here. A sample
    /// they cannot price fails its trial.
    pub fn with_costs(mut self, costs: Costs) -> Self {
        self.runner.costs = costs;
        self
    }

    /// Starts no new trial once `stop` is requested (the run ends with
    /// [`StopReason::Interrupted`]; resume it later).
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.runner.stop = stop;
        self
    }

    /// Calls `observer` after every trial, rejected ones included.
    pub fn on_progress(
        mut self,
        observer: impl FnMut(&Progress, &TrialRecord) + Send + 'static,
    ) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Runs until a budget is spent or the strategy is exhausted.
    pub fn run(self) -> Result<Summary, ExperimentError> {
        let Experiment {
            runner,
            strategy,
            observer,
        } = self;
        if runner.config.concurrency == 0 || runner.config.max_trials == 0 {
            return Err(ExperimentError::Config(
                "concurrency and the trial budget must be at least 1".into(),
            ));
        }
        std::fs::create_dir_all(&runner.dir).map_err(ExperimentError::io(&runner.dir))?;
        let began = Instant::now();
        let mut shared = runner.open(strategy, began)?;
        shared.observer = observer;
        let shared = Mutex::new(shared);
        std::thread::scope(|scope| {
            for _ in 0..runner.config.concurrency {
                scope.spawn(|| runner.worker(&shared, began));
            }
        });
        let mut shared = shared.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(error) = shared.error.take() {
            return Err(error);
        }
        // Once more at the end: a kill between a record and its best.json leaves the log ahead.
        if let Some((_, record)) = &shared.best {
            runner.write_best(&record.sample)?;
        }
        shared.progress.elapsed = began.elapsed();
        Ok(Summary {
            progress: shared.progress,
            best: shared.best.map(|(_, record)| record),
            stop: shared.stop.unwrap_or(StopReason::Trials),
        })
    }
}

impl<'a> Runner<'a> {
    fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Opens the log and, when resuming, restores the strategy and replays what the snapshot
    /// missed.
    fn open(
        &self,
        strategy: Box<dyn Strategy + 'a>,
        began: Instant,
    ) -> Result<Shared<'a>, ExperimentError> {
        let log_path = self.log_path();
        let state_path = self.dir.join(STATE_FILE);
        let (records, good_bytes) = read_log(&log_path)?;
        let has_state = state_path.exists();
        if (has_state || !records.is_empty()) && !self.config.resume {
            return Err(ExperimentError::Resume(format!(
                "{} already holds an experiment: resume it (--resume) or choose another directory",
                self.dir.display()
            )));
        }
        // A trained trial is logged only after the state that proposed it was saved: without
        // that state the strategy would start over and train again what the log holds.
        let n_trained = records
            .iter()
            .filter(|r| r.status != Status::Invalid)
            .count();
        if !has_state && n_trained > 0 {
            return Err(ExperimentError::Resume(format!(
                "{} is missing while {} holds {n_trained} trained trials: the strategy's state \
                 is lost, so the search cannot go on where it stopped without training them \
                 again; restore {STATE_FILE} or start a new directory",
                state_path.display(),
                log_path.display()
            )));
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(ExperimentError::io(&log_path))?;
        // Drop a line cut short by a crash.
        log.set_len(good_bytes)
            .map_err(ExperimentError::io(&log_path))?;
        let mut shared = Shared {
            began,
            strategy,
            next_id: 0,
            pending: BTreeMap::new(),
            rerun: VecDeque::new(),
            logged: records.iter().map(|r| r.id).collect(),
            log,
            started: 0,
            progress: Progress {
                max_trials: self.config.max_trials,
                ..Progress::default()
            },
            best: None,
            stop: None,
            error: None,
            observer: None,
        };
        for record in &records {
            shared.count(record, &self.config.objective);
        }
        if has_state {
            let text =
                std::fs::read_to_string(&state_path).map_err(ExperimentError::io(&state_path))?;
            let snapshot: Snapshot = serde_json::from_str(&text)
                .map_err(|e| ExperimentError::Resume(format!("{}: {e}", state_path.display())))?;
            if snapshot.space != self.space_hash {
                return Err(ExperimentError::Resume(format!(
                    "{} was run on another search space",
                    self.dir.display()
                )));
            }
            shared.strategy.restore(snapshot.strategy)?;
            let finished: BTreeMap<u64, &TrialRecord> = records
                .iter()
                .filter(|r| r.status != Status::Invalid)
                .map(|r| (r.id, r))
                .collect();
            for (id, sample) in snapshot.pending {
                match finished.get(&id) {
                    // Logged after the last snapshot: the strategy has not heard of it yet.
                    Some(record) => shared.strategy.tell(&sample, &result_of(record)),
                    None => shared.rerun.push_back((id, sample)),
                }
            }
            shared.next_id = snapshot.next_id;
        }
        shared.started = shared.progress.evaluated;
        Ok(shared)
    }

    fn worker(&self, shared: &Mutex<Shared<'a>>, began: Instant) {
        loop {
            let job = {
                let mut guard = lock(shared);
                self.next_job(&mut guard, began)
            };
            let Job::Evaluate(id, sample, costs, notes) = job else {
                return;
            };
            let record = self
                .evaluate(shared, id, sample, costs)
                .map(|record| TrialRecord { notes, ..record });
            let mut guard = lock(shared);
            match record {
                Ok(record) => self.finish(&mut guard, record),
                // The trial stays pending: a resumed run runs it again.
                Err(e) => {
                    guard.error.get_or_insert(e);
                }
            }
        }
    }

    fn next_job(&self, shared: &mut Shared<'a>, began: Instant) -> Job {
        loop {
            if shared.error.is_some() || shared.stop.is_some() {
                return Job::Done;
            }
            if self.stop.is_requested() {
                shared.stop = Some(StopReason::Interrupted);
                return Job::Done;
            }
            if shared.started >= self.config.max_trials {
                shared.stop = Some(StopReason::Trials);
                return Job::Done;
            }
            if self
                .config
                .max_duration
                .is_some_and(|limit| began.elapsed() >= limit)
            {
                shared.stop = Some(StopReason::Time);
                return Job::Done;
            }
            if let Some((id, sample)) = shared.rerun.pop_front() {
                shared.started += 1;
                shared.pending.insert(id, sample.clone());
                return Job::Evaluate(id, sample, Metrics::new(), Vec::new());
            }
            let proposal = match shared.strategy.ask(&self.space) {
                Ok(Some(proposal)) => proposal,
                Ok(None) => {
                    shared.stop = Some(StopReason::Exhausted);
                    return Job::Done;
                }
                Err(e) => {
                    shared.error = Some(e.into());
                    return Job::Done;
                }
            };
            let notes = shared.strategy.take_notes();
            let id = shared.next_id;
            shared.next_id += 1;
            match proposal {
                Proposal::Evaluate { sample, costs } => {
                    shared.started += 1;
                    shared.pending.insert(id, sample.clone());
                    if let Err(e) = self.save(shared) {
                        shared.error = Some(e);
                        return Job::Done;
                    }
                    return Job::Evaluate(id, sample, costs, notes);
                }
                Proposal::Resolved {
                    sample,
                    reason,
                    mut costs,
                    ..
                } => {
                    // Only for the log: a sample that cannot be priced keeps what it has, and
                    // its reason says why (a budget's `unpriced`).
                    let _ = self.costs.complete(&sample, &mut costs);
                    let record = TrialRecord {
                        id,
                        sample,
                        status: Status::Invalid,
                        metrics: costs,
                        reason: Some(reason),
                        error: None,
                        intermediate: Vec::new(),
                        stopped_early: false,
                        seed: self.trial_seed(id),
                        started_at: unix_now(),
                        duration_s: 0.0,
                        slurm_job_id: None,
                        notes,
                    };
                    if let Err(e) = self.write(shared, &record).and_then(|_| self.save(shared)) {
                        shared.error = Some(e);
                        return Job::Done;
                    }
                }
            }
        }
    }

    fn trial_seed(&self, id: u64) -> u64 {
        self.config.seed ^ id.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Evaluates one trial outside the lock; every way it can go wrong ends in the record, but
    /// an evaluator's [`AbortSearch`], which stops the run.
    fn evaluate(
        &self,
        shared: &Mutex<Shared<'a>>,
        id: u64,
        sample: Sample,
        mut metrics: Metrics,
    ) -> Result<TrialRecord, ExperimentError> {
        let seed = self.trial_seed(id);
        let started_at = unix_now();
        let clock = Instant::now();
        let report = |trial: u64, step: usize, value: f64| {
            lock(shared).strategy.intermediate(trial, step, value)
        };
        let context = TrialContext::new(id, seed, &report);
        let outcome = match self.costs.complete(&sample, &mut metrics) {
            Err(e) => Err(format!("cannot price {e}")),
            Ok(()) => {
                match catch_unwind(AssertUnwindSafe(|| {
                    self.evaluator.evaluate(&sample, &context)
                })) {
                    Ok(Ok(evaluated)) => Ok(evaluated),
                    Ok(Err(e)) if e.is::<AbortSearch>() => {
                        return Err(ExperimentError::Failed(e.to_string()));
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(panic) => Err(format!("the evaluator panicked: {}", panic_message(&panic))),
                }
            }
        };
        let (intermediate, stopped_early, slurm_job_id) = context.finish();
        let (status, error) = match outcome.and_then(|evaluated| {
            judge(
                &metrics,
                evaluated,
                &self.config.objective,
                self.config.target.as_ref(),
            )
        }) {
            Ok(judged) => {
                metrics = judged;
                (Status::Ok, None)
            }
            Err(message) => (Status::Failed, Some(message)),
        };
        Ok(TrialRecord {
            id,
            sample,
            status,
            metrics,
            reason: None,
            error,
            intermediate,
            stopped_early,
            seed,
            started_at,
            duration_s: clock.elapsed().as_secs_f64(),
            slurm_job_id,
            notes: Vec::new(),
        })
    }

    fn finish(&self, shared: &mut Shared<'a>, record: TrialRecord) {
        shared.strategy.tell(&record.sample, &result_of(&record));
        shared.pending.remove(&record.id);
        let written = self.write(shared, &record).and_then(|improved| {
            self.save(shared)?;
            if improved {
                self.write_best(&record.sample)
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            shared.error = Some(e);
        }
    }

    /// Appends a record to the log and the counters; true when it is the new best.
    fn write(
        &self,
        shared: &mut Shared<'a>,
        record: &TrialRecord,
    ) -> Result<bool, ExperimentError> {
        if !shared.logged.insert(record.id) {
            // Re-proposed after a crash between logging and saving: logged already.
            return Ok(false);
        }
        let improved = shared.count(record, &self.config.objective);
        shared.progress.elapsed = shared.began.elapsed();
        let mut line = serde_json::to_string(record).expect("a record always serializes");
        line.push('\n');
        let path = self.log_path();
        shared
            .log
            .write_all(line.as_bytes())
            .map_err(ExperimentError::io(&path))?;
        shared.log.flush().map_err(ExperimentError::io(&path))?;
        if let Some(observer) = shared.observer.as_mut() {
            observer(&shared.progress, record);
        }
        Ok(improved)
    }

    fn save(&self, shared: &Shared<'a>) -> Result<(), ExperimentError> {
        let snapshot = Snapshot {
            space: self.space_hash,
            seed: self.config.seed,
            next_id: shared.next_id,
            pending: shared.pending.clone(),
            strategy: shared.strategy.save()?,
        };
        let text = serde_json::to_string(&snapshot).expect("a snapshot always serializes");
        write_atomic(&self.dir.join(STATE_FILE), text.as_bytes())
    }

    fn write_best(&self, sample: &Sample) -> Result<(), ExperimentError> {
        write_json(&self.dir.join(BEST_FILE), sample)
    }
}

impl Shared<'_> {
    /// Adds a record to the counters; true when it is the new best.
    fn count(&mut self, record: &TrialRecord, objective: &Objective) -> bool {
        match record.status {
            Status::Invalid => {
                self.progress.rejected += 1;
                false
            }
            Status::Failed => {
                self.progress.evaluated += 1;
                self.progress.failed += 1;
                false
            }
            Status::Ok => {
                self.progress.evaluated += 1;
                let Some(key) = objective.key(&record.metrics) else {
                    return false;
                };
                if self.best.as_ref().is_some_and(|(best, _)| *best >= key) {
                    return false;
                }
                self.best = Some((key, record.clone()));
                self.progress.best = objective.value(&record.metrics);
                true
            }
        }
    }
}

/// The identity of a search space: a hash of its labels, choices and constraints.
fn space_hash(space: &SearchSpace) -> u64 {
    let json = serde_json::to_string(space).expect("a space always serializes");
    xxhash_rust::xxh3::xxh3_64(json.as_bytes())
}

/// What the strategy is told about a finished record.
fn result_of(record: &TrialRecord) -> TrialResult {
    TrialResult {
        status: record.status,
        metrics: record.metrics.clone(),
    }
}

fn lock<'m, T>(mutex: &'m Mutex<T>) -> std::sync::MutexGuard<'m, T> {
    // A worker that panicked while holding the lock left consistent data behind: every update
    // under it is a few assignments.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

/// Writes through a temporary file and a rename, so a crash leaves the old or the new file.
/// Writes `value` to `path` as pretty JSON with a final newline, whole or not at all.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ExperimentError> {
    let mut text = serde_json::to_string_pretty(value).expect("settings and results serialize");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    // Beside the file under a name of its own: `ID.json` and `ID.job` must not share one, nor
    // two processes writing the same file.
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes).map_err(ExperimentError::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(ExperimentError::io(path))
}

/// The metrics of an evaluated trial: its `costs`, what the evaluator reported and, with a
/// soft `target`, the reward; an error when the `objective` is missing or not finite.
pub(crate) fn judge(
    costs: &Metrics,
    evaluated: Metrics,
    objective: &Objective,
    target: Option<&SoftTarget>,
) -> Result<Metrics, String> {
    let mut metrics = costs.clone();
    metrics.extend(evaluated);
    if let Some(reward) = target.and_then(|target| target.reward(&metrics)) {
        metrics.insert(REWARD.to_string(), reward);
    }
    match metrics.get(&objective.metric) {
        Some(value) if value.is_finite() => Ok(metrics),
        Some(value) => Err(format!("`{}` is {value}", objective.metric)),
        None => Err(format!("the evaluator reported no `{}`", objective.metric)),
    }
}
