use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use hwnas_space::module::Network;
use hwnas_space::{ModelSpace, Sample, metric};
use hwnas_strategy::{Decision, Metrics};

use super::TrainingData;
use super::fit::{evaluate, optimizer, train_epoch};
use crate::{EvaluationError, Evaluator, ExperimentError, TrainingConfig, TrialContext};

/// Trains each sample from scratch on burn autodiff and reports its validation accuracy.
///
/// Each trial seeds the device with the trial's seed; with one trial at a time a run is
/// reproducible. Intermediate accuracies go to the strategy after every epoch, and a `Stop`
/// decision ends training there. The test split is never read.
pub struct TrainingEvaluator {
    space: ModelSpace,
    data: TrainingData,
    config: TrainingConfig,
    device: Device,
    weights: Option<PathBuf>,
}

impl TrainingEvaluator {
    /// An evaluator for `space` on `data` (read by `config.data`), trained on `device` (without
    /// autodiff; it is added).
    pub fn new(
        space: ModelSpace,
        data: &TrainingData,
        config: TrainingConfig,
        device: Device,
    ) -> Result<Self, ExperimentError> {
        config.validate()?;
        if data.config() != &config.data {
            return Err(ExperimentError::Config(
                "the data given was read by other settings than the training's".into(),
            ));
        }
        data.check_fits(&space)?;
        Ok(Self {
            space,
            data: data.clone(),
            config,
            device,
            weights: None,
        })
    }

    /// Writes every trained network's weights to `dir/ID.bpk` (burnpack), for the caller to keep
    /// the best of them.
    pub fn keep_weights_in(mut self, dir: impl AsRef<Path>) -> Self {
        self.weights = Some(dir.as_ref().to_owned());
        self
    }

    /// The settings.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The data trained and validated on.
    pub fn data(&self) -> &TrainingData {
        &self.data
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
        network: Network,
        context: &TrialContext<'_>,
    ) -> Result<Metrics, EvaluationError> {
        let (network, metrics) = self.fit(network, context)?;
        if let Some(dir) = &self.weights {
            save_record(&network, &dir.join(format!("{}.bpk", context.id())))?;
        }
        Ok(metrics)
    }

    /// Trains `network` as [`train`](Self::train) does and returns it with its metrics.
    pub(crate) fn fit(
        &self,
        mut network: Network,
        context: &TrialContext<'_>,
    ) -> Result<(Network, Metrics), EvaluationError> {
        let device = self.device.clone().autodiff();
        let mut optimizer = optimizer(&self.config);
        let (mut accuracy, mut loss) = (0.0, f64::NAN);
        for epoch in 0..self.config.epochs {
            let stats;
            (network, stats) = train_epoch(
                network,
                &mut optimizer,
                &self.config,
                self.data.train(),
                (context.seed(), epoch),
                &device,
                &mut |_, _| true,
            )?;
            loss = stats.loss;
            accuracy = evaluate(&network, self.data.val(), &self.device)?;
            if context.report(epoch, accuracy) == Decision::Stop {
                break;
            }
        }
        let metrics = Metrics::from([
            (metric::ACCURACY.to_string(), accuracy),
            (metric::TRAIN_LOSS.to_string(), loss),
        ]);
        Ok((network, metrics))
    }

    /// Test accuracy of `network` (weights kept by a trial, say) on the data's test split.
    pub fn test_accuracy(&self, network: &Network) -> Result<f64, EvaluationError> {
        evaluate(network, self.data.test(), &self.device)
    }
}

/// Writes `network`'s weights to `path` whole or not at all (written aside, then renamed).
pub(crate) fn save_record(network: &Network, path: &Path) -> Result<(), EvaluationError> {
    let aside = path.with_extension("bpk.tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(ExperimentError::io(dir))?;
    }
    network
        .clone()
        .valid()
        .into_record()
        .save(&aside)
        .map_err(|e| format!("cannot write {}: {e}", aside.display()))?;
    std::fs::rename(&aside, path).map_err(ExperimentError::io(path))?;
    Ok(())
}
