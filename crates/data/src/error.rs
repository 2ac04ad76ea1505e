use std::path::{Path, PathBuf};

/// What is wrong with a data set, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or folder that cannot be read.
    // The cause is in the message and not a `source`, so that a report of the chain does not
    // say it twice.
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A file that is not what its format says (wrong size, corrupt, truncated).
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A data set that does not make a classification task (no class, one class, no image).
    #[error("{0}")]
    Format(String),
}

impl DataError {
    /// Whether the error is in the data the user gave, rather than the machine failing to read
    /// it (every kind but an I/O error of another cause).
    pub fn is_input(&self) -> bool {
        use std::io::ErrorKind;
        match self {
            DataError::Io { cause, .. } => matches!(
                cause.kind(),
                ErrorKind::NotFound
                    | ErrorKind::PermissionDenied
                    | ErrorKind::InvalidData
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::NotADirectory
                    | ErrorKind::IsADirectory
            ),
            DataError::Corrupt { .. } | DataError::Format(_) => true,
        }
    }

    pub(crate) fn io(path: &Path, cause: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }

    pub(crate) fn corrupt(path: &Path, why: impl Into<String>) -> Self {
        DataError::Corrupt {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }
}

/// The names of the entries of a directory, sorted.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<String>, DataError> {
    let mut names = std::fs::read_dir(path)
        .map_err(|e| DataError::io(path, e))?
        .map(|entry| {
            entry
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|e| DataError::io(path, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    names.sort();
    Ok(names)
}

/// The bytes of a file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
