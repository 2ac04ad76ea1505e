//! One epoch of training, as the trials of a search and a final training run it.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use hwnas_space::module::Network;

use super::data::{ImageSet, loader, mix};
use crate::{EvaluationError, OptimizerKind, TrainingConfig};

/// Seeds the augmentation apart from the order.
const AUGMENT_STREAM: u64 = 0xA0_6E_17;

/// burn's optimizer the settings name, with their weight decay.
pub(crate) fn optimizer(config: &TrainingConfig) -> ModuleOptimizer {
    let decay =
        (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32));
    match config.optimizer {
        OptimizerKind::Sgd { momentum, nesterov } => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov),
            ))
            .with_weight_decay(decay)
            .init(),
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_weight_decay(config.weight_decay as f32)
            .init(),
    }
}

/// The loss the settings name (label smoothing, if any).
pub(crate) fn loss(config: &TrainingConfig, device: &Device) -> CrossEntropyLoss {
    let smoothing = (config.label_smoothing > 0.0).then_some(config.label_smoothing as f32);
    CrossEntropyLossConfig::new()
        .with_smoothing(smoothing)
        .init(device)
}

/// What an epoch measured on the images it trained on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EpochStats {
    /// Mean loss of its steps.
    pub loss: f64,
    /// Share of the training images the network classified correctly as it trained.
    pub train_accuracy: f64,
}

/// Trains `network` (on `device`, with autodiff) for epoch `epoch` of a run seeded `seed`: the
/// images in the epoch's own order and augmentation, so that any epoch can be run again alone.
/// `on_step` is called after every step with the steps done in the epoch and those in all; the
/// epoch ends early when it answers `false`.
pub(crate) fn train_epoch(
    mut network: Network,
    optimizer: &mut ModuleOptimizer,
    config: &TrainingConfig,
    train: &std::sync::Arc<ImageSet>,
    (seed, epoch): (u64, usize),
    device: &Device,
    on_step: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<(Network, EpochStats), EvaluationError> {
    let epoch_seed = mix(seed, epoch as u64);
    let augment = config
        .data
        .augment
        .then(|| mix(seed ^ AUGMENT_STREAM, epoch as u64));
    let batches = loader(train, config.batch_size, Some(epoch_seed), augment, device);
    let loss_function = loss(config, device);
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let (mut loss_sum, mut correct, mut seen, mut steps) = (0.0, 0i64, 0usize, 0usize);
    for batch in batches.iter() {
        let batch = batch?;
        let logits = network.forward_logits(batch.images)?;
        seen += batch.targets.dims()[0];
        correct += logits
            .clone()
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(batch.targets.clone())
            .int()
            .sum()
            .into_scalar::<i64>();
        let loss = loss_function.forward(logits, batch.targets);
        loss_sum += loss.clone().into_scalar::<f64>();
        let gradients = GradientsParams::from_grads(loss.backward(), &network);
        let rate = config.learning_rate_at(epoch * steps_per_epoch + steps, steps_per_epoch);
        network = optimizer.step(rate, network, gradients);
        steps += 1;
        if !on_step(steps, steps_per_epoch) {
            break;
        }
    }
    Ok((
        network,
        EpochStats {
            loss: loss_sum / steps.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
        },
    ))
}

/// Share of `set` that `network` (inference, no autodiff) classifies correctly, in batches of 256
/// on `device`.
pub(crate) fn evaluate(
    network: &Network,
    set: &std::sync::Arc<ImageSet>,
    device: &Device,
) -> Result<f64, EvaluationError> {
    super::accuracy(&network.valid(), &*loader(set, 256, None, None, device))
}
