//! Latency on every built backend and the predictor's query speed.
//!
//! `forward` times one forward pass (with a device sync) of the same frozen ProxylessNAS samples
//! at 1x3x64x64 on each backend compiled in: flex always, ndarray, wgpu and cuda with their
//! features (`cargo bench -p hwnas-benches --features wgpu --bench latency`), and in tract (the
//! network exported to ONNX, one thread: what the flex figures say about a deployment
//! runtime). `predict` times a
//! latency-predictor query, which must stay under a microsecond; `fit_nasbench201` a table fitted
//! from a few measurements (under a second) and `predict_fitted_nasbench201` its query.

use std::time::Duration;

use burn::tensor::Device;
use divan::{Bencher, black_box};
use hwnas_benchmark::NasBench201;
use hwnas_profiler::{
    DeviceFingerprint, LatencyConfig, LatencyDevice, LatencyPredictor, Measurement, PredictorConfig,
};
use hwnas_space::{ModelSpace, Sample, Shape, hub};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn proxylessnas_64() -> ModelSpace {
    hub::space("proxylessnas")
        .unwrap()
        .with_input(Shape::image(3, 64, 64))
}

/// The smallest, the default and the largest sample (first, first valid, last choice of each).
fn samples(space: &ModelSpace) -> Vec<(&'static str, Sample)> {
    let search_space = space.search_space();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    vec![
        ("first", search_space.edge_sample(false)),
        ("random", search_space.random_sample(&mut rng).unwrap()),
        ("last", search_space.edge_sample(true)),
    ]
}

const SAMPLES: [&str; 3] = ["first", "random", "last"];

/// One forward pass (and a device sync on burn), after warm-up (wgpu compiles and autotunes on
/// first use): the pass a latency measurement times.
fn forward(bencher: Bencher, device: impl Into<LatencyDevice>, which: &str) {
    let space = proxylessnas_64();
    let sample = samples(&space)
        .into_iter()
        .find(|(n, _)| *n == which)
        .unwrap()
        .1;
    let architecture = space.resolve(&sample).unwrap();
    let network = device.into().load(&architecture, 1, Some(0)).unwrap();
    for _ in 0..5 {
        network.pass().unwrap();
    }
    bencher.bench_local(|| network.pass().unwrap());
}

/// The pure-Rust CPU backend.
#[divan::bench(args = SAMPLES, sample_count = 30)]
fn forward_flex(bencher: Bencher, which: &str) {
    forward(bencher, Device::flex(), which);
}

/// tract, on the same network exported to ONNX (weights from flex), one thread.
#[divan::bench(args = SAMPLES, sample_count = 30)]
fn forward_tract(bencher: Bencher, which: &str) {
    forward(bencher, LatencyDevice::Tract, which);
}

/// burn's ndarray backend (deprecated upstream, still the CPU baseline many users know).
#[cfg(feature = "ndarray")]
#[divan::bench(args = SAMPLES, sample_count = 30)]
fn forward_ndarray(bencher: Bencher, which: &str) {
    #[allow(deprecated)]
    forward(bencher, Device::ndarray(), which);
}

/// wgpu on the default adapter (a GPU, or the Vulkan software driver).
#[cfg(feature = "wgpu")]
#[divan::bench(args = SAMPLES, sample_count = 30)]
fn forward_wgpu(bencher: Bencher, which: &str) {
    forward(
        bencher,
        Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        which,
    );
}

/// CUDA device 0.
#[cfg(feature = "cuda")]
#[divan::bench(args = SAMPLES, sample_count = 30)]
fn forward_cuda(bencher: Bencher, which: &str) {
    forward(bencher, Device::cuda(0), which);
}

/// Predictor query on a labelled sample, validation included.
#[divan::bench(args = ["proxylessnas", "mobile-micro"], sample_count = 500, sample_size = 64)]
fn predict(bencher: Bencher, name: &str) {
    let space = match name {
        "proxylessnas" => proxylessnas_64(),
        _ => hub::space(name).unwrap(),
    };
    let quick = LatencyConfig {
        warmup: 1,
        min_runs: 1,
        max_runs: 1,
        budget: Duration::ZERO,
        ..LatencyConfig::default()
    };
    let config = PredictorConfig {
        layer_timing: quick.clone(),
        model_timing: quick,
        fit_samples: 2,
        ..PredictorConfig::default()
    };
    let predictor =
        LatencyPredictor::build(&space, Device::flex(), &config, &mut |_, _| {}).unwrap();
    bench_queries(bencher, &space, &predictor);
}

/// A NAS-Bench-201 table fitted from `k` networks measured on a device (the Pixel 2's published
/// latencies standing in), the other 21 devices as references: `hwnas latency fit nasbench201`
/// without reading files. Target: under a second for K <= 50.
#[divan::bench(args = [10, 50], sample_count = 10)]
fn fit_nasbench201(bencher: Bencher, k: usize) {
    let (space, references, measurements) = nasbench201_measurements(k);
    bencher.bench_local(|| {
        LatencyPredictor::fit(
            &space,
            1,
            &[],
            black_box(&references),
            black_box(&measurements),
            DeviceFingerprint::of(Device::flex()),
            "bench",
        )
        .unwrap()
    });
}

/// A query of that fitted table (layers plus one entry per architecture). Target: under a
/// microsecond.
#[divan::bench]
fn predict_fitted_nasbench201(bencher: Bencher) {
    let (space, references, measurements) = nasbench201_measurements(10);
    let table = LatencyPredictor::fit(
        &space,
        1,
        &[],
        &references,
        &measurements,
        DeviceFingerprint::of(Device::flex()),
        "bench",
    )
    .unwrap();
    bench_queries(bencher, &space, &table);
}

/// `table.predict` of 1,024 random labelled samples of `space` in turn.
fn bench_queries(bencher: Bencher, space: &ModelSpace, table: &LatencyPredictor) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let samples: Vec<Sample> = (0..1024)
        .map(|_| space.search_space().random_sample(&mut rng).unwrap())
        .collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % samples.len();
        table.predict(black_box(&samples[i])).unwrap()
    });
}

type References = Vec<(String, Vec<f32>)>;

fn nasbench201_measurements(k: usize) -> (ModelSpace, References, Vec<Measurement>) {
    let bench = NasBench201::get();
    let pixel2 = bench.device("pixel2").unwrap();
    let space = hub::space("nasbench201").unwrap();
    let measurements = (0..k)
        .map(|i| {
            let index = (i * 1009) % bench.len();
            Measurement {
                sample: bench.sample(index),
                latency_ms: bench.latency(index, pixel2),
            }
        })
        .collect();
    (
        space,
        bench.reference_latencies(Some("pixel2")),
        measurements,
    )
}
