//! Hidden-state tensors `H` of shape `[s, n, k]` with an optional per-sequence length mask.

use crate::error::{KoopmanError, Result};
use faer::MatRef;

/// Which steps of a padded batch the basis `B` and operator `C` are fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FitSteps {
    /// Only the real steps `t < lengths[i]` (padding never enters the fit).
    #[default]
    Real,
    /// Every step of the padded batch, padding included (the paper's reference pipeline fits
    /// the zero-padded batch as it is).
    All,
}

impl std::fmt::Display for FitSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FitSteps::Real => "real",
            FitSteps::All => "all",
        })
    }
}

/// A tensor of hidden states `H ∈ R^{s×n×k}` (paper Sec. 3.2), stored in `f64`, C order, with the
/// number of valid (non-padded) steps of every sequence. Padded steps (`t >= lengths[i]`) never
/// enter the basis, a pair or an error; their values are ignored (they may even be non-finite).
#[derive(Debug, Clone, PartialEq)]
pub struct States {
    data: Vec<f64>,
    s: usize,
    n: usize,
    k: usize,
    lengths: Vec<usize>,
}

impl States {
    /// Builds states from `f64` data in C order `[s, n, k]`; every step is valid.
    pub fn from_f64(data: Vec<f64>, s: usize, n: usize, k: usize) -> Result<Self> {
        // Check the shape before sizing anything from it.
        check_shape(data.len(), s, n, k)?;
        Self::new_with_lengths(data, s, n, k, vec![n; s])
    }

    /// Builds states from `f32` data in C order `[s, n, k]` (converted to `f64`).
    pub fn from_f32(data: &[f32], s: usize, n: usize, k: usize) -> Result<Self> {
        Self::from_f64(data.iter().map(|&x| x as f64).collect(), s, n, k)
    }

    /// Builds states with per-sequence valid lengths (`1 <= lengths[i] <= n`).
    pub fn new_with_lengths(
        data: Vec<f64>,
        s: usize,
        n: usize,
        k: usize,
        lengths: Vec<usize>,
    ) -> Result<Self> {
        check_shape(data.len(), s, n, k)?;
        check_lengths(&lengths, s, n)?;
        let states = States {
            data,
            s,
            n,
            k,
            lengths,
        };
        states.check_finite()?;
        Ok(states)
    }

    /// Replaces the per-sequence lengths (validated against the shape).
    pub fn with_lengths(mut self, lengths: Vec<usize>) -> Result<Self> {
        check_lengths(&lengths, self.s, self.n)?;
        self.lengths = lengths;
        self.check_finite()?;
        Ok(self)
    }

    /// True if some sequence is shorter than `n` (the batch is padded).
    pub fn is_padded(&self) -> bool {
        self.lengths.iter().any(|&l| l < self.n)
    }

    /// The same data with every step valid, padding included: what a pipeline that fits the
    /// whole padded batch (the paper's reference implementation) sees. An error naming the step
    /// if a padded step is NaN/Inf.
    pub fn with_all_steps(&self) -> Result<States> {
        self.clone().with_lengths(vec![self.n; self.s])
    }

    /// The states a fit on `steps` uses: these states ([`FitSteps::Real`]) or
    /// [`Self::with_all_steps`] ([`FitSteps::All`]). Score the fit on `self` (real steps) and, if
    /// wanted, on the all-steps view: "fit on all, score on real".
    pub fn for_fit(&self, steps: FitSteps) -> Result<std::borrow::Cow<'_, States>> {
        Ok(match steps {
            FitSteps::All if self.is_padded() => std::borrow::Cow::Owned(self.with_all_steps()?),
            _ => std::borrow::Cow::Borrowed(self),
        })
    }

    /// Builds lengths from a prefix mask `[s, n]` (row-major; `true` = valid step). The valid
    /// steps of each sequence must form a prefix (`1…1 0…0`).
    pub fn lengths_from_mask(mask: &[bool], s: usize, n: usize) -> Result<Vec<usize>> {
        if mask.len() != s * n {
            return Err(KoopmanError::Shape(format!(
                "mask has {} entries, states need [{s}, {n}] = {}",
                mask.len(),
                s * n
            )));
        }
        let mut lengths = Vec::with_capacity(s);
        for i in 0..s {
            let row = &mask[i * n..(i + 1) * n];
            let len = row.iter().take_while(|&&b| b).count();
            if let Some(t) = row[len..].iter().position(|&b| b) {
                return Err(KoopmanError::Shape(format!(
                    "mask of sequence {i} is not a prefix: step {} valid after padding at step {len}",
                    len + t
                )));
            }
            lengths.push(len);
        }
        Ok(lengths)
    }

    /// Number of sequences `s`.
    pub fn num_sequences(&self) -> usize {
        self.s
    }
    /// Padded sequence length `n`.
    pub fn seq_len(&self) -> usize {
        self.n
    }
    /// Hidden dimension `k`.
    pub fn hidden(&self) -> usize {
        self.k
    }
    /// Valid length of every sequence.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }
    /// The raw C-order data `[s, n, k]` (padding included).
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    /// Total number of valid states (rows entering the basis).
    pub fn num_valid(&self) -> usize {
        self.lengths.iter().sum()
    }
    /// Number of admissible consecutive pairs `(h_t, h_{t+1})`.
    pub fn num_pairs(&self) -> usize {
        self.lengths.iter().map(|&l| l.saturating_sub(1)).sum()
    }
    /// The valid states of sequence `i` as a `len × k` matrix.
    pub fn sequence(&self, i: usize) -> MatRef<'_, f64> {
        let start = i * self.n * self.k;
        let len = self.lengths[i];
        MatRef::from_row_major_slice(&self.data[start..start + len * self.k], len, self.k)
    }
    /// The valid states of sequence `i` as a row-major slice (`len · k` values).
    pub fn sequence_slice(&self, i: usize) -> &[f64] {
        let start = i * self.n * self.k;
        &self.data[start..start + self.lengths[i] * self.k]
    }
    /// State `h_{i,t}` (any step, padded or not).
    pub fn state(&self, i: usize, t: usize) -> &[f64] {
        let start = (i * self.n + t) * self.k;
        &self.data[start..start + self.k]
    }

    fn check_finite(&self) -> Result<()> {
        for i in 0..self.s {
            let seq = &self.data[i * self.n * self.k..(i * self.n + self.lengths[i]) * self.k];
            if let Some(pos) = seq.iter().position(|x| !x.is_finite()) {
                return Err(KoopmanError::NonFinite {
                    seq: i,
                    time: pos / self.k,
                    unit: pos % self.k,
                    value: seq[pos],
                });
            }
        }
        Ok(())
    }
}

fn check_shape(len: usize, s: usize, n: usize, k: usize) -> Result<()> {
    if s == 0 || n == 0 || k == 0 {
        return Err(KoopmanError::Shape(format!(
            "states shape [{s}, {n}, {k}] has an empty dimension"
        )));
    }
    let expected = s
        .checked_mul(n)
        .and_then(|x| x.checked_mul(k))
        .ok_or_else(|| KoopmanError::Shape(format!("shape [{s}, {n}, {k}] overflows")))?;
    if len != expected {
        return Err(KoopmanError::Shape(format!(
            "states data has {len} values, shape [{s}, {n}, {k}] needs {expected}"
        )));
    }
    Ok(())
}

pub(crate) fn check_lengths(lengths: &[usize], s: usize, n: usize) -> Result<()> {
    if lengths.len() != s {
        return Err(KoopmanError::Shape(format!(
            "{} lengths given for {s} sequences",
            lengths.len()
        )));
    }
    for (i, &l) in lengths.iter().enumerate() {
        if l > n {
            return Err(KoopmanError::Shape(format!(
                "length {l} of sequence {i} is longer than the sequence ({n} steps)"
            )));
        }
        if l == 0 {
            return Err(KoopmanError::Shape(format!(
                "sequence {i} has length 0 (no valid step)"
            )));
        }
    }
    Ok(())
}
