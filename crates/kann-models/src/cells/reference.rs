//! Reference recurrence: autodiff of an unrolled graph of burn tensor operations.
//!
//! Correct on every backend but its backward is quadratic in `T` (each time slice of `xproj`
//! receives a full-size gradient). Used by tests and benchmarks as the baseline.

use super::CellKind;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// Runs the recurrence over `xproj: [B, T, G·H]` with hidden weights `w_h: [H, G·H]` and hidden
/// bias `b_h: [G·H]` from a zero state. Returns hidden states `[B, T, H]` and, when `want_cell`
/// and the cell is an LSTM, cell states `[B, T, H]`.
pub(crate) fn scan(
    kind: CellKind,
    xproj: Tensor<3>,
    w_h: Tensor<2>,
    b_h: Tensor<1>,
    want_cell: bool,
) -> (Tensor<3>, Option<Tensor<3>>) {
    let [b, t, gh] = xproj.dims();
    let [h, _] = w_h.dims();
    let device = xproj.device();
    let b_h = b_h.unsqueeze::<2>();
    let mut hprev = Tensor::<2>::zeros([b, h], &device);
    let mut cprev = Tensor::<2>::zeros([b, h], &device);
    let mut hs = Vec::with_capacity(t);
    let mut cs = Vec::new();
    for step in 0..t {
        let xt = xproj.clone().narrow(1, step, 1).reshape([b, gh]);
        let hp = hprev.clone().matmul(w_h.clone()) + b_h.clone();
        let hnew = match kind {
            CellKind::Gru => {
                let xg = xt.chunk(3, 1);
                let hg = hp.chunk(3, 1);
                let z = sigmoid(xg[0].clone() + hg[0].clone());
                let r = sigmoid(xg[1].clone() + hg[1].clone());
                let n = (xg[2].clone() + r * hg[2].clone()).tanh();
                // (1 - z) n + z h
                n.clone() + z * (hprev - n)
            }
            CellKind::Lstm => {
                let a = (xt + hp).chunk(4, 1);
                let i = sigmoid(a[0].clone());
                let f = sigmoid(a[1].clone());
                let g = a[2].clone().tanh();
                let o = sigmoid(a[3].clone());
                let c = f * cprev + i * g;
                cprev = c.clone();
                if want_cell {
                    cs.push(c.clone());
                }
                o * c.tanh()
            }
            CellKind::Rnn => (xt + hp).tanh(),
        };
        hs.push(hnew.clone());
        hprev = hnew;
    }
    let hidden = Tensor::stack::<3>(hs, 1);
    let cell = (want_cell && kind == CellKind::Lstm).then(|| Tensor::stack::<3>(cs, 1));
    (hidden, cell)
}
