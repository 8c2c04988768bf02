//! One-pass accumulation of the Gram matrices behind the fit (streaming-friendly).
//!
//! With `X` the stack of states `h_t` that have a successor and `Y` the stack of their successors
//! `h_{t+1}`, everything the fit needs comes from `G = Σ h hᵀ` (all valid states), `G0 = XᵀX`,
//! `G1 = YᵀY` and `G01 = XᵀY`, each `k × k`. Memory is `O(k²)` whatever the number of states.

use crate::error::{KoopmanError, Result};
use crate::fit::{FitOptions, KoopmanModel, fit_from_grams};
use crate::states::{States, check_lengths};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

/// The accumulated Gram matrices of a set of state sequences (all `k × k`, symmetric except `g01`).
#[derive(Debug, Clone)]
pub struct Grams {
    /// `G = Σ_{valid (s,t)} h_{s,t} h_{s,t}ᵀ`: its top eigenvectors are the SVD basis `B`.
    pub g: Mat<f64>,
    /// `G0 = XᵀX = Σ_{pairs} h_t h_tᵀ`.
    pub g0: Mat<f64>,
    /// `G1 = YᵀY = Σ_{pairs} h_{t+1} h_{t+1}ᵀ`.
    pub g1: Mat<f64>,
    /// `G01 = XᵀY = Σ_{pairs} h_t h_{t+1}ᵀ`.
    pub g01: Mat<f64>,
    /// Number of valid states that entered `G`.
    pub num_states: usize,
    /// Number of admissible pairs that entered `G0`, `G1`, `G01`.
    pub num_pairs: usize,
}

/// Streaming accumulator of [`Grams`]: `push` batches of sequences (with their lengths), then
/// `finish` with the fit options to get the same model as [`crate::koopman_operator`] would on
/// all the data at once. Holds `O(k²)` memory plus one `n × k` conversion buffer.
#[derive(Debug, Clone)]
pub struct GramAccumulator {
    k: usize,
    g_lower: Mat<f64>,
    g01: Mat<f64>,
    first: Mat<f64>,
    last: Mat<f64>,
    num_states: usize,
    num_pairs: usize,
    num_sequences: usize,
    buf: Vec<f64>,
}

impl GramAccumulator {
    /// A fresh accumulator for states of hidden dimension `k`.
    pub fn new(k: usize) -> Self {
        GramAccumulator {
            k,
            g_lower: Mat::zeros(k, k),
            g01: Mat::zeros(k, k),
            first: Mat::zeros(k, k),
            last: Mat::zeros(k, k),
            num_states: 0,
            num_pairs: 0,
            num_sequences: 0,
            buf: Vec::new(),
        }
    }

    /// Hidden dimension `k`.
    pub fn hidden(&self) -> usize {
        self.k
    }

    /// Number of sequences pushed so far.
    pub fn num_sequences(&self) -> usize {
        self.num_sequences
    }

    /// Number of valid states pushed so far.
    pub fn num_states(&self) -> usize {
        self.num_states
    }

    /// Adds every valid state and pair of `states`.
    pub fn push(&mut self, states: &States) -> Result<()> {
        self.check_k(states.hidden())?;
        for i in 0..states.num_sequences() {
            self.push_sequence(states.sequence(i));
        }
        Ok(())
    }

    /// Adds a batch of `f32` states in C order `[s, n, k]` with optional valid lengths (`None`:
    /// all `n` steps valid). Converted to `f64` one sequence at a time; NaN/Inf in a valid step
    /// is an error naming its (batch-local) index, and nothing of that batch is added.
    pub fn push_f32(
        &mut self,
        data: &[f32],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        self.push_generic(data, s, n, lengths, |x| x as f64)
    }

    /// Like [`Self::push_f32`] for `f64` data.
    pub fn push_f64(
        &mut self,
        data: &[f64],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        self.push_generic(data, s, n, lengths, |x| x)
    }

    fn push_generic<T: Copy>(
        &mut self,
        data: &[T],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
        conv: impl Fn(T) -> f64,
    ) -> Result<()> {
        let k = self.k;
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
        // Validate the whole batch first so that a bad batch adds nothing.
        for (i, &len) in lengths.iter().enumerate() {
            let seq = &data[i * n * k..(i * n + len) * k];
            if let Some(pos) = seq.iter().position(|&x| !conv(x).is_finite()) {
                return Err(KoopmanError::NonFinite {
                    seq: i,
                    time: pos / k,
                    unit: pos % k,
                    value: conv(seq[pos]),
                });
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        for (i, &len) in lengths.iter().enumerate() {
            buf.clear();
            buf.extend(data[i * n * k..(i * n + len) * k].iter().map(|&x| conv(x)));
            self.push_sequence(MatRef::from_row_major_slice(&buf, len, k));
        }
        self.buf = buf;
        Ok(())
    }

    fn check_k(&self, k: usize) -> Result<()> {
        if k != self.k {
            return Err(KoopmanError::Shape(format!(
                "states have hidden dimension {k}, accumulator expects {}",
                self.k
            )));
        }
        Ok(())
    }

    /// Adds one sequence given as a `len × k` matrix of valid states.
    fn push_sequence(&mut self, h: MatRef<'_, f64>) {
        let len = h.nrows();
        if len == 0 {
            return;
        }
        let par = Par::rayon(0);
        triangular::matmul(
            self.g_lower.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            h.transpose(),
            BlockStructure::Rectangular,
            h,
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        if len > 1 {
            let x = h.subrows(0, len - 1);
            let y = h.subrows(1, len - 1);
            matmul(self.g01.as_mut(), Accum::Add, x.transpose(), y, 1.0, par);
        }
        let f = h.subrows(0, 1);
        let l = h.subrows(len - 1, 1);
        matmul(
            self.first.as_mut(),
            Accum::Add,
            f.transpose(),
            f,
            1.0,
            Par::Seq,
        );
        matmul(
            self.last.as_mut(),
            Accum::Add,
            l.transpose(),
            l,
            1.0,
            Par::Seq,
        );
        self.num_states += len;
        self.num_pairs += len - 1;
        self.num_sequences += 1;
    }

    /// The Gram matrices accumulated so far.
    pub fn grams(&self) -> Grams {
        let k = self.k;
        let g = Mat::from_fn(k, k, |i, j| {
            if i >= j {
                self.g_lower[(i, j)]
            } else {
                self.g_lower[(j, i)]
            }
        });
        let g0 = Mat::from_fn(k, k, |i, j| g[(i, j)] - self.last[(i, j)]);
        let g1 = Mat::from_fn(k, k, |i, j| g[(i, j)] - self.first[(i, j)]);
        Grams {
            g,
            g0,
            g1,
            g01: self.g01.clone(),
            num_states: self.num_states,
            num_pairs: self.num_pairs,
        }
    }

    /// Fits the Koopman model from the accumulated Grams (Sec. 3.2, Eqs. 4-5).
    pub fn finish(&self, options: &FitOptions) -> Result<KoopmanModel> {
        fit_from_grams(&self.grams(), options)
    }
}
