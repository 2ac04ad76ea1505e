//! One-shot search on a weight-sharing [`Supernet`](hwnas_space::module::Supernet) (feature
//! `oneshot`, burn).
//!
//! One supernet is trained instead of one network per trial. [`OneShotTrainer`] runs the four
//! algorithms of the reference toolkit on it: sampling-based SPOS (one uniformly random subnet per
//! step, optionally only subnets a [`RangeFilter`](crate::RangeFilter) admits) and the
//! gradient-based DARTS, Gumbel-softmax DARTS and ProxylessNAS, which learn a distribution over
//! each decision. A [`HardwarePenalty`] adds the expected hardware cost of that distribution to the
//! architecture loss, and unlike the reference toolkit its gradient reaches the architecture
//! parameters.

mod arch;
mod penalty;
mod trainer;

pub use arch::{Algorithm, ArchParameters};
pub use penalty::{HardwarePenalty, Nonlinear, PenaltyConfig, PenaltyMode};
pub use trainer::{Batch, OneShotConfig, OneShotError, OneShotTrainer, StepReport};
