//! `hwnas search`: multi-trial search on the command line, as a [`SearchConfig`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use hwnas_benchmark::Dataset;
use hwnas_experiment::train::TrainingConfig;
use hwnas_experiment::{
    EvaluatorConfig, ExecutorConfig, LatencySource, ProcessConfig, SearchConfig, SlurmConfig, Stop,
    StopReason,
};
use hwnas_profiler::{LatencyPredictor, Proxy};
use hwnas_space::{Metrics, metric};
use hwnas_strategy::{
    EvolutionConfig, Objective, REWARD, SoftTarget, StrategyConfig, StrategyName,
};

use crate::args::{DataArgs, DeviceArgs, OptimizerArgs};
use crate::exit::{Interrupted, bail_input};
use crate::interrupt::{self, OnSignal};
use crate::output::{bar, report_text, show_progress};

#[derive(Clone, Copy, ValueEnum)]
pub enum TargetMode {
    Soft,
    HardSoft,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExecutorName {
    Threads,
    Processes,
    Slurm,
}

#[derive(Args)]
pub struct SearchArgs {
    /// Hub space name; its networks are built for the data's image size and classes.
    name: String,
    /// The images trials train on (not with `--benchmark`).
    #[command(flatten)]
    data: DataArgs,
    /// How each trial trains (not with `--benchmark`).
    #[command(flatten)]
    optimizer: OptimizerArgs,
    /// Keep the weights of this many best trials (`DIR/weights/ID.bpk`); with one or more, the
    /// best trial is tested on the test split at the end. Default: 1, or on `--resume` what the
    /// search kept.
    #[arg(long)]
    keep_weights: Option<usize>,
    /// Search strategy: guided, evolution, random, local, tpe, reinforce, pareto or grid.
    #[arg(long, default_value = "guided")]
    strategy: StrategyName,
    /// Zero-cost proxies to score every network by, comma separated (synflow, jacob_cov,
    /// grad_norm, snip): recorded per trial, on a minibatch of the training images (random
    /// images with `--benchmark`). Each costs about one training step per network.
    #[arg(long = "proxy", value_delimiter = ',')]
    proxies: Vec<Proxy>,
    /// What the guided strategy's prior prefers, more being better, comma separated: a cost
    /// (`live_params`, the default, `flops`, `params`) or a `--proxy` (`synflow`).
    #[arg(long, value_delimiter = ',')]
    prior: Vec<String>,
    /// FLOPs budget: samples above it are never trained.
    #[arg(long)]
    max_flops: Option<f64>,
    /// Parameter budget.
    #[arg(long)]
    max_params: Option<f64>,
    /// Latency budget in milliseconds: predicted from `--table`, else measured at batch 1 where
    /// `--latency-of` says, else on `--device`.
    #[arg(long)]
    max_latency_ms: Option<f64>,
    /// A latency table from `hwnas latency build`, `fit` or `calibrate` for this space (predicts
    /// `latency_ms`); calibrate it first when `hwnas latency evaluate` finds the machine's speed
    /// has moved since it was built.
    #[arg(long)]
    table: Option<PathBuf>,
    /// Judge samples against the latency budget shrunk by this share (`0.05`: predicted at most
    /// budget / 1.05). Default with a fitted `--table`: half its leave-one-out error, so that the
    /// chosen network stays within the budget on the device; 0 otherwise.
    #[arg(long)]
    latency_margin: Option<f64>,
    /// Answer trials from NAS-Bench-201's test accuracies on this dataset instead of training
    /// (`nasbench201` only): cifar10, cifar100 or imagenet16.
    #[arg(long)]
    benchmark: Option<Dataset>,
    /// Where `latency_ms` comes from instead of `--device`: `tract` (measured in tract, the
    /// network exported to ONNX, on this CPU), or a NAS-Bench-201 device whose published latency
    /// it is (`hwnas bench devices`).
    #[arg(long)]
    latency_of: Option<String>,
    /// Tell the strategy a score of 0 for samples over budget instead of discarding them.
    #[arg(long)]
    penalise: bool,
    /// A soft latency target in milliseconds: trials are ranked (and the strategy learns) by
    /// MnasNet's reward, accuracy x (latency / target)^w, recorded as `reward`.
    #[arg(long, conflicts_with_all = ["target_flops", "target_params"])]
    target_latency_ms: Option<f64>,
    /// A soft FLOPs target (as `--target-latency-ms`).
    #[arg(long, conflicts_with = "target_params")]
    target_flops: Option<f64>,
    /// A soft parameter target (as `--target-latency-ms`).
    #[arg(long)]
    target_params: Option<f64>,
    /// The reward's exponents: `soft` (w = -0.07 on both sides of the target) or `hard-soft`
    /// (0 below, -1 above).
    #[arg(long, value_enum, default_value = "soft")]
    target_mode: TargetMode,
    /// The device that trains (and measures latency).
    #[command(flatten)]
    device: DeviceArgs,
    /// Trials to train (a resumed search may raise it).
    #[arg(long, default_value_t = 30)]
    trials: usize,
    /// Trials trained at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Where trials run: threads of this process, or a child process each (`hwnas trial DIR
    /// ID`, its output in `DIR/trials/ID.log`), which a crash, a signal or `--trial-timeout`
    /// fails alone.
    #[arg(long, value_enum, default_value = "threads")]
    executor: ExecutorName,
    /// Processes: kill a trial (and what it started) after this many seconds; it fails with
    /// reason `timeout`.
    #[arg(long)]
    trial_timeout: Option<f64>,
    /// Processes: GPU indices, one per running child (`CUDA_VISIBLE_DEVICES`), e.g. `0,1`.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Slurm: arguments every job's `sbatch` gets, as one string (`"--partition gpu
    /// --gres=gpu:1 --time 1:00:00"`); `--out` must be on a file system the nodes share.
    #[arg(long, allow_hyphen_values = true)]
    slurm_args: Option<String>,
    /// Slurm: seconds between two polls of the queue.
    #[arg(long, default_value_t = 1.0)]
    slurm_poll_s: f64,
    /// Stop starting trials after this many seconds.
    #[arg(long)]
    time_limit_s: Option<f64>,
    /// Experiment directory (search.json, trials.jsonl, state.json, best.json, plots).
    #[arg(long)]
    out: PathBuf,
    /// Continue the experiment in `--out`, with the same settings.
    #[arg(long)]
    resume: bool,
    /// Seed of the strategy and of every trial.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training epochs per trial.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Population of the evolutionary strategies (the reference default is 100).
    #[arg(long, default_value_t = 20)]
    population: usize,
    /// Tournament size of regularized evolution (the reference default is 25).
    #[arg(long, default_value_t = 5)]
    sample_size: usize,
    /// Stop trials whose per-epoch accuracy is below the median of earlier trials.
    #[arg(long)]
    median_stop: bool,
    /// Train every sample this many times (different seeds) and tell the strategy the mean.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

impl SearchArgs {
    /// The search these arguments describe.
    fn config(&self) -> anyhow::Result<SearchConfig> {
        let mut config = SearchConfig::new(&self.name);
        for (flag, metric, value) in [
            ("--max-flops", metric::FLOPS, self.max_flops),
            ("--max-params", metric::PARAMS, self.max_params),
            ("--max-latency-ms", metric::LATENCY_MS, self.max_latency_ms),
        ] {
            let Some(value) = value else { continue };
            if value.is_nan() || value <= 0.0 {
                bail_input!("{flag} must be a positive number");
            }
            config.budget = config.budget.max(metric, value);
        }
        if self.penalise {
            let worst = Metrics::from([(metric::ACCURACY.to_string(), 0.0)]);
            config.budget = config.budget.penalise(worst);
        }
        config.latency = match (&self.latency_of, &self.table, self.max_latency_ms) {
            (Some(_), Some(_), _) => bail_input!("--latency-of and --table are two latencies"),
            (Some(device), None, _) if device == "tract" => Some(LatencySource::Tract),
            (Some(device), None, _) => Some(LatencySource::Benchmark(device.clone())),
            (None, Some(path), _) => Some(LatencySource::Table(path.clone())),
            (None, None, Some(_)) => Some(LatencySource::Measured),
            (None, None, None) => None,
        };
        config.latency_margin = match (self.latency_margin, &self.table) {
            (Some(margin), _) => Some(margin),
            // An unreadable table is reported when the search loads it.
            (None, Some(table)) => LatencyPredictor::read_file(table)
                .ok()
                .map(|file| file.budget_margin())
                .filter(|margin| *margin > 0.0),
            (None, None) => None,
        };
        config.strategy = StrategyConfig::named(self.strategy, self.seed)
            .with_population(
                self.population,
                self.sample_size,
                EvolutionConfig::default().mutation_prob,
            )
            .with_tradeoff(Objective::minimize(config.tradeoff_cost()));
        config.proxies = self.proxies.clone();
        if !self.prior.is_empty() {
            let StrategyConfig::Guided(guided) = &mut config.strategy else {
                bail_input!("--prior applies to --strategy guided")
            };
            guided.prior = self.prior.iter().map(Objective::maximize).collect();
        }
        let target = [
            (metric::LATENCY_MS, self.target_latency_ms),
            (metric::FLOPS, self.target_flops),
            (metric::PARAMS, self.target_params),
        ]
        .into_iter()
        .find_map(|(metric, value)| Some((metric, value?)));
        if let Some((metric, value)) = target {
            if !(value.is_finite() && value > 0.0) {
                bail_input!("the target of {metric} must be a positive number");
            }
            config.target = Some(match self.target_mode {
                TargetMode::Soft => SoftTarget::soft(metric, value),
                TargetMode::HardSoft => SoftTarget::hard_soft(metric, value),
            });
            config.objective = Objective::maximize(REWARD);
            config.strategy = config.strategy.with_objective(Objective::maximize(REWARD));
            if metric == metric::LATENCY_MS && config.latency.is_none() {
                config.latency = Some(LatencySource::Measured);
            }
        }
        config.evaluator = match self.benchmark {
            Some(_) if self.data.data.is_some() => {
                bail_input!("--benchmark answers from published accuracies: it takes no --data")
            }
            Some(_) if self.optimizer.given() => {
                bail_input!(
                    "--benchmark answers from published accuracies: it takes no training settings"
                )
            }
            Some(dataset) => EvaluatorConfig::Benchmark { dataset },
            None => EvaluatorConfig::Training(self.optimizer.apply(TrainingConfig {
                epochs: self.epochs,
                data: self.data.config()?,
                ..TrainingConfig::default()
            })?),
        };
        let kept_before = self
            .resume
            .then(|| SearchConfig::load(&self.out).ok())
            .flatten()
            .map(|saved| saved.keep_weights);
        config.keep_weights = match self.benchmark {
            Some(_) => 0,
            None => self.keep_weights.or(kept_before).unwrap_or(1),
        };
        let processes_only = self.trial_timeout.is_some() || !self.devices.is_empty();
        let slurm_only = self.slurm_args.is_some();
        config.executor = match self.executor {
            ExecutorName::Processes | ExecutorName::Threads if slurm_only => {
                bail_input!("--slurm-args applies to --executor slurm")
            }
            ExecutorName::Threads | ExecutorName::Slurm if processes_only => {
                bail_input!("--trial-timeout and --devices apply to --executor processes")
            }
            ExecutorName::Threads => ExecutorConfig::Threads,
            ExecutorName::Processes => ExecutorConfig::Processes(ProcessConfig {
                timeout_s: self.trial_timeout,
                devices: self.devices.clone(),
            }),
            ExecutorName::Slurm => {
                let text = self.slurm_args.as_deref().unwrap_or("");
                let Some(args) = shlex::split(text) else {
                    bail_input!("--slurm-args {text:?} is not a well-quoted argument list")
                };
                ExecutorConfig::Slurm(SlurmConfig {
                    args,
                    poll_s: self.slurm_poll_s,
                })
            }
        };
        config.device = Some(self.device.device);
        config.median_stop = self.median_stop;
        config.repeats = self.repeats;
        config.trials = self.trials;
        config.concurrency = self.concurrency;
        config.time_limit_s = self.time_limit_s;
        config.seed = self.seed;
        Ok(config)
    }
}

pub fn search(args: &SearchArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    let data = match &config.evaluator {
        EvaluatorConfig::Training(_) => {
            let data = args.data.load()?;
            config.fit_to_data(&data)?;
            Some(data)
        }
        _ => None,
    };
    let stop = Stop::new();
    interrupt::install(OnSignal::Finish(&stop))?;
    let bar = bar(config.trials, "trials");
    let observer = bar.clone();
    let summary = config.run_with_data(
        data.as_ref(),
        &args.out,
        args.resume,
        &stop,
        move |progress, _| show_progress(&observer, progress),
    );
    bar.finish_and_clear();
    let summary = summary?;
    let p = &summary.progress;
    // The plots are written before anything is printed: a reader that stops early (`| head`)
    // must not change what the directory holds.
    let report = report_text(&args.out, 5)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} trials ({} failed), {} proposals not trained, in {:.1} s; stopped: {:?}",
        p.evaluated,
        p.failed,
        p.rejected,
        p.elapsed.as_secs_f64(),
        summary.stop
    )?;
    if let Some(best) = &summary.best
        && let Some(accuracy) = best.metrics.get(metric::TEST_ACCURACY)
    {
        writeln!(
            out,
            "best trial {}: validation accuracy {:.4}, test accuracy {accuracy:.4} (its weights: \
             {})",
            best.id,
            best.metrics
                .get(metric::ACCURACY)
                .copied()
                .unwrap_or(f64::NAN),
            args.out
                .join(hwnas_experiment::train::WEIGHTS_DIR)
                .join(format!("{}.bpk", best.id))
                .display()
        )?;
    }
    out.write_all(report.as_bytes())?;
    drop(out);
    if summary.stop == StopReason::Interrupted {
        return Err(Interrupted(interrupt::resume_command()).into());
    }
    Ok(())
}

#[derive(Args)]
pub struct TrialArgs {
    /// The search's directory.
    dir: PathBuf,
    /// The trial's id (its spec in `DIR/trials/ID.spec.json`).
    id: u64,
}

/// `hwnas trial DIR ID`: one trial of a search, run by its process executor.
pub fn trial(args: &TrialArgs) -> anyhow::Result<()> {
    let outcome = SearchConfig::run_trial(&args.dir, args.id)?;
    match &outcome.error {
        None => println!("trial {} done: {:?}", args.id, outcome.metrics),
        Some(error) => println!("trial {} failed: {error}", args.id),
    }
    Ok(())
}
