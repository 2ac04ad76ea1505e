//! Middleware: layers around a strategy that discard, penalise, deduplicate, retry, repeat or
//! stop its trials, before and while training is spent on them.
//!
//! A [`Middleware`] sees each proposal on its way out and each result on its way in; a [`Chain`]
//! stacks layers over a strategy and is itself a [`Strategy`](hwnas_strategy::Strategy). Like `hwnas-strategy` the crate is
//! burn-free: a hardware budget enters as a predicate over samples, typically a precomputed
//! profiler that answers in a microsecond.
//!
//! ```
//! use hwnas_middleware::{Chain, Filter};
//! use hwnas_space::{Choice, SearchSpace};
//! use hwnas_strategy::{Proposal, RegularizedEvolution, Strategy};
//!
//! let space = SearchSpace::new(vec![Choice::new("width", [16, 32, 64, 128])], vec![])?;
//! let within_budget = |s: &hwnas_space::Sample| s.get("width").and_then(|w| w.as_i64()) <= Some(32);
//! let mut search = Chain::new(RegularizedEvolution::default()).then(Filter::new(within_budget));
//! for _ in 0..4 {
//!     match search.ask(&space)? {
//!         Some(Proposal::Evaluate(sample)) => assert!(within_budget(&sample)),
//!         Some(Proposal::Resolved { reason, .. }) => assert_eq!(reason, "filter"),
//!         None => break,
//!     }
//! }
//! # Ok::<(), hwnas_strategy::StrategyError>(())
//! ```

mod chain;
mod dedup;
mod failure;
mod filter;
mod median_stop;
mod repeat;

pub use chain::{Chain, Middleware};
pub use dedup::{DUPLICATE_REASON, Deduplication};
pub use failure::{FailureHandler, FailurePolicy};
pub use filter::{DEFAULT_PATIENCE, FILTER_REASON, Filter, FilterCounts, FilterMode};
pub use hwnas_space::Sample;
pub use median_stop::MedianStop;
pub use repeat::MultipleEvaluation;
