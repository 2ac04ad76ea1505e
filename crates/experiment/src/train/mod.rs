//! Training evaluation on burn autodiff, and the embedded data it trains on.
//!
//! [`TrainingEvaluator`] freezes a sample on an autodiff [`Device`](burn::tensor::Device), trains
//! it with one of burn's optimizers over burn's data loader, and reports validation accuracy after
//! every epoch (so middleware such as median stopping can end it early). [`ImageSet::digits`] is
//! the embedded default: the 1,797 8x8 handwritten digits that `smartcore` ships, no network
//! needed.

mod data;
mod evaluator;

pub use data::{ImageBatch, ImageBatcher, ImageItem, ImageSet};
pub use evaluator::{OptimizerKind, Schedule, TrainingConfig, TrainingEvaluator};
