use hwnas_space::{Sample, SearchSpace};
use hwnas_strategy::{Decision, Guide, Proposal, Strategy, StrategyError, TrialResult};
use serde_json::{Value, json};

/// A layer around a strategy: sees every proposal on its way out and every result on its way in.
///
/// `inner` is everything below the layer (further middleware, then the strategy); a middleware
/// that settles a proposal itself tells `inner` and returns [`Proposal::Resolved`].
pub trait Middleware: Send {
    /// The next proposal.
    fn ask(
        &mut self,
        inner: &mut dyn Strategy,
        space: &SearchSpace,
    ) -> Result<Option<Proposal>, StrategyError> {
        inner.ask(space)
    }

    /// The result of an evaluated sample.
    fn tell(&mut self, inner: &mut dyn Strategy, sample: &Sample, result: &TrialResult) {
        inner.tell(sample, result)
    }

    /// An intermediate metric of a running trial.
    fn intermediate(
        &mut self,
        inner: &mut dyn Strategy,
        trial_id: u64,
        step: usize,
        value: f64,
    ) -> Decision {
        inner.intermediate(trial_id, step, value)
    }

    /// The layer's own state (`null` when it keeps none).
    fn save(&self) -> Result<Value, StrategyError> {
        Ok(Value::Null)
    }

    /// Replaces the layer's own state with a saved one.
    fn restore(&mut self, state: Value) -> Result<(), StrategyError> {
        let _ = state;
        Ok(())
    }
}

/// A strategy wrapped in middleware, itself a strategy. Layers apply in the order they are added:
/// the first `then` sees the strategy's proposals first, the last one hands them to the caller.
///
/// ```
/// use hwnas_middleware::{Chain, Deduplication, Filter};
/// use hwnas_profiler::{Costs, from_fn};
/// use hwnas_space::{Choice, SearchSpace};
/// use hwnas_strategy::{Proposal, Random, Strategy};
///
/// let space = SearchSpace::new(vec![Choice::new("width", [8, 16, 32, 64])], vec![])?;
/// let width = from_fn(|s| Ok(s.get("width").and_then(|v| v.as_f64()).unwrap_or(f64::NAN)));
/// let narrow = Filter::new(Costs::new().with("width", width), |costs| costs["width"] <= 16.0);
/// let mut search = Chain::new(Random::new(7).with_dedup(false))
///     .then(narrow)
///     .then(Deduplication::skip());
/// let mut evaluated = Vec::new();
/// while evaluated.len() < 2 {
///     if let Some(Proposal::Evaluate { sample, .. }) = search.ask(&space)? {
///         evaluated.push(sample.get("width").and_then(|v| v.as_i64()).unwrap());
///     }
/// }
/// evaluated.sort();
/// assert_eq!(evaluated, [8, 16]);
/// # Ok::<(), hwnas_strategy::StrategyError>(())
/// ```
pub struct Chain {
    strategy: Box<dyn Strategy>,
    layers: Vec<Box<dyn Middleware>>,
}

impl Chain {
    /// A chain with no layers yet.
    pub fn new(strategy: impl Strategy + 'static) -> Self {
        Self {
            strategy: Box::new(strategy),
            layers: Vec::new(),
        }
    }

    /// Adds a layer on the outside.
    pub fn then(mut self, layer: impl Middleware + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    fn below(&mut self) -> Below<'_> {
        Below {
            layers: &mut self.layers,
            strategy: &mut *self.strategy,
        }
    }
}

impl Strategy for Chain {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        self.below().ask(space)
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        self.below().tell(sample, result)
    }

    fn intermediate(&mut self, trial_id: u64, step: usize, value: f64) -> Decision {
        self.below().intermediate(trial_id, step, value)
    }

    fn guide(&mut self, guide: Guide) {
        self.strategy.guide(guide)
    }

    fn take_notes(&mut self) -> Vec<String> {
        self.strategy.take_notes()
    }

    fn save(&self) -> Result<Value, StrategyError> {
        let layers: Result<Vec<Value>, _> = self.layers.iter().map(|l| l.save()).collect();
        Ok(json!({ "strategy": self.strategy.save()?, "middleware": layers? }))
    }

    fn restore(&mut self, mut state: Value) -> Result<(), StrategyError> {
        let layers = match state["middleware"].take() {
            Value::Array(layers) if layers.len() == self.layers.len() => layers,
            _ => {
                return Err(StrategyError::State(format!(
                    "the saved chain does not have {} middleware layers",
                    self.layers.len()
                )));
            }
        };
        self.strategy.restore(state["strategy"].take())?;
        for (layer, saved) in self.layers.iter_mut().zip(layers) {
            layer.restore(saved)?;
        }
        Ok(())
    }
}

/// The strategy and the layers under one of them, seen as one strategy.
struct Below<'a> {
    layers: &'a mut [Box<dyn Middleware>],
    strategy: &'a mut dyn Strategy,
}

impl Strategy for Below<'_> {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        match self.layers.split_last_mut() {
            None => self.strategy.ask(space),
            Some((outer, rest)) => outer.ask(
                &mut Below {
                    layers: rest,
                    strategy: &mut *self.strategy,
                },
                space,
            ),
        }
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        match self.layers.split_last_mut() {
            None => self.strategy.tell(sample, result),
            Some((outer, rest)) => outer.tell(
                &mut Below {
                    layers: rest,
                    strategy: &mut *self.strategy,
                },
                sample,
                result,
            ),
        }
    }

    fn intermediate(&mut self, trial_id: u64, step: usize, value: f64) -> Decision {
        match self.layers.split_last_mut() {
            None => self.strategy.intermediate(trial_id, step, value),
            Some((outer, rest)) => {
                let mut inner = Below {
                    layers: rest,
                    strategy: &mut *self.strategy,
                };
                outer.intermediate(&mut inner, trial_id, step, value)
            }
        }
    }

    // A chain saves its parts itself; the view is never saved on its own.
    fn save(&self) -> Result<Value, StrategyError> {
        Err(StrategyError::State(
            "save the chain, not a layer of it".into(),
        ))
    }

    fn restore(&mut self, _state: Value) -> Result<(), StrategyError> {
        Err(StrategyError::State(
            "restore the chain, not a layer of it".into(),
        ))
    }
}
