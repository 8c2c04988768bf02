//! Backend-generic forward and backward of the recurrence, written with primitive tensor
//! operations of any [`Backend`] (used where no fused kernel exists, e.g. `wgpu`).
//!
//! Same contract as the fused CPU kernels in `cpu.rs`: `out: [B, T, O]`, `aux: [B, T, 4H]`
//! (a `[1, 1, 1]` placeholder for the RNN). Per-step tensors are collected in vectors and
//! concatenated once, so the cost stays linear in `T`.

use super::CellKind;
use super::cpu::{aux_width, out_width};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, FloatDType, Slice, TensorMetadata};
use burn::tensor::Shape;

fn narrow<B: Backend>(t: FloatTensor<B>, dim: usize, start: usize, len: usize) -> FloatTensor<B> {
    let rank = t.shape().num_dims();
    let slices: Vec<Slice> = (0..rank)
        .map(|d| {
            if d == dim {
                Slice::from(start..start + len)
            } else {
                Slice::from(..)
            }
        })
        .collect();
    B::float_slice(t, &slices)
}

fn reshape<B: Backend, const D: usize>(t: FloatTensor<B>, dims: [usize; D]) -> FloatTensor<B> {
    B::float_reshape(t, Shape::new(dims))
}

fn one_minus<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    B::float_add_scalar(B::float_neg(t), 1.0f32.into())
}

fn dims3<B: Backend>(t: &FloatTensor<B>) -> [usize; 3] {
    t.shape().dims::<3>()
}

/// Forward recurrence; see the module docs.
pub(crate) fn forward<B: Backend>(
    kind: CellKind,
    xproj: FloatTensor<B>,
    w_h: FloatTensor<B>,
    b_h: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let [b, t, gh] = dims3::<B>(&xproj);
    let h = gh / kind.gates();
    let device = xproj.device();
    let dtype = FloatDType::from(xproj.dtype());
    let bias = B::float_expand(reshape::<B, 2>(b_h, [1, gh]), Shape::new([b, gh]));
    let mut hprev = B::float_zeros(Shape::new([b, h]), &device, dtype);
    let mut cprev = hprev.clone();
    let mut outs = Vec::with_capacity(t);
    let mut auxs = Vec::with_capacity(t);
    for s in 0..t {
        let x = reshape::<B, 2>(narrow::<B>(xproj.clone(), 1, s, 1), [b, gh]);
        let p = B::float_add(B::float_matmul(hprev.clone(), w_h.clone()), bias.clone());
        let (o, a) = match kind {
            CellKind::Gru => {
                let z = B::sigmoid(B::float_add(
                    narrow::<B>(x.clone(), 1, 0, h),
                    narrow::<B>(p.clone(), 1, 0, h),
                ));
                let r = B::sigmoid(B::float_add(
                    narrow::<B>(x.clone(), 1, h, h),
                    narrow::<B>(p.clone(), 1, h, h),
                ));
                let hn = narrow::<B>(p, 1, 2 * h, h);
                let n = B::float_tanh(B::float_add(
                    narrow::<B>(x, 1, 2 * h, h),
                    B::float_mul(r.clone(), hn.clone()),
                ));
                let hnew = B::float_add(
                    n.clone(),
                    B::float_mul(z.clone(), B::float_sub(hprev, n.clone())),
                );
                hprev = hnew.clone();
                (hnew, Some(B::float_cat(vec![z, r, n, hn], 1)))
            }
            CellKind::Lstm => {
                let a = B::float_add(x, p);
                let i = B::sigmoid(narrow::<B>(a.clone(), 1, 0, h));
                let f = B::sigmoid(narrow::<B>(a.clone(), 1, h, h));
                let g = B::float_tanh(narrow::<B>(a.clone(), 1, 2 * h, h));
                let og = B::sigmoid(narrow::<B>(a, 1, 3 * h, h));
                let c = B::float_add(
                    B::float_mul(f.clone(), cprev),
                    B::float_mul(i.clone(), g.clone()),
                );
                let hnew = B::float_mul(og.clone(), B::float_tanh(c.clone()));
                cprev = c.clone();
                hprev = hnew.clone();
                (
                    B::float_cat(vec![hnew, c], 1),
                    Some(B::float_cat(vec![i, f, g, og], 1)),
                )
            }
            CellKind::Rnn => {
                let hnew = B::float_tanh(B::float_add(x, p));
                hprev = hnew.clone();
                (hnew, None)
            }
        };
        outs.push(reshape::<B, 3>(o, [b, 1, out_width(kind, h)]));
        if let Some(a) = a {
            auxs.push(reshape::<B, 3>(a, [b, 1, aux_width(kind, h)]));
        }
    }
    let out = B::float_cat(outs, 1);
    let aux = if auxs.is_empty() {
        B::float_zeros(Shape::new([1, 1, 1]), &device, dtype)
    } else {
        B::float_cat(auxs, 1)
    };
    (out, aux)
}

/// Backpropagation through time; returns `(grad_xproj, grad_w_h, grad_b_h)`.
pub(crate) fn backward<B: Backend>(
    kind: CellKind,
    grad_out: FloatTensor<B>,
    out: FloatTensor<B>,
    aux: FloatTensor<B>,
    w_h: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let [b, t, _] = dims3::<B>(&out);
    let [h, gh] = w_h.shape().dims::<2>();
    let ow = out_width(kind, h);
    let aw = aux_width(kind, h);
    let device = out.device();
    let dtype = FloatDType::from(out.dtype());
    let w_t = B::float_transpose(w_h);
    let zeros = B::float_zeros(Shape::new([b, h]), &device, dtype);
    let row = |tensor: &FloatTensor<B>, s: usize, width: usize| {
        reshape::<B, 2>(narrow::<B>(tensor.clone(), 1, s, 1), [b, width])
    };
    let mut dh_next = zeros.clone();
    let mut dc_next = zeros.clone();
    let mut gxs = Vec::with_capacity(t);
    let mut ghs = Vec::with_capacity(t);
    for s in (0..t).rev() {
        let go = row(&grad_out, s, ow);
        let o = row(&out, s, ow);
        let prev = if s > 0 {
            Some(row(&out, s - 1, ow))
        } else {
            None
        };
        let dh = B::float_add(narrow::<B>(go.clone(), 1, 0, h), dh_next);
        let (gx, ghp, dh_direct) = match kind {
            CellKind::Gru => {
                let a = row(&aux, s, aw);
                let z = narrow::<B>(a.clone(), 1, 0, h);
                let r = narrow::<B>(a.clone(), 1, h, h);
                let n = narrow::<B>(a.clone(), 1, 2 * h, h);
                let hn = narrow::<B>(a, 1, 3 * h, h);
                let hp = prev.unwrap_or_else(|| zeros.clone());
                let dz_sig = B::float_mul(z.clone(), one_minus::<B>(z.clone()));
                let dr_sig = B::float_mul(r.clone(), one_minus::<B>(r.clone()));
                let dn_tanh = one_minus::<B>(B::float_mul(n.clone(), n.clone()));
                let dan =
                    B::float_mul(B::float_mul(dh.clone(), one_minus::<B>(z.clone())), dn_tanh);
                let daz = B::float_mul(B::float_mul(dh.clone(), B::float_sub(hp, n)), dz_sig);
                let dar = B::float_mul(B::float_mul(dan.clone(), hn), dr_sig);
                let gnr = B::float_mul(dan.clone(), r);
                let gx = B::float_cat(vec![daz.clone(), dar.clone(), dan], 1);
                let ghp = B::float_cat(vec![daz, dar, gnr], 1);
                (gx, ghp, Some(B::float_mul(dh, z)))
            }
            CellKind::Lstm => {
                let a = row(&aux, s, aw);
                let i = narrow::<B>(a.clone(), 1, 0, h);
                let f = narrow::<B>(a.clone(), 1, h, h);
                let g = narrow::<B>(a.clone(), 1, 2 * h, h);
                let og = narrow::<B>(a, 1, 3 * h, h);
                let c = narrow::<B>(o, 1, h, h);
                let cp = prev.map_or_else(|| zeros.clone(), |p| narrow::<B>(p, 1, h, h));
                let tc = B::float_tanh(c);
                let dc = B::float_add(
                    B::float_add(narrow::<B>(go, 1, h, h), dc_next),
                    B::float_mul(
                        B::float_mul(dh.clone(), og.clone()),
                        one_minus::<B>(B::float_mul(tc.clone(), tc.clone())),
                    ),
                );
                let sig = |v: FloatTensor<B>| B::float_mul(v.clone(), one_minus::<B>(v));
                let dao = B::float_mul(B::float_mul(dh, tc), sig(og));
                let dai = B::float_mul(B::float_mul(dc.clone(), g.clone()), sig(i.clone()));
                let dag = B::float_mul(
                    B::float_mul(dc.clone(), i),
                    one_minus::<B>(B::float_mul(g.clone(), g)),
                );
                let daf = B::float_mul(B::float_mul(dc.clone(), cp), sig(f.clone()));
                dc_next = B::float_mul(dc, f);
                let gx = B::float_cat(vec![dai, daf, dag, dao], 1);
                (gx.clone(), gx, None)
            }
            CellKind::Rnn => {
                let hv = narrow::<B>(o, 1, 0, h);
                let gx = B::float_mul(dh, one_minus::<B>(B::float_mul(hv.clone(), hv)));
                (gx.clone(), gx, None)
            }
        };
        let back = B::float_matmul(ghp.clone(), w_t.clone());
        dh_next = match dh_direct {
            Some(d) => B::float_add(d, back),
            None => back,
        };
        gxs.push(reshape::<B, 3>(gx, [b, 1, gh]));
        ghs.push(reshape::<B, 3>(ghp, [b, 1, gh]));
    }
    gxs.reverse();
    ghs.reverse();
    let gx = B::float_cat(gxs, 1);
    let ghp = reshape::<B, 2>(B::float_cat(ghs, 1), [b * t, gh]);
    let hidden = narrow::<B>(out, 2, 0, h);
    let hprev = if t > 1 {
        B::float_cat(
            vec![
                B::float_zeros(Shape::new([b, 1, h]), &device, dtype),
                narrow::<B>(hidden, 1, 0, t - 1),
            ],
            1,
        )
    } else {
        B::float_zeros(Shape::new([b, 1, h]), &device, dtype)
    };
    let hprev = reshape::<B, 2>(hprev, [b * t, h]);
    let gw = B::float_matmul(B::float_transpose(hprev), ghp.clone());
    let gb = reshape::<B, 1>(B::float_sum_dim(ghp, 0), [gh]);
    (gx, gw, gb)
}

/// Input projection `y = x·w + b` (`x: [N, X]`, `w: [X, Y]`, `b: [Y]`) with primitive ops.
pub(crate) fn projection<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: FloatTensor<B>,
) -> FloatTensor<B> {
    let [n, _] = x.shape().dims::<2>();
    let [y] = b.shape().dims::<1>();
    let bias = B::float_expand(reshape::<B, 2>(b, [1, y]), Shape::new([n, y]));
    B::float_add(B::float_matmul(x, w), bias)
}

/// Gradients of [`projection`]: `(grad_x if want_x, grad_w, grad_b)`.
pub(crate) fn projection_backward<B: Backend>(
    grad_y: FloatTensor<B>,
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    want_x: bool,
) -> (Option<FloatTensor<B>>, FloatTensor<B>, FloatTensor<B>) {
    let [_, y] = grad_y.shape().dims::<2>();
    let gx = want_x.then(|| B::float_matmul(grad_y.clone(), B::float_transpose(w)));
    let gw = B::float_matmul(B::float_transpose(x), grad_y.clone());
    let gb = reshape::<B, 1>(B::float_sum_dim(grad_y, 0), [y]);
    (gx, gw, gb)
}
