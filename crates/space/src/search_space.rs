use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::sample::Vocabulary;
use crate::{Choice, Constraint, Label, Sample, SpaceError, Value};

/// How many rejected draws in a row [`SearchSpace::random_indices`] accepts before giving up.
const MAX_REJECTIONS: usize = 100_000;

/// The decisions of a space: an ordered list of labelled choices and the constraints between them.
///
/// This is the burn-free vocabulary that strategies and middleware work with. Decisions are
/// addressed either by label (a [`Sample`], the on-disk form) or by position (a slice of choice
/// indices in declaration order, the fast form used by samplers and profilers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "SearchSpaceData", into = "SearchSpaceData")]
pub struct SearchSpace {
    choices: Vec<Choice>,
    constraints: Vec<Constraint>,
    /// Positions of the choices ordered by label: samples are sorted by label, so validation walks
    /// both in step without hashing.
    by_label: Vec<usize>,
    compiled: Vec<CompiledConstraint>,
    /// Per choice, per candidate, its entry of a sample's canonical JSON (`"label":value`), so
    /// that [`SearchSpace::sample_hash`] hashes choice indices without building the sample.
    json_entries: Arc<[Vec<String>]>,
    /// The labels and candidates the samples it draws share (and are recognised by).
    vocabulary: Arc<Vocabulary>,
}

#[derive(Debug, Clone)]
enum CompiledConstraint {
    Forbid(Vec<(usize, usize)>),
    LessOrEqual(usize, usize),
}

#[derive(Serialize, Deserialize)]
struct SearchSpaceData {
    choices: Vec<Choice>,
    #[serde(default)]
    constraints: Vec<Constraint>,
}

impl TryFrom<SearchSpaceData> for SearchSpace {
    type Error = SpaceError;

    fn try_from(data: SearchSpaceData) -> Result<Self, SpaceError> {
        SearchSpace::new(data.choices, data.constraints)
    }
}

impl From<SearchSpace> for SearchSpaceData {
    fn from(space: SearchSpace) -> Self {
        SearchSpaceData {
            choices: space.choices,
            constraints: space.constraints,
        }
    }
}

impl SearchSpace {
    /// Builds a space. A label listed twice with the same values is one shared decision; with
    /// different values it is an error, as are empty choices and constraints naming unknown labels
    /// or values.
    pub fn new(choices: Vec<Choice>, constraints: Vec<Constraint>) -> Result<Self, SpaceError> {
        let mut unique: Vec<Choice> = Vec::with_capacity(choices.len());
        let mut positions: HashMap<Label, usize> = HashMap::new();
        for choice in choices {
            if choice.is_empty() {
                return Err(SpaceError::InvalidDeclaration(format!(
                    "label `{}` has no candidate",
                    choice.label
                )));
            }
            for (i, value) in choice.values.iter().enumerate() {
                if choice.values[..i]
                    .iter()
                    .any(|earlier| earlier.matches(value))
                {
                    return Err(SpaceError::InvalidDeclaration(format!(
                        "label `{}` lists {value} twice",
                        choice.label
                    )));
                }
            }
            match positions.get(&choice.label) {
                Some(&at) if unique[at] == choice => {}
                Some(_) => {
                    return Err(SpaceError::ConflictingLabel {
                        label: choice.label.to_string(),
                    });
                }
                None => {
                    positions.insert(choice.label.clone(), unique.len());
                    unique.push(choice);
                }
            }
        }
        let mut by_label: Vec<usize> = (0..unique.len()).collect();
        by_label.sort_by(|&a, &b| unique[a].label.cmp(&unique[b].label));

        let position = |label: &Label| {
            positions.get(label).copied().ok_or_else(|| {
                SpaceError::InvalidDeclaration(format!("constraint names unknown label `{label}`"))
            })
        };
        let mut compiled = Vec::with_capacity(constraints.len());
        for constraint in &constraints {
            compiled.push(match constraint {
                Constraint::Forbid(values) => {
                    let mut pairs = Vec::with_capacity(values.len());
                    for (label, value) in values {
                        let at = position(label)?;
                        let index = unique[at].position(value).ok_or_else(|| {
                            SpaceError::InvalidDeclaration(format!(
                                "constraint names value {value} that `{label}` does not have"
                            ))
                        })?;
                        pairs.push((at, index));
                    }
                    CompiledConstraint::Forbid(pairs)
                }
                Constraint::LessOrEqual { lower, upper } => {
                    let (lower, upper) = (position(lower)?, position(upper)?);
                    for at in [lower, upper] {
                        if unique[at].values.iter().any(|v| v.as_f64().is_none()) {
                            return Err(SpaceError::InvalidDeclaration(format!(
                                "`{constraint}` needs numeric values for `{}`",
                                unique[at].label
                            )));
                        }
                    }
                    CompiledConstraint::LessOrEqual(lower, upper)
                }
            });
        }
        let json_entries = unique
            .iter()
            .map(|choice| {
                let label = serde_json::to_string(choice.label.as_ref()).expect("a string");
                choice
                    .values
                    .iter()
                    .map(|value| {
                        format!("{label}:{}", serde_json::to_string(value).expect("a value"))
                    })
                    .collect()
            })
            .collect();
        let vocabulary = Arc::new(Vocabulary {
            choices: unique
                .iter()
                .map(|choice| (choice.label.clone(), choice.values.clone()))
                .collect(),
            by_label: by_label.clone(),
        });
        Ok(SearchSpace {
            choices: unique,
            constraints,
            by_label,
            compiled,
            json_entries,
            vocabulary,
        })
    }

    /// The choices in declaration order.
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The constraints.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// Number of decisions.
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// Whether the space has no decision (a fixed network).
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    /// Position of a label in declaration order.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.by_label
            .binary_search_by(|&at| self.choices[at].label.as_ref().cmp(label))
            .ok()
            .map(|i| self.by_label[i])
    }

    /// The choice of a label.
    pub fn choice(&self, label: &str) -> Option<&Choice> {
        self.position(label).map(|at| &self.choices[at])
    }

    /// Number of distinct samples, constraints ignored, as a float (spaces reach 1e19 and beyond).
    pub fn size(&self) -> f64 {
        self.choices.iter().map(|c| c.len() as f64).product()
    }

    /// `log10` of [`SearchSpace::size`], exact for spaces far beyond `f64`'s range.
    pub fn log10_size(&self) -> f64 {
        self.choices.iter().map(|c| (c.len() as f64).log10()).sum()
    }

    /// Number of samples that satisfy every constraint, counted by enumeration; `None` when the
    /// space has more than `limit` samples before constraints.
    pub fn count_valid(&self, limit: f64) -> Option<u64> {
        if self.size() > limit {
            return None;
        }
        if self.compiled.is_empty() {
            return Some(self.size() as u64);
        }
        Some(self.grid_indices().count() as u64)
    }

    /// Validates a sample and returns its choice indices in declaration order.
    ///
    /// Errors name the first missing or unknown label, the value that is not a candidate (with the
    /// candidates) or the violated constraint.
    pub fn indices(&self, sample: &Sample) -> Result<Vec<usize>, SpaceError> {
        let mut indices = vec![0; self.choices.len()];
        self.indices_into(sample, &mut indices)?;
        Ok(indices)
    }

    /// [`SearchSpace::indices`] into a caller's buffer of length [`SearchSpace::len`], so hot loops
    /// do not allocate.
    pub fn indices_into(&self, sample: &Sample, indices: &mut [usize]) -> Result<(), SpaceError> {
        assert_eq!(
            indices.len(),
            self.choices.len(),
            "buffer length must equal the space's"
        );
        if let Some(drawn) = sample.indices_in(&self.vocabulary) {
            indices.copy_from_slice(drawn);
            return self.check_constraints(indices);
        }
        let mut entries = sample.iter();
        let mut entry = entries.next();
        for &at in &self.by_label {
            let choice = &self.choices[at];
            match entry {
                // Samples drawn from this space share its label strings: compare pointers first.
                Some((label, value))
                    if Arc::ptr_eq(label, &choice.label) || *label == choice.label =>
                {
                    indices[at] =
                        choice
                            .position(value)
                            .ok_or_else(|| SpaceError::InvalidValue {
                                label: label.to_string(),
                                value: value.clone(),
                                allowed: choice.allowed(),
                            })?;
                    entry = entries.next();
                }
                Some((label, _)) if label.as_ref() < choice.label.as_ref() => {
                    return Err(self.unknown_label(label));
                }
                _ => {
                    return Err(SpaceError::MissingLabel {
                        label: choice.label.to_string(),
                    });
                }
            }
        }
        if let Some((label, _)) = entry {
            return Err(self.unknown_label(label));
        }
        self.check_constraints(indices)
    }

    /// Validates a sample.
    pub fn validate(&self, sample: &Sample) -> Result<(), SpaceError> {
        self.indices(sample).map(|_| ())
    }

    fn unknown_label(&self, label: &str) -> SpaceError {
        let known: Vec<&str> = self
            .by_label
            .iter()
            .map(|&at| self.choices[at].label.as_ref())
            .collect();
        SpaceError::UnknownLabel {
            label: label.to_string(),
            known: known.join(", "),
        }
    }

    /// Checks the constraints on choice indices.
    pub fn check_constraints(&self, indices: &[usize]) -> Result<(), SpaceError> {
        match self.violated(indices) {
            Some(i) => Err(SpaceError::ConstraintViolated(
                self.constraints[i].to_string(),
            )),
            None => Ok(()),
        }
    }

    fn violated(&self, indices: &[usize]) -> Option<usize> {
        self.compiled
            .iter()
            .position(|constraint| match constraint {
                CompiledConstraint::Forbid(pairs) => {
                    pairs.iter().all(|&(at, index)| indices[at] == index)
                }
                CompiledConstraint::LessOrEqual(lower, upper) => {
                    let value = |at: usize| self.choices[at].values[indices[at]].as_f64();
                    value(*lower) > value(*upper)
                }
            })
    }

    /// The sample that the choice indices (declaration order) select (constraints are not
    /// checked). Panics on an index past its choice's candidates: indices come from this space.
    pub fn sample_at(&self, indices: &[usize]) -> Sample {
        assert_eq!(indices.len(), self.choices.len(), "one index per choice");
        assert!(
            indices.iter().zip(&self.choices).all(|(&i, c)| i < c.len()),
            "an index past its choice's candidates"
        );
        Sample::drawn(self.vocabulary.clone(), indices.into())
    }

    /// The [`Sample::stable_hash`] of [`SearchSpace::sample_at`]`(indices)`, without building the
    /// sample: strategies check a proposal against those they made before, most often in vain.
    pub fn sample_hash(&self, indices: &[usize]) -> u64 {
        crate::sample::hash_bytes(|json| {
            json.push(b'{');
            for (i, &at) in self.by_label.iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                json.extend_from_slice(self.json_entries[at][indices[at]].as_bytes());
            }
            json.push(b'}');
        })
    }

    /// Every decision at its first candidate (`last = false`) or its last one; constraints are not
    /// checked. The extremes of a space that orders its candidates from small to large.
    pub fn edge_sample(&self, last: bool) -> Sample {
        let indices: Vec<usize> = self
            .choices
            .iter()
            .map(|choice| if last { choice.len() - 1 } else { 0 })
            .collect();
        self.sample_at(&indices)
    }

    /// Draws choice indices uniformly at random, redrawing while a constraint is violated.
    pub fn random_indices<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>, SpaceError> {
        let mut indices = vec![0; self.choices.len()];
        for _ in 0..MAX_REJECTIONS {
            for (index, choice) in indices.iter_mut().zip(&self.choices) {
                *index = rng.random_range(0..choice.len());
            }
            if self.violated(&indices).is_none() {
                return Ok(indices);
            }
        }
        Err(SpaceError::SamplingExhausted(MAX_REJECTIONS))
    }

    /// Draws a sample uniformly at random among those that satisfy the constraints.
    pub fn random_sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Sample, SpaceError> {
        self.random_indices(rng)
            .map(|indices| self.sample_at(&indices))
    }

    /// The default sample: the first candidate of every choice, or the first valid sample in grid
    /// order when that breaks a constraint.
    pub fn default_sample(&self) -> Result<Sample, SpaceError> {
        self.grid_indices()
            .next()
            .map(|indices| self.sample_at(&indices))
            .ok_or_else(|| {
                SpaceError::InvalidDeclaration("no sample satisfies the constraints".into())
            })
    }

    /// Every valid sample in order (the last label declared varies fastest).
    pub fn grid(&self) -> impl Iterator<Item = Sample> + '_ {
        self.grid_indices().map(|indices| self.sample_at(&indices))
    }

    /// Choice indices of every valid sample, in grid order.
    pub fn grid_indices(&self) -> GridIndices<'_> {
        GridIndices {
            space: self,
            next: Some(vec![0; self.choices.len()]),
        }
    }
}

/// Iterator over the choice indices of a space in grid order; see [`SearchSpace::grid_indices`].
#[derive(Debug)]
pub struct GridIndices<'a> {
    space: &'a SearchSpace,
    next: Option<Vec<usize>>,
}

impl Iterator for GridIndices<'_> {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        loop {
            let current = self.next.take()?;
            let mut following = current.clone();
            let mut carried = true;
            for (index, choice) in following.iter_mut().zip(&self.space.choices).rev() {
                *index += 1;
                if *index < choice.len() {
                    carried = false;
                    break;
                }
                *index = 0;
            }
            if !carried {
                self.next = Some(following);
            }
            if self.space.violated(&current).is_none() {
                return Some(current);
            }
        }
    }
}

/// Builds the value list of a choice from anything convertible.
pub fn values<V: Into<Value>>(values: impl IntoIterator<Item = V>) -> Vec<Value> {
    values.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    fn space() -> SearchSpace {
        SearchSpace::new(
            vec![
                Choice::new("width", [8, 16, 32]),
                Choice::new("op", ["conv", "pool"]),
                Choice::new("next_width", [8, 16]),
                Choice::new("op", ["conv", "pool"]),
            ],
            vec![Constraint::LessOrEqual {
                lower: "width".into(),
                upper: "next_width".into(),
            }],
        )
        .unwrap()
    }

    #[test]
    fn search_space_shares_repeated_labels() {
        let space = space();
        assert_eq!(space.len(), 3);
        assert_eq!(space.size(), 12.0);
        assert!((space.log10_size() - 12f64.log10()).abs() < 1e-12);
        // width <= next_width leaves (8, 8), (8, 16), (16, 16) times two ops.
        assert_eq!(space.count_valid(1e6), Some(6));
        assert_eq!(space.grid().count(), 6);
        let conflicting = SearchSpace::new(
            vec![Choice::new("op", ["a", "b"]), Choice::new("op", ["a"])],
            vec![],
        );
        assert!(matches!(
            conflicting,
            Err(SpaceError::ConflictingLabel { .. })
        ));
    }

    #[test]
    fn search_space_validation_names_the_problem() {
        let space = space();
        let check = |json: &str, expected: &str| {
            let sample = Sample::from_json(json).unwrap();
            let message = space.validate(&sample).unwrap_err().to_string();
            assert!(message.contains(expected), "{message} lacks {expected}");
        };
        check(
            r#"{"op": "conv", "width": 8}"#,
            "missing label `next_width`",
        );
        check(
            r#"{"op": "conv", "width": 8, "next_width": 8, "zzz": 1}"#,
            "unknown label `zzz`",
        );
        check(
            r#"{"op": "conv", "width": 8, "next_width": 8, "a": 1}"#,
            "unknown label `a`",
        );
        check(
            r#"{"op": "mlp", "width": 8, "next_width": 8}"#,
            r#"value "mlp" is not one of ["conv", "pool"]"#,
        );
        check(
            r#"{"op": "conv", "width": 32, "next_width": 16}"#,
            "width <= next_width",
        );
        let valid =
            Sample::from_json(r#"{"op": "pool", "width": 16, "next_width": 16.0}"#).unwrap();
        assert_eq!(space.indices(&valid).unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn search_space_random_is_seeded_and_valid() {
        let space = space();
        let draw = |seed| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            (0..50)
                .map(|_| space.random_sample(&mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        let first = draw(7);
        assert_eq!(first, draw(7));
        assert_ne!(first, draw(8));
        for sample in &first {
            space.validate(sample).unwrap();
        }
        let forbidden = SearchSpace::new(
            vec![Choice::new("a", [1])],
            vec![Constraint::Forbid(BTreeMap::from([(
                "a".into(),
                Value::Int(1),
            )]))],
        )
        .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        assert!(matches!(
            forbidden.random_sample(&mut rng),
            Err(SpaceError::SamplingExhausted(_))
        ));
        assert!(forbidden.default_sample().is_err());
    }

    #[test]
    fn sample_hash_is_the_stable_hash_of_the_sample() {
        let space = SearchSpace::new(
            vec![
                Choice::new("width", [8, 16]),
                Choice::new("ratio", [0.5, 1.0, 6.0]),
                Choice::new("a \"quoted\" op", ["conv", "pool\n"]),
            ],
            vec![],
        )
        .unwrap();
        let mut n_samples = 0;
        for indices in space.grid_indices() {
            let sample = space.sample_at(&indices);
            assert_eq!(
                space.sample_hash(&indices),
                sample.stable_hash(),
                "{sample}"
            );
            n_samples += 1;
        }
        assert_eq!(n_samples, 12);
    }

    #[test]
    fn search_space_round_trips_through_json() {
        let space = space();
        let json = serde_json::to_string(&space).unwrap();
        let back: SearchSpace = serde_json::from_str(&json).unwrap();
        assert_eq!(back.choices(), space.choices());
        assert_eq!(back.constraints(), space.constraints());
        let bad = r#"{"choices": [{"label": "a", "values": []}]}"#;
        assert!(serde_json::from_str::<SearchSpace>(bad).is_err());
    }
}
