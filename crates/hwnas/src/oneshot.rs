//! `hwnas oneshot`: one-shot search on a weight-sharing supernet, with a hardware penalty.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use hwnas_experiment::Stop;
use hwnas_experiment::train::{OneShotRun, OneShotRunConfig, OneShotRunError};
use hwnas_middleware::Budget;
use hwnas_profiler::{Costs, LatencyPredictor};
use hwnas_space::metric;
use hwnas_strategy::RangeFilter;
use hwnas_strategy::oneshot::{
    Algorithm, HardwarePenalty, Nonlinear, OneShotConfig, PenaltyConfig, PenaltyMode,
};

use crate::args::{DataArgs, DeviceArgs};
use crate::exit::{Interrupted, bail_input};
use crate::interrupt::{self, OnSignal};
use crate::output::{bar, print_report};

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

impl CostName {
    fn metric(self) -> &'static str {
        match self {
            CostName::Flops => metric::FLOPS,
            CostName::Params => metric::PARAMS,
            CostName::Latency => metric::LATENCY_MS,
        }
    }
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
    /// Hub space name; its networks are built for the data's image size and classes.
    name: String,
    /// The images the supernet trains on.
    #[command(flatten)]
    data: DataArgs,
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
    /// The device that trains.
    #[command(flatten)]
    device: DeviceArgs,
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
            bail_input!("{flag} must be a positive number");
        }
    }
    if args.epochs == 0 || args.batch_size == 0 || args.trials == 0 {
        bail_input!("--epochs, --batch-size and --trials must be at least 1");
    }
    let spos = algorithm == Algorithm::Spos;
    if args.from.is_some() && !spos {
        bail_input!("--from searches a trained supernet again, which only spos does");
    }
    if spos && args.baseline.is_some() {
        bail_input!(
            "spos learns no distribution to penalise: bound the cost with --min-cost/--max-cost"
        );
    }
    if !spos && (args.min_cost.is_some() || args.max_cost.is_some()) {
        bail_input!("--min-cost/--max-cost bound spos; gradient-based strategies take --baseline");
    }
    let bounded = args.min_cost.is_some() || args.max_cost.is_some();
    if args.penalty.is_none() && (args.baseline.is_some() || bounded) {
        bail_input!("name the cost with --penalty flops|params|latency");
    }
    if !spos && args.penalty.is_some() && args.baseline.is_none() {
        bail_input!("--penalty needs --baseline, the cost to aim at");
    }
    if args.penalty == Some(CostName::Latency) && args.table.is_none() {
        bail_input!(
            "--penalty latency needs a predictor table (--table); build one with \
             `hwnas latency build {} --device {} --out TABLE.json`",
            args.name,
            args.device.device
        );
    }
    let data = args.data.load()?;
    let space = data.space(&args.name)?;
    let device = args.device.device.device()?;
    let mut costs = Costs::counts(&space)?;
    if let Some(path) = &args.table {
        let table = LatencyPredictor::load(path, &space)
            .with_context(|| format!("latency table {}", path.display()))?;
        costs = costs.with(metric::LATENCY_MS, table);
    }

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
        data: data.config().clone(),
        ..OneShotRunConfig::default()
    };
    // The run reports the number of steps with the first one.
    let bar = bar(0, "steps");
    let (step_bar, epoch_bar) = (bar.clone(), bar.clone());
    let stop = Stop::new();
    interrupt::install(OnSignal::Finish(&stop))?;
    let mut run = OneShotRun::new(&args.out, space.clone(), &data, device, config)
        .with_costs(costs.clone())
        .with_stop(stop)
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
    if let Some(trained) = &args.from {
        run = run.from_trained(trained);
    }
    run = run.resume(args.resume);
    if let (Some(cost), Some(baseline)) = (args.penalty, args.baseline) {
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
        run = run.with_penalty(HardwarePenalty::new(config, costs.clone(), cost.metric())?);
    }
    if let (Some(cost), true) = (args.penalty, bounded) {
        let metric = cost.metric();
        let (min, max) = (
            args.min_cost.unwrap_or(f64::NEG_INFINITY),
            args.max_cost.unwrap_or(f64::INFINITY),
        );
        let mut budget = Budget::new();
        if let Some(min) = args.min_cost {
            budget = budget.min(metric, min);
        }
        if let Some(max) = args.max_cost {
            budget = budget.max(metric, max);
        }
        run = run
            .with_range(RangeFilter::new(costs, metric, min, max)?)
            .with_budget(budget);
    }
    let summary = run.run();
    bar.finish_and_clear();
    let summary = match summary {
        Err(OneShotRunError::Interrupted) => {
            return Err(Interrupted(interrupt::resume_command()).into());
        }
        other => other?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "chosen: {}", summary.best)?;
    let metrics: Vec<String> = summary
        .metrics
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    writeln!(out, "{}\n", metrics.join(", "))?;
    drop(out);
    print_report(&args.out, 5)
}
