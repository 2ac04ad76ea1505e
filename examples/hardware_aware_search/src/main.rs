//! The seed scenario end to end: which architecture of the small space is most accurate within a
//! budget on this machine? The guided strategy (the default) proposes, only samples within the
//! FLOPs budget and none over a measured latency budget trains, survivors train on the embedded
//! 8x8 digits, and the best are printed.
//! It runs twice: under a FLOPs budget, then under a latency budget measured here on flex.
//!
//! `cargo run --release -p hardware-aware-search -- [TRIALS] [EPOCHS] [OUT_DIR]`

use std::path::{Path, PathBuf};

use hwnas::experiment::train::{TrainingConfig, TrainingData, TrainingEvaluator};
use hwnas::experiment::{
    EvaluatorConfig, LatencySource, Report, SearchConfig, Summary, TrialRecord, plot_tradeoff,
};
use hwnas::profiler::{CostError, Costs};
use hwnas::space::{Sample, metric};
use hwnas::strategy::{Objective, Status};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let trials: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let epochs: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let out = args
        .next()
        .map_or_else(|| std::env::temp_dir().join("hwnas-example"), PathBuf::from);

    let training = TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    };
    let search = SearchConfig {
        evaluator: EvaluatorConfig::Training(training.clone()),
        latency: Some(LatencySource::Measured),
        trials,
        ..SearchConfig::new("mobile-micro")
    };
    let space = search.model_space()?;
    let device = search.device.unwrap_or_default().device()?;
    let data = TrainingData::load(&training.data, None)?;
    let evaluator = TrainingEvaluator::new(space.clone(), &data, training, device.clone())?;
    // Every cost of both runs, the latency measured once per network and shared by the budget
    // and the trial log.
    let costs = search.costs(&space, Some(&data), &device)?;

    // Budgets that a third of the space meets, found on this machine rather than hard-coded:
    // latency depends on the device, which is the point.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let probe: Vec<Sample> = (0..30)
        .map(|_| space.search_space().random_sample(&mut rng))
        .collect::<Result<_, _>>()?;
    let flops_budget = third(&costs, &probe, metric::FLOPS)?;
    let latency_budget = third(&costs, &probe, metric::LATENCY_MS)?;
    println!(
        "mobile-micro on the 8x8 digits, {trials} trials of {epochs} epochs per budget\n\
         FLOPs budget {flops_budget:.0}, latency budget {latency_budget:.3} ms (flex, batch 1): \
         a third of 30 random samples meet each"
    );

    for (name, metric, limit) in [
        ("flops", metric::FLOPS, flops_budget),
        ("latency", metric::LATENCY_MS, latency_budget),
    ] {
        let dir = out.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let search = SearchConfig {
            budget: search.budget.clone().max(metric, limit),
            ..search.clone()
        };
        let summary = search
            .experiment(&dir, &space, costs.clone(), &evaluator, false)?
            .run()?;
        print_best(name, &dir, &summary)?;
    }
    println!(
        "\nexperiment directories under {} (`hwnas report DIR` reads them)",
        out.display()
    );
    Ok(())
}

/// The value of `metric` a third of the way up its sorted values over `samples`.
fn third(costs: &Costs, samples: &[Sample], metric: &str) -> Result<f64, CostError> {
    let mut values: Vec<f64> = samples
        .iter()
        .map(|sample| costs.cost(sample, metric))
        .collect::<Result<_, _>>()?;
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
    let accuracy = Objective::maximize(metric::ACCURACY);
    let best = report.top_k(&accuracy, 3);
    print!("{}", report.table(&best));
    if let Some(best) = best.first() {
        println!(
            "best architecture (also in {}/best.json):\n{}",
            dir.display(),
            best.sample
        );
    }
    let front = report.pareto_front(&[accuracy, Objective::minimize(metric::LATENCY_MS)]);
    let evaluated: Vec<&TrialRecord> = report
        .records
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    let stem = dir.join("accuracy_vs_latency_ms");
    let [png, _] = plot_tradeoff(
        &evaluated,
        &front,
        metric::LATENCY_MS,
        metric::ACCURACY,
        &stem,
    )?;
    println!("accuracy against latency: {} (and .svg)", png.display());
    Ok(())
}
