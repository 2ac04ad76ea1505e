//! Middleware: wrappers around a strategy that discard, penalise, deduplicate or repeat its
//! proposals before any training is spent on them.
//!
//! Like `hwnas-strategy` it is burn-free: a hardware budget enters as a predicate over samples
//! (typically a precomputed profiler), not as a network. The middleware themselves (`Filter`,
//! `Chain`, deduplication, failure handling) are not written yet: this crate holds the place and
//! the dependency boundary.
//!
//! ```
//! use hwnas_space::{Choice, Sample, SearchSpace};
//!
//! let space = SearchSpace::new(vec![Choice::new("width", [16, 32, 64])], vec![])?;
//! let within_budget = |sample: &Sample| sample.get("width").and_then(|w| w.as_i64()) <= Some(32);
//! assert_eq!(space.grid().filter(within_budget).count(), 2);
//! # Ok::<(), hwnas_space::SpaceError>(())
//! ```

pub use hwnas_space::Sample;
