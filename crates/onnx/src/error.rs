use hwnas_space::SpaceError;

/// What can go wrong exporting, checking or timing an ONNX model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The sample or its input shape does not build a network.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A layer with no exact ONNX form.
    #[error("cannot export {layer} to ONNX: {why}")]
    Unsupported {
        /// The layer kind.
        layer: String,
        /// Why.
        why: String,
    },
    /// A module that is not the architecture's.
    #[error("{0}")]
    Mismatch(String),
    /// tract refused or failed to run the model.
    #[error("tract: {0}")]
    Tract(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that is not what it should be.
    #[error("{0}")]
    Invalid(String),
}

impl OnnxError {
    /// Whether the error is in what the user gave (a sample, an input shape, a file, a path to
    /// write to) rather than a failure of the run.
    pub fn is_input(&self) -> bool {
        match self {
            OnnxError::Space(_) | OnnxError::Unsupported { .. } | OnnxError::Invalid(_) => true,
            OnnxError::Io { source, .. } => hwnas_space::io_is_input(source),
            OnnxError::Mismatch(_) | OnnxError::Tract(_) => false,
        }
    }

    pub(crate) fn tract(error: impl std::fmt::Display) -> Self {
        // tract's errors chain their causes; the alternate form prints the chain.
        OnnxError::Tract(format!("{error:#}"))
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        OnnxError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
