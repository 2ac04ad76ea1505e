//! Profiler targets: build for `proxylessnas` under 0.1 s, `profile()` under 1 microsecond, and
//! sampling + validating + profiling at a million samples per second on one core.

use divan::{Bencher, black_box};
use hwnas_profiler::{CountOptions, CountProfiler, Profiler};
use hwnas_space::{Sample, hub};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const SPACES: [&str; 3] = ["proxylessnas", "nasbench201", "mobile-micro"];

/// Walking the declaration and folding it into tables.
#[divan::bench(args = SPACES, sample_count = 20)]
fn build(bencher: Bencher, name: &str) {
    let space = hub::space(name).unwrap();
    bencher.bench(|| CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap());
}

fn samples(name: &str, n: usize) -> (CountProfiler, Vec<Sample>) {
    let space = hub::space(name).unwrap();
    let profiler = CountProfiler::new(&space, space.input(), CountOptions::default()).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let samples = (0..n)
        .map(|_| space.search_space().random_sample(&mut rng).unwrap())
        .collect();
    (profiler, samples)
}

/// `profile()` of a sample: validation included.
#[divan::bench(args = SPACES)]
fn profile(bencher: Bencher, name: &str) {
    let (profiler, samples) = samples(name, 1024);
    let flops = profiler.flops();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % samples.len();
        flops.profile(black_box(&samples[i])).unwrap()
    });
}

/// Draw a random sample, validate it and count it: the inner loop of a filtered search.
#[divan::bench(args = SPACES)]
fn sample_validate_profile(bencher: Bencher, name: &str) {
    let (profiler, _) = samples(name, 0);
    let space = profiler.table().search_space().clone();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    bencher.bench_local(|| {
        let sample = space.random_sample(&mut rng).unwrap();
        profiler.counts(black_box(&sample)).unwrap()
    });
}

/// The same loop on choice indices, without building a labelled sample.
#[divan::bench(args = SPACES)]
fn sample_indices_profile(bencher: Bencher, name: &str) {
    let (profiler, _) = samples(name, 0);
    let space = profiler.table().search_space().clone();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    bencher.bench_local(|| {
        let indices = space.random_indices(&mut rng).unwrap();
        profiler.counts_indices(black_box(&indices)).unwrap()
    });
}
