//! Experiments: trial logs, failures, filters, resume after a crash, reports and plots.

use std::path::{Path, PathBuf};

use hwnas_experiment::{
    EvaluationError, Experiment, ExperimentConfig, ExperimentError, Report, StopReason,
    TrialContext, TrialRecord, read_log,
};
use hwnas_middleware::{Chain, Filter, MedianStop};
use hwnas_profiler::{Costs, from_fn};
use hwnas_space::{Choice, Sample, SearchSpace};
use hwnas_strategy::{
    Decision, Direction, EvolutionConfig, Metrics, Objective, Random, Reason, Status,
};

fn space() -> SearchSpace {
    let choices = (0..6)
        .map(|i| Choice::new(format!("x{i}"), [0, 1, 2, 3]))
        .collect();
    SearchSpace::new(choices, vec![]).unwrap()
}

fn total(sample: &Sample) -> f64 {
    sample.iter().map(|(_, v)| v.as_f64().unwrap()).sum()
}

fn accuracy(sample: &Sample, _: &TrialContext) -> Result<Metrics, EvaluationError> {
    Ok(Metrics::from([(
        "accuracy".to_string(),
        total(sample) / 18.0,
    )]))
}

fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("hwnas-{name}-"))
        .tempdir()
        .unwrap()
}

fn config(max_trials: usize) -> ExperimentConfig {
    ExperimentConfig {
        max_trials,
        seed: 5,
        ..Default::default()
    }
}

fn evolution() -> hwnas_strategy::RegularizedEvolution {
    EvolutionConfig {
        population_size: 4,
        sample_size: 2,
        seed: 3,
        ..Default::default()
    }
    .init()
    .unwrap()
}

fn log(dir: &Path) -> Vec<TrialRecord> {
    read_log(&dir.join("trials.jsonl")).unwrap().0
}

fn evaluated_samples(dir: &Path) -> Vec<(u64, Sample)> {
    log(dir)
        .into_iter()
        .filter(|r| r.status != Status::Invalid)
        .map(|r| (r.id, r.sample))
        .collect()
}

#[test]
fn experiment_logs_every_trial_and_the_best() {
    let dir = temp_dir("log");
    let summary = Experiment::new(dir.path(), space(), evolution(), &accuracy, config(12))
        .run()
        .unwrap();
    assert_eq!(
        (summary.progress.evaluated, summary.stop),
        (12, StopReason::Trials)
    );
    let records = log(dir.path());
    assert_eq!(
        records.iter().map(|r| r.id).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert!(
        records
            .iter()
            .all(|r| r.status == Status::Ok && r.metrics.contains_key("accuracy"))
    );
    let best = summary.best.unwrap();
    let best_file = std::fs::read_to_string(dir.path().join("best.json")).unwrap();
    assert_eq!(Sample::from_json(&best_file).unwrap(), best.sample);
    let top = records
        .iter()
        .map(|r| r.metrics["accuracy"])
        .fold(f64::MIN, f64::max);
    assert_eq!(best.metrics["accuracy"], top);
}

#[test]
fn experiment_survives_failing_evaluators() {
    let dir = temp_dir("fail");
    let flaky = |sample: &Sample, _: &TrialContext| -> Result<Metrics, EvaluationError> {
        match sample.get("x0").and_then(|v| v.as_i64()) {
            Some(0) => panic!("out of memory in layer 3"),
            Some(1) => Err("diverged".into()),
            Some(2) => Ok(Metrics::from([("accuracy".to_string(), f64::NAN)])),
            _ => Ok(Metrics::from([("accuracy".to_string(), 0.5)])),
        }
    };
    let summary = Experiment::new(dir.path(), space(), Random::new(2), &flaky, config(30))
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 30);
    let records = log(dir.path());
    for record in &records {
        let x0 = record.sample.get("x0").and_then(|v| v.as_i64()).unwrap();
        let error = record.error.as_deref().unwrap_or("");
        match x0 {
            0 => assert!(error.contains("panicked: out of memory"), "{error}"),
            1 => assert_eq!(error, "diverged"),
            2 => assert!(error.contains("NaN"), "{error}"),
            _ => assert_eq!(record.status, Status::Ok),
        }
        assert_eq!(record.status == Status::Failed, x0 < 3);
    }
    // Each way of failing happened, and the search went on past it.
    for x0 in 0..4 {
        let n = records
            .iter()
            .filter(|r| r.sample.get("x0").and_then(|v| v.as_i64()) == Some(x0))
            .count();
        assert!(n > 0, "no trial with x0 = {x0}");
    }
    assert_eq!(
        summary.progress.failed,
        records
            .iter()
            .filter(|r| r.status == Status::Failed)
            .count()
    );
}

#[test]
fn experiment_logs_filter_rejections_as_invalid() {
    let dir = temp_dir("filter");
    let cheap = |s: &Sample| total(s) <= 6.0;
    let costs = Costs::new().with("total", from_fn(|s| Ok(total(s))));
    let strategy = Chain::new(Random::new(4)).then(Filter::new(costs, |m| m["total"] <= 6.0));
    let summary = Experiment::new(dir.path(), space(), strategy, &accuracy, config(10))
        .run()
        .unwrap();
    let records = log(dir.path());
    let (ok, invalid): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.status == Status::Ok);
    assert_eq!(ok.len(), 10);
    assert!(ok.iter().all(|r| cheap(&r.sample)));
    assert!(!invalid.is_empty() && invalid.iter().all(|r| !cheap(&r.sample)));
    assert!(invalid.iter().all(|r| r.reason == Some(Reason::OverBudget)));
    assert_eq!(summary.progress.rejected, invalid.len());
}

#[test]
fn experiment_logs_unpriced_samples_and_goes_on() {
    // The cost cannot price samples whose first label is 3: behind a budget they are settled
    // (`unpriced: ...`) and the run goes on; without one they are failed trials.
    let priced = |s: &Sample| match s.get("x0").and_then(|v| v.as_i64()) {
        Some(3) => Err(hwnas_profiler::ProfileError::Unsupported("x0 is 3".into())),
        _ => Ok(total(s)),
    };
    let costs = Costs::new().with("total", from_fn(priced));
    let budget = hwnas_middleware::Budget::new().max("total", 100.0);
    let unpriced = |r: &&TrialRecord| r.sample.get("x0").and_then(|v| v.as_i64()) == Some(3);

    let dir = temp_dir("unpriced");
    let strategy = Chain::new(Random::new(2)).then(budget.filter(&costs).unwrap());
    let summary = Experiment::new(dir.path(), space(), strategy, &accuracy, config(12))
        .with_costs(costs.clone())
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 12);
    let records = log(dir.path());
    let settled: Vec<&TrialRecord> = records.iter().filter(unpriced).collect();
    assert!(!settled.is_empty());
    for record in &settled {
        assert_eq!(record.status, Status::Invalid);
        let reason = Reason::Unpriced("`total`: cannot profile this space: x0 is 3".into());
        assert_eq!(record.reason, Some(reason));
    }
    let text = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
    assert!(text.contains(r#""reason":"unpriced: `total`: cannot profile this space: x0 is 3""#));
    for record in records.iter().filter(|r| r.status == Status::Ok) {
        assert_eq!(record.metrics["total"], total(&record.sample));
    }

    let dir = temp_dir("unpriced-unfiltered");
    Experiment::new(dir.path(), space(), Random::new(2), &accuracy, config(12))
        .with_costs(costs)
        .run()
        .unwrap();
    let records = log(dir.path());
    let failed: Vec<&TrialRecord> = records.iter().filter(unpriced).collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|r| r.status == Status::Failed
            && r.error.as_deref().is_some_and(|e| e.contains("x0 is 3")))
    );
}

#[test]
fn search_config_resumes_only_with_the_same_settings() {
    use hwnas_experiment::{EvaluatorConfig, SEARCH_SETTINGS, SearchConfig, TrainingConfig};
    use hwnas_space::metric;
    use hwnas_strategy::StrategyConfig;

    let dir = temp_dir("search-settings");
    let config = SearchConfig {
        trials: 4,
        budget: hwnas_middleware::Budget::new().max(metric::FLOPS, 60e6),
        ..SearchConfig::new("nasbench201")
    };
    let space = config.model_space().unwrap();
    let costs = Costs::counts(&space).unwrap();
    let evaluate = |sample: &Sample, _: &TrialContext| -> Result<Metrics, EvaluationError> {
        Ok(Metrics::from([(
            metric::ACCURACY.into(),
            sample.len() as f64,
        )]))
    };
    let run = |config: &SearchConfig, resume: bool| {
        config
            .experiment(dir.path(), &space, costs.clone(), &evaluate, resume)
            .and_then(|experiment| experiment.run())
    };
    run(&config, false).unwrap();
    let saved: SearchConfig =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(SEARCH_SETTINGS)).unwrap())
            .unwrap();
    assert_eq!(saved, config);

    let refused = |changed: SearchConfig| run(&changed, true).unwrap_err().to_string();
    let error = refused(SearchConfig {
        strategy: StrategyConfig::Random { seed: 0 },
        ..config.clone()
    });
    assert!(error.contains("strategy: guided -> random"), "{error}");
    let error = refused(SearchConfig {
        budget: config.budget.clone().max(metric::FLOPS, 50e6),
        ..config.clone()
    });
    assert!(
        error.contains("budget.max.flops: 60000000.0 -> 50000000.0"),
        "{error}"
    );
    let error = refused(SearchConfig {
        evaluator: EvaluatorConfig::Training(TrainingConfig {
            epochs: 9,
            ..TrainingConfig::default()
        }),
        ..config.clone()
    });
    assert!(error.contains("evaluator.epochs: 4 -> 9"), "{error}");
    // Nothing ran: the log still holds the first run only.
    assert_eq!(
        log(dir.path())
            .iter()
            .filter(|r| r.status == Status::Ok)
            .count(),
        4
    );
    // More trials continue the same search.
    let summary = run(
        &SearchConfig {
            trials: 6,
            ..config.clone()
        },
        true,
    )
    .unwrap();
    assert_eq!(summary.progress.evaluated, 6);
}

#[test]
fn experiment_refuses_a_used_directory_without_resume() {
    let dir = temp_dir("used");
    Experiment::new(dir.path(), space(), Random::new(1), &accuracy, config(2))
        .run()
        .unwrap();
    let error = Experiment::new(dir.path(), space(), Random::new(1), &accuracy, config(2)).run();
    assert!(
        matches!(&error, Err(ExperimentError::Resume(m)) if m.contains("already holds")),
        "{error:?}"
    );
    let other = SearchSpace::new(vec![Choice::new("y", [1, 2])], vec![]).unwrap();
    let resume = ExperimentConfig {
        resume: true,
        ..config(4)
    };
    let error = Experiment::new(dir.path(), other, Random::new(1), &accuracy, resume).run();
    assert!(
        matches!(&error, Err(ExperimentError::Resume(m)) if m.contains("another search space"))
    );
}

#[test]
fn resume_continues_exactly_where_a_run_stopped() {
    let straight = temp_dir("straight");
    Experiment::new(straight.path(), space(), evolution(), &accuracy, config(14))
        .run()
        .unwrap();
    let resumed = temp_dir("resumed");
    Experiment::new(resumed.path(), space(), evolution(), &accuracy, config(6))
        .run()
        .unwrap();
    let again = ExperimentConfig {
        resume: true,
        ..config(14)
    };
    let summary = Experiment::new(resumed.path(), space(), evolution(), &accuracy, again)
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 14);
    assert_eq!(
        evaluated_samples(straight.path()),
        evaluated_samples(resumed.path())
    );
}

#[test]
fn resume_after_a_crash_reruns_the_unfinished_trial_only() {
    let dir = temp_dir("crash");
    Experiment::new(dir.path(), space(), evolution(), &accuracy, config(5))
        .run()
        .unwrap();
    let before = evaluated_samples(dir.path());
    // Make it look as if the process died while trial 4 ran, and in the middle of a line.
    let path: PathBuf = dir.path().join("trials.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&path, format!("{}\n{{\"id\": 4, \"sam", lines.join("\n"))).unwrap();
    let state_path = dir.path().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["pending"] = serde_json::json!({ "4": before[4].1 });
    std::fs::write(&state_path, state.to_string()).unwrap();

    let again = ExperimentConfig {
        resume: true,
        ..config(8)
    };
    let summary = Experiment::new(dir.path(), space(), evolution(), &accuracy, again)
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 8);
    let after = evaluated_samples(dir.path());
    let ids: Vec<u64> = after.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(after[..5], before[..]);
}

#[test]
fn resume_tells_a_pending_trial_found_in_the_log_and_does_not_run_it_again() {
    // Killed after trial 4 was logged, before the state that still lists it pending was saved
    // again: resuming tells the strategy its result, runs it no more and logs it once.
    let told = temp_dir("told");
    Experiment::new(told.path(), space(), evolution(), &accuracy, config(5))
        .run()
        .unwrap();
    let before = evaluated_samples(told.path());
    let state_path = told.path().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["pending"] = serde_json::json!({ "4": before[4].1 });
    std::fs::write(&state_path, state.to_string()).unwrap();
    let counting = std::sync::atomic::AtomicUsize::new(0);
    let evaluate = |sample: &Sample, context: &TrialContext| {
        counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        accuracy(sample, context)
    };
    let again = ExperimentConfig {
        resume: true,
        ..config(7)
    };
    let summary = Experiment::new(told.path(), space(), evolution(), &evaluate, again)
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 7);
    assert_eq!(counting.into_inner(), 2);
    let after = evaluated_samples(told.path());
    let ids: Vec<u64> = after.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(after[..5], before[..]);
}

#[test]
fn resume_heals_a_best_file_a_kill_left_stale_or_missing() {
    let dir = temp_dir("best");
    let summary = Experiment::new(dir.path(), space(), evolution(), &accuracy, config(6))
        .run()
        .unwrap();
    let best = summary.best.unwrap().sample;
    let best_path = dir.path().join(hwnas_experiment::BEST_FILE);
    let again = || ExperimentConfig {
        resume: true,
        ..config(6)
    };
    // Killed after a record and before its best.json: the file is stale, or was never written.
    let stale = log(dir.path())
        .into_iter()
        .find(|r| r.sample != best)
        .unwrap()
        .sample;
    std::fs::write(&best_path, format!("{stale}\n")).unwrap();
    for _ in 0..2 {
        let resumed = Experiment::new(dir.path(), space(), evolution(), &accuracy, again())
            .run()
            .unwrap();
        assert_eq!(resumed.progress.evaluated, 6);
        let written = std::fs::read_to_string(&best_path).unwrap();
        assert_eq!(Sample::from_json(written.trim()).unwrap(), best);
        std::fs::remove_file(&best_path).unwrap();
    }
}

#[test]
fn search_config_trains_each_network_once() {
    use hwnas_experiment::SearchConfig;
    use hwnas_space::metric;

    // mobile-micro: a mutation often changes only a choice the network never reads.
    let config = SearchConfig {
        trials: 40,
        ..SearchConfig::new("mobile-micro")
    };
    let space = config.model_space().unwrap();
    let trained = std::sync::Mutex::new(Vec::new());
    let evaluate = |sample: &Sample, _: &TrialContext| -> Result<Metrics, EvaluationError> {
        trained
            .lock()
            .unwrap()
            .push(space.architecture_hash(sample)?);
        Ok(Metrics::from([(metric::ACCURACY.into(), total_of(sample))]))
    };
    let dir = temp_dir("per-network");
    config
        .experiment(
            dir.path(),
            &space,
            Costs::counts(&space).unwrap(),
            &evaluate,
            false,
        )
        .unwrap()
        .run()
        .unwrap();
    let mut networks = trained.into_inner().unwrap();
    assert_eq!(networks.len(), 40);
    networks.sort();
    networks.dedup();
    assert_eq!(networks.len(), 40, "a network was trained twice");
    let duplicates = log(dir.path())
        .into_iter()
        .filter(|r| r.reason == Some(Reason::Duplicate))
        .count();
    assert!(duplicates > 0, "the search never proposed a network again");
}

/// A number that grows with every label's choice index: something for evolution to climb.
fn total_of(sample: &Sample) -> f64 {
    sample.to_json().len() as f64
}

#[test]
fn resume_without_the_strategy_state_is_refused() {
    let dir = temp_dir("stateless");
    Experiment::new(dir.path(), space(), evolution(), &accuracy, config(3))
        .run()
        .unwrap();
    let log_before = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    let again = ExperimentConfig {
        resume: true,
        ..config(6)
    };
    let error = Experiment::new(dir.path(), space(), evolution(), &accuracy, again)
        .run()
        .unwrap_err();
    assert!(error.is_input());
    let message = error.to_string();
    assert!(
        message.contains("state.json is missing") && message.contains("holds 3 trained trials"),
        "{message}"
    );
    // Nothing was trained again, nothing dropped.
    let log_after = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
    assert_eq!(log_after, log_before);
}

#[test]
fn median_stop_ends_weak_trials_early() {
    let dir = temp_dir("median");
    let epochs = |sample: &Sample, context: &TrialContext| -> Result<Metrics, EvaluationError> {
        let quality = total(sample) / 18.0;
        let mut last = 0.0;
        for epoch in 0..5 {
            last = quality * (epoch + 1) as f64 / 5.0;
            if context.report(epoch, last) == Decision::Stop {
                break;
            }
        }
        Ok(Metrics::from([("accuracy".to_string(), last)]))
    };
    let strategy = Chain::new(Random::new(8)).then(MedianStop::new(Direction::Maximize));
    Experiment::new(dir.path(), space(), strategy, &epochs, config(20))
        .run()
        .unwrap();
    let records = log(dir.path());
    let stopped: Vec<&TrialRecord> = records.iter().filter(|r| r.stopped_early).collect();
    assert!(!stopped.is_empty());
    assert!(stopped.iter().all(|r| r.intermediate.len() < 5));
    assert!(
        records
            .iter()
            .filter(|r| !r.stopped_early)
            .all(|r| r.intermediate.len() == 5)
    );
}

#[test]
fn concurrent_trials_are_all_logged_once() {
    let dir = temp_dir("parallel");
    let slow = |sample: &Sample, context: &TrialContext| {
        std::thread::sleep(std::time::Duration::from_millis(5 * (context.id() % 3)));
        accuracy(sample, context)
    };
    let config = ExperimentConfig {
        concurrency: 3,
        ..config(15)
    };
    let summary = Experiment::new(dir.path(), space(), evolution(), &slow, config)
        .run()
        .unwrap();
    assert_eq!(summary.progress.evaluated, 15);
    let mut ids: Vec<u64> = log(dir.path()).iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, (0..15).collect::<Vec<_>>());
}

#[test]
fn report_ranks_fronts_and_plots() {
    let dir = temp_dir("report");
    let two = |sample: &Sample, _: &TrialContext| -> Result<Metrics, EvaluationError> {
        let x0 = sample.get("x0").and_then(|v| v.as_f64()).unwrap();
        let x1 = sample.get("x1").and_then(|v| v.as_f64()).unwrap();
        Ok(Metrics::from([
            ("accuracy".to_string(), x0 + x1),
            ("flops".to_string(), 1e6 * (1.0 + x0)),
        ]))
    };
    Experiment::new(dir.path(), space(), Random::new(3), &two, config(40))
        .run()
        .unwrap();
    let report = Report::load(dir.path()).unwrap();
    assert_eq!(report.counts(), (40, 0, 0));
    let top = report.top_k(&Objective::maximize("accuracy"), 3);
    assert_eq!(top.len(), 3);
    assert!(
        top.windows(2)
            .all(|w| w[0].metrics["accuracy"] >= w[1].metrics["accuracy"])
    );
    let objectives = [
        Objective::maximize("accuracy"),
        Objective::minimize("flops"),
    ];
    let front = report.pareto_front(&objectives);
    // On the front, more accuracy always costs more FLOPs.
    assert!(
        front
            .windows(2)
            .all(|w| w[0].metrics["flops"] >= w[1].metrics["flops"])
    );
    assert!(front.len() >= 2);
    // The front is exactly the records no other record dominates.
    let accuracy = |r: &TrialRecord| r.metrics["accuracy"];
    let flops = |r: &TrialRecord| r.metrics["flops"];
    let dominated = |r: &TrialRecord| {
        report.records.iter().any(|o| {
            accuracy(o) >= accuracy(r)
                && flops(o) <= flops(r)
                && (accuracy(o) > accuracy(r) || flops(o) < flops(r))
        })
    };
    let mut expected: Vec<u64> = report
        .records
        .iter()
        .filter(|r| !dominated(r))
        .map(|r| r.id)
        .collect();
    let mut on_front: Vec<u64> = front.iter().map(|r| r.id).collect();
    expected.sort();
    on_front.sort();
    assert_eq!(on_front, expected);
    let ok: Vec<&TrialRecord> = report.records.iter().collect();
    let [png, svg] =
        hwnas_experiment::plot_tradeoff(&ok, &front, "flops", "accuracy", &dir.path().join("plot"))
            .unwrap();
    // The SVG holds a mark per trial and per front point (and one of each in the legend).
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.contains("<svg"),
        "not an SVG"
    );
    assert_eq!(svg.matches(r#"r="3""#).count(), ok.len() + 1);
    assert_eq!(svg.matches(r#"r="4""#).count(), front.len() + 1);
    // The PNG is a PNG of the plot's size.
    let png = std::fs::read(png).unwrap();
    assert_eq!(
        png[..8],
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']
    );
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), hwnas_experiment::PLOT_SIZE);
    assert!(report.table(&top).lines().count() == 4);
    assert!(matches!(
        Report::load(dir.path().join("nothing")),
        Err(ExperimentError::Resume(_))
    ));
}

#[cfg(feature = "flex")]
mod training {
    use burn::tensor::Device;
    use hwnas_experiment::train::{
        OptimizerKind, Schedule, TrainingConfig, TrainingData, TrainingEvaluator,
    };
    use hwnas_experiment::{Evaluator, TrialContext};
    use hwnas_space::hub;

    fn evaluate(config: TrainingConfig, seed: u64) -> f64 {
        let space = hub::space("mobile-micro").unwrap();
        let sample = space.search_space().default_sample().unwrap();
        let data = TrainingData::load(&config.data, None).unwrap();
        let evaluator = TrainingEvaluator::new(space, &data, config, Device::flex()).unwrap();
        let metrics = evaluator
            .evaluate(&sample, &TrialContext::standalone(0, seed))
            .unwrap();
        metrics["accuracy"]
    }

    #[test]
    fn training_learns_the_digits_and_is_reproducible() {
        let config = TrainingConfig {
            epochs: 1,
            ..TrainingConfig::default()
        };
        let trained = evaluate(config.clone(), 1);
        assert!(trained > 0.6, "accuracy after one epoch: {trained}");
        assert_eq!(trained, evaluate(config, 1));
        // Without a learning rate nothing is learnt: chance level, ten classes.
        let untrained = TrainingConfig {
            epochs: 1,
            learning_rate: 0.0,
            optimizer: OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            schedule: Schedule::Constant,
            ..TrainingConfig::default()
        };
        let chance = evaluate(untrained, 1);
        assert!(chance < 0.35, "untrained accuracy: {chance}");
    }

    #[test]
    fn training_refuses_data_of_another_shape() {
        let space = hub::space("nasbench201").unwrap();
        let data = TrainingData::load(&Default::default(), None).unwrap();
        let error = TrainingEvaluator::new(space, &data, TrainingConfig::default(), Device::flex())
            .err()
            .unwrap();
        assert!(error.to_string().contains("1x8x8 images"), "{error}");
    }
}

#[cfg(feature = "flex")]
mod oneshot {
    use burn::tensor::Device;
    use hwnas_experiment::train::OneShotRunError;
    use hwnas_experiment::train::{
        EpochRecord, OneShotRun, OneShotRunConfig, SUPERNET_LOG, SUPERNET_WEIGHTS, TrainingData,
        digits,
    };
    use hwnas_experiment::{BEST_FILE, ExperimentError, Report};
    use hwnas_middleware::Budget;
    use hwnas_profiler::{Costs, from_fn};
    use hwnas_space::{Sample, hub, metric};
    use hwnas_strategy::RangeFilter;
    use hwnas_strategy::Status;
    use hwnas_strategy::oneshot::{
        Algorithm, HardwarePenalty, Nonlinear, OneShotConfig, PenaltyConfig, PenaltyMode,
    };

    /// 400 of the digits: 240 to train on, 80 to choose on, 80 to test.
    fn small_digits() -> TrainingData {
        let mut data = digits();
        data.train = data.train.select(&(0..400).collect::<Vec<_>>());
        TrainingData::from_data_set(&Default::default(), &data, None).unwrap()
    }

    fn config(algorithm: Algorithm, epochs: usize) -> OneShotRunConfig {
        OneShotRunConfig {
            oneshot: OneShotConfig {
                algorithm,
                epochs,
                ..OneShotConfig::default()
            },
            calibration_size: 64,
            search_trials: 6,
            ..OneShotRunConfig::default()
        }
    }

    fn read_lines<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Vec<T> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn proxyless_run_writes_an_experiment_directory() {
        let dir = tempfile::tempdir().unwrap();
        let space = hub::space("mobile-micro").unwrap();
        let data = small_digits();
        let costs = Costs::counts(&space).unwrap();
        let penalty = || {
            let config = PenaltyConfig {
                baseline: 200_000.0,
                scale: 1.0,
                mode: PenaltyMode::Mul,
                nonlinear: Nonlinear::Positive,
            };
            HardwarePenalty::new(config, costs.clone(), metric::FLOPS).unwrap()
        };
        let mut steps = 0;
        let summary = OneShotRun::new(
            dir.path(),
            space.clone(),
            &data,
            Device::flex(),
            OneShotRunConfig {
                finetune_epochs: 1,
                ..config(Algorithm::Proxyless, 2)
            },
        )
        .with_costs(costs.clone())
        .with_penalty(penalty())
        .on_step(|_, _| steps += 1)
        .run()
        .unwrap();
        assert_eq!(steps, 2 * data.train().len().div_ceil(32));
        space.search_space().validate(&summary.best).unwrap();
        assert!(summary.metrics["accuracy"] >= 0.0 && summary.metrics["flops"] > 0.0);
        assert!((0.0..=1.0).contains(&summary.metrics["finetuned_accuracy"]));
        assert!((0.0..=1.0).contains(&summary.metrics[metric::TEST_ACCURACY]));
        let best = std::fs::read_to_string(dir.path().join(BEST_FILE)).unwrap();
        assert_eq!(Sample::from_json(best.trim()).unwrap(), summary.best);
        let epochs: Vec<EpochRecord> = read_lines(&dir.path().join(SUPERNET_LOG));
        assert_eq!(epochs.len(), 2);
        assert!(
            epochs
                .iter()
                .all(|e| e.arch_loss.is_some() && e.expected_cost.is_some())
        );
        let report = Report::load(dir.path()).unwrap();
        assert_eq!(report.records.len(), 2);
        assert!(report.records.iter().all(|r| r.status == Status::Ok));
        // The directory is not overwritten.
        let again = OneShotRun::new(
            dir.path(),
            space.clone(),
            &data,
            Device::flex(),
            config(Algorithm::Proxyless, 1),
        )
        .run();
        assert!(matches!(
            again,
            Err(OneShotRunError::Experiment(ExperimentError::Resume(_)))
        ));

        // Killed during the second epoch: one epoch logged, a trial line cut short, no choice.
        let log = dir.path().join(SUPERNET_LOG);
        let first_epoch = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        std::fs::write(&log, format!("{first_epoch}\n{{\"epoch\": 1, \"lo")).unwrap();
        let trials = dir.path().join("trials.jsonl");
        let first_trial = std::fs::read_to_string(&trials)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        std::fs::write(&trials, format!("{first_trial}\n{{\"id\": 1, ")).unwrap();
        std::fs::remove_file(dir.path().join(BEST_FILE)).unwrap();
        let resumed_settings = OneShotRunConfig {
            finetune_epochs: 1,
            ..config(Algorithm::Proxyless, 2)
        };
        let other = OneShotRun::new(
            dir.path(),
            space.clone(),
            &data,
            Device::flex(),
            config(Algorithm::Proxyless, 3),
        )
        .resume(true)
        .run()
        .unwrap_err();
        assert!(other.to_string().contains("other settings"), "{other}");
        // Each differing setting is named, the penalty's too.
        assert!(
            other.to_string().contains("oneshot.epochs: 2 -> 3"),
            "{other}"
        );
        let unpenalised = OneShotRun::new(
            dir.path(),
            space.clone(),
            &data,
            Device::flex(),
            resumed_settings.clone(),
        )
        .with_costs(costs.clone())
        .resume(true)
        .run()
        .unwrap_err()
        .to_string();
        assert!(unpenalised.contains("penalty: {"), "{unpenalised}");
        assert!(unpenalised.contains("} -> none"), "{unpenalised}");
        let mut resumed_steps = 0;
        let resumed = OneShotRun::new(dir.path(), space, &data, Device::flex(), resumed_settings)
            .with_costs(costs.clone())
            .with_penalty(penalty())
            .resume(true)
            .on_step(|_, _| resumed_steps += 1)
            .run()
            .unwrap();
        // Only the second epoch trained again.
        assert_eq!(resumed_steps, data.train().len().div_ceil(32));
        let epochs: Vec<EpochRecord> = read_lines(&log);
        assert_eq!(epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [0, 1]);
        let report = Report::load(dir.path()).unwrap();
        assert_eq!(
            report.records.iter().map(|r| r.id).collect::<Vec<_>>(),
            [0, 1]
        );
        let best = std::fs::read_to_string(dir.path().join(BEST_FILE)).unwrap();
        assert_eq!(Sample::from_json(best.trim()).unwrap(), resumed.best);
        assert_eq!(resumed.epochs.len(), 2);
    }

    #[test]
    fn spos_searches_subnets_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let space = hub::space("mobile-micro").unwrap();
        let data = small_digits();
        let costs = Costs::counts(&space).unwrap();
        let limit = 250_000.0;
        // A SPOS run into `out` that searches only subnets within `limit` FLOPs.
        let within_budget = |out: &std::path::Path| {
            OneShotRun::new(
                out,
                space.clone(),
                &data,
                Device::flex(),
                config(Algorithm::Spos, 1),
            )
            .with_costs(costs.clone())
            .with_budget(Budget::new().max(metric::FLOPS, limit))
        };
        let range = || RangeFilter::new(costs.clone(), metric::FLOPS, 0.0, limit).unwrap();
        let summary = within_budget(dir.path()).with_range(range()).run().unwrap();
        // The search over subnets is a multi-trial search of its own settings.
        let settings: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(hwnas_experiment::SEARCH_SETTINGS)).unwrap(),
        )
        .unwrap();
        assert_eq!(settings["evaluator"]["kind"], "supernet");
        assert_eq!(settings["budget"]["max"]["flops"], limit);
        let search = summary.search.unwrap();
        assert_eq!(search.progress.evaluated, 6);
        let report = Report::load(dir.path()).unwrap();
        for record in report.records.iter().filter(|r| r.status == Status::Ok) {
            assert!(record.metrics["flops"] <= limit, "{record:?}");
        }
        assert!(summary.metrics["flops"] <= limit);
        let epochs: Vec<EpochRecord> = read_lines(&dir.path().join(SUPERNET_LOG));
        assert_eq!(epochs.len(), 1);
        assert!(epochs[0].chosen.is_none() && epochs[0].loss.is_finite());

        // The trained supernet, searched again from its weights without training, under the same
        // budget and seed, evaluates the same subnets to the same accuracies.
        let again = tempfile::tempdir().unwrap();
        let mut steps = 0;
        within_budget(again.path())
            .from_trained(dir.path())
            .on_step(|_, _| steps += 1)
            .run()
            .unwrap();
        assert_eq!(steps, 0);
        assert!(!again.path().join(SUPERNET_LOG).exists());
        assert!(again.path().join(SUPERNET_WEIGHTS).exists());
        let trials = |dir: &std::path::Path| -> Vec<(Sample, Option<f64>)> {
            Report::load(dir)
                .unwrap()
                .records
                .into_iter()
                .map(|r| (r.sample, r.metrics.get("accuracy").copied()))
                .collect()
        };
        assert_eq!(trials(again.path()), trials(dir.path()));

        // Only SPOS searches a trained supernet again; a directory without weights is an error.
        let run = |algorithm, from: &std::path::Path| {
            let out = tempfile::tempdir().unwrap();
            OneShotRun::new(
                out.path(),
                space.clone(),
                &data,
                Device::flex(),
                config(algorithm, 1),
            )
            .from_trained(from)
            .run()
            .unwrap_err()
            .to_string()
        };
        let error = run(Algorithm::Darts, dir.path());
        assert!(error.contains("only SPOS"), "{error}");
        let error = run(Algorithm::Spos, again.path().join("nowhere").as_path());
        assert!(error.contains("nowhere/oneshot.json"), "{error}");

        // Killed after the search's last record, before its choice was written: resuming trains
        // nothing, evaluates nothing again and writes the choice.
        let full = trials(dir.path());
        std::fs::remove_file(dir.path().join(BEST_FILE)).unwrap();
        let mut steps = 0;
        let resumed = within_budget(dir.path())
            .with_range(range())
            .resume(true)
            .on_step(|_, _| steps += 1)
            .run()
            .unwrap();
        assert_eq!(steps, 0);
        assert_eq!(resumed.search.unwrap().progress.evaluated, 6);
        assert_eq!(trials(dir.path()), full);
        assert_eq!(resumed.best, summary.best);
        let best = std::fs::read_to_string(dir.path().join(BEST_FILE)).unwrap();
        assert_eq!(Sample::from_json(best.trim()).unwrap(), resumed.best);
    }

    #[test]
    fn gradient_based_run_refuses_a_cost_range() {
        let dir = tempfile::tempdir().unwrap();
        let space = hub::space("mobile-micro").unwrap();
        let one = Costs::new().with("one", from_fn(|_| Ok(1.0)));
        let range = RangeFilter::new(one, "one", 0.0, 2.0).unwrap();
        let data = small_digits();
        let error = OneShotRun::new(
            dir.path(),
            space,
            &data,
            Device::flex(),
            config(Algorithm::Darts, 1),
        )
        .with_range(range)
        .run()
        .unwrap_err();
        assert!(error.to_string().contains("SPOS"), "{error}");
    }
}

#[test]
fn a_soft_target_ranks_trials_by_their_reward() {
    use hwnas_benchmark::{Dataset, NasBench201};
    use hwnas_experiment::{BenchmarkEvaluator, EvaluatorConfig, LatencySource, SearchConfig};
    use hwnas_space::{hub, metric};
    use hwnas_strategy::{REWARD, SoftTarget, StrategyConfig, StrategyName};

    let dir = tempfile::tempdir().unwrap();
    let bench = NasBench201::get();
    let pixel3 = bench.device("pixel3").unwrap();
    let target = SoftTarget::hard_soft(metric::LATENCY_MS, bench.median_latency(pixel3));
    let search = SearchConfig {
        evaluator: EvaluatorConfig::Benchmark {
            dataset: Dataset::Cifar10,
        },
        latency: Some(LatencySource::Benchmark("pixel3".into())),
        strategy: StrategyConfig::named(StrategyName::Guided, 3)
            .with_objective(Objective::maximize(REWARD)),
        objective: Objective::maximize(REWARD),
        target: Some(target.clone()),
        trials: 25,
        ..SearchConfig::new("nasbench201")
    };
    let space = hub::space("nasbench201").unwrap();
    let costs = Costs::counts(&space)
        .unwrap()
        .with(metric::LATENCY_MS, bench.latency_profiler(pixel3));
    let evaluator = BenchmarkEvaluator::new(Dataset::Cifar10);
    let summary = search
        .experiment(dir.path(), &space, costs, &evaluator, false)
        .unwrap()
        .run()
        .unwrap();
    let records = Report::load(dir.path()).unwrap().records;
    let evaluated: Vec<&TrialRecord> = records.iter().filter(|r| r.status == Status::Ok).collect();
    assert_eq!(evaluated.len(), 25);
    let mut over = 0;
    for record in &evaluated {
        let (accuracy, latency) = (
            record.metrics[metric::ACCURACY],
            record.metrics[metric::LATENCY_MS],
        );
        // 0 below the target, -1 above: the reward halves at twice the target.
        let expected = if latency <= target.target {
            accuracy
        } else {
            over += 1;
            accuracy * target.target / latency
        };
        assert!(
            (record.metrics[REWARD] - expected).abs() < 1e-12,
            "{record:?}"
        );
    }
    assert!(
        over > 0,
        "no trial went over the target to test the penalty"
    );
    let best = summary.best.unwrap();
    let top = evaluated
        .iter()
        .map(|r| r.metrics[REWARD])
        .fold(f64::MIN, f64::max);
    assert_eq!(best.metrics[REWARD], top);
}

#[test]
fn a_strategys_fall_back_is_noted_in_the_trial_record() {
    // A population of one that never mutates breeds only its parent: after the bounded tries
    // each child is a random sample, and the record of that trial says so.
    let dir = temp_dir("notes");
    let never_mutates = EvolutionConfig {
        population_size: 1,
        sample_size: 1,
        mutation_prob: 0.0,
        ..Default::default()
    }
    .init()
    .unwrap();
    let evaluate = accuracy;
    Experiment::new(dir.path(), space(), never_mutates, &evaluate, config(3))
        .run()
        .unwrap();
    let records = read_log(&dir.path().join(hwnas_experiment::LOG_FILE))
        .unwrap()
        .0;
    assert_eq!(records.len(), 3);
    assert!(records[0].notes.is_empty(), "{:?}", records[0]);
    for record in &records[1..] {
        assert_eq!(record.notes.len(), 1, "{record:?}");
        assert!(
            record.notes[0].contains("a random sample instead"),
            "{record:?}"
        );
    }
    // The log reads back, and a record without notes writes none.
    let text = std::fs::read_to_string(dir.path().join(hwnas_experiment::LOG_FILE)).unwrap();
    assert!(!text.lines().next().unwrap().contains("notes"));
}
