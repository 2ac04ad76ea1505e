//! Profilers: a metric for any sample of a space, almost instantly.
//!
//! A profiler is built once from a [`ModelSpace`](hwnas_space::ModelSpace) and an input shape.
//! Building reads the space's one declaration (the same one that freezes burn modules) and
//! precomputes a [`CountTable`]; a query then validates the sample and adds a few table entries.
//! Counting is exact integer arithmetic under the reference toolkit's convention
//! ([`CountOptions`]); [`count_architecture`] is the direct, layer-by-layer path the tables are
//! checked against.
//!
//! ```
//! use hwnas_profiler::{CountOptions, CountProfiler, Profiler};
//! use hwnas_space::hub;
//!
//! let space = hub::space("nasbench201")?;
//! let profiler = CountProfiler::new(&space, space.input(), CountOptions::default())?;
//! let sample = hwnas_space::Sample::from_json(
//!     r#"{"cell/0_1": "none", "cell/0_2": "conv_3x3", "cell/1_2": "conv_3x3",
//!         "cell/0_3": "avg_pool_3x3", "cell/1_3": "conv_3x3", "cell/2_3": "none"}"#,
//! )?;
//! let counts = profiler.counts(&sample)?;
//! assert_eq!((counts.flops, counts.params), (116_322_954, 802_426));
//! assert_eq!(profiler.flops().profile(&sample)?, 116_322_954.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod costs;
mod count;
mod error;
mod extremes;
#[cfg(feature = "burn")]
mod fingerprint;
pub mod fit;
#[cfg(feature = "burn")]
mod fitted;
#[cfg(feature = "burn")]
mod latency;
mod live;
#[cfg(feature = "burn")]
mod predictor;
mod profiler;
mod proxy;
#[cfg(feature = "burn")]
mod proxy_score;
pub mod rank;
#[cfg(feature = "burn")]
mod runtime;
mod table;

pub use costs::{CostError, Costs};
pub use count::{CountOptions, Counts, count_architecture, count_live, layer_counts};
pub use error::ProfileError;
#[cfg(feature = "burn")]
pub use fingerprint::{BURN_VERSION, DeviceFingerprint};
#[cfg(feature = "burn")]
pub use fitted::{
    FitProvenance, MAX_LISTED_ARCHITECTURES, Measurement, grid_len, grid_position,
    read_measurements,
};
#[cfg(feature = "burn")]
pub use latency::{
    DEFAULT_INTERLEAVE, INTERLEAVED_VISIT, Latency, LatencyConfig, LatencyProfiler, Statistic,
    time_interleaved,
};
pub use live::LiveCountProfiler;
#[cfg(feature = "burn")]
pub use predictor::{
    Evaluated, LatencyPredictor, LatencyTableFile, LayerLatency, PredictorConfig, TABLE_VERSION,
    space_hash,
};
pub use profiler::{
    CountProfiler, FlopsProfiler, FnProfiler, NumParamsProfiler, Profiler, from_fn,
};
pub use proxy::Proxy;
#[cfg(feature = "burn")]
pub use proxy_score::{ProxyBatch, ProxyProfiler, score as proxy_scores};
#[cfg(feature = "burn")]
pub use runtime::{LatencyBackend, LatencyDevice, LoadedNetwork};
pub use table::{CountTable, LayerCost, LayerTable};
