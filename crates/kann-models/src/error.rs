//! Errors of the models crate.

use std::path::{Path, PathBuf};

/// What can go wrong building, running, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A tensor or argument had the wrong shape.
    #[error("shape error: {0}")]
    Shape(String),
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
    /// A configuration file is malformed or holds an unknown key.
    #[error("config {path}: {message}")]
    Config {
        /// The config file at fault.
        path: PathBuf,
        /// What is wrong (from the TOML parser: line, column, key).
        message: String,
    },
    /// A burnpack record could not be saved or applied.
    #[error("weights: {0}")]
    Record(String),
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
    /// A PyTorch file cannot be imported (see [`crate::pytorch`]): names the file, and the key at
    /// fault when there is one.
    #[error("import {path}: {message}")]
    Import {
        /// The PyTorch file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A run folder is missing a file or is inconsistent.
    #[error("run folder {path}: {message}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },
}

impl ModelError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, error: impl Into<std::io::Error>) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            error: error.into(),
        }
    }
}

impl From<kann_run::RunError> for ModelError {
    fn from(e: kann_run::RunError) -> Self {
        use kann_run::RunError as R;
        match e {
            R::Io { path, error } => ModelError::Io { path, error },
            R::Integrity(m) => ModelError::Integrity(m),
            R::Csv { path, message } => ModelError::Csv { path, message },
            R::Run { path, message } => ModelError::Run { path, message },
        }
    }
}
