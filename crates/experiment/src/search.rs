//! One serializable description of a multi-trial search, and the assembly it describes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hwnas_benchmark::{Dataset, NasBench201};
use hwnas_middleware::{Budget, Chain, Deduplication, MedianStop, MultipleEvaluation};
use hwnas_profiler::{Costs, Proxy};
use hwnas_space::{Backend, ModelSpace, Shape, hub, metric};
use hwnas_strategy::{Objective, SoftTarget, Status, StrategyConfig, StrategyName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::experiment::write_json;
use crate::{
    Evaluator, ExecutorConfig, Experiment, ExperimentConfig, ExperimentError, LOG_FILE, STATE_FILE,
    TrainingConfig, read_log,
};

/// A search's settings inside its directory: `--resume` must find the same.
pub const SEARCH_SETTINGS: &str = "search.json";

/// What evaluates a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum EvaluatorConfig {
    /// Train every sample from scratch on the data the settings name (the embedded digits by
    /// default), choosing on the validation split.
    Training(TrainingConfig),
    /// Validation accuracy with weights inherited from a supernet (the search of a one-shot run;
    /// its settings are the run's).
    Supernet,
    /// The published test accuracy of the cell on a NAS-Bench-201 dataset (`nasbench201` only):
    /// no training.
    Benchmark {
        /// The dataset.
        dataset: Dataset,
    },
}

/// Where a search's `latency_ms` comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencySource {
    /// Measured on the search's device, batch 1, once per network.
    Measured,
    /// Measured in tract (the network exported to ONNX, run on this CPU in one thread), batch 1,
    /// once per network: the latency of the deployment runtime rather than of burn.
    Tract,
    /// Predicted from a table `hwnas latency build` wrote for this space.
    Table(PathBuf),
    /// The published latency of a NAS-Bench-201 device (`nasbench201` only).
    Benchmark(String),
}

/// One multi-trial search, as data: the space, the strategy and its settings, the budget and
/// the other middleware, the evaluator, the device, the trial budget and the seed.
///
/// It builds the strategy chain (strategy, then one training per network, the budget, median
/// stopping, repeats) and the [`Experiment`] that runs it, and is written to
/// `DIR/search.json`: resuming with other settings names each one that differs.
///
/// ```
/// use hwnas_experiment::{EvaluationError, SearchConfig, TrialContext};
/// use hwnas_profiler::{Costs, Proxy};
/// use hwnas_space::{Metrics, Sample, metric};
///
/// let mut config = SearchConfig::new("nasbench201");
/// config.trials = 5;
/// config.budget = config.budget.max(metric::FLOPS, 60e6);
/// let space = config.model_space()?;
/// let costs = Costs::counts(&space)?;
/// let evaluate = |_: &Sample, context: &TrialContext| -> Result<Metrics, EvaluationError> {
///     Ok(Metrics::from([(metric::ACCURACY.into(), (context.id() % 7) as f64)]))
/// };
/// let dir = std::env::temp_dir().join(format!("hwnas-search-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let summary = config.experiment(&dir, &space, costs, &evaluate, false)?.run()?;
/// assert_eq!(summary.progress.evaluated, 5);
/// assert!(summary.best.unwrap().metrics[metric::FLOPS] <= 60e6);
/// assert!(dir.join("search.json").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// The hub space searched.
    pub space: String,
    /// Its input (channels, height, width), when not the space's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Shape>,
    /// Its classes, when not the space's own (set from the data by
    /// [`fit_to_data`](Self::fit_to_data)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// The strategy that proposes.
    pub strategy: StrategyConfig,
    /// Upper bounds on costs; samples outside are never evaluated.
    pub budget: Budget,
    /// Evaluate each network once: samples that differ only in choices their network never
    /// reads are told the earlier result.
    pub dedup: bool,
    /// Stop trials whose intermediate metric falls below the median of earlier trials.
    pub median_stop: bool,
    /// Evaluate every sample this many times (different seeds) and tell the mean.
    pub repeats: usize,
    /// What evaluates a sample.
    pub evaluator: EvaluatorConfig,
    /// Where `latency_ms` comes from; `None`: latency is not priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySource>,
    /// The device that trains and measures, for [`run`](Self::run) (`None`: flex). A one-shot
    /// search evaluates on its run's device and leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Backend>,
    /// Samples to evaluate (settled proposals do not count). A resumed search may raise it.
    pub trials: usize,
    /// Samples evaluated at once. A resumed search may change it.
    pub concurrency: usize,
    /// No new trial starts after this many seconds. A resumed search may change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_s: Option<f64>,
    /// Seed of the trial seeds (the strategy's own seed is in its settings).
    pub seed: u64,
    /// Where trials run: threads of this process, a child process each, or a Slurm job each.
    #[serde(default, skip_serializing_if = "ExecutorConfig::is_threads")]
    pub executor: ExecutorConfig,
    /// Trained trials whose weights are kept (`DIR/weights/ID.bpk`), the best by the objective;
    /// with at least one, the best trial is tested on the test split at the end. A resumed
    /// search may change it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keep_weights: usize,
    /// The metric that ranks trials.
    pub objective: Objective,
    /// A share by which the latency budget is shrunk when samples are judged against it (`0.05`:
    /// a predicted latency must be at most the budget / 1.05), so that a prediction's error does
    /// not carry the chosen network over the budget on the device. Trial records keep the
    /// prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_margin: Option<f64>,
    /// A soft target on a cost (MnasNet's reward, recorded per trial as `reward`); the
    /// objective and the strategy's then name `reward`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<SoftTarget>,
    /// Zero-cost proxies every network is scored by, on one minibatch of the training data
    /// (random images for a benchmark): metrics of every trial, which a budget or a guided
    /// strategy's prior can name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxies: Vec<Proxy>,
}

/// Settings a resumed search may change: how long it goes on and how fast, not what it does.
const RESUMABLE: [&str; 4] = ["trials", "concurrency", "time_limit_s", "keep_weights"];

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SearchConfig {
    /// The guided strategy (the best under budgets in `hwnas bench compare`) on `space`, each
    /// network trained once with the default training, 30 trials on flex, no budget.
    pub fn new(space: impl Into<String>) -> Self {
        SearchConfig {
            space: space.into(),
            input: None,
            classes: None,
            strategy: StrategyConfig::named(StrategyName::Guided, 0),
            budget: Budget::new(),
            dedup: true,
            median_stop: false,
            repeats: 1,
            evaluator: EvaluatorConfig::Training(TrainingConfig::default()),
            latency: None,
            device: Some(Backend::Flex),
            trials: 30,
            concurrency: 1,
            time_limit_s: None,
            seed: 0,
            executor: ExecutorConfig::Threads,
            keep_weights: 0,
            objective: Objective::maximize(metric::ACCURACY),
            latency_margin: None,
            target: None,
            proxies: Vec::new(),
        }
    }

    /// Refuses settings that cannot run, naming the setting.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let invalid = |message: String| Err(ExperimentError::Config(message));
        if self.trials == 0 || self.concurrency == 0 || self.repeats == 0 {
            return invalid("trials, concurrency and repeats must be at least 1".into());
        }
        if let Some(limit) = self.time_limit_s
            && !(limit.is_finite() && limit > 0.0)
        {
            return invalid(format!(
                "the time limit must be a positive number, not {limit}"
            ));
        }
        if self.budget.max.contains_key(metric::LATENCY_MS) && self.latency.is_none() {
            return invalid(
                "a latency budget needs latency: measured on the device, or a table".into(),
            );
        }
        if let Some(margin) = self.latency_margin
            && !(margin.is_finite() && margin >= 0.0)
        {
            return invalid(format!(
                "the latency margin must be a share of at least 0, not {margin}"
            ));
        }
        if let Some(target) = &self.target {
            target.validate().map_err(ExperimentError::Config)?;
            if target.metric == metric::LATENCY_MS && self.latency.is_none() {
                return invalid(
                    "a latency target needs latency: measured on the device, or a table".into(),
                );
            }
        }
        if let EvaluatorConfig::Training(training) = &self.evaluator {
            training.validate()?;
        }
        match &self.executor {
            ExecutorConfig::Processes(processes) => {
                processes.validate()?;
                if !processes.devices.is_empty() && processes.devices.len() < self.concurrency {
                    return invalid(format!(
                        "{} devices for {} trials at once: each running trial needs its own",
                        processes.devices.len(),
                        self.concurrency
                    ));
                }
            }
            ExecutorConfig::Slurm(slurm) => slurm.validate()?,
            ExecutorConfig::Threads => {}
        }
        if self.median_stop && !self.executor.is_threads() {
            return invalid(
                "median stopping ends a trial between epochs, which only the threads executor \
                 can do"
                    .into(),
            );
        }
        let benchmarked = matches!(self.evaluator, EvaluatorConfig::Benchmark { .. })
            || matches!(self.latency, Some(LatencySource::Benchmark(_)));
        if benchmarked && self.space != "nasbench201" {
            return invalid(format!(
                "the NAS-Bench-201 tables answer for the space `nasbench201`, not `{}`",
                self.space
            ));
        }
        if let Some(LatencySource::Benchmark(device)) = &self.latency {
            NasBench201::get()
                .device(device)
                .map_err(|e| ExperimentError::Config(e.to_string()))?;
        }
        Ok(())
    }

    /// The settings of the search in `dir` (its `search.json`).
    pub fn load(dir: &Path) -> Result<SearchConfig, ExperimentError> {
        let path = dir.join(SEARCH_SETTINGS);
        let text = std::fs::read_to_string(&path).map_err(ExperimentError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| {
            ExperimentError::Resume(format!(
                "{} is not a search's settings: {e}",
                path.display()
            ))
        })
    }

    /// The space searched, at its input and class count.
    pub fn model_space(&self) -> Result<ModelSpace, ExperimentError> {
        hub_space(&self.space, self.input, self.classes)
    }

    /// The cost a multi-objective strategy trades accuracy against: latency when it is priced,
    /// else FLOPs.
    pub fn tradeoff_cost(&self) -> &'static str {
        if self.latency.is_some() {
            metric::LATENCY_MS
        } else {
            metric::FLOPS
        }
    }

    /// The strategy and its middleware: strategy, one evaluation per network, the budget
    /// (priced through `costs`), median stopping, repeats.
    pub fn strategy(&self, space: &ModelSpace, costs: &Costs) -> Result<Chain, ExperimentError> {
        if let StrategyConfig::Guided(guided) = &self.strategy
            && let Some(unpriced) = guided.prior.iter().find(|o| !costs.prices(&o.metric))
        {
            return Err(ExperimentError::Config(format!(
                "the guided prior's `{}` is not priced (priced: {})",
                unpriced.metric,
                costs.metrics().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut strategy = self.strategy.init()?;
        strategy.guide(self.judged_budget().guide(costs));
        let mut chain = Chain::new(strategy);
        if self.dedup {
            chain = chain.then(Deduplication::per_network(space.clone()));
        }
        if !self.budget.is_unbounded() {
            chain = chain.then(self.judged_budget().filter(costs)?);
        }
        if self.median_stop {
            chain = chain.then(MedianStop::new(self.objective.direction));
        }
        if self.repeats > 1 {
            chain = chain.then(MultipleEvaluation::new(self.repeats));
        }
        Ok(chain)
    }

    /// How the experiment runs.
    pub fn experiment_config(&self, resume: bool) -> ExperimentConfig {
        ExperimentConfig {
            max_trials: self.trials,
            max_duration: self.time_limit_s.map(Duration::from_secs_f64),
            concurrency: self.concurrency,
            seed: self.seed,
            objective: self.objective.clone(),
            target: self.target.clone(),
            resume,
        }
    }

    /// The budget samples are judged against: the budget, its latency bound shrunk by the
    /// latency margin.
    pub fn judged_budget(&self) -> Budget {
        let mut budget = self.budget.clone();
        if let Some(margin) = self.latency_margin
            && let Some(limit) = budget.max.get_mut(metric::LATENCY_MS)
        {
            *limit /= 1.0 + margin;
        }
        budget
    }

    /// The experiment in `dir` that evaluates with `evaluator` and records `costs` (which the
    /// budget prices through). The settings are checked against those of the search being
    /// resumed (`resume`), then written to `DIR/search.json`.
    pub fn experiment<'a>(
        &self,
        dir: &Path,
        space: &ModelSpace,
        costs: Costs,
        evaluator: &'a dyn Evaluator,
        resume: bool,
    ) -> Result<Experiment<'a>, ExperimentError> {
        self.validate()?;
        if space.name() != self.space {
            return Err(ExperimentError::Config(format!(
                "the settings search `{}` but the space given is `{}`",
                self.space,
                space.name()
            )));
        }
        let strategy = self.strategy(space, &costs)?;
        self.write_settings(dir, resume)?;
        Ok(Experiment::new(
            dir,
            space.search_space().clone(),
            strategy,
            evaluator,
            self.experiment_config(resume),
        )
        .with_costs(costs))
    }

    /// Compares the settings with those of the search in `dir` (when resuming) and writes them.
    fn write_settings(&self, dir: &Path, resume: bool) -> Result<(), ExperimentError> {
        let path = dir.join(SEARCH_SETTINGS);
        let current = serde_json::to_value(self).expect("settings serialize");
        if resume && path.exists() {
            let mut changed = changed_settings(&path, "a search's settings", "", &current)?;
            changed.retain(|change| !RESUMABLE.iter().any(|name| change.starts_with(name)));
            if !changed.is_empty() {
                return Err(ExperimentError::Resume(format!(
                    "{} was searched with other settings: {}; resume with the same settings \
                     (only trials, concurrency, time_limit_s and keep_weights may change) or \
                     choose another directory",
                    dir.display(),
                    changed.join("; ")
                )));
            }
        } else if !resume
            && [SEARCH_SETTINGS, LOG_FILE, STATE_FILE]
                .iter()
                .any(|file| dir.join(file).exists())
        {
            // A search that trained nothing (its budget admitted nothing, say) holds nothing
            // to lose: it is started again with the new settings.
            let (records, _) = read_log(&dir.join(LOG_FILE))?;
            if records
                .iter()
                .any(|record| record.status != Status::Invalid)
            {
                return Err(ExperimentError::Resume(format!(
                    "{} already holds an experiment: resume it (--resume) or choose another \
                     directory",
                    dir.display()
                )));
            }
            for file in [LOG_FILE, STATE_FILE] {
                match std::fs::remove_file(dir.join(file)) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(ExperimentError::io(dir.join(file))(error));
                    }
                    _ => {}
                }
            }
        }
        std::fs::create_dir_all(dir).map_err(ExperimentError::io(dir))?;
        write_json(&path, &current)
    }
}

/// Each setting that differs between the settings file at `path` (holding `what`, for the error
/// when it is not JSON) and `current`: the whole file, or its key `at`.
pub(crate) fn changed_settings(
    path: &Path,
    what: &str,
    at: &str,
    current: &Value,
) -> Result<Vec<String>, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(ExperimentError::io(path))?;
    let saved: Value = serde_json::from_str(&text)
        .map_err(|e| ExperimentError::Resume(format!("{} is not {what}: {e}", path.display())))?;
    let saved = match at {
        "" => &saved,
        key => saved.get(key).unwrap_or(&Value::Null),
    };
    let mut changed = Vec::new();
    differences(saved, current, at, &mut changed);
    Ok(changed)
}

/// The hub space `name` at `input` (`None`: its own) built for `classes` (`None`: its own).
pub(crate) fn hub_space(
    name: &str,
    input: Option<Shape>,
    classes: Option<usize>,
) -> Result<ModelSpace, ExperimentError> {
    let space = hub::space(name)?;
    Ok(match (input, classes) {
        (None, None) => space,
        (Some(input), None) => space.with_input(input),
        (input, Some(classes)) => hub::space_for(name, input.unwrap_or(space.input()), classes)?,
    })
}

/// Each setting that differs between `saved` and `current`, as `path: saved -> current`, the
/// path dotted through nested objects (`strategy.population_size`, `budget.max.flops`).
pub(crate) fn differences(saved: &Value, current: &Value, path: &str, out: &mut Vec<String>) {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (saved, current) {
        (Value::Object(a), Value::Object(b)) if a.get("name") == b.get("name") => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let (x, y) = (&a.get(key), &b.get(key));
                differences(
                    x.unwrap_or(&Value::Null),
                    y.unwrap_or(&Value::Null),
                    &at(key),
                    out,
                );
            }
        }
        _ if saved != current => {
            let show = |value: &Value| match value {
                Value::Null => "none".to_string(),
                Value::Object(object) => match object.get("name").and_then(Value::as_str) {
                    Some(name) => name.to_string(),
                    None => value.to_string(),
                },
                other => other.to_string(),
            };
            out.push(format!("{path}: {} -> {}", show(saved), show(current)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{SearchConfig, differences};
    use hwnas_space::metric;

    #[test]
    fn latency_margin_shrinks_only_the_latency_bound() {
        let mut config = SearchConfig::new("nasbench201");
        config.budget = config
            .budget
            .max(metric::LATENCY_MS, 10.5)
            .max(metric::FLOPS, 1e8);
        assert_eq!(config.judged_budget(), config.budget);
        config.latency_margin = Some(0.05);
        let judged = config.judged_budget();
        assert!((judged.max[metric::LATENCY_MS] - 10.0).abs() < 1e-12);
        assert_eq!(judged.max[metric::FLOPS], 1e8);
        config.latency_margin = Some(-0.1);
        assert!(config.validate().is_err());
    }

    #[test]
    fn differences_name_each_changed_setting() {
        let check = |saved: &str, current: &str, expected: &[&str]| {
            let mut out = Vec::new();
            let (saved, current) = (saved.parse().unwrap(), current.parse().unwrap());
            differences(&saved, &current, "", &mut out);
            assert_eq!(out, expected);
        };
        check(
            r#"{"a": 1, "b": {"c": 2}}"#,
            r#"{"a": 1, "b": {"c": 2}}"#,
            &[],
        );
        check(
            r#"{"a": 1, "b": {"c": 2, "d": 3}}"#,
            r#"{"a": 2, "b": {"c": 2}}"#,
            &["a: 1 -> 2", "b.d: 3 -> none"],
        );
        check(
            r#"{"strategy": {"name": "evolution", "population_size": 20}}"#,
            r#"{"strategy": {"name": "random", "seed": 0}}"#,
            &["strategy: evolution -> random"],
        );
    }
}
