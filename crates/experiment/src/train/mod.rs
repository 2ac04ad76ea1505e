//! Training on burn autodiff, and the data it trains on.
//!
//! [`TrainingData`] reads the data a [`DataConfig`](crate::DataConfig) names (an image folder,
//! CIFAR batches, IDX files, or the embedded default: the 1,797 8x8 handwritten digits that
//! `smartcore` ships), splits it into train, validation and test, and brings it to a space's
//! input. [`TrainingEvaluator`] freezes a sample on an autodiff
//! [`Device`](burn::tensor::Device), trains it with one of burn's optimizers over burn's data
//! loader, and reports validation accuracy after every epoch (so middleware such as median
//! stopping can end it early). [`TrainRun`] trains one chosen architecture to the end, resumable
//! from any epoch, and tests it.

mod data;
mod evaluator;
mod fit;
mod oneshot;
mod proxy;
mod retrain;
mod search;

use burn::data::dataloader::DataLoader;
use hwnas_space::module::Network;

use crate::EvaluationError;

pub use crate::{OptimizerKind, Schedule, TrainingConfig};
pub use data::{
    EpochImages, ImageBatch, ImageBatcher, ImageItem, ImageSet, TrainingData, digits, loader,
};
pub use evaluator::TrainingEvaluator;
pub use oneshot::{
    ARCHITECTURE_WEIGHTS, EpochRecord, ONESHOT_SETTINGS, OneShotRun, OneShotRunConfig,
    OneShotRunError, OneShotSummary, SUPERNET_LOG, SUPERNET_WEIGHTS,
};
pub use proxy::{PROXY_BATCH, ProxyReport, ProxyRow, ProxyStudy, proxy_batch};
pub use retrain::{
    CHECKPOINTS, EPOCHS_LOG, EpochLine, MODEL_FILE, ModelFile, RESULT_FILE, TRAIN_SETTINGS,
    TrainResult, TrainRun, TrainRunConfig, TrainRunError, WEIGHTS_FILE, load_network,
};
pub use search::{TEST_FILE, WEIGHTS_DIR};

/// Share of the images of `loader` that `network` classifies correctly.
pub fn accuracy(
    network: &Network,
    loader: &dyn DataLoader<ImageBatch>,
) -> Result<f64, EvaluationError> {
    let (mut correct, mut total) = (0i64, 0usize);
    for batch in loader.iter() {
        let batch = batch?;
        total += batch.targets.dims()[0];
        let predicted = network
            .forward_logits(batch.images)?
            .argmax(1)
            .squeeze_dim::<1>(1);
        correct += predicted
            .equal(batch.targets)
            .int()
            .sum()
            .into_scalar::<i64>();
    }
    Ok(correct as f64 / total.max(1) as f64)
}
