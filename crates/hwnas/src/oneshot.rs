//! `hwnas oneshot`: one-shot search on a weight-sharing supernet, with a hardware penalty.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, ValueEnum};
use hwnas_experiment::train::{ImageSet, OneShotRun, OneShotRunConfig};
use hwnas_profiler::{CountOptions, CountProfiler, Profiler};
use hwnas_strategy::RangeFilter;
use hwnas_strategy::oneshot::{
    Algorithm, HardwarePenalty, Nonlinear, OneShotConfig, PenaltyConfig, PenaltyMode,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::load;
use crate::{device, search};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmName {
    Spos,
    Darts,
    Gumbel,
    Proxyless,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostName {
    Flops,
    Params,
    Latency,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeName {
    Add,
    Mul,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NonlinearName {
    Linear,
    Positive,
    Negative,
    Absolute,
}

#[derive(Args)]
pub struct OneShotArgs {
    /// Hub space name (the embedded digits data fits `mobile-micro`, 1x8x8 inputs).
    name: String,
    /// One-shot algorithm.
    #[arg(long, value_enum, default_value = "darts")]
    strategy: AlgorithmName,
    /// The hardware cost: penalised (darts, gumbel, proxyless) or bounded by
    /// `--min-cost`/`--max-cost` (spos). `latency` is predicted from `--table`, in ms.
    #[arg(long, value_enum)]
    penalty: Option<CostName>,
    /// The cost the penalty aims at (FLOPs, parameters or ms).
    #[arg(long)]
    baseline: Option<f64>,
    /// Strength of the penalty.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// `add`: loss + scale * n; `mul`: loss * (1 + n)^scale.
    #[arg(long, value_enum, default_value = "add")]
    mode: ModeName,
    /// n of the relative cost x = expected / baseline - 1: x, max(x, 0), min(x, 0) or |x|.
    #[arg(long, value_enum, default_value = "linear")]
    nonlinear: NonlinearName,
    /// Epochs before the penalty starts.
    #[arg(long, default_value_t = 0)]
    warmup_epochs: usize,
    /// SPOS: train and search only subnets whose cost is at least this.
    #[arg(long)]
    min_cost: Option<f64>,
    /// SPOS: train and search only subnets whose cost is at most this.
    #[arg(long)]
    max_cost: Option<f64>,
    /// A latency table from `hwnas latency build` for this space (needed by `--penalty latency`).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Device that trains: flex, ndarray, wgpu or cuda.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Epochs of supernet training.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// SPOS: subnets the evolution over inherited weights evaluates.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Images per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Epochs the chosen subnet then trains alone from its inherited weights.
    #[arg(long, default_value_t = 0)]
    finetune_epochs: usize,
    /// Adam's learning rate for the weights.
    #[arg(long, default_value_t = 0.01)]
    weight_lr: f64,
    /// Adam's learning rate for the architecture parameters.
    #[arg(long, default_value_t = 0.03)]
    arch_lr: f64,
    /// Experiment directory (trials.jsonl, supernet.jsonl, best.json, supernet.bpk, plots).
    #[arg(long)]
    out: PathBuf,
    /// SPOS: search the supernet an earlier run trained into this directory instead of training
    /// one (`--epochs` is then unused), e.g. under another `--max-cost`.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Seed of the path sampling, the data order and the device.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Go on with a run that stopped in `--out` (same command otherwise): training resumes after
    /// its last finished epoch, a SPOS search where it was.
    #[arg(long)]
    resume: bool,
}

pub fn oneshot(args: &OneShotArgs) -> anyhow::Result<()> {
    let algorithm = match args.strategy {
        AlgorithmName::Spos => Algorithm::Spos,
        AlgorithmName::Darts => Algorithm::Darts,
        AlgorithmName::Gumbel => Algorithm::Gumbel,
        AlgorithmName::Proxyless => Algorithm::Proxyless,
    };
    for (flag, value) in [
        ("--baseline", args.baseline),
        ("--scale", Some(args.scale)),
        ("--weight-lr", Some(args.weight_lr)),
        ("--arch-lr", Some(args.arch_lr)),
    ] {
        if value.is_some_and(|v| !v.is_finite() || v <= 0.0) {
            bail!("{flag} must be a positive number");
        }
    }
    if args.epochs == 0 || args.batch_size == 0 || args.trials == 0 {
        bail!("--epochs, --batch-size and --trials must be at least 1");
    }
    let spos = algorithm == Algorithm::Spos;
    if args.from.is_some() && !spos {
        bail!("--from searches a trained supernet again, which only spos does");
    }
    if spos && args.baseline.is_some() {
        bail!("spos learns no distribution to penalise: bound the cost with --min-cost/--max-cost");
    }
    if !spos && (args.min_cost.is_some() || args.max_cost.is_some()) {
        bail!("--min-cost/--max-cost bound spos; gradient-based strategies take --baseline");
    }
    let bounded = args.min_cost.is_some() || args.max_cost.is_some();
    if args.penalty.is_none() && (args.baseline.is_some() || bounded) {
        bail!("name the cost with --penalty flops|params|latency");
    }
    if !spos && args.penalty.is_some() && args.baseline.is_none() {
        bail!("--penalty needs --baseline, the cost to aim at");
    }
    let (space, _) = load(&args.name, None)?;
    let data = ImageSet::digits();
    let device = device::parse(&args.device)?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let latency: Option<Arc<dyn Profiler>> = match &args.table {
        Some(path) => Some(Arc::new(crate::latency::load_table_for(path, &space)?)),
        None => None,
    };
    let cost: Option<Arc<dyn Profiler>> = match args.penalty {
        None => None,
        Some(CostName::Flops) => Some(Arc::new(counts.flops())),
        Some(CostName::Params) => Some(Arc::new(counts.num_params())),
        Some(CostName::Latency) => match &latency {
            Some(latency) => Some(latency.clone()),
            None => bail!(
                "--penalty latency needs a predictor table (--table); build one with \
                 `hwnas latency build {} --device {} --out TABLE.json`",
                args.name,
                args.device
            ),
        },
    };

    let config = OneShotRunConfig {
        oneshot: OneShotConfig {
            algorithm,
            epochs: args.epochs,
            weight_learning_rate: args.weight_lr,
            arch_learning_rate: args.arch_lr,
            penalty_warmup_epochs: args.warmup_epochs,
            seed: args.seed,
            ..OneShotConfig::default()
        },
        batch_size: args.batch_size,
        search_trials: args.trials,
        finetune_epochs: args.finetune_epochs,
        split_seed: 0,
        ..OneShotRunConfig::default()
    };
    // The run reports the number of steps with the first one.
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  eta {eta}")
            .expect("the template is valid"),
    );
    let (step_bar, epoch_bar) = (bar.clone(), bar.clone());
    let mut run = OneShotRun::new(&args.out, space.clone(), &data, device, config)
        .with_cost("flops", counts.flops())
        .with_cost("params", counts.num_params())
        .on_step(move |step, total| {
            step_bar.set_length(total as u64);
            step_bar.set_position(step as u64);
        })
        .on_epoch(move |record| {
            let mut line = format!("epoch {}: loss {:.4}", record.epoch, record.loss);
            if let Some(accuracy) = record.accuracy {
                line += &format!("  accuracy {accuracy:.4}");
            }
            if let Some(cost) = record.expected_cost {
                line += &format!("  expected cost {cost:.4}");
            }
            epoch_bar.println(line);
        });
    if let Some(latency) = latency {
        run = run.with_cost("latency_ms", latency);
    }
    if let Some(trained) = &args.from {
        run = run.from_trained(trained);
    }
    run = run.resume(args.resume);
    if let (Some(cost), Some(baseline)) = (&cost, args.baseline) {
        let config = PenaltyConfig {
            baseline,
            scale: args.scale,
            mode: match args.mode {
                ModeName::Add => PenaltyMode::Add,
                ModeName::Mul => PenaltyMode::Mul,
            },
            nonlinear: match args.nonlinear {
                NonlinearName::Linear => Nonlinear::Linear,
                NonlinearName::Positive => Nonlinear::Positive,
                NonlinearName::Negative => Nonlinear::Negative,
                NonlinearName::Absolute => Nonlinear::Absolute,
            },
        };
        let cost = cost.clone();
        run = run.with_penalty(HardwarePenalty::new(
            config,
            Box::new(move |sample| cost.profile(sample).ok()),
        ));
    }
    if let (Some(cost), true) = (&cost, bounded) {
        let (min, max) = (
            args.min_cost.unwrap_or(f64::NEG_INFINITY),
            args.max_cost.unwrap_or(f64::INFINITY),
        );
        let (range_cost, budget_cost) = (cost.clone(), cost.clone());
        run = run
            .with_range(RangeFilter::new(
                move |sample| range_cost.profile(sample).ok(),
                min,
                max,
            )?)
            .with_budget(move |sample| {
                budget_cost
                    .profile(sample)
                    .is_ok_and(|c| (min..=max).contains(&c))
            });
    }
    let summary = run.run();
    bar.finish_and_clear();
    let summary = summary?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "chosen: {}", summary.best)?;
    let metrics: Vec<String> = summary
        .metrics
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    writeln!(out, "with inherited weights: {}\n", metrics.join(", "))?;
    drop(out);
    search::report_dir(&args.out, 5)
}
