//! Train, validation and test splits: the data's own, or seeded and stratified by class.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use crate::{DataError, DataSet, Images};

/// The three splits a search uses: it trains on `train`, chooses on `val`, and reports the chosen
/// model on `test`, which it never sees before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    /// Training images.
    pub train: Images,
    /// Validation images (architecture choice).
    pub val: Images,
    /// Test images (the reported figure).
    pub test: Images,
}

impl DataSet {
    /// The splits: those the data brings, the missing ones cut from the training images, each
    /// class in proportion (`val_fraction` and `test_fraction` of it, at least one image of each
    /// class that has three or more), shuffled by `seed`.
    pub fn splits(
        &self,
        seed: u64,
        val_fraction: f64,
        test_fraction: f64,
    ) -> Result<Splits, DataError> {
        if !(0.0..1.0).contains(&val_fraction)
            || !(0.0..1.0).contains(&test_fraction)
            || val_fraction + test_fraction >= 1.0
        {
            return Err(DataError::Format(format!(
                "split fractions {val_fraction} and {test_fraction} must each be in [0, 1) and \
                 leave training images"
            )));
        }
        let val_fraction = if self.val.is_some() {
            0.0
        } else {
            val_fraction
        };
        let test_fraction = if self.test.is_some() {
            0.0
        } else {
            test_fraction
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
        for class in 0..self.classes.len() as u32 {
            let mut members: Vec<usize> = (0..self.train.len())
                .filter(|&i| self.train.labels[i] == class)
                .collect();
            members.shuffle(&mut rng);
            let share = |fraction: f64| {
                let n = (members.len() as f64 * fraction).round() as usize;
                if fraction > 0.0 && members.len() >= 3 {
                    n.max(1)
                } else {
                    n
                }
            };
            // The at-least-one rule can ask for more than the class holds: training keeps one.
            let n_val = share(val_fraction).min(members.len().saturating_sub(1));
            let n_test = share(test_fraction).min(members.len().saturating_sub(1 + n_val));
            val.extend_from_slice(&members[..n_val]);
            test.extend_from_slice(&members[n_val..n_val + n_test]);
            train.extend_from_slice(&members[n_val + n_test..]);
        }
        // Cut class by class above; back to the data's own order (training shuffles it anyway).
        for split in [&mut train, &mut val, &mut test] {
            split.sort_unstable();
        }
        let cut = |indices: &[usize]| self.train.select(indices);
        let splits = Splits {
            train: cut(&train),
            val: self.val.clone().unwrap_or_else(|| cut(&val)),
            test: self.test.clone().unwrap_or_else(|| cut(&test)),
        };
        for (name, split) in [
            ("training", &splits.train),
            ("validation", &splits.val),
            ("test", &splits.test),
        ] {
            if split.is_empty() {
                return Err(DataError::Format(format!(
                    "the {name} split is empty ({} images in all)",
                    self.train.len()
                )));
            }
        }
        Ok(splits)
    }
}
