//! One-shot training cost: a supernet training step of each algorithm, and the largest subnet
//! trained through the supernet (sliced, shared weights) against the same subnet trained alone.
//! mobile-micro, batch 32 of 1x8x8 images, flex, Adam.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use divan::Bencher;
use hwnas_space::module::{Hidden, Supernet};
use hwnas_space::{ModelSpace, Sample, hub};
use hwnas_strategy::oneshot::{Algorithm, OneShotConfig, OneShotTrainer};

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const ALGORITHMS: [&str; 4] = ["spos", "darts", "gumbel", "proxyless"];

fn batch(device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let images = Tensor::random([32, 1, 8, 8], Distribution::Normal(0.0, 1.0), device);
    let targets = Tensor::<1, Int>::random([32], Distribution::Uniform(0.0, 10.0), device);
    (images, targets)
}

/// Every decision at its last value: widest stages, deepest, kernel 5, expansion 6.
fn largest(space: &ModelSpace) -> Sample {
    space.search_space().edge_sample(true)
}

/// One step of supernet training: for the gradient-based algorithms an architecture step on one
/// batch and a weight step on another.
#[divan::bench(args = ALGORITHMS, sample_count = 20)]
fn supernet_step(bencher: Bencher, algorithm: &str) {
    let algorithm = match algorithm {
        "spos" => Algorithm::Spos,
        "darts" => Algorithm::Darts,
        "gumbel" => Algorithm::Gumbel,
        _ => Algorithm::Proxyless,
    };
    let space = hub::space("mobile-micro").unwrap();
    let device = Device::flex().autodiff();
    let config = OneShotConfig {
        algorithm,
        ..OneShotConfig::default()
    };
    let mut trainer = OneShotTrainer::new(&space, &device, config).unwrap();
    bencher.bench_local(|| {
        let valid = algorithm.is_differentiable().then(|| batch(&device));
        trainer.step(0, batch(&device), valid).unwrap()
    });
}

/// The largest subnet, trained through the supernet's shared weights.
#[divan::bench(sample_count = 20)]
fn largest_subnet_through_supernet(bencher: Bencher) {
    let space = hub::space("mobile-micro").unwrap();
    let device = Device::flex().autodiff();
    let indices = space.search_space().indices(&largest(&space)).unwrap();
    let mut supernet = Some(Supernet::init(&space, &device).unwrap());
    let mut optimizer = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&device);
    bencher.bench_local(|| {
        let net = supernet.take().unwrap();
        let (images, targets) = batch(&device);
        let Hidden::Flat(logits) = net.forward_indices(&indices, images) else {
            unreachable!()
        };
        let loss = loss.forward(logits, targets);
        let gradients = GradientsParams::from_grads(loss.backward(), &net);
        supernet = Some(optimizer.step(0.01, net, gradients));
    });
}

/// The largest subnet alone, as `freeze` builds it.
#[divan::bench(sample_count = 20)]
fn largest_subnet_alone(bencher: Bencher) {
    let space = hub::space("mobile-micro").unwrap();
    let device = Device::flex().autodiff();
    let mut network = Some(space.freeze(&largest(&space), &device).unwrap());
    let mut optimizer = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&device);
    bencher.bench_local(|| {
        let net = network.take().unwrap();
        let (images, targets) = batch(&device);
        let loss = loss.forward(net.forward_logits(images).unwrap(), targets);
        let gradients = GradientsParams::from_grads(loss.backward(), &net);
        network = Some(optimizer.step(0.01, net, gradients));
    });
}
