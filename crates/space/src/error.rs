use crate::Value;

/// Everything a user, a sample or a space declaration can get wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The sample lacks a label of the space.
    #[error("sample is missing label `{label}`")]
    MissingLabel {
        /// The missing label.
        label: String,
    },
    /// The sample names a label the space does not have.
    #[error("unknown label `{label}` (the space has: {known})")]
    UnknownLabel {
        /// The unknown label.
        label: String,
        /// The labels of the space, comma separated.
        known: String,
    },
    /// The value of a label is not among its choices.
    #[error("label `{label}`: value {value} is not one of [{allowed}]")]
    InvalidValue {
        /// The label.
        label: String,
        /// The offending value.
        value: Value,
        /// The allowed values, comma separated.
        allowed: String,
    },
    /// A sample breaks a constraint between labels.
    #[error("constraint violated: {0}")]
    ConstraintViolated(String),
    /// The same label was declared twice with different choices.
    #[error("label `{label}` is declared twice with different choices")]
    ConflictingLabel {
        /// The label.
        label: String,
    },
    /// A declaration is malformed (empty choice, bad depth list, unknown label in a constraint...).
    #[error("invalid space declaration: {0}")]
    InvalidDeclaration(String),
    /// A space built for an input its networks cannot take.
    #[error("space `{space}` cannot take {input} inputs: {why}")]
    InputNotTaken {
        /// The space.
        space: String,
        /// The input shape.
        input: String,
        /// The first layer that fails.
        why: String,
    },
    /// A layer cannot take the shape that reaches it.
    #[error("shape error at {layer}: {message}")]
    Shape {
        /// The layer kind.
        layer: String,
        /// What is wrong.
        message: String,
    },
    /// A sample could not be parsed.
    #[error("malformed sample: {0}")]
    MalformedSample(String),
    /// No hub space has that name.
    #[error("unknown space `{name}` (available: {available})")]
    UnknownSpace {
        /// The requested name.
        name: String,
        /// The hub spaces, comma separated.
        available: String,
    },
    /// No backend has that name.
    #[error("unknown device `{0}` (expected one of: flex, ndarray, wgpu, cuda)")]
    UnknownBackend(String),
    /// The backend's cargo feature was not built into this binary.
    #[error(
        "device `{0}` was not built into this binary: rebuild with `--features {0}` \
         (e.g. `cargo run --release -p hwnas --features {0} -- ...`)"
    )]
    BackendNotBuilt(&'static str),
    /// Random sampling met a constraint too often.
    #[error("no sample satisfying the constraints found after {0} tries")]
    SamplingExhausted(usize),
}

impl SpaceError {
    /// A cell node that reads node `from` when only nodes `0..n_available` come before it.
    pub fn cell_order(from: usize, n_available: usize) -> Self {
        SpaceError::InvalidDeclaration(format!(
            "a cell node reads node {from} but only nodes 0..{n_available} come before it"
        ))
    }

    pub(crate) fn shape(layer: impl Into<String>, message: impl Into<String>) -> Self {
        SpaceError::Shape {
            layer: layer.into(),
            message: message.into(),
        }
    }
}

/// Whether an I/O error means the path given cannot be used (missing, unreadable, not what it
/// should be, on a read-only file system), rather than the machine failing (a full disk, a
/// broken device): every crate's errors answer `is_input` for their I/O causes through it.
pub fn io_is_input(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidData
            | ErrorKind::InvalidInput
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::AlreadyExists
            | ErrorKind::ReadOnlyFilesystem
    )
}
