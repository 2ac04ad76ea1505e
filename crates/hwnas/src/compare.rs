//! The strategy studies on NAS-Bench-201, printed: `hwnas bench compare` ([`CompareStudy`]) and
//! `hwnas bench fitted-search` ([`fitted_budget_study`]).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hwnas_benchmark::study::{CellOutcome, StudyReport, SummaryRow};
use hwnas_benchmark::{CompareStudy, Dataset, NasBench201};
use hwnas_experiment::{Curve, fitted_budget_study, plot_curves, run_study};
use hwnas_space::metric;
use hwnas_strategy::{Objective, StrategyConfig, StrategyName};
use serde_json::json;

use crate::args::JsonArgs;
use crate::exit::bail_input;

#[derive(Args)]
pub struct CompareArgs {
    /// The datasets whose test accuracy is maximized, comma separated: cifar10, cifar100,
    /// imagenet16.
    #[arg(
        long,
        alias = "dataset",
        value_delimiter = ',',
        default_value = "cifar10,cifar100,imagenet16"
    )]
    datasets: Vec<Dataset>,
    /// The strategies compared, comma separated; the first is the baseline the others are
    /// tested against (Welch's t-test on the regret, p < 0.01).
    #[arg(long, value_delimiter = ',', default_value = "random,guided,evolution")]
    strategies: Vec<String>,
    /// Seeds (independent searches) per strategy and budget.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Trials per search; several (comma separated, ascending) judge the same searches after
    /// each count.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    trials: Vec<usize>,
    /// Devices whose latency bounds the budgets, comma separated, or `all` (`hwnas bench
    /// devices`).
    #[arg(long, alias = "device", value_delimiter = ',')]
    devices: Vec<String>,
    /// Latency budgets at these quantiles of each device's latency over all cells (0.5: half
    /// the cells fit), comma separated.
    #[arg(long, value_delimiter = ',')]
    quantiles: Vec<f64>,
    /// Latency budgets in milliseconds on each device, comma separated.
    #[arg(long, value_delimiter = ',')]
    max_latency_ms: Vec<f64>,
    /// FLOPs budgets, comma separated.
    #[arg(long, value_delimiter = ',')]
    max_flops: Vec<f64>,
    /// Parameter budgets, comma separated.
    #[arg(long, value_delimiter = ',')]
    max_params: Vec<f64>,
    /// Population of the evolutionary strategies (NAS-Bench-201's paper: 10).
    #[arg(long, default_value_t = 10)]
    population: usize,
    /// Tournament size of regularized evolution (NAS-Bench-201's paper: 3).
    #[arg(long, default_value_t = 3)]
    sample_size: usize,
    /// Probability that a child resamples each edge, for both evolutionary strategies.
    #[arg(long, default_value_t = 0.05)]
    mutation_prob: f64,
    /// Print every budget's row, not only the summary.
    #[arg(long)]
    cells: bool,
    /// Directory of the regret plot (`compare.png` and `.svg`).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    #[command(flatten)]
    output: JsonArgs,
}

impl CompareArgs {
    fn study(&self) -> anyhow::Result<CompareStudy> {
        let bench = NasBench201::get();
        let devices: Vec<&'static str> = match self.devices.as_slice() {
            [all] if all == "all" => bench.devices().iter().map(|d| d.name).collect(),
            names => names
                .iter()
                .map(|name| Ok(bench.device(name)?.name))
                .collect::<anyhow::Result<_>>()?,
        };
        let latency = !self.quantiles.is_empty() || !self.max_latency_ms.is_empty();
        if latency == devices.is_empty() {
            bail_input!("--devices and --quantiles (or --max-latency-ms) go together");
        }
        for (flag, values) in [
            ("--max-latency-ms", &self.max_latency_ms),
            ("--max-flops", &self.max_flops),
            ("--max-params", &self.max_params),
        ] {
            if values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                bail_input!("{flag} must be positive numbers");
            }
        }
        if self.seeds == 0 || self.trials.is_empty() || self.strategies.is_empty() {
            bail_input!("--seeds, --trials and --strategies need at least one each");
        }
        Ok(CompareStudy {
            datasets: self.datasets.clone(),
            devices,
            quantiles: self.quantiles.clone(),
            max_latency_ms: self.max_latency_ms.clone(),
            max_flops: self.max_flops.clone(),
            max_params: self.max_params.clone(),
            strategies: self.strategies.clone(),
            seeds: self.seeds,
            checkpoints: self.trials.clone(),
        })
    }
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let study = args.study()?;
    let started = std::time::Instant::now();
    let report = run_study(&study, |name, seed| {
        // Multi-objective search trades accuracy against the budget's cost (latency when a
        // device is named).
        let cost = if study.devices.is_empty() {
            metric::FLOPS
        } else {
            metric::LATENCY_MS
        };
        StrategyConfig::named(name, seed)
            .with_population(args.population, args.sample_size, args.mutation_prob)
            .with_tradeoff(Objective::minimize(cost))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let curves: Vec<Curve> = (0..study.strategies.len())
        .map(|s| {
            let runs: Vec<Vec<f64>> = report
                .cells
                .iter()
                .map(|c| c.strategies[s].curve.clone())
                .collect();
            Curve::of(study.strategies[s].clone(), &runs)
        })
        .collect();
    let [png, svg] = plot_curves(
        &curves,
        "trials",
        "regret to the optimum under the budget (points)",
        &args.out.join("compare"),
    )?;
    let mut out = std::io::stdout().lock();
    if args.output.json {
        print_json(&mut out, &report)?;
        return Ok(());
    }
    if args.cells {
        for (c, &trials) in report.checkpoints.iter().enumerate() {
            print_cells(&mut out, &report.cells, c, trials)?;
        }
    }
    print_summary(&mut out, &report.summary, &study.strategies[0])?;
    writeln!(
        out,
        "{} budgets x {} strategies x {} seeds in {seconds:.1} s\nplots: {} {}",
        report.cells.len(),
        study.strategies.len(),
        study.seeds,
        png.display(),
        svg.display()
    )?;
    Ok(())
}

fn print_json(out: &mut impl Write, report: &StudyReport) -> anyhow::Result<()> {
    for cell in &report.cells {
        for outcome in &cell.strategies {
            for (c, &trials) in report.checkpoints.iter().enumerate() {
                let line = json!({
                    "dataset": cell.cell.dataset, "device": cell.cell.device,
                    "rule": cell.cell.rule, "metric": cell.cell.metric, "limit": cell.cell.limit,
                    "optimum": cell.cell.optimum, "admissible": cell.cell.n_admissible,
                    "strategy": outcome.strategy, "seeds": report.seeds, "trials": trials,
                    "regret": outcome.regret[c], "regret_std": outcome.regret_std[c],
                    "found_optimum": outcome.at_optimum[c], "p": outcome.p_versus_baseline[c],
                });
                writeln!(out, "{line}")?;
            }
        }
    }
    for row in &report.summary {
        let mut line = serde_json::to_value(row)?;
        line["summary"] = json!(true);
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn print_cells(
    out: &mut impl Write,
    cells: &[CellOutcome],
    c: usize,
    trials: usize,
) -> anyhow::Result<()> {
    let Some(first) = cells.first() else {
        return Ok(());
    };
    let names: Vec<&str> = first
        .strategies
        .iter()
        .map(|s| s.strategy.as_str())
        .collect();
    writeln!(
        out,
        "\nRegret after {trials} trials (points; p against {}):\n",
        names[0]
    )?;
    let header: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    writeln!(
        out,
        "| dataset | budget | optimum | {} |",
        header.join(" | ")
    )?;
    writeln!(out, "| --- | --- | --- |{}", " --- |".repeat(names.len()))?;
    for cell in cells {
        let budget = match cell.cell.device {
            Some(device) => format!("{device} <= {:.3} ms", cell.cell.limit),
            None if cell.cell.limit.is_infinite() => "none".to_string(),
            None => format!("{} <= {}", cell.cell.metric, cell.cell.limit),
        };
        let columns: Vec<String> = cell
            .strategies
            .iter()
            .map(|s| match s.p_versus_baseline[c] {
                Some(p) => format!("{:.3} (p {p:.0e})", s.regret[c]),
                None => format!("{:.3}", s.regret[c]),
            })
            .collect();
        writeln!(
            out,
            "| {} | {budget} | {:.2} | {} |",
            cell.cell.dataset,
            cell.cell.optimum,
            columns.join(" | ")
        )?;
    }
    Ok(())
}

fn print_summary(out: &mut impl Write, rows: &[SummaryRow], baseline: &str) -> anyhow::Result<()> {
    writeln!(
        out,
        "\n| trials | strategy | cells | mean regret | x {baseline} | at the optimum | wins | losses |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for row in rows {
        writeln!(
            out,
            "| {} | {} | {} ({}) | {:.3} | {:.2} | {:.1} % | {} | {} |",
            row.trials,
            row.strategy,
            row.group,
            row.cells,
            row.regret,
            row.regret_ratio,
            100.0 * row.at_optimum,
            row.wins,
            row.losses
        )?;
    }
    Ok(())
}

#[derive(Args)]
pub struct FittedSearchArgs {
    /// The dataset whose test accuracy is maximized.
    #[arg(long, default_value = "cifar10")]
    dataset: Dataset,
    /// Budgets at these quantiles of each device's true latency, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5")]
    quantiles: Vec<f64>,
    /// Cells measured on the device for each fit.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Searches (each with its own fit) per device and budget.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Trials per search.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// The strategy.
    #[arg(long, default_value = "guided")]
    strategy: StrategyName,
    /// Search under the budget as predicted, without the margin for the fit's error that
    /// `hwnas search --table` applies.
    #[arg(long)]
    no_margin: bool,
    #[command(flatten)]
    output: JsonArgs,
}

pub fn fitted_search(args: &FittedSearchArgs) -> anyhow::Result<()> {
    if args.seeds == 0 || args.trials == 0 || args.k < 3 {
        bail_input!("--seeds and --trials need at least one, --k at least 3");
    }
    if args.quantiles.iter().any(|q| !(*q > 0.0 && *q <= 1.0)) {
        bail_input!("--quantiles must be in (0, 1]");
    }
    let started = std::time::Instant::now();
    let rows = fitted_budget_study(
        args.dataset,
        &args.quantiles,
        args.k,
        args.seeds,
        args.trials,
        !args.no_margin,
        |seed| StrategyConfig::named(args.strategy, seed),
    )?;
    let mut out = std::io::stdout().lock();
    if args.output.json {
        for row in &rows {
            writeln!(out, "{}", serde_json::to_value(row)?)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "| device | quantile | budget (ms) | winner within 5 % | mean / worst true latency over budget | regret |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    for row in &rows {
        writeln!(
            out,
            "| {} | {} | {:.3} | {:.0} % | {:.3} / {:.3} | {:.3} |",
            row.device,
            row.quantile,
            row.budget_ms,
            100.0 * row.within_5_percent,
            row.mean_ratio,
            row.worst_ratio,
            row.regret
        )?;
    }
    let runs: usize = rows.iter().map(|r| r.runs).sum();
    let within: f64 = rows
        .iter()
        .map(|r| r.within_5_percent * r.runs as f64)
        .sum();
    let meeting = rows.iter().filter(|r| r.within_5_percent >= 0.9).count();
    let regret = rows.iter().map(|r| r.regret).sum::<f64>() / rows.len() as f64;
    writeln!(
        out,
        "all: the winner's true latency within 5 % of the budget in {:.1} % of {runs} searches; \
         {meeting} of {} budgets at 90 % or more; mean regret {regret:.3}; {:.1} s",
        100.0 * within / runs as f64,
        rows.len(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}
