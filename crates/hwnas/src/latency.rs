//! `hwnas latency measure|build|predict|evaluate|compare|fit|calibrate`: latency on real devices
//! and its predictor.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use hwnas_benchmark::NasBench201;
use hwnas_profiler::rank::PredictionAccuracy;
use hwnas_profiler::{
    BURN_VERSION, DeviceFingerprint, LatencyBackend, LatencyConfig, LatencyPredictor,
    LatencyProfiler, Measurement, PredictorConfig, Statistic, read_measurements,
};
use hwnas_space::{ModelSpace, Shape, hub, metric};
use serde_json::json;

use crate::args::{InterleaveArgs, JsonArgs, LatencyDeviceArgs, SampleArgs, SpaceArgs, TimingArgs};
use crate::exit::bail_input;
use crate::interrupt::{self, OnSignal};
use crate::output::bar;

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
    /// Fit a table for a device from a few networks measured on it, with base tables (and, for
    /// `nasbench201`, the benchmark's published devices) as the prior.
    Fit(FitArgs),
    /// Measure a few random samples on a device now and fit a table to them: the fix when the
    /// machine's speed has drifted since the table was built, or a table moved to another device.
    Calibrate(CalibrateArgs),
}

pub fn run(command: &LatencyCommand) -> anyhow::Result<()> {
    match command {
        LatencyCommand::Measure(args) => measure(args),
        LatencyCommand::Build(args) => build(args),
        LatencyCommand::Predict(args) => predict(args),
        LatencyCommand::Evaluate(args) => evaluate(args),
        LatencyCommand::Compare(args) => compare(args),
        LatencyCommand::Fit(args) => fit(args),
        LatencyCommand::Calibrate(args) => calibrate(args),
    }
}

#[derive(Args)]
pub struct MeasureArgs {
    #[command(flatten)]
    space: SpaceArgs,
    #[command(flatten)]
    samples: SampleArgs,
    #[command(flatten)]
    device: LatencyDeviceArgs,
    /// Examples per forward pass (overrides the batch of `--input`).
    #[arg(long)]
    batch: Option<usize>,
    #[command(flatten)]
    timing: TimingArgs,
    #[command(flatten)]
    output: JsonArgs,
}

impl TimingArgs {
    /// Timing with this budget and interleaving, the rest as by default.
    fn config(&self) -> LatencyConfig {
        LatencyConfig {
            budget: Duration::from_millis(self.budget_ms),
            interleave: self.interleave.interleave as usize,
            ..LatencyConfig::default()
        }
    }
}

fn measure(args: &MeasureArgs) -> anyhow::Result<()> {
    let (space, input_batch) = args.space.load()?;
    let batch = args.batch.unwrap_or(input_batch);
    if batch == 0 {
        bail_input!("--batch must be at least 1");
    }
    let device = args.device.device.device()?;
    let samples = args.samples.read()?;
    let config = LatencyConfig {
        batch,
        ..args.timing.config()
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
        if args.output.json {
            let line = json!({
                "sample": sample, "median_ms": latency.median_ms, "mean_ms": latency.mean_ms,
                "min_ms": latency.min_ms, "p90_ms": latency.p90_ms, "cv": latency.cv,
                "runs": latency.runs, "batch": batch, "input": latency.input,
                "device": args.device.device, "burn_device": latency.device,
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
                args.device.device,
                latency.input
            )?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    space: SpaceArgs,
    #[command(flatten)]
    device: LatencyDeviceArgs,
    /// Where to write the table (JSON).
    #[arg(long)]
    out: PathBuf,
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
    #[command(flatten)]
    interleave: InterleaveArgs,
}

fn build(args: &BuildArgs) -> anyhow::Result<()> {
    let (space, batch) = args.space.load()?;
    crate::output::prepare_out(&args.out)?;
    let device = args.device.device.device()?;
    let defaults = PredictorConfig::default();
    let config = PredictorConfig {
        batch,
        fit_samples: args.fit_samples,
        seed: args.seed,
        statistic: args.statistic,
        layer_timing: LatencyConfig {
            budget: Duration::from_millis(args.layer_budget_ms),
            interleave: args.interleave.interleave as usize,
            ..defaults.layer_timing
        },
        model_timing: LatencyConfig {
            interleave: args.interleave.interleave as usize,
            ..defaults.model_timing
        },
    };
    interrupt::install(OnSignal::Quit("no table was written"))?;
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

/// Loads a latency table and checks that it was built for `space` at its input.
fn load_table_for(
    path: &std::path::Path,
    space: &ModelSpace,
) -> anyhow::Result<(LatencyPredictor, ModelSpace)> {
    let (predictor, table_space) = load_table(path)?;
    if table_space.name() != space.name() || table_space.input() != space.input() {
        bail_input!(
            "{} was built for `{}` at {}, not for `{}` at {}",
            path.display(),
            table_space.name(),
            table_space.input(),
            space.name(),
            space.input()
        );
    }
    Ok((predictor, table_space))
}

/// The predictor of a table file, for the hub space and input it names.
fn load_table(path: &std::path::Path) -> anyhow::Result<(LatencyPredictor, ModelSpace)> {
    let file = LatencyPredictor::read_file(path)?;
    let space = hub::space(&file.space)?;
    let space = match file.input[..] {
        [_, c, h, w] => space.with_input(Shape::image(c, h, w)),
        _ => bail_input!(
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
    #[command(flatten)]
    samples: SampleArgs,
    #[command(flatten)]
    output: JsonArgs,
}

fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let (predictor, _) = load_table(&args.table)?;
    let samples = args.samples.read()?;
    let mut out = std::io::stdout().lock();
    for (i, sample) in samples.iter().enumerate() {
        let ms = predictor
            .predict(sample)
            .with_context(|| format!("sample #{}", i + 1))?;
        if args.output.json {
            writeln!(
                out,
                "{}",
                json!({
                    "sample": sample,
                    metric::LATENCY_MS: ms,
                    "device": predictor.file().device.device,
                })
            )?;
        } else {
            writeln!(out, "latency {ms:>9.4} ms")?;
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// A table written by `hwnas latency build`, `fit` or `calibrate`.
    #[arg(long)]
    table: PathBuf,
    /// Held-out random samples measured end to end.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Seed of the samples (use another than the build's).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The device the table was built on.
    #[command(flatten)]
    device: LatencyDeviceArgs,
    #[command(flatten)]
    timing: TimingArgs,
    /// Measure the samples a second time and compare the two measurements too: how well the
    /// machine agrees with itself, the yardstick for the predictor.
    #[arg(long)]
    twice: bool,
    /// Compare with these measurements instead of measuring (JSON lines, as `hwnas latency fit
    /// --measured` reads): a device this machine cannot run, or measurements taken earlier.
    #[arg(long, conflicts_with_all = ["samples", "seed", "twice"])]
    measured: Option<PathBuf>,
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let (predictor, space) = load_table(&args.table)?;
    let file = predictor.file();
    let mut columns = Vec::new();
    let what = if let Some(path) = &args.measured {
        let measurements = read_measurements(path, &space, &file.input, file.statistic)?;
        if measurements.len() < 2 {
            bail_input!(
                "{}: {} measurements, evaluation needs at least 2",
                path.display(),
                measurements.len()
            );
        }
        let predicted = measurements
            .iter()
            .map(|m| predictor.predict(&m.sample))
            .collect::<Result<Vec<_>, _>>()?;
        let measured: Vec<f64> = measurements.iter().map(|m| m.latency_ms).collect();
        columns.push((
            "predicted vs measured",
            PredictionAccuracy::new(&predicted, &measured),
        ));
        format!("{} measurements from {}", measured.len(), path.display())
    } else {
        let device = args.device.device.device()?;
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
                &args.timing.config(),
                &mut |done, _| bar.set_position(done as u64),
            );
            bar.finish_and_clear();
            measurements.push(result?);
        }
        columns.push(("predicted vs measured", measurements[0].0.clone()));
        if let [(_, first), (_, second)] = &measurements[..] {
            let measured = |rows: &[hwnas_profiler::Evaluated]| -> Vec<f64> {
                rows.iter().map(|row| row.measured_ms).collect()
            };
            columns.push((
                "measured vs measured again",
                PredictionAccuracy::new(&measured(first), &measured(second)),
            ));
        }
        format!("{} held-out samples", args.samples)
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "`{}` at {:?} on {}: {what}, {} latency",
        file.space,
        file.input,
        file.device,
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
    measure: Vec<LatencyBackend>,
    #[command(flatten)]
    timing: TimingArgs,
}

fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    if args.samples < 2 {
        bail_input!("--samples must be at least 2");
    }
    let (first, space) = load_table(&args.tables[0])?;
    let mut tables = vec![first];
    for path in &args.tables[1..] {
        tables.push(load_table_for(path, &space)?.0);
    }
    if !(args.measure.is_empty() || args.measure.len() == tables.len()) {
        bail_input!(
            "--measure names one device per table ({} tables)",
            tables.len()
        );
    }
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
        let device = name.device()?;
        predictor.check_device(&device)?;
        let profiler = LatencyProfiler::new(space.clone(), device, args.timing.config())?;
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

#[derive(Args)]
pub struct FitArgs {
    #[command(flatten)]
    space: SpaceArgs,
    /// The measured networks: JSON lines, each with a `sample` and its `latency_ms` (or
    /// `median_ms`, as `hwnas latency measure --json` writes).
    #[arg(long)]
    measured: PathBuf,
    /// Tables of the same space and input (built or fitted, on any device): the prior.
    #[arg(long)]
    base: Vec<PathBuf>,
    /// The device the networks were measured on, when this machine runs it: the table then
    /// names it, and `hwnas latency evaluate` accepts it here.
    #[arg(long)]
    device: Option<LatencyBackend>,
    /// What the measured device is called when this machine cannot run it (`pixel7`,
    /// `jetson-orin`): recorded in the table in place of a fingerprint.
    #[arg(long, conflicts_with = "device")]
    device_name: Option<String>,
    /// Where to write the table (JSON).
    #[arg(long)]
    out: PathBuf,
}

fn fit(args: &FitArgs) -> anyhow::Result<()> {
    let (space, batch) = args.space.load()?;
    crate::output::prepare_out(&args.out)?;
    let bases = args
        .base
        .iter()
        .map(|path| {
            let (table, _) = load_table_for(path, &space)?;
            let table_batch = table.file().input.first().copied().unwrap_or(1);
            if table_batch != batch {
                bail_input!(
                    "{} was built at batch {table_batch}, not {batch}",
                    path.display()
                );
            }
            Ok(table)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let statistic = bases
        .first()
        .map_or(Statistic::Median, |base| base.file().statistic);
    let measurements = read_measurements(
        &args.measured,
        &space,
        &space.input().with_batch(batch),
        statistic,
    )?;
    let device = match args.device {
        Some(backend) => DeviceFingerprint::of(&backend.device()?),
        None => DeviceFingerprint {
            device: args
                .device_name
                .clone()
                .unwrap_or_else(|| format!("measured in {}", args.measured.display())),
            cpu: "unknown".into(),
            threads: 0,
            burn: BURN_VERSION.into(),
        },
    };
    let references = NasBench201::get().references_for(&space)?;
    let table = LatencyPredictor::fit(
        &space,
        batch,
        &bases,
        &references,
        &measurements,
        device,
        &args.measured.display().to_string(),
    )?;
    table.save(&args.out)?;
    print_fit(&table, &args.out)
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// The table to calibrate.
    #[arg(long)]
    table: PathBuf,
    /// The device to measure on now (the table's own, or another to move the table to).
    #[command(flatten)]
    device: LatencyDeviceArgs,
    /// Random samples measured (interleaved).
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Seed of the samples.
    #[arg(long, default_value_t = 2)]
    seed: u64,
    #[command(flatten)]
    timing: TimingArgs,
    /// Where to write the calibrated table (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Also write the measurements here (JSON lines, as `hwnas latency fit --measured` reads).
    #[arg(long)]
    save_measured: Option<PathBuf>,
}

fn calibrate(args: &CalibrateArgs) -> anyhow::Result<()> {
    let (base, space) = load_table(&args.table)?;
    crate::output::prepare_out(&args.out)?;
    if args.samples == 0 {
        bail_input!("--samples must be at least 1");
    }
    let device = args.device.device.device()?;
    let batch = base.file().input.first().copied().unwrap_or(1);
    let samples = distinct_samples(&space, args.samples, args.seed)?;
    let profiler = LatencyProfiler::new(
        space.clone(),
        device.clone(),
        LatencyConfig {
            batch,
            ..args.timing.config()
        },
    )?;
    interrupt::install(OnSignal::Quit("no table was written"))?;
    let bar = bar(samples.len(), "samples");
    let latencies = profiler.measure_many(&samples, &mut |done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    let statistic = base.file().statistic;
    let measurements: Vec<Measurement> = samples
        .into_iter()
        .zip(latencies?)
        .map(|(sample, latency)| Measurement {
            sample,
            latency_ms: latency.get(statistic),
        })
        .collect();
    if let Some(path) = &args.save_measured {
        let mut text = String::new();
        for m in &measurements {
            text.push_str(&json!({"sample": m.sample, "latency_ms": m.latency_ms}).to_string());
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let references = NasBench201::get().references_for(&space)?;
    let table = LatencyPredictor::fit(
        &space,
        batch,
        std::slice::from_ref(&base),
        &references,
        &measurements,
        DeviceFingerprint::of(&device),
        &format!(
            "{} random samples (seed {}) on {}",
            args.samples, args.seed, args.device.device
        ),
    )?;
    table.save(&args.out)?;
    print_fit(&table, &args.out)
}

/// `n` random samples of distinct networks (seeded); fewer when the space has fewer.
fn distinct_samples(
    space: &ModelSpace,
    n: usize,
    seed: u64,
) -> anyhow::Result<Vec<hwnas_space::Sample>> {
    let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut samples = Vec::with_capacity(n);
    // A space with fewer networks than asked stops after a generous number of draws.
    for _ in 0..n.saturating_mul(100) {
        if samples.len() == n {
            break;
        }
        let sample = space.search_space().random_sample(&mut rng)?;
        if seen.insert(space.architecture_hash(&sample)?) {
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// What a fitted table holds: the model that won, its terms and how it predicts left-out
/// measurements.
fn print_fit(table: &LatencyPredictor, path: &std::path::Path) -> anyhow::Result<()> {
    let file = table.file();
    let provenance = file.fitted.as_ref().expect("a fitted table");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "`{}` at {:?} for {}: {} measurements, {} base tables, {} reference devices",
        file.space,
        file.input,
        file.device,
        provenance.measurements,
        provenance.bases.len(),
        provenance.references
    )?;
    match &provenance.fit {
        None => writeln!(out, "no measurements: the base unchanged")?,
        Some(fit) => {
            for candidate in &fit.candidates {
                let error = candidate
                    .loo_rmsle
                    .map_or("(chosen in-sample)".to_string(), |e| {
                        format!("left-out RMS log error {e:.4}")
                    });
                let mark = if candidate.name == fit.model {
                    "*"
                } else {
                    " "
                };
                writeln!(out, "{mark} {:<32} {error}", candidate.name)?;
            }
            let terms: Vec<String> = fit
                .terms
                .iter()
                .map(|t| format!("{:.4} x {}", t.weight, t.name))
                .collect();
            writeln!(
                out,
                "model `{}`: {} {:+.4} ms",
                fit.model,
                terms.join(" + "),
                fit.intercept
            )?;
            if let Some(accuracy) = &fit.leave_one_out {
                writeln!(
                    out,
                    "each measurement left out in turn: {}",
                    summary(accuracy)
                )?;
            }
        }
    }
    writeln!(out, "wrote {}", path.display())?;
    Ok(())
}
