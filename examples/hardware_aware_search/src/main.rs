//! The seed scenario end to end: which architecture of the small space is most accurate within a
//! budget on this machine? Regularized evolution proposes, a filter drops every sample over budget
//! before any training, survivors train on the embedded 8x8 digits, and the best are printed.
//! It runs twice: under a FLOPs budget, then under a latency budget measured here on flex.
//!
//! `cargo run --release -p hardware-aware-search -- [TRIALS] [EPOCHS] [OUT_DIR]`

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use hwnas::experiment::train::{ImageSet, TrainingConfig, TrainingEvaluator};
use hwnas::experiment::{
    Experiment, ExperimentConfig, Report, Summary, TrialRecord, plot_tradeoff,
};
use hwnas::middleware::{Chain, Deduplication, Filter};
use hwnas::profiler::{
    CountOptions, CountProfiler, LatencyConfig, LatencyProfiler, ProfileError, Profiler,
};
use hwnas::space::{Sample, hub};
use hwnas::strategy::{EvolutionConfig, Objective, Status};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let trials: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let epochs: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let out = args
        .next()
        .map_or_else(|| std::env::temp_dir().join("hwnas-example"), PathBuf::from);

    let space = hub::space("mobile-micro")?;
    let device = Device::flex();
    let data = ImageSet::digits();
    let training = TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    };
    let evaluator = TrainingEvaluator::new(space.clone(), &data, training, device.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    // Measured once per sample (cached), shared by the filter and the trial log.
    let latency = Arc::new(LatencyProfiler::new(
        space.clone(),
        device,
        LatencyConfig::default(),
    )?);

    // Budgets that a third of the space meets, found on this machine rather than hard-coded:
    // latency depends on the device, which is the point.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let probe: Vec<Sample> = (0..30)
        .map(|_| space.search_space().random_sample(&mut rng))
        .collect::<Result<_, _>>()?;
    let flops_budget = third(probe.iter().map(|s| counts.flops().profile(s)))?;
    let latency_budget = third(probe.iter().map(|s| latency.profile(s)))?;
    println!(
        "mobile-micro on the 8x8 digits, {trials} trials of {epochs} epochs per budget\n\
         FLOPs budget {flops_budget:.0}, latency budget {latency_budget:.3} ms (flex, batch 1): \
         a third of 30 random samples meet each"
    );

    let flops = counts.flops();
    let run =
        |name: &str, admits: Box<dyn Fn(&Sample) -> bool + Send>| -> anyhow::Result<Summary> {
            let dir = out.join(name);
            let _ = std::fs::remove_dir_all(&dir);
            let evolution = EvolutionConfig {
                population_size: 8,
                sample_size: 3,
                seed: 0,
                ..Default::default()
            };
            // A mutation of a choice the network never reads gives the same network: trained once.
            let strategy = Chain::new(evolution.init()?)
                .then(Deduplication::per_network(space.clone()))
                .then(Filter::new(admits));
            let config = ExperimentConfig {
                max_trials: trials,
                ..Default::default()
            };
            let summary = Experiment::new(
                &dir,
                space.search_space().clone(),
                strategy,
                &evaluator,
                config,
            )
            .with_cost("flops", counts.flops())
            .with_cost("params", counts.num_params())
            .with_cost("latency_ms", latency.clone())
            .run()?;
            print_best(name, &dir, &summary)?;
            Ok(summary)
        };
    run(
        "flops",
        Box::new(move |s| flops.profile(s).is_ok_and(|f| f <= flops_budget)),
    )?;
    let within = latency.clone();
    run(
        "latency",
        Box::new(move |s| within.profile(s).is_ok_and(|ms| ms <= latency_budget)),
    )?;
    println!(
        "\nexperiment directories under {} (`hwnas report DIR` reads them)",
        out.display()
    );
    Ok(())
}

/// The value a third of the way up the sorted values.
fn third(values: impl Iterator<Item = Result<f64, ProfileError>>) -> anyhow::Result<f64> {
    let mut values: Vec<f64> = values.collect::<Result<_, _>>()?;
    values.sort_by(f64::total_cmp);
    Ok(values[values.len() / 3])
}

fn print_best(name: &str, dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    let p = &summary.progress;
    println!(
        "\n== {name} budget: {} trained, {} rejected or already trained, {:.1} s",
        p.evaluated,
        p.rejected,
        p.elapsed.as_secs_f64()
    );
    let report = Report::load(dir)?;
    let best = report.top_k(&Objective::maximize("accuracy"), 3);
    print!("{}", report.table(&best));
    if let Some(best) = best.first() {
        println!(
            "best architecture (also in {}/best.json):\n{}",
            dir.display(),
            best.sample
        );
    }
    let accuracy = Objective::maximize("accuracy");
    let front = report.pareto_front(&[accuracy, Objective::minimize("latency_ms")]);
    let evaluated: Vec<&TrialRecord> = report
        .records
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    let stem = dir.join("accuracy_vs_latency_ms");
    let [png, _] = plot_tradeoff(&evaluated, &front, "latency_ms", "accuracy", &stem)?;
    println!("accuracy against latency: {} (and .svg)", png.display());
    Ok(())
}
