//! One-pass accumulation of the Gram matrices behind the fit (streaming-friendly).
//!
//! With `X` the stack of states `h_t` that have a successor and `Y` the stack of their successors
//! `h_{t+1}`, everything the fit needs comes from `G = Σ h hᵀ` (all valid states), `G0 = XᵀX`,
//! `G1 = YᵀY` and `G01 = XᵀY`, each `k × k`. Memory is `O(k²)` whatever the number of states.
//!
//! Only `G` (lower triangle, a symmetric rank-`n` update) and `G01` are products over the data;
//! `G0` and `G1` are `G` minus the outer products of each sequence's last and first state. The
//! rows are cut into blocks of at most [`BLOCK_ROWS`] rows (a block reaches one row past its end
//! for the shifted `Y`), the blocks are shared out to the cores (each core sums its own blocks;
//! the partial sums are added at the end), and each block's products are computed in the
//! [`Precision`] asked for.

use crate::error::{KoopmanError, Result};
use crate::fit::{FitOptions, KoopmanModel, fit_from_grams};
use crate::states::{States, check_lengths};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

/// Arithmetic of the `O(N k²)` products over the states (the Grams and the `e_rel` pass); the
/// small `k × k` problems (eigen-decompositions, solves) are always `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `f64` products and sums throughout (exact up to `f64` rounding): the default, and what
    /// every analysis of this workspace uses.
    #[default]
    F64,
    /// `f32` products of blocks of at most [`BLOCK_ROWS`] rows (the states rounded to `f32`;
    /// states read from an `f32` `.npy` file are exact), each block's `f32` result added into
    /// `f64` accumulators: 1.6x the `f64` speed on the benchmark (f32 GEMMs run at twice the
    /// rate). A Gram entry is within about `5e-8` of `√(G_ii G_jj)` (measured, blocks of 256
    /// rows). [`crate::koopman_operator`] refits in [`Precision::F64`] when the normal matrix is
    /// worse conditioned than [`MIXED_CONDITION_LIMIT`], where that error would move the
    /// eigenvalue moduli by more than `1e-6`. Opt-in: on the exact (noise-free) linear systems of
    /// the tests it moves marginal modes off `|λ| = 1` by more than the tests' `1e-8`.
    Mixed,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F64 => "f64",
            Precision::Mixed => "mixed",
        })
    }
}

/// Rows per block of the products over the states. In [`Precision::Mixed`] each block is summed
/// in `f32`, so this bounds the `f32` sums' length (the block error grows with it: measured on
/// the benchmark states, 2.3e-8 / 4.9e-8 / 7.4e-8 relative at 128 / 256 / 512 rows).
pub const BLOCK_ROWS: usize = 256;

/// Condition number of the normal matrix `X~ᵀX~` above which a [`Precision::Mixed`] fit is redone
/// in [`Precision::F64`] by [`crate::koopman_operator`]. The mixed Grams' relative error
/// (`~5e-8`) reaches the eigenvalues amplified by about the condition number: measured
/// `max |Δ|λ|| / cond` = 4.3e-9 on the benchmark states (cond 41, Δ 1.8e-7), 1.8e-9 and 1.6e-10
/// on real IMDB GRU states (cond 5.5e4 and 4.8e5, Δ 1.0e-4 and 7.7e-5). At this limit the
/// largest of those ratios predicts `|Δ|λ|| ≤ 4.3e-7`, inside the `1e-6` the fit is checked to.
/// Real GRU states are far above it and take the `f64` path.
pub const MIXED_CONDITION_LIMIT: f64 = 100.0;

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
    /// Arithmetic the products were computed in.
    pub precision: Precision,
}

/// The public `push_f32` / `push_f64` of a type that reads batches of states `[s, n, k]`: the
/// batch is validated whole ([`valid_sequences`], so that a bad one adds nothing), then its valid
/// rows go to the type's `push_seqs<T: Elem>(&mut self, &[&[T]])`; `$k` names the type's method
/// giving `k`.
macro_rules! batch_push {
    ($k:ident) => {
        $crate::gram::batch_push!(@one $k, push_f32, f32, "Adds a batch of `f32` states in C order `[s, n, k]` with optional valid lengths (`None`: all `n` steps valid), read in place. NaN/Inf in a valid step is an error naming its (batch-local) index, and nothing of that batch is added.");
        $crate::gram::batch_push!(@one $k, push_f64, f64, "Like [`Self::push_f32`] for `f64` data.");
    };
    (@one $k:ident, $name:ident, $t:ty, $doc:literal) => {
        #[doc = $doc]
        pub fn $name(
            &mut self,
            data: &[$t],
            s: usize,
            n: usize,
            lengths: Option<&[usize]>,
        ) -> $crate::error::Result<()> {
            let seqs = $crate::gram::valid_sequences(data, s, n, self.$k(), lengths)?;
            self.push_seqs(&seqs);
            Ok(())
        }
    };
}
pub(crate) use batch_push;

/// Element types of the states the products read (`f32` from a file, `f64` in [`States`]).
pub(crate) trait Elem: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn to_f64(self) -> f64;
    /// The slice itself when it already is `f32`.
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
    /// The slice itself when it already is `f64`.
    fn as_f64(s: &[Self]) -> Option<&[f64]>;
}

impl Elem for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn as_f32(s: &[f32]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_f64(_: &[f32]) -> Option<&[f64]> {
        None
    }
}

impl Elem for f64 {
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn as_f32(_: &[f64]) -> Option<&[f32]> {
        None
    }
    fn as_f64(s: &[f64]) -> Option<&[f64]> {
        Some(s)
    }
}

/// The valid rows of each sequence of a batch `[s, n, k]` in C order (`lengths`: valid steps
/// per sequence, `None` for all `n`), after checking the batch's size, the lengths, and that every
/// valid value is finite (NaN/Inf is an error naming its batch-local sequence, step and unit).
pub(crate) fn valid_sequences<'a, T: Elem>(
    data: &'a [T],
    s: usize,
    n: usize,
    k: usize,
    lengths: Option<&[usize]>,
) -> Result<Vec<&'a [T]>> {
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
    let seqs: Vec<&[T]> = lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| &data[i * n * k..(i * n + len) * k])
        .collect();
    for (i, seq) in seqs.iter().enumerate() {
        if let Some(pos) = seq.iter().position(|&x| !x.to_f64().is_finite()) {
            return Err(KoopmanError::NonFinite {
                seq: i,
                time: pos / k,
                unit: pos % k,
                value: seq[pos].to_f64(),
            });
        }
    }
    Ok(seqs)
}

/// An error unless states of hidden dimension `k` fit an accumulator of dimension `want`.
pub(crate) fn check_hidden(k: usize, want: usize) -> Result<()> {
    if k != want {
        return Err(KoopmanError::Shape(format!(
            "states have hidden dimension {k}, accumulator expects {want}"
        )));
    }
    Ok(())
}

/// `rows` (row-major, `k` columns) as `f32`, converted into `buf` unless they already are.
pub(crate) fn rows_f32<'a, T: Elem>(rows: &'a [T], buf: &'a mut Vec<f32>) -> &'a [f32] {
    match T::as_f32(rows) {
        Some(x) => x,
        None => {
            buf.clear();
            buf.extend(rows.iter().map(|&x| x.to_f32()));
            buf
        }
    }
}

/// `rows` as `f64`, converted into `buf` unless they already are.
pub(crate) fn rows_f64<'a, T: Elem>(rows: &'a [T], buf: &'a mut Vec<f64>) -> &'a [f64] {
    match T::as_f64(rows) {
        Some(x) => x,
        None => {
            buf.clear();
            buf.extend(rows.iter().map(|&x| x.to_f64()));
            buf
        }
    }
}

/// A block of the rows of one sequence: `(sequence, first row, end row)`.
pub(crate) type Block = (usize, usize, usize);

/// Cuts `len[i]` rows of every sequence into blocks of at most `rows` rows.
pub(crate) fn blocks_of(lengths: impl Iterator<Item = usize>, rows: usize) -> Vec<Block> {
    let mut out = Vec::new();
    for (i, len) in lengths.enumerate() {
        let mut a = 0;
        while a < len {
            let b = (a + rows).min(len);
            out.push((i, a, b));
            a = b;
        }
    }
    out
}

/// Runs `work` on contiguous ranges of `0..n` items, one range per core (faer's rayon degree),
/// and returns the results in range order.
pub(crate) fn run_split<R: Send>(
    n: usize,
    work: impl Fn(std::ops::Range<usize>) -> R + Sync,
) -> Vec<R> {
    let threads = Par::rayon(0).degree().clamp(1, n.max(1));
    if threads == 1 {
        return vec![work(0..n)];
    }
    let per = n.div_ceil(threads);
    let ranges: Vec<_> = (0..threads)
        .map(|t| (t * per).min(n)..((t + 1) * per).min(n))
        .collect();
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = ranges[1..]
            .iter()
            .cloned()
            .map(|r| scope.spawn(move || work(r)))
            .collect();
        let mut out = vec![work(ranges[0].clone())];
        out.extend(handles.into_iter().map(|h| {
            h.join()
                .expect("a worker thread of the Gram products panicked")
        }));
        out
    })
}

/// Adds the lower triangle of the `f32` matrix `t` into `g` (`f64`).
fn add_lower(mut g: MatMut<'_, f64>, t: MatRef<'_, f32>) {
    for j in 0..t.ncols() {
        for i in j..t.nrows() {
            g[(i, j)] += t[(i, j)] as f64;
        }
    }
}

/// Adds the `f32` matrix `t` into `g` (`f64`).
fn add_all(mut g: MatMut<'_, f64>, t: MatRef<'_, f32>) {
    for j in 0..t.ncols() {
        for i in 0..t.nrows() {
            g[(i, j)] += t[(i, j)] as f64;
        }
    }
}

/// `G` (lower triangle) and `G01` of the given blocks of `seqs` (each the row-major valid rows of
/// one sequence), summed by one core.
fn gram_blocks<T: Elem>(
    seqs: &[&[T]],
    k: usize,
    blocks: &[Block],
    precision: Precision,
) -> (Mat<f64>, Mat<f64>) {
    let mut g = Mat::<f64>::zeros(k, k);
    let mut g01 = Mat::<f64>::zeros(k, k);
    let (mut t, mut t01) = match precision {
        Precision::Mixed => (Mat::<f32>::zeros(k, k), Mat::<f32>::zeros(k, k)),
        Precision::F64 => (Mat::<f32>::zeros(0, 0), Mat::<f32>::zeros(0, 0)),
    };
    let (mut buf32, mut buf64) = (Vec::new(), Vec::new());
    for &(i, a, b) in blocks {
        let seq = seqs[i];
        let len = seq.len() / k;
        // Rows a..b enter G; pairs (t, t+1) with a <= t < min(b, len − 1) enter G01.
        let end = (b + 1).min(len);
        let pairs = b.min(len - 1).saturating_sub(a);
        let rows = &seq[a * k..end * k];
        let m = b - a;
        match precision {
            Precision::F64 => {
                let h = MatRef::from_row_major_slice(rows_f64(rows, &mut buf64), end - a, k);
                let x = h.subrows(0, m);
                triangular::matmul(
                    g.as_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Add,
                    x.transpose(),
                    BlockStructure::Rectangular,
                    x,
                    BlockStructure::Rectangular,
                    1.0,
                    Par::Seq,
                );
                if pairs > 0 {
                    let (x, y) = (h.subrows(0, pairs), h.subrows(1, pairs));
                    matmul(g01.as_mut(), Accum::Add, x.transpose(), y, 1.0, Par::Seq);
                }
            }
            Precision::Mixed => {
                let h = MatRef::from_row_major_slice(rows_f32(rows, &mut buf32), end - a, k);
                let x = h.subrows(0, m);
                triangular::matmul(
                    t.as_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Replace,
                    x.transpose(),
                    BlockStructure::Rectangular,
                    x,
                    BlockStructure::Rectangular,
                    1.0f32,
                    Par::Seq,
                );
                add_lower(g.as_mut(), t.as_ref());
                if pairs > 0 {
                    let (x, y) = (h.subrows(0, pairs), h.subrows(1, pairs));
                    matmul(
                        t01.as_mut(),
                        Accum::Replace,
                        x.transpose(),
                        y,
                        1.0f32,
                        Par::Seq,
                    );
                    add_all(g01.as_mut(), t01.as_ref());
                }
            }
        }
    }
    (g, g01)
}

/// The row-major values of `m`.
pub(crate) fn row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
}

/// The `n × n` matrix of the row-major field `name` of an accumulator's parts (hidden size
/// `k`); an error naming the field if its length is not `n²` or a value is not finite.
pub(crate) fn square_field(name: &str, v: &[f64], n: usize, k: usize) -> Result<Mat<f64>> {
    if v.len() != n * n {
        return Err(KoopmanError::Shape(format!(
            "accumulator field {name} has {} values, hidden size {k} needs {n} x {n} = {}",
            v.len(),
            n * n
        )));
    }
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        return Err(KoopmanError::InvalidParameter(format!(
            "accumulator field {name} holds the non-finite value {x}"
        )));
    }
    Ok(Mat::from_fn(n, n, |i, j| v[i * n + j]))
}

/// The complete state of a [`GramAccumulator`] as plain data (row-major `k × k` matrices), for
/// serialisation ([`GramAccumulator::to_parts`], [`GramAccumulator::from_parts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GramParts {
    /// Hidden size `k`.
    pub hidden: usize,
    /// Arithmetic of the products.
    pub precision: Precision,
    /// Lower triangle of `G` (the upper triangle is not used; row-major `k × k`).
    pub g_lower: Vec<f64>,
    /// `G01 = XᵀY`.
    pub g01: Vec<f64>,
    /// `Σ` over sequences of the outer product of the first state (`G1 = G − first`).
    pub first: Vec<f64>,
    /// `Σ` over sequences of the outer product of the last state (`G0 = G − last`).
    pub last: Vec<f64>,
    /// Valid states pushed.
    pub num_states: usize,
    /// Pairs pushed.
    pub num_pairs: usize,
    /// Sequences pushed.
    pub num_sequences: usize,
}

/// Streaming accumulator of [`Grams`]: `push` batches of sequences (with their lengths), then
/// `finish` with the fit options to get the same model as [`crate::koopman_operator`] would on
/// all the data at once. Holds `O(k²)` memory plus one block's conversion buffer per core.
#[derive(Debug, Clone)]
pub struct GramAccumulator {
    k: usize,
    precision: Precision,
    g_lower: Mat<f64>,
    g01: Mat<f64>,
    first: Mat<f64>,
    last: Mat<f64>,
    num_states: usize,
    num_pairs: usize,
    num_sequences: usize,
}

impl GramAccumulator {
    /// A fresh accumulator for states of hidden dimension `k`, in the default
    /// [`Precision::F64`].
    pub fn new(k: usize) -> Self {
        Self::with_precision(k, Precision::default())
    }

    /// A fresh accumulator computing its products in `precision`.
    pub fn with_precision(k: usize, precision: Precision) -> Self {
        GramAccumulator {
            k,
            precision,
            g_lower: Mat::zeros(k, k),
            g01: Mat::zeros(k, k),
            first: Mat::zeros(k, k),
            last: Mat::zeros(k, k),
            num_states: 0,
            num_pairs: 0,
            num_sequences: 0,
        }
    }

    /// Hidden dimension `k`.
    pub fn hidden(&self) -> usize {
        self.k
    }

    /// Arithmetic of the products.
    pub fn precision(&self) -> Precision {
        self.precision
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
        let seqs: Vec<&[f64]> = (0..states.num_sequences())
            .map(|i| states.sequence_slice(i))
            .collect();
        self.push_seqs(&seqs);
        Ok(())
    }

    batch_push!(hidden);

    fn check_k(&self, k: usize) -> Result<()> {
        check_hidden(k, self.k)
    }

    /// Adds sequences given as their row-major valid rows (`len · k` values each, `len ≥ 1`).
    pub(crate) fn push_seqs<T: Elem>(&mut self, seqs: &[&[T]]) {
        let k = self.k;
        let precision = self.precision;
        let blocks = blocks_of(seqs.iter().map(|s| s.len() / k), BLOCK_ROWS);
        let partials = run_split(blocks.len(), |r| {
            gram_blocks(seqs, k, &blocks[r], precision)
        });
        for (g, g01) in partials {
            self.g_lower += g;
            self.g01 += g01;
        }
        // The boundary outer products, in the precision the data entered G with.
        let value = |x: T| match precision {
            Precision::F64 => x.to_f64(),
            Precision::Mixed => x.to_f32() as f64,
        };
        let mut f = Vec::with_capacity(seqs.len() * k);
        let mut l = Vec::with_capacity(seqs.len() * k);
        for seq in seqs {
            let len = seq.len() / k;
            if len == 0 {
                continue;
            }
            f.extend(seq[..k].iter().map(|&x| value(x)));
            l.extend(seq[(len - 1) * k..].iter().map(|&x| value(x)));
            self.num_states += len;
            self.num_pairs += len - 1;
            self.num_sequences += 1;
        }
        let rows = f.len() / k;
        for (acc, m) in [(&mut self.first, &f), (&mut self.last, &l)] {
            let m = MatRef::from_row_major_slice(m, rows, k);
            matmul(acc.as_mut(), Accum::Add, m.transpose(), m, 1.0, Par::Seq);
        }
    }

    /// Adds everything `other` accumulated (its sequences) to `self`: the result equals one
    /// accumulator fed both sets of batches, up to the order of the `f64` additions. This is the
    /// reduce step of a distributed fit (map each chunk of sequences to an accumulator, merge
    /// them in a tree, [`Self::finish`] once). An error if the hidden sizes or precisions differ.
    pub fn merge(&mut self, other: &GramAccumulator) -> Result<()> {
        self.check_k(other.k)?;
        if other.precision != self.precision {
            return Err(KoopmanError::InvalidParameter(format!(
                "cannot merge an accumulator in precision {} into one in precision {}",
                other.precision, self.precision
            )));
        }
        self.g_lower += &other.g_lower;
        self.g01 += &other.g01;
        self.first += &other.first;
        self.last += &other.last;
        self.num_states += other.num_states;
        self.num_pairs += other.num_pairs;
        self.num_sequences += other.num_sequences;
        Ok(())
    }

    /// The accumulator's complete state as plain data (to serialise it, e.g. to send it to
    /// another process); [`Self::from_parts`] restores it exactly.
    pub fn to_parts(&self) -> GramParts {
        let flat = |m: &Mat<f64>| row_major(m.as_ref());
        GramParts {
            hidden: self.k,
            precision: self.precision,
            g_lower: flat(&self.g_lower),
            g01: flat(&self.g01),
            first: flat(&self.first),
            last: flat(&self.last),
            num_states: self.num_states,
            num_pairs: self.num_pairs,
            num_sequences: self.num_sequences,
        }
    }

    /// Restores an accumulator from [`Self::to_parts`]; an error naming the field whose length
    /// does not match `hidden²`, or if a value is not finite.
    pub fn from_parts(parts: &GramParts) -> Result<Self> {
        let k = parts.hidden;
        let mat = |name: &str, v: &[f64]| square_field(name, v, k, k);
        Ok(GramAccumulator {
            k,
            precision: parts.precision,
            g_lower: mat("g_lower", &parts.g_lower)?,
            g01: mat("g01", &parts.g01)?,
            first: mat("first", &parts.first)?,
            last: mat("last", &parts.last)?,
            num_states: parts.num_states,
            num_pairs: parts.num_pairs,
            num_sequences: parts.num_sequences,
        })
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
            precision: self.precision,
        }
    }

    /// Fits the Koopman model from the accumulated Grams (Sec. 3.2, Eqs. 4-5).
    pub fn finish(&self, options: &FitOptions) -> Result<KoopmanModel> {
        fit_from_grams(&self.grams(), options)
    }
}
