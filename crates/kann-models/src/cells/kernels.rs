//! The recurrence as one custom backend operation with a hand-written backward.
//!
//! [`RecurrentBackend`] is a burn backend extension: `recurrent_scan` is routed at runtime to the
//! tensor's backend. Under autodiff it records ONE graph node whose backward calls
//! `recurrent_backward` (BPTT). `Flex` (CPU) runs fused kernels on host buffers (`cpu.rs`);
//! other backends use the primitive-op composition in `generic.rs`.

// The `NdArray` selector of the extension (benchmark-only feature) names a deprecated backend.
#![cfg_attr(feature = "ndarray", allow(deprecated))]

use super::CellKind;
use super::cpu::{self, Dims};
use super::generic;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};

/// Backend operations of the fused recurrence (a burn backend extension).
///
/// Shapes: `xproj: [B, T, G·H]` (input projections incl. the input bias), `w_h: [H, G·H]`,
/// `b_h: [G·H]`; `out: [B, T, O]` with `O = 2H` for the LSTM (`h_t` then `c_t`) and `H`
/// otherwise; `aux: [B, T, 4H]` saved gate activations (placeholder for the RNN).
#[backend_extension(Flex, Autodiff, NdArray: cfg(feature = "ndarray"), Cube: cfg(feature = "wgpu"))]
pub trait RecurrentBackend: Backend {
    /// Runs the recurrence from a zero state and returns `out`.
    fn recurrent_scan(
        kind: CellKind,
        xproj: FloatTensor<Self>,
        w_h: FloatTensor<Self>,
        b_h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::recurrent_forward(kind, xproj, w_h, b_h).0
    }

    /// Runs the recurrence and returns `(out, aux)` for the backward pass.
    fn recurrent_forward(
        kind: CellKind,
        xproj: FloatTensor<Self>,
        w_h: FloatTensor<Self>,
        b_h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        generic::forward::<Self>(kind, xproj, w_h, b_h)
    }

    /// BPTT: from the gradient of `out`, returns `(grad_xproj, grad_w_h, grad_b_h)`.
    fn recurrent_backward(
        kind: CellKind,
        grad_out: FloatTensor<Self>,
        out: FloatTensor<Self>,
        aux: FloatTensor<Self>,
        w_h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        generic::backward::<Self>(kind, grad_out, out, aux, w_h)
    }

    /// Input projection of all steps at once, `y = x·w + b` with `x: [N, X]`, `w: [X, Y]`,
    /// `b: [Y]` (one GEMM; on `Flex` a multi-threaded AVX-512/AVX2 GEMM from faer).
    fn projection(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        generic::projection::<Self>(x, w, b)
    }

    /// Gradients of [`RecurrentBackend::projection`] from `grad_y: [N, Y]`:
    /// `(grad_x` (only when `want_x`)`, grad_w, grad_b)`.
    fn projection_backward(
        grad_y: FloatTensor<Self>,
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        want_x: bool,
    ) -> (
        Option<FloatTensor<Self>>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        generic::projection_backward::<Self>(grad_y, x, w, want_x)
    }
}

#[cfg(feature = "wgpu")]
impl RecurrentBackend for burn::backend::Cube {}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // benchmark-only backend (see the `ndarray` feature)
impl RecurrentBackend for burn::backend::NdArray {}

/// Contiguous `f32` contents of a Flex tensor (copies only when it is a strided view).
fn host(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) if s.len() == t.shape().num_elements() => std::borrow::Cow::Borrowed(s),
        _ => {
            let c = t.to_contiguous();
            std::borrow::Cow::Owned(c.as_slice::<f32>().expect("contiguous f32 tensor").to_vec())
        }
    }
}

fn flex_tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

fn is_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

impl RecurrentBackend for Flex {
    fn recurrent_forward(
        kind: CellKind,
        xproj: FlexTensor,
        w_h: FlexTensor,
        b_h: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        if !is_f32(&[&xproj, &w_h, &b_h]) {
            return generic::forward::<Self>(kind, xproj, w_h, b_h);
        }
        let [batch, steps, _] = xproj.shape().dims::<3>();
        let [hidden, _] = w_h.shape().dims::<2>();
        let d = Dims {
            kind,
            batch,
            steps,
            hidden,
        };
        let (out, aux) = cpu::forward(d, &host(&xproj), &host(&w_h), &host(&b_h));
        let aux = if d.aux_width() == 0 {
            flex_tensor(vec![0.0], [1, 1, 1])
        } else {
            flex_tensor(aux, [batch, steps, d.aux_width()])
        };
        (flex_tensor(out, [batch, steps, d.out_width()]), aux)
    }

    fn recurrent_backward(
        kind: CellKind,
        grad_out: FlexTensor,
        out: FlexTensor,
        aux: FlexTensor,
        w_h: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        if !is_f32(&[&grad_out, &out, &aux, &w_h]) {
            return generic::backward::<Self>(kind, grad_out, out, aux, w_h);
        }
        let [batch, steps, _] = out.shape().dims::<3>();
        let [hidden, gh] = w_h.shape().dims::<2>();
        let d = Dims {
            kind,
            batch,
            steps,
            hidden,
        };
        let aux_host = if d.aux_width() == 0 {
            std::borrow::Cow::Borrowed(&[][..])
        } else {
            host(&aux)
        };
        let g = cpu::backward(d, &host(&grad_out), &host(&out), &aux_host, &host(&w_h));
        (
            flex_tensor(g.xproj, [batch, steps, gh]),
            flex_tensor(g.w_h, [hidden, gh]),
            flex_tensor(g.b_h, [gh]),
        )
    }

    fn projection(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        if !is_f32(&[&x, &w, &b]) {
            return generic::projection::<Self>(x, w, b);
        }
        let [n, xd] = x.shape().dims::<2>();
        let [_, yd] = w.shape().dims::<2>();
        let y = cpu::projection(n, xd, yd, &host(&x), &host(&w), &host(&b));
        flex_tensor(y, [n, yd])
    }

    fn projection_backward(
        grad_y: FlexTensor,
        x: FlexTensor,
        w: FlexTensor,
        want_x: bool,
    ) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
        if !is_f32(&[&grad_y, &x, &w]) {
            return generic::projection_backward::<Self>(grad_y, x, w, want_x);
        }
        let [n, xd] = x.shape().dims::<2>();
        let [_, yd] = w.shape().dims::<2>();
        let (gx, gw, gb) =
            cpu::projection_backward(n, xd, yd, &host(&grad_y), &host(&x), &host(&w), want_x);
        (
            gx.map(|gx| flex_tensor(gx, [n, xd])),
            flex_tensor(gw, [xd, yd]),
            flex_tensor(gb, [yd]),
        )
    }
}

/// Registers each gradient whose parent node is tracked (an untracked parent's is dropped).
fn register_grads<B: Backend>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; 3],
    values: [Option<FloatTensor<B>>; 3],
) {
    for (node, value) in parents.into_iter().zip(values) {
        if let (Some(node), Some(value)) = (node, value) {
            grads.register::<B>(node, value);
        }
    }
}

impl<B: RecurrentBackend, C: CheckpointStrategy> RecurrentBackend for Autodiff<B, C> {
    fn recurrent_scan(
        kind: CellKind,
        xproj: FloatTensor<Self>,
        w_h: FloatTensor<Self>,
        b_h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        /// Backward step of the whole recurrence (parents: `xproj`, `w_h`, `b_h`).
        #[derive(Debug)]
        struct ScanBackward;

        impl<B: RecurrentBackend> Backward<B, 3> for ScanBackward {
            type State = (CellKind, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let parents = ops.parents.map(|node| node.map(|node| node.id));
                let grad = grads.consume::<B>(&ops.node);
                let (kind, out, aux, w_h) = ops.state;
                let (gx, gw, gb) = B::recurrent_backward(kind, grad, out, aux, w_h);
                register_grads::<B>(grads, parents, [Some(gx), Some(gw), Some(gb)]);
            }
        }

        let (x, guard_x) = xproj.into_parts();
        let (w, guard_w) = w_h.into_parts();
        let (b, guard_b) = b_h.into_parts();
        match ScanBackward
            .prepare::<C>([guard_x, guard_w, guard_b])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, aux) = B::recurrent_forward(kind, x, w.clone(), b);
                prep.finish((kind, out.clone(), aux, w), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::recurrent_scan(kind, x, w, b)),
        }
    }

    fn projection(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        /// Backward step of the projection (parents: `x`, `w`, `b`).
        #[derive(Debug)]
        struct ProjectionBackward;

        impl<B: RecurrentBackend> Backward<B, 3> for ProjectionBackward {
            type State = (FloatTensor<B>, FloatTensor<B>);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let parents = ops.parents.map(|node| node.map(|node| node.id));
                let grad = grads.consume::<B>(&ops.node);
                let (x, w) = ops.state;
                let (gx, gw, gb) = B::projection_backward(grad, x, w, parents[0].is_some());
                register_grads::<B>(grads, parents, [gx, Some(gw), Some(gb)]);
            }
        }

        let (x, guard_x) = x.into_parts();
        let (w, guard_w) = w.into_parts();
        let (b, guard_b) = b.into_parts();
        match ProjectionBackward
            .prepare::<C>([guard_x, guard_w, guard_b])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::projection(x.clone(), w.clone(), b);
                prep.finish((x, w), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::projection(x, w, b)),
        }
    }
}

/// `x·w + b` for `x: [N, X]`, `w: [X, Y]`, `b: [Y]` through the backend extension.
pub(crate) fn project(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    Tensor::<2>::from_dispatch(<Dispatch as RecurrentBackend>::projection(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// Runs the recurrence over `xproj: [B, T, G·H]` through the backend extension. Returns hidden
/// states `[B, T, H]` and, for the LSTM when `want_cell`, cell states `[B, T, H]`.
pub(crate) fn scan(
    kind: CellKind,
    xproj: Tensor<3>,
    w_h: Tensor<2>,
    b_h: Tensor<1>,
    want_cell: bool,
) -> (Tensor<3>, Option<Tensor<3>>) {
    let [h, _] = w_h.dims();
    let out = Tensor::<3>::from_dispatch(<Dispatch as RecurrentBackend>::recurrent_scan(
        kind,
        xproj.into_dispatch(),
        w_h.into_dispatch(),
        b_h.into_dispatch(),
    ));
    if kind == CellKind::Lstm {
        let cell = want_cell.then(|| out.clone().narrow(2, h, h));
        (out.narrow(2, 0, h), cell)
    } else {
        (out, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 + seed) * 0.7317).sin() * 0.8)
            .collect()
    }

    fn assert_same(what: &str, a: &FlexTensor, b: &FlexTensor) {
        assert_eq!(a.shape(), b.shape(), "{what}: shapes");
        let worst = host(a)
            .iter()
            .zip(host(b).iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{what}: max difference {worst:e}");
    }

    /// The backend-generic path (used on GPUs) and the fused CPU kernels agree.
    #[test]
    fn generic_path_matches_fused_kernels() {
        let (b, t, h) = (3, 6, 5);
        for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
            let gh = kind.gates() * h;
            let ow = cpu::out_width(kind, h);
            let x = flex_tensor(values(b * t * gh, 1.0), [b, t, gh]);
            let w = flex_tensor(values(h * gh, 2.0), [h, gh]);
            let bias = flex_tensor(values(gh, 3.0), [gh]);
            let (o1, a1) = Flex::recurrent_forward(kind, x.clone(), w.clone(), bias.clone());
            let (o2, a2) = generic::forward::<Flex>(kind, x, w.clone(), bias);
            assert_same("out", &o1, &o2);
            assert_same("aux", &a1, &a2);
            let go = flex_tensor(values(b * t * ow, 4.0), [b, t, ow]);
            let g1 = Flex::recurrent_backward(kind, go.clone(), o1.clone(), a1.clone(), w.clone());
            let g2 = generic::backward::<Flex>(kind, go, o1, a1, w);
            assert_same("grad xproj", &g1.0, &g2.0);
            assert_same("grad w_h", &g1.1, &g2.1);
            assert_same("grad b_h", &g1.2, &g2.2);
        }
    }

    /// The faer projection kernel and its backward agree with burn's matmul + bias composition.
    #[test]
    fn projection_matches_generic_path() {
        let (n, xd, yd) = (37, 9, 12);
        let x = flex_tensor(values(n * xd, 5.0), [n, xd]);
        let w = flex_tensor(values(xd * yd, 6.0), [xd, yd]);
        let b = flex_tensor(values(yd, 7.0), [yd]);
        let y1 = Flex::projection(x.clone(), w.clone(), b.clone());
        let y2 = generic::projection::<Flex>(x.clone(), w.clone(), b);
        assert_same("y", &y1, &y2);
        let gy = flex_tensor(values(n * yd, 8.0), [n, yd]);
        let (gx1, gw1, gb1) = Flex::projection_backward(gy.clone(), x.clone(), w.clone(), true);
        let (gx2, gw2, gb2) =
            generic::projection_backward::<Flex>(gy.clone(), x.clone(), w.clone(), true);
        assert_same(
            "grad x",
            &gx1.expect("grad x requested"),
            &gx2.expect("grad x requested"),
        );
        assert_same("grad w", &gw1, &gw2);
        assert_same("grad b", &gb1, &gb2);
        let (gx3, gw3, _) = Flex::projection_backward(gy, x, w, false);
        assert!(gx3.is_none(), "grad x computed although not requested");
        assert_same("grad w without grad x", &gw3, &gw2);
    }
}
