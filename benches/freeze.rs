//! `freeze` target: building the burn module of a `proxylessnas` sample on flex under 50 ms.

use burn::tensor::Device;
use divan::Bencher;
use hwnas_space::hub;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

#[divan::bench(args = ["proxylessnas", "nasbench201", "mobile-micro"], sample_count = 20)]
fn freeze_flex(bencher: Bencher, name: &str) {
    let space = hub::space(name).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let samples: Vec<_> = (0..8)
        .map(|_| space.search_space().random_sample(&mut rng).unwrap())
        .collect();
    let device = Device::flex();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % samples.len();
        space.freeze(&samples[i], &device).unwrap()
    });
}
