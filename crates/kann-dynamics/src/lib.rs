#![warn(missing_docs)]
//! Fixed points and linearisation of trained recurrent cells, on plain `f64` arrays with faer; no
//! deep-learning framework (the weights are handed over as numbers).
//!
//! The classical way to reverse-engineer a recurrent network (Sussillo & Barak 2013, *Opening
//! the black box*; Maheswaranathan et al. 2019 for sentiment GRUs) is local: find the states
//! that the update map `F` leaves (almost) unchanged, `s* ≈ F(s*, x)`, and linearise `F` there,
//! `F(s, x) ≈ s* + J (s − s*) + B (x − x̄)`. The eigenvalues of `J = ∂F/∂s` near 1 are the slow
//! directions; a line of fixed points whose `J` has one eigenvalue ≈ 1 is a *line attractor*.
//! The Koopman analysis of the paper (Sec. 3) is the global counterpart; this crate gives the
//! local one so that the two can be set side by side.
//!
//! - [`Cell`]: the update maps `F` of the GRU, LSTM and vanilla RNN in the fused-gate layout of
//!   `kann-models` (`w_x [X, G·H]`, `b_x`, `w_h [H, G·H]`, `b_h`), their closed-form state
//!   Jacobians `∂F/∂s` and input Jacobians `∂F/∂x`. The LSTM's state is `s = [h; c]` (`2H`).
//! - [`find_fixed_points`]: minimise `q(s) = ½|F(s, x) − s|²` from many starts with
//!   Levenberg–Marquardt steps, then drop points with large `q` and duplicates (as Golub &
//!   Sussillo's FixedPointFinder does).
//! - [`eigen`]: the spectrum of a Jacobian (sorted by modulus) with right and left eigenvectors;
//!   [`abs_cos`] for the alignment of an eigenvector with a readout.
//! - [`pca`]: principal components of a set of fixed points (a line attractor puts almost all of
//!   their variance on the first).
//! - [`Linearisation`]: `F` linearised around a fixed point, for one-step prediction.

pub mod cell;
pub mod error;
pub mod fixed_points;
pub mod linear;

pub use cell::{Cell, CellKind};
pub use error::{DynamicsError, Result};
pub use faer;
pub use fixed_points::{
    AffineMap, CellAtInput, FixedPoint, FixedPointOptions, FixedPointSearch, StateMap,
    find_fixed_points, minimise_q,
};
pub use linear::{Eigen, Linearisation, Pca, abs_cos, eigen, pca};
