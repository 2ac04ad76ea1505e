//! Strategy behaviour: coverage, determinism, state round trips and search quality.

use std::collections::HashSet;

use hwnas_space::{Choice, Constraint, Sample, SearchSpace};
use hwnas_strategy::pareto::{dominates, objective_keys};
use hwnas_strategy::{
    EvolutionConfig, GridSearch, Metrics, Objective, ParetoConfig, Proposal, Random, Strategy,
    TrialResult,
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
        let Some(Proposal::Evaluate(sample)) = strategy.ask(space).unwrap() else {
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
