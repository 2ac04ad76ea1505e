use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Label, Value};

/// A rule between labels that every valid sample obeys.
///
/// Declarative rather than a closure so that a space, constraints included, stays data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// These values may not all be chosen together.
    Forbid(BTreeMap<Label, Value>),
    /// The numeric value of `lower` is at most that of `upper` (e.g. widths that never shrink).
    LessOrEqual {
        /// The label whose value must not exceed the other.
        lower: Label,
        /// The bounding label.
        upper: Label,
    },
}

impl Constraint {
    /// The labels the constraint names.
    pub fn labels(&self) -> Vec<&str> {
        match self {
            Constraint::Forbid(values) => values.keys().map(|label| &**label).collect(),
            Constraint::LessOrEqual { lower, upper } => vec![&**lower, &**upper],
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Forbid(values) => {
                let parts: Vec<String> = values.iter().map(|(l, v)| format!("{l} = {v}")).collect();
                write!(f, "not all of {{{}}}", parts.join(", "))
            }
            Constraint::LessOrEqual { lower, upper } => write!(f, "{lower} <= {upper}"),
        }
    }
}
