//! The NAS-Bench-201 strategy study ([`CompareStudy`]) run with the searches `hwnas search
//! --benchmark` runs.

use hwnas_benchmark::study::StudyError;
use hwnas_benchmark::{CompareStudy, Dataset, NasBench201, StudyReport};
use hwnas_middleware::Budget;
use hwnas_profiler::{Costs, ProfileError, from_fn};
use hwnas_space::{hub, metric};
use hwnas_strategy::{StrategyConfig, StrategyName};
use rayon::prelude::*;

use crate::{BenchmarkEvaluator, EvaluatorConfig, ExperimentError, LatencySource, SearchConfig};

/// Runs `study`: every search a [`SearchConfig`] on `nasbench201` answered from the table
/// ([`BenchmarkEvaluator`]), under the cell's budget, with the strategy `strategy(name, seed)`
/// builds for each of the study's strategy names, to its last checkpoint.
pub fn run_study(
    study: &CompareStudy,
    strategy: impl Fn(StrategyName, u64) -> StrategyConfig + Sync,
) -> Result<StudyReport, ExperimentError> {
    for name in &study.strategies {
        strategy(name.parse()?, 0).init()?;
    }
    let space = hub::space("nasbench201")?;
    let counts = Costs::counts(&space)?;
    let bench = NasBench201::get();
    let trials = study.checkpoints.last().copied().unwrap_or(0);
    let report = study.run(|cell, name, seed| -> Result<Vec<f64>, ExperimentError> {
        let name: StrategyName = name.parse()?;
        let search = SearchConfig {
            evaluator: EvaluatorConfig::Benchmark {
                dataset: cell.dataset,
            },
            latency: cell.device.map(|d| LatencySource::Benchmark(d.to_string())),
            budget: if cell.limit.is_finite() {
                Budget::new().max(cell.metric, cell.limit)
            } else {
                Budget::new()
            },
            strategy: strategy(name, seed),
            trials,
            seed,
            ..SearchConfig::new("nasbench201")
        };
        let costs = match cell.device {
            Some(device) => {
                let device = bench.device(device).expect("a device of the study's cells");
                counts
                    .clone()
                    .with(metric::LATENCY_MS, bench.latency_profiler(device))
            }
            None => counts.clone(),
        };
        let evaluator = BenchmarkEvaluator::new(cell.dataset);
        let curve = search.best_so_far(&space, &costs, &evaluator)?;
        Ok(curve.into_iter().map(|share| 100.0 * share).collect())
    });
    report.map_err(|error| match error {
        StudyError::Search(error) => error,
        other => ExperimentError::Config(other.to_string()),
    })
}

/// How a search under a latency budget fares when the latency is a table fitted from a few
/// measured cells of the device ([`fitted_budget_study`]), one device and budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FittedBudget {
    /// The device, known to the search only through `k` measured cells.
    pub device: &'static str,
    /// The budget's quantile of the device's true latencies.
    pub quantile: f64,
    /// The budget, milliseconds.
    pub budget_ms: f64,
    /// Searches run (one fit each).
    pub runs: usize,
    /// Share of searches whose winner's true latency is within 5 % of the budget (at most 1.05
    /// times it).
    pub within_5_percent: f64,
    /// Mean of the winner's true latency over the budget.
    pub mean_ratio: f64,
    /// The largest of those ratios.
    pub worst_ratio: f64,
    /// Mean regret of the winner's accuracy to the optimum under the true budget, points.
    pub regret: f64,
}

/// For each NAS-Bench-201 device and budget quantile, `seeds` times: fit the device's latency
/// from `k` random cells with the other devices as references (as `hwnas latency fit` does),
/// search `trials` trials under the budget on that prediction with the strategy `strategy(seed)`
/// builds, and read the winner's true latency. With `margin`, the search shrinks the budget by
/// the fit's [`budget_margin`](hwnas_profiler::fit::LatencyFit::budget_margin), as `hwnas
/// search --table` does with a fitted table.
pub fn fitted_budget_study(
    dataset: Dataset,
    quantiles: &[f64],
    k: usize,
    seeds: u64,
    trials: usize,
    margin: bool,
    strategy: impl Fn(u64) -> StrategyConfig + Sync,
) -> Result<Vec<FittedBudget>, ExperimentError> {
    let bench = NasBench201::get();
    let space = hub::space("nasbench201")?;
    let counts = Costs::counts(&space)?;
    let benchmark_error =
        |e: hwnas_benchmark::BenchmarkError| ExperimentError::Config(e.to_string());
    let jobs: Vec<(usize, usize, u64)> = (0..bench.devices().len())
        .flat_map(|d| (0..quantiles.len()).flat_map(move |q| (0..seeds).map(move |s| (d, q, s))))
        .collect();
    let runs: Vec<(f64, f64)> = jobs
        .par_iter()
        .map(|&(d, q, seed)| {
            let device = &bench.devices()[d];
            let budget = bench.latency_quantile(device, quantiles[q]);
            let fitted = bench
                .fitted_latencies(device, k, seed ^ (d as u64) << 32)
                .map_err(benchmark_error)?;
            let margin = margin.then(|| fitted.fit.budget_margin());
            let predicted = std::sync::Arc::new(fitted.predicted);
            let costs = counts.clone().with(
                metric::LATENCY_MS,
                from_fn(move |sample| {
                    let index = bench
                        .index(sample)
                        .map_err(|e| ProfileError::Table(e.to_string()))?;
                    Ok(predicted[index])
                }),
            );
            let search = SearchConfig {
                evaluator: EvaluatorConfig::Benchmark { dataset },
                // Priced by the fitted table above; the setting only says latency is priced.
                latency: Some(LatencySource::Benchmark(device.name.to_string())),
                budget: Budget::new().max(metric::LATENCY_MS, budget),
                latency_margin: margin,
                strategy: strategy(seed),
                trials,
                seed,
                ..SearchConfig::new("nasbench201")
            };
            let run = search.in_memory(&space, &costs, &BenchmarkEvaluator::new(dataset))?;
            let Some((winner, _)) = run.best else {
                return Ok((f64::INFINITY, 100.0));
            };
            let index = bench.index(&winner).map_err(benchmark_error)?;
            let optimum = bench
                .best(dataset, |i| bench.latency(i, device) <= budget)
                .map_or(0.0, |i| bench.accuracy(i, dataset));
            Ok((
                bench.latency(index, device) / budget,
                optimum - bench.accuracy(index, dataset),
            ))
        })
        .collect::<Result<_, ExperimentError>>()?;
    let per = seeds as usize;
    Ok(jobs
        .chunks(per)
        .zip(runs.chunks(per))
        .map(|(jobs, runs)| {
            let (d, q, _) = jobs[0];
            let device = &bench.devices()[d];
            let ratios: Vec<f64> = runs.iter().map(|r| r.0).collect();
            FittedBudget {
                device: device.name,
                quantile: quantiles[q],
                budget_ms: bench.latency_quantile(device, quantiles[q]),
                runs: runs.len(),
                within_5_percent: ratios.iter().filter(|&&r| r <= 1.05).count() as f64
                    / runs.len() as f64,
                mean_ratio: ratios.iter().sum::<f64>() / runs.len() as f64,
                worst_ratio: ratios.iter().copied().fold(0.0, f64::max),
                regret: runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64,
            }
        })
        .collect())
}
