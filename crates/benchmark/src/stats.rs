//! Statistics for comparing strategies over seeds.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}

/// Welch's t-test of two independent samples with possibly unequal variances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// The t statistic (positive when the first mean is larger).
    pub t: f64,
    /// The Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// The two-sided p-value.
    pub p: f64,
}

/// Welch's t-test of `a` against `b`; `None` with fewer than two values on a side, or when
/// neither varies.
///
/// ```
/// use hwnas_benchmark::stats::welch_t_test;
///
/// let a = [0.91, 0.93, 0.92, 0.94, 0.93];
/// let b = [0.88, 0.89, 0.90, 0.87, 0.89];
/// let test = welch_t_test(&a, &b).unwrap();
/// assert!(test.t > 0.0 && test.p < 0.01);
/// ```
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let ((mean_a, sd_a), (mean_b, sd_b)) = (mean_std(a), mean_std(b));
    let (va, vb) = (sd_a.powi(2) / a.len() as f64, sd_b.powi(2) / b.len() as f64);
    if va + vb == 0.0 {
        return None;
    }
    let t = (mean_a - mean_b) / (va + vb).sqrt();
    let df = (va + vb).powi(2)
        / (va.powi(2) / (a.len() as f64 - 1.0) + vb.powi(2) / (b.len() as f64 - 1.0));
    let p = 2.0 * StudentsT::new(0.0, 1.0, df).ok()?.sf(t.abs());
    Some(Welch { t, df, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_worked_example() {
        // Two samples whose Welch test is t = -2.45536, df = 24.9885, p = 0.021378
        // (scipy.stats.ttest_ind with equal_var=False).
        let a = [
            27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7,
            21.4,
        ];
        let b = [
            27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5,
            24.4,
        ];
        let test = welch_t_test(&a, &b).unwrap();
        assert!((test.t + 2.455356).abs() < 1e-5, "{test:?}");
        assert!((test.df - 24.988529).abs() < 1e-5, "{test:?}");
        assert!((test.p - 0.021378).abs() < 1e-5, "{test:?}");
        assert_eq!(welch_t_test(&[1.0], &b), None);
        assert_eq!(mean_std(&[2.0, 4.0]), (3.0, 2f64.sqrt()));
    }
}
