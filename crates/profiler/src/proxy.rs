//! The zero-cost proxies by name; [`ProxyProfiler`](crate::ProxyProfiler) computes them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ProfileError;

/// A zero-cost proxy: a score of a network at initialisation, from one minibatch, that ranks
/// architectures by the accuracy they will reach without training them; larger is better.
///
/// The four of Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021), with
/// their conventions: the weights scored are those of convolutions and linear layers (the
/// parameters of rank 2 or more); the network is in training mode (batch statistics), except
/// for `synflow`, which removes batch normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proxy {
    /// Sum of |θ ⊙ ∂R/∂θ| where R is the sum of the outputs of the network with every parameter
    /// replaced by its absolute value, on an all-ones input (Tanaka et al., 2020): data-free.
    Synflow,
    /// NASWOT's Jacobian-covariance score (Mellor et al., first version): how uncorrelated the
    /// input gradients of the batch's examples are, `-Σ ln(λ + k) + 1 / (λ + k)` over the
    /// eigenvalues λ of their correlation matrix, k = 1e-5.
    JacobCov,
    /// Sum over the weights of the Euclidean norm of their cross-entropy gradient.
    GradNorm,
    /// Sum of |θ ⊙ ∂L/∂θ| for the cross-entropy L (Lee et al., 2019).
    Snip,
}

impl Proxy {
    /// Every proxy, in the order reports list them.
    pub const ALL: [Proxy; 4] = [
        Proxy::Synflow,
        Proxy::JacobCov,
        Proxy::GradNorm,
        Proxy::Snip,
    ];

    /// Its name, also its metric in [`Costs`](crate::Costs) and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Synflow => "synflow",
            Proxy::JacobCov => "jacob_cov",
            Proxy::GradNorm => "grad_norm",
            Proxy::Snip => "snip",
        }
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Proxy {
    type Err = ProfileError;

    /// A proxy by name; `naswot` is accepted for `jacob_cov`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "naswot" {
            return Ok(Proxy::JacobCov);
        }
        Proxy::ALL
            .into_iter()
            .find(|proxy| proxy.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Proxy::ALL.iter().map(|proxy| proxy.name()).collect();
                ProfileError::Unsupported(format!(
                    "unknown proxy `{name}` (known: {})",
                    names.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_by_name_and_alias() {
        for proxy in Proxy::ALL {
            assert_eq!(proxy.name().parse::<Proxy>().unwrap(), proxy);
        }
        assert_eq!("naswot".parse::<Proxy>().unwrap(), Proxy::JacobCov);
        assert!("zen".parse::<Proxy>().is_err());
    }
}
