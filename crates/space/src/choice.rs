use serde::{Deserialize, Serialize};

use crate::{Label, Value};

/// One decision of a search space: a label and its candidate values, in order.
///
/// The first value is the default, as in the reference toolkit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The stable name of the decision.
    pub label: Label,
    /// The candidates, in declaration order.
    pub values: Vec<Value>,
}

impl Choice {
    /// A choice over `values`.
    pub fn new<V: Into<Value>>(
        label: impl Into<Label>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Choice {
            label: label.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Index of `value` among the candidates.
    pub fn position(&self, value: &Value) -> Option<usize> {
        // Samples drawn from a space share its strings: a pointer match settles most lookups
        // before any string is compared.
        let shared = |candidate: &Value| matches!((value, candidate), (Value::Str(a), Value::Str(b)) if std::sync::Arc::ptr_eq(a, b));
        self.values.iter().position(shared).or_else(|| {
            self.values
                .iter()
                .position(|candidate| value.matches(candidate))
        })
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the choice has no candidate (never true in a valid space).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The candidates as one readable list, for error messages.
    pub fn allowed(&self) -> String {
        let values: Vec<String> = self.values.iter().map(ToString::to_string).collect();
        values.join(", ")
    }
}
