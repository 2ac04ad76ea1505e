//! How well predictions match measurements: error and rank agreement.

use serde::{Deserialize, Serialize};

/// Accuracy of predicted against measured values (milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionAccuracy {
    /// Pairs compared.
    pub n: usize,
    /// Root mean squared error, ms.
    pub rmse_ms: f64,
    /// Mean absolute percentage error, percent.
    pub mape_percent: f64,
    /// Share of predictions within 5 % of the measurement.
    pub within_5_percent: f64,
    /// Share within 10 % (nn-Meter's headline metric).
    pub within_10_percent: f64,
    /// Kendall's tau-b between the two rankings.
    pub kendall_tau: f64,
    /// Spearman's rho between the two rankings.
    pub spearman_rho: f64,
    /// Median of measured over predicted: above 1 the device ran slower than the predictions
    /// expect (for a latency table: slower than while it was built). Absent in older files.
    #[serde(default = "one")]
    pub median_ratio: f64,
}

fn one() -> f64 {
    1.0
}

impl PredictionAccuracy {
    /// Compares `predicted` with `measured` (same length, at least two pairs).
    pub fn new(predicted: &[f64], measured: &[f64]) -> Self {
        assert_eq!(
            predicted.len(),
            measured.len(),
            "one prediction per measurement"
        );
        let n = predicted.len();
        let relative: Vec<f64> = predicted
            .iter()
            .zip(measured)
            .map(|(p, m)| ((p - m) / m).abs())
            .collect();
        let share = |limit: f64| relative.iter().filter(|&&r| r <= limit).count() as f64 / n as f64;
        let squared: f64 = predicted
            .iter()
            .zip(measured)
            .map(|(p, m)| (p - m).powi(2))
            .sum();
        let mut ratios: Vec<f64> = predicted.iter().zip(measured).map(|(p, m)| m / p).collect();
        ratios.sort_by(f64::total_cmp);
        Self {
            n,
            median_ratio: (ratios[(n - 1) / 2] + ratios[n / 2]) / 2.0,
            rmse_ms: (squared / n as f64).sqrt(),
            mape_percent: 100.0 * relative.iter().sum::<f64>() / n as f64,
            within_5_percent: share(0.05),
            within_10_percent: share(0.10),
            kendall_tau: kendall_tau(predicted, measured),
            spearman_rho: spearman_rho(predicted, measured),
        }
    }
}

/// Kendall's tau-b (ties in either ranking accounted for); 0 when a ranking is constant.
/// Knight's O(n log n) count: sort by `a`, then count the inversions of `b` by merge sort.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    // `+ 0.0` makes -0.0 and 0.0 one value for the sort, as they are for `==`.
    let key = |v: f64| v + 0.0;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| {
        key(a[i])
            .total_cmp(&key(a[j]))
            .then(key(b[i]).total_cmp(&key(b[j])))
    });
    let pairs = |run: u64| run * run.saturating_sub(1) / 2;
    // Pairs tied in `a`, and tied in both.
    let (mut tied_a, mut tied_both) = (0u64, 0u64);
    let (mut run_a, mut run_both) = (1u64, 1u64);
    for w in order.windows(2) {
        let (i, j) = (w[0], w[1]);
        if a[i] == a[j] {
            run_a += 1;
            if b[i] == b[j] {
                run_both += 1;
            } else {
                tied_both += pairs(run_both);
                run_both = 1;
            }
        } else {
            tied_a += pairs(run_a);
            tied_both += pairs(run_both);
            (run_a, run_both) = (1, 1);
        }
    }
    tied_a += pairs(run_a);
    tied_both += pairs(run_both);
    let mut values: Vec<f64> = order.iter().map(|&i| b[i]).collect();
    let mut buffer = values.clone();
    let swaps = inversions(&mut values, &mut buffer);
    // `values` is now `b` sorted: pairs tied in `b`.
    let mut tied_b = 0u64;
    let mut run_b = 1u64;
    for w in values.windows(2) {
        if w[0] == w[1] {
            run_b += 1;
        } else {
            tied_b += pairs(run_b);
            run_b = 1;
        }
    }
    tied_b += pairs(run_b);
    let all = pairs(n as u64);
    let (n_a, n_b) = ((all - tied_a) as f64, (all - tied_b) as f64);
    if n_a == 0.0 || n_b == 0.0 {
        return 0.0;
    }
    let difference =
        all as f64 - tied_a as f64 - tied_b as f64 + tied_both as f64 - 2.0 * swaps as f64;
    difference / (n_a * n_b).sqrt()
}

/// Sorts `values` and returns how many pairs were out of order (equal values are not).
fn inversions(values: &mut [f64], buffer: &mut [f64]) -> u64 {
    let n = values.len();
    if n < 2 {
        return 0;
    }
    let middle = n / 2;
    let mut count = {
        let (left, right) = values.split_at_mut(middle);
        let (left_buffer, right_buffer) = buffer.split_at_mut(middle);
        inversions(left, left_buffer) + inversions(right, right_buffer)
    };
    let (mut i, mut j, mut k) = (0, middle, 0);
    while i < middle && j < n {
        if values[j] < values[i] {
            count += (middle - i) as u64;
            buffer[k] = values[j];
            j += 1;
        } else {
            buffer[k] = values[i];
            i += 1;
        }
        k += 1;
    }
    buffer[k..k + middle - i].copy_from_slice(&values[i..middle]);
    k += middle - i;
    buffer[k..k + n - j].copy_from_slice(&values[j..n]);
    values.copy_from_slice(&buffer[..n]);
    count
}

/// Spearman's rho: Pearson correlation of the ranks (ties get their mean rank).
pub fn spearman_rho(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            ranks[i] = mean_rank;
        }
        start = end + 1;
    }
    ranks
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - mean_a) * (y - mean_b))
        .sum();
    let var_a: f64 = a.iter().map(|x| (x - mean_a).powi(2)).sum();
    let var_b: f64 = b.iter().map(|y| (y - mean_b).powi(2)).sum();
    if var_a == 0.0 || var_b == 0.0 {
        0.0
    } else {
        cov / (var_a * var_b).sqrt()
    }
}

/// Least-squares line `y = slope * x + intercept`; slope 1 and intercept 0 with fewer than two
/// distinct `x`.
pub fn fit_line(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.len() < 2 {
        return (1.0, 0.0);
    }
    let (mean_x, mean_y) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let var_x: f64 = x.iter().map(|v| (v - mean_x).powi(2)).sum();
    if var_x == 0.0 {
        return (1.0, 0.0);
    }
    let cov: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mean_x) * (b - mean_y))
        .sum();
    let slope = cov / var_x;
    (slope, mean_y - slope * mean_x)
}

/// Least-squares `y = a * x1 + b * x2 + c`, or `None` when the system is singular.
pub fn fit_plane(x1: &[f64], x2: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    if x1.len() < 3 {
        return None;
    }
    // Normal equations on centred data: [s11 s12; s12 s22] [a b]' = [s1y s2y]'.
    let n = x1.len() as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
    let (m1, m2, my) = (mean(x1), mean(x2), mean(y));
    let dot = |u: &[f64], mu: f64, v: &[f64], mv: f64| -> f64 {
        u.iter().zip(v).map(|(a, b)| (a - mu) * (b - mv)).sum()
    };
    let (s11, s12, s22) = (
        dot(x1, m1, x1, m1),
        dot(x1, m1, x2, m2),
        dot(x2, m2, x2, m2),
    );
    let (s1y, s2y) = (dot(x1, m1, y, my), dot(x2, m2, y, my));
    let determinant = s11 * s22 - s12 * s12;
    if determinant.abs() <= 1e-12 * (s11 * s22).abs().max(f64::MIN_POSITIVE) {
        return None;
    }
    let a = (s1y * s22 - s2y * s12) / determinant;
    let b = (s2y * s11 - s1y * s12) / determinant;
    Some((a, b, my - a * m1 - b * m2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_statistics_match_hand_computed_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(kendall_tau(&a, &a), 1.0);
        assert_eq!(kendall_tau(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]), -1.0);
        // One swapped pair of ten: (9 - 1) / 10.
        assert!((kendall_tau(&a, &[2.0, 1.0, 3.0, 4.0, 5.0]) - 0.8).abs() < 1e-12);
        // d = (1, 1, 0, 0, 0): 1 - 6 * 2 / (5 * 24).
        assert!((spearman_rho(&a, &[2.0, 1.0, 3.0, 4.0, 5.0]) - 0.9).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), [2.5, 1.0, 2.5]);
    }

    /// The textbook O(n^2) tau-b.
    fn kendall_tau_pairwise(a: &[f64], b: &[f64]) -> f64 {
        let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..a.len() {
            for j in (i + 1)..a.len() {
                match (a[i] == a[j], b[i] == b[j]) {
                    (true, true) => {}
                    (true, false) => ties_a += 1,
                    (false, true) => ties_b += 1,
                    _ if (a[i] < a[j]) == (b[i] < b[j]) => concordant += 1,
                    _ => discordant += 1,
                }
            }
        }
        let n_a = (concordant + discordant + ties_a) as f64;
        let n_b = (concordant + discordant + ties_b) as f64;
        if n_a == 0.0 || n_b == 0.0 {
            return 0.0;
        }
        (concordant - discordant) as f64 / (n_a * n_b).sqrt()
    }

    #[test]
    fn kendall_tau_equals_the_pairwise_count_with_ties() {
        // A small linear congruential stream: values with many ties in both rankings.
        let mut state = 12345u64;
        let mut next = |levels: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % levels) as f64
        };
        for (n, levels) in [
            (0, 3),
            (1, 3),
            (2, 2),
            (7, 3),
            (50, 5),
            (300, 40),
            (301, 1000),
        ] {
            let a: Vec<f64> = (0..n).map(|_| next(levels)).collect();
            let b: Vec<f64> = a.iter().map(|x| x + next(levels)).collect();
            let fast = kendall_tau(&a, &b);
            let slow = kendall_tau_pairwise(&a, &b);
            assert!((fast - slow).abs() < 1e-12, "n {n}: {fast} against {slow}");
        }
        assert_eq!(kendall_tau(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
        // -0.0 and 0.0 are one value, tied in the first ranking.
        let (a, b) = ([0.0, -0.0, 0.0, 1.0], [3.0, 1.0, 2.0, 4.0]);
        assert_eq!(kendall_tau(&a, &b), kendall_tau_pairwise(&a, &b));
    }

    #[test]
    fn accuracy_counts_shares_within_bounds() {
        let accuracy = PredictionAccuracy::new(&[1.04, 2.18, 2.75], &[1.0, 2.0, 3.0]);
        assert_eq!(accuracy.n, 3);
        assert!((accuracy.within_5_percent - 1.0 / 3.0).abs() < 1e-12);
        assert!((accuracy.within_10_percent - 1.0).abs() < 1e-12);
        assert_eq!(accuracy.kendall_tau, 1.0);
        // Measured over predicted: 1 / 1.04, 2 / 2.18, 3 / 2.75; the middle one.
        assert!((accuracy.median_ratio - 1.0 / 1.04).abs() < 1e-12);
        let even = PredictionAccuracy::new(&[1.0, 1.0, 1.0, 1.0], &[1.0, 2.0, 4.0, 8.0]);
        assert_eq!(even.median_ratio, 3.0);
    }

    #[test]
    fn fit_plane_recovers_a_plane() {
        let x1 = [1.0, 2.0, 3.0, 4.0, 2.0];
        let x2 = [1.0, 0.0, 5.0, 2.0, 7.0];
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| 2.0 * a + 0.5 * b + 3.0)
            .collect();
        let (a, b, c) = fit_plane(&x1, &x2, &y).unwrap();
        assert!((a - 2.0).abs() < 1e-9 && (b - 0.5).abs() < 1e-9 && (c - 3.0).abs() < 1e-9);
        assert_eq!(fit_plane(&x1, &x1, &y), None);
    }

    #[test]
    fn fit_line_recovers_a_line() {
        let (slope, intercept) = fit_line(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0]);
        assert!((slope - 2.0).abs() < 1e-12 && (intercept - 1.0).abs() < 1e-12);
        assert_eq!(fit_line(&[1.0], &[9.0]), (1.0, 0.0));
    }
}
