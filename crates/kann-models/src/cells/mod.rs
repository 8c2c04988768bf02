//! Recurrent layers (GRU, LSTM, vanilla RNN) whose cost is linear in sequence length.
//!
//! # Design
//!
//! burn's stock `nn::Gru`/`nn::Lstm` slice the input `[B, T, X]` along time and write each step
//! into the `[B, T, H]` output with `slice_assign`. Under autodiff the gradient of every slice and
//! of every `slice_assign` is a full-size `[B, T, ·]` tensor, so the backward pass costs
//! `O(T²)`.
//!
//! [`Recurrent`] keeps all weights of a layer fused:
//! `w_x: [X, G·H]`, `b_x: [G·H]`, `w_h: [H, G·H]`, `b_h: [G·H]` with `G` gates.
//! A forward pass
//! 1. projects all inputs of all steps with one GEMM, `xproj = x·w_x + b_x` (`[B·T, X]·[X, G·H]`),
//!    itself a custom op ([`RecurrentBackend::projection`]) with a hand-written backward
//!    (on `Flex`: faer's multi-threaded AVX-512/AVX2 GEMM);
//! 2. runs the time loop as a single custom operation ([`RecurrentBackend::recurrent_scan`]): per step one `[B,H]·[H,G·H]`
//!    GEMM plus one fused pass over the gates, writing `h_t` straight into the `[B,T,H]` output
//!    buffer (no per-step tensors, no slicing in the autodiff graph);
//! 3. its hand-written backward (BPTT) walks the steps in reverse on raw buffers, producing
//!    `grad_xproj: [B,T,G·H]`, and then the hidden-weight gradient with ONE GEMM over all steps,
//!    `grad_w_h = H_prevᵀ · grad_hproj` (`[H, B·T]·[B·T, G·H]`). `grad_w_x`, `grad_b_x` and the
//!    input gradient follow from the projection op's backward (two GEMMs and a column sum).
//!
//! Every step therefore touches `O(B·H·G·H)` work and no `O(T)`-sized tensor, so forward and
//! backward are linear in `T`.
//!
//! The fused kernels run on the CPU `Flex` backend; their gate loops are compiled for AVX-512 or
//! AVX2+FMA and chosen at run time. Other backends (e.g. `wgpu`) use the same
//! custom backward but evaluate each step with the backend's primitive tensor operations.
//!
//! Gate equations are those of burn's stock cells (and PyTorch's):
//! - GRU: `z = σ(xz + hz)`, `r = σ(xr + hr)`, `n = tanh(xn + r ⊙ (W_hn h + b_hn))`,
//!   `h' = (1 − z) ⊙ n + z ⊙ h` (gate order `z, r, n`);
//! - LSTM: `i, f, g, o` with `c' = f ⊙ c + i ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`;
//! - RNN: `h' = tanh(x W_x + b_x + h W_h + b_h)`.

mod cpu;
mod generic;
mod kernels;
mod reference;
mod small_gemm;

pub use kernels::RecurrentBackend;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

/// Errors of the recurrent-cell module.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// A tensor had the wrong shape.
    #[error("shape mismatch for {what}: expected {expected}, got {got:?}")]
    Shape {
        /// Which tensor was at fault.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape found.
        got: Vec<usize>,
    },
}

/// The recurrent cell type (gate counts, names): the plain type of `kann-dynamics`, shared so that
/// the local analysis on plain arrays and the burn layers name cells the same way.
pub use kann_dynamics::CellKind;

/// Configuration of a [`Recurrent`] layer.
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// Cell type.
    pub kind: CellKind,
    /// Input width `X`.
    pub d_input: usize,
    /// Hidden width `H`.
    pub d_hidden: usize,
}

impl RecurrentConfig {
    /// Creates the layer with PyTorch's initialisation: every weight and bias uniform in
    /// `[-1/√H, 1/√H]`.
    pub fn init(&self, device: &Device) -> Recurrent {
        let g = self.kind.gates();
        let h = self.d_hidden;
        let k = 1.0 / (h.max(1) as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        Recurrent {
            w_x: init.init([self.d_input, g * h], device),
            b_x: init.init([g * h], device),
            w_h: init.init([h, g * h], device),
            b_h: init.init([g * h], device),
            kind: self.kind,
            d_hidden: h,
        }
    }
}

/// A recurrent layer with fused gate weights (see the module docs for the layout).
#[derive(Module, Debug)]
pub struct Recurrent {
    /// Input weights `[X, G·H]`, gate blocks in the order of the module docs.
    pub w_x: Param<Tensor<2>>,
    /// Input bias `[G·H]`.
    pub b_x: Param<Tensor<1>>,
    /// Hidden weights `[H, G·H]`.
    pub w_h: Param<Tensor<2>>,
    /// Hidden bias `[G·H]` (for the GRU the `n` block is applied inside `r ⊙ (·)`).
    pub b_h: Param<Tensor<1>>,
    /// Cell type.
    #[module(skip)]
    pub kind: CellKind,
    /// Hidden width `H`.
    pub d_hidden: usize,
}

/// Output of [`Recurrent::forward`].
#[derive(Debug, Clone)]
pub struct RecurrentOutput {
    /// `[B, T, H]`: `h_t` at every step (the "hooked" states).
    pub hidden: Tensor<3>,
    /// `[B, T, H]`: LSTM `c_t` when requested, else `None`.
    pub cell: Option<Tensor<3>>,
}

impl Recurrent {
    /// Cell type.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// Hidden width `H`.
    pub fn d_hidden(&self) -> usize {
        self.d_hidden
    }

    /// Input width `X`.
    pub fn d_input(&self) -> usize {
        self.w_x.shape().dims::<2>()[0]
    }

    /// Runs the layer over `x: [B, T, X]` (which may require grad) from a zero initial state and
    /// returns all hidden states (and LSTM cell states when `want_cell`).
    ///
    /// # Panics
    /// Panics if the last dimension of `x` differs from `d_input`; use [`Recurrent::try_forward`]
    /// for a checked call.
    pub fn forward(&self, x: Tensor<3>, want_cell: bool) -> RecurrentOutput {
        match self.try_forward(x, want_cell) {
            Ok(out) => out,
            Err(e) => panic!("Recurrent::forward: {e}"),
        }
    }

    /// Checked [`Recurrent::forward`]: returns an error naming the shape at fault.
    pub fn try_forward(&self, x: Tensor<3>, want_cell: bool) -> Result<RecurrentOutput, CellError> {
        let [b, t, xd] = x.dims();
        if xd != self.d_input() {
            return Err(CellError::Shape {
                what: "recurrent input x",
                expected: format!("[B, T, {}]", self.d_input()),
                got: vec![b, t, xd],
            });
        }
        let gh = self.kind.gates() * self.d_hidden;
        let xproj = kernels::project(x.reshape([b * t, xd]), self.w_x.val(), self.b_x.val())
            .reshape([b, t, gh]);
        Ok(self.scan(xproj, want_cell))
    }

    /// Feeds the same input vector `x: [B, X]` at each of `steps` steps (the ECG decoder repeats
    /// its latent) from a zero initial state.
    ///
    /// # Panics
    /// Panics if the last dimension of `x` differs from `d_input`.
    pub fn forward_repeated(&self, x: Tensor<2>, steps: usize, want_cell: bool) -> RecurrentOutput {
        let [b, xd] = x.dims();
        assert_eq!(
            xd,
            self.d_input(),
            "Recurrent::forward_repeated: input x has shape [{b}, {xd}], expected [B, {}]",
            self.d_input()
        );
        let gh = self.kind.gates() * self.d_hidden;
        let xproj = kernels::project(x, self.w_x.val(), self.b_x.val());
        // Broadcast along time without slicing: expand is a view whose gradient is a sum.
        let xproj = xproj.unsqueeze_dim::<3>(1).expand([b, steps, gh]);
        self.scan(xproj, want_cell)
    }

    /// Runs the recurrence over precomputed input projections `xproj: [B, T, G·H]`.
    fn scan(&self, xproj: Tensor<3>, want_cell: bool) -> RecurrentOutput {
        let (hidden, cell) =
            kernels::scan(self.kind, xproj, self.w_h.val(), self.b_h.val(), want_cell);
        RecurrentOutput { hidden, cell }
    }

    /// The same recurrence evaluated by autodiff of an unrolled graph of burn tensor ops
    /// (reference implementation, quadratic backward in `T`; for tests and benchmarks).
    pub fn forward_unrolled(&self, x: Tensor<3>, want_cell: bool) -> RecurrentOutput {
        let [b, t, xd] = x.dims();
        let gh = self.kind.gates() * self.d_hidden;
        let xproj = x
            .reshape([b * t, xd])
            .matmul(self.w_x.val())
            .add(self.b_x.val().unsqueeze())
            .reshape([b, t, gh]);
        let (hidden, cell) =
            reference::scan(self.kind, xproj, self.w_h.val(), self.b_h.val(), want_cell);
        RecurrentOutput { hidden, cell }
    }
}
