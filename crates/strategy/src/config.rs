use serde::{Deserialize, Serialize};

use crate::{
    EvolutionConfig, GridSearch, GuidedConfig, LocalConfig, Objective, ParetoConfig, Random,
    ReinforceConfig, Strategy, StrategyError, TpeConfig,
};

/// Which strategy proposes, with its settings: the serializable form of every strategy of the
/// crate, so that a search's settings file says exactly how it searched.
///
/// ```
/// use hwnas_strategy::{EvolutionConfig, StrategyConfig};
///
/// let evolution = EvolutionConfig { population_size: 20, sample_size: 5, ..Default::default() };
/// let config = StrategyConfig::Evolution(evolution);
/// let json = serde_json::to_value(&config)?;
/// assert_eq!(json["name"], "evolution");
/// assert_eq!(json["population_size"], 20);
/// let _strategy = config.init()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum StrategyConfig {
    /// Uniform random sampling without repeats ([`Random`]).
    Random {
        /// Seed of the random number generator.
        seed: u64,
    },
    /// Every sample once, in a shuffled order for large spaces ([`GridSearch`]).
    Grid,
    /// Regularized evolution ([`RegularizedEvolution`](crate::RegularizedEvolution)).
    Evolution(EvolutionConfig),
    /// Multi-objective evolution ([`ParetoEvolution`](crate::ParetoEvolution)).
    Pareto(ParetoConfig),
    /// Local search by first improvement ([`LocalSearch`](crate::LocalSearch)).
    Local(LocalConfig),
    /// Tree-structured Parzen Estimator ([`Tpe`](crate::Tpe)).
    Tpe(TpeConfig),
    /// Policy gradient with a moving-average baseline ([`Reinforce`](crate::Reinforce)).
    Reinforce(ReinforceConfig),
    /// A prior from the costs, then a surrogate of the results ([`Guided`](crate::Guided)).
    Guided(GuidedConfig),
}

impl StrategyConfig {
    /// The name written in the settings: `random`, `grid`, `evolution`, `pareto`, `local`,
    /// `tpe`, `reinforce` or `guided`.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random { .. } => "random",
            StrategyConfig::Grid => "grid",
            StrategyConfig::Evolution(_) => "evolution",
            StrategyConfig::Pareto(_) => "pareto",
            StrategyConfig::Local(_) => "local",
            StrategyConfig::Tpe(_) => "tpe",
            StrategyConfig::Reinforce(_) => "reinforce",
            StrategyConfig::Guided(_) => "guided",
        }
    }

    /// The metrics the strategy learns from (none for random and grid search).
    pub fn objectives(&self) -> &[Objective] {
        match self {
            StrategyConfig::Random { .. } | StrategyConfig::Grid => &[],
            StrategyConfig::Evolution(config) => std::slice::from_ref(&config.objective),
            StrategyConfig::Pareto(config) => &config.objectives,
            StrategyConfig::Local(config) => std::slice::from_ref(&config.objective),
            StrategyConfig::Tpe(config) => std::slice::from_ref(&config.objective),
            StrategyConfig::Reinforce(config) => std::slice::from_ref(&config.objective),
            StrategyConfig::Guided(config) => std::slice::from_ref(&config.objective),
        }
    }

    /// The strategy.
    pub fn init(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        Ok(match self {
            StrategyConfig::Random { seed } => Box::new(Random::new(*seed)),
            StrategyConfig::Grid => Box::new(GridSearch::new()),
            StrategyConfig::Evolution(config) => Box::new(config.clone().init()?),
            StrategyConfig::Pareto(config) => Box::new(config.clone().init()?),
            StrategyConfig::Local(config) => Box::new(config.clone().init()),
            StrategyConfig::Tpe(config) => Box::new(config.clone().init()?),
            StrategyConfig::Reinforce(config) => Box::new(config.clone().init()?),
            StrategyConfig::Guided(config) => Box::new(config.clone().init()?),
        })
    }
}

/// Every strategy of the crate by name, as `--strategy` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    /// [`Random`].
    Random,
    /// [`GridSearch`].
    Grid,
    /// [`RegularizedEvolution`](crate::RegularizedEvolution).
    Evolution,
    /// [`ParetoEvolution`](crate::ParetoEvolution).
    Pareto,
    /// [`LocalSearch`](crate::LocalSearch).
    Local,
    /// [`Tpe`](crate::Tpe).
    Tpe,
    /// [`Reinforce`](crate::Reinforce).
    Reinforce,
    /// [`Guided`](crate::Guided).
    Guided,
}

impl StrategyName {
    /// Every name, in the order help lists them.
    pub const ALL: [StrategyName; 8] = [
        StrategyName::Guided,
        StrategyName::Evolution,
        StrategyName::Random,
        StrategyName::Local,
        StrategyName::Tpe,
        StrategyName::Reinforce,
        StrategyName::Pareto,
        StrategyName::Grid,
    ];

    /// The name as written.
    pub fn name(self) -> &'static str {
        StrategyConfig::named(self, 0).name()
    }
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StrategyName {
    type Err = StrategyError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        StrategyName::ALL
            .into_iter()
            .find(|strategy| strategy.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = StrategyName::ALL.iter().map(|s| s.name()).collect();
                StrategyError::Config(format!(
                    "unknown strategy `{name}` (expected one of: {})",
                    known.join(", ")
                ))
            })
    }
}

impl StrategyConfig {
    /// The strategy `name` with its default settings and `seed`, maximizing accuracy (Pareto
    /// trades it against FLOPs; see [`with_tradeoff`](Self::with_tradeoff)).
    pub fn named(name: StrategyName, seed: u64) -> StrategyConfig {
        match name {
            StrategyName::Random => StrategyConfig::Random { seed },
            StrategyName::Grid => StrategyConfig::Grid,
            StrategyName::Evolution => StrategyConfig::Evolution(EvolutionConfig {
                seed,
                ..EvolutionConfig::default()
            }),
            StrategyName::Pareto => StrategyConfig::Pareto(ParetoConfig {
                seed,
                ..ParetoConfig::default()
            }),
            StrategyName::Local => StrategyConfig::Local(LocalConfig {
                seed,
                ..LocalConfig::default()
            }),
            StrategyName::Tpe => StrategyConfig::Tpe(TpeConfig {
                seed,
                ..TpeConfig::default()
            }),
            StrategyName::Reinforce => StrategyConfig::Reinforce(ReinforceConfig {
                seed,
                ..ReinforceConfig::default()
            }),
            StrategyName::Guided => StrategyConfig::Guided(GuidedConfig {
                seed,
                ..GuidedConfig::default()
            }),
        }
    }

    /// The population of the evolutionary strategies: `size` individuals, tournaments of
    /// `tournament` (regularized evolution), each label resampled with `mutation_prob`. Other
    /// strategies are unchanged.
    pub fn with_population(mut self, size: usize, tournament: usize, mutation_prob: f64) -> Self {
        match &mut self {
            StrategyConfig::Evolution(config) => {
                config.population_size = size;
                config.sample_size = tournament;
                config.mutation_prob = mutation_prob;
            }
            StrategyConfig::Pareto(config) => {
                config.population_size = size;
                config.mutation_prob = mutation_prob;
            }
            _ => {}
        }
        self
    }

    /// The metric the strategy improves (for Pareto, the first of its objectives).
    pub fn with_objective(mut self, objective: Objective) -> Self {
        match &mut self {
            StrategyConfig::Random { .. } | StrategyConfig::Grid => {}
            StrategyConfig::Evolution(config) => config.objective = objective,
            StrategyConfig::Pareto(config) => match config.objectives.first_mut() {
                Some(first) => *first = objective,
                None => config.objectives.push(objective),
            },
            StrategyConfig::Local(config) => config.objective = objective,
            StrategyConfig::Tpe(config) => config.objective = objective,
            StrategyConfig::Reinforce(config) => config.objective = objective,
            StrategyConfig::Guided(config) => config.objective = objective,
        }
        self
    }

    /// The cost Pareto evolution trades its objective against; other strategies are unchanged.
    pub fn with_tradeoff(mut self, cost: Objective) -> Self {
        if let StrategyConfig::Pareto(config) = &mut self {
            config.objectives.truncate(1);
            config.objectives.push(cost);
        }
        self
    }
}
