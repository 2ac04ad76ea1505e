use std::path::Path;

use burn::tensor::Device;
use hwnas_benchmark::NasBench201;
use hwnas_profiler::{Costs, LatencyConfig, LatencyDevice, LatencyPredictor, LatencyProfiler};
use hwnas_space::{ModelSpace, metric};

use super::{ImageSet, TrainingEvaluator};
use crate::{
    BenchmarkEvaluator, Evaluator, EvaluatorConfig, ExperimentError, LatencySource, Progress,
    SearchConfig, Stop, Summary, TrialRecord,
};

impl SearchConfig {
    /// FLOPs, parameters and, when the settings price it, latency: measured on `device` or in
    /// tract (once per network), or predicted from the table (which must be of this space and input).
    pub fn costs(&self, space: &ModelSpace, device: &Device) -> Result<Costs, ExperimentError> {
        let costs = Costs::counts(space)?;
        Ok(match &self.latency {
            None => costs,
            Some(LatencySource::Measured) => costs.with(
                metric::LATENCY_MS,
                LatencyProfiler::new(space.clone(), device.clone(), LatencyConfig::default())?,
            ),
            Some(LatencySource::Tract) => costs.with(
                metric::LATENCY_MS,
                LatencyProfiler::new(
                    space.clone(),
                    LatencyDevice::Tract,
                    LatencyConfig::default(),
                )?,
            ),
            Some(LatencySource::Table(path)) => {
                costs.with(metric::LATENCY_MS, LatencyPredictor::load(path, space)?)
            }
            Some(LatencySource::Benchmark(device)) => {
                let bench = NasBench201::get();
                let device = bench
                    .device(device)
                    .map_err(|e| ExperimentError::Config(e.to_string()))?;
                costs.with(metric::LATENCY_MS, bench.latency_profiler(device))
            }
        })
    }

    /// Runs the search in `dir` on the embedded digits (or resumes it), calling `on_progress`
    /// after every trial; once `stop` is requested no new trial starts.
    pub fn run(
        &self,
        dir: &Path,
        resume: bool,
        stop: &Stop,
        on_progress: impl FnMut(&Progress, &TrialRecord) + Send + 'static,
    ) -> Result<Summary, ExperimentError> {
        self.validate()?;
        let space = self.model_space()?;
        let device = self.device.unwrap_or_default().device()?;
        let evaluator: Box<dyn Evaluator> = match &self.evaluator {
            EvaluatorConfig::Training(training) => Box::new(TrainingEvaluator::new(
                space.clone(),
                &ImageSet::digits(),
                training.clone(),
                device.clone(),
            )?),
            EvaluatorConfig::Benchmark { dataset } => Box::new(BenchmarkEvaluator::new(*dataset)),
            EvaluatorConfig::Supernet => {
                return Err(ExperimentError::Config(
                    "subnets with inherited weights are searched by a one-shot run \
                     (`OneShotRun`, `hwnas oneshot --strategy spos`)"
                        .into(),
                ));
            }
        };
        let costs = self.costs(&space, &device)?;
        self.experiment(dir, &space, costs, &*evaluator, resume)?
            .with_stop(stop.clone())
            .on_progress(on_progress)
            .run()
    }
}
