//! `hwnas search`, `hwnas report` and `hwnas export`: multi-trial search on the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use hwnas_experiment::train::{ImageSet, TrainingConfig, TrainingEvaluator};
use hwnas_experiment::{
    Experiment, ExperimentConfig, Progress, Report, TrialRecord, plot_tradeoff,
};
use hwnas_middleware::{
    Chain, DUPLICATE_REASON, Deduplication, FILTER_REASON, Filter, MedianStop, MultipleEvaluation,
};
use hwnas_profiler::{CountOptions, CountProfiler, LatencyConfig, LatencyProfiler, Profiler};
use hwnas_space::Sample;
use hwnas_strategy::{
    Direction, EvolutionConfig, GridSearch, Metrics, Objective, ParetoConfig, Random, Status,
    Strategy,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::load;
use crate::device;

#[derive(Clone, Copy, ValueEnum)]
pub enum StrategyName {
    Random,
    Grid,
    Evolution,
    Pareto,
}

#[derive(Args)]
pub struct SearchArgs {
    /// Hub space name (the embedded digits data fits `mobile-micro`, 1x8x8 inputs).
    name: String,
    /// Search strategy.
    #[arg(long, value_enum, default_value = "evolution")]
    strategy: StrategyName,
    /// FLOPs budget: samples above it are never trained.
    #[arg(long)]
    max_flops: Option<f64>,
    /// Parameter budget.
    #[arg(long)]
    max_params: Option<f64>,
    /// Latency budget in milliseconds: predicted from `--table`, else measured on `--device` at
    /// batch 1.
    #[arg(long)]
    max_latency_ms: Option<f64>,
    /// A latency table from `hwnas latency build` for this space (predicts `latency_ms`).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Tell the strategy a score of 0 for samples over budget instead of discarding them.
    #[arg(long)]
    penalise: bool,
    /// Device that trains (and measures latency): flex, ndarray, wgpu or cuda.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Trials to train.
    #[arg(long, default_value_t = 30)]
    trials: usize,
    /// Trials trained at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Stop starting trials after this many seconds.
    #[arg(long)]
    time_limit_s: Option<f64>,
    /// Experiment directory (trials.jsonl, state.json, best.json, plots).
    #[arg(long)]
    out: PathBuf,
    /// Continue the experiment in `--out`.
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

/// The budget a filter enforces, with the profilers it reads.
struct Budget {
    counts: CountProfiler,
    latency: Option<Arc<dyn Profiler>>,
    max_flops: Option<f64>,
    max_params: Option<f64>,
    max_latency_ms: Option<f64>,
}

impl Budget {
    fn admits(&self, sample: &Sample) -> bool {
        let Ok(counts) = self.counts.counts(sample) else {
            return false;
        };
        let within = |value: f64, limit: Option<f64>| limit.is_none_or(|l| value <= l);
        within(counts.flops as f64, self.max_flops)
            && within(counts.params as f64, self.max_params)
            && match (&self.latency, self.max_latency_ms) {
                (Some(latency), Some(limit)) => latency.profile(sample).is_ok_and(|ms| ms <= limit),
                _ => true,
            }
    }

    fn is_set(&self) -> bool {
        self.max_flops.is_some() || self.max_params.is_some() || self.max_latency_ms.is_some()
    }
}

pub fn search(args: &SearchArgs) -> anyhow::Result<()> {
    for (flag, value) in [
        ("--max-flops", args.max_flops),
        ("--max-params", args.max_params),
        ("--max-latency-ms", args.max_latency_ms),
    ] {
        if value.is_some_and(|v| v.is_nan() || v <= 0.0) {
            bail!("{flag} must be a positive number");
        }
    }
    let (space, _) = load(&args.name, None)?;
    let device = device::parse(&args.device)?;
    let evaluator = TrainingEvaluator::new(
        space.clone(),
        &ImageSet::digits(),
        TrainingConfig {
            epochs: args.epochs,
            ..TrainingConfig::default()
        },
        device.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let latency: Option<Arc<dyn Profiler>> = match (&args.table, args.max_latency_ms) {
        (Some(path), _) => Some(Arc::new(crate::latency::load_table_for(path, &space)?)),
        (None, Some(_)) => Some(Arc::new(LatencyProfiler::new(
            space.clone(),
            device.clone(),
            LatencyConfig::default(),
        )?)),
        (None, None) => None,
    };
    let budget = Budget {
        counts: counts.clone(),
        latency: latency.clone(),
        max_flops: args.max_flops,
        max_params: args.max_params,
        max_latency_ms: args.max_latency_ms,
    };
    let cost = if latency.is_some() {
        "latency_ms"
    } else {
        "flops"
    };
    let strategy: Box<dyn Strategy> = match args.strategy {
        StrategyName::Random => Box::new(Random::new(args.seed)),
        StrategyName::Grid => Box::new(GridSearch::new()),
        StrategyName::Evolution => Box::new(
            EvolutionConfig {
                population_size: args.population,
                sample_size: args.sample_size,
                seed: args.seed,
                ..EvolutionConfig::default()
            }
            .init()?,
        ),
        StrategyName::Pareto => Box::new(
            ParetoConfig {
                objectives: vec![Objective::maximize("accuracy"), Objective::minimize(cost)],
                population_size: args.population,
                seed: args.seed,
                ..ParetoConfig::default()
            }
            .init()?,
        ),
    };
    // Samples that differ only in choices their network never reads are one network: it is
    // trained once and the strategy is told its result again.
    let mut chain = Chain::new(strategy).then(Deduplication::per_network(space.clone()));
    if budget.is_set() {
        let penalise = args.penalise;
        let filter = Filter::new(move |sample| budget.admits(sample));
        chain = chain.then(if penalise {
            filter.penalise(Metrics::from([("accuracy".to_string(), 0.0)]))
        } else {
            filter
        });
    }
    if args.median_stop {
        chain = chain.then(MedianStop::new(Direction::Maximize));
    }
    if args.repeats > 1 {
        chain = chain.then(MultipleEvaluation::new(args.repeats));
    }
    let config = ExperimentConfig {
        max_trials: args.trials,
        max_duration: args.time_limit_s.map(Duration::from_secs_f64),
        concurrency: args.concurrency,
        seed: args.seed,
        objective: Objective::maximize("accuracy"),
        resume: args.resume,
    };
    let bar = progress_bar(args.trials);
    let observer = bar.clone();
    let mut experiment = Experiment::new(
        &args.out,
        space.search_space().clone(),
        chain,
        &evaluator,
        config,
    )
    .with_cost("flops", counts.flops())
    .with_cost("params", counts.num_params())
    .on_progress(move |progress, _| update(&observer, progress));
    if let Some(latency) = latency {
        experiment = experiment.with_cost("latency_ms", latency);
    }
    let summary = experiment.run();
    bar.finish_and_clear();
    let summary = summary?;
    let p = &summary.progress;
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
    drop(out);
    report_dir(&args.out, 5)
}

fn progress_bar(trials: usize) -> ProgressBar {
    let bar = ProgressBar::new(trials as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials  {msg}  eta {eta}")
            .expect("the template is valid"),
    );
    bar
}

fn update(bar: &ProgressBar, progress: &Progress) {
    bar.set_position(progress.evaluated as u64);
    let best = progress.best.map_or("-".to_string(), |b| format!("{b:.4}"));
    bar.set_message(format!(
        "best {best}  rejected {}  failed {}",
        progress.rejected, progress.failed
    ));
}

#[derive(Args)]
pub struct ReportArgs {
    /// Experiment directory.
    dir: PathBuf,
    /// Rows of the top table.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    report_dir(&args.dir, args.top)
}

/// Prints the top-k and the fronts of an experiment and writes its plots.
pub(crate) fn report_dir(dir: &Path, top: usize) -> anyhow::Result<()> {
    let report = Report::load(dir)?;
    let (ok, invalid, failed) = report.counts();
    let reasons: Vec<String> = report
        .reasons()
        .iter()
        .map(|(reason, n)| match *reason {
            FILTER_REASON => format!("{n} outside the budget"),
            DUPLICATE_REASON => format!("{n} a network already trained"),
            other => format!("{n} {other}"),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}: {ok} ok, {failed} failed, {invalid} not trained",
        dir.display()
    )?;
    if reasons.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, " ({})", reasons.join(", "))?;
    }
    let accuracy = Objective::maximize("accuracy");
    let best = report.top_k(&accuracy, top);
    if best.is_empty() {
        writeln!(out, "no trial finished with an accuracy")?;
        return Ok(());
    }
    writeln!(
        out,
        "\ntop {} by accuracy:\n{}",
        best.len(),
        report.table(&best)
    )?;
    let names = report.metric_names();
    let evaluated: Vec<&TrialRecord> = report
        .records
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    for cost in ["latency_ms", "flops", "params"] {
        if !names.iter().any(|n| n == cost) {
            continue;
        }
        let front = report.pareto_front(&[accuracy.clone(), Objective::minimize(cost)]);
        writeln!(
            out,
            "Pareto front, accuracy against {cost}:\n{}",
            report.table(&front)
        )?;
        let stem = dir.join(format!("accuracy_vs_{cost}"));
        let [png, svg] = plot_tradeoff(&evaluated, &front, cost, "accuracy", &stem)?;
        writeln!(out, "plots: {} {}\n", png.display(), svg.display())?;
    }
    Ok(())
}

#[derive(Args)]
pub struct ExportArgs {
    /// Experiment directory.
    dir: PathBuf,
    /// The best K trials by accuracy.
    #[arg(long, default_value_t = 1, conflicts_with = "front")]
    top: usize,
    /// The Pareto front of accuracy against this cost (flops, params, latency_ms).
    #[arg(long)]
    front: Option<String>,
}

/// Writes the chosen architectures as sample JSON lines, which `profile` and `freeze` read.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let report = Report::load(&args.dir)?;
    let accuracy = Objective::maximize("accuracy");
    let chosen = match &args.front {
        Some(cost) => {
            if !report.metric_names().contains(cost) {
                bail!("no trial of {} has a metric `{cost}`", args.dir.display());
            }
            report.pareto_front(&[accuracy, Objective::minimize(cost.as_str())])
        }
        None => report.top_k(&accuracy, args.top),
    };
    if chosen.is_empty() {
        bail!("{} has no evaluated trial to export", args.dir.display());
    }
    let mut out = std::io::stdout().lock();
    for record in chosen {
        writeln!(out, "{}", record.sample).context("cannot write to standard output")?;
    }
    Ok(())
}
