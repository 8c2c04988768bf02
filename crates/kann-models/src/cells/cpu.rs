//! Fused recurrence kernels on raw row-major `f32` host buffers.
//!
//! Layouts (batch-major, row `(b, t)` at `b·T + t`):
//! - `xproj: [B, T, G·H]` input projections including `b_x`;
//! - `out: [B, T, O]` with `O = H` (GRU, RNN) or `O = 2H` (LSTM: `h_t` then `c_t`);
//! - `aux: [B, T, 4H]` saved activations (GRU: `z, r, n, W_hn h + b_hn`; LSTM: `i, f, g, o`;
//!   RNN: none).
//!
//! The batch rows are independent in time, so the batch is split into one contiguous chunk per
//! thread and every thread runs the whole time loop for its rows: no synchronisation per step.
//! Per step and chunk: one `[b, H]·[H, G·H]` GEMM (forward) or `[b, G·H]·[G·H, H]` GEMM
//! (backward) plus one fused elementwise pass. The hidden-weight gradient is accumulated with
//! one GEMM per batch row over all steps (`[H, T−1]·[T−1, G·H]`).

use super::CellKind;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Problem sizes of one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub kind: CellKind,
    pub batch: usize,
    pub steps: usize,
    pub hidden: usize,
}

impl Dims {
    /// `G·H`: width of the fused gate pre-activations.
    pub fn gh(&self) -> usize {
        self.kind.gates() * self.hidden
    }
    /// Width of one `out` row.
    pub fn out_width(&self) -> usize {
        out_width(self.kind, self.hidden)
    }
    /// Width of one `aux` row.
    pub fn aux_width(&self) -> usize {
        aux_width(self.kind, self.hidden)
    }
}

/// Width of one `out` row: `2H` for the LSTM (`h`, `c`), else `H`.
pub(crate) fn out_width(kind: CellKind, h: usize) -> usize {
    if kind == CellKind::Lstm { 2 * h } else { h }
}

/// Width of one `aux` row: `4H` for GRU and LSTM, `0` for the RNN.
pub(crate) fn aux_width(kind: CellKind, h: usize) -> usize {
    match kind {
        CellKind::Gru | CellKind::Lstm => 4 * h,
        CellKind::Rnn => 0,
    }
}

/// `e^x` for `f32`, branch-free (Cephes polynomial, about 1 ulp; vectorises).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.0e-1;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((ni + 127) as u32) << 23)
}

/// Logistic sigmoid `1 / (1 + e^{−x})`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x) = 1 − 2 / (e^{2x} + 1)` (absolute error about 1e-7).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// Row-major `[rows, cols]` view with row stride `rs` (elements) starting at `slice[0]`.
fn view(slice: &[f32], rows: usize, cols: usize, rs: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice_with_stride(&slice[..span(rows, cols, rs)], rows, cols, rs)
}

/// Mutable row-major view, see [`view`].
fn view_mut(slice: &mut [f32], rows: usize, cols: usize, rs: usize) -> MatMut<'_, f32> {
    let n = span(rows, cols, rs);
    // (faer 0.24's `from_row_major_slice_with_stride_mut` swaps the strides: go through the
    // column-major constructor of the transpose instead.)
    MatMut::from_column_major_slice_with_stride_mut(&mut slice[..n], cols, rows, rs).transpose_mut()
}

/// Number of elements spanned by a strided row-major view.
fn span(rows: usize, cols: usize, rs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + cols
    }
}

/// Sets flush-to-zero and denormals-are-zero on the calling worker thread.
///
/// Backpropagated gradients decay geometrically over long sequences; once they underflow into
/// the subnormal range every multiply-add is ~100× slower (measured: the T=400 backward went from
/// 0.4 s to 6 s). Values below `1.2e-38` are far beneath `f32` precision of any result here.
fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut csr: u32 = 0;
        // SAFETY: reads and writes this thread's MXCSR register through a valid local; setting
        // FTZ (bit 15) and DAZ (bit 6) only changes how subnormal floats are rounded.
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
            csr |= 0x8040;
            core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly));
        }
    }
}

/// Number of worker threads (at most the batch size).
fn threads(batch: usize) -> usize {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    n.min(batch).max(1)
}

/// Rows per chunk when splitting `batch` rows over `threads(batch)` threads.
fn chunk_rows(batch: usize) -> usize {
    batch.div_ceil(threads(batch)).max(1)
}

/// Forward recurrence from a zero state. Returns `(out, aux)` (layouts in the module docs).
///
/// `w_h: [H, G·H]`, `b_h: [G·H]` (added inside the gates; the GRU's `n` block inside `r ⊙ (·)`).
pub(crate) fn forward(d: Dims, xproj: &[f32], w_h: &[f32], b_h: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (t, gh, ow, aw) = (d.steps, d.gh(), d.out_width(), d.aux_width());
    assert_eq!(xproj.len(), d.batch * t * gh, "xproj length");
    assert_eq!(w_h.len(), d.hidden * gh, "w_h length");
    assert_eq!(b_h.len(), gh, "b_h length");
    let mut out = vec![0.0f32; d.batch * t * ow];
    let mut aux = vec![0.0f32; d.batch * t * aw];
    if d.batch == 0 || t == 0 || d.hidden == 0 {
        return (out, aux);
    }
    let rows = chunk_rows(d.batch);
    std::thread::scope(|scope| {
        let mut aux_chunks = aux.chunks_mut((rows * t * aw).max(1));
        for (x_c, out_c) in xproj
            .chunks(rows * t * gh)
            .zip(out.chunks_mut(rows * t * ow))
        {
            let nb = x_c.len() / (t * gh);
            let aux_c: &mut [f32] = if aw == 0 {
                &mut []
            } else {
                aux_chunks.next().expect("aux chunk")
            };
            scope.spawn(move || {
                flush_denormals();
                forward_chunk(d, nb, x_c, w_h, b_h, out_c, aux_c)
            });
        }
    });
    (out, aux)
}

/// Forward recurrence for `nb` consecutive batch rows.
fn forward_chunk(
    d: Dims,
    nb: usize,
    xproj: &[f32],
    w_h: &[f32],
    b_h: &[f32],
    out: &mut [f32],
    aux: &mut [f32],
) {
    let (t, h, gh, ow, aw) = (d.steps, d.hidden, d.gh(), d.out_width(), d.aux_width());
    let mut hprev = vec![0.0f32; nb * h];
    let mut cprev = vec![0.0f32; nb * h];
    let mut hp = vec![0.0f32; nb * gh];
    let w = view(w_h, h, gh, gh);
    for s in 0..t {
        if s > 0 {
            matmul(
                view_mut(&mut hp, nb, gh, gh),
                Accum::Replace,
                view(&hprev, nb, h, h),
                w,
                1.0,
                Par::Seq,
            );
        }
        for bi in 0..nb {
            let row = bi * t + s;
            let x = &xproj[row * gh..][..gh];
            let p = &hp[bi * gh..][..gh];
            let hv = &mut hprev[bi * h..][..h];
            let o = &mut out[row * ow..][..ow];
            match d.kind {
                CellKind::Gru => {
                    let a = &mut aux[row * aw..][..aw];
                    let (az, rest) = a.split_at_mut(h);
                    let (ar, rest) = rest.split_at_mut(h);
                    let (an, ahn) = rest.split_at_mut(h);
                    let (xz, xr, xn) = (&x[..h], &x[h..2 * h], &x[2 * h..3 * h]);
                    let (pz, pr, pn) = (&p[..h], &p[h..2 * h], &p[2 * h..3 * h]);
                    let (bz, br, bn) = (&b_h[..h], &b_h[h..2 * h], &b_h[2 * h..3 * h]);
                    for j in 0..h {
                        let z = sigmoid(xz[j] + pz[j] + bz[j]);
                        let r = sigmoid(xr[j] + pr[j] + br[j]);
                        let hn = pn[j] + bn[j];
                        let n = tanh(xn[j] + r * hn);
                        let hnew = n + z * (hv[j] - n);
                        hv[j] = hnew;
                        o[j] = hnew;
                        az[j] = z;
                        ar[j] = r;
                        an[j] = n;
                        ahn[j] = hn;
                    }
                }
                CellKind::Lstm => {
                    let a = &mut aux[row * aw..][..aw];
                    let (ai, rest) = a.split_at_mut(h);
                    let (af, rest) = rest.split_at_mut(h);
                    let (ag, ao) = rest.split_at_mut(h);
                    let cv = &mut cprev[bi * h..][..h];
                    let (oh, oc) = o.split_at_mut(h);
                    for j in 0..h {
                        let i = sigmoid(x[j] + p[j] + b_h[j]);
                        let f = sigmoid(x[h + j] + p[h + j] + b_h[h + j]);
                        let g = tanh(x[2 * h + j] + p[2 * h + j] + b_h[2 * h + j]);
                        let og = sigmoid(x[3 * h + j] + p[3 * h + j] + b_h[3 * h + j]);
                        let c = f * cv[j] + i * g;
                        let hnew = og * tanh(c);
                        cv[j] = c;
                        hv[j] = hnew;
                        oh[j] = hnew;
                        oc[j] = c;
                        ai[j] = i;
                        af[j] = f;
                        ag[j] = g;
                        ao[j] = og;
                    }
                }
                CellKind::Rnn => {
                    for j in 0..h {
                        let hnew = tanh(x[j] + p[j] + b_h[j]);
                        hv[j] = hnew;
                        o[j] = hnew;
                    }
                }
            }
        }
    }
}

/// Gradients returned by [`backward`].
pub(crate) struct Grads {
    /// `[B, T, G·H]`: gradient of the input projections.
    pub xproj: Vec<f32>,
    /// `[H, G·H]`: gradient of the hidden weights.
    pub w_h: Vec<f32>,
    /// `[G·H]`: gradient of the hidden bias.
    pub b_h: Vec<f32>,
}

/// Backpropagation through time for [`forward`], given the gradient of `out`.
pub(crate) fn backward(d: Dims, grad_out: &[f32], out: &[f32], aux: &[f32], w_h: &[f32]) -> Grads {
    let (t, h, gh, ow, aw) = (d.steps, d.hidden, d.gh(), d.out_width(), d.aux_width());
    assert_eq!(grad_out.len(), d.batch * t * ow, "grad_out length");
    assert_eq!(out.len(), d.batch * t * ow, "out length");
    assert_eq!(aux.len(), d.batch * t * aw, "aux length");
    assert_eq!(w_h.len(), h * gh, "w_h length");
    let mut gx = vec![0.0f32; d.batch * t * gh];
    let mut gw = vec![0.0f32; h * gh];
    let mut gb = vec![0.0f32; gh];
    if d.batch == 0 || t == 0 || h == 0 {
        return Grads {
            xproj: gx,
            w_h: gw,
            b_h: gb,
        };
    }
    let rows = chunk_rows(d.batch);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut aux_chunks = aux.chunks((rows * t * aw).max(1));
        for ((gx_c, go_c), out_c) in gx
            .chunks_mut(rows * t * gh)
            .zip(grad_out.chunks(rows * t * ow))
            .zip(out.chunks(rows * t * ow))
        {
            let nb = gx_c.len() / (t * gh);
            let aux_c: &[f32] = if aw == 0 {
                &[]
            } else {
                aux_chunks.next().expect("aux chunk")
            };
            handles.push(scope.spawn(move || {
                flush_denormals();
                backward_chunk(d, nb, go_c, out_c, aux_c, w_h, gx_c)
            }));
        }
        handles
            .into_iter()
            .map(|hd| hd.join().expect("recurrent backward worker panicked"))
            .collect()
    });
    for (pw, pb) in partials {
        gw.iter_mut().zip(&pw).for_each(|(a, b)| *a += b);
        gb.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
    }
    Grads {
        xproj: gx,
        w_h: gw,
        b_h: gb,
    }
}

/// BPTT for `nb` consecutive batch rows; writes `gx` and returns partial `(grad_w_h, grad_b_h)`.
fn backward_chunk(
    d: Dims,
    nb: usize,
    grad_out: &[f32],
    out: &[f32],
    aux: &[f32],
    w_h: &[f32],
    gx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let (t, h, gh, ow, aw) = (d.steps, d.hidden, d.gh(), d.out_width(), d.aux_width());
    let is_gru = d.kind == CellKind::Gru;
    // GRU: gradient of the hidden projection's n block is r ⊙ grad(a_n); other blocks equal gx.
    let mut gn = if is_gru {
        vec![0.0f32; nb * t * h]
    } else {
        Vec::new()
    };
    let mut dh_next = vec![0.0f32; nb * h];
    let mut dc_next = vec![0.0f32; nb * h];
    let mut ghp = vec![0.0f32; nb * gh];
    let w = view(w_h, h, gh, gh);
    let trace = std::env::var_os("KANN_CELLS_TRACE").is_some();
    let t0 = std::time::Instant::now();
    for s in (0..t).rev() {
        for bi in 0..nb {
            let row = bi * t + s;
            let go = &grad_out[row * ow..][..ow];
            let o = &out[row * ow..][..ow];
            let prev = (s > 0).then(|| &out[(row - 1) * ow..][..ow]);
            let g = &mut gx[row * gh..][..gh];
            let dn = &mut dh_next[bi * h..][..h];
            match d.kind {
                CellKind::Gru => {
                    let a = &aux[row * aw..][..aw];
                    let (az, ar, an, ahn) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..]);
                    let gnr = &mut gn[row * h..][..h];
                    let (gz, rest) = g.split_at_mut(h);
                    let (gr, gnn) = rest.split_at_mut(h);
                    for j in 0..h {
                        let hp = prev.map_or(0.0, |p| p[j]);
                        let dh = go[j] + dn[j];
                        let (z, r, n, hn) = (az[j], ar[j], an[j], ahn[j]);
                        let dan = dh * (1.0 - z) * (1.0 - n * n);
                        let daz = dh * (hp - n) * z * (1.0 - z);
                        let dar = dan * hn * r * (1.0 - r);
                        gz[j] = daz;
                        gr[j] = dar;
                        gnn[j] = dan;
                        gnr[j] = dan * r;
                        dn[j] = dh * z;
                    }
                }
                CellKind::Lstm => {
                    let a = &aux[row * aw..][..aw];
                    let (ai, af, ag, ao) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..]);
                    let dcn = &mut dc_next[bi * h..][..h];
                    let (gi, rest) = g.split_at_mut(h);
                    let (gf, rest) = rest.split_at_mut(h);
                    let (gg, go_) = rest.split_at_mut(h);
                    for j in 0..h {
                        let cp = prev.map_or(0.0, |p| p[h + j]);
                        let c = o[h + j];
                        let tc = tanh(c);
                        let dh = go[j] + dn[j];
                        let (i, f, gv, og) = (ai[j], af[j], ag[j], ao[j]);
                        let dc = go[h + j] + dcn[j] + dh * og * (1.0 - tc * tc);
                        go_[j] = dh * tc * og * (1.0 - og);
                        gi[j] = dc * gv * i * (1.0 - i);
                        gg[j] = dc * i * (1.0 - gv * gv);
                        gf[j] = dc * cp * f * (1.0 - f);
                        dcn[j] = dc * f;
                        dn[j] = 0.0;
                    }
                }
                CellKind::Rnn => {
                    for j in 0..h {
                        let dh = go[j] + dn[j];
                        g[j] = dh * (1.0 - o[j] * o[j]);
                        dn[j] = 0.0;
                    }
                }
            }
        }
        if s > 0 {
            // dh_{t-1} += grad_hproj_t · W_hᵀ for all rows of the chunk at once (the rows are
            // first gathered into a contiguous buffer: strided GEMM operands are slow).
            for bi in 0..nb {
                let row = bi * t + s;
                let dst = &mut ghp[bi * gh..][..gh];
                dst.copy_from_slice(&gx[row * gh..][..gh]);
                if is_gru {
                    dst[2 * h..].copy_from_slice(&gn[row * h..][..h]);
                }
            }
            matmul(
                view_mut(&mut dh_next, nb, h, h),
                Accum::Add,
                view(&ghp, nb, gh, gh),
                w.transpose(),
                1.0,
                Par::Seq,
            );
        }
    }
    if trace {
        eprintln!("TRACE bptt loop {:?}", t0.elapsed());
    }
    // grad W_h = Σ_t h_{t-1}ᵀ · grad_hproj_t, one GEMM per batch row over steps 1..T.
    let mut gw = vec![0.0f32; h * gh];
    let mut gb = vec![0.0f32; gh];
    for bi in 0..nb {
        let base = bi * t;
        if t > 1 {
            let hprev = view(&out[base * ow..], t - 1, h, ow).transpose();
            let mut dst = view_mut(&mut gw, h, gh, gh);
            if is_gru {
                matmul(
                    dst.as_mut().subcols_mut(0, 2 * h),
                    Accum::Add,
                    hprev,
                    view(&gx[(base + 1) * gh..], t - 1, 2 * h, gh),
                    1.0,
                    Par::Seq,
                );
                matmul(
                    dst.subcols_mut(2 * h, h),
                    Accum::Add,
                    hprev,
                    view(&gn[(base + 1) * h..], t - 1, h, h),
                    1.0,
                    Par::Seq,
                );
            } else {
                matmul(
                    dst,
                    Accum::Add,
                    hprev,
                    view(&gx[(base + 1) * gh..], t - 1, gh, gh),
                    1.0,
                    Par::Seq,
                );
            }
        }
        for s in 0..t {
            let row = base + s;
            let g = &gx[row * gh..][..gh];
            if is_gru {
                let gnr = &gn[row * h..][..h];
                gb[..2 * h]
                    .iter_mut()
                    .zip(&g[..2 * h])
                    .for_each(|(a, b)| *a += b);
                gb[2 * h..].iter_mut().zip(gnr).for_each(|(a, b)| *a += b);
            } else {
                gb.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
        }
    }
    if trace {
        eprintln!("TRACE bptt total {:?}", t0.elapsed());
    }
    (gw, gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std() {
        let mut worst = 0.0f32;
        let mut x = -80.0f32;
        while x < 80.0 {
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!((tanh(0.3) - 0.3f32.tanh()).abs() < 1e-6);
        assert!((sigmoid(-2.0) - 1.0 / (1.0 + 2.0f32.exp())).abs() < 1e-6);
    }
}
