use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Label, SpaceError, Value};

/// One point of a search space: a value for every label.
///
/// Entries are kept sorted by label, so the JSON form (an object, label -> value) is canonical and
/// [`Sample::stable_hash`] does not depend on the order a file listed the labels in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    entries: Vec<(Label, Value)>,
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

    /// Entries already sorted by label with no duplicates (the fast path of the samplers).
    pub(crate) fn from_sorted(entries: Vec<(Label, Value)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Sample { entries }
    }

    /// Sets the value of a label, replacing any earlier one.
    pub fn insert(&mut self, label: impl Into<Label>, value: impl Into<Value>) {
        let label = label.into();
        let value = value.into();
        match self
            .entries
            .binary_search_by(|(l, _)| l.as_ref().cmp(&label))
        {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (label, value)),
        }
    }

    /// The value of a label.
    pub fn get(&self, label: &str) -> Option<&Value> {
        self.entries
            .binary_search_by(|(l, _)| l.as_ref().cmp(label))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Entries sorted by label.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Label, &Value)> {
        self.entries.iter().map(|(l, v)| (l, v))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the sample has no labels.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (label, value) in &self.entries {
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
