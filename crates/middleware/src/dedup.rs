use std::sync::Arc;

use hwnas_space::{ModelSpace, Sample, SearchSpace};
use hwnas_strategy::{Proposal, Reason, Strategy, StrategyError, TrialResult};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Middleware;
use crate::filter::DEFAULT_PATIENCE;

/// Never evaluates a sample twice.
///
/// A repeat of a finished sample is settled without evaluation: `skip` tells the strategy it was
/// invalid, `replay` tells it the earlier result again. A repeat of a sample still being evaluated
/// is skipped in both modes. Samples are the same when their labels are, or, with
/// [`by_key`](Self::by_key), when their keys are (the network they build, say).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deduplication {
    replay: bool,
    patience: usize,
    consecutive: usize,
    /// Key -> number of evaluations in flight.
    pending: FxHashMap<u64, usize>,
    finished: FxHashMap<u64, TrialResult>,
    /// The samples in flight with their keys, so that a result is filed without computing its
    /// key again; after a restore, keys are computed.
    #[serde(skip)]
    in_flight: Vec<(Sample, u64)>,
    /// Supplied again by whoever restores the state, so not part of it.
    #[serde(skip)]
    key: Key,
}

type KeyFn = dyn Fn(&Sample) -> Option<u64> + Send + Sync;

/// What makes two samples one evaluation; the labels' stable hash without a function.
#[derive(Clone, Default)]
struct Key(Option<Arc<KeyFn>>);

impl Key {
    fn of(&self, sample: &Sample) -> u64 {
        self.0
            .as_ref()
            .and_then(|key| key(sample))
            .unwrap_or_else(|| sample.stable_hash())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Key(custom)"
        } else {
            "Key(labels)"
        })
    }
}

impl Deduplication {
    /// Duplicates are told invalid.
    pub fn skip() -> Self {
        Self {
            replay: false,
            patience: DEFAULT_PATIENCE,
            consecutive: 0,
            pending: FxHashMap::default(),
            finished: FxHashMap::default(),
            in_flight: Vec::new(),
            key: Key::default(),
        }
    }

    /// Duplicates are told the earlier result.
    pub fn replay() -> Self {
        Self {
            replay: true,
            ..Self::skip()
        }
    }

    /// Samples with the same `key` are one evaluation (`None`: the sample's labels decide), e.g.
    /// [`ModelSpace::architecture_hash`] (see [`per_network`](Self::per_network)). The key is not saved with the state: give it again before
    /// restoring.
    pub fn by_key(mut self, key: impl Fn(&Sample) -> Option<u64> + Send + Sync + 'static) -> Self {
        self.key = Key(Some(Arc::new(key)));
        self
    }

    /// Duplicates are told the earlier result, and samples are the same when they build the same
    /// network of `space` ([`ModelSpace::architecture_hash`]): a network is trained once even
    /// when proposed under choices it never reads.
    pub fn per_network(space: ModelSpace) -> Self {
        Self::replay().by_key(move |sample| space.architecture_hash(sample).ok())
    }

    /// Consecutive duplicates after which the search stops with [`StrategyError::Patience`].
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience.max(1);
        self
    }
}

impl Middleware for Deduplication {
    fn ask(
        &mut self,
        inner: &mut dyn Strategy,
        space: &SearchSpace,
    ) -> Result<Option<Proposal>, StrategyError> {
        let (sample, costs) = match inner.ask(space)? {
            Some(Proposal::Evaluate { sample, costs }) => (sample, costs),
            other => return Ok(other),
        };
        let hash = self.key.of(&sample);
        let result = match self.finished.get(&hash) {
            Some(earlier) if self.replay => earlier.clone(),
            Some(_) => TrialResult::invalid(),
            None if self.pending.contains_key(&hash) => TrialResult::invalid(),
            None => {
                self.consecutive = 0;
                *self.pending.entry(hash).or_default() += 1;
                self.in_flight.push((sample.clone(), hash));
                return Ok(Some(Proposal::Evaluate { sample, costs }));
            }
        };
        inner.tell(&sample, &result);
        self.consecutive += 1;
        if self.consecutive >= self.patience {
            return Err(StrategyError::Patience {
                middleware: "deduplication",
                rejected: self.consecutive,
            });
        }
        Ok(Some(Proposal::Resolved {
            sample,
            result,
            reason: Reason::Duplicate,
            costs,
        }))
    }

    fn tell(&mut self, inner: &mut dyn Strategy, sample: &Sample, result: &TrialResult) {
        let hash = match self.in_flight.iter().position(|(s, _)| s == sample) {
            Some(at) => self.in_flight.swap_remove(at).1,
            None => self.key.of(sample),
        };
        if let Some(n) = self.pending.get_mut(&hash) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(&hash);
            }
        }
        self.finished.insert(hash, result.clone());
        inner.tell(sample, result)
    }

    fn save(&self) -> Result<Value, StrategyError> {
        serde_json::to_value(self).map_err(StrategyError::state)
    }

    fn restore(&mut self, state: Value) -> Result<(), StrategyError> {
        let key = std::mem::take(&mut self.key);
        *self = serde_json::from_value(state).map_err(StrategyError::state)?;
        self.key = key;
        Ok(())
    }
}
