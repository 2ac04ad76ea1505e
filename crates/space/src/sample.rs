use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Label, SpaceError, Value};

/// One point of a search space: a value for every label.
///
/// Entries are kept sorted by label, so the JSON form (an object, label -> value) is canonical and
/// [`Sample::stable_hash`] does not depend on the order a file listed the labels in.
///
/// A sample drawn from a [`SearchSpace`](crate::SearchSpace) (random, grid, a strategy's child)
/// holds its choice indices and shares the space's labels and candidates: making it costs one
/// small allocation, and validating it against that space copies the indices instead of looking
/// every value up. It reads, compares, hashes and serializes exactly as the same entries would.
#[derive(Clone, Default)]
pub struct Sample {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Labels and values, sorted by label.
    Entries(Vec<(Label, Value)>),
    /// Choice indices (declaration order) into the vocabulary of the space that drew it.
    Drawn {
        vocabulary: Arc<Vocabulary>,
        indices: Box<[usize]>,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Entries(Vec::new())
    }
}

/// The labels and candidates of a search space, shared by the samples it draws. Two spaces built
/// separately never share one, so a sample that points to a space's vocabulary was drawn there.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    /// Per choice, in declaration order: its label and candidates.
    pub(crate) choices: Vec<(Label, Vec<Value>)>,
    /// Choice positions ordered by label.
    pub(crate) by_label: Vec<usize>,
}

impl Sample {
    /// An empty sample.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a sample from entries in any order; a label given twice keeps the last value.
    pub fn from_entries(entries: impl IntoIterator<Item = (Label, Value)>) -> Self {
        let mut sample = Sample::new();
        for (label, value) in entries {
            sample.insert(label, value);
        }
        sample
    }

    /// A sample drawn from the space whose vocabulary this is, by choice indices.
    pub(crate) fn drawn(vocabulary: Arc<Vocabulary>, indices: Box<[usize]>) -> Self {
        debug_assert_eq!(indices.len(), vocabulary.choices.len());
        Sample {
            repr: Repr::Drawn {
                vocabulary,
                indices,
            },
        }
    }

    /// The choice indices, when the sample was drawn from the space of `vocabulary`.
    pub(crate) fn indices_in(&self, vocabulary: &Arc<Vocabulary>) -> Option<&[usize]> {
        match &self.repr {
            Repr::Drawn {
                vocabulary: own,
                indices,
            } if Arc::ptr_eq(own, vocabulary) => Some(indices),
            _ => None,
        }
    }

    /// The entries, written out (a drawn sample stops sharing its space's vocabulary).
    fn entries_mut(&mut self) -> &mut Vec<(Label, Value)> {
        if let Repr::Drawn { .. } = self.repr {
            let entries = self
                .iter()
                .map(|(label, value)| (label.clone(), value.clone()))
                .collect();
            self.repr = Repr::Entries(entries);
        }
        match &mut self.repr {
            Repr::Entries(entries) => entries,
            Repr::Drawn { .. } => unreachable!("written out above"),
        }
    }

    /// Sets the value of a label, replacing any earlier one.
    pub fn insert(&mut self, label: impl Into<Label>, value: impl Into<Value>) {
        let label = label.into();
        let value = value.into();
        let entries = self.entries_mut();
        match entries.binary_search_by(|(l, _)| l.as_ref().cmp(&label)) {
            Ok(i) => entries[i].1 = value,
            Err(i) => entries.insert(i, (label, value)),
        }
    }

    /// The value of a label.
    pub fn get(&self, label: &str) -> Option<&Value> {
        match &self.repr {
            Repr::Entries(entries) => entries
                .binary_search_by(|(l, _)| l.as_ref().cmp(label))
                .ok()
                .map(|i| &entries[i].1),
            Repr::Drawn {
                vocabulary,
                indices,
            } => vocabulary
                .by_label
                .binary_search_by(|&at| vocabulary.choices[at].0.as_ref().cmp(label))
                .ok()
                .map(|k| {
                    let at = vocabulary.by_label[k];
                    &vocabulary.choices[at].1[indices[at]]
                }),
        }
    }

    /// Entries sorted by label.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Label, &Value)> {
        match &self.repr {
            Repr::Entries(entries) => Iter::Entries(entries.iter()),
            Repr::Drawn {
                vocabulary,
                indices,
            } => Iter::Drawn {
                vocabulary,
                indices,
                order: vocabulary.by_label.iter(),
            },
        }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Entries(entries) => entries.len(),
            Repr::Drawn { indices, .. } => indices.len(),
        }
    }

    /// Whether the sample has no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Canonical JSON: one object, labels sorted.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a sample always serializes")
    }

    /// Parses a sample from a JSON object.
    pub fn from_json(text: &str) -> Result<Self, SpaceError> {
        serde_json::from_str(text).map_err(|e| SpaceError::MalformedSample(e.to_string()))
    }

    /// A hash of the canonical JSON that stays the same across runs, machines and versions
    /// (xxh3, 64 bits): the key for deduplication and caches.
    pub fn stable_hash(&self) -> u64 {
        hash_bytes(|json| serde_json::to_writer(json, self).expect("a sample always serializes"))
    }
}

/// The xxh3 hash of the bytes `write` puts into a buffer reused by the thread: searches hash
/// every proposal, and an allocation would cost more than the hash.
pub(crate) fn hash_bytes(write: impl FnOnce(&mut Vec<u8>)) -> u64 {
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        write(bytes);
        xxhash_rust::xxh3::xxh3_64(bytes)
    })
}

/// A sample's entries in label order, however it is held.
enum Iter<'a> {
    Entries(std::slice::Iter<'a, (Label, Value)>),
    Drawn {
        vocabulary: &'a Vocabulary,
        indices: &'a [usize],
        order: std::slice::Iter<'a, usize>,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Label, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Entries(entries) => entries.next().map(|(l, v)| (l, v)),
            Iter::Drawn {
                vocabulary,
                indices,
                order,
            } => order.next().map(|&at| {
                let (label, values) = &vocabulary.choices[at];
                (label, &values[indices[at]])
            }),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            Iter::Entries(entries) => entries.len(),
            Iter::Drawn { order, .. } => order.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (
                Repr::Drawn {
                    vocabulary: a,
                    indices: x,
                },
                Repr::Drawn {
                    vocabulary: b,
                    indices: y,
                },
            ) if Arc::ptr_eq(a, b) => x == y,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}

impl fmt::Debug for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (label, value) in self.iter() {
            map.serialize_entry(label.as_ref(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SampleVisitor;

        impl<'de> Visitor<'de> for SampleVisitor {
            type Value = Sample;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object mapping labels to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sample, A::Error> {
                let mut sample = Sample::new();
                while let Some((label, value)) = map.next_entry::<String, Value>()? {
                    if sample.get(&label).is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "label `{label}` appears twice"
                        )));
                    }
                    sample.insert(label, value);
                }
                Ok(sample)
            }
        }

        deserializer.deserialize_map(SampleVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_json_is_canonical() {
        let a = Sample::from_json(r#"{"b": 2, "a": "x", "c": 0.5}"#).unwrap();
        let b = Sample::from_json(r#"{"c": 0.5, "a": "x", "b": 2}"#).unwrap();
        assert_eq!(a.to_json(), r#"{"a":"x","b":2,"c":0.5}"#);
        assert_eq!(a, b);
        assert_eq!(a.stable_hash(), b.stable_hash());
        assert_eq!(Sample::from_json(&a.to_json()).unwrap(), a);
    }

    #[test]
    fn sample_stable_hash_is_fixed() {
        // Written down once: a changed value means saved caches and logs no longer match.
        let sample = Sample::from_json(r#"{"depth": 2, "op": "conv_3x3"}"#).unwrap();
        assert_eq!(sample.stable_hash(), 0x782d_0c91_2cb8_b28d);
    }

    #[test]
    fn sample_rejects_malformed_json() {
        for text in [
            "[1, 2]",
            r#"{"a": [1]}"#,
            r#"{"a": 1, "a": 2}"#,
            "{",
            r#"{"a": null}"#,
        ] {
            assert!(Sample::from_json(text).is_err(), "{text}");
        }
    }
}
