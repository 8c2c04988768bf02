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
use super::small_gemm;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Widest instruction set [`simd_dispatch`] may pick: 0 the baseline build, 1 AVX2+FMA,
/// 2 AVX-512 (default: no cap). Tests lower it to check that every path gives the same results.
static MAX_SIMD_LEVEL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// Calls `$body_fn(args…)` (an `#[inline(always)]` function) through a copy compiled with
/// AVX-512 or AVX2+FMA when the CPU has them, so that the gate loops are vectorised 16 or 8
/// lanes wide; falls back to the baseline build elsewhere.
macro_rules! simd_dispatch {
    ($body_fn:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
            fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            match simd_level() {
                // SAFETY: level 2 means the CPU supports every feature `avx512` enables.
                2 => unsafe { avx512(|| $body_fn($($arg),*)) },
                // SAFETY: level 1 means the CPU supports AVX2 and FMA.
                1 => unsafe { avx2(|| $body_fn($($arg),*)) },
                _ => $body_fn($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $body_fn($($arg),*)
        }
    }};
}

/// The instruction set the kernels use now: 2 AVX-512 (F, VL, DQ), 1 AVX2+FMA, 0 baseline;
/// the CPU's best, capped by [`MAX_SIMD_LEVEL`].
pub(super) fn simd_level() -> u8 {
    let cap = MAX_SIMD_LEVEL.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_arch = "x86_64")]
    {
        let has_avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        let has_avx512 = has_avx2
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq");
        if cap >= 2 && has_avx512 {
            2
        } else if cap >= 1 && has_avx2 {
            1
        } else {
            0
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = cap;
        0
    }
}

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

/// Forward recurrence for `nb` consecutive batch rows, compiled for the widest vector
/// instruction set this CPU has (the gate loops are auto-vectorised; see [`simd_dispatch`]).
fn forward_chunk(
    d: Dims,
    nb: usize,
    xproj: &[f32],
    w_h: &[f32],
    b_h: &[f32],
    out: &mut [f32],
    aux: &mut [f32],
) {
    simd_dispatch!(forward_chunk_impl(d, nb, xproj, w_h, b_h, out, aux))
}

/// Body of [`forward_chunk`].
#[inline(always)]
fn forward_chunk_impl(
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
            if nb <= small_gemm::MAX_ROWS {
                small_gemm::gemm(nb, h, gh, &hprev, w_h, &mut hp, false);
            } else {
                matmul(
                    view_mut(&mut hp, nb, gh, gh),
                    Accum::Replace,
                    view(&hprev, nb, h, h),
                    w,
                    1.0,
                    Par::Seq,
                );
            }
        }
        for bi in 0..nb {
            let row = bi * t + s;
            let x = &xproj[row * gh..][..gh];
            let p = &hp[bi * gh..][..gh];
            let hv = &mut hprev[bi * h..][..h];
            let o = &mut out[row * ow..][..ow];
            match d.kind {
                CellKind::Gru => gru_forward_row(h, x, p, b_h, hv, o, &mut aux[row * aw..][..aw]),
                CellKind::Lstm => lstm_forward_row(
                    h,
                    x,
                    p,
                    b_h,
                    hv,
                    &mut cprev[bi * h..][..h],
                    o,
                    &mut aux[row * aw..][..aw],
                ),
                CellKind::Rnn => rnn_forward_row(h, x, p, b_h, hv, o),
            }
        }
    }
}

/// GRU gates of one row and step. Every slice is cut to exactly `h` lanes first so that the
/// loop has no bounds checks and vectorises.
#[inline(always)]
fn gru_forward_row(
    h: usize,
    x: &[f32],
    p: &[f32],
    b: &[f32],
    hv: &mut [f32],
    o: &mut [f32],
    a: &mut [f32],
) {
    let (xz, xr, xn) = (&x[..h], &x[h..2 * h], &x[2 * h..3 * h]);
    let (pz, pr, pn) = (&p[..h], &p[h..2 * h], &p[2 * h..3 * h]);
    let (bz, br, bn) = (&b[..h], &b[h..2 * h], &b[2 * h..3 * h]);
    let (hv, o) = (&mut hv[..h], &mut o[..h]);
    let (az, rest) = a.split_at_mut(h);
    let (ar, rest) = rest.split_at_mut(h);
    let (an, rest) = rest.split_at_mut(h);
    let ahn = &mut rest[..h];
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

/// LSTM gates of one row and step (see [`gru_forward_row`] for the slicing).
#[allow(clippy::too_many_arguments)] // one slice per buffer keeps the loop bounds-check free
#[inline(always)]
fn lstm_forward_row(
    h: usize,
    x: &[f32],
    p: &[f32],
    b: &[f32],
    hv: &mut [f32],
    cv: &mut [f32],
    o: &mut [f32],
    a: &mut [f32],
) {
    let (xi, xf, xg, xo) = (&x[..h], &x[h..2 * h], &x[2 * h..3 * h], &x[3 * h..4 * h]);
    let (pi, pf, pg, po) = (&p[..h], &p[h..2 * h], &p[2 * h..3 * h], &p[3 * h..4 * h]);
    let (bi, bf, bg, bo) = (&b[..h], &b[h..2 * h], &b[2 * h..3 * h], &b[3 * h..4 * h]);
    let (hv, cv) = (&mut hv[..h], &mut cv[..h]);
    let (oh, rest) = o.split_at_mut(h);
    let oc = &mut rest[..h];
    let (ai, rest) = a.split_at_mut(h);
    let (af, rest) = rest.split_at_mut(h);
    let (ag, rest) = rest.split_at_mut(h);
    let ao = &mut rest[..h];
    // Two passes with few memory streams each: in one pass of thirteen streams LLVM gave up on
    // vectorising (perf showed the scalar loop taking over half of an ECG epoch).
    for j in 0..h {
        ai[j] = sigmoid(xi[j] + pi[j] + bi[j]);
        af[j] = sigmoid(xf[j] + pf[j] + bf[j]);
        ag[j] = tanh(xg[j] + pg[j] + bg[j]);
        ao[j] = sigmoid(xo[j] + po[j] + bo[j]);
    }
    for j in 0..h {
        let c = af[j] * cv[j] + ai[j] * ag[j];
        let hnew = ao[j] * tanh(c);
        cv[j] = c;
        hv[j] = hnew;
        oh[j] = hnew;
        oc[j] = c;
    }
}

/// Vanilla RNN step of one row.
#[inline(always)]
fn rnn_forward_row(h: usize, x: &[f32], p: &[f32], b: &[f32], hv: &mut [f32], o: &mut [f32]) {
    let (x, p, b, hv, o) = (&x[..h], &p[..h], &b[..h], &mut hv[..h], &mut o[..h]);
    for j in 0..h {
        let hnew = tanh(x[j] + p[j] + b[j]);
        hv[j] = hnew;
        o[j] = hnew;
    }
}

/// Input projection `y = x·w + b` of all rows at once (`x: [n, xd]`, `w: [xd, yd]`,
/// `b: [yd]`, row-major): one multi-threaded GEMM.
pub(crate) fn projection(
    n: usize,
    xd: usize,
    yd: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f32> {
    assert_eq!(x.len(), n * xd, "projection x length");
    assert_eq!(w.len(), xd * yd, "projection w length");
    assert_eq!(b.len(), yd, "projection b length");
    let mut y = Vec::with_capacity(n * yd);
    for _ in 0..n {
        y.extend_from_slice(b);
    }
    if n > 0 && yd > 0 && xd > 0 {
        matmul(
            view_mut(&mut y, n, yd, yd),
            Accum::Add,
            view(x, n, xd, xd),
            view(w, xd, yd, yd),
            1.0,
            Par::rayon(0),
        );
    }
    y
}

/// Gradients of [`projection`] from `grad_y: [n, yd]`: `(grad_x` when `want_x`, `grad_w,
/// grad_b)`, each one GEMM (`grad_b` as `1ᵀ·grad_y`).
pub(crate) fn projection_backward(
    n: usize,
    xd: usize,
    yd: usize,
    grad_y: &[f32],
    x: &[f32],
    w: &[f32],
    want_x: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    assert_eq!(grad_y.len(), n * yd, "projection grad_y length");
    assert_eq!(x.len(), n * xd, "projection x length");
    assert_eq!(w.len(), xd * yd, "projection w length");
    let mut gx = want_x.then(|| vec![0.0f32; n * xd]);
    let mut gw = vec![0.0f32; xd * yd];
    let mut gb = vec![0.0f32; yd];
    if n == 0 || xd == 0 || yd == 0 {
        return (gx, gw, gb);
    }
    let gy = view(grad_y, n, yd, yd);
    if let Some(gx) = gx.as_mut() {
        matmul(
            view_mut(gx, n, xd, xd),
            Accum::Replace,
            gy,
            view(w, xd, yd, yd).transpose(),
            1.0,
            Par::rayon(0),
        );
    }
    matmul(
        view_mut(&mut gw, xd, yd, yd),
        Accum::Replace,
        view(x, n, xd, xd).transpose(),
        gy,
        1.0,
        Par::rayon(0),
    );
    let ones = vec![1.0f32; n];
    matmul(
        view_mut(&mut gb, 1, yd, yd),
        Accum::Replace,
        view(&ones, 1, n, n),
        gy,
        1.0,
        Par::rayon(0),
    );
    (gx, gw, gb)
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
/// Compiled for the widest vector instruction set this CPU has (see [`simd_dispatch`]).
fn backward_chunk(
    d: Dims,
    nb: usize,
    grad_out: &[f32],
    out: &[f32],
    aux: &[f32],
    w_h: &[f32],
    gx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    simd_dispatch!(backward_chunk_impl(d, nb, grad_out, out, aux, w_h, gx))
}

/// Body of [`backward_chunk`].
#[inline(always)]
fn backward_chunk_impl(
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
    // The state before step 0 is zero.
    let zero_state = vec![0.0f32; ow];
    let w = view(w_h, h, gh, gh);
    let small = nb <= small_gemm::MAX_ROWS;
    let w_t = if small {
        small_gemm::transpose(w_h, h, gh)
    } else {
        Vec::new()
    };
    for s in (0..t).rev() {
        for bi in 0..nb {
            let row = bi * t + s;
            let go = &grad_out[row * ow..][..ow];
            let o = &out[row * ow..][..ow];
            let prev = if s > 0 {
                &out[(row - 1) * ow..][..ow]
            } else {
                &zero_state[..]
            };
            let g = &mut gx[row * gh..][..gh];
            let dn = &mut dh_next[bi * h..][..h];
            match d.kind {
                CellKind::Gru => gru_backward_row(
                    h,
                    go,
                    prev,
                    &aux[row * aw..][..aw],
                    dn,
                    g,
                    &mut gn[row * h..][..h],
                ),
                CellKind::Lstm => lstm_backward_row(
                    h,
                    go,
                    o,
                    prev,
                    &aux[row * aw..][..aw],
                    dn,
                    &mut dc_next[bi * h..][..h],
                    g,
                ),
                CellKind::Rnn => rnn_backward_row(h, go, o, dn, g),
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
            if small {
                small_gemm::gemm(nb, gh, h, &ghp, &w_t, &mut dh_next, true);
            } else {
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
                add_assign(&mut gb[..2 * h], &g[..2 * h]);
                add_assign(&mut gb[2 * h..], &gn[row * h..][..h]);
            } else {
                add_assign(&mut gb, g);
            }
        }
    }
    (gw, gb)
}

/// `acc += x`, elementwise.
#[inline(always)]
fn add_assign(acc: &mut [f32], x: &[f32]) {
    acc.iter_mut().zip(x).for_each(|(a, b)| *a += b);
}

/// GRU backward of one row and step: from `dh = grad_out + dh_next` (with `dh_next` in `dn`,
/// overwritten by the gradient passed to the previous step's state) writes the gate
/// pre-activation gradients into `g` (`z, r, n` blocks) and `r ⊙ grad(a_n)` into `gnr`.
#[inline(always)]
fn gru_backward_row(
    h: usize,
    go: &[f32],
    prev: &[f32],
    a: &[f32],
    dn: &mut [f32],
    g: &mut [f32],
    gnr: &mut [f32],
) {
    let (go, prev, dn, gnr) = (&go[..h], &prev[..h], &mut dn[..h], &mut gnr[..h]);
    let (az, ar, an, ahn) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..4 * h]);
    let (gz, rest) = g.split_at_mut(h);
    let (gr, rest) = rest.split_at_mut(h);
    let gnn = &mut rest[..h];
    for j in 0..h {
        let dh = go[j] + dn[j];
        let (z, r, n, hn) = (az[j], ar[j], an[j], ahn[j]);
        let dan = dh * (1.0 - z) * (1.0 - n * n);
        gz[j] = dh * (prev[j] - n) * z * (1.0 - z);
        gr[j] = dan * hn * r * (1.0 - r);
        gnn[j] = dan;
        gnr[j] = dan * r;
        dn[j] = dh * z;
    }
}

/// LSTM backward of one row and step (`o` and `prev` hold `h` then `c`).
#[allow(clippy::too_many_arguments)] // one slice per buffer keeps the loop bounds-check free
#[inline(always)]
fn lstm_backward_row(
    h: usize,
    go: &[f32],
    o: &[f32],
    prev: &[f32],
    a: &[f32],
    dn: &mut [f32],
    dcn: &mut [f32],
    g: &mut [f32],
) {
    let (goh, goc) = (&go[..h], &go[h..2 * h]);
    let (c_now, c_prev) = (&o[h..2 * h], &prev[h..2 * h]);
    let (dn, dcn) = (&mut dn[..h], &mut dcn[..h]);
    let (ai, af, ag, ao) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..4 * h]);
    let (gi, rest) = g.split_at_mut(h);
    let (gf, rest) = rest.split_at_mut(h);
    let (gg, rest) = rest.split_at_mut(h);
    let g_o = &mut rest[..h];
    for j in 0..h {
        let tc = tanh(c_now[j]);
        let dh = goh[j] + dn[j];
        let (i, f, gv, og) = (ai[j], af[j], ag[j], ao[j]);
        let dc = goc[j] + dcn[j] + dh * og * (1.0 - tc * tc);
        g_o[j] = dh * tc * og * (1.0 - og);
        gi[j] = dc * gv * i * (1.0 - i);
        gg[j] = dc * i * (1.0 - gv * gv);
        gf[j] = dc * c_prev[j] * f * (1.0 - f);
        dcn[j] = dc * f;
        dn[j] = 0.0;
    }
}

/// Vanilla RNN backward of one row and step.
#[inline(always)]
fn rnn_backward_row(h: usize, go: &[f32], o: &[f32], dn: &mut [f32], g: &mut [f32]) {
    let (go, o, dn, g) = (&go[..h], &o[..h], &mut dn[..h], &mut g[..h]);
    for j in 0..h {
        let dh = go[j] + dn[j];
        g[j] = dh * (1.0 - o[j] * o[j]);
        dn[j] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512, AVX2 and baseline builds of the kernels agree (odd sizes exercise the
    /// loop remainders). Paths the CPU lacks fall back, so the test is meaningful where they
    /// exist and harmless elsewhere.
    #[test]
    fn every_simd_path_gives_the_same_results() {
        let vals = |n: usize, seed: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as f32 + seed) * 0.618).sin() * 0.9)
                .collect()
        };
        for kind in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
            let d = Dims {
                kind,
                batch: 5,
                steps: 7,
                hidden: 21,
            };
            let gh = d.gh();
            let xproj = vals(d.batch * d.steps * gh, 1.0);
            let w = vals(d.hidden * gh, 2.0);
            let b = vals(gh, 3.0);
            let go = vals(d.batch * d.steps * d.out_width(), 4.0);
            let run = |level: u8| {
                MAX_SIMD_LEVEL.store(level, std::sync::atomic::Ordering::Relaxed);
                let (out, aux) = forward(d, &xproj, &w, &b);
                let g = backward(d, &go, &out, &aux, &w);
                [out, aux, g.xproj, g.w_h, g.b_h]
            };
            let reference = run(0);
            for level in [1, 2] {
                for (name, (a, r)) in ["out", "aux", "grad xproj", "grad w_h", "grad b_h"]
                    .iter()
                    .zip(run(level).iter().zip(&reference))
                {
                    let worst = a
                        .iter()
                        .zip(r)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0, f32::max);
                    assert!(
                        worst <= 1e-6,
                        "{kind}: {name} at level {level} differs by {worst:e}"
                    );
                }
            }
            MAX_SIMD_LEVEL.store(u8::MAX, std::sync::atomic::Ordering::Relaxed);
        }
    }

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
