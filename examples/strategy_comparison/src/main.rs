//! Does evolution beat random sampling under a hardware budget? Both search `mobile-micro` on the
//! 8x8 digits with the same FLOPs budget, trial budget and seeds; the best validation accuracy of
//! each run is printed as a table, with the mean over seeds.
//!
//! `cargo run --release -p strategy-comparison -- [SEEDS] [TRIALS] [EPOCHS] [MAX_FLOPS]`

use hwnas::experiment::train::{TrainingConfig, TrainingData, TrainingEvaluator};
use hwnas::experiment::{EvaluatorConfig, SearchConfig};
use hwnas::middleware::Budget;
use hwnas::profiler::Costs;
use hwnas::space::metric;
use hwnas::strategy::{EvolutionConfig, StrategyConfig};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let trials: usize = args.next().map_or(Ok(30), |a| a.parse())?;
    let epochs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let max_flops: f64 = args.next().map_or(Ok(300_000.0), |a| a.parse())?;

    let training = TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    };
    let search = SearchConfig {
        budget: Budget::new().max(metric::FLOPS, max_flops),
        evaluator: EvaluatorConfig::Training(training.clone()),
        trials,
        ..SearchConfig::new("mobile-micro")
    };
    let space = search.model_space()?;
    let device = search.device.unwrap_or_default().device()?;
    let data = TrainingData::load(&training.data, None)?;
    let evaluator = TrainingEvaluator::new(space.clone(), &data, training, device)?;
    let costs = Costs::counts(&space)?;
    let out = std::env::temp_dir().join("hwnas-strategy-comparison");

    println!(
        "mobile-micro, digits, FLOPs <= {max_flops:.0}, {trials} trials of {epochs} epoch(s)\n"
    );
    println!("{:>5} {:>10} {:>10}", "seed", "random", "evolution");
    let mut totals = [0.0, 0.0];
    for seed in 0..seeds {
        let mut best = [0.0; 2];
        let strategies = [
            StrategyConfig::Random { seed },
            StrategyConfig::Evolution(EvolutionConfig {
                population_size: 10,
                sample_size: 3,
                seed,
                ..EvolutionConfig::default()
            }),
        ];
        for (i, strategy) in strategies.into_iter().enumerate() {
            let dir = out.join(format!("{}-{seed}", strategy.name()));
            let _ = std::fs::remove_dir_all(&dir);
            let search = SearchConfig {
                strategy,
                seed,
                ..search.clone()
            };
            let summary = search
                .experiment(&dir, &space, costs.clone(), &evaluator, false)?
                .run()?;
            best[i] = summary.best.map_or(0.0, |b| b.metrics[metric::ACCURACY]);
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
