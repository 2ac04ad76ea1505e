use serde::{Deserialize, Serialize};

use crate::{
    EvolutionConfig, GridSearch, Objective, ParetoConfig, Random, Strategy, StrategyError,
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
}

impl StrategyConfig {
    /// The name written in the settings: `random`, `grid`, `evolution` or `pareto`.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random { .. } => "random",
            StrategyConfig::Grid => "grid",
            StrategyConfig::Evolution(_) => "evolution",
            StrategyConfig::Pareto(_) => "pareto",
        }
    }

    /// The metrics the strategy learns from (none for random and grid search).
    pub fn objectives(&self) -> &[Objective] {
        match self {
            StrategyConfig::Random { .. } | StrategyConfig::Grid => &[],
            StrategyConfig::Evolution(config) => std::slice::from_ref(&config.objective),
            StrategyConfig::Pareto(config) => &config.objectives,
        }
    }

    /// The strategy.
    pub fn init(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        Ok(match self {
            StrategyConfig::Random { seed } => Box::new(Random::new(*seed)),
            StrategyConfig::Grid => Box::new(GridSearch::new()),
            StrategyConfig::Evolution(config) => Box::new(config.clone().init()?),
            StrategyConfig::Pareto(config) => Box::new(config.clone().init()?),
        })
    }
}
