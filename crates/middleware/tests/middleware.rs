//! Middleware behaviour: filtering, deduplication, failure handling, repeats, early stopping.

use std::sync::{Arc, Mutex};

use hwnas_middleware::{
    Budget, Chain, Deduplication, FailureHandler, Filter, MedianStop, Middleware,
    MultipleEvaluation,
};
use hwnas_profiler::{Costs, ProfileError, from_fn};
use hwnas_space::{Choice, Sample, SearchSpace};
use hwnas_strategy::{
    Decision, Direction, Metrics, Proposal, Random, Reason, Status, Strategy, StrategyError,
    TrialResult,
};

fn space() -> SearchSpace {
    SearchSpace::new(vec![Choice::new("width", [8, 16, 32, 64])], vec![]).unwrap()
}

fn sample(width: i64) -> Sample {
    Sample::from_entries([("width".into(), width.into())])
}

fn width(sample: &Sample) -> i64 {
    sample.get("width").and_then(|v| v.as_i64()).unwrap()
}

/// Prices a sample's width.
fn widths() -> Costs {
    Costs::new().with("width", from_fn(|s| Ok(width(s) as f64)))
}

fn accuracy(value: f64) -> Metrics {
    Metrics::from([("accuracy".to_string(), value)])
}

/// Proposes a fixed list of widths and records what it is told.
#[derive(Clone, Default)]
struct Script {
    widths: Vec<i64>,
    told: Arc<Mutex<Vec<(i64, TrialResult)>>>,
}

impl Script {
    fn new(widths: &[i64]) -> Self {
        Self {
            widths: widths.iter().rev().copied().collect(),
            told: Default::default(),
        }
    }

    fn told(&self) -> Vec<(i64, TrialResult)> {
        self.told.lock().unwrap().clone()
    }
}

impl Strategy for Script {
    fn ask(&mut self, _space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        Ok(self.widths.pop().map(|w| Proposal::evaluate(sample(w))))
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        self.told
            .lock()
            .unwrap()
            .push((width(sample), result.clone()));
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        Ok(serde_json::json!(self.widths))
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.widths = serde_json::from_value(state).map_err(StrategyError::state)?;
        Ok(())
    }
}

/// Asks until the chain is exhausted, evaluating with `evaluate`; returns the proposals as
/// (width, evaluated?) in order.
fn drive(chain: &mut Chain, mut evaluate: impl FnMut(i64) -> TrialResult) -> Vec<(i64, bool)> {
    let space = space();
    let mut seen = Vec::new();
    while let Some(proposal) = chain.ask(&space).unwrap() {
        match proposal {
            Proposal::Evaluate { sample: s, .. } => {
                seen.push((width(&s), true));
                chain.tell(&s, &evaluate(width(&s)));
            }
            Proposal::Resolved { sample, .. } => seen.push((width(&sample), false)),
        }
    }
    seen
}

#[test]
fn filter_discard_never_evaluates_rejected_samples() {
    let script = Script::new(&[8, 64, 16, 32]);
    let mut chain = Chain::new(script.clone()).then(Filter::new(widths(), |m| m["width"] <= 16.0));
    let seen = drive(&mut chain, |w| TrialResult::ok(accuracy(w as f64)));
    assert_eq!(seen, [(8, true), (64, false), (16, true), (32, false)]);
    let told: Vec<(i64, Status, Option<f64>)> = script
        .told()
        .into_iter()
        .map(|(w, r)| (w, r.status, r.metrics.get("accuracy").copied()))
        .collect();
    assert_eq!(
        told,
        [
            (8, Status::Ok, Some(8.0)),
            (64, Status::Invalid, None),
            (16, Status::Ok, Some(16.0)),
            (32, Status::Invalid, None)
        ]
    );
}

#[test]
fn budget_settles_unpriced_samples_and_goes_on() {
    // Width 32 cannot be priced (a device that failed, say): settled with the error as its
    // reason, told invalid, and the next proposals are priced and evaluated as usual.
    let costs = Costs::new().with(
        "width",
        from_fn(|s| match width(s) {
            32 => Err(ProfileError::Unsupported("no table entry".into())),
            w => Ok(w as f64),
        }),
    );
    let script = Script::new(&[8, 32, 64, 16]);
    let budget = Budget::new().max("width", 16.0).filter(&costs).unwrap();
    let mut chain = Chain::new(script.clone()).then(budget);
    let space = space();
    let mut settled = Vec::new();
    while let Some(proposal) = chain.ask(&space).unwrap() {
        match proposal {
            Proposal::Evaluate { sample, costs } => {
                // The priced cost travels with the proposal.
                assert_eq!(costs["width"], width(&sample) as f64);
                chain.tell(&sample, &TrialResult::ok(accuracy(1.0)));
                settled.push((width(&sample), None));
            }
            Proposal::Resolved { sample, reason, .. } => {
                settled.push((width(&sample), Some(reason)))
            }
        }
    }
    let unpriced = Reason::Unpriced("`width`: cannot profile this space: no table entry".into());
    assert_eq!(
        settled,
        [
            (8, None),
            (32, Some(unpriced)),
            (64, Some(Reason::OverBudget)),
            (16, None)
        ]
    );
    let statuses: Vec<(i64, Status)> = script.told().iter().map(|(w, r)| (*w, r.status)).collect();
    assert_eq!(
        statuses,
        [
            (8, Status::Ok),
            (32, Status::Invalid),
            (64, Status::Invalid),
            (16, Status::Ok)
        ]
    );
}

#[test]
fn budget_refuses_bounds_it_cannot_price_or_meet() {
    let check = |budget: Budget, expected: &str| {
        let error = budget.filter(&widths()).err().expect("refused").to_string();
        assert!(error.contains(expected), "{error}");
    };
    check(
        Budget::new().max("flops", 1e6),
        "no profiler prices `flops`",
    );
    check(Budget::new().max("width", 0.0), "must be a positive number");
    check(
        Budget::new().max("width", 8.0).min("width", 16.0),
        "range of `width` is empty",
    );
}

#[test]
fn filter_penalise_tells_metric_for_invalid() {
    let script = Script::new(&[64]);
    let mut chain =
        Chain::new(script.clone()).then(Filter::new(widths(), |_| false).penalise(accuracy(0.0)));
    drive(&mut chain, |_| unreachable!("nothing passes the filter"));
    assert_eq!(
        script.told(),
        [(
            64,
            TrialResult {
                status: Status::Invalid,
                metrics: accuracy(0.0)
            }
        )]
    );
}

#[test]
fn filter_patience_stops_a_hopeless_search() {
    let mut chain = Chain::new(Random::new(1).with_dedup(false))
        .then(Filter::new(widths(), |m| m["width"] > 1000.0).with_patience(50));
    let space = space();
    let mut resolved = 0;
    let error = loop {
        match chain.ask(&space) {
            Ok(Some(Proposal::Resolved { .. })) => resolved += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(resolved, 49);
    assert!(
        matches!(error, StrategyError::Patience { rejected: 50, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("loosen it"), "{error}");
}

#[test]
fn deduplication_skips_or_replays() {
    for (dedup, expected_told) in [
        (
            Deduplication::skip(),
            [Status::Ok, Status::Invalid, Status::Invalid],
        ),
        (
            Deduplication::replay(),
            [Status::Ok, Status::Ok, Status::Ok],
        ),
    ] {
        let script = Script::new(&[8, 8, 8]);
        let mut chain = Chain::new(script.clone()).then(dedup);
        let seen = drive(&mut chain, |_| TrialResult::ok(accuracy(0.5)));
        assert_eq!(seen, [(8, true), (8, false), (8, false)]);
        let told: Vec<Status> = script.told().into_iter().map(|(_, r)| r.status).collect();
        assert_eq!(told, expected_told);
    }
}

#[test]
fn deduplication_by_key_replays_samples_with_the_same_key() {
    // Widths 8 and 16 build the same network here (key: width rounded up to 16); so do 32, 64.
    let by_network = || Deduplication::replay().by_key(|s| Some(width(s).max(16) as u64));
    let script = Script::new(&[8, 16, 32, 64, 8]);
    let mut chain = Chain::new(script.clone()).then(by_network());
    let seen = drive(&mut chain, |w| TrialResult::ok(accuracy(w as f64)));
    assert_eq!(
        seen,
        [(8, true), (16, false), (32, true), (64, true), (8, false)]
    );
    let told: Vec<(i64, Option<f64>)> = script
        .told()
        .into_iter()
        .map(|(w, r)| (w, r.metrics.get("accuracy").copied()))
        .collect();
    // The replay of 16 is 8's result: the same network.
    assert_eq!(
        told,
        [
            (8, Some(8.0)),
            (16, Some(8.0)),
            (32, Some(32.0)),
            (64, Some(64.0)),
            (8, Some(8.0)),
        ]
    );

    // The key survives a restore (it is given again, not saved).
    let mut original = Chain::new(Script::new(&[8, 16])).then(by_network());
    let space = space();
    let Some(Proposal::Evaluate { sample: first, .. }) = original.ask(&space).unwrap() else {
        panic!()
    };
    original.tell(&first, &TrialResult::ok(accuracy(0.9)));
    let mut restored = Chain::new(Script::default()).then(by_network());
    restored.restore(original.save().unwrap()).unwrap();
    let Some(Proposal::Resolved { result, .. }) = restored.ask(&space).unwrap() else {
        panic!("16 is 8's network")
    };
    assert_eq!(result.metrics["accuracy"], 0.9);
}

#[test]
fn deduplication_skips_a_sample_still_in_flight() {
    let mut chain = Chain::new(Script::new(&[8, 8])).then(Deduplication::replay());
    let space = space();
    assert!(matches!(
        chain.ask(&space).unwrap(),
        Some(Proposal::Evaluate { .. })
    ));
    let Some(Proposal::Resolved { result, .. }) = chain.ask(&space).unwrap() else {
        panic!()
    };
    assert_eq!(result.status, Status::Invalid);
}

#[test]
fn failure_handler_retries_then_tells() {
    let script = Script::new(&[8, 16]);
    let mut chain = Chain::new(script.clone()).then(FailureHandler::retry(2));
    let mut attempts = 0;
    let seen = drive(&mut chain, |w| {
        if w == 8 {
            attempts += 1;
            TrialResult::failed()
        } else {
            TrialResult::ok(accuracy(0.9))
        }
    });
    assert_eq!(attempts, 3);
    assert_eq!(seen, [(8, true), (8, true), (8, true), (16, true)]);
    let told: Vec<(i64, Status)> = script
        .told()
        .into_iter()
        .map(|(w, r)| (w, r.status))
        .collect();
    assert_eq!(told, [(8, Status::Failed), (16, Status::Ok)]);
}

#[test]
fn failure_handler_reports_a_metric() {
    let script = Script::new(&[8]);
    let mut chain = Chain::new(script.clone()).then(FailureHandler::report(accuracy(0.0)));
    drive(&mut chain, |_| TrialResult::failed());
    assert_eq!(
        script.told(),
        [(
            8,
            TrialResult {
                status: Status::Failed,
                metrics: accuracy(0.0)
            }
        )]
    );
}

#[test]
fn multiple_evaluation_tells_the_mean() {
    let script = Script::new(&[8, 16]);
    let mut chain = Chain::new(script.clone()).then(MultipleEvaluation::new(3));
    let mut noise = [0.1, 0.2, 0.6, 1.0, 1.0, 1.0].into_iter();
    let seen = drive(&mut chain, |_| {
        TrialResult::ok(accuracy(noise.next().unwrap()))
    });
    assert_eq!(seen.len(), 6);
    let told = script.told();
    assert_eq!(told.len(), 2);
    assert!((told[0].1.metrics["accuracy"] - 0.3).abs() < 1e-12);
    assert!((told[1].1.metrics["accuracy"] - 1.0).abs() < 1e-12);
}

#[test]
fn median_stop_stops_below_median_after_min_trials() {
    let mut chain = Chain::new(Script::new(&[])).then(MedianStop::new(Direction::Maximize));
    // Three earlier trials at step 0: 0.5, 0.6, 0.7 (median 0.6); none can be stopped yet.
    for (id, value) in [(0, 0.5), (1, 0.6), (2, 0.7)] {
        assert_eq!(chain.intermediate(id, 0, value), Decision::Continue);
    }
    assert_eq!(chain.intermediate(3, 0, 0.55), Decision::Stop);
    assert_eq!(chain.intermediate(4, 0, 0.65), Decision::Continue);
    // A step no one reported before never stops.
    assert_eq!(chain.intermediate(3, 1, 0.0), Decision::Continue);
}

#[test]
fn chain_state_round_trips() {
    let build = || {
        Chain::new(Random::new(3))
            .then(Filter::new(widths(), |m| m["width"] <= 32.0))
            .then(Deduplication::replay())
            .then(MultipleEvaluation::new(2))
    };
    // Wide enough that every compared ask is a real proposal, not the end of the space.
    let space = SearchSpace::new(vec![Choice::new("width", 1..=200)], vec![]).unwrap();
    let mut original = build();
    for _ in 0..3 {
        if let Some(Proposal::Evaluate { sample: s, .. }) = original.ask(&space).unwrap() {
            original.tell(&s, &TrialResult::ok(accuracy(0.5)));
        }
    }
    let mut restored = build();
    restored.restore(original.save().unwrap()).unwrap();
    for _ in 0..6 {
        let a = original.ask(&space).unwrap();
        let b = restored.ask(&space).unwrap();
        assert!(a.is_some());
        assert_eq!(a, b);
    }
    // A chain of another shape refuses the state.
    let mut other = Chain::new(Random::new(3));
    assert!(matches!(
        other.restore(original.save().unwrap()),
        Err(StrategyError::State(_))
    ));
}

#[test]
fn middleware_defaults_pass_everything_through() {
    struct Nothing;
    impl Middleware for Nothing {}
    let script = Script::new(&[8, 16]);
    let mut chain = Chain::new(script.clone()).then(Nothing);
    let seen = drive(&mut chain, |_| TrialResult::ok(accuracy(1.0)));
    assert_eq!(seen, [(8, true), (16, true)]);
    assert_eq!(script.told().len(), 2);
}
