//! The least and the most an additive cost can be over a whole space, exactly, without
//! enumerating it: a [`LayerTable`](crate::LayerTable) is a sum of small tables over a few
//! labels each, so labels are eliminated one at a time (min-sum variable elimination), each
//! time folding only the tables that mention the label.

/// A term of the sum: a value for every combination of the values of `positions` (row-major,
/// the last position varying fastest); infinite where the combination is not a network.
#[derive(Debug, Clone)]
pub(crate) struct Factor {
    pub(crate) positions: Vec<usize>,
    pub(crate) values: Vec<f64>,
}

/// Tables folded along the way larger than this give up: the answer is then unknown.
const MAX_FACTOR: usize = 1 << 22;

/// Whether the least or the most is sought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extreme {
    Min,
    Max,
}

impl Extreme {
    fn better(self, a: f64, b: f64) -> f64 {
        match self {
            Extreme::Min => a.min(b),
            Extreme::Max => a.max(b),
        }
    }

    /// The value standing for "not a network": never chosen.
    pub(crate) fn excluded(self) -> f64 {
        match self {
            Extreme::Min => f64::INFINITY,
            Extreme::Max => f64::NEG_INFINITY,
        }
    }
}

/// The least (or most) of `constant` plus the factors' sum over every assignment of the labels,
/// whose value counts are `sizes` (by position); `None` when no assignment is a network or the
/// elimination would fold a table of more than [`MAX_FACTOR`] entries.
pub(crate) fn extreme(
    sizes: &[usize],
    constant: f64,
    mut factors: Vec<Factor>,
    which: Extreme,
) -> Option<f64> {
    let mut total = constant;
    loop {
        factors.retain(|factor| {
            if factor.positions.is_empty() {
                total += factor.values[0];
                false
            } else {
                true
            }
        });
        // The label whose elimination folds the smallest table.
        let mut candidates: Vec<usize> = factors
            .iter()
            .flat_map(|f| f.positions.iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let Some((label, union)) = candidates
            .into_iter()
            .map(|label| (label, union_with(&factors, label)))
            .min_by_key(|(_, union)| table_size(sizes, union))
        else {
            break;
        };
        if table_size(sizes, &union) > MAX_FACTOR {
            return None;
        }
        let (touching, rest): (Vec<Factor>, Vec<Factor>) = factors
            .into_iter()
            .partition(|f| f.positions.contains(&label));
        factors = rest;
        factors.push(eliminate(sizes, &touching, &union, label, which));
    }
    total.is_finite().then_some(total)
}

/// Every position of the factors that mention `label`, sorted.
fn union_with(factors: &[Factor], label: usize) -> Vec<usize> {
    let mut union: Vec<usize> = factors
        .iter()
        .filter(|f| f.positions.contains(&label))
        .flat_map(|f| f.positions.iter().copied())
        .collect();
    union.sort_unstable();
    union.dedup();
    union
}

fn table_size(sizes: &[usize], positions: &[usize]) -> usize {
    positions
        .iter()
        .try_fold(1usize, |size, &p| size.checked_mul(sizes[p]))
        .unwrap_or(usize::MAX)
}

/// Row-major strides of `positions`.
fn strides(sizes: &[usize], positions: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; positions.len()];
    for k in (0..positions.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * sizes[positions[k + 1]];
    }
    strides
}

/// The sum of `touching` over `union`, folded over `label` by `which`: a factor over the rest.
fn eliminate(
    sizes: &[usize],
    touching: &[Factor],
    union: &[usize],
    label: usize,
    which: Extreme,
) -> Factor {
    let kept: Vec<usize> = union.iter().copied().filter(|&p| p != label).collect();
    let kept_strides = strides(sizes, &kept);
    // For each factor, each union position's stride in that factor (0 when it does not read it).
    let projections: Vec<Vec<usize>> = touching
        .iter()
        .map(|factor| {
            let own = strides(sizes, &factor.positions);
            union
                .iter()
                .map(|p| {
                    factor
                        .positions
                        .iter()
                        .position(|q| q == p)
                        .map_or(0, |k| own[k])
                })
                .collect()
        })
        .collect();
    let mut values = vec![which.excluded(); table_size(sizes, &kept)];
    let mut digits = vec![0usize; union.len()];
    loop {
        let sum: f64 = touching
            .iter()
            .zip(&projections)
            .map(|(factor, projection)| {
                let index: usize = digits.iter().zip(projection).map(|(d, s)| d * s).sum();
                factor.values[index]
            })
            .sum();
        let at: usize = union
            .iter()
            .zip(&digits)
            .filter(|(p, _)| **p != label)
            .zip(&kept_strides)
            .map(|((_, d), s)| d * s)
            .sum();
        values[at] = which.better(values[at], sum);
        // The next combination, the last position fastest.
        let mut k = union.len();
        loop {
            if k == 0 {
                return Factor {
                    positions: kept,
                    values,
                };
            }
            k -= 1;
            digits[k] += 1;
            if digits[k] < sizes[union[k]] {
                break;
            }
            digits[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extreme by enumerating every assignment.
    fn brute(sizes: &[usize], constant: f64, factors: &[Factor], which: Extreme) -> Option<f64> {
        let n: usize = sizes.iter().product();
        let mut best = which.excluded();
        for code in 0..n {
            let mut rest = code;
            let mut digits = vec![0; sizes.len()];
            for (digit, size) in digits.iter_mut().zip(sizes).rev() {
                *digit = rest % size;
                rest /= size;
            }
            let total: f64 = constant
                + factors
                    .iter()
                    .map(|f| {
                        let own = strides(sizes, &f.positions);
                        let index: usize = f
                            .positions
                            .iter()
                            .zip(&own)
                            .map(|(p, s)| digits[*p] * s)
                            .sum();
                        f.values[index]
                    })
                    .sum::<f64>();
            best = which.better(best, total);
        }
        best.is_finite().then_some(best)
    }

    #[test]
    fn elimination_equals_enumeration_on_overlapping_tables() {
        // A shared label (a stage's depth) read by two blocks' tables, one combination that is
        // not a network, and a label no table reads.
        let sizes = [3, 2, 4, 2, 5];
        let factors = vec![
            Factor {
                positions: vec![0, 2],
                values: (0..12).map(|v| ((v * 7) % 5) as f64 + 1.0).collect(),
            },
            Factor {
                positions: vec![0, 3],
                values: vec![4.0, 1.0, 2.0, f64::INFINITY, 0.5, 3.0],
            },
            Factor {
                positions: vec![1],
                values: vec![10.0, 2.0],
            },
        ];
        let min = extreme(&sizes, 1.5, factors.clone(), Extreme::Min);
        assert_eq!(min, brute(&sizes, 1.5, &factors, Extreme::Min));
        assert!(min.is_some());
        let maximal: Vec<Factor> = factors
            .iter()
            .map(|f| Factor {
                positions: f.positions.clone(),
                values: f
                    .values
                    .iter()
                    .map(|&v| if v.is_finite() { v } else { f64::NEG_INFINITY })
                    .collect(),
            })
            .collect();
        let max = extreme(&sizes, 1.5, maximal.clone(), Extreme::Max);
        assert_eq!(max, brute(&sizes, 1.5, &maximal, Extreme::Max));
    }

    #[test]
    fn a_space_of_no_network_has_no_extreme() {
        let factors = vec![Factor {
            positions: vec![0],
            values: vec![f64::INFINITY; 2],
        }];
        assert_eq!(extreme(&[2], 0.0, factors, Extreme::Min), None);
    }
}
