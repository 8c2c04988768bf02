//! Koopman prediction (Eq. 6), its relative error (Eq. 12) and multi-step prediction (Sec. 3.4).

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use crate::gram::{Block, Elem, Precision, batch_push, blocks_of, rows_f32, rows_f64, run_split};
use crate::spectrum::Spectrum;
use crate::states::States;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, c64};
use serde::{Deserialize, Serialize};

/// One-step prediction `H^KANN_{t+1} = H_t B C Bᵀ` (Eq. 6) of every valid step `t ≥ 1`; step 0
/// (nothing to predict it from) and padded steps are copied unchanged.
pub fn predict_one_step(states: &States, model: &KoopmanModel) -> Result<States> {
    check_model(states.hidden(), model)?;
    let m = model.prediction_map();
    let (s, n, k) = (states.num_sequences(), states.seq_len(), states.hidden());
    let mut out = states.data().to_vec();
    for i in 0..s {
        let len = states.lengths()[i];
        if len < 2 {
            continue;
        }
        let x = states.sequence(i).subrows(0, len - 1);
        let p = x * m.as_ref();
        for t in 1..len {
            for j in 0..k {
                out[(i * n + t) * k + j] = p[(t - 1, j)];
            }
        }
    }
    States::new_with_lengths(out, s, n, k, states.lengths().to_vec())
}

fn check_model(k: usize, model: &KoopmanModel) -> Result<()> {
    if model.hidden() != k {
        return Err(KoopmanError::Shape(format!(
            "states have hidden dimension {k}, model expects {}",
            model.hidden()
        )));
    }
    Ok(())
}

/// The relative error of Eq. 12 with its bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelativeError {
    /// `e_rel = mean over admissible (s,t) of |h^KANN_{s,t} − h_{s,t}|² / |h_{s,t}|²`.
    pub e_rel: f64,
    /// Number of admissible targets `(s, t)` (valid steps with a valid predecessor) averaged.
    pub count: usize,
    /// Targets with `|h| = 0` excluded from the mean (their ratio is undefined).
    pub zero_norm_skipped: usize,
}

/// Accumulates the relative error of Eq. 12 batch by batch (the second pass of a streaming
/// analysis; also used in memory). The predictions `h_t M` are computed in blocks of 1024
/// pairs shared out to the cores, in the accumulator's [`Precision`]; the
/// differences `h^KANN − h` and the sums are always `f64`.
#[derive(Debug, Clone)]
pub struct RelativeErrorAccumulator {
    map: Mat<f64>,
    map_f32: Mat<f32>,
    precision: Precision,
    sum: f64,
    count: usize,
    zero: usize,
}

/// Rows per block of the predictions. The `f32` sums of a prediction run over the `k` units, not
/// over the rows, so the block size does not change the error; larger blocks pack `M` less often.
const PRED_BLOCK_ROWS: usize = 1024;

/// `|p − y|²` and `|y|²` in `f64`, in 8 independent lanes so that the loop vectorises.
fn diff_norms<P: Copy, T: Elem>(p: &[P], y: &[T], to_f64: impl Fn(P) -> f64) -> (f64, f64) {
    let (mut num, mut den) = ([0.0f64; 8], [0.0f64; 8]);
    let (pc, yc) = (p.chunks_exact(8), y.chunks_exact(8));
    let (pr, yr) = (pc.remainder(), yc.remainder());
    for (p8, y8) in pc.zip(yc) {
        for l in 0..8 {
            let y = y8[l].to_f64();
            let d = to_f64(p8[l]) - y;
            num[l] += d * d;
            den[l] += y * y;
        }
    }
    for (&p, &y) in pr.iter().zip(yr) {
        let y = y.to_f64();
        let d = to_f64(p) - y;
        num[0] += d * d;
        den[0] += y * y;
    }
    (num.iter().sum(), den.iter().sum())
}

/// `(Σ ratio, count, zero-norm targets)` of some blocks.
type ErrSums = (f64, usize, usize);

impl RelativeErrorAccumulator {
    /// An accumulator for the one-step error of `model` (Eq. 6 / Eq. 12), in the precision
    /// `model` was fitted in.
    pub fn new(model: &KoopmanModel) -> Self {
        Self::with_map(model.prediction_map()).with_precision(model.precision)
    }

    /// An accumulator for an arbitrary `k × k` one-step map `h_{t+1} ≈ h_t M` (`f64` products).
    pub fn with_map(map: Mat<f64>) -> Self {
        RelativeErrorAccumulator {
            map,
            map_f32: Mat::zeros(0, 0),
            precision: Precision::F64,
            sum: 0.0,
            count: 0,
            zero: 0,
        }
    }

    /// The same accumulator computing the predictions in `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self.map_f32 = match precision {
            Precision::Mixed => {
                let m = &self.map;
                Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f32)
            }
            Precision::F64 => Mat::zeros(0, 0),
        };
        self
    }

    /// Sums of the blocks `blocks` of `seqs` (row-major valid rows of each sequence); a block
    /// `(i, a, b)` covers the targets `t + 1` for `a ≤ t < b`.
    fn block_sums<T: Elem>(&self, seqs: &[&[T]], blocks: &[Block]) -> Vec<ErrSums> {
        let k = self.map.nrows();
        let mut pred64 = Mat::<f64>::zeros(0, 0);
        let mut pred32 = Mat::<f32>::zeros(0, 0);
        let (mut buf32, mut buf64) = (Vec::new(), Vec::new());
        let mut out = Vec::with_capacity(blocks.len());
        for &(i, a, b) in blocks {
            let m = b - a;
            let seq = seqs[i];
            let x = &seq[a * k..b * k];
            // predᵀ = Mᵀ Xᵀ, column-major k × m: each prediction is a contiguous column.
            match self.precision {
                Precision::F64 => {
                    let x = MatRef::from_row_major_slice(rows_f64(x, &mut buf64), m, k);
                    if pred64.ncols() != m {
                        pred64 = Mat::zeros(k, m);
                    }
                    matmul(
                        pred64.as_mut(),
                        Accum::Replace,
                        self.map.transpose(),
                        x.transpose(),
                        1.0,
                        Par::Seq,
                    );
                }
                Precision::Mixed => {
                    let x = MatRef::from_row_major_slice(rows_f32(x, &mut buf32), m, k);
                    if pred32.ncols() != m {
                        pred32 = Mat::zeros(k, m);
                    }
                    matmul(
                        pred32.as_mut(),
                        Accum::Replace,
                        self.map_f32.transpose(),
                        x.transpose(),
                        1.0f32,
                        Par::Seq,
                    );
                }
            }
            let (mut sum, mut count, mut zero) = (0.0, 0, 0);
            for t in 0..m {
                let y = &seq[(a + t + 1) * k..(a + t + 2) * k];
                let (num, den) = match self.precision {
                    Precision::F64 => diff_norms(pred64.col_as_slice(t), y, |p| p),
                    Precision::Mixed => diff_norms(pred32.col_as_slice(t), y, |p| p as f64),
                };
                if den > 0.0 {
                    sum += num / den;
                    count += 1;
                } else {
                    zero += 1;
                }
            }
            out.push((sum, count, zero));
        }
        out
    }

    /// Adds the targets of `seqs` (row-major valid rows of each sequence). The block sums are
    /// added in block order, so the result does not depend on the number of cores.
    fn push_seqs<T: Elem>(&mut self, seqs: &[&[T]]) {
        let k = self.map.nrows();
        let pairs = seqs.iter().map(|s| (s.len() / k).saturating_sub(1));
        let blocks = blocks_of(pairs, PRED_BLOCK_ROWS);
        let parts = run_split(blocks.len(), |r| self.block_sums(seqs, &blocks[r]));
        for (sum, count, zero) in parts.into_iter().flatten() {
            self.sum += sum;
            self.count += count;
            self.zero += zero;
        }
    }

    /// Adds every admissible target of `states`.
    pub fn push(&mut self, states: &States) -> Result<()> {
        if states.hidden() != self.map.nrows() {
            return Err(KoopmanError::Shape(format!(
                "states have hidden dimension {}, model expects {}",
                states.hidden(),
                self.map.nrows()
            )));
        }
        let seqs: Vec<&[f64]> = (0..states.num_sequences())
            .map(|i| states.sequence_slice(i))
            .collect();
        self.push_seqs(&seqs);
        Ok(())
    }

    batch_push!(hidden);

    /// Hidden size `k` of the states it scores.
    pub fn hidden(&self) -> usize {
        self.map.nrows()
    }

    /// The running sums `(Σ ratio, admissible targets, zero-norm targets skipped)`: the partial
    /// result of one chunk in a distributed `e_rel` pass (add the sums of all chunks, then
    /// `e_rel = Σ ratio / targets`).
    pub fn sums(&self) -> (f64, usize, usize) {
        (self.sum, self.count, self.zero)
    }

    /// The relative error so far; an error if no admissible target was seen.
    pub fn finish(&self) -> Result<RelativeError> {
        if self.count == 0 {
            return Err(KoopmanError::NotEnoughData(
                "no admissible target state (valid step with a valid predecessor and |h| > 0)"
                    .into(),
            ));
        }
        Ok(RelativeError {
            e_rel: self.sum / self.count as f64,
            count: self.count,
            zero_norm_skipped: self.zero,
        })
    }
}

/// Relative error `e_rel` of the one-step prediction (Eq. 12), masked: only targets `h_{s,t}`
/// with `1 ≤ t < len_s` enter the mean.
pub fn relative_error(states: &States, model: &KoopmanModel) -> Result<RelativeError> {
    check_model(states.hidden(), model)?;
    let mut acc = RelativeErrorAccumulator::new(model);
    acc.push(states)?;
    acc.finish()
}

/// Error curve of multi-step prediction: entry `l − 1` is the mean over admissible `(s, t)` with
/// `t + l < len_s` of `|ĥ_{t+l} − h_{t+l}|² / |h_{t+l}|²`, where `h_t B C^{l−1} R` predicts `l`
/// steps ahead (equal to `Re(Ĥ_t Λ^l U) Bᵀ`, Sec. 3.4). Steps with no admissible pair give NaN.
pub fn multi_step_error(
    states: &States,
    model: &KoopmanModel,
    max_steps: usize,
) -> Result<Vec<f64>> {
    check_model(states.hidden(), model)?;
    let k = states.hidden();
    let mut out = Vec::with_capacity(max_steps);
    for l in 1..=max_steps {
        let m = model.multi_step_map(l);
        let (mut sum, mut count) = (0.0, 0usize);
        for i in 0..states.num_sequences() {
            let h = states.sequence(i);
            let len = h.nrows();
            if len <= l {
                continue;
            }
            let p = h.subrows(0, len - l) * m.as_ref();
            for t in l..len {
                let (mut num, mut den) = (0.0, 0.0);
                for j in 0..k {
                    let y = h[(t, j)];
                    let d = p[(t - l, j)] - y;
                    num += d * d;
                    den += y * y;
                }
                if den > 0.0 {
                    sum += num / den;
                    count += 1;
                }
            }
        }
        out.push(if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        });
    }
    Ok(out)
}

/// Multi-step prediction in eigen-coordinates, `Ĥ_{t+l} = Ĥ_t Λ^l` (Sec. 3.4, after Eq. 8),
/// mapped back to states: `h_{t+l} ≈ Re(h_t B V Λ^{l−1} U) R` (`= h_t B C^l Bᵀ` for least
/// squares). Returns the `l = 1..=steps` predictions from the single state `h` (length `k`).
pub fn predict_steps(
    h: &[f64],
    model: &KoopmanModel,
    spectrum: &Spectrum,
    steps: usize,
) -> Result<Vec<Vec<f64>>> {
    check_model(h.len(), model)?;
    let (k, r) = (model.hidden(), model.rank());
    let coeffs = MatRef::from_row_major_slice(h, 1, k) * model.basis.as_ref();
    let mut hat: Vec<c64> = (0..r)
        .map(|j| (0..r).map(|i| spectrum.v[(i, j)] * coeffs[(0, i)]).sum())
        .collect();
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        // back to coefficients: h~_{t+l-1} = Re(ĥ U); then one step with R.
        let tilde: Vec<f64> = (0..r)
            .map(|i| (0..r).map(|j| hat[j] * spectrum.u[(j, i)]).sum::<c64>().re)
            .collect();
        let t = MatRef::from_row_major_slice(&tilde, 1, r) * model.readout.as_ref();
        out.push((0..k).map(|j| t[(0, j)]).collect());
        for (x, &l) in hat.iter_mut().zip(&spectrum.eigenvalues) {
            *x *= l;
        }
    }
    Ok(out)
}
