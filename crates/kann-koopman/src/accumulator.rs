//! One interface for the streaming, mergeable accumulators of the fit: [`GramAccumulator`] (Gram
//! sums, the default) and [`crate::TsqrAccumulator`] (R factors of a QR, for ill-conditioned
//! states; [`crate::tsqr`] says when each is right). Code that streams or distributes a fit
//! (the Python bindings, a map-reduce over chunks) is written once against it.

use crate::error::Result;
use crate::fit::{FitOptions, KoopmanModel};
use crate::gram::{GramAccumulator, Precision, check_hidden};
use crate::states::States;

/// A streaming, mergeable accumulator of the fit (Sec. 3.2, Eqs. 4-5): push batches of
/// sequences, merge the accumulators of other batches (the reduce step of a distributed fit, in
/// any order or tree), then fit once. Every implementation uses the same pairs `(h_t, h_{t+1})`
/// (within each sequence's valid steps) and the same states for the basis, so all give the same
/// model up to rounding.
pub trait Accumulator: Clone + Send + Sync {
    /// An empty accumulator of the same hidden dimension and arithmetic.
    fn empty_like(&self) -> Self;

    /// Hidden dimension `k`.
    fn hidden(&self) -> usize;

    /// Arithmetic of the products over the states.
    fn precision(&self) -> Precision;

    /// Number of sequences pushed so far.
    fn num_sequences(&self) -> usize;

    /// Number of valid states pushed so far.
    fn num_states(&self) -> usize;

    /// Adds a batch of `f32` states in C order `[s, n, k]` with optional valid lengths (`None`:
    /// all `n` steps valid). NaN/Inf in a valid step is an error naming its (batch-local) index,
    /// and nothing of that batch is added.
    fn push_f32(
        &mut self,
        data: &[f32],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()>;

    /// Like [`Self::push_f32`] for `f64` data.
    fn push_f64(
        &mut self,
        data: &[f64],
        s: usize,
        n: usize,
        lengths: Option<&[usize]>,
    ) -> Result<()>;

    /// Adds every valid state and pair of `states`.
    fn push_states(&mut self, states: &States) -> Result<()> {
        check_hidden(states.hidden(), self.hidden())?;
        self.push_f64(
            states.data(),
            states.num_sequences(),
            states.seq_len(),
            Some(states.lengths()),
        )
    }

    /// Adds everything `other` accumulated (its sequences) to `self`; an error if the hidden
    /// sizes (or the arithmetic) differ.
    fn merge(&mut self, other: &Self) -> Result<()>;

    /// Fits the Koopman model from what was accumulated.
    fn finish(&self, options: &FitOptions) -> Result<KoopmanModel>;
}

impl Accumulator for GramAccumulator {
    fn empty_like(&self) -> Self {
        GramAccumulator::with_precision(self.hidden(), self.precision())
    }
    fn hidden(&self) -> usize {
        GramAccumulator::hidden(self)
    }
    fn precision(&self) -> Precision {
        GramAccumulator::precision(self)
    }
    fn num_sequences(&self) -> usize {
        GramAccumulator::num_sequences(self)
    }
    fn num_states(&self) -> usize {
        GramAccumulator::num_states(self)
    }
    fn push_f32(&mut self, d: &[f32], s: usize, n: usize, l: Option<&[usize]>) -> Result<()> {
        GramAccumulator::push_f32(self, d, s, n, l)
    }
    fn push_f64(&mut self, d: &[f64], s: usize, n: usize, l: Option<&[usize]>) -> Result<()> {
        GramAccumulator::push_f64(self, d, s, n, l)
    }
    fn push_states(&mut self, states: &States) -> Result<()> {
        GramAccumulator::push(self, states)
    }
    fn merge(&mut self, other: &Self) -> Result<()> {
        GramAccumulator::merge(self, other)
    }
    fn finish(&self, options: &FitOptions) -> Result<KoopmanModel> {
        GramAccumulator::finish(self, options)
    }
}
