//! Search strategies: they propose samples of a [`SearchSpace`] and
//! learn from the results.
//!
//! The crate depends on the burn-free vocabulary of `hwnas-space` only (no burn), so a search
//! loop compiles in seconds and runs anywhere; evaluation happens elsewhere. The strategies
//! themselves (random, grid, regularized evolution, Pareto) are not written yet: this crate holds
//! the place and the dependency boundary.
//!
//! ```
//! use hwnas_space::{Choice, SearchSpace};
//!
//! let space = SearchSpace::new(vec![Choice::new("kernel", [3, 5, 7])], vec![])?;
//! assert_eq!(space.grid().count(), 3);
//! # Ok::<(), hwnas_space::SpaceError>(())
//! ```

pub use hwnas_space::{Sample, SearchSpace};
