//! `hwnas latency measure|build|predict|evaluate`: latency on real devices and its predictor.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use hwnas_profiler::rank::PredictionAccuracy;
use hwnas_profiler::{
    DEFAULT_INTERLEAVE, LatencyConfig, LatencyPredictor, LatencyProfiler, PredictorConfig,
    Statistic,
};
use hwnas_space::{ModelSpace, Shape, hub};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::commands::load;
use crate::{device, samples};

#[derive(Subcommand)]
pub enum LatencyCommand {
    /// Measure the latency of samples on a device.
    Measure(MeasureArgs),
    /// Measure every distinct layer of a space on a device and write a predictor table.
    Build(BuildArgs),
    /// Predict the latency of samples from a table.
    Predict(PredictArgs),
    /// Measure random samples end to end and compare them with a table's predictions.
    Evaluate(EvaluateArgs),
    /// Rank the same random samples on several devices (their tables, optionally measured) and
    /// compare the rankings.
    Compare(CompareArgs),
}

pub fn run(command: &LatencyCommand) -> anyhow::Result<()> {
    match command {
        LatencyCommand::Measure(args) => measure(args),
        LatencyCommand::Build(args) => build(args),
        LatencyCommand::Predict(args) => predict(args),
        LatencyCommand::Evaluate(args) => evaluate(args),
        LatencyCommand::Compare(args) => compare(args),
    }
}

/// The space at `input` (batch first), and the batch.
fn space_at(
    name: &str,
    input: Option<&str>,
    batch: Option<usize>,
) -> anyhow::Result<(ModelSpace, usize)> {
    let (space, input_batch) = load(name, input)?;
    let batch = batch.unwrap_or(input_batch);
    anyhow::ensure!(batch >= 1, "--batch must be at least 1");
    Ok((space, batch))
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}  eta {{eta}}"))
            .expect("the template is valid"),
    );
    bar
}

#[derive(Args)]
pub struct MeasureArgs {
    /// Hub space name.
    name: String,
    /// File of samples (JSON lines), or `-` for standard input.
    #[arg(long)]
    sample: PathBuf,
    /// Device: flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long, default_value = "flex")]
    device: String,
    /// Examples per forward pass (overrides the batch of `--input`).
    #[arg(long)]
    batch: Option<usize>,
    /// Input shape, batch first: `1,3,64,64`.
    #[arg(long)]
    input: Option<String>,
    /// Timing budget per sample, milliseconds (at least 10 timed passes).
    #[arg(long, default_value_t = 200)]
    budget_ms: u64,
    /// Samples held at once and timed in interleaved visits, so that a drifting machine slows
    /// them alike (1: one sample after another).
    #[arg(long, default_value_t = DEFAULT_INTERLEAVE as u64, value_parser = clap::value_parser!(u64).range(1..))]
    interleave: u64,
    /// One JSON object per sample per line.
    #[arg(long)]
    json: bool,
}

fn measure(args: &MeasureArgs) -> anyhow::Result<()> {
    let (space, batch) = space_at(&args.name, args.input.as_deref(), args.batch)?;
    let device = device::parse(&args.device)?;
    let samples = samples::read(&args.sample)?;
    let config = LatencyConfig {
        batch,
        budget: Duration::from_millis(args.budget_ms),
        interleave: args.interleave as usize,
        ..LatencyConfig::default()
    };
    // A bad sample is reported before any time is spent measuring the others.
    for (i, sample) in samples.iter().enumerate() {
        space
            .resolve(sample)
            .with_context(|| format!("sample #{}", i + 1))?;
    }
    let profiler = LatencyProfiler::new(space, device, config)?;
    let bar = bar(samples.len(), "samples");
    let latencies = profiler.measure_many(&samples, &mut |done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    for (sample, latency) in samples.iter().zip(latencies?) {
        if args.json {
            let line = json!({
                "sample": sample, "median_ms": latency.median_ms, "mean_ms": latency.mean_ms,
                "min_ms": latency.min_ms, "p90_ms": latency.p90_ms, "cv": latency.cv,
                "runs": latency.runs, "batch": batch, "input": latency.input,
                "device": args.device, "burn_device": latency.device,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "median {:>9.4} ms  p90 {:>9.4} ms  min {:>9.4} ms  cv {:>5.3}  runs {:>4}  {} {:?}",
                latency.median_ms,
                latency.p90_ms,
                latency.min_ms,
                latency.cv,
                latency.runs,
                args.device,
                latency.input
            )?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct BuildArgs {
    /// Hub space name.
    name: String,
    /// Device: flex, ndarray, wgpu or cuda.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Where to write the table (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Input shape, batch first: `1,3,64,64`.
    #[arg(long)]
    input: Option<String>,
    /// Whole networks measured to fit the correction.
    #[arg(long, default_value_t = 30)]
    fit_samples: usize,
    /// Seed of those networks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Timing budget per layer, milliseconds (at least 15 timed passes).
    #[arg(long, default_value_t = 40)]
    layer_budget_ms: u64,
    /// What the table predicts: the median or the fastest of the timed passes (`min` is the
    /// reproducible one on a shared or noisy machine).
    #[arg(long, default_value = "median")]
    statistic: Statistic,
    /// Networks held at once and timed in interleaved visits.
    #[arg(long, default_value_t = DEFAULT_INTERLEAVE as u64, value_parser = clap::value_parser!(u64).range(1..))]
    interleave: u64,
}

fn build(args: &BuildArgs) -> anyhow::Result<()> {
    let (space, batch) = space_at(&args.name, args.input.as_deref(), None)?;
    let device = device::parse(&args.device)?;
    let defaults = PredictorConfig::default();
    let config = PredictorConfig {
        batch,
        fit_samples: args.fit_samples,
        seed: args.seed,
        statistic: args.statistic,
        layer_timing: LatencyConfig {
            budget: Duration::from_millis(args.layer_budget_ms),
            interleave: args.interleave as usize,
            ..defaults.layer_timing
        },
        model_timing: LatencyConfig {
            interleave: args.interleave as usize,
            ..defaults.model_timing
        },
    };
    let bar = bar(0, "layers");
    let predictor = LatencyPredictor::build(&space, &device, &config, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let predictor = predictor?;
    predictor.save(&args.out)?;
    let file = predictor.file();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} distinct layers of `{}` at {:?} measured on {} in {:.1} s; correction {:.4} x sum + {:.4} ms x layers + {:.4} ms",
        file.layers.len(),
        file.space,
        file.input,
        file.device,
        file.build_seconds,
        file.slope,
        file.per_layer_ms,
        file.intercept
    )?;
    if let Some(fit) = &file.fit {
        writeln!(out, "on the {} fitting networks: {}", fit.n, summary(fit))?;
    }
    writeln!(out, "wrote {}", args.out.display())?;
    Ok(())
}

fn summary(accuracy: &PredictionAccuracy) -> String {
    format!(
        "RMSE {:.4} ms, MAPE {:.2} %, within 5 % {:.1} %, within 10 % {:.1} %, Kendall tau {:.3}, Spearman rho {:.3}",
        accuracy.rmse_ms,
        accuracy.mape_percent,
        100.0 * accuracy.within_5_percent,
        100.0 * accuracy.within_10_percent,
        accuracy.kendall_tau,
        accuracy.spearman_rho
    )
}

/// The predictor of a table file, for the hub space and input it names.
/// Loads a latency table and checks that it was built for `space` at its input.
pub fn load_table_for(
    path: &std::path::Path,
    space: &ModelSpace,
) -> anyhow::Result<LatencyPredictor> {
    let (predictor, table_space) = load_table(path)?;
    if table_space.name() != space.name() || table_space.input() != space.input() {
        anyhow::bail!(
            "{} was built for `{}` at {}, not for `{}` at {}",
            path.display(),
            table_space.name(),
            table_space.input(),
            space.name(),
            space.input()
        );
    }
    Ok(predictor)
}

pub fn load_table(path: &std::path::Path) -> anyhow::Result<(LatencyPredictor, ModelSpace)> {
    let file = LatencyPredictor::read_file(path)?;
    let space = hub::space(&file.space)?;
    let space = match file.input[..] {
        [_, c, h, w] => space.with_input(Shape::image(c, h, w)),
        _ => anyhow::bail!(
            "latency table {}: input {:?} is not batch x image",
            path.display(),
            file.input
        ),
    };
    let predictor = LatencyPredictor::from_file(&space, file)?;
    Ok((predictor, space))
}

#[derive(Args)]
pub struct PredictArgs {
    /// A table written by `hwnas latency build`.
    #[arg(long)]
    table: PathBuf,
    /// File of samples (JSON lines), or `-` for standard input.
    #[arg(long)]
    sample: PathBuf,
    /// One JSON object per sample per line.
    #[arg(long)]
    json: bool,
}

fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let (predictor, _) = load_table(&args.table)?;
    let samples = samples::read(&args.sample)?;
    let mut out = std::io::stdout().lock();
    for (i, sample) in samples.iter().enumerate() {
        let ms = predictor
            .predict(sample)
            .with_context(|| format!("sample #{}", i + 1))?;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"sample": sample, "latency_ms": ms, "device": predictor.file().device.device})
            )?;
        } else {
            writeln!(out, "latency {ms:>9.4} ms")?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// A table written by `hwnas latency build`.
    #[arg(long)]
    table: PathBuf,
    /// Held-out random samples measured end to end.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Seed of the samples (use another than the build's).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Device the table was built on.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Samples held at once and timed in interleaved visits.
    #[arg(long, default_value_t = DEFAULT_INTERLEAVE as u64, value_parser = clap::value_parser!(u64).range(1..))]
    interleave: u64,
    /// Timing budget per sample, milliseconds (at least 10 timed passes).
    #[arg(long, default_value_t = 200)]
    budget_ms: u64,
    /// Measure the samples a second time and compare the two measurements too: how well the
    /// machine agrees with itself, the yardstick for the predictor.
    #[arg(long)]
    twice: bool,
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let (predictor, space) = load_table(&args.table)?;
    let device = device::parse(&args.device)?;
    predictor.check_device(&device)?;
    let runs = if args.twice { 2 } else { 1 };
    let mut measurements = Vec::with_capacity(runs);
    for run in 0..runs {
        let what = if run == 0 { "samples" } else { "samples again" };
        let bar = bar(args.samples, what);
        let result = predictor.evaluate(
            &space,
            &device,
            args.samples,
            args.seed,
            &LatencyConfig {
                budget: Duration::from_millis(args.budget_ms),
                interleave: args.interleave as usize,
                ..LatencyConfig::default()
            },
            &mut |done, _| bar.set_position(done as u64),
        );
        bar.finish_and_clear();
        measurements.push(result?);
    }
    let file = predictor.file();
    let mut columns = vec![("predicted vs measured", measurements[0].0.clone())];
    if let [(_, first), (_, second)] = &measurements[..] {
        let measured = |rows: &[hwnas_profiler::Evaluated]| -> Vec<f64> {
            rows.iter().map(|row| row.measured_ms).collect()
        };
        columns.push((
            "measured vs measured again",
            PredictionAccuracy::new(&measured(first), &measured(second)),
        ));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "`{}` at {:?} on {}: {} held-out samples, {} latency",
        file.space,
        file.input,
        file.device,
        args.samples,
        file.statistic.name()
    )?;
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    writeln!(
        out,
        "| metric | {} |\n| --- |{}",
        names.join(" | "),
        " --- |".repeat(names.len())
    )?;
    type Cell<'a> = &'a dyn Fn(&PredictionAccuracy) -> String;
    let rows: [(&str, Cell); 7] = [
        ("RMSE", &|a| format!("{:.4} ms", a.rmse_ms)),
        ("mean absolute percentage error", &|a| {
            format!("{:.2} %", a.mape_percent)
        }),
        ("within +-5 %", &|a| {
            format!("{:.1} %", 100.0 * a.within_5_percent)
        }),
        ("within +-10 %", &|a| {
            format!("{:.1} %", 100.0 * a.within_10_percent)
        }),
        ("Kendall tau", &|a| format!("{:.3}", a.kendall_tau)),
        ("Spearman rho", &|a| format!("{:.3}", a.spearman_rho)),
        ("measured / predicted (median)", &|a| {
            format!("{:.3}", a.median_ratio)
        }),
    ];
    for (name, value) in rows {
        let values: Vec<String> = columns.iter().map(|(_, a)| value(a)).collect();
        writeln!(out, "| {name} | {} |", values.join(" | "))?;
    }
    Ok(())
}

#[derive(Args)]
pub struct CompareArgs {
    /// Tables of one space and input, built on different devices.
    #[arg(long, num_args = 2.., required = true)]
    tables: Vec<PathBuf>,
    /// Random samples ranked on every device.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Seed of the samples.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also measure the samples end to end on these devices, one per table, in order.
    #[arg(long, num_args = 1..)]
    measure: Vec<String>,
    /// Timing budget per sample and device, milliseconds (at least 10 timed passes).
    #[arg(long, default_value_t = 200)]
    budget_ms: u64,
    /// Samples held at once and timed in interleaved visits.
    #[arg(long, default_value_t = DEFAULT_INTERLEAVE as u64, value_parser = clap::value_parser!(u64).range(1..))]
    interleave: u64,
}

fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.samples >= 2, "--samples must be at least 2");
    let (first, space) = load_table(&args.tables[0])?;
    let mut tables = vec![first];
    for path in &args.tables[1..] {
        tables.push(load_table_for(path, &space)?);
    }
    anyhow::ensure!(
        args.measure.is_empty() || args.measure.len() == tables.len(),
        "--measure names one device per table ({} tables)",
        tables.len()
    );
    let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(args.seed);
    let samples = (0..args.samples)
        .map(|_| space.search_space().random_sample(&mut rng))
        .collect::<Result<Vec<_>, _>>()?;
    let mut columns: Vec<(String, Vec<f64>)> = Vec::new();
    for (predictor, path) in tables.iter().zip(&args.tables) {
        let predicted = samples
            .iter()
            .map(|sample| predictor.predict(sample))
            .collect::<Result<Vec<_>, _>>()?;
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        columns.push((format!("{name} (predicted)"), predicted));
    }
    for (name, predictor) in args.measure.iter().zip(&tables) {
        let device = device::parse(name)?;
        predictor.check_device(&device)?;
        let timing = LatencyConfig {
            budget: Duration::from_millis(args.budget_ms),
            interleave: args.interleave as usize,
            ..LatencyConfig::default()
        };
        let profiler = LatencyProfiler::new(space.clone(), device, timing)?;
        let bar = bar(samples.len(), &format!("samples measured on {name}"));
        let measured =
            profiler.measure_many(&samples, &mut |done, _| bar.set_position(done as u64));
        bar.finish_and_clear();
        let statistic = predictor.file().statistic;
        let measured = measured?.iter().map(|l| l.get(statistic)).collect();
        columns.push((format!("{name} (measured)"), measured));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "`{}` at {}: {} random samples (seed {})",
        space.name(),
        space.input(),
        samples.len(),
        args.seed
    )?;
    for (path, predictor) in args.tables.iter().zip(&tables) {
        let device = &predictor.file().device;
        writeln!(
            out,
            "{}: {} ({})",
            path.display(),
            device.device,
            device.cpu
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "| ranking | median ms | slowest / fastest |\n| --- | --- | --- |"
    )?;
    for (name, values) in &columns {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        writeln!(
            out,
            "| {name} | {:.4} | {:.2} |",
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1] / sorted[0]
        )?;
    }
    writeln!(
        out,
        "\n| a | b | Kendall tau | Spearman rho |\n| --- | --- | --- | --- |"
    )?;
    for (i, (a, x)) in columns.iter().enumerate() {
        for (b, y) in &columns[i + 1..] {
            writeln!(
                out,
                "| {a} | {b} | {:.3} | {:.3} |",
                hwnas_profiler::rank::kendall_tau(x, y),
                hwnas_profiler::rank::spearman_rho(x, y)
            )?;
        }
    }
    Ok(())
}
