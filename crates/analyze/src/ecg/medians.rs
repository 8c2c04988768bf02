//! Stage "medians" (Fig. 2): the beats decoded from the last encoder states projected through a
//! set `J` of Koopman eigenvectors, and their median over the batch, two ways:
//!
//! - [`Reconstruction::Modulus`]: the paper's Eq. 11, `F_dec(H_last B |V_J U_J| Bᵀ)`, with the
//!   canonical sign convention of the basis (each basis vector's largest component positive,
//!   [`kann_koopman::signs`]). The element-wise modulus makes it depend on that convention.
//! - [`Reconstruction::SignInvariant`]: `F_dec(Re(H_last B V_J U_J) Bᵀ)`, Eq. 11 without the
//!   modulus; for a conjugate pair `V_J U_J` is already real. Invariant under the signs.
//!
//! [`sign_spread`] measures how far the Eq. 11 medians move under random sign patterns of `B`
//! (each an equally valid SVD basis), and checks that the sign-invariant ones do not.

use anyhow::Result;
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{
    KoopmanModel, Spectrum, median_mad_over_time, project_onto, reconstruct_modulus,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::network::Decoder;
use crate::kann::to_rows;

/// Which reconstruction of Fig. 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reconstruction {
    /// Eq. 11 with the element-wise modulus (canonical signs of `B`).
    Modulus,
    /// Eq. 11 without the modulus: `Re(H B V_J U_J) Bᵀ`.
    SignInvariant,
}

/// A median over beats per time step with its median absolute deviation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MedianCurve {
    /// Median per step.
    pub median: Vec<f64>,
    /// Median absolute deviation per step.
    pub mad: Vec<f64>,
}

impl MedianCurve {
    /// Median and MAD over the `m` rows of `data` (row-major `m × n`).
    pub fn of(data: &[f64], m: usize, n: usize) -> Result<Self> {
        let (median, mad) = median_mad_over_time(data, m, n)?;
        Ok(MedianCurve { median, mad })
    }

    /// `max μ − min μ`.
    pub fn range(&self) -> f64 {
        let max = self
            .median
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let min = self.median.iter().copied().fold(f64::INFINITY, f64::min);
        max - min
    }
}

/// The latents `H_last B (·) Bᵀ` of one set under one reconstruction (`m × k`).
pub fn latents(
    h_last: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    set: &[usize],
    how: Reconstruction,
) -> Result<Mat<f64>> {
    Ok(match how {
        Reconstruction::Modulus => reconstruct_modulus(h_last, model, spectrum, set)?,
        Reconstruction::SignInvariant => project_onto(h_last, model, spectrum, set)?,
    })
}

/// The median decoded beat of every set (one decoder call for all sets).
pub fn set_medians(
    decoder: &dyn Decoder,
    h_last: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    sets: &[Vec<usize>],
    how: Reconstruction,
) -> Result<Vec<MedianCurve>> {
    let m = h_last.nrows();
    let mut rows = Vec::with_capacity(sets.len() * m * h_last.ncols());
    for set in sets {
        rows.extend(to_rows(
            latents(h_last, model, spectrum, set, how)?.as_ref(),
        ));
    }
    let decoded = decoder.decode(&rows, sets.len() * m)?;
    let n = decoded.len() / (sets.len() * m).max(1);
    decoded
        .chunks(m * n)
        .map(|c| MedianCurve::of(c, m, n))
        .collect()
}

/// How much the Fig. 2 medians depend on the signs of the basis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignSpread {
    /// Random sign patterns drawn.
    pub patterns: usize,
    /// Seed of the patterns.
    pub seed: u64,
    /// Per set: `max_{pattern, t} |μ_J^pattern(t) − μ_J^canonical(t)|`, Eq. 11 with the modulus.
    pub modulus: Vec<f64>,
    /// The same for the sign-invariant reconstruction (zero up to rounding).
    pub sign_invariant: Vec<f64>,
    /// Per set, per pattern: the Eq. 11 median under that pattern (for the figure).
    pub modulus_medians: Vec<Vec<Vec<f64>>>,
}

impl SignSpread {
    /// Largest deviation over all sets, modulus version.
    pub fn max_modulus(&self) -> f64 {
        self.modulus.iter().copied().fold(0.0, f64::max)
    }
    /// Largest deviation over all sets, sign-invariant version.
    pub fn max_sign_invariant(&self) -> f64 {
        self.sign_invariant.iter().copied().fold(0.0, f64::max)
    }
}

/// `patterns` random sign patterns (each sign ±1 with probability ½), seeded; never all `+1`.
pub fn random_sign_patterns(r: usize, patterns: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..patterns)
        .map(|_| {
            loop {
                let d: Vec<f64> = (0..r)
                    .map(|_| if rng.random::<f64>() < 0.5 { -1.0 } else { 1.0 })
                    .collect();
                if r == 0 || d.iter().any(|&x| x < 0.0) {
                    break d;
                }
            }
        })
        .collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Re-does both reconstructions of every set under `patterns` random sign patterns of `B` and
/// compares their medians with the canonical ones (`canonical_modulus`, `canonical_invariant`).
#[allow(clippy::too_many_arguments)]
pub fn sign_spread(
    decoder: &dyn Decoder,
    h_last: MatRef<'_, f64>,
    model: &KoopmanModel,
    spectrum: &Spectrum,
    sets: &[Vec<usize>],
    canonical_modulus: &[MedianCurve],
    canonical_invariant: &[MedianCurve],
    patterns: usize,
    seed: u64,
) -> Result<SignSpread> {
    let mut out = SignSpread {
        patterns,
        seed,
        modulus: vec![0.0; sets.len()],
        sign_invariant: vec![0.0; sets.len()],
        modulus_medians: vec![Vec::with_capacity(patterns); sets.len()],
    };
    for signs in random_sign_patterns(model.rank(), patterns, seed) {
        let (m2, s2) = kann_koopman::with_basis_signs(model, spectrum, &signs)?;
        let md = set_medians(decoder, h_last, &m2, &s2, sets, Reconstruction::Modulus)?;
        let inv = set_medians(
            decoder,
            h_last,
            &m2,
            &s2,
            sets,
            Reconstruction::SignInvariant,
        )?;
        for j in 0..sets.len() {
            out.modulus[j] =
                out.modulus[j].max(max_abs_diff(&md[j].median, &canonical_modulus[j].median));
            out.sign_invariant[j] = out.sign_invariant[j]
                .max(max_abs_diff(&inv[j].median, &canonical_invariant[j].median));
            out.modulus_medians[j].push(md[j].median.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ecg::features::match_features;
    use crate::ecg::network::planted::LinearDecoder;
    use crate::kann;
    use kann_koopman::States;

    /// A planted latent system: four rotating, slowly decaying 2-d blocks in `k = 8` dimensions,
    /// mixed by a fixed orthogonal-ish change of basis `Q`; the linear decoder maps block `i` to
    /// a bump at the time of the paper's feature `i` (min t=3, segment t=55, max t=103, peak
    /// t=133). All block coordinates stay positive over the sequence, so the medians keep the
    /// bumps' signs. Returns the states `[s, n, 8]` and the decoder.
    pub(crate) fn planted(s: usize, n: usize, seed: u64) -> (States, LinearDecoder) {
        let k = 8;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let theta: [f64; 4] = [0.02, 0.03, 0.025, 0.015];
        let rho: [f64; 4] = [0.999, 0.995, 0.99, 0.985];
        // Q: a rotation of R^8 built from Givens rotations, so B is not axis-aligned.
        let mut q = Mat::<f64>::identity(k, k);
        for (a, b, ang) in [
            (0, 5, 0.7),
            (1, 6, -0.4),
            (2, 7, 0.9),
            (3, 4, 0.3),
            (0, 3, 0.5),
        ] {
            let g = Mat::<f64>::from_fn(k, k, |i, j| match (i, j) {
                _ if (i == a && j == a) || (i == b && j == b) => f64::cos(ang),
                _ if i == a && j == b => -f64::sin(ang),
                _ if i == b && j == a => f64::sin(ang),
                _ if i == j => 1.0,
                _ => 0.0,
            });
            q = q.as_ref() * g.as_ref();
        }
        let mut data = vec![0.0; s * n * k];
        for i in 0..s {
            let radius: Vec<f64> = (0..4).map(|_| 1.0 + rng.random::<f64>()).collect();
            let phase: Vec<f64> = (0..4).map(|_| 0.2 + 0.5 * rng.random::<f64>()).collect();
            for t in 0..n {
                let mut y = [0.0; 8];
                for b in 0..4 {
                    let r = radius[b] * rho[b].powi(t as i32);
                    let p = phase[b] + theta[b] * t as f64;
                    y[2 * b] = r * p.cos();
                    y[2 * b + 1] = r * p.sin();
                }
                for c in 0..k {
                    data[(i * n + t) * k + c] = (0..k).map(|j| y[j] * q[(c, j)]).sum();
                }
            }
        }
        let states = States::from_f64(data, s, n, k).unwrap();
        // Decoder: z -> y = z Q -> beat = Σ_b (y_2b + y_2b+1) bump_b.
        let nb = 140;
        let centres: [f64; 4] = [3.0, 55.0, 103.0, 133.0];
        let heights: [f64; 4] = [-2.0, 0.8, 1.5, 0.7];
        let mut w = vec![0.0; k * nb];
        for c in 0..k {
            for b in 0..4 {
                for t in 0..nb {
                    let shape = heights[b] * (-(((t + 1) as f64 - centres[b]) / 5.0).powi(2)).exp();
                    w[c * nb + t] += (q[(c, 2 * b)] + q[(c, 2 * b + 1)]) * shape;
                }
            }
        }
        (states, LinearDecoder { w, k, n: nb })
    }

    #[test]
    fn planted_pairs_decode_to_their_features_and_only_eq11_moves_with_signs() {
        let (states, dec) = planted(24, 30, 3);
        let fit = kann::fit(&states, Some(8)).unwrap();
        let h_last = kann::states_at(&states, |_| 29);
        let sets: Vec<Vec<usize>> = fit.spectrum.groups();
        assert_eq!(sets.len(), 4, "four conjugate pairs: {sets:?}");
        let inv = set_medians(
            &dec,
            h_last.as_ref(),
            &fit.model,
            &fit.spectrum,
            &sets,
            Reconstruction::SignInvariant,
        )
        .unwrap();
        let full =
            MedianCurve::of(&dec.decode(&to_rows(h_last.as_ref()), 24).unwrap(), 24, 140).unwrap();
        // The sign-invariant reconstruction of each pair is its block: one feature per pair.
        let m = match_features(
            &inv.iter().map(|c| c.median.clone()).collect::<Vec<_>>(),
            full.range(),
        );
        assert_eq!(m.captured, 4, "{m:?}");
        let modulus = set_medians(
            &dec,
            h_last.as_ref(),
            &fit.model,
            &fit.spectrum,
            &sets,
            Reconstruction::Modulus,
        )
        .unwrap();
        let spread = sign_spread(
            &dec,
            h_last.as_ref(),
            &fit.model,
            &fit.spectrum,
            &sets,
            &modulus,
            &inv,
            6,
            11,
        )
        .unwrap();
        assert!(spread.max_sign_invariant() < 1e-9, "{spread:?}");
        assert!(
            spread.max_modulus() > 1e-2 * full.range(),
            "Eq. 11 did not move under sign flips: {:?}",
            spread.modulus
        );
        assert_eq!(spread.modulus_medians[0].len(), 6);
    }

    #[test]
    fn sign_patterns_are_seeded_and_not_trivial() {
        let a = random_sign_patterns(5, 10, 7);
        assert_eq!(a, random_sign_patterns(5, 10, 7));
        assert_ne!(a, random_sign_patterns(5, 10, 8));
        assert!(a.iter().all(|d| d.len() == 5 && d.iter().any(|&x| x < 0.0)));
        assert!(a.iter().flatten().all(|&x| x == 1.0 || x == -1.0));
    }
}
