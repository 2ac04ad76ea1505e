use std::sync::Arc;

use burn::data::dataloader::DataLoaderBuilder;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::tensor::Device;
use hwnas_space::module::Network;
use hwnas_space::{ModelSpace, Sample, metric};
use hwnas_strategy::{Decision, Metrics};

use super::{ImageBatcher, ImageSet};
use crate::{
    EvaluationError, Evaluator, ExperimentError, OptimizerKind, Schedule, TrainingConfig,
    TrialContext,
};

/// Trains each sample from scratch on burn autodiff and reports its validation accuracy.
///
/// Each trial seeds the device with the trial's seed; with one trial at a time a run is
/// reproducible. Intermediate accuracies go to the strategy after every epoch, and a `Stop`
/// decision ends training there.
pub struct TrainingEvaluator {
    space: ModelSpace,
    train: Arc<ImageSet>,
    valid: Arc<ImageSet>,
    config: TrainingConfig,
    device: Device,
}

impl TrainingEvaluator {
    /// An evaluator for `space` on `data`, trained on `device` (without autodiff; it is added).
    pub fn new(
        space: ModelSpace,
        data: &ImageSet,
        config: TrainingConfig,
        device: Device,
    ) -> Result<Self, ExperimentError> {
        config.validate()?;
        let [c, h, w] = data.shape();
        if space.input() != hwnas_space::Shape::image(c, h, w) {
            return Err(ExperimentError::Config(format!(
                "space `{}` takes inputs {} but the data has {c}x{h}x{w} images",
                space.name(),
                space.input()
            )));
        }
        let (train, valid) = data.split(config.validation_share, config.split_seed);
        Ok(Self {
            space,
            train: Arc::new(train),
            valid: Arc::new(valid),
            config,
            device,
        })
    }

    /// The settings.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    fn learning_rate(&self, step: usize, total: usize) -> f64 {
        match self.config.schedule {
            Schedule::Constant => self.config.learning_rate,
            Schedule::Cosine => {
                let progress = step as f64 / total.max(1) as f64;
                0.5 * self.config.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

impl Evaluator for TrainingEvaluator {
    fn evaluate(
        &self,
        sample: &Sample,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let autodiff = self.device.clone().autodiff();
        let network = hwnas_space::module::seeded(&self.device, context.seed(), || {
            self.space.freeze(sample, &autodiff)
        })?;
        self.train(network, context)
    }
}

impl TrainingEvaluator {
    /// Trains `network`, a network of the space on the evaluator's device with autodiff (fresh
    /// from `freeze`, or exported from a supernet to fine-tune), and reports its validation
    /// accuracy after every epoch.
    pub fn train(
        &self,
        mut network: Network,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let device = self.device.clone().autodiff();
        let mut optimizer = match self.config.optimizer {
            OptimizerKind::Sgd { momentum } => SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0),
                ))
                .init(),
            OptimizerKind::Adam => AdamConfig::new().init(),
        };
        let shape = self.train.shape();
        let train_loader = DataLoaderBuilder::new(ImageBatcher::new(shape))
            .batch_size(self.config.batch_size)
            .shuffle(context.seed())
            .set_device(device.clone())
            .build(self.train.clone());
        let valid_loader = DataLoaderBuilder::new(ImageBatcher::new(shape))
            .batch_size(256)
            .set_device(self.device.clone())
            .build(self.valid.clone());
        let loss_function = CrossEntropyLossConfig::new().init(&device);
        let steps_per_epoch = self.train.len().div_ceil(self.config.batch_size);
        let total_steps = steps_per_epoch * self.config.epochs;
        let (mut step, mut accuracy, mut loss_value) = (0, 0.0, f64::NAN);
        for epoch in 0..self.config.epochs {
            let mut epoch_loss = 0.0;
            let mut batches = 0;
            for batch in train_loader.iter() {
                let batch = batch?;
                let logits = network.forward_logits(batch.images)?;
                let loss = loss_function.forward(logits, batch.targets);
                epoch_loss += loss.clone().into_scalar::<f64>();
                batches += 1;
                let gradients = GradientsParams::from_grads(loss.backward(), &network);
                network = optimizer.step(self.learning_rate(step, total_steps), network, gradients);
                step += 1;
            }
            loss_value = epoch_loss / batches.max(1) as f64;
            accuracy = super::accuracy(&network.valid(), &*valid_loader)?;
            if context.report(epoch, accuracy) == Decision::Stop {
                break;
            }
        }
        Ok(Metrics::from([
            (metric::ACCURACY.to_string(), accuracy),
            (metric::TRAIN_LOSS.to_string(), loss_value),
        ]))
    }
}
