//! Koopman prediction (Eq. 6), its relative error (Eq. 12) and multi-step prediction (Sec. 3.4).

use crate::error::{KoopmanError, Result};
use crate::fit::KoopmanModel;
use crate::spectrum::Spectrum;
use crate::states::{States, check_lengths};
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
/// analysis; also used in memory).
#[derive(Debug, Clone)]
pub struct RelativeErrorAccumulator {
    map: Mat<f64>,
    sum: f64,
    count: usize,
    zero: usize,
    buf: Vec<f64>,
    pred: Mat<f64>,
}

impl RelativeErrorAccumulator {
    /// An accumulator for the one-step error of `model` (Eq. 6 / Eq. 12).
    pub fn new(model: &KoopmanModel) -> Self {
        Self::with_map(model.prediction_map())
    }

    /// An accumulator for an arbitrary `k × k` one-step map `h_{t+1} ≈ h_t M`.
    pub fn with_map(map: Mat<f64>) -> Self {
        RelativeErrorAccumulator {
            map,
            sum: 0.0,
            count: 0,
            zero: 0,
            buf: Vec::new(),
            pred: Mat::zeros(0, 0),
        }
    }

    fn push_sequence(&mut self, h: MatRef<'_, f64>) {
        let len = h.nrows();
        if len < 2 {
            return;
        }
        let k = h.ncols();
        // predᵀ = Mᵀ Xᵀ is column-major k × (len−1), i.e. pred row-major: rows are contiguous.
        if self.pred.nrows() != k || self.pred.ncols() != len - 1 {
            self.pred = Mat::zeros(k, len - 1);
        }
        matmul(
            self.pred.as_mut(),
            Accum::Replace,
            self.map.transpose(),
            h.subrows(0, len - 1).transpose(),
            1.0,
            Par::rayon(0),
        );
        for t in 1..len {
            let p = self.pred.col_as_slice(t - 1);
            let y = h.row(t);
            let (mut num, mut den) = (0.0, 0.0);
            match y.try_as_row_major() {
                Some(y) => {
                    for (&pj, &yj) in p.iter().zip(y.as_slice()) {
                        let d = pj - yj;
                        num += d * d;
                        den += yj * yj;
                    }
                }
                None => {
                    for (j, &pj) in p.iter().enumerate() {
                        let yj = y[j];
                        let d = pj - yj;
                        num += d * d;
                        den += yj * yj;
                    }
                }
            }
            if den > 0.0 {
                self.sum += num / den;
                self.count += 1;
            } else {
                self.zero += 1;
            }
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
        for i in 0..states.num_sequences() {
            self.push_sequence(states.sequence(i));
        }
        Ok(())
    }

    /// Adds a batch of `f32` states `[s, n, k]` (C order) with optional valid lengths.
    pub fn push_f32(
        &mut self,
        data: &[f32],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        let k = self.map.nrows();
        if data.len() != s * n * k {
            return Err(KoopmanError::Shape(format!(
                "batch has {} values, shape [{s}, {n}, {k}] needs {}",
                data.len(),
                s * n * k
            )));
        }
        let all = vec![n; s];
        let lengths = lengths.unwrap_or(&all);
        check_lengths(lengths, s, n)?;
        for (i, &len) in lengths.iter().enumerate() {
            let seq = &data[i * n * k..(i * n + len) * k];
            if let Some(pos) = seq.iter().position(|x| !x.is_finite()) {
                return Err(KoopmanError::NonFinite {
                    seq: i,
                    time: pos / k,
                    unit: pos % k,
                    value: seq[pos] as f64,
                });
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        for (i, &len) in lengths.iter().enumerate() {
            buf.clear();
            buf.extend(data[i * n * k..(i * n + len) * k].iter().map(|&x| x as f64));
            self.push_sequence(MatRef::from_row_major_slice(&buf, len, k));
        }
        self.buf = buf;
        Ok(())
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
