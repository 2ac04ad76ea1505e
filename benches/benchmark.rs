//! NAS-Bench-201 searches answered from the table: a trial (propose, validate, deduplicate per
//! network, price against the budget, look the accuracy up, tell) must run at a million per second
//! on one core, so that `hwnas bench compare` of 3 strategies x 500 seeds x 100 trials takes
//! under a second.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use hwnas_benchmark::{Dataset, NasBench201};
use hwnas_experiment::{BenchmarkEvaluator, EvaluatorConfig, LatencySource, SearchConfig};
use hwnas_profiler::Costs;
use hwnas_space::{ModelSpace, hub, metric};
use hwnas_strategy::{Objective, StrategyConfig, StrategyName};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const STRATEGIES: [&str; 7] = [
    "random",
    "evolution",
    "pareto",
    "local",
    "tpe",
    "reinforce",
    "guided",
];
const TRIALS: usize = 100;

/// The search `hwnas bench compare --dataset cifar10` runs for `strategy` and `seed` (the
/// NAS-Bench-201 paper's population 10 and tournament 3), optionally under the Pixel 3's median
/// latency.
fn search(strategy: &str, seed: u64, budgeted: bool) -> SearchConfig {
    // Sorting the 15,625 latencies for the median costs more than a search: once only.
    static PIXEL3_MEDIAN: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let mut search = SearchConfig {
        evaluator: EvaluatorConfig::Benchmark {
            dataset: Dataset::Cifar10,
        },
        trials: TRIALS,
        seed,
        ..SearchConfig::new("nasbench201")
    };
    if budgeted {
        let bench = NasBench201::get();
        let pixel3 = bench.device("pixel3").unwrap();
        let median = *PIXEL3_MEDIAN.get_or_init(|| bench.median_latency(pixel3));
        search.latency = Some(LatencySource::Benchmark(pixel3.name.to_string()));
        search.budget = search.budget.max(metric::LATENCY_MS, median);
    }
    let name: StrategyName = strategy.parse().unwrap();
    search.strategy = StrategyConfig::named(name, seed)
        .with_population(10, 3, 0.05)
        .with_tradeoff(Objective::minimize(search.tradeoff_cost()));
    search
}

fn setup(budgeted: bool) -> (ModelSpace, Costs) {
    let space = hub::space("nasbench201").unwrap();
    let mut costs = Costs::counts(&space).unwrap();
    if budgeted {
        let bench = NasBench201::get();
        let pixel3 = bench.device("pixel3").unwrap();
        costs = costs.with(metric::LATENCY_MS, bench.latency_profiler(pixel3));
    }
    (space, costs)
}

/// One search of 100 trials per iteration, counted per trial; a new seed each time.
fn trials(bencher: Bencher, strategy: &str, budgeted: bool) {
    let (space, costs) = setup(budgeted);
    let evaluator = BenchmarkEvaluator::new(Dataset::Cifar10);
    let mut seed = 0;
    bencher.counter(ItemsCount::new(TRIALS)).bench_local(|| {
        seed += 1;
        let curve = search(strategy, seed, budgeted)
            .best_so_far(&space, &costs, &evaluator)
            .unwrap();
        black_box(curve)
    });
}

/// A trial of a search without a budget.
#[divan::bench(args = STRATEGIES, sample_count = 200)]
fn trial(bencher: Bencher, strategy: &str) {
    trials(bencher, strategy, false);
}

/// A trial of a search under the Pixel 3's median latency (about half the cells), with the
/// rejected proposals it takes.
#[divan::bench(args = STRATEGIES, sample_count = 200)]
fn trial_under_latency_budget(bencher: Bencher, strategy: &str) {
    trials(bencher, strategy, true);
}

/// What one budget of `hwnas bench compare --seeds 500` computes: the first 3 strategies x 500
/// seeds x 100 trials.
#[divan::bench(sample_count = 3)]
fn compare_500_seeds(bencher: Bencher) {
    let (space, costs) = setup(false);
    let evaluator = BenchmarkEvaluator::new(Dataset::Cifar10);
    bencher
        .counter(ItemsCount::new(3 * 500 * TRIALS))
        .bench_local(|| {
            for strategy in &STRATEGIES[..3] {
                for seed in 0..500 {
                    let curve = search(strategy, seed, false)
                        .best_so_far(&space, &costs, &evaluator)
                        .unwrap();
                    black_box(curve);
                }
            }
        });
}

/// The labelled-sample path: a random sample, validated into its index, its accuracy and its
/// latency looked up.
#[divan::bench(sample_count = 500)]
fn sample_validate_look_up(bencher: Bencher) {
    let bench = NasBench201::get();
    let space = hub::space("nasbench201").unwrap();
    let pixel3 = bench.device("pixel3").unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    bencher.bench_local(|| {
        let sample = space.search_space().random_sample(&mut rng).unwrap();
        let index = bench.index(&sample).unwrap();
        black_box(bench.accuracy(index, Dataset::Cifar10) + bench.latency(index, pixel3))
    });
}
