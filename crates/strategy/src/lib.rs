//! Search strategies: they propose samples of a [`SearchSpace`] and learn from the results.
//!
//! Every strategy speaks the same ask/tell protocol ([`Strategy`]): `ask` proposes, the caller
//! evaluates however and wherever it likes, and `tell`s the metrics back, with any number of
//! trials in flight. State is plain data (`save`/`restore`), random number generators are seeded,
//! and the crate depends on the burn-free vocabulary of `hwnas-space` only: a search loop
//! compiles in seconds, and the hardware enters through metrics (FLOPs, latency) the caller adds.
//!
//! One-shot search, which trains a burn supernet, lives behind the `oneshot` feature
//! ([`oneshot`]); [`RangeFilter`], the sampler it uses, stays burn-free.
//!
//! ```
//! use hwnas_space::{Choice, SearchSpace};
//! use hwnas_strategy::{EvolutionConfig, Metrics, Proposal, Strategy, TrialResult};
//!
//! let choices = vec![Choice::new("width", [8, 16, 32, 64]), Choice::new("depth", [1, 2, 3])];
//! let space = SearchSpace::new(choices, vec![])?;
//! let config = EvolutionConfig { population_size: 4, sample_size: 2, ..Default::default() };
//! let mut evolution = config.init()?;
//! for _ in 0..10 {
//!     let Some(Proposal::Evaluate { sample, .. }) = evolution.ask(&space)? else { break };
//!     // A stand-in for training: wider and deeper is more accurate.
//!     let width = sample.get("width").and_then(|v| v.as_f64()).unwrap();
//!     let depth = sample.get("depth").and_then(|v| v.as_f64()).unwrap();
//!     let metrics = Metrics::from([("accuracy".to_string(), width * depth)]);
//!     evolution.tell(&sample, &TrialResult::ok(metrics));
//! }
//! # Ok::<(), hwnas_strategy::StrategyError>(())
//! ```

mod config;
mod evolution;
mod grid;
mod guide;
mod guided;
mod local;
#[cfg(feature = "oneshot")]
pub mod oneshot;
pub mod pareto;
mod random;
mod range;
mod reinforce;
mod strategy;
mod surrogate;
mod target;
mod tpe;
mod trial;
mod variation;

pub use config::{StrategyConfig, StrategyName};
pub use evolution::{EvolutionConfig, RegularizedEvolution};
pub use grid::{GridSearch, MAX_SHUFFLED_GRID};
pub use guide::{Bound, Guide, MAX_ADMISSION_DRAWS};
pub use guided::{Guided, GuidedConfig};
pub use hwnas_space::{Sample, SearchSpace};
pub use local::{LocalConfig, LocalSearch};
pub use pareto::{ParetoConfig, ParetoEvolution};
pub use random::Random;
pub use range::RangeFilter;
pub use reinforce::{Reinforce, ReinforceConfig};
pub use strategy::{Strategy, StrategyError};
pub use target::{REWARD, SoftTarget};
pub use tpe::{Tpe, TpeConfig};
pub use variation::MAX_BREED_TRIES;
/// Consecutive rejections after which a [`RangeFilter`] gives up.
pub const DEFAULT_RANGE_PATIENCE: usize = 1000;

pub use trial::{Decision, Direction, Metrics, Objective, Proposal, Reason, Status, TrialResult};
