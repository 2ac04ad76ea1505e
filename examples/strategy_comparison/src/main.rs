//! Which strategy finds the better architecture under a hardware budget on real data? Random
//! search, regularized evolution and the guided strategy search `mobile-micro` on the 8x8 digits
//! with the same budget, trial budget and seeds; the best validation accuracy of each run is
//! printed as a table, with the mean over seeds.
//!
//! `cargo run --release -p strategy-comparison -- [SEEDS] [TRIALS] [EPOCHS] [METRIC=LIMIT] [TABLE]`
//!
//! The budget is `flops=300000` by default; `latency_ms=0.4` bounds the latency measured here on
//! flex (batch 1, once per network, shared by every run), or predicted by `TABLE` (from `hwnas
//! latency build mobile-micro`), which the strategies can then ask before proposing.

use hwnas::experiment::train::{TrainingConfig, TrainingData, TrainingEvaluator};
use hwnas::experiment::{EvaluatorConfig, LatencySource, SearchConfig};
use hwnas::middleware::Budget;
use hwnas::space::metric;
use hwnas::strategy::{StrategyConfig, StrategyName};

const STRATEGIES: [StrategyName; 3] = [
    StrategyName::Random,
    StrategyName::Evolution,
    StrategyName::Guided,
];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let trials: usize = args.next().map_or(Ok(30), |a| a.parse())?;
    let epochs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let budget = args.next().unwrap_or_else(|| "flops=300000".into());
    let Some((budget_metric, limit)) = budget.split_once('=') else {
        anyhow::bail!("the budget is METRIC=LIMIT (flops=300000, latency_ms=0.4), not {budget}");
    };
    let limit: f64 = limit.parse()?;
    let table = args.next();

    let training = TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    };
    let search = SearchConfig {
        budget: Budget::new().max(budget_metric, limit),
        latency: match table {
            Some(path) => Some(LatencySource::Table(path.into())),
            None => (budget_metric == metric::LATENCY_MS).then_some(LatencySource::Measured),
        },
        evaluator: EvaluatorConfig::Training(training.clone()),
        trials,
        ..SearchConfig::new("mobile-micro")
    };
    let space = search.model_space()?;
    let device = search.device.unwrap_or_default().device()?;
    let data = TrainingData::load(&training.data, None)?;
    let evaluator = TrainingEvaluator::new(space.clone(), &data, training, device.clone())?;
    // One `Costs` for every run: a network's latency is measured once.
    let costs = search.costs(&space, Some(&data), &device)?;
    let out = std::env::temp_dir().join("hwnas-strategy-comparison");

    println!(
        "mobile-micro, digits, {budget_metric} <= {limit}, {trials} trials of {epochs} epoch(s)\n"
    );
    let names: Vec<&str> = STRATEGIES.iter().map(|s| s.name()).collect();
    println!(
        "{:>5} {:>10} {:>10} {:>10}",
        "seed", names[0], names[1], names[2]
    );
    let mut totals = [0.0; STRATEGIES.len()];
    for seed in 0..seeds {
        let mut best = [0.0; STRATEGIES.len()];
        for (i, &name) in STRATEGIES.iter().enumerate() {
            let strategy = StrategyConfig::named(name, seed).with_population(10, 3, 0.05);
            let dir = out.join(format!("{}-{seed}", name.name()));
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
        println!(
            "{seed:>5} {:>10.4} {:>10.4} {:>10.4}",
            best[0], best[1], best[2]
        );
    }
    let n = seeds.max(1) as f64;
    let means: Vec<f64> = totals.iter().map(|t| t / n).collect();
    println!(
        "{:>5} {:>10.4} {:>10.4} {:>10.4}",
        "mean", means[0], means[1], means[2]
    );
    Ok(())
}
