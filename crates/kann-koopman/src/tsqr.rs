//! The fit from R factors instead of Gram matrices (TSQR: tall-skinny QR), the numerically robust
//! reduce step of a streaming or distributed fit.
//!
//! With `X` the stack of states `h_t` that have a successor, `Y` the stack of their successors
//! `h_{t+1}` (the pairs [`crate::GramAccumulator`] uses: within each sequence's valid steps,
//! never across two sequences) and `L` the stack of every sequence's last valid state, the
//! accumulator keeps only
//!
//! - `R` (`2k × 2k`, upper triangular), the R factor of the QR decomposition `[X | Y] = Q R`;
//! - `R_L` (`k × k`), the R factor of `L`;
//!
//! and the counts. Two partials merge by stacking their R factors and factoring again
//! (`R = qr([R_a; R_b])`, since `[R_a; R_b]ᵀ[R_a; R_b] = [X_a|Y_a]ᵀ[X_a|Y_a] + [X_b|Y_b]ᵀ[X_b|Y_b]`);
//! a batch is cut into blocks of rows, each core factors its blocks on top of its running R, and
//! the cores' factors are stacked and factored once more: the same map-reduce shape as the Gram
//! sums.
//!
//! Writing `R = [[R11, R12], [0, R22]]` (blocks `k × k`), every Gram of [`crate::Grams`] is a
//! product of R blocks: `G0 = XᵀX = R11ᵀR11`, `G01 = XᵀY = R11ᵀR12`,
//! `G1 = YᵀY = R12ᵀR12 + R22ᵀR22` and `G = HᵀH = XᵀX + LᵀL = [R11; R_L]ᵀ[R11; R_L]`. The fit
//! ([`Accumulator::finish`] of [`TsqrAccumulator`]) is the estimator of
//! [`crate::GramAccumulator::finish`] (the same basis, rank choice, sign convention and operator
//! in exact arithmetic), but it never forms a Gram: the basis comes from an SVD of `[R11; R_L]` (singular values of the states, not their
//! squares) and `C` from a QR least squares on `R11 B`, so the error grows with the condition
//! number `κ` of the states instead of `κ²`.
//!
//! # When each is right
//!
//! - **Gram** ([`crate::GramAccumulator`]): the cheapest. A block costs two matrix products
//!   (about `3 k²` multiply-adds per state, at GEMM speed), a partial is `4 k²` numbers (`G`,
//!   `G01` and the two boundary terms), a merge is an addition. The normal equations square the
//!   condition number: `C` carries a relative error of about `eps · κ(X~)²`, fine while the
//!   states' condition number `κ` is well below `1/√eps ≈ 1e8` (in practice: `fit.condition`,
//!   which is `κ(X~)²`, well below `1e10`, the default `condition_limit`), as for every GRU of
//!   the paper.
//! - **TSQR** ([`TsqrAccumulator`]): when `κ` is large: saturated units, nearly collinear
//!   units, a unit on a scale far below the others. A block costs a Householder QR of its
//!   `m × 2k` pairs stacked under the running R (about `8 k²` multiply-adds per pair, at QR
//!   rather than GEMM speed; measured in docs/python.md), a partial is `(2k)² + k²` numbers
//!   (the upper triangles hold all of it), a merge is a QR of the stacked factors
//!   (`O(k³)`). The error of `C` is about `eps · κ(X~)`.
//!
//! Measured on the planted system of the test `ill_conditioned_system_tsqr_beats_gram`
//! (`tests/tsqr.rs`: 6 units, noise-free linear dynamics with eigenvalues known, one mode
//! excited `1e-6` times less than the others, so the states have `κ` ≈ 1.9e6 and
//! `fit.condition` = `κ(X~)²` = 3.7e12; the least squares is exact, every error is rounding):
//! the Gram fit's eigenvalues are off by up to 1.9e-4, the TSQR fit's by 1.4e-10.

use crate::accumulator::Accumulator;
use crate::error::{KoopmanError, Result};
use crate::fit::{
    CoefficientGrams, Estimator, FitMethod, FitOptions, KoopmanModel, check_solution, fix_signs,
    require_pairs, select_rank,
};
use crate::gram::{
    BLOCK_ROWS, Elem, Precision, blocks_of, check_hidden, row_major, run_split, square_field,
    valid_sequences,
};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor as qr;
use faer::linalg::solvers::{Solve, SolveLstsq};
use faer::{Mat, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

/// The R factor (`n × n`, upper triangular with a non-negative diagonal) of the QR decomposition
/// of `a` (`m × n`, overwritten). With `m < n` the rows past `m` are zero; `RᵀR = aᵀa` always.
fn r_factor(mut a: MatMut<'_, f64>) -> Mat<f64> {
    let (m, n) = (a.nrows(), a.ncols());
    let mut r = Mat::zeros(n, n);
    if m == 0 || n == 0 {
        return r;
    }
    let size = m.min(n);
    let block = qr::recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, size);
    let mut mem = MemBuffer::new(qr::qr_in_place_scratch::<f64>(
        m,
        n,
        block,
        Par::Seq,
        Default::default(),
    ));
    qr::qr_in_place(
        a.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    );
    for i in 0..size {
        // The sign of a row of R is free (Q absorbs it): a non-negative diagonal makes R unique
        // for data of full column rank.
        let sign = if a[(i, i)] < 0.0 { -1.0 } else { 1.0 };
        for j in i..n {
            r[(i, j)] = sign * a[(i, j)];
        }
    }
    r
}

/// The R factor of the rows of all `parts` stacked (all with the same number of columns).
fn stacked_r(parts: &[MatRef<'_, f64>]) -> Mat<f64> {
    let n = parts[0].ncols();
    let m: usize = parts.iter().map(|p| p.nrows()).sum();
    let mut a = Mat::zeros(m, n);
    let mut row = 0;
    for p in parts {
        a.as_mut().subrows_mut(row, p.nrows()).copy_from(p);
        row += p.nrows();
    }
    r_factor(a.as_mut())
}

/// `R` of `[X | Y]` over the pairs of the given blocks of `seqs` (blocks of pair indices: the
/// pair `p` of a sequence is `(h_p, h_{p+1})`), factored by one core: the blocks' rows are
/// gathered under the running R, `cap` at a time, and each batch is factored with it.
fn tsqr_blocks<T: Elem>(seqs: &[&[T]], k: usize, blocks: &[(usize, usize, usize)]) -> Mat<f64> {
    let n = 2 * k;
    // At least 4n rows per QR: a QR of (n + cap) × n rows costs 2 n² per row plus 4n³/3 for the
    // R on top, which is then 1/6 of the rows' own cost.
    let cap = (4 * n).max(BLOCK_ROWS);
    let mut r = Mat::<f64>::zeros(n, n);
    let mut buf = Mat::<f64>::zeros(n + cap, n);
    let mut fill = 0;
    let flush = |buf: &mut Mat<f64>, r: &mut Mat<f64>, fill: usize| {
        buf.as_mut().subrows_mut(0, n).copy_from(r.as_ref());
        *r = r_factor(buf.as_mut().subrows_mut(0, n + fill));
    };
    for &(i, a, b) in blocks {
        if fill + (b - a) > cap {
            flush(&mut buf, &mut r, fill);
            fill = 0;
        }
        let seq = seqs[i];
        for p in a..b {
            let row = n + fill + (p - a);
            for j in 0..k {
                buf[(row, j)] = seq[p * k + j].to_f64();
                buf[(row, k + j)] = seq[(p + 1) * k + j].to_f64();
            }
        }
        fill += b - a;
    }
    if fill > 0 {
        flush(&mut buf, &mut r, fill);
    }
    r
}

/// The complete state of a [`TsqrAccumulator`] as plain data (row-major matrices), for
/// serialisation ([`TsqrAccumulator::to_parts`], [`TsqrAccumulator::from_parts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsqrParts {
    /// Hidden size `k`.
    pub hidden: usize,
    /// `R` of `[X | Y]` (row-major `2k × 2k`, upper triangular).
    pub r: Vec<f64>,
    /// `R_L` of the stacked last states of the sequences (row-major `k × k`, upper triangular).
    pub r_last: Vec<f64>,
    /// Valid states pushed.
    pub num_states: usize,
    /// Pairs pushed.
    pub num_pairs: usize,
    /// Sequences pushed.
    pub num_sequences: usize,
}

/// Streaming, mergeable accumulator of the R factors of the fit (see the [module](self) docs),
/// used through [`Accumulator`]: `push_*` batches of sequences, `merge` accumulators of other
/// batches, then `finish` with the fit options to get the model
/// [`crate::GramAccumulator::finish`] would give, computed without squaring the condition
/// number. Holds `5 k²` numbers, plus one gathering buffer of `(2k + max(8k, 256)) × 2k` per
/// core while pushing. Always `f64`.
#[derive(Debug, Clone)]
pub struct TsqrAccumulator {
    k: usize,
    r: Mat<f64>,
    r_last: Mat<f64>,
    num_states: usize,
    num_pairs: usize,
    num_sequences: usize,
}

impl TsqrAccumulator {
    /// A fresh accumulator for states of hidden dimension `k`.
    pub fn new(k: usize) -> Self {
        TsqrAccumulator {
            k,
            r: Mat::zeros(2 * k, 2 * k),
            r_last: Mat::zeros(k, k),
            num_states: 0,
            num_pairs: 0,
            num_sequences: 0,
        }
    }

    /// Number of pairs pushed so far.
    pub fn num_pairs(&self) -> usize {
        self.num_pairs
    }

    /// `R` of `[X | Y]` (`2k × 2k`, upper triangular, non-negative diagonal).
    pub fn r(&self) -> MatRef<'_, f64> {
        self.r.as_ref()
    }

    /// `R_L` of the stacked last states (`k × k`, upper triangular, non-negative diagonal).
    pub fn r_last(&self) -> MatRef<'_, f64> {
        self.r_last.as_ref()
    }

    /// Validates a whole batch (so that a bad one adds nothing), then adds it.
    fn push_generic<T: Elem>(
        &mut self,
        data: &[T],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        let seqs = valid_sequences(data, s, n, self.k, lengths)?;
        self.push_seqs(&seqs);
        Ok(())
    }

    /// Adds sequences given as their row-major valid rows (`len · k` values each).
    fn push_seqs<T: Elem>(&mut self, seqs: &[&[T]]) {
        let k = self.k;
        // Blocks of pairs: sequence i has len − 1 of them.
        let blocks = blocks_of(
            seqs.iter().map(|s| (s.len() / k).saturating_sub(1)),
            BLOCK_ROWS,
        );
        let partials = run_split(blocks.len(), |r| tsqr_blocks(seqs, k, &blocks[r]));
        let mut parts = vec![self.r.as_ref()];
        parts.extend(partials.iter().map(Mat::as_ref));
        self.r = stacked_r(&parts);
        let mut last = Vec::with_capacity(seqs.len() * k);
        for seq in seqs {
            let len = seq.len() / k;
            if len == 0 {
                continue;
            }
            last.extend(seq[(len - 1) * k..].iter().map(|&x| x.to_f64()));
            self.num_states += len;
            self.num_pairs += len - 1;
            self.num_sequences += 1;
        }
        let rows = last.len() / k;
        let l = MatRef::from_row_major_slice(&last, rows, k);
        self.r_last = stacked_r(&[self.r_last.as_ref(), l]);
    }

    /// The accumulator's complete state as plain data; [`Self::from_parts`] restores it exactly.
    pub fn to_parts(&self) -> TsqrParts {
        TsqrParts {
            hidden: self.k,
            r: row_major(self.r.as_ref()),
            r_last: row_major(self.r_last.as_ref()),
            num_states: self.num_states,
            num_pairs: self.num_pairs,
            num_sequences: self.num_sequences,
        }
    }

    /// Restores an accumulator from [`Self::to_parts`]; an error naming the field whose length
    /// does not match (`4 hidden²` for `r`, `hidden²` for `r_last`), that holds a non-finite
    /// value, or that is not upper triangular.
    pub fn from_parts(parts: &TsqrParts) -> Result<Self> {
        let k = parts.hidden;
        let mat = |name: &str, v: &[f64], n: usize| -> Result<Mat<f64>> {
            let m = square_field(name, v, n, k)?;
            if let Some(p) = (0..n * n).find(|&p| p / n > p % n && v[p] != 0.0) {
                return Err(KoopmanError::InvalidParameter(format!(
                    "accumulator field {name} is not upper triangular: entry ({}, {}) is {}",
                    p / n,
                    p % n,
                    v[p]
                )));
            }
            Ok(m)
        };
        Ok(TsqrAccumulator {
            k,
            r: mat("r", &parts.r, 2 * k)?,
            r_last: mat("r_last", &parts.r_last, k)?,
            num_states: parts.num_states,
            num_pairs: parts.num_pairs,
            num_sequences: parts.num_sequences,
        })
    }
}

impl Accumulator for TsqrAccumulator {
    fn empty_like(&self) -> Self {
        TsqrAccumulator::new(self.k)
    }

    fn hidden(&self) -> usize {
        self.k
    }

    /// Always [`Precision::F64`].
    fn precision(&self) -> Precision {
        Precision::F64
    }

    fn num_sequences(&self) -> usize {
        self.num_sequences
    }

    fn num_states(&self) -> usize {
        self.num_states
    }

    fn push_f32(
        &mut self,
        data: &[f32],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        self.push_generic(data, s, n, lengths)
    }

    fn push_f64(
        &mut self,
        data: &[f64],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        self.push_generic(data, s, n, lengths)
    }

    /// Adds everything `other` accumulated (its sequences) to `self`: `R = qr([R; R_other])`
    /// and `R_L = qr([R_L; R_L,other])`. The result equals one accumulator fed both sets of
    /// batches up to rounding (the R factors are unique: non-negative diagonals). An error if
    /// the hidden sizes differ.
    fn merge(&mut self, other: &TsqrAccumulator) -> Result<()> {
        check_hidden(other.k, self.k)?;
        self.r = stacked_r(&[self.r.as_ref(), other.r.as_ref()]);
        self.r_last = stacked_r(&[self.r_last.as_ref(), other.r_last.as_ref()]);
        self.num_states += other.num_states;
        self.num_pairs += other.num_pairs;
        self.num_sequences += other.num_sequences;
        Ok(())
    }

    /// Fits the Koopman model from the R factors (Sec. 3.2, Eqs. 4-5), the estimator of
    /// [`crate::GramAccumulator::finish`] without its Grams:
    ///
    /// - basis `B` (Eq. 5): the top-`r` right singular vectors of `[R11; R_L]` (of `R11` for
    ///   exact DMD), whose singular values are those of the states `H` (of `X`), since
    ///   `[R11; R_L]ᵀ[R11; R_L] = HᵀH = G`; rank choice and signs as the Gram fit;
    /// - coefficients `X~ = X B = Q1 (R11 B)` and `Y~ = Y B = Q1 (R12 B) + Q2 (R22 B)`, so
    ///   `|X~ C − Y~|²_F = |R11 B C − R12 B|²_F + |R22 B|²_F` and the least squares of Eq. 4 is
    ///   the `k × r` problem `min |(R11 B) C − R12 B|` (column-pivoted QR), never `X~ᵀX~`;
    /// - ridge: the same problem with the rows `√δ I` (and zeros) appended, `δ = α·tr(X~ᵀX~)/r`;
    /// - exact DMD: `C` as least squares, readout `R = argmin |(R11 B) R − R12|`
    ///   (`= (X~ᵀX~)⁻¹ Bᵀ G01`);
    /// - TLS DMD: `Q` = the right singular vectors of `[[R11 B, R12 B], [0, R22 B]]` (whose Gram
    ///   is the coefficient Gram `[[A0, A01], [A01ᵀ, A1]]`).
    ///
    /// [`KoopmanModel::condition`] is the same quantity as the Gram fit's (the condition number
    /// of `X~ᵀX~`, of `Q_xᵀQ_x` for TLS), computed as the squared ratio of singular values; the
    /// system actually solved has its square root, and the warning fires when that exceeds
    /// `options.condition_limit`. `options.precision` is ignored (always `f64`);
    /// [`KoopmanModel::method`] is [`FitMethod::Tsqr`].
    fn finish(&self, options: &FitOptions) -> Result<KoopmanModel> {
        require_pairs(self.num_pairs)?;
        let k = self.k;
        let r11 = self.r.submatrix(0, 0, k, k);
        let r12 = self.r.submatrix(0, k, k, k);
        let r22 = self.r.submatrix(k, k, k, k);
        let mut warnings = Vec::new();
        // Basis: right singular vectors of [R11; R_L] (of H), or of R11 (of X) for exact DMD.
        let source = match options.estimator {
            Estimator::ExactDmd => r11.to_owned(),
            _ => {
                let mut m = Mat::zeros(2 * k, k);
                m.as_mut().subrows_mut(0, k).copy_from(r11);
                m.as_mut().subrows_mut(k, k).copy_from(self.r_last.as_ref());
                m
            }
        };
        let svd = source
            .thin_svd()
            .map_err(|e| KoopmanError::LinearAlgebra(format!("SVD of the R factor: {e:?}")))?;
        let sv: Vec<f64> = svd.S().column_vector().iter().copied().collect();
        let r = select_rank(options.rank, &sv, self.num_pairs, &mut warnings)?;
        let mut basis = svd.V().subcols(0, r).to_owned();
        fix_signs(&mut basis);
        let x = r11 * basis.as_ref();
        let y1 = r12 * basis.as_ref();
        let y2 = r22 * basis.as_ref();
        let a0 = x.transpose() * x.as_ref();
        let a01 = x.transpose() * y1.as_ref();
        let a1 = y1.transpose() * y1.as_ref() + y2.transpose() * y2.as_ref();
        let lstsq = |a: MatRef<'_, f64>, b: MatRef<'_, f64>| -> Mat<f64> {
            let mut rhs = b.to_owned();
            a.col_piv_qr().solve_lstsq_in_place(rhs.as_mut());
            rhs.subrows(0, a.ncols()).to_owned()
        };
        let (c, readout, condition) = match options.estimator {
            Estimator::LeastSquares | Estimator::ExactDmd => {
                let c = lstsq(x.as_ref(), y1.as_ref());
                let readout = match options.estimator {
                    Estimator::ExactDmd => lstsq(x.as_ref(), r12),
                    _ => c.as_ref() * basis.transpose(),
                };
                (c, readout, squared_condition(x.as_ref(), 0.0)?)
            }
            Estimator::Ridge { alpha } => {
                if !(alpha >= 0.0 && alpha.is_finite()) {
                    return Err(KoopmanError::InvalidParameter(format!(
                        "ridge alpha {alpha} must be finite and >= 0"
                    )));
                }
                let trace: f64 = (0..r).map(|i| a0[(i, i)]).sum();
                let shift = alpha * trace / r as f64;
                let mut a = Mat::zeros(k + r, r);
                a.as_mut().subrows_mut(0, k).copy_from(x.as_ref());
                let mut b = Mat::zeros(k + r, r);
                b.as_mut().subrows_mut(0, k).copy_from(y1.as_ref());
                for i in 0..r {
                    a[(k + i, i)] = shift.sqrt();
                }
                let c = lstsq(a.as_ref(), b.as_ref());
                let readout = c.as_ref() * basis.transpose();
                (c, readout, squared_condition(x.as_ref(), shift)?)
            }
            Estimator::TotalLeastSquares => {
                let mut z = Mat::zeros(2 * k, 2 * r);
                z.as_mut().submatrix_mut(0, 0, k, r).copy_from(x.as_ref());
                z.as_mut().submatrix_mut(0, r, k, r).copy_from(y1.as_ref());
                z.as_mut().submatrix_mut(k, r, k, r).copy_from(y2.as_ref());
                let zsvd = z.thin_svd().map_err(|e| {
                    KoopmanError::LinearAlgebra(format!("SVD of the coefficient R factor: {e:?}"))
                })?;
                let q = zsvd.V();
                let qx_t = q.submatrix(0, 0, r, r).transpose().to_owned();
                let qy_t = q.submatrix(r, 0, r, r).transpose().to_owned();
                let cond = squared_condition(qx_t.as_ref(), 0.0)?;
                let c = qx_t.partial_piv_lu().solve(qy_t.as_ref());
                let readout = c.as_ref() * basis.transpose();
                (c, readout, cond)
            }
        };
        // The QR solves the system itself, whose condition is the square root.
        check_solution(
            c.as_ref(),
            "system solved for C by QR",
            condition.sqrt(),
            options.condition_limit,
            &mut warnings,
        )?;
        Ok(KoopmanModel {
            basis,
            koopman_operator: c,
            readout,
            singular_values: sv,
            estimator: options.estimator,
            method: FitMethod::Tsqr,
            coefficient_grams: CoefficientGrams { a0, a01, a1 },
            condition,
            num_states: self.num_states,
            num_pairs: self.num_pairs,
            warnings,
            precision: Precision::F64,
        })
    }
}

/// `(σ_max² + δ) / (σ_min² + δ)` for the singular values `σ` of `m`: the condition number of
/// `mᵀm + δ I` without forming it (∞ when singular).
fn squared_condition(m: MatRef<'_, f64>, shift: f64) -> Result<f64> {
    let s = m
        .singular_values()
        .map_err(|e| KoopmanError::LinearAlgebra(format!("singular values: {e:?}")))?;
    let (max, min) = match (s.first(), s.last()) {
        (Some(&a), Some(&b)) => (a * a + shift, b * b + shift),
        _ => return Ok(f64::INFINITY),
    };
    Ok(if min > 0.0 { max / min } else { f64::INFINITY })
}
