//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while locating, downloading, reading, tokenizing or batching data.
///
/// Every variant names the file (and where it applies the line or archive entry) at fault, so a
/// message such as `ECG5000_TRAIN.tsv line 12: expected 141 fields, found 140` points straight at
/// the bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on `path` failed. (The OS error is part of the message, not the
    /// error's `source()`, so a printed error chain names it once.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder being read or written.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A line of a text file could not be parsed.
    #[error("{file} line {line}: {msg}")]
    Parse {
        /// File name (or path) of the bad file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// An entry of an archive or folder (a review file, a vocabulary entry, ...) is bad.
    #[error("{location}: {msg}")]
    Entry {
        /// The archive/file and entry name, e.g. `aclImdb_v1.tar.gz: aclImdb/train/pos/0_9.txt`.
        location: String,
        /// What was wrong.
        msg: String,
    },
    /// Expected data is missing (a folder, a split, a file).
    #[error("{}: {msg}", path.display())]
    Missing {
        /// Where the data was looked for.
        path: PathBuf,
        /// What is missing.
        msg: String,
    },
    /// A download failed.
    #[error("download of {url}: {msg}")]
    Download {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        msg: String,
    },
    /// A data set is missing from the data folder and could not be fetched (no network, fetching
    /// turned off, or every try refused); says what fixes it.
    #[error("{what} is not in {} and could not be fetched: {reason}\n  URL: {url}\n  fix: {fix}", dir.display())]
    Unavailable {
        /// The data set.
        what: String,
        /// The data folder.
        dir: PathBuf,
        /// The URL tried (or that would be tried, when offline).
        url: String,
        /// Why it could not be fetched.
        reason: String,
        /// What the user can do.
        fix: String,
    },
    /// Invalid configuration or arguments (e.g. a batch size of 0).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training the WordPiece vocabulary with the `tokenizers` crate failed.
    #[error("WordPiece training failed: {0}")]
    Tokenizer(String),
}

/// Result alias with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// Builds a [`Error::Parse`] for `file` at 1-based `line`.
    pub fn parse(file: impl Into<String>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse {
            file: file.into(),
            line,
            msg: msg.into(),
        }
    }

    /// Builds an [`Error::Entry`].
    pub fn entry(location: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Entry {
            location: location.into(),
            msg: msg.into(),
        }
    }

    /// Builds an [`Error::Missing`].
    pub fn missing(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Missing {
            path: path.into(),
            msg: msg.into(),
        }
    }
}
