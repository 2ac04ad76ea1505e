//! Filter overhead: proposing, validating and filtering on a FLOPs budget must run at hundreds of
//! thousands of samples per second, so a budget costs nothing next to training.

use divan::{Bencher, black_box};
use hwnas_middleware::{Chain, Filter};
use hwnas_profiler::{CountOptions, CountProfiler, Profiler};
use hwnas_space::hub;
use hwnas_strategy::{EvolutionConfig, Metrics, Proposal, Random, Strategy, TrialResult};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn main() {
    divan::main();
}

const SPACES: [&str; 2] = ["proxylessnas", "mobile-micro"];

/// A strategy behind a filter that admits the cheaper half of the space.
fn chain(space_name: &str, strategy: &str) -> (Chain, hwnas_space::SearchSpace) {
    let space = hub::space(space_name).unwrap();
    let counts = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
    let flops = counts.flops();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut probe: Vec<f64> = (0..1001)
        .map(|_| {
            flops
                .profile(&space.search_space().random_sample(&mut rng).unwrap())
                .unwrap()
        })
        .collect();
    probe.sort_by(f64::total_cmp);
    let budget = probe[500];
    let filter = Filter::new(move |s| flops.profile(s).is_ok_and(|f| f <= budget));
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
    let told = TrialResult::ok(Metrics::from([("accuracy".to_string(), 0.5)]));
    bencher.bench_local(|| match chain.ask(black_box(&space)).unwrap() {
        Some(Proposal::Evaluate(sample)) => chain.tell(&sample, &told),
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
