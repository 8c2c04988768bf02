//! The Koopman fit of paper Sec. 3.2: SVD basis `B`, coefficients `H~ = H B` (Eq. 5) and the
//! operator `C` minimising `Σ_t |H~_t C − H~_{t+1}|²_F` (Eq. 4), plus other DMD estimators.

use crate::error::{KoopmanError, Result};
use crate::gram::{GramAccumulator, Grams, MIXED_CONDITION_LIMIT, Precision};
use crate::states::States;
use faer::linalg::solvers::{Solve, SolveLstsq};
use faer::{Mat, MatRef, Side};
use serde::{Deserialize, Serialize};

/// How many basis vectors (the rank `r` of `B`) to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Rank {
    /// Exactly `r` vectors; an error if the data cannot support it.
    Fixed(usize),
    /// The fewest vectors whose squared singular values hold at least this fraction (0, 1] of
    /// the total energy.
    Energy(f64),
    /// The reference implementation's default `min(#pairs, k) − 1` (`min(s(n−1), k) − 1` for
    /// unpadded data), clamped with a warning to the numerical rank of the states.
    ReferenceDefault,
}

/// The estimator of the operator `C` in coefficient space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Estimator {
    /// The paper's least squares (Eq. 4): `C = (X~ᵀX~)⁻¹ X~ᵀY~`, basis from all states.
    LeastSquares,
    /// Exact DMD (Tu et al. 2014): basis from the SVD of `X` only, `C = Σ⁻² Bᵀ G01 B`, and the
    /// one-step map `h_t B Σ⁻² Bᵀ G01` that does not project the output onto the basis.
    ExactDmd,
    /// Total-least-squares DMD (Hemati et al. 2017): debiased under noise in both `X~` and `Y~`;
    /// `C = (Q_xᵀ)⁻¹ Q_yᵀ` from the top-`r` right singular vectors `Q` of `[X~ Y~]`.
    TotalLeastSquares,
    /// Ridge-regularised least squares `C = (X~ᵀX~ + α·tr(X~ᵀX~)/r · I)⁻¹ X~ᵀY~`; `alpha` is
    /// relative to the mean eigenvalue of `X~ᵀX~`, so it does not depend on the data size.
    Ridge {
        /// Relative regularisation strength (≥ 0).
        alpha: f64,
    },
}

impl std::fmt::Display for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Estimator::LeastSquares => write!(f, "least-squares"),
            Estimator::ExactDmd => write!(f, "exact-dmd"),
            Estimator::TotalLeastSquares => write!(f, "tls-dmd"),
            Estimator::Ridge { alpha } => write!(f, "ridge(alpha={alpha})"),
        }
    }
}

/// Options of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Rank of the basis `B`.
    pub rank: Rank,
    /// Estimator of `C`.
    pub estimator: Estimator,
    /// Condition number of the normal matrix `X~ᵀX~` above which the Gram solution is deemed
    /// unreliable: the in-memory least-squares fit then falls back to a QR-based least squares
    /// on the data; other fits keep the Gram solution and record a warning.
    pub condition_limit: f64,
    /// Arithmetic of the products over the states: [`Precision::F64`] by default;
    /// [`Precision::Mixed`] (`f32` blocks summed into `f64`, 1.6x faster on the benchmark)
    /// refits in `f64` when the normal matrix is ill conditioned.
    #[serde(default)]
    pub precision: Precision,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            rank: Rank::ReferenceDefault,
            estimator: Estimator::LeastSquares,
            condition_limit: 1e10,
            precision: Precision::default(),
        }
    }
}

/// How the operator was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FitMethod {
    /// From the accumulated Gram matrices (normal equations).
    Gram,
    /// From an SVD of the stacked states and a column-pivoted QR least squares.
    DirectLstsq,
    /// From the R factors of a TSQR ([`crate::TsqrAccumulator`]): SVD of an R factor for the
    /// basis, QR least squares on `R11 B` (the Gram estimator without squaring the condition).
    Tsqr,
}

/// Gram matrices in coefficient space (`r × r`): `A0 = X~ᵀX~`, `A01 = X~ᵀY~`, `A1 = Y~ᵀY~`.
#[derive(Debug, Clone)]
pub struct CoefficientGrams {
    /// `X~ᵀX~`.
    pub a0: Mat<f64>,
    /// `X~ᵀY~`.
    pub a01: Mat<f64>,
    /// `Y~ᵀY~`.
    pub a1: Mat<f64>,
}

/// A fitted Koopman model (KANN): basis `B`, operator `C` and one-step readout.
#[derive(Debug, Clone)]
pub struct KoopmanModel {
    /// Basis `B` (`k × r`, orthonormal columns): the top right singular vectors of the states.
    pub basis: Mat<f64>,
    /// The Koopman operator `C` (`r × r`), acting on row coefficients: `h~_{t+1} ≈ h~_t C`.
    pub koopman_operator: Mat<f64>,
    /// Readout `R` (`r × k`) of the one-step prediction `h_{t+1} ≈ h_t B R`; `R = C Bᵀ` for every
    /// estimator but exact DMD, so that `B R = B C Bᵀ` (Eq. 6).
    pub readout: Mat<f64>,
    /// All singular values of the data the basis came from (descending, length `k`).
    pub singular_values: Vec<f64>,
    /// The estimator used.
    pub estimator: Estimator,
    /// How the operator was computed.
    pub method: FitMethod,
    /// Coefficient-space Gram matrices (for residuals of eigenpairs).
    pub coefficient_grams: CoefficientGrams,
    /// Condition number of the system solved for `C` (`X~ᵀX~`, or `Q_x` for TLS).
    pub condition: f64,
    /// Number of valid states and of pairs used.
    pub num_states: usize,
    /// Number of admissible pairs used.
    pub num_pairs: usize,
    /// Documented warnings (clamped rank, ill conditioning, fallback).
    pub warnings: Vec<String>,
    /// Arithmetic the products over the states were computed in (the one-step error of
    /// [`crate::relative_error`] uses the same).
    pub precision: Precision,
}

impl KoopmanModel {
    /// Rank `r` of the basis.
    pub fn rank(&self) -> usize {
        self.basis.ncols()
    }
    /// Hidden dimension `k`.
    pub fn hidden(&self) -> usize {
        self.basis.nrows()
    }
    /// The `k × k` one-step prediction map `M = B R` (`= B C Bᵀ`, Eq. 6).
    pub fn prediction_map(&self) -> Mat<f64> {
        self.basis.as_ref() * self.readout.as_ref()
    }
    /// The `k × k` map of `l ≥ 1` steps, `B C^{l−1} R` (`= B C^l Bᵀ`).
    pub fn multi_step_map(&self, l: usize) -> Mat<f64> {
        let mut m = self.basis.clone();
        for _ in 1..l.max(1) {
            m = m.as_ref() * self.koopman_operator.as_ref();
        }
        m.as_ref() * self.readout.as_ref()
    }
}

/// Fits the Koopman operator of `states` (Sec. 3.2) in memory.
///
/// The Grams are accumulated in one pass ([`GramAccumulator`]); if the least-squares normal
/// matrix is worse conditioned than `options.condition_limit`, the fit is redone with an SVD
/// basis and a QR least squares on the stacked coefficients ([`koopman_operator_direct`]) and a
/// warning says so.
///
/// With [`Precision::Mixed`] the Grams' products are `f32` blocks summed in `f64`; when the
/// normal matrix's condition number exceeds [`MIXED_CONDITION_LIMIT`] (or is not finite) the fit
/// is redone in [`Precision::F64`], and [`KoopmanModel::precision`] says which was used.
pub fn koopman_operator(states: &States, options: &FitOptions) -> Result<KoopmanModel> {
    let mut acc = GramAccumulator::with_precision(states.hidden(), options.precision);
    acc.push(states)?;
    let model = acc.finish(options)?;
    let well_conditioned = model.condition <= MIXED_CONDITION_LIMIT; // false for NaN
    if options.precision == Precision::Mixed && !well_conditioned {
        let exact = FitOptions {
            precision: Precision::F64,
            ..*options
        };
        return koopman_operator(states, &exact);
    }
    if model.condition > options.condition_limit && options.estimator == Estimator::LeastSquares {
        let mut direct = koopman_operator_direct(states, options)?;
        direct.warnings.push(format!(
            "normal matrix X~ᵀX~ has condition {:.3e} > {:.1e}: used SVD + QR least squares on the data instead of the Gram solution",
            model.condition, options.condition_limit
        ));
        return Ok(direct);
    }
    Ok(model)
}

/// Stacks the valid rows of all sequences into one `N × k` matrix.
fn stack_valid(states: &States) -> Mat<f64> {
    let k = states.hidden();
    let mut m = Mat::zeros(states.num_valid(), k);
    let mut row = 0;
    for i in 0..states.num_sequences() {
        let seq = states.sequence(i);
        m.as_mut().subrows_mut(row, seq.nrows()).copy_from(seq);
        row += seq.nrows();
    }
    m
}

/// Reference fit without Grams: thin SVD of the stacked valid states for `B`, then a
/// column-pivoted QR least squares `X~ C = Y~` over all admissible pairs (Eqs. 4-5).
/// Supports [`Estimator::LeastSquares`] only. Slower; used as fallback and for verification.
pub fn koopman_operator_direct(states: &States, options: &FitOptions) -> Result<KoopmanModel> {
    if options.estimator != Estimator::LeastSquares {
        return Err(KoopmanError::InvalidParameter(format!(
            "the direct (SVD + QR) fit supports least squares only, not {}",
            options.estimator
        )));
    }
    let k = states.hidden();
    let num_pairs = states.num_pairs();
    require_pairs(num_pairs)?;
    let h = stack_valid(states);
    let svd = h
        .thin_svd()
        .map_err(|e| KoopmanError::LinearAlgebra(format!("SVD of the states: {e:?}")))?;
    let mut sv: Vec<f64> = svd.S().column_vector().iter().copied().collect();
    sv.resize(k, 0.0);
    let mut warnings = Vec::new();
    let r = select_rank(options.rank, &sv, num_pairs, &mut warnings)?;
    let mut basis = svd.V().subcols(0, r).to_owned();
    fix_signs(&mut basis);
    // Coefficients of X (rows with a successor) and Y (rows with a predecessor).
    let coeffs = h.as_ref() * basis.as_ref();
    let mut x = Mat::zeros(num_pairs, r);
    let mut y = Mat::zeros(num_pairs, r);
    let (mut row, mut p) = (0, 0);
    for &len in states.lengths() {
        for t in 0..len.saturating_sub(1) {
            for j in 0..r {
                x[(p, j)] = coeffs[(row + t, j)];
                y[(p, j)] = coeffs[(row + t + 1, j)];
            }
            p += 1;
        }
        row += len;
    }
    if num_pairs < r {
        return Err(KoopmanError::InvalidRank {
            rank: r,
            reason: format!("only {num_pairs} pairs for a {r}-dimensional least squares"),
        });
    }
    let qr = x.col_piv_qr();
    let mut rhs = y.clone();
    qr.solve_lstsq_in_place(rhs.as_mut());
    let c = rhs.subrows(0, r).to_owned();
    let a0 = x.transpose() * x.as_ref();
    let a01 = x.transpose() * y.as_ref();
    let a1 = y.transpose() * y.as_ref();
    let condition = sym_condition(a0.as_ref())?;
    let readout = c.as_ref() * basis.transpose();
    Ok(KoopmanModel {
        basis,
        koopman_operator: c,
        readout,
        singular_values: sv,
        estimator: Estimator::LeastSquares,
        method: FitMethod::DirectLstsq,
        coefficient_grams: CoefficientGrams { a0, a01, a1 },
        condition,
        num_states: states.num_valid(),
        num_pairs,
        warnings,
        precision: Precision::F64,
    })
}

/// Eigen-decomposition of a symmetric matrix, eigenvalues descending.
pub(crate) fn sym_eig_desc(m: MatRef<'_, f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| KoopmanError::LinearAlgebra(format!("symmetric eigensolver: {e:?}")))?;
    let n = m.nrows();
    let s: Vec<f64> = evd.S().column_vector().iter().copied().collect();
    let u = evd.U();
    let vals: Vec<f64> = (0..n).map(|i| s[n - 1 - i]).collect();
    let vecs = Mat::from_fn(n, n, |i, j| u[(i, n - 1 - j)]);
    Ok((vals, vecs))
}

/// Condition number `λ_max / λ_min` of a symmetric positive semi-definite matrix (∞ if singular).
pub(crate) fn sym_condition(m: MatRef<'_, f64>) -> Result<f64> {
    let vals = m
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| KoopmanError::LinearAlgebra(format!("symmetric eigensolver: {e:?}")))?;
    let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(if min <= 0.0 { f64::INFINITY } else { max / min })
}

/// Makes every column's largest-magnitude entry positive (the canonical sign convention of
/// [`crate::signs`], scikit-learn's `svd_flip` rule).
pub(crate) fn fix_signs(b: &mut Mat<f64>) {
    let signs = crate::signs::canonical_basis_signs(b.as_ref());
    for (j, d) in signs.into_iter().enumerate() {
        if d < 0.0 {
            for i in 0..b.nrows() {
                b[(i, j)] = -b[(i, j)];
            }
        }
    }
}

/// Relative threshold below which a singular value counts as zero (numerical rank).
const RANK_TOL: f64 = 1e-7;

/// Chooses the rank `r` from the singular values (descending) and the number of pairs.
pub(crate) fn select_rank(
    rank: Rank,
    sv: &[f64],
    num_pairs: usize,
    warnings: &mut Vec<String>,
) -> Result<usize> {
    let k = sv.len();
    let s0 = sv.first().copied().unwrap_or(0.0);
    let numerical = sv.iter().filter(|&&x| x > s0 * RANK_TOL).count();
    if numerical == 0 {
        return Err(KoopmanError::NotEnoughData(
            "all states are zero (numerical rank 0)".into(),
        ));
    }
    let cap = k.min(num_pairs);
    match rank {
        Rank::Fixed(r) => {
            if r == 0 {
                return Err(KoopmanError::InvalidRank {
                    rank: r,
                    reason: "rank must be at least 1".into(),
                });
            }
            if r > cap {
                return Err(KoopmanError::InvalidRank {
                    rank: r,
                    reason: format!(
                        "data allow at most min(hidden {k}, pairs {num_pairs}) = {cap}"
                    ),
                });
            }
            if r > numerical {
                return Err(KoopmanError::InvalidRank {
                    rank: r,
                    reason: format!(
                        "the states have numerical rank {numerical} (singular values above {RANK_TOL:.0e} of the largest)"
                    ),
                });
            }
            Ok(r)
        }
        Rank::Energy(f) => {
            if !(f > 0.0 && f <= 1.0) {
                return Err(KoopmanError::InvalidParameter(format!(
                    "energy fraction {f} is not in (0, 1]"
                )));
            }
            let total: f64 = sv.iter().map(|x| x * x).sum();
            let mut acc = 0.0;
            let mut r = k;
            for (i, x) in sv.iter().enumerate() {
                acc += x * x;
                if acc >= f * total * (1.0 - 1e-12) {
                    r = i + 1;
                    break;
                }
            }
            Ok(r.min(cap).min(numerical).max(1))
        }
        Rank::ReferenceDefault => {
            if cap < 2 {
                return Err(KoopmanError::NotEnoughData(format!(
                    "reference default rank min(pairs {num_pairs}, hidden {k}) - 1 is 0"
                )));
            }
            let r = cap - 1;
            if r > numerical {
                warnings.push(format!(
                    "reference default rank {r} exceeds the numerical rank {numerical} of the states; using {numerical}"
                ));
                return Ok(numerical);
            }
            Ok(r)
        }
    }
}

fn congruence(b: MatRef<'_, f64>, g: MatRef<'_, f64>) -> Mat<f64> {
    let gb = g * b;
    b.transpose() * gb.as_ref()
}

/// Solves `A X = rhs` for symmetric positive definite `A` (Cholesky, LU fallback).
fn spd_solve(a: MatRef<'_, f64>, rhs: MatRef<'_, f64>) -> Mat<f64> {
    match a.llt(Side::Lower) {
        Ok(llt) => llt.solve(rhs),
        Err(_) => a.partial_piv_lu().solve(rhs),
    }
}

/// An error unless there is at least one pair `(h_t, h_{t+1})` to fit on.
pub(crate) fn require_pairs(num_pairs: usize) -> Result<()> {
    if num_pairs == 0 {
        return Err(KoopmanError::NotEnoughData(
            "no sequence has two valid time steps, so there is no pair (h_t, h_t+1)".into(),
        ));
    }
    Ok(())
}

/// The checks a fit from accumulated sums ends with: a warning when `system` (what was solved
/// for `C`) has a condition number `condition` above `limit` (or not finite), and an error if `C`
/// has NaN entries.
pub(crate) fn check_solution(
    c: MatRef<'_, f64>,
    system: &str,
    condition: f64,
    limit: f64,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if !condition.is_finite() || condition > limit {
        warnings.push(format!(
            "{system} has condition {condition:.3e} (limit {limit:.1e}): C may be inaccurate; lower the rank"
        ));
    }
    if c.norm_l2().is_nan() {
        return Err(KoopmanError::LinearAlgebra(
            "operator C has NaN entries (singular system); lower the rank".into(),
        ));
    }
    Ok(())
}

/// Fits a model from accumulated Grams (used by [`GramAccumulator::finish`]).
pub(crate) fn fit_from_grams(grams: &Grams, options: &FitOptions) -> Result<KoopmanModel> {
    require_pairs(grams.num_pairs)?;
    let mut warnings = Vec::new();
    // Basis: top eigenvectors of G (= right singular vectors of H), or of G0 for exact DMD.
    let basis_gram = match options.estimator {
        Estimator::ExactDmd => grams.g0.as_ref(),
        _ => grams.g.as_ref(),
    };
    let (evals, evecs) = sym_eig_desc(basis_gram)?;
    let sv: Vec<f64> = evals.iter().map(|&x| x.max(0.0).sqrt()).collect();
    let r = select_rank(options.rank, &sv, grams.num_pairs, &mut warnings)?;
    let mut basis = evecs.subcols(0, r).to_owned();
    fix_signs(&mut basis);
    let a0 = congruence(basis.as_ref(), grams.g0.as_ref());
    let a01 = basis.transpose() * (grams.g01.as_ref() * basis.as_ref());
    let a1 = congruence(basis.as_ref(), grams.g1.as_ref());
    let (c, readout, condition) = match options.estimator {
        Estimator::LeastSquares => {
            let cond = sym_condition(a0.as_ref())?;
            let c = spd_solve(a0.as_ref(), a01.as_ref());
            let readout = c.as_ref() * basis.transpose();
            (c, readout, cond)
        }
        Estimator::Ridge { alpha } => {
            if !(alpha >= 0.0 && alpha.is_finite()) {
                return Err(KoopmanError::InvalidParameter(format!(
                    "ridge alpha {alpha} must be finite and >= 0"
                )));
            }
            let trace: f64 = (0..r).map(|i| a0[(i, i)]).sum();
            let shift = alpha * trace / r as f64;
            let mut reg = a0.clone();
            for i in 0..r {
                reg[(i, i)] += shift;
            }
            let cond = sym_condition(reg.as_ref())?;
            let c = spd_solve(reg.as_ref(), a01.as_ref());
            let readout = c.as_ref() * basis.transpose();
            (c, readout, cond)
        }
        Estimator::ExactDmd => {
            let cond = sym_condition(a0.as_ref())?;
            let c = spd_solve(a0.as_ref(), a01.as_ref());
            let bt_g01 = basis.transpose() * grams.g01.as_ref();
            let readout = spd_solve(a0.as_ref(), bt_g01.as_ref());
            (c, readout, cond)
        }
        Estimator::TotalLeastSquares => {
            let mut s = Mat::zeros(2 * r, 2 * r);
            s.as_mut().submatrix_mut(0, 0, r, r).copy_from(a0.as_ref());
            s.as_mut().submatrix_mut(0, r, r, r).copy_from(a01.as_ref());
            s.as_mut()
                .submatrix_mut(r, 0, r, r)
                .copy_from(a01.transpose());
            s.as_mut().submatrix_mut(r, r, r, r).copy_from(a1.as_ref());
            let (_, q) = sym_eig_desc(s.as_ref())?;
            let qx_t = q.submatrix(0, 0, r, r).transpose().to_owned();
            let qy_t = q.submatrix(r, 0, r, r).transpose().to_owned();
            let svals = qx_t
                .singular_values()
                .map_err(|e| KoopmanError::LinearAlgebra(format!("SVD of Q_x: {e:?}")))?;
            let cond = match (svals.first(), svals.last()) {
                (Some(&a), Some(&b)) if b > 0.0 => a / b,
                _ => f64::INFINITY,
            };
            let c = qx_t.partial_piv_lu().solve(qy_t.as_ref());
            let readout = c.as_ref() * basis.transpose();
            (c, readout, cond * cond)
        }
    };
    check_solution(
        c.as_ref(),
        "system solved for C",
        condition,
        options.condition_limit,
        &mut warnings,
    )?;
    Ok(KoopmanModel {
        basis,
        koopman_operator: c,
        readout,
        singular_values: sv,
        estimator: options.estimator,
        method: FitMethod::Gram,
        coefficient_grams: CoefficientGrams { a0, a01, a1 },
        condition,
        num_states: grams.num_states,
        num_pairs: grams.num_pairs,
        warnings,
        precision: grams.precision,
    })
}
