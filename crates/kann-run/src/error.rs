//! Errors of the run-folder crate.

use std::path::{Path, PathBuf};

/// What can go wrong writing, locking or reading back a run folder's files.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading or writing a file failed.
    ///
    /// The OS error is part of the message and deliberately not exposed as the error's
    /// `source()`, so an error chain printed with `{:#}` names it once.
    #[error("{path}: {error}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A run file is missing, or no longer matches its checksum sidecar; the message names it.
    #[error("{0}")]
    Integrity(String),
    /// A CSV file of a run folder could not be written or read (a missing column, a value that
    /// is not a number); the message names the record and line.
    #[error("{path}: {message}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// What is wrong (from the csv crate).
        message: String,
    },
    /// A run folder (or its lock) is in use, missing a file or inconsistent.
    #[error("run folder {path}: {message}")]
    Run {
        /// The run folder or file.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },
}

impl RunError {
    /// The file at fault and the OS error, for crates that wrap an atomic write's failure in an
    /// error type of their own (a write fails only with [`RunError::Io`]; any other variant
    /// comes back as an `io::Error` holding its message, with the path it names, if any).
    pub fn into_io(self) -> (PathBuf, std::io::Error) {
        match self {
            RunError::Io { path, error } => (path, error),
            RunError::Csv { path, message } | RunError::Run { path, message } => {
                (path, std::io::Error::other(message))
            }
            RunError::Integrity(message) => (PathBuf::new(), std::io::Error::other(message)),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, error: impl Into<std::io::Error>) -> Self {
        RunError::Io {
            path: path.to_path_buf(),
            error: error.into(),
        }
    }
}
