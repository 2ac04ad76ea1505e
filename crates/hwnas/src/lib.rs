//! hwnas: hardware-aware neural architecture search on burn.
//!
//! This facade re-exports the workspace's crates under one name and owns the `hwnas` command
//! line. Each crate stays usable alone: `hwnas-space` and `hwnas-profiler` need no search code,
//! and `hwnas-strategy` and `hwnas-middleware` need no burn.
//!
//! ```
//! use hwnas::profiler::{CountOptions, CountProfiler};
//! use hwnas::space::hub;
//!
//! let space = hub::space("proxylessnas")?;
//! let profiler = CountProfiler::new(&space, space.input(), CountOptions::default())?;
//! let sample = space.search_space().default_sample()?;
//! assert!(profiler.counts(&sample)?.flops > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole search is one [`SearchConfig`](experiment::SearchConfig), as in the README (this one
//! trains, so it is only compiled here):
//!
//! ```no_run
//! use hwnas::experiment::{SearchConfig, Stop};
//! use hwnas::space::metric;
//!
//! let mut search = SearchConfig::new("mobile-micro"); // evolution, digits, 30 trials on flex
//! search.budget = search.budget.max(metric::FLOPS, 300e3);
//! search.trials = 20;
//! let summary = search.run("runs/a".as_ref(), false, &Stop::new(), |_, _| {})?;
//! println!("{}", summary.best.unwrap().sample);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use hwnas_data as data;
pub use hwnas_experiment as experiment;
pub use hwnas_middleware as middleware;
pub use hwnas_profiler as profiler;
pub use hwnas_space as space;
pub use hwnas_strategy as strategy;
