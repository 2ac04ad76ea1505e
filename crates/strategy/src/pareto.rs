//! Pareto fronts and a steady-state NSGA-II evolution that selects by Pareto rank.

use hwnas_space::{Sample, SearchSpace, metric};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::strategy::{restore_same, save_state};
use crate::variation::{Parents, Proposer, breed};
use crate::{Guide, Metrics, Objective, Proposal, Status, Strategy, StrategyError, TrialResult};

/// Whether `a` dominates `b`: no worse in every key and better in one (keys: larger is better).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x >= y) && a.iter().zip(b).any(|(x, y)| x > y)
}

/// Non-dominated sorting (Deb et al. 2002): the indices of `keys` grouped into fronts, best front
/// first. Keys are oriented so that larger is better ([`Objective::key`]).
pub fn non_dominated_sort<K: AsRef<[f64]>>(keys: &[K]) -> Vec<Vec<usize>> {
    let n = keys.len();
    let mut dominated_by_count = vec![0usize; n];
    // `dominance[i * n + j]`: i dominates j. One allocation: the strategy sorts its population
    // at every step.
    let mut dominance = vec![false; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (keys[i].as_ref(), keys[j].as_ref());
            if dominates(a, b) {
                dominance[i * n + j] = true;
                dominated_by_count[j] += 1;
            } else if dominates(b, a) {
                dominance[j * n + i] = true;
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for j in 0..n {
                if dominance[i * n + j] {
                    dominated_by_count[j] -= 1;
                    if dominated_by_count[j] == 0 {
                        next.push(j);
                    }
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// The indices of the non-dominated points of `keys` (larger is better in every key).
pub fn pareto_front<K: AsRef<[f64]>>(keys: &[K]) -> Vec<usize> {
    non_dominated_sort(keys)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The keys of `metrics` for `objectives` (larger is better), or `None` when one is missing.
pub fn objective_keys(objectives: &[Objective], metrics: &Metrics) -> Option<Vec<f64>> {
    objectives.iter().map(|o| o.key(metrics)).collect()
}

/// Crowding distance of each member of one front (infinite at the extremes): how much room a
/// point has around it, used to keep a front spread out.
#[allow(clippy::needless_range_loop)] // `m` indexes the inner key vectors, not `keys`
pub fn crowding_distance<K: AsRef<[f64]>>(keys: &[K], front: &[usize]) -> Vec<f64> {
    let key = |i: usize, m: usize| keys[front[i]].as_ref()[m];
    let mut distance = vec![0.0; front.len()];
    let n_objectives = keys.first().map_or(0, |k| k.as_ref().len());
    for m in 0..n_objectives {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| key(a, m).total_cmp(&key(b, m)));
        let (first, last) = (order[0], order[order.len() - 1]);
        let span = key(last, m) - key(first, m);
        distance[first] = f64::INFINITY;
        distance[last] = f64::INFINITY;
        if span <= 0.0 {
            continue;
        }
        for w in order.windows(3) {
            distance[w[1]] += (key(w[2], m) - key(w[0], m)) / span;
        }
    }
    distance
}

/// Settings of [`ParetoEvolution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoConfig {
    /// The metrics traded off, e.g. accuracy (maximize) against latency (minimize).
    pub objectives: Vec<Objective>,
    /// Individuals kept; the worst by rank and crowding leaves when a new one arrives.
    pub population_size: usize,
    /// Probability that each label is resampled in a child.
    pub mutation_prob: f64,
    /// Probability that a child is bred from two parents rather than one.
    pub crossover_prob: f64,
    /// Seed of the random number generator.
    pub seed: u64,
}

impl Default for ParetoConfig {
    fn default() -> Self {
        Self {
            objectives: vec![
                Objective::maximize(metric::ACCURACY),
                Objective::minimize(metric::FLOPS),
            ],
            population_size: 50,
            mutation_prob: 0.05,
            crossover_prob: 0.9,
            seed: 0,
        }
    }
}

impl ParetoConfig {
    /// Builds the strategy, checking the settings.
    pub fn init(self) -> Result<ParetoEvolution, StrategyError> {
        if self.objectives.is_empty() || self.population_size < 2 {
            return Err(StrategyError::Config(
                "a Pareto search needs at least one objective and a population of 2".into(),
            ));
        }
        Ok(ParetoEvolution {
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            config: self,
            population: Vec::new(),
            proposer: Proposer::default(),
            n_proposed: 0,
        })
    }
}

/// Multi-objective evolution in the style of NSGA-II, steady state: parents win binary
/// tournaments on (Pareto rank, crowding distance); each new result joins the population and the
/// worst individual (last front, most crowded) leaves.
///
/// With a [`Guide`] that knows the budget, children are admissible. When the budget penalises
/// instead (the samples outside it are told a penalty), the population keeps them and ranks by
/// constrained domination (Deb's rules, as NSGA-II and Optuna): every sample within the budget
/// before any outside it, and outside it, the smaller violation first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParetoEvolution {
    config: ParetoConfig,
    rng: Xoshiro256PlusPlus,
    /// Evaluated individuals with their keys (larger is better) and how far they are outside
    /// the budget (0 within it).
    population: Vec<Individual>,
    #[serde(flatten)]
    proposer: Proposer,
    n_proposed: usize,
}

/// A member of the population.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Individual {
    sample: Sample,
    /// Objective keys, larger is better; a penalised sample's missing keys are -inf.
    keys: Vec<f64>,
    /// The budget's relative violation ([`Guide::violation`]); 0 within the budget.
    #[serde(default)]
    violation: f64,
}

impl ParetoEvolution {
    /// The non-dominated individuals of the population with their objective values.
    pub fn front(&self) -> Vec<(&Sample, Metrics)> {
        let within: Vec<&Individual> = self
            .population
            .iter()
            .filter(|individual| individual.violation == 0.0)
            .collect();
        let keys: Vec<&[f64]> = within.iter().map(|i| i.keys.as_slice()).collect();
        pareto_front(&keys)
            .into_iter()
            .map(|i| {
                let metrics = self.config.objectives.iter().zip(keys[i]);
                let metrics = metrics.map(|(o, &k)| (o.metric.clone(), o.direction.key(k)));
                (&within[i].sample, metrics.collect())
            })
            .collect()
    }

    /// Rank (front number) and crowding distance of every individual, by constrained
    /// domination: the fronts of the individuals within the budget, then one front per
    /// violation, smallest first.
    fn ranking(&self) -> Vec<(usize, f64)> {
        let (within, outside): (Vec<usize>, Vec<usize>) =
            (0..self.population.len()).partition(|&i| self.population[i].violation == 0.0);
        let keys: Vec<&[f64]> = within
            .iter()
            .map(|&i| self.population[i].keys.as_slice())
            .collect();
        let mut ranking = vec![(0, 0.0); self.population.len()];
        let fronts = non_dominated_sort(&keys);
        for (rank, front) in fronts.iter().enumerate() {
            for (&i, d) in front.iter().zip(crowding_distance(&keys, front)) {
                ranking[within[i]] = (rank, d);
            }
        }
        let mut outside = outside;
        outside.sort_by(|&a, &b| {
            let violation = |i: usize| self.population[i].violation;
            violation(a).total_cmp(&violation(b))
        });
        let mut rank = fronts.len();
        for (k, &i) in outside.iter().enumerate() {
            if k > 0 && self.population[outside[k - 1]].violation < self.population[i].violation {
                rank += 1;
            }
            ranking[i] = (rank, 0.0);
        }
        ranking
    }

    fn binary_tournament(&mut self, ranking: &[(usize, f64)]) -> usize {
        let a = self.rng.random_range(0..ranking.len());
        let b = self.rng.random_range(0..ranking.len());
        let better = |x: (usize, f64), y: (usize, f64)| x.0 < y.0 || (x.0 == y.0 && x.1 > y.1);
        if better(ranking[b], ranking[a]) { b } else { a }
    }
}

impl Strategy for ParetoEvolution {
    fn ask(&mut self, space: &SearchSpace) -> Result<Option<Proposal>, StrategyError> {
        let warming_up = self.n_proposed < self.config.population_size || self.population.len() < 2;
        let parents: Parents = if warming_up {
            None
        } else {
            let ranking = self.ranking();
            let first = self.binary_tournament(&ranking);
            let second = self.binary_tournament(&ranking);
            let both = self.rng.random_bool(self.config.crossover_prob);
            let indices = |i: usize| space.indices(&self.population[i].sample);
            Some((
                indices(first)?,
                if both { Some(indices(second)?) } else { None },
            ))
        };
        let mutation_prob = self.config.mutation_prob;
        let sample = self.proposer.bred(space, true, &mut self.rng, |rng| {
            breed(space, &parents, mutation_prob, rng)
        })?;
        if sample.is_some() {
            self.n_proposed += 1;
        }
        Ok(sample.map(Proposal::evaluate))
    }

    fn tell(&mut self, sample: &Sample, result: &TrialResult) {
        // A sample told without any metric (discarded, failed) has nothing to learn from.
        if result.metrics.is_empty() {
            return;
        }
        let violation = match result.status {
            Status::Invalid => self.proposer.guide.violation(sample),
            Status::Ok | Status::Failed => 0.0,
        };
        let keys = if violation > 0.0 {
            // A penalised sample: what the penalty says, and nothing better than any other.
            let objectives = self.config.objectives.iter();
            objectives
                .map(|o| o.key(&result.metrics).unwrap_or(f64::NEG_INFINITY))
                .collect()
        } else {
            match objective_keys(&self.config.objectives, &result.metrics) {
                Some(keys) => keys,
                None => return,
            }
        };
        self.population.push(Individual {
            sample: sample.clone(),
            keys,
            violation,
        });
        if self.population.len() > self.config.population_size {
            let ranking = self.ranking();
            let worst = (0..ranking.len())
                .max_by(|&a, &b| {
                    let (ra, da) = ranking[a];
                    let (rb, db) = ranking[b];
                    ra.cmp(&rb).then(db.total_cmp(&da))
                })
                .expect("the population is not empty");
            self.population.swap_remove(worst);
        }
    }

    fn guide(&mut self, guide: Guide) {
        self.proposer.guide = guide;
    }

    fn take_notes(&mut self) -> Vec<String> {
        self.proposer.take_notes()
    }

    fn save(&self) -> Result<serde_json::Value, StrategyError> {
        save_state(self)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        restore_same(
            self,
            state,
            "search",
            |a, b| a.config == b.config,
            |s| &mut s.proposer,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_dominated_sort_orders_fronts() {
        // Larger is better in both keys.
        let keys = vec![
            vec![1.0, 1.0],
            vec![2.0, 0.0],
            vec![0.0, 2.0],
            vec![0.5, 0.5],
            vec![0.0, 0.0],
        ];
        assert_eq!(
            non_dominated_sort(&keys),
            vec![vec![0, 1, 2], vec![3], vec![4]]
        );
        assert_eq!(pareto_front(&keys), vec![0, 1, 2]);
    }

    #[test]
    fn crowding_distance_favours_extremes() {
        let keys = vec![
            vec![0.0, 3.0],
            vec![1.0, 2.0],
            vec![2.0, 1.0],
            vec![3.0, 0.0],
        ];
        let d = crowding_distance(&keys, &[0, 1, 2, 3]);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        assert!((d[1] - 4.0 / 3.0).abs() < 1e-12 && (d[2] - 4.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn penalised_samples_rank_by_constrained_domination() {
        use crate::{Bound, Guide};
        use hwnas_profiler::{Costs, from_fn};
        use hwnas_space::Choice;

        let space = SearchSpace::new(vec![Choice::new("w", [1, 2, 3, 4, 5])], vec![]).unwrap();
        let width = |s: &Sample| s.get("w").unwrap().as_f64().unwrap();
        let costs = Costs::new().with("flops", from_fn(move |s: &Sample| Ok(width(s))));
        let bound = Bound {
            metric: "flops".into(),
            min: None,
            max: Some(2.0),
        };
        let mut pareto = ParetoConfig {
            objectives: vec![
                Objective::maximize("accuracy"),
                Objective::minimize("flops"),
            ],
            ..Default::default()
        }
        .init()
        .unwrap();
        pareto.guide(Guide::new(&costs).with_bounds(vec![bound]).penalised(true));
        let at = |w: usize| space.sample_at(&[w - 1]);
        let penalty = TrialResult {
            status: Status::Invalid,
            metrics: Metrics::from([("accuracy".into(), 0.0)]),
        };
        let within = |accuracy: f64, flops: f64| {
            TrialResult::ok(Metrics::from([
                ("accuracy".into(), accuracy),
                ("flops".into(), flops),
            ]))
        };
        // Outside the budget: 5 is 150 % over it, 3 is 50 % over. Within it, 1 and 2 are both on
        // the front (2 is more accurate at twice the cost).
        pareto.tell(&at(5), &penalty);
        pareto.tell(&at(1), &within(0.5, 1.0));
        pareto.tell(&at(3), &penalty);
        pareto.tell(&at(2), &within(0.9, 2.0));
        let ranking = pareto.ranking();
        let rank_of = |w: i64| {
            let i = pareto
                .population
                .iter()
                .position(|ind| ind.sample.get("w").unwrap().as_i64() == Some(w))
                .unwrap();
            ranking[i].0
        };
        assert_eq!((rank_of(1), rank_of(2)), (0, 0));
        assert_eq!((rank_of(3), rank_of(5)), (1, 2));
        assert_eq!(pareto.front().len(), 2);
        // A sample told without metrics (discarded) is not kept.
        pareto.tell(&at(4), &TrialResult::invalid());
        assert_eq!(pareto.population.len(), 4);
    }

    #[test]
    fn equal_points_do_not_dominate_each_other() {
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
        assert_eq!(pareto_front(&[vec![1.0], vec![1.0]]), vec![0, 1]);
    }
}
