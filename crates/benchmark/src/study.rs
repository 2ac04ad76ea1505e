//! The strategy study on NAS-Bench-201: strategies against a baseline over a grid of datasets
//! and budgets, many seeds each, as regret to the optimum under each budget.
//!
//! The study knows the benchmark (budgets, what they admit, the optimum under each) and the
//! statistics; the searches themselves are the caller's (a closure that runs one search and
//! returns its best-so-far curve), so the study measures exactly the search a user runs.

use hwnas_profiler::Costs;
use hwnas_space::{hub, metric};
use rayon::prelude::*;
use serde::Serialize;

use crate::stats::{mean_std, welch_t_test};
use crate::{BenchmarkError, Dataset, NasBench201};

/// p-value below which a difference in mean regret counts as a win or a loss.
pub const SIGNIFICANCE: f64 = 0.01;

/// What one budget of the grid bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetRule {
    /// No budget: every cell is admissible (the study when no budget is given).
    Unbounded,
    /// A device's latency at this quantile of its latencies over every cell (0.5: half the
    /// cells fit).
    LatencyQuantile(f64),
    /// A device's latency of at most this many milliseconds.
    LatencyMs(f64),
    /// At most this many FLOPs.
    Flops(f64),
    /// At most this many parameters.
    Params(f64),
}

/// One cell of the grid: a dataset and a budget, with what the budget admits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyCell {
    /// The dataset whose test accuracy is maximized.
    pub dataset: Dataset,
    /// The device whose latency the budget bounds (latency budgets only).
    pub device: Option<&'static str>,
    /// How the budget was chosen.
    pub rule: BudgetRule,
    /// The metric it bounds (`latency_ms`, `flops`, `params`; `flops` without a budget).
    pub metric: &'static str,
    /// Its upper bound (infinite without a budget).
    pub limit: f64,
    /// Cells the budget admits.
    pub n_admissible: usize,
    /// The best test accuracy among them, percent: what a perfect search finds.
    pub optimum: f64,
}

/// The study's settings: `hwnas bench compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareStudy {
    /// Datasets.
    pub datasets: Vec<Dataset>,
    /// Devices whose latency quantiles are budgets.
    pub devices: Vec<&'static str>,
    /// Quantiles of each device's latency (`0.25`, `0.5`).
    pub quantiles: Vec<f64>,
    /// Latency budgets on each device, milliseconds.
    pub max_latency_ms: Vec<f64>,
    /// FLOPs budgets, each a cell per dataset.
    pub max_flops: Vec<f64>,
    /// Parameter budgets, each a cell per dataset.
    pub max_params: Vec<f64>,
    /// The strategies compared, by name; the first is the baseline the others are tested
    /// against.
    pub strategies: Vec<String>,
    /// Independent searches per strategy and cell.
    pub seeds: u64,
    /// Trial counts at which the searches are judged, ascending; each search runs to the last
    /// (a strategy does not know its trial budget, so its first 100 trials are those of a
    /// 100-trial search).
    pub checkpoints: Vec<usize>,
}

/// One strategy in one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyOutcome {
    /// The strategy.
    pub strategy: String,
    /// Per checkpoint, the mean regret over seeds (percentage points).
    pub regret: Vec<f64>,
    /// Per checkpoint, the standard deviation of the regret over seeds.
    pub regret_std: Vec<f64>,
    /// Per checkpoint, the share of seeds that found the optimum.
    pub at_optimum: Vec<f64>,
    /// Per checkpoint, Welch's two-sided p-value of the regret against the baseline's (`None`
    /// for the baseline itself, or when neither varies).
    pub p_versus_baseline: Vec<Option<f64>>,
    /// Mean regret after each trial, for the curves.
    pub curve: Vec<f64>,
}

impl StrategyOutcome {
    /// Against the baseline at checkpoint `c`: `Some(true)` a significant win (lower regret),
    /// `Some(false)` a significant loss, `None` neither.
    pub fn beats_baseline(&self, baseline: &StrategyOutcome, c: usize) -> Option<bool> {
        let p = self.p_versus_baseline[c]?;
        (p < SIGNIFICANCE).then(|| self.regret[c] < baseline.regret[c])
    }
}

/// The grid cell's outcomes, the baseline first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellOutcome {
    /// The cell.
    pub cell: StudyCell,
    /// One per strategy, in the study's order.
    pub strategies: Vec<StrategyOutcome>,
}

/// One strategy over a group of cells at one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The strategy.
    pub strategy: String,
    /// The cells summarised: a dataset's name, or `all`.
    pub group: String,
    /// The checkpoint (trials).
    pub trials: usize,
    /// Mean regret over the cells' mean regrets.
    pub regret: f64,
    /// That regret over the baseline's.
    pub regret_ratio: f64,
    /// Mean share of runs at the optimum.
    pub at_optimum: f64,
    /// Cells with a significant win against the baseline.
    pub wins: usize,
    /// Cells with a significant loss.
    pub losses: usize,
    /// Cells summarised.
    pub cells: usize,
}

/// What the study found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyReport {
    /// The checkpoints, as in the settings.
    pub checkpoints: Vec<usize>,
    /// Seeds per strategy and cell.
    pub seeds: u64,
    /// Every cell.
    pub cells: Vec<CellOutcome>,
    /// Per checkpoint, per strategy: each dataset, then `all`.
    pub summary: Vec<SummaryRow>,
}

impl CompareStudy {
    /// The grid's cells, each with its budget, what it admits and the optimum under it; a
    /// budget that admits no cell is an error naming it.
    pub fn cells(&self) -> Result<Vec<StudyCell>, BenchmarkError> {
        let bench = NasBench201::get();
        let counts = Costs::counts(&hub::space("nasbench201")?)
            .map_err(|e| BenchmarkError::Table(e.to_string()))?;
        let count_of = |index: usize, metric: &str| {
            counts
                .cost(&bench.sample(index), metric)
                .expect("every cell is counted")
        };
        let mut budgets: Vec<(Option<&'static str>, BudgetRule, &'static str, f64)> = Vec::new();
        for name in &self.devices {
            let device = bench.device(name)?;
            for &quantile in &self.quantiles {
                if !(quantile > 0.0 && quantile <= 1.0) {
                    return Err(BenchmarkError::Table(format!(
                        "the latency quantile {quantile} is not in (0, 1]"
                    )));
                }
                let limit = bench.latency_quantile(device, quantile);
                let rule = BudgetRule::LatencyQuantile(quantile);
                budgets.push((Some(device.name), rule, metric::LATENCY_MS, limit));
            }
            for &limit in &self.max_latency_ms {
                let rule = BudgetRule::LatencyMs(limit);
                budgets.push((Some(device.name), rule, metric::LATENCY_MS, limit));
            }
        }
        for &limit in &self.max_flops {
            budgets.push((None, BudgetRule::Flops(limit), metric::FLOPS, limit));
        }
        for &limit in &self.max_params {
            budgets.push((None, BudgetRule::Params(limit), metric::PARAMS, limit));
        }
        if budgets.is_empty() {
            let rule = BudgetRule::Unbounded;
            budgets.push((None, rule, metric::FLOPS, f64::INFINITY));
        }
        let mut cells = Vec::new();
        for &dataset in &self.datasets {
            for &(device, rule, metric, limit) in &budgets {
                let cost = |index: usize| match device {
                    Some(name) => bench.latency(index, bench.device(name).expect("checked")),
                    None => count_of(index, metric),
                };
                let admissible: Vec<usize> = (0..bench.len())
                    .filter(|&index| cost(index) <= limit)
                    .collect();
                let optimum = admissible
                    .iter()
                    .map(|&index| bench.accuracy(index, dataset))
                    .fold(f64::NEG_INFINITY, f64::max);
                if admissible.is_empty() {
                    let cheapest = (0..bench.len()).map(cost).fold(f64::INFINITY, f64::min);
                    return Err(BenchmarkError::Table(format!(
                        "no cell of NAS-Bench-201 has {metric} <= {limit}{}: the cheapest has \
                         {cheapest}",
                        device.map(|d| format!(" on {d}")).unwrap_or_default()
                    )));
                }
                cells.push(StudyCell {
                    dataset,
                    device,
                    rule,
                    metric,
                    limit,
                    n_admissible: admissible.len(),
                    optimum,
                });
            }
        }
        Ok(cells)
    }

    /// Runs every strategy `seeds` times in every cell (in parallel) through `search`, which
    /// runs one search (cell, strategy, seed) and returns the best test accuracy (percent) after
    /// each trial, and judges them.
    pub fn run<E: Send>(
        &self,
        search: impl Fn(&StudyCell, &str, u64) -> Result<Vec<f64>, E> + Sync,
    ) -> Result<StudyReport, StudyError<E>> {
        if self.strategies.is_empty() || self.seeds == 0 || self.checkpoints.is_empty() {
            return Err(StudyError::Settings(
                "a study needs strategies, seeds and trials".into(),
            ));
        }
        if self.checkpoints.windows(2).any(|w| w[0] >= w[1]) || self.checkpoints[0] == 0 {
            return Err(StudyError::Settings(
                "trial checkpoints must be positive and ascending".into(),
            ));
        }
        let cells = self.cells().map_err(StudyError::Benchmark)?;
        let trials = *self.checkpoints.last().expect("not empty");
        let jobs: Vec<(usize, usize, u64)> = (0..cells.len())
            .flat_map(|c| {
                (0..self.strategies.len())
                    .flat_map(move |s| (0..self.seeds).map(move |r| (c, s, r)))
            })
            .collect();
        let regrets: Vec<Vec<f64>> = jobs
            .par_iter()
            .map(|&(c, s, seed)| {
                let cell = &cells[c];
                let curve = search(cell, &self.strategies[s], seed).map_err(StudyError::Search)?;
                Ok(regret_curve(&curve, cell.optimum, trials))
            })
            .collect::<Result<_, StudyError<E>>>()?;
        let per_run = self.seeds as usize;
        let mut outcomes = Vec::with_capacity(cells.len());
        for (c, cell) in cells.into_iter().enumerate() {
            let runs = |s: usize| {
                let start = (c * self.strategies.len() + s) * per_run;
                &regrets[start..start + per_run]
            };
            let at = |s: usize, checkpoint: usize| -> Vec<f64> {
                runs(s).iter().map(|run| run[checkpoint - 1]).collect()
            };
            let strategies = (0..self.strategies.len())
                .map(|s| {
                    let checkpoints = self.checkpoints.iter();
                    let finals: Vec<Vec<f64>> = checkpoints.map(|&t| at(s, t)).collect();
                    let baseline: Vec<Vec<f64>> =
                        self.checkpoints.iter().map(|&t| at(0, t)).collect();
                    let (regret, regret_std) = finals.iter().map(|f| mean_std(f)).unzip();
                    StrategyOutcome {
                        strategy: self.strategies[s].clone(),
                        regret,
                        regret_std,
                        at_optimum: finals
                            .iter()
                            .map(|f| {
                                f.iter().filter(|&&r| r < OPTIMUM_TOLERANCE).count() as f64
                                    / f.len() as f64
                            })
                            .collect(),
                        p_versus_baseline: finals
                            .iter()
                            .zip(&baseline)
                            .map(|(f, b)| match s {
                                0 => None,
                                _ => welch_t_test(f, b).map(|test| test.p),
                            })
                            .collect(),
                        curve: (0..trials)
                            .map(|t| {
                                let values: Vec<f64> = runs(s).iter().map(|run| run[t]).collect();
                                mean_std(&values).0
                            })
                            .collect(),
                    }
                })
                .collect();
            outcomes.push(CellOutcome { cell, strategies });
        }
        let summary = summarise(&outcomes, &self.checkpoints, &self.datasets);
        Ok(StudyReport {
            checkpoints: self.checkpoints.clone(),
            seeds: self.seeds,
            cells: outcomes,
            summary,
        })
    }
}

/// The tables store accuracies as `f32`: a run at the optimum is within this of it.
const OPTIMUM_TOLERANCE: f64 = 1e-4;

/// Regret after each of `trials` trials; a search that stopped early (the admissible cells
/// spent) keeps its last value, and one that evaluated nothing counts as the worst.
fn regret_curve(best_so_far: &[f64], optimum: f64, trials: usize) -> Vec<f64> {
    (0..trials)
        .map(|t| {
            let best = best_so_far
                .get(t)
                .or(best_so_far.last())
                .copied()
                .filter(|b| b.is_finite())
                .unwrap_or(0.0);
            (optimum - best).max(0.0)
        })
        .collect()
}

fn summarise(
    cells: &[CellOutcome],
    checkpoints: &[usize],
    datasets: &[Dataset],
) -> Vec<SummaryRow> {
    let Some(first) = cells.first() else {
        return Vec::new();
    };
    let mut groups: Vec<(String, Vec<&CellOutcome>)> = datasets
        .iter()
        .map(|d| {
            (
                d.name().to_string(),
                cells.iter().filter(|c| c.cell.dataset == *d).collect(),
            )
        })
        .collect();
    groups.push(("all".into(), cells.iter().collect()));
    let mut rows = Vec::new();
    for (c, &trials) in checkpoints.iter().enumerate() {
        for s in 0..first.strategies.len() {
            for (group, members) in &groups {
                if members.is_empty() {
                    continue;
                }
                let mean = |f: &dyn Fn(&CellOutcome) -> f64| {
                    members.iter().map(|m| f(m)).sum::<f64>() / members.len() as f64
                };
                let regret = mean(&|m| m.strategies[s].regret[c]);
                let baseline = mean(&|m| m.strategies[0].regret[c]);
                let verdicts: Vec<Option<bool>> = members
                    .iter()
                    .map(|m| m.strategies[s].beats_baseline(&m.strategies[0], c))
                    .collect();
                rows.push(SummaryRow {
                    strategy: first.strategies[s].strategy.clone(),
                    group: group.clone(),
                    trials,
                    regret,
                    regret_ratio: regret / baseline,
                    at_optimum: mean(&|m| m.strategies[s].at_optimum[c]),
                    wins: verdicts.iter().filter(|v| **v == Some(true)).count(),
                    losses: verdicts.iter().filter(|v| **v == Some(false)).count(),
                    cells: members.len(),
                });
            }
        }
    }
    rows
}

/// Why a study could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError<E> {
    /// The settings cannot make a study.
    #[error("invalid study: {0}")]
    Settings(String),
    /// A budget or device of the grid is not in the benchmark.
    #[error(transparent)]
    Benchmark(BenchmarkError),
    /// A search failed.
    #[error("a search of the study failed: {0}")]
    Search(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study(strategies: &[&str]) -> CompareStudy {
        CompareStudy {
            datasets: vec![Dataset::Cifar10],
            devices: vec!["pixel3"],
            quantiles: vec![0.5],
            max_latency_ms: vec![],
            max_flops: vec![],
            max_params: vec![],
            strategies: strategies.iter().map(|s| s.to_string()).collect(),
            seeds: 4,
            checkpoints: vec![2, 3],
        }
    }

    #[test]
    fn study_cell_holds_the_optimum_under_the_budget() {
        let cells = study(&["a"]).cells().unwrap();
        let bench = NasBench201::get();
        let pixel3 = bench.device("pixel3").unwrap();
        let limit = bench.median_latency(pixel3);
        let admits = |i: usize| bench.latency(i, pixel3) <= limit;
        let best = bench.best(Dataset::Cifar10, admits).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].limit, limit);
        assert_eq!(cells[0].optimum, bench.accuracy(best, Dataset::Cifar10));
        assert_eq!(
            cells[0].n_admissible,
            (0..bench.len()).filter(|&i| admits(i)).count()
        );
        assert!(cells[0].n_admissible >= bench.len() / 2);
    }

    #[test]
    fn study_judges_regret_against_the_baseline() {
        // `perfect` finds the optimum at the second trial, `poor` stays 5 points below with some
        // spread, and a search that stops after one trial keeps its value.
        let report = study(&["poor", "perfect"])
            .run(|cell, strategy, seed| -> Result<Vec<f64>, ()> {
                Ok(match strategy {
                    "perfect" => vec![cell.optimum - 1.0, cell.optimum],
                    _ => vec![cell.optimum - 5.0 - seed as f64 * 0.1],
                })
            })
            .unwrap();
        let cell = &report.cells[0];
        let (poor, perfect) = (&cell.strategies[0], &cell.strategies[1]);
        assert_eq!(perfect.regret, vec![0.0, 0.0]);
        assert_eq!(perfect.at_optimum, vec![1.0, 1.0]);
        assert!((poor.regret[1] - 5.15).abs() < 1e-9, "{poor:?}");
        assert_eq!(poor.at_optimum, vec![0.0, 0.0]);
        assert_eq!(poor.p_versus_baseline, vec![None, None]);
        assert!(perfect.p_versus_baseline[0].unwrap() < SIGNIFICANCE);
        assert_eq!(perfect.beats_baseline(poor, 1), Some(true));
        assert_eq!(perfect.curve, vec![1.0, 0.0, 0.0]);
        let all: Vec<&SummaryRow> = report
            .summary
            .iter()
            .filter(|row| row.group == "all" && row.strategy == "perfect")
            .collect();
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].wins, all[1].losses, all[1].cells), (1, 0, 1));
        assert_eq!(all[1].regret_ratio, 0.0);
    }

    #[test]
    fn study_refuses_a_budget_no_cell_meets() {
        let mut settings = study(&["a"]);
        settings.devices.clear();
        settings.max_flops = vec![1.0];
        let error = settings.cells().unwrap_err().to_string();
        assert!(
            error.contains("flops <= 1") && error.contains("cheapest"),
            "{error}"
        );
    }
}
