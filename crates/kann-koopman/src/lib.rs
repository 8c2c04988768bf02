#![warn(missing_docs)]
//! Koopman analysis of hidden states (KANN, paper "A Koopman approach to understanding sequence
//! neural models", Sec. 3), on plain arrays with faer; no deep-learning framework.
//!
//! - [`koopman_operator`]: basis `B` from the truncated SVD of the states and operator `C` by
//!   least squares over consecutive pairs (Eqs. 4-5), via Gram matrices accumulated in one pass
//!   ([`GramAccumulator`], also usable as a streaming fit), with other [`Estimator`]s; the
//!   products over the states run in blocks shared out to the cores, in `f64` or (opt-in,
//!   [`Precision::Mixed`]) as `f32` blocks summed in `f64`; the same estimator from R factors
//!   ([`TsqrAccumulator`], [`tsqr`]: QR instead of Gram sums, for ill-conditioned states), both
//!   behind one [`Accumulator`] interface;
//! - [`predict_one_step`], [`relative_error`] (Eqs. 6, 12) and multi-step prediction;
//! - [`Spectrum`]: `C = V Λ U`, [`memory_horizon`] (Eq. 9), residuals of eigenpairs;
//! - [`projections`] (Eq. 7), [`projection_magnitude`] (Eq. 10), [`dominance`],
//!   [`reconstruct_modulus`] (Eq. 11), [`project_onto`], [`pair_product_imaginary_share`];
//! - the sign convention of the basis and fits with other signs ([`signs`]: Eq. 11 depends on it);
//! - statistics for the figures ([`silhouette`], [`median_mad_over_time`], [`Pca`]);
//! - a basis-free distance between the spectra of two runs ([`spectral_distance`]);
//! - resampled error bars of the spectrum from per-sequence Grams ([`resample`]) and their
//!   measured coverage on planted systems ([`calibration`]);
//! - `.npy` / JSON input and output ([`io`]).

pub mod accumulator;
pub mod analysis;
pub mod calibration;
pub mod checks;
pub mod compare;
pub mod error;
pub mod fit;
pub mod gram;
pub mod io;
pub mod predict;
pub mod report;
pub mod resample;
pub mod signs;
pub mod spectrum;
pub mod states;
pub mod stats;
pub mod tsqr;

pub use accumulator::Accumulator;
pub use analysis::{
    coefficients, dominance, eigen_coordinates, pair_product_imaginary_share, project_onto,
    projection_magnitude, projections, reconstruct_modulus,
};
pub use compare::spectral_distance;
pub use error::{KoopmanError, Result};
pub use faer;
pub use fit::{
    CoefficientGrams, Estimator, FitMethod, FitOptions, KoopmanModel, Rank, koopman_operator,
    koopman_operator_direct,
};
pub use gram::{BLOCK_ROWS, GramAccumulator, GramParts, Grams, MIXED_CONDITION_LIMIT, Precision};
pub use predict::{
    RelativeError, RelativeErrorAccumulator, multi_step_error, predict_one_step, predict_steps,
    relative_error,
};
pub use report::{
    AnalysisOptions, BootstrapSummary, DOMINANT_MODULUS, EigenCi, EigenReport, FitIntervals,
    Memory, StatesReport, analyze_states, bootstrap_intervals, bootstrap_report, snr,
};
pub use resample::{
    BootstrapOptions, EigenInterval, Scheme, SequenceGrams, SpectrumIntervals, bootstrap_spectrum,
    bootstrap_spectrum_with_progress, match_eigenvalues, percentile,
};
pub use signs::{canonical_basis_signs, is_canonical, with_basis_signs};
pub use spectrum::{MemoryHorizon, Spectrum, Stability, memory_horizon};
pub use states::{FitSteps, States};
pub use stats::{
    Pca, Silhouette, cumulative_time_average, median, median_mad_over_time, silhouette,
    silhouette_over_time,
};
pub use tsqr::{TsqrAccumulator, TsqrParts};
