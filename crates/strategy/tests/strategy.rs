//! Strategy behaviour: coverage, determinism, state round trips and search quality.

use std::collections::HashSet;

use hwnas_profiler::{Costs, from_fn};
use hwnas_space::{Choice, Constraint, Sample, SearchSpace};
use hwnas_strategy::pareto::{dominates, objective_keys};
use hwnas_strategy::{
    Bound, EvolutionConfig, GridSearch, Guide, Metrics, Objective, ParetoConfig, Proposal, Random,
    Strategy, StrategyConfig, StrategyError, StrategyName, TrialResult,
};

fn small_space() -> SearchSpace {
    let choices = vec![Choice::new("a", [1, 2, 3]), Choice::new("b", [1, 2, 3, 4])];
    let constraints = vec![Constraint::Forbid(
        [("a".into(), 3.into()), ("b".into(), 4.into())]
            .into_iter()
            .collect(),
    )];
    SearchSpace::new(choices, constraints).unwrap()
}

/// 20 labels with 4 values each: about 10^12 samples.
fn wide_space() -> SearchSpace {
    SearchSpace::new(
        (0..20)
            .map(|i| Choice::new(format!("x{i:02}"), [0, 1, 2, 3]))
            .collect(),
        vec![],
    )
    .unwrap()
}

/// A synthetic objective with one optimum: the sum of the values.
fn score(sample: &Sample) -> f64 {
    sample.iter().map(|(_, v)| v.as_f64().unwrap()).sum()
}

fn evaluate(sample: &Sample) -> TrialResult {
    let cost = sample
        .iter()
        .take(10)
        .map(|(_, v)| v.as_f64().unwrap())
        .sum::<f64>();
    TrialResult::ok(Metrics::from([
        ("accuracy".into(), score(sample)),
        ("flops".into(), cost),
    ]))
}

/// Runs `n` ask/tell rounds and returns the proposed samples.
fn run(strategy: &mut dyn Strategy, space: &SearchSpace, n: usize) -> Vec<Sample> {
    let mut proposed = Vec::new();
    while proposed.len() < n {
        let Some(Proposal::Evaluate { sample, .. }) = strategy.ask(space).unwrap() else {
            break;
        };
        strategy.tell(&sample, &evaluate(&sample));
        proposed.push(sample);
    }
    proposed
}

fn distinct(samples: &[Sample]) -> usize {
    samples
        .iter()
        .map(Sample::stable_hash)
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn random_dedup_exhausts_the_valid_samples() {
    let space = small_space();
    let proposed = run(&mut Random::new(5), &space, 100);
    assert_eq!(proposed.len(), 11);
    assert_eq!(distinct(&proposed), 11);
    assert!(proposed.iter().all(|s| space.validate(s).is_ok()));
}

#[test]
fn grid_visits_every_valid_sample_once() {
    let space = small_space();
    let ordered = run(&mut GridSearch::new(), &space, 100);
    let shuffled = run(&mut GridSearch::shuffled(9), &space, 100);
    assert_eq!((ordered.len(), distinct(&ordered)), (11, 11));
    assert_eq!((shuffled.len(), distinct(&shuffled)), (11, 11));
    assert_ne!(ordered, shuffled);
    let first: Vec<i64> = ["a", "b"]
        .iter()
        .map(|l| ordered[0].get(l).unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(first, [1, 1]);
}

#[test]
fn shuffled_grid_refuses_huge_spaces() {
    let error = GridSearch::shuffled(0).ask(&wide_space()).unwrap_err();
    assert!(error.to_string().contains("use random sampling"), "{error}");
}

type Build = fn() -> Box<dyn Strategy>;

#[test]
fn strategies_are_reproducible_and_resume_from_saved_state() {
    let space = wide_space();
    let strategies: Vec<(&str, Build)> = vec![
        ("random", || Box::new(Random::new(11))),
        ("grid", || Box::new(GridSearch::new())),
        ("evolution", || {
            let config = EvolutionConfig {
                population_size: 10,
                sample_size: 3,
                seed: 11,
                ..Default::default()
            };
            Box::new(config.init().unwrap())
        }),
        ("evolution-crossover", || {
            let config = EvolutionConfig {
                population_size: 10,
                sample_size: 3,
                crossover: true,
                seed: 11,
                ..Default::default()
            };
            Box::new(config.init().unwrap())
        }),
        ("pareto", || {
            Box::new(
                ParetoConfig {
                    population_size: 10,
                    seed: 11,
                    ..Default::default()
                }
                .init()
                .unwrap(),
            )
        }),
        ("local", || named(StrategyName::Local, 11)),
        ("tpe", || named(StrategyName::Tpe, 11)),
        ("reinforce", || named(StrategyName::Reinforce, 11)),
        ("guided", || named(StrategyName::Guided, 11)),
    ];
    for (name, build) in strategies {
        let straight = run(&mut *build(), &space, 40);
        let mut first = build();
        let mut resumed = run(&mut *first, &space, 25);
        let mut second = build();
        second.restore(first.save().unwrap()).unwrap();
        resumed.extend(run(&mut *second, &space, 15));
        assert_eq!(straight, resumed, "{name}");
        assert_eq!(distinct(&straight), 40, "{name}");
    }
}

fn named(name: StrategyName, seed: u64) -> Box<dyn Strategy> {
    StrategyConfig::named(name, seed)
        .with_population(10, 3, 0.05)
        .init()
        .unwrap()
}

/// What the guide of the wide space prices: `flops` as [`evaluate`] reports it, and `params`,
/// the sum of every value (the score: the prior of the guided search agrees with it).
fn wide_costs() -> Costs {
    let sum = |n: usize| {
        from_fn(move |sample: &Sample| {
            Ok(sample
                .iter()
                .take(n)
                .map(|(_, v)| v.as_f64().unwrap())
                .sum())
        })
    };
    Costs::new()
        .with("flops", sum(10))
        .with("params", sum(20))
        .with("live_params", sum(20))
}

fn flops_at_most(limit: f64) -> Guide {
    let bound = Bound {
        metric: "flops".into(),
        min: None,
        max: Some(limit),
    };
    Guide::new(&wide_costs()).with_bounds(vec![bound])
}

#[test]
fn strategies_with_a_guide_propose_only_admissible_samples_and_resume() {
    let space = wide_space();
    // At most 6 of a possible 30: about one sample in 4,000 is admissible, so a strategy that
    // did not ask the guide would propose mostly inadmissible samples.
    for name in StrategyName::ALL {
        for seed in 0..4 {
            let build = || {
                let mut strategy = named(name, seed);
                strategy.guide(flops_at_most(6.0));
                strategy
            };
            let straight = run(&mut *build(), &space, 40);
            assert_eq!(straight.len(), 40, "{name}");
            for sample in &straight {
                let flops = evaluate(sample).metrics["flops"];
                assert!(
                    flops <= 6.0,
                    "{name} seed {seed} proposed {flops} flops: {sample}"
                );
            }
            let mut first = build();
            let mut resumed = run(&mut *first, &space, 25);
            let mut second = build();
            second.restore(first.save().unwrap()).unwrap();
            resumed.extend(run(&mut *second, &space, 15));
            assert_eq!(straight, resumed, "{name} seed {seed}");
        }
    }
}

#[test]
fn strategies_say_when_the_budget_admits_nothing() {
    let space = wide_space();
    for name in StrategyName::ALL {
        let mut strategy = named(name, 0);
        strategy.guide(flops_at_most(-1.0));
        match strategy.ask(&space) {
            Err(error @ StrategyError::Infeasible { .. }) => {
                assert!(error.to_string().contains("flops <= -1"), "{name}: {error}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn evolution_notes_a_fall_back_to_random_sampling() {
    // A population of one that never mutates breeds only its parent: after the bounded tries
    // the child is a random sample, and the note says so.
    let space = wide_space();
    let config = EvolutionConfig {
        population_size: 1,
        sample_size: 1,
        mutation_prob: 0.0,
        ..Default::default()
    };
    let mut evolution = config.init().unwrap();
    let proposed = run(&mut evolution, &space, 3);
    assert_eq!(distinct(&proposed), 3);
    let notes = evolution.take_notes();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("a random sample instead"), "{notes:?}");
    assert!(evolution.take_notes().is_empty());
}

#[test]
fn new_strategies_beat_random_on_a_smooth_objective() {
    let space = wide_space();
    let best = |samples: Vec<Sample>| samples.iter().map(score).fold(f64::MIN, f64::max);
    for name in [
        StrategyName::Local,
        StrategyName::Tpe,
        StrategyName::Reinforce,
        StrategyName::Guided,
    ] {
        let (mut wins, seeds) = (0u64, 5);
        for seed in 0..seeds {
            let mut strategy = named(name, seed);
            strategy.guide(Guide::new(&wide_costs()));
            let found = best(run(&mut *strategy, &space, 150));
            let random = best(run(&mut Random::new(seed), &space, 150));
            wins += u64::from(found > random);
        }
        assert_eq!(wins, seeds, "{name} beat random in {wins} of {seeds} seeds");
    }
}

#[test]
fn strategy_names_read_back() {
    for name in StrategyName::ALL {
        assert_eq!(name.name().parse::<StrategyName>().unwrap(), name);
        assert_eq!(StrategyConfig::named(name, 3).name(), name.name());
    }
    let error = "annealing".parse::<StrategyName>().unwrap_err().to_string();
    assert!(error.contains("guided, evolution, random"), "{error}");
}

#[test]
fn evolution_beats_random_on_a_smooth_objective() {
    let space = wide_space();
    for seed in 0..5 {
        let best = |samples: Vec<Sample>| samples.iter().map(score).fold(f64::MIN, f64::max);
        let config = EvolutionConfig {
            population_size: 20,
            sample_size: 5,
            seed,
            ..Default::default()
        };
        let evolved = best(run(&mut config.init().unwrap(), &space, 300));
        let random = best(run(&mut Random::new(seed), &space, 300));
        assert!(
            evolved > random,
            "seed {seed}: evolution {evolved} vs random {random}"
        );
    }
}

#[test]
fn pareto_evolution_keeps_a_non_dominated_front() {
    let space = wide_space();
    let objectives = vec![
        Objective::maximize("accuracy"),
        Objective::minimize("flops"),
    ];
    let config = ParetoConfig {
        objectives: objectives.clone(),
        population_size: 20,
        seed: 3,
        ..Default::default()
    };
    let mut pareto = config.init().unwrap();
    run(&mut pareto, &space, 200);
    let front = pareto.front();
    assert!(front.len() >= 2);
    let keys: Vec<Vec<f64>> = front
        .iter()
        .map(|(_, m)| objective_keys(&objectives, m).unwrap())
        .collect();
    for a in &keys {
        assert!(keys.iter().all(|b| !dominates(b, a)));
    }
    // The front reaches the corners: all-max accuracy needs flops; the search finds cheap and good.
    let best_accuracy = front
        .iter()
        .map(|(_, m)| m["accuracy"])
        .fold(f64::MIN, f64::max);
    assert!(best_accuracy >= 45.0, "{best_accuracy}");
}

#[cfg(feature = "flex")]
mod oneshot {
    use burn::module::Param;
    use burn::tensor::{Device, Distribution, Int, Tensor};
    use hwnas_profiler::{Costs, ProfileError, from_fn};
    use hwnas_space::{Conv2dSpec, Layer, ModelSpace, Node, Sample, Shape, Width, hub};
    use hwnas_strategy::RangeFilter;
    use hwnas_strategy::oneshot::{
        Algorithm, ArchParameters, HardwarePenalty, Nonlinear, OneShotConfig, OneShotTrainer,
        PenaltyConfig, PenaltyMode,
    };

    const KERNELS: [usize; 3] = [1, 3, 5];

    /// One decision among convolutions of kernel 1, 3 and 5 (cost: kernel squared).
    fn kernel_space() -> ModelSpace {
        let conv = |kernel| Node::Layer(Layer::Conv2d(Conv2dSpec::new(Width::Fixed(4), kernel, 1)));
        let root = Node::sequential([
            Node::layer_choice("op", KERNELS.map(|k| (format!("conv{k}"), conv(k)))),
            Node::Layer(Layer::GlobalAvgPool),
            Node::Layer(Layer::Linear {
                out_features: 2,
                bias: true,
            }),
        ]);
        ModelSpace::new("kernels", root, vec![], Shape::image(1, 6, 6)).unwrap()
    }

    fn kernel_cost(sample: &Sample) -> Option<f64> {
        let name = sample.get("op")?.as_str()?.to_string();
        let kernel: f64 = name.trim_start_matches("conv").parse().ok()?;
        Some(kernel * kernel)
    }

    /// [`kernel_cost`] as the costs `kernel`.
    fn kernel_costs() -> Costs {
        let priced = |sample: &Sample| {
            kernel_cost(sample).ok_or_else(|| ProfileError::Unsupported("not a conv".into()))
        };
        Costs::new().with("kernel", from_fn(priced))
    }

    /// burn's random numbers come from one generator per process, and tests run in parallel:
    /// each test that seeds it holds this while it draws.
    fn device_rng() -> std::sync::MutexGuard<'static, ()> {
        static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn penalty(nonlinear: Nonlinear, mode: PenaltyMode) -> HardwarePenalty {
        let config = PenaltyConfig {
            baseline: 4.0,
            scale: 1.0,
            mode,
            nonlinear,
        };
        HardwarePenalty::new(config, kernel_costs(), "kernel").unwrap()
    }

    fn batch(device: &Device, n: usize) -> (Tensor<4>, Tensor<1, Int>) {
        let images = Tensor::random([n, 1, 6, 6], Distribution::Normal(0.0, 1.0), device);
        let targets = Tensor::<1, Int>::random([n], Distribution::Uniform(0.0, 2.0), device);
        (images, targets)
    }

    /// Trains `algorithm` for `steps`; returns the final probabilities of the one decision.
    fn train(algorithm: Algorithm, with_penalty: bool, steps: usize) -> Vec<f64> {
        let _rng = device_rng();
        let device = Device::flex();
        device.seed(11);
        let device = device.autodiff();
        let config = OneShotConfig {
            algorithm,
            epochs: 1,
            arch_learning_rate: 0.05,
            seed: 3,
            ..OneShotConfig::default()
        };
        let mut trainer = OneShotTrainer::new(&kernel_space(), &device, config).unwrap();
        if with_penalty {
            trainer = trainer
                .with_penalty(penalty(Nonlinear::Linear, PenaltyMode::Add))
                .unwrap();
        }
        for _ in 0..steps {
            let report = trainer
                .step(0, batch(&device, 8), Some(batch(&device, 8)))
                .unwrap();
            assert!(report.loss.is_finite() && report.arch_loss.unwrap().is_finite());
            assert_eq!(report.expected_cost.is_some(), with_penalty);
        }
        trainer.arch().probability_values().remove(0)
    }

    #[test]
    fn penalty_gradient_reaches_the_architecture_parameters() {
        let device = Device::flex().autodiff();
        let space = kernel_space();
        let arch = ArchParameters::init(space.search_space(), &device);
        let reference = arch.most_probable(space.search_space()).unwrap();
        for (nonlinear, mode) in [
            (Nonlinear::Linear, PenaltyMode::Add),
            (Nonlinear::Positive, PenaltyMode::Mul),
            (Nonlinear::Absolute, PenaltyMode::Add),
        ] {
            let penalty = penalty(nonlinear, mode);
            let expected = penalty
                .expected_cost(space.search_space(), &arch.probabilities(), &reference)
                .unwrap();
            // Uniform over costs 1, 9 and 25.
            let value = expected.clone().into_scalar::<f64>();
            assert!((value - 35.0 / 3.0).abs() < 1e-4, "{value}");
            let loss = penalty.apply(Tensor::ones([1], &device), expected);
            let gradients = loss.backward();
            let gradient: Vec<f64> = arch.logits[0]
                .grad(&gradients)
                .unwrap()
                .into_data()
                .iter::<f64>()
                .collect();
            assert!(
                gradient[0] < 0.0 && gradient[2] > 0.0,
                "{nonlinear:?} {mode:?}: {gradient:?}"
            );
        }
    }

    #[test]
    fn penalty_moves_probability_to_cheaper_candidates() {
        for algorithm in [Algorithm::Darts, Algorithm::Gumbel, Algorithm::Proxyless] {
            let free = train(algorithm, false, 40);
            let penalised = train(algorithm, true, 40);
            assert!(
                penalised[0] > 0.6 && penalised[0] > free[0] + 0.2,
                "{algorithm:?}: penalised {penalised:?}, free {free:?}"
            );
            assert!(
                penalised[2] < free[2],
                "{algorithm:?}: penalised {penalised:?}, free {free:?}"
            );
        }
    }

    #[test]
    fn spos_trains_only_subnets_within_the_range() {
        let _rng = device_rng();
        let device = Device::flex();
        device.seed(2);
        let device = device.autodiff();
        let config = OneShotConfig {
            algorithm: Algorithm::Spos,
            ..OneShotConfig::default()
        };
        let range = RangeFilter::new(kernel_costs(), "kernel", 5.0, 30.0).unwrap();
        let mut trainer = OneShotTrainer::new(&kernel_space(), &device, config)
            .unwrap()
            .with_range(range)
            .unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let report = trainer.step(0, batch(&device, 4), None).unwrap();
            let sample = report.sample.unwrap();
            seen.insert(sample.get("op").unwrap().to_string());
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(!seen.iter().any(|op| op.contains("conv1")), "{seen:?}");
        let empty = RangeFilter::new(kernel_costs(), "kernel", 100.0, 200.0).unwrap();
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
        assert!(
            empty
                .sample(kernel_space().search_space(), &mut rng)
                .is_err()
        );
    }

    #[test]
    fn saved_weights_load_into_a_fresh_trainer_of_the_same_space_only() {
        let _rng = device_rng();
        let device = Device::flex();
        device.seed(5);
        let device = device.autodiff();
        let config = OneShotConfig {
            algorithm: Algorithm::Spos,
            ..OneShotConfig::default()
        };
        let mut trained = OneShotTrainer::new(&kernel_space(), &device, config.clone()).unwrap();
        for _ in 0..5 {
            trained.step(0, batch(&device, 4), None).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let (weights, architecture) = (dir.path().join("w.bpk"), dir.path().join("a.bpk"));
        trained.save(&weights, &architecture).unwrap();
        assert!(architecture.exists());

        let (images, _) = batch(&device, 3);
        let sample = kernel_space().search_space().default_sample().unwrap();
        let output = |trainer: &OneShotTrainer| {
            trainer
                .supernet()
                .forward_logits(&sample, images.clone())
                .unwrap()
                .into_data()
        };
        let mut fresh = OneShotTrainer::new(&kernel_space(), &device, config.clone()).unwrap();
        assert_ne!(output(&fresh), output(&trained));
        fresh.load_weights(&weights).unwrap();
        assert_eq!(output(&fresh), output(&trained));

        // Another space's supernet has other tensors: refused, and the trainer keeps its own.
        let wider = {
            let conv = Node::Layer(Layer::Conv2d(Conv2dSpec::new(Width::Fixed(8), 3, 1)));
            let root = Node::sequential([
                conv,
                Node::Layer(Layer::GlobalAvgPool),
                Node::Layer(Layer::Linear {
                    out_features: 2,
                    bias: true,
                }),
            ]);
            ModelSpace::new("wider", root, vec![], Shape::image(1, 6, 6)).unwrap()
        };
        let mut other = OneShotTrainer::new(&wider, &device, config).unwrap();
        let error = other.load_weights(&weights).unwrap_err().to_string();
        assert!(
            error.contains("does not hold a supernet of `wider`"),
            "{error}"
        );
        let error = other
            .load_weights(&dir.path().join("missing.bpk"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read"), "{error}");
        other.step(0, batch(&device, 4), None).unwrap();
    }

    #[test]
    fn most_probable_sample_respects_constraints() {
        let device = Device::flex();
        let space = hub::space("mobile-micro").unwrap();
        let mut arch = ArchParameters::init(space.search_space(), &device);
        let position = |label| space.search_space().position(label).unwrap();
        // The argmax (s2 = 32, s3 = 24) breaks s2 <= s3; the most probable valid pair is
        // (16, 24), not (32, 32).
        let set = |arch: &mut ArchParameters, label, logits: [f32; 3]| {
            arch.logits[position(label)] = Param::from_tensor(Tensor::from_floats(logits, &device));
        };
        set(&mut arch, "s1_width", [0.0, 0.0, 3.0]);
        set(&mut arch, "s2_width", [1.0, 0.0, 2.0]);
        set(&mut arch, "s3_width", [2.5, 0.0, 0.0]);
        let sample = arch.most_probable(space.search_space()).unwrap();
        space.search_space().validate(&sample).unwrap();
        assert_eq!(sample.get("s1_width").unwrap().as_i64(), Some(16));
        assert_eq!(sample.get("s2_width").unwrap().as_i64(), Some(16));
        assert_eq!(sample.get("s3_width").unwrap().as_i64(), Some(24));
        // A valid argmax is returned as is.
        set(&mut arch, "s3_width", [0.0, 0.0, 2.5]);
        let sample = arch.most_probable(space.search_space()).unwrap();
        assert_eq!(sample.get("s2_width").unwrap().as_i64(), Some(32));
        assert_eq!(sample.get("s3_width").unwrap().as_i64(), Some(48));
    }
}
