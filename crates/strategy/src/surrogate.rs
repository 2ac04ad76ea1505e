//! A surrogate of the objective learned from the trials so far: an ensemble of ridge regressions,
//! each on its own bootstrap of the results (online bagging), so that their disagreement says
//! how sure the prediction is.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};

/// One member's sufficient statistics: weighted sums over the results it saw.
#[derive(Debug, Clone)]
struct Member {
    weight: f64,
    sum_x: Vec<f64>,
    sum_y: f64,
    /// Row-major `dim x dim` sum of weighted outer products.
    sum_xx: Vec<f64>,
    sum_xy: Vec<f64>,
}

/// A linear model: `intercept + x . coefficients`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Linear {
    pub(crate) intercept: f64,
    pub(crate) coefficients: Vec<f64>,
}

impl Linear {
    /// The prediction for features `x` (the strategy predicts from choice indices directly).
    #[cfg(test)]
    pub(crate) fn predict(&self, x: &[f64]) -> f64 {
        self.intercept
            + x.iter()
                .zip(&self.coefficients)
                .map(|(a, b)| a * b)
                .sum::<f64>()
    }
}

/// Ridge regressions on bootstraps of the same results, updated in `O(dim^2)` per result and
/// solved in `O(dim^3)` per fit, whatever the number of results.
#[derive(Debug, Clone)]
pub(crate) struct RidgeEnsemble {
    dim: usize,
    ridge: f64,
    members: Vec<Member>,
}

/// A draw of Poisson(1): how many times a bootstrap of infinite size holds one result
/// (Knuth's method; the mean is small, so it takes a few uniforms).
pub(crate) fn poisson_one<R: Rng + ?Sized>(rng: &mut R) -> u32 {
    let limit = (-1.0f64).exp();
    let (mut k, mut product) = (0, rng.random::<f64>());
    while product > limit {
        k += 1;
        product *= rng.random::<f64>();
    }
    k
}

impl RidgeEnsemble {
    /// `n_members` empty regressions over `dim` features with penalty `ridge`.
    pub(crate) fn new(dim: usize, n_members: usize, ridge: f64) -> Self {
        let member = Member {
            weight: 0.0,
            sum_x: vec![0.0; dim],
            sum_y: 0.0,
            sum_xx: vec![0.0; dim * dim],
            sum_xy: vec![0.0; dim],
        };
        RidgeEnsemble {
            dim,
            ridge,
            members: vec![member; n_members],
        }
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// Adds the result `y` of features `x`, counted `weights[m]` times by member `m`.
    pub(crate) fn add(&mut self, x: &[f64], y: f64, weights: &[u32]) {
        debug_assert_eq!(x.len(), self.dim);
        for (member, &w) in self.members.iter_mut().zip(weights) {
            if w == 0 {
                continue;
            }
            let w = f64::from(w);
            member.weight += w;
            member.sum_y += w * y;
            for (i, &xi) in x.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                member.sum_x[i] += w * xi;
                member.sum_xy[i] += w * xi * y;
                let row = &mut member.sum_xx[i * self.dim..(i + 1) * self.dim];
                for (cell, &xj) in row.iter_mut().zip(x) {
                    *cell += w * xi * xj;
                }
            }
        }
    }

    /// Member `m`'s regression: the centred normal equations with `ridge` on the diagonal (the
    /// intercept is not penalised). `None` before it has seen a result.
    pub(crate) fn fit(&self, m: usize) -> Option<Linear> {
        let member = &self.members[m];
        if member.weight <= 0.0 {
            return None;
        }
        let n = member.weight;
        let mean_x: Vec<f64> = member.sum_x.iter().map(|s| s / n).collect();
        let mean_y = member.sum_y / n;
        let gram = DMatrix::from_fn(self.dim, self.dim, |i, j| {
            member.sum_xx[i * self.dim + j] - n * mean_x[i] * mean_x[j]
                + if i == j { self.ridge } else { 0.0 }
        });
        let moment = DVector::from_fn(self.dim, |i, _| member.sum_xy[i] - n * mean_x[i] * mean_y);
        let coefficients = gram.cholesky()?.solve(&moment);
        let coefficients: Vec<f64> = coefficients.iter().copied().collect();
        let intercept = mean_y
            - mean_x
                .iter()
                .zip(&coefficients)
                .map(|(a, b)| a * b)
                .sum::<f64>();
        Some(Linear {
            intercept,
            coefficients,
        })
    }

    /// A member chosen at random, fitted: one draw of Thompson sampling.
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Linear> {
        let m = rng.random_range(0..self.members.len());
        self.fit(m)
            .or_else(|| (0..self.len()).find_map(|m| self.fit(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn ridge_ensemble_recovers_a_linear_function() {
        // y = 2 + 3 x0 - x1, every member counting every point once: with a tiny penalty the
        // fit is the least-squares one, exact on noiseless data.
        let mut ensemble = RidgeEnsemble::new(2, 3, 1e-9);
        for (x0, x1) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (2.0, 3.0), (1.0, 5.0)] {
            ensemble.add(&[x0, x1], 2.0 + 3.0 * x0 - x1, &[1, 1, 1]);
        }
        for m in 0..3 {
            let fit = ensemble.fit(m).unwrap();
            assert!((fit.intercept - 2.0).abs() < 1e-6, "{fit:?}");
            assert!((fit.coefficients[0] - 3.0).abs() < 1e-6, "{fit:?}");
            assert!((fit.coefficients[1] + 1.0).abs() < 1e-6, "{fit:?}");
            assert!((fit.predict(&[1.0, 1.0]) - 4.0).abs() < 1e-6);
        }
    }

    #[test]
    fn ridge_ensemble_member_without_results_does_not_fit() {
        let mut ensemble = RidgeEnsemble::new(1, 2, 1.0);
        ensemble.add(&[1.0], 1.0, &[0, 2]);
        assert!(ensemble.fit(0).is_none());
        assert!(ensemble.fit(1).is_some());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        assert!(ensemble.draw(&mut rng).is_some());
    }

    #[test]
    fn poisson_one_has_mean_one() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 100_000;
        let total: u64 = (0..n).map(|_| u64::from(poisson_one(&mut rng))).sum();
        // Poisson(1) has variance 1: the mean of 1e5 draws is within 5e-3 * 5 sd of 1.
        assert!((total as f64 / n as f64 - 1.0).abs() < 0.016);
    }
}
