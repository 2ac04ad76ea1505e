//! Middleware: layers around a strategy that discard, penalise, deduplicate, retry, repeat or
//! stop its trials, before and while training is spent on them.
//!
//! A [`Middleware`] sees each proposal on its way out and each result on its way in; a [`Chain`]
//! stacks layers over a strategy and is itself a [`Strategy`](hwnas_strategy::Strategy). Like
//! `hwnas-strategy` the crate is burn-free: a hardware budget ([`Budget`]) prices samples through
//! [`Costs`](hwnas_profiler::Costs), typically precomputed tables that answer in a microsecond,
//! and the priced metrics travel with each proposal into its trial's record.
//!
//! ```
//! use hwnas_middleware::{Budget, Chain};
//! use hwnas_profiler::{Costs, from_fn};
//! use hwnas_space::{Choice, SearchSpace};
//! use hwnas_strategy::{Proposal, Reason, RegularizedEvolution, Strategy};
//!
//! let space = SearchSpace::new(vec![Choice::new("width", [16, 32, 64, 128])], vec![])?;
//! let width = from_fn(|s| Ok(s.get("width").and_then(|w| w.as_f64()).unwrap_or(f64::NAN)));
//! let costs = Costs::new().with("width", width);
//! let budget = Budget::new().max("width", 32.0).filter(&costs)?;
//! let mut search = Chain::new(RegularizedEvolution::default()).then(budget);
//! for _ in 0..4 {
//!     match search.ask(&space)? {
//!         Some(Proposal::Evaluate { costs, .. }) => assert!(costs["width"] <= 32.0),
//!         Some(Proposal::Resolved { reason, .. }) => assert_eq!(reason, Reason::OverBudget),
//!         None => break,
//!     }
//! }
//! # Ok::<(), hwnas_strategy::StrategyError>(())
//! ```

mod budget;
mod chain;
mod dedup;
mod failure;
mod filter;
mod median_stop;
mod repeat;

pub use budget::Budget;
pub use chain::{Chain, Middleware};
pub use dedup::Deduplication;
pub use failure::{FailureHandler, FailurePolicy};
pub use filter::{DEFAULT_PATIENCE, Filter, FilterCounts, FilterMode};
pub use hwnas_space::Sample;
pub use median_stop::MedianStop;
pub use repeat::MultipleEvaluation;
