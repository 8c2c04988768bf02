//! Error type of the Koopman analysis crate.

use std::path::PathBuf;

/// Everything that can go wrong in a Koopman analysis; each variant names the offending input.
#[derive(Debug, thiserror::Error)]
pub enum KoopmanError {
    /// A state entry is NaN or infinite.
    #[error("non-finite value {value} in states at sequence {seq}, time {time}, unit {unit}")]
    NonFinite {
        /// Sequence (batch) index.
        seq: usize,
        /// Time index.
        time: usize,
        /// Hidden-unit index.
        unit: usize,
        /// The offending value.
        value: f64,
    },
    /// Shapes or lengths are inconsistent.
    #[error("shape error: {0}")]
    Shape(String),
    /// Not enough admissible data for the requested operation.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// The requested rank is larger than the data allows, or zero.
    #[error("invalid rank {rank}: {reason}")]
    InvalidRank {
        /// The requested rank.
        rank: usize,
        /// Why it is not allowed.
        reason: String,
    },
    /// A parameter is outside its allowed range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A linear-algebra routine failed (eigen/SVD did not converge, singular system).
    #[error("linear algebra failure: {0}")]
    LinearAlgebra(String),
    /// The eigenvector matrix V is too ill-conditioned to invert reliably.
    #[error(
        "eigenvector matrix V is ill-conditioned (condition number {condition:.3e} > {limit:.1e}); U = V^-1 is unreliable"
    )]
    IllConditionedEigenvectors {
        /// Estimated 2-norm condition number of V.
        condition: f64,
        /// The limit that was exceeded.
        limit: f64,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, KoopmanError>;

impl KoopmanError {
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        KoopmanError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
