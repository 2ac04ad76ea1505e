use hwnas_space::{Sample, SearchSpace, SpaceError};

use crate::{Decision, Guide, Proposal, TrialResult};

/// Why a strategy could not propose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// The space rejected a sample or could not be sampled.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A middleware rejected every proposal for too long.
    #[error(
        "{middleware} rejected the last {rejected} proposals in a row: the budget admits (almost) \
         nothing the strategy proposes; loosen it"
    )]
    Patience {
        /// The middleware that gave up (`"filter"`, `"deduplication"`).
        middleware: &'static str,
        /// How many consecutive proposals it rejected.
        rejected: usize,
    },
    /// No sample the strategy drew fits the budget.
    #[error("none of {draws} samples tried fits the budget ({budget}): {reach}; loosen it")]
    Infeasible {
        /// The budget's bounds.
        budget: String,
        /// How many samples were tried.
        draws: usize,
        /// What the space can reach, where the costs know (`no network of the space has fewer
        /// than 436,554 flops`), else that the budget admits (almost) nothing.
        reach: String,
    },
    /// A saved state does not fit this strategy.
    #[error("cannot restore the strategy state: {0}")]
    State(String),
    /// The strategy's settings are unusable.
    #[error("invalid strategy settings: {0}")]
    Config(String),
}

impl StrategyError {
    /// Wraps a serde error met while saving or restoring state.
    pub fn state(error: impl std::fmt::Display) -> Self {
        StrategyError::State(error.to_string())
    }
}

/// An ask/tell search strategy.
///
/// `ask` proposes, the caller evaluates and `tell`s the result, in any order and with any number
/// of trials in flight. The whole state is data: `save` and `restore` carry it across processes, so
/// an interrupted search resumes where it stopped.
pub trait Strategy: Send {
    /// The next proposal, or `None` when the strategy has nothing left to propose.
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError>;

    /// The result of an evaluated sample.
    fn tell(&mut self, sample: &Sample, result: &TrialResult);

    /// An intermediate metric of a running trial (an epoch's validation accuracy).
    fn intermediate(&mut self, trial_id: u64, step: usize, value: f64) -> Decision {
        let _ = (trial_id, step, value);
        Decision::Continue
    }

    /// What the strategy may know of a sample before training it: costs read from tables and,
    /// where the budget bounds only those, which samples it admits. A strategy that uses it
    /// proposes only admissible samples; the default ignores it. The guide is not part of the
    /// saved state: `restore` keeps the one given.
    fn guide(&mut self, guide: Guide) {
        let _ = guide;
    }

    /// Notes on how the last proposals were made that a log should keep (a mutation that found
    /// no admissible child and fell back to a random sample), taken once.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// The state, as JSON.
    fn save(&self) -> Result<serde_json::Value, StrategyError>;

    /// Replaces the state with a saved one.
    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError>;
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        (**self).ask(space)
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        (**self).tell(sample, result)
    }

    fn intermediate(&mut self, trial_id: u64, step: usize, value: f64) -> Decision {
        (**self).intermediate(trial_id, step, value)
    }

    fn guide(&mut self, guide: Guide) {
        (**self).guide(guide)
    }

    fn take_notes(&mut self) -> Vec<String> {
        (**self).take_notes()
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        (**self).save()
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        (**self).restore(state)
    }
}

/// Saves a serializable state.
pub(crate) fn save_state<T: serde::Serialize>(
    state: &T,
) -> Result<serde_json::Value, StrategyError> {
    serde_json::to_value(state).map_err(StrategyError::state)
}

/// Restores a serializable state.
pub(crate) fn load_state<T: serde::de::DeserializeOwned>(
    state: serde_json::Value,
) -> Result<T, StrategyError> {
    serde_json::from_value(state).map_err(StrategyError::state)
}

/// Replaces `current` with a saved state run with the same settings (`same`), keeping the guide
/// of `current`, which is not part of the state; `what` names the strategy in the error.
pub(crate) fn restore_same<S: serde::de::DeserializeOwned>(
    current: &mut S,
    state: serde_json::Value,
    what: &str,
    same: impl Fn(&S, &S) -> bool,
    proposer: impl Fn(&mut S) -> &mut crate::variation::Proposer,
) -> Result<(), StrategyError> {
    let mut restored: S = load_state(state)?;
    if !same(&restored, current) {
        return Err(StrategyError::State(format!(
            "the saved {what} was run with other settings"
        )));
    }
    let guide = std::mem::take(&mut proposer(current).guide);
    proposer(&mut restored).guide = guide;
    *current = restored;
    Ok(())
}
