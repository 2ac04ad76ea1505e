//! Search, one-shot and final training on generated data sets of every format.
#![cfg(feature = "flex")]

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use hwnas_data::Format;
use hwnas_data::synthetic::Synthetic;
use hwnas_experiment::train::{
    EPOCHS_LOG, EpochLine, OneShotRun, OneShotRunConfig, RESULT_FILE, TEST_FILE, TrainRun,
    TrainRunConfig, TrainRunError, TrainingData, WEIGHTS_DIR, WEIGHTS_FILE, load_network,
};
use hwnas_experiment::{
    DataConfig, EvaluatorConfig, OptimizerKind, SearchConfig, Stop, TrainingConfig, read_log,
};
use hwnas_space::{Backend, metric};
use hwnas_strategy::oneshot::{Algorithm, OneShotConfig};
use hwnas_strategy::{Objective, Status, StrategyConfig};

/// burn's flex device has one random number generator per process: the tests here take it one
/// at a time, so that another test's draws (or its seeding) cannot fall between a run's seed and
/// its use, which would make two runs that must be equal differ.
static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn device_rng() -> std::sync::MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// A generated data set of `format` in `dir`, and the settings that read it.
fn generated(dir: &Path, format: Format, shape: [usize; 3], classes: usize) -> DataConfig {
    Synthetic {
        shape,
        classes,
        train_per_class: 120,
        test_per_class: 20,
        seed: 3,
    }
    .write(dir, format)
    .unwrap();
    DataConfig {
        path: Some(dir.to_owned()),
        val_fraction: 0.25,
        ..DataConfig::default()
    }
}

#[test]
fn a_search_on_idx_files_keeps_the_best_weights_and_tests_the_best_trial() {
    let _rng = device_rng();
    let data_dir = tempfile::tempdir().unwrap();
    let data = generated(data_dir.path(), Format::Idx, [1, 12, 12], 3);
    let training = TrainingConfig {
        epochs: 3,
        batch_size: 16,
        data,
        ..TrainingConfig::default()
    };
    let loaded = TrainingData::load(&training.data, None).unwrap();
    // The data's test split (20 per class) is kept; 120 per class cut into train and validation.
    assert_eq!(
        (
            loaded.train().len(),
            loaded.val().len(),
            loaded.test().len()
        ),
        (270, 90, 60)
    );
    let mut search = SearchConfig {
        strategy: StrategyConfig::Random { seed: 1 },
        evaluator: EvaluatorConfig::Training(training),
        dedup: false,
        trials: 4,
        keep_weights: 2,
        ..SearchConfig::new("mobile-micro")
    };
    search.fit_to_data(&loaded).unwrap();
    assert_eq!(search.classes, Some(3));
    let dir = tempfile::tempdir().unwrap();
    let summary = search
        .run(dir.path(), false, &Stop::new(), |_, _| {})
        .unwrap();
    let (records, _) = read_log(&dir.path().join("trials.jsonl")).unwrap();
    let mut ranked: Vec<_> = records.iter().filter(|r| r.status == Status::Ok).collect();
    assert_eq!(ranked.len(), 4);
    let objective = Objective::maximize(metric::ACCURACY);
    ranked.sort_by(|a, b| {
        let key = |r: &&hwnas_experiment::TrialRecord| objective.key(&r.metrics).unwrap();
        key(b).total_cmp(&key(a)).then(a.id.cmp(&b.id))
    });
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join(WEIGHTS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    let mut expected: Vec<String> = ranked[..2]
        .iter()
        .map(|r| format!("{}.bpk", r.id))
        .collect();
    expected.sort();
    assert_eq!(kept, expected);
    // No trial's record holds a test figure; the best's comes from its kept weights.
    assert!(
        records
            .iter()
            .all(|r| !r.metrics.contains_key(metric::TEST_ACCURACY))
    );
    let best = summary.best.unwrap();
    assert_eq!(best.id, ranked[0].id);
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(TEST_FILE)).unwrap())
            .unwrap();
    assert_eq!(test["id"], best.id);
    assert_eq!(
        test[metric::TEST_ACCURACY],
        best.metrics[metric::TEST_ACCURACY]
    );
    assert!(best.metrics[metric::TEST_ACCURACY] >= 0.9, "{best:?}");

    // Resumed with one kept model: the other file goes as soon as the search sees the log.
    search.keep_weights = 1;
    search.trials = 5;
    search
        .run(dir.path(), true, &Stop::new(), |_, _| {})
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join(WEIGHTS_DIR))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_one_shot_run_on_cifar_batches_reports_its_choice_on_the_test_split() {
    let _rng = device_rng();
    let data_dir = tempfile::tempdir().unwrap();
    let config = generated(data_dir.path(), Format::Cifar, [3, 32, 32], 4);
    // Scaled to 16x16 on reading, which a quarter of the compute trains.
    let data = TrainingData::load(&config, Some([3, 16, 16])).unwrap();
    let space = data.space("mobile-micro").unwrap();
    assert_eq!(space.input().to_string(), "3x16x16");
    let dir = tempfile::tempdir().unwrap();
    let summary = OneShotRun::new(
        dir.path(),
        space,
        &data,
        Device::flex(),
        OneShotRunConfig {
            oneshot: OneShotConfig {
                algorithm: Algorithm::Spos,
                epochs: 6,
                ..OneShotConfig::default()
            },
            data: config,
            batch_size: 16,
            calibration_size: 64,
            search_trials: 4,
            ..OneShotRunConfig::default()
        },
    )
    .run()
    .unwrap();
    assert!(
        summary.metrics[metric::ACCURACY] >= 0.9,
        "{:?}",
        summary.metrics
    );
    assert!(
        summary.metrics[metric::TEST_ACCURACY] >= 0.9,
        "{:?}",
        summary.metrics
    );
}

fn train_config(data: DataConfig, epochs: usize) -> TrainRunConfig {
    TrainRunConfig {
        space: "mobile-micro".into(),
        input: Some(hwnas_space::Shape::image(3, 16, 16)),
        classes: Some(4),
        sample: hwnas_space::hub::space("mobile-micro")
            .unwrap()
            .search_space()
            .default_sample()
            .unwrap(),
        training: TrainingConfig {
            epochs,
            batch_size: 16,
            learning_rate: 0.05,
            optimizer: OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            warmup_epochs: 1,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            data,
            ..TrainingConfig::default()
        },
        device: Backend::Flex,
        seed: 5,
    }
}

fn lines(dir: &Path) -> Vec<EpochLine> {
    std::fs::read_to_string(dir.join(EPOCHS_LOG))
        .unwrap()
        .lines()
        .map(|line| {
            let mut line: EpochLine = serde_json::from_str(line).unwrap();
            line.duration_s = 0.0;
            line
        })
        .collect()
}

/// The output of the weights in `dir` on a fixed input: equal outputs, equal weights.
fn outputs(dir: &Path, config: &TrainRunConfig) -> Vec<f32> {
    let architecture = config
        .model_space()
        .unwrap()
        .resolve(&config.sample)
        .unwrap();
    let device = Device::flex();
    let network = load_network(&architecture, &dir.join(WEIGHTS_FILE), &device).unwrap();
    let input: Vec<f32> = (0..2 * 3 * 16 * 16)
        .map(|i| (i % 17) as f32 / 17.0)
        .collect();
    let input = Tensor::<4>::from_data(TensorData::new(input, [2, 3, 16, 16]), &device);
    network
        .valid()
        .forward_logits(input)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn a_final_training_on_an_image_folder_resumes_as_if_never_stopped() {
    let _rng = device_rng();
    let data_dir = tempfile::tempdir().unwrap();
    let mut data = generated(data_dir.path(), Format::ImageFolder, [3, 16, 16], 4);
    data.augment = true;
    let loaded = TrainingData::load(&data, None).unwrap();
    let config = train_config(data, 4);

    let whole = tempfile::tempdir().unwrap();
    let result = TrainRun::new(whole.path(), config.clone(), &loaded, Device::flex())
        .run()
        .unwrap();
    assert!(result.test_accuracy >= 0.9, "{result:?}");
    assert_eq!(result.epochs, 4);
    for file in ["train.json", "model.json", WEIGHTS_FILE, RESULT_FILE] {
        assert!(whole.path().join(file).exists(), "{file}");
    }
    let whole_lines = lines(whole.path());
    assert_eq!(whole_lines.len(), 4);
    let best = whole_lines.iter().fold(&whole_lines[0], |b, l| {
        if l.val_accuracy > b.val_accuracy {
            l
        } else {
            b
        }
    });
    assert_eq!(
        (result.best_epoch, result.val_accuracy),
        (best.epoch, best.val_accuracy)
    );

    // Stopped after its second epoch, then resumed.
    let parts = tempfile::tempdir().unwrap();
    let stop = Stop::new();
    let stopper = stop.clone();
    let error = TrainRun::new(parts.path(), config.clone(), &loaded, Device::flex())
        .with_stop(stop)
        .on_epoch(move |line| {
            if line.epoch == 1 {
                stopper.request()
            }
        })
        .run()
        .unwrap_err();
    assert!(matches!(error, TrainRunError::Interrupted), "{error}");
    assert_eq!(lines(parts.path()).len(), 2);
    // As a kill leaves it while the third epoch's checkpoint was being written.
    std::fs::create_dir_all(parts.path().join("checkpoint/3.tmp")).unwrap();
    let refused = TrainRun::new(parts.path(), config.clone(), &loaded, Device::flex())
        .run()
        .unwrap_err();
    assert!(refused.is_input(), "{refused}");
    let resumed = TrainRun::new(parts.path(), config.clone(), &loaded, Device::flex())
        .resume(true)
        .run()
        .unwrap();
    assert_eq!(resumed, result);
    assert_eq!(lines(parts.path()), whole_lines);
    assert_eq!(
        outputs(parts.path(), &config),
        outputs(whole.path(), &config)
    );

    // Other settings are named, not trained over.
    let other = train_config(loaded.config().clone(), 5);
    let error = TrainRun::new(parts.path(), other, &loaded, Device::flex())
        .resume(true)
        .run()
        .unwrap_err();
    assert!(
        error.to_string().contains("training.epochs: 4 -> 5"),
        "{error}"
    );
}
