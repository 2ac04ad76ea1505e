use hwnas_space::SpaceError;

/// Why a profiler could not be built or could not answer for a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The sample is not a valid sample of the space, or the space is malformed.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The space is beyond what the precomputed tables can represent.
    #[error("cannot profile this space: {0}")]
    Unsupported(String),
    /// A latency table cannot be read, or was made for another space, input or device.
    #[error("latency table: {0}")]
    Table(String),
    /// Measurements to fit a latency table to are not usable.
    #[error("measurements: {0}")]
    Measurements(String),
    /// The device failed while running a network.
    #[error("device failed: {0}")]
    Device(String),
    /// A latency table cannot be written.
    #[error("latency table: {0}")]
    Write(String),
}

impl ProfileError {
    /// Whether the error is in what the user gave (a sample, a space, a table file) rather than
    /// a failure of the machine (a device that fails, a table that cannot be written).
    pub fn is_input(&self) -> bool {
        !matches!(self, ProfileError::Write(_) | ProfileError::Device(_))
    }
}
