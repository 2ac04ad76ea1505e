//! Images per second of training on flex, batch 64, and where the time goes: a whole epoch as a
//! search trial or `hwnas train` runs it (data, augmentation, steps, validation), one training
//! step alone (forward, backward, optimizer), the forward pass alone, and the data pipeline alone.
//! `mobile-micro` at 1x28x28 and `nasbench201` at 3x32x32, ten classes, one seeded random sample
//! of each.

use std::sync::Arc;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Device;
use divan::Bencher;
use divan::counter::ItemsCount;
use hwnas_data::DataSet;
use hwnas_data::synthetic::Synthetic;
use hwnas_experiment::train::{ImageBatch, TrainingData, TrainingEvaluator, loader};
use hwnas_experiment::{DataConfig, Evaluator, OptimizerKind, TrainingConfig, TrialContext};
use hwnas_space::module::Network;
use hwnas_space::{ModelSpace, Sample};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

// The allocator of the `hwnas` binary, so that the figures are the command line's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const BATCH: usize = 64;
/// Training images of a bench epoch: ten batches.
const TRAIN_IMAGES: usize = 10 * BATCH;
const SPACES: [&str; 2] = ["mobile-micro 1x28x28", "nasbench201 3x32x32"];

struct Setup {
    space: ModelSpace,
    sample: Sample,
    data: TrainingData,
    training: TrainingConfig,
}

/// Ten classes of generated images at the space's bench shape: 640 to train on, 64 to validate
/// and test with, augmented as `--augment` does.
fn setup(name: &str) -> Setup {
    let (space_name, shape) = match name {
        "mobile-micro 1x28x28" => ("mobile-micro", [1, 28, 28]),
        _ => ("nasbench201", [3, 32, 32]),
    };
    let synthetic = Synthetic {
        shape,
        classes: 10,
        train_per_class: 0,
        test_per_class: 0,
        seed: 0,
    };
    let per_class = (TRAIN_IMAGES + 2 * BATCH) / 10;
    let config = DataConfig {
        val_fraction: 0.1,
        test_fraction: 0.1,
        augment: true,
        ..DataConfig::default()
    };
    let data = DataSet {
        classes: (0..10).map(|c| c.to_string()).collect(),
        train: synthetic.images(per_class, 0),
        val: None,
        test: None,
    };
    let data = TrainingData::from_data_set(&config, &data, None).unwrap();
    let space = data.space(space_name).unwrap();
    let sample = space
        .search_space()
        .random_sample(&mut Xoshiro256PlusPlus::seed_from_u64(1))
        .unwrap();
    let training = TrainingConfig {
        epochs: 1,
        batch_size: BATCH,
        learning_rate: 0.05,
        optimizer: OptimizerKind::Sgd {
            momentum: 0.9,
            nesterov: true,
        },
        weight_decay: 5e-4,
        label_smoothing: 0.1,
        data: config,
        ..TrainingConfig::default()
    };
    Setup {
        space,
        sample,
        data,
        training,
    }
}

/// One epoch as a trial trains it: a fresh network, every training batch read, normalized and
/// augmented, a step each, then the validation split evaluated.
#[divan::bench(args = SPACES, sample_count = 5)]
fn epoch(bencher: Bencher, name: &str) {
    let setup = setup(name);
    let images = setup.data.train().len();
    let evaluator = TrainingEvaluator::new(
        setup.space.clone(),
        &setup.data,
        setup.training.clone(),
        Device::flex(),
    )
    .unwrap();
    bencher.counter(ItemsCount::new(images)).bench_local(|| {
        evaluator
            .evaluate(&setup.sample, &TrialContext::standalone(0, 0))
            .unwrap()
    });
}

fn one_batch(setup: &Setup, device: &Device) -> ImageBatch {
    let train: &Arc<_> = setup.data.train();
    loader(train, BATCH, Some(0), Some(0), device)
        .iter()
        .next()
        .unwrap()
        .unwrap()
}

/// One training step on a batch already on the device: forward, loss, backward, SGD.
#[divan::bench(args = SPACES, sample_count = 20)]
fn train_step(bencher: Bencher, name: &str) {
    let setup = setup(name);
    let device = Device::flex().autodiff();
    let mut network = Some(setup.space.freeze(&setup.sample, &device).unwrap());
    let mut optimizer = SgdConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&device);
    let batch = one_batch(&setup, &device);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let net: Network = network.take().unwrap();
        let logits = net.forward_logits(batch.images.clone()).unwrap();
        let loss = loss.forward(logits, batch.targets.clone());
        let gradients = GradientsParams::from_grads(loss.backward(), &net);
        network = Some(optimizer.step(0.01, net, gradients));
    });
}

/// The forward pass alone, without autodiff, as validation runs it.
#[divan::bench(args = SPACES, sample_count = 20)]
fn forward(bencher: Bencher, name: &str) {
    let setup = setup(name);
    let device = Device::flex();
    let network = setup.space.freeze(&setup.sample, &device).unwrap().valid();
    let batch = one_batch(&setup, &device);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        network
            .forward_logits(batch.images.clone())
            .unwrap()
            .into_data()
    });
}

/// The data pipeline alone: an epoch's batches read, normalized, augmented and stacked.
#[divan::bench(args = SPACES, sample_count = 20)]
fn data(bencher: Bencher, name: &str) {
    let setup = setup(name);
    let device = Device::flex();
    let train = setup.data.train();
    bencher
        .counter(ItemsCount::new(train.len()))
        .bench_local(|| {
            loader(train, BATCH, Some(0), Some(0), &device)
                .iter()
                .map(|batch| batch.unwrap().targets.dims()[0])
                .sum::<usize>()
        });
}
