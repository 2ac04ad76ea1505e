//! Filter overhead: proposing, validating and filtering on a FLOPs budget must run at hundreds of
//! thousands of samples per second, so a budget costs nothing next to training.

use divan::{Bencher, black_box};
use hwnas_middleware::{Budget, Chain};
use hwnas_profiler::Costs;
use hwnas_space::{hub, metric};
use hwnas_strategy::{EvolutionConfig, Metrics, Proposal, Random, Strategy, TrialResult};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const SPACES: [&str; 2] = ["proxylessnas", "mobile-micro"];

/// A strategy behind a FLOPs budget that admits the cheaper half of the space.
fn chain(space_name: &str, strategy: &str) -> (Chain, hwnas_space::SearchSpace) {
    let space = hub::space(space_name).unwrap();
    let costs = Costs::counts(&space).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut probe: Vec<f64> = (0..1001)
        .map(|_| {
            let sample = space.search_space().random_sample(&mut rng).unwrap();
            costs.cost(&sample, metric::FLOPS).unwrap()
        })
        .collect();
    probe.sort_by(f64::total_cmp);
    let filter = Budget::new()
        .max(metric::FLOPS, probe[500])
        .filter(&costs)
        .unwrap();
    let chain = match strategy {
        "random" => Chain::new(Random::new(1)),
        _ => Chain::new(EvolutionConfig::default().init().unwrap()),
    };
    (chain.then(filter), space.search_space().clone())
}

/// One proposal through the filter (about half are rejected); accepted ones are told a
/// made-up accuracy at once, so evolution leaves its random warm-up.
fn propose_filter(bencher: Bencher, space_name: &str, strategy: &str) {
    let (mut chain, space) = chain(space_name, strategy);
    let told = TrialResult::ok(Metrics::from([(metric::ACCURACY.to_string(), 0.5)]));
    bencher.bench_local(|| match chain.ask(black_box(&space)).unwrap() {
        Some(Proposal::Evaluate { sample, .. }) => chain.tell(&sample, &told),
        other => drop(black_box(other)),
    });
}

/// Random sampling (deduplicated) behind a FLOPs filter.
#[divan::bench(args = SPACES, sample_count = 500)]
fn random_filter(bencher: Bencher, space_name: &str) {
    propose_filter(bencher, space_name, "random");
}

/// Regularized evolution (deduplicated, reference defaults) behind a FLOPs filter.
#[divan::bench(args = SPACES, sample_count = 500)]
fn evolution_filter(bencher: Bencher, space_name: &str) {
    propose_filter(bencher, space_name, "evolution");
}
