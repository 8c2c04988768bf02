//! Calibration of the resampling intervals (issue #23, item 4): on planted linear systems with
//! known eigenvalues, how often the nominal interval of `|λ|` ([`crate::resample`]) covers the
//! true modulus.
//!
//! A setting draws one operator `A = P D P⁻¹` with the planted eigenvalues (`D` block-diagonal,
//! `P = I + 0.3 N(0, 1)`), then per repetition `s` sequences of `n` steps of
//! `x_{t+1} = A x_t + σ ξ_t` with `x_0, ξ_t ~ N(0, I)`, fits them at full rank, resamples, and
//! checks each true modulus against the interval of the eigenvalue matched to it (minimum total
//! distance). Besides the coverage it records the fit's bias over the repetitions
//! (`mean |λ̂| − |λ|`) beside its spread: an interval of the sampling spread around a biased fit
//! misses the truth by that bias, which no resampling can see.

use crate::error::Result;
use crate::fit::{Estimator, FitOptions, Rank};
use crate::gram::Precision;
use crate::resample::{
    BootstrapOptions, Scheme, SequenceGrams, bootstrap_spectrum, match_eigenvalues,
};
use crate::states::States;
use faer::linalg::solvers::Solve;
use faer::{Mat, c64};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One planted system and sample size.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedSetting {
    /// Planted eigenvalues: real ones, and each complex pair by its `+imag` member.
    pub eigenvalues: Vec<c64>,
    /// Sequences per data set (`s`).
    pub sequences: usize,
    /// Steps per sequence (`n`).
    pub steps: usize,
    /// Standard deviation `σ` of the process noise (the initial state is `N(0, I)`).
    pub noise: f64,
}

impl PlantedSetting {
    /// Hidden dimension `k` (a complex pair counts twice).
    pub fn hidden(&self) -> usize {
        self.eigenvalues
            .iter()
            .map(|l| if l.im != 0.0 { 2 } else { 1 })
            .sum()
    }

    /// The full planted spectrum (each complex eigenvalue followed by its conjugate).
    pub fn spectrum(&self) -> Vec<c64> {
        let mut out = Vec::new();
        for l in &self.eigenvalues {
            out.push(*l);
            if l.im != 0.0 {
                out.push(l.conj());
            }
        }
        out
    }
}

/// How a coverage is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoverageOptions {
    /// Resampling scheme.
    pub scheme: Scheme,
    /// Independent data sets drawn from the setting.
    pub repetitions: usize,
    /// Resampling replicates per data set.
    pub replicates: usize,
    /// Nominal level of the intervals.
    pub level: f64,
    /// Seed of the operator, the data and the replicates.
    pub seed: u64,
}

/// Coverage of one planted eigenvalue's modulus.
#[derive(Debug, Clone, PartialEq)]
pub struct ModulusCoverage {
    /// The planted eigenvalue (`+imag` member for a pair).
    pub lambda: [f64; 2],
    /// Its modulus `|λ|`.
    pub modulus: f64,
    /// Fraction of repetitions whose interval contained `|λ|`.
    pub coverage: f64,
    /// Mean width of the interval.
    pub mean_width: f64,
    /// Mean of `|λ̂| − |λ|` over the repetitions (the fit's bias).
    pub bias: f64,
    /// Standard deviation of `|λ̂|` over the repetitions (the sampling spread the interval should
    /// capture).
    pub spread: f64,
}

/// Result of [`coverage`].
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// The setting.
    pub setting: PlantedSetting,
    /// The options.
    pub options: CoverageOptions,
    /// Repetitions that gave intervals (a failed fit is left out).
    pub repetitions: usize,
    /// One entry per planted eigenvalue (pairs once).
    pub moduli: Vec<ModulusCoverage>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A real operator with the planted eigenvalues: `A = P D P⁻¹`, `D` block-diagonal (a `2 × 2`
/// rotation-scaling block per complex pair), `P = I + 0.3 N(0, 1)`.
pub fn planted_operator(setting: &PlantedSetting, rng: &mut ChaCha8Rng) -> Mat<f64> {
    matrix_with_eigenvalues(&setting.eigenvalues, rng)
}

/// A real `k × k` matrix with the eigenvalues `eigs` (real ones, and each complex pair given by
/// its `+imag` member): `A = P D P⁻¹`, `D` block-diagonal (a `2 × 2` rotation-scaling block per
/// pair), `P = I + 0.3 N(0, 1)`, well conditioned.
pub fn matrix_with_eigenvalues(eigs: &[c64], rng: &mut ChaCha8Rng) -> Mat<f64> {
    let k: usize = eigs.iter().map(|l| if l.im != 0.0 { 2 } else { 1 }).sum();
    let mut d = Mat::<f64>::zeros(k, k);
    let mut i = 0;
    for l in eigs {
        d[(i, i)] = l.re;
        if l.im != 0.0 {
            d[(i, i + 1)] = -l.im;
            d[(i + 1, i)] = l.im;
            d[(i + 1, i + 1)] = l.re;
            i += 2;
        } else {
            i += 1;
        }
    }
    let p = Mat::<f64>::from_fn(k, k, |a, b| {
        (if a == b { 1.0 } else { 0.0 }) + 0.3 * normal(rng)
    });
    // A P = P D  ⇔  Pᵀ Aᵀ = (P D)ᵀ.
    let pd = p.as_ref() * d.as_ref();
    let at = p.transpose().partial_piv_lu().solve(pd.transpose());
    at.transpose().to_owned()
}

/// `s` sequences of `n` steps of `x_{t+1} = A x_t + σ ξ_t`, `x_0 ~ N(0, I)`.
pub fn simulate(a: &Mat<f64>, setting: &PlantedSetting, rng: &mut ChaCha8Rng) -> Result<States> {
    let (s, n, k) = (setting.sequences, setting.steps, a.nrows());
    let mut data = Vec::with_capacity(s * n * k);
    for _ in 0..s {
        let mut x: Vec<f64> = (0..k).map(|_| normal(rng)).collect();
        for _ in 0..n {
            data.extend_from_slice(&x);
            x = (0..k)
                .map(|p| {
                    (0..k).map(|q| a[(p, q)] * x[q]).sum::<f64>() + setting.noise * normal(rng)
                })
                .collect();
        }
    }
    States::from_f64(data, s, n, k)
}

/// Measures how often the nominal interval of each planted `|λ|` covers it over
/// `options.repetitions` independent data sets (full-rank least-squares fits). Repetitions run
/// in parallel; repetition `i` draws its data from stream `i` of the seed and resamples with seed
/// `seed + i`, so the result does not depend on the thread count.
pub fn coverage(setting: &PlantedSetting, options: &CoverageOptions) -> Result<Coverage> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let a = planted_operator(setting, &mut rng);
    let truth = setting.spectrum();
    let k = truth.len();
    let fit = FitOptions {
        rank: Rank::Fixed(k),
        estimator: Estimator::LeastSquares,
        ..FitOptions::default()
    };
    // Per repetition and planted eigenvalue: (covered, width, fitted modulus).
    let runs: Vec<Option<Vec<(bool, f64, f64)>>> = (0..options.repetitions)
        .into_par_iter()
        .map(|i| -> Option<Vec<(bool, f64, f64)>> {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream(1 + i as u64);
            let states = simulate(&a, setting, &mut rng).ok()?;
            let grams = SequenceGrams::from_states(&states, Precision::F64).ok()?;
            let boot = BootstrapOptions {
                scheme: options.scheme,
                replicates: options.replicates,
                seed: options.seed.wrapping_add(i as u64),
                level: options.level,
                ..BootstrapOptions::default()
            };
            let ci = bootstrap_spectrum(&grams, &fit, &boot).ok()?;
            let fitted: Vec<c64> = ci
                .eigen
                .iter()
                .map(|e| c64::new(e.lambda[0], e.lambda[1]))
                .collect();
            let m = match_eigenvalues(&truth, &fitted);
            Some(
                truth
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.im >= 0.0)
                    .map(|(j, l)| {
                        let e = &ci.eigen[m[j]];
                        let t = l.norm();
                        let [lo, hi] = e.modulus_ci;
                        (lo <= t && t <= hi, hi - lo, fitted[m[j]].norm())
                    })
                    .collect(),
            )
        })
        .collect();
    let ok: Vec<&Vec<(bool, f64, f64)>> = runs.iter().flatten().collect();
    let n = ok.len().max(1) as f64;
    let moduli = truth
        .iter()
        .filter(|l| l.im >= 0.0)
        .enumerate()
        .map(|(q, l)| {
            let t = l.norm();
            let covered = ok.iter().filter(|r| r[q].0).count() as f64 / n;
            let width = ok.iter().map(|r| r[q].1).sum::<f64>() / n;
            let mean = ok.iter().map(|r| r[q].2).sum::<f64>() / n;
            let var = ok.iter().map(|r| (r[q].2 - mean).powi(2)).sum::<f64>()
                / (ok.len().saturating_sub(1).max(1)) as f64;
            ModulusCoverage {
                lambda: [l.re, l.im],
                modulus: t,
                coverage: covered,
                mean_width: width,
                bias: mean - t,
                spread: var.sqrt(),
            }
        })
        .collect();
    Ok(Coverage {
        setting: setting.clone(),
        options: *options,
        repetitions: ok.len(),
        moduli,
    })
}
