//! `C (+)= A · B` for a few rows of `A`, without packing: the per-step product of the recurrence.
//!
//! Each step of a recurrent layer multiplies the chunk's hidden states `[nb, H]` by the hidden
//! weights `[H, G·H]` (forward) or the gate gradients `[nb, G·H]` by their transpose (backward).
//! With the small batches of the ECG autoencoder (B = 8 over two threads: `nb = 4`) a general
//! GEMM spends as long packing `B` into its panel layout, every step, as multiplying: `perf` of an
//! ECG epoch showed the packing routine at 8.5% and the microkernel at 30% of all cycles for
//! about 0.5 MFLOP per call. Here `B` (row-major, a few hundred KiB, resident in L2 across steps)
//! is read in place: tiles of [`TILE`] columns × up to four rows of `A` are accumulated in
//! registers over the whole inner dimension and written once.
//!
//! The kernels use the AVX-512 or AVX2+FMA intrinsics (chosen at run time, like the gate loops;
//! left to the auto-vectoriser, the tiles stayed scalar on the stack and an ECG epoch took 7x
//! longer); elsewhere a scalar loop of the same fused multiply-adds.

/// Rows of `A` at most for which the recurrence uses [`gemm`] instead of faer's packing GEMM.
/// At `nb = 4` (ECG, B = 8) it made a training epoch 2.9 s -> 1.9 s; at `nb = 32` (IMDB GRU,
/// B = 64) the two were within the machine's noise of each other, so larger chunks keep faer.
pub(crate) const MAX_ROWS: usize = 8;

/// `c[nb, n] = c·[add] + a[nb, k] · b[k, n]`, all row-major and contiguous (`add`: accumulate
/// into `c` instead of overwriting it).
///
/// Every element is the same chain of fused multiply-adds over `k` in order on every path
/// (AVX-512, AVX2, scalar), so the result does not depend on the instruction set.
pub(crate) fn gemm(nb: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], add: bool) {
    let (a, b, c) = (&a[..nb * k], &b[..k * n], &mut c[..nb * n]);
    let done = match super::cpu::simd_level() {
        // SAFETY: `simd_level` returned 2 only if the CPU has AVX-512F; the slices were cut to
        // the exact sizes the kernel indexes.
        #[cfg(target_arch = "x86_64")]
        2 => unsafe { x86::gemm_avx512(nb, k, n, a, b, c, add) },
        // SAFETY: level 1 means AVX2 and FMA are present; sizes as above.
        #[cfg(target_arch = "x86_64")]
        1 => unsafe { x86::gemm_avx2(nb, k, n, a, b, c, add) },
        _ => 0,
    };
    scalar_columns(nb, k, n, done, a, b, c, add);
}

/// Columns `from..n` of [`gemm`], one fused multiply-add at a time.
#[allow(clippy::too_many_arguments)] // the GEMM's operands and sizes, plus where to start
fn scalar_columns(
    nb: usize,
    k: usize,
    n: usize,
    from: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    add: bool,
) {
    for r in 0..nb {
        for j in from..n {
            let mut s = if add { c[r * n + j] } else { 0.0 };
            for kk in 0..k {
                s = a[r * k + kk].mul_add(b[kk * n + j], s);
            }
            c[r * n + j] = s;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Register-tiled kernels: up to four rows of `A` × two vector registers of columns,
    //! accumulated over all of `k` before one store.
    use std::arch::x86_64::*;

    /// Generates one kernel: `$width` lanes per register, `$tile = 2·$width` columns per tile.
    macro_rules! kernel {
        ($name:ident, $block:ident, $feat:literal, $vec:ty, $width:literal,
         $zero:ident, $load:ident, $store:ident, $set1:ident, $fmadd:ident) => {
            /// Computes the full column tiles of `gemm`; returns how many columns it covered.
            ///
            /// # Safety
            /// The CPU must support the enabled features; `a: [nb·k]`, `b: [k·n]`, `c: [nb·n]`.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name(
                nb: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                c: &mut [f32],
                add: bool,
            ) -> usize {
                let full = n / (2 * $width) * (2 * $width);
                let mut r0 = 0;
                while r0 < nb {
                    let rows = (nb - r0).min(4);
                    // SAFETY (all four): rows r0..r0+R of a and c, columns < full ≤ n.
                    unsafe {
                        match rows {
                            4 => $block::<4>(k, n, full, &a[r0 * k..], b, &mut c[r0 * n..], add),
                            3 => $block::<3>(k, n, full, &a[r0 * k..], b, &mut c[r0 * n..], add),
                            2 => $block::<2>(k, n, full, &a[r0 * k..], b, &mut c[r0 * n..], add),
                            _ => $block::<1>(k, n, full, &a[r0 * k..], b, &mut c[r0 * n..], add),
                        }
                    }
                    r0 += rows;
                }
                full
            }

            /// `R` rows of the kernel above.
            #[inline(always)]
            unsafe fn $block<const R: usize>(
                k: usize,
                n: usize,
                full: usize,
                a: &[f32],
                b: &[f32],
                c: &mut [f32],
                add: bool,
            ) {
                assert!(a.len() >= R * k && c.len() >= R * n && b.len() >= k * n && full <= n);
                let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
                let mut j0 = 0;
                while j0 < full {
                    // SAFETY: every offset below is < R·k (a), < k·n (b) or < R·n (c), checked
                    // by the assertion above since j0 + 2·width ≤ full ≤ n.
                    unsafe {
                        let mut acc: [[$vec; 2]; R] = [[$zero(); 2]; R];
                        if add {
                            for (r, acc_r) in acc.iter_mut().enumerate() {
                                acc_r[0] = $load(cp.add(r * n + j0));
                                acc_r[1] = $load(cp.add(r * n + j0 + $width));
                            }
                        }
                        for kk in 0..k {
                            let b0 = $load(bp.add(kk * n + j0));
                            let b1 = $load(bp.add(kk * n + j0 + $width));
                            for (r, acc_r) in acc.iter_mut().enumerate() {
                                let av = $set1(*ap.add(r * k + kk));
                                acc_r[0] = $fmadd(av, b0, acc_r[0]);
                                acc_r[1] = $fmadd(av, b1, acc_r[1]);
                            }
                        }
                        for (r, acc_r) in acc.iter().enumerate() {
                            $store(cp.add(r * n + j0), acc_r[0]);
                            $store(cp.add(r * n + j0 + $width), acc_r[1]);
                        }
                    }
                    j0 += 2 * $width;
                }
            }
        };
    }

    kernel!(
        gemm_avx512,
        block_avx512,
        "avx512f",
        __m512,
        16,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
    kernel!(
        gemm_avx2,
        block_avx2,
        "avx2,fma",
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps
    );
}

/// Row-major transpose of `w: [rows, cols]` (the backward multiplies by `W_hᵀ` with [`gemm`]).
pub(crate) fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; rows * cols];
    for (i, row) in w[..rows * cols].chunks_exact(cols.max(1)).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j * rows + i] = v;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(
        nb: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        c: &[f32],
        add: bool,
    ) -> Vec<f64> {
        (0..nb * n)
            .map(|idx| {
                let (r, j) = (idx / n, idx % n);
                let base = if add { f64::from(c[idx]) } else { 0.0 };
                base + (0..k)
                    .map(|kk| f64::from(a[r * k + kk]) * f64::from(b[kk * n + j]))
                    .sum::<f64>()
            })
            .collect()
    }

    /// Every row count (1–4 and groups of them), full tiles and remainders, overwrite and
    /// accumulate, against a float64 reference.
    #[test]
    fn matches_a_naive_product() {
        let vals = |n: usize, seed: f32| -> Vec<f32> {
            (0..n).map(|i| ((i as f32 + seed) * 0.731).sin()).collect()
        };
        for nb in [1, 2, 3, 4, 5, 7, 8] {
            for (k, n) in [(1, 1), (3, 32), (17, 45), (64, 256), (128, 96)] {
                let a = vals(nb * k, 1.0);
                let b = vals(k * n, 2.0);
                let c0 = vals(nb * n, 3.0);
                for add in [false, true] {
                    let mut c = c0.clone();
                    gemm(nb, k, n, &a, &b, &mut c, add);
                    let want = naive(nb, k, n, &a, &b, &c0, add);
                    for (i, (&got, &w)) in c.iter().zip(&want).enumerate() {
                        assert!(
                            (f64::from(got) - w).abs() <= 1e-5 * (1.0 + k as f64),
                            "nb {nb} k {k} n {n} add {add}: element {i} is {got}, want {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_swaps_indices() {
        let w: Vec<f32> = (0..6).map(|i| i as f32).collect();
        assert_eq!(transpose(&w, 2, 3), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
