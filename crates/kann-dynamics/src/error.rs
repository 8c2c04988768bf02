//! Errors of the dynamics crate: every one names the array or setting at fault.

/// Result with a [`DynamicsError`].
pub type Result<T> = std::result::Result<T, DynamicsError>;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DynamicsError {
    /// An array had the wrong length.
    #[error("shape mismatch for {what}: expected {expected} values, got {got}")]
    Shape {
        /// Which array.
        what: &'static str,
        /// The expected length.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// A weight or input was NaN or infinite.
    #[error("{0} holds a non-finite value")]
    NonFinite(&'static str),
    /// A setting out of its range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Too little data for the computation.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// A cell name that is not `gru`, `lstm` or `rnn`.
    #[error("unknown cell kind `{0}`; valid kinds are: gru, lstm, rnn")]
    UnknownCellKind(String),
    /// A decomposition failed.
    #[error("linear algebra: {0}")]
    LinearAlgebra(String),
}
