use std::cell::RefCell;

use hwnas_space::Sample;
use hwnas_strategy::{Decision, Metrics};

/// Any error an evaluator returns; it becomes the `error` of a failed trial.
pub type EvaluationError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a sample into metrics: trains and validates it, or computes anything else.
///
/// A closure `Fn(&Sample, &TrialContext) -> Result<Metrics, EvaluationError>` is an evaluator. An
/// error, a panic or a non-finite objective fails the trial, never the experiment.
pub trait Evaluator: Send + Sync {
    /// The final metrics of `sample` (at least the experiment's objective).
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError>;
}

impl<F> Evaluator for F
where
    F: Fn(&Sample, &TrialContext<'_>) -> Result<Metrics, EvaluationError> + Send + Sync,
{
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        self(sample, context)
    }
}

/// What an evaluator knows about its trial, and its line back to the strategy.
pub struct TrialContext<'a> {
    id: u64,
    seed: u64,
    report: &'a (dyn Fn(u64, usize, f64) -> Decision + Sync),
    intermediate: RefCell<Vec<f64>>,
    stopped: RefCell<bool>,
    slurm_job: RefCell<Option<String>>,
}

impl<'a> TrialContext<'a> {
    pub(crate) fn new(
        id: u64,
        seed: u64,
        report: &'a (dyn Fn(u64, usize, f64) -> Decision + Sync),
    ) -> Self {
        Self {
            id,
            seed,
            report,
            intermediate: RefCell::default(),
            stopped: RefCell::default(),
            slurm_job: RefCell::default(),
        }
    }

    /// A context outside any experiment (every report continues), for running an evaluator alone.
    pub fn standalone(id: u64, seed: u64) -> TrialContext<'static> {
        TrialContext::new(id, seed, &|_, _, _| Decision::Continue)
    }

    /// The trial's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The trial's seed, derived from the experiment's seed and the trial id.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Reports an intermediate metric (an epoch's validation accuracy); `Stop` asks the evaluator
    /// to end the trial now and return its last metrics.
    pub fn report(&self, step: usize, value: f64) -> Decision {
        self.intermediate.borrow_mut().push(value);
        let decision = (self.report)(self.id, step, value);
        if decision == Decision::Stop {
            *self.stopped.borrow_mut() = true;
        }
        decision
    }

    /// The intermediate metrics reported so far.
    pub fn intermediate(&self) -> Vec<f64> {
        self.intermediate.borrow().clone()
    }

    /// Records the Slurm job that runs the trial (in its record's `slurm_job_id`).
    pub fn set_slurm_job(&self, id: &str) {
        *self.slurm_job.borrow_mut() = Some(id.to_string());
    }

    pub(crate) fn finish(self) -> (Vec<f64>, bool, Option<String>) {
        (
            self.intermediate.into_inner(),
            self.stopped.into_inner(),
            self.slurm_job.into_inner(),
        )
    }
}
