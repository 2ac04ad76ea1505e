use std::path::{Path, PathBuf};

use burn::tensor::Device;
use hwnas_benchmark::NasBench201;
use hwnas_profiler::{
    Costs, LatencyConfig, LatencyDevice, LatencyPredictor, LatencyProfiler, ProxyBatch,
    ProxyProfiler,
};
use hwnas_space::{ModelSpace, Shape, metric};
use hwnas_strategy::{Objective, Status};

use super::retrain::load_network;
use super::{PROXY_BATCH, TrainingData, TrainingEvaluator, proxy_batch};
use crate::{
    BenchmarkEvaluator, Evaluator, EvaluatorConfig, ExecutorConfig, ExperimentError, LOG_FILE,
    LatencySource, ProcessEvaluator, Progress, SearchConfig, SlurmEvaluator, Stop, Summary,
    TrialContext, TrialFiles, TrialOutcome, TrialRecord, read_log,
};

impl SearchConfig {
    /// FLOPs, parameters and, when the settings price it, latency: measured on `device` or in
    /// tract (once per network), or predicted from the table (which must be of this space and
    /// input); and the proxies the settings name, on a minibatch of `data` (random images
    /// without it), once per network on `device`.
    pub fn costs(
        &self,
        space: &ModelSpace,
        data: Option<&TrainingData>,
        device: &Device,
    ) -> Result<Costs, ExperimentError> {
        let mut costs = Costs::counts(space)?;
        if !self.proxies.is_empty() {
            let batch = match data {
                Some(data) => proxy_batch(data, PROXY_BATCH, self.seed)?,
                None => ProxyBatch::random(space.input(), PROXY_BATCH, self.seed)?,
            };
            for &proxy in &self.proxies {
                let profiler =
                    ProxyProfiler::new(space, proxy, batch.clone(), device.clone(), self.seed);
                costs = costs.with(proxy.name(), profiler);
            }
        }
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

    /// Sets the space's input and class count to the data's, so that the networks searched
    /// take its images (a space that cannot is an error naming both).
    pub fn fit_to_data(&mut self, data: &TrainingData) -> Result<(), ExperimentError> {
        let [c, h, w] = data.shape();
        self.input = Some(Shape::image(c, h, w));
        self.classes = Some(data.classes().len());
        data.check_fits(&self.model_space()?)
    }

    /// Runs the search in `dir` (or resumes it) on the data its training settings name, at the
    /// space's input, calling `on_progress` after every trial; once `stop` is requested no new
    /// trial starts.
    pub fn run(
        &self,
        dir: &Path,
        resume: bool,
        stop: &Stop,
        on_progress: impl FnMut(&Progress, &TrialRecord) + Send + 'static,
    ) -> Result<Summary, ExperimentError> {
        let data = self.load_data()?;
        self.run_with_data(data.as_ref(), dir, resume, stop, on_progress)
    }

    /// The data its training settings name, at the space's input (`None` for an evaluator that
    /// does not train).
    pub fn load_data(&self) -> Result<Option<TrainingData>, ExperimentError> {
        let EvaluatorConfig::Training(training) = &self.evaluator else {
            return Ok(None);
        };
        let input = match self.model_space()?.input() {
            Shape::Image {
                channels,
                height,
                width,
            } => Some([channels, height, width]),
            Shape::Flat(_) => None,
        };
        Ok(Some(TrainingData::load(&training.data, input)?))
    }

    /// [`run`](Self::run) on data already read (by the training settings' data). With the
    /// process executor each trial runs as `hwnas trial DIR ID`, the program running now.
    pub fn run_with_data(
        &self,
        data: Option<&TrainingData>,
        dir: &Path,
        resume: bool,
        stop: &Stop,
        mut on_progress: impl FnMut(&Progress, &TrialRecord) + Send + 'static,
    ) -> Result<Summary, ExperimentError> {
        self.validate()?;
        let space = self.model_space()?;
        let device = self.device.unwrap_or_default().device()?;
        let costs = self.costs(&space, data, &device)?;
        let local = self.local_evaluator(data, dir, &space, &device)?;
        let program = || std::env::current_exe().map_err(ExperimentError::io("the program"));
        let remote: Option<Box<dyn Evaluator>> = match &self.executor {
            ExecutorConfig::Threads => None,
            ExecutorConfig::Processes(config) => {
                Some(Box::new(ProcessEvaluator::new(program()?, dir, config)))
            }
            ExecutorConfig::Slurm(config) => {
                config.check()?;
                Some(Box::new(SlurmEvaluator::new(program()?, dir, config)?))
            }
        };
        let evaluator: &dyn Evaluator = match &remote {
            Some(remote) => &**remote,
            None => local.evaluator(),
        };
        let Local::Training(training) = &local else {
            return self
                .experiment(dir, &space, costs, evaluator, resume)?
                .with_stop(stop.clone())
                .on_progress(on_progress)
                .run();
        };
        // After the settings are checked, so that a refused resume removes nothing.
        let experiment = self.experiment(dir, &space, costs, evaluator, resume)?;
        let (records, _) = read_log(&dir.join(LOG_FILE))?;
        let mut kept = KeptWeights::new(dir.join(WEIGHTS_DIR), self.keep_weights, &self.objective);
        for record in records.iter().filter(|_| resume) {
            kept.observe(record)?;
        }
        let summary = experiment
            .with_stop(stop.clone())
            .on_progress(move |progress, record| {
                // A weights file that cannot be removed costs disk, not results.
                let _ = kept.observe(record);
                on_progress(progress, record)
            })
            .run()?;
        self.test_best(summary, dir, training)
    }

    /// The evaluator of this process: training on `data`, or answering from a benchmark.
    fn local_evaluator(
        &self,
        data: Option<&TrainingData>,
        dir: &Path,
        space: &ModelSpace,
        device: &Device,
    ) -> Result<Local, ExperimentError> {
        Ok(match (&self.evaluator, data) {
            (EvaluatorConfig::Training(training), Some(data)) => {
                let evaluator =
                    TrainingEvaluator::new(space.clone(), data, training.clone(), device.clone())?;
                Local::Training(Box::new(match self.keep_weights {
                    0 => evaluator,
                    _ => evaluator.keep_weights_in(dir.join(WEIGHTS_DIR)),
                }))
            }
            (EvaluatorConfig::Training(_), None) => {
                return Err(ExperimentError::Config(
                    "a search that trains needs its data".into(),
                ));
            }
            (EvaluatorConfig::Benchmark { dataset }, _) => {
                Local::Benchmark(BenchmarkEvaluator::new(*dataset))
            }
            (EvaluatorConfig::Supernet, _) => {
                return Err(ExperimentError::Config(
                    "subnets with inherited weights are searched by a one-shot run \
                     (`OneShotRun`, `hwnas oneshot --strategy spos`)"
                        .into(),
                ));
            }
        })
    }

    /// Runs trial `id` of the search in `dir` in this process, as the process executor's child
    /// does: the settings from `DIR/search.json`, the trial from `DIR/trials/ID.spec.json`, the
    /// outcome (metrics, or why it failed) written to `DIR/trials/ID.json`. An error is returned
    /// only when the trial cannot be set up or its outcome cannot be written.
    pub fn run_trial(dir: &Path, id: u64) -> Result<TrialOutcome, ExperimentError> {
        let config = SearchConfig::load(dir)?;
        let files = TrialFiles::new(dir);
        let spec = files.read_spec(id)?;
        let space = config.model_space()?;
        let device = config.device.unwrap_or_default().device()?;
        let data = config.load_data()?;
        let local = config.local_evaluator(data.as_ref(), dir, &space, &device)?;
        let context = TrialContext::standalone(id, spec.seed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            local.evaluator().evaluate(&spec.sample, &context)
        }));
        let (metrics, error) = match result {
            Ok(Ok(metrics)) => (Some(metrics), None),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(_) => (None, Some("the evaluator panicked".to_string())),
        };
        let outcome = TrialOutcome {
            id,
            seed: spec.seed,
            metrics,
            error,
            intermediate: context.intermediate(),
        };
        files.write_outcome(&outcome)?;
        Ok(outcome)
    }

    /// The best trial's kept weights on the test split, as `test_accuracy` in the summary's best
    /// record and in `DIR/test.json`.
    fn test_best(
        &self,
        mut summary: Summary,
        dir: &Path,
        evaluator: &TrainingEvaluator,
    ) -> Result<Summary, ExperimentError> {
        let Some(best) = summary.best.as_mut() else {
            return Ok(summary);
        };
        let path = dir.join(WEIGHTS_DIR).join(format!("{}.bpk", best.id));
        if self.keep_weights == 0 || !path.exists() {
            return Ok(summary);
        }
        let architecture = self.model_space()?.resolve(&best.sample)?;
        let device = self.device.unwrap_or_default().device()?;
        let network = load_network(&architecture, &path, &device)?;
        let accuracy = evaluator
            .test_accuracy(&network)
            .map_err(|e| ExperimentError::Failed(format!("testing trial {}: {e}", best.id)))?;
        best.metrics.insert(metric::TEST_ACCURACY.into(), accuracy);
        let test = serde_json::json!({
            "id": best.id,
            "sample": best.sample,
            metric::TEST_ACCURACY: accuracy,
        });
        crate::experiment::write_json(&dir.join(TEST_FILE), &test)?;
        Ok(summary)
    }
}

/// The evaluator of the search's own process.
enum Local {
    Training(Box<TrainingEvaluator>),
    Benchmark(BenchmarkEvaluator),
}

impl Local {
    fn evaluator(&self) -> &dyn Evaluator {
        match self {
            Local::Training(evaluator) => &**evaluator,
            Local::Benchmark(evaluator) => evaluator,
        }
    }
}

/// The weights of a search's trials inside its directory: `weights/ID.bpk`.
pub const WEIGHTS_DIR: &str = "weights";

/// The test accuracy of a search's best trial inside its directory.
pub const TEST_FILE: &str = "test.json";

/// The weights of the `keep` best trials by the objective; every other trial's file is removed
/// once its record is seen.
struct KeptWeights {
    dir: PathBuf,
    keep: usize,
    objective: Objective,
    /// `(key, id)` of the kept trials, larger keys better.
    best: Vec<(f64, u64)>,
}

impl KeptWeights {
    fn new(dir: PathBuf, keep: usize, objective: &Objective) -> Self {
        KeptWeights {
            dir,
            keep,
            objective: objective.clone(),
            best: Vec::new(),
        }
    }

    fn observe(&mut self, record: &TrialRecord) -> Result<(), ExperimentError> {
        let path = self.dir.join(format!("{}.bpk", record.id));
        if !path.exists() {
            return Ok(());
        }
        let key = match record.status {
            Status::Ok => self.objective.key(&record.metrics),
            _ => None,
        };
        let mut dropped = Some(record.id);
        if let Some(key) = key {
            self.best.push((key, record.id));
            // Best first; among equals the one that arrived first, as the experiment's best.
            self.best.sort_by(|a, b| b.0.total_cmp(&a.0));
            dropped = (self.best.len() > self.keep).then(|| self.best.pop().expect("non-empty").1);
        }
        if let Some(id) = dropped {
            let path = self.dir.join(format!("{id}.bpk"));
            std::fs::remove_file(&path).map_err(ExperimentError::io(&path))?;
        }
        Ok(())
    }
}
