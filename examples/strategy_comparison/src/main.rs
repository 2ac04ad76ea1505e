//! Does evolution beat random sampling under a hardware budget? Both search `mobile-micro` on the
//! 8x8 digits with the same FLOPs budget, trial budget and seeds; the best validation accuracy of
//! each run is printed as a table, with the mean over seeds.
//!
//! `cargo run --release -p strategy-comparison -- [SEEDS] [TRIALS] [EPOCHS] [MAX_FLOPS]`

use burn::tensor::Device;
use hwnas::experiment::train::{ImageSet, TrainingConfig, TrainingEvaluator};
use hwnas::experiment::{Experiment, ExperimentConfig};
use hwnas::middleware::{Chain, Filter};
use hwnas::profiler::{CountOptions, CountProfiler, Profiler};
use hwnas::space::hub;
use hwnas::strategy::{EvolutionConfig, Random, Strategy};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let trials: usize = args.next().map_or(Ok(30), |a| a.parse())?;
    let epochs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let max_flops: f64 = args.next().map_or(Ok(300_000.0), |a| a.parse())?;

    let space = hub::space("mobile-micro")?;
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default())?;
    let training = TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    };
    let evaluator =
        TrainingEvaluator::new(space.clone(), &ImageSet::digits(), training, Device::flex())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = std::env::temp_dir().join("hwnas-strategy-comparison");

    println!(
        "mobile-micro, digits, FLOPs <= {max_flops:.0}, {trials} trials of {epochs} epoch(s)\n"
    );
    println!("{:>5} {:>10} {:>10}", "seed", "random", "evolution");
    let mut totals = [0.0, 0.0];
    for seed in 0..seeds {
        let mut best = [0.0; 2];
        for (i, name) in ["random", "evolution"].into_iter().enumerate() {
            let strategy: Box<dyn Strategy> = match name {
                "random" => Box::new(Random::new(seed)),
                _ => Box::new(
                    EvolutionConfig {
                        population_size: 10,
                        sample_size: 3,
                        seed,
                        ..Default::default()
                    }
                    .init()?,
                ),
            };
            let flops = counts.flops();
            let filter = Filter::new(move |s| flops.profile(s).is_ok_and(|f| f <= max_flops));
            let dir = out.join(format!("{name}-{seed}"));
            let _ = std::fs::remove_dir_all(&dir);
            let config = ExperimentConfig {
                max_trials: trials,
                seed,
                ..Default::default()
            };
            let summary = Experiment::new(
                &dir,
                space.search_space().clone(),
                Chain::new(strategy).then(filter),
                &evaluator,
                config,
            )
            .with_cost("flops", counts.flops())
            .run()?;
            best[i] = summary.best.map_or(0.0, |b| b.metrics["accuracy"]);
            totals[i] += best[i];
        }
        println!("{seed:>5} {:>10.4} {:>10.4}", best[0], best[1]);
    }
    let n = seeds.max(1) as f64;
    println!(
        "{:>5} {:>10.4} {:>10.4}",
        "mean",
        totals[0] / n,
        totals[1] / n
    );
    Ok(())
}
