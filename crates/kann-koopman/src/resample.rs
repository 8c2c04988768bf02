//! Resampling error bars for the fit (issue #23): per-sequence Gram partials, bootstrap or
//! subsample weights over sequences, refits from the weighted sums (no new pass over the
//! states), and eigenvalue matching to the full fit.
//!
//! The fit only reads the Grams `G`, `G0`, `G1`, `G01` (Eqs. 4-5 via [`crate::GramAccumulator`]),
//! which are sums over sequences. Keeping one [`Grams`] per sequence ([`SequenceGrams`]) turns a
//! resample into a weighted sum of `k × k` matrices followed by the small dense problems of the
//! fit (symmetric eigensolver, `r × r` solve, non-symmetric eigensolver).
//!
//! Matching: each replicate's eigenvalues are assigned one-to-one to the full fit's by minimum
//! total cost `Σ |λ_i − λ'_σ(i)|` (Hungarian algorithm, [`assign_min_cost`], also used by [`crate::spectral_distance`]; written here with
//! tests: an `O(r³)` routine of 60 lines did not warrant a new dependency in a crate that
//! `train` and `analyze` build). A match counts as existing when `|λ_i − λ'_σ(i)|` is at most
//! [`BootstrapOptions::match_radius`].
//!
//! What the intervals do not cover: the bias of the fit itself (finite basis rank `r`, the
//! least-squares estimator's bias on finite sequences) is the same in every replicate and is not
//! sampling noise; intervals are percentile intervals of the replicates around the fit.

use crate::error::{KoopmanError, Result};
use crate::fit::{FitOptions, KoopmanModel, Rank, fit_from_grams};
use crate::gram::{Elem, GramAccumulator, Grams, Precision, batch_push};
use crate::spectrum::{Spectrum, memory_horizon};
use crate::states::States;
use faer::{Mat, c64};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// How the replicates' weights over sequences are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `s` sequences drawn with replacement (multinomial weights).
    Bootstrap,
    /// `m = ⌊s/2⌋` sequences drawn without replacement (half-sampling); the interval is the
    /// replicates' deviations from the full fit's value scaled by `√(m / (s − m))` (1 for even
    /// `s`): a statistic of `m` of `s` draws without replacement deviates from the full one with
    /// variance `σ²(1/m − 1/s)`, against `σ²/s` for the full one's error.
    Subsample,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::Bootstrap => "bootstrap",
            Scheme::Subsample => "subsample",
        })
    }
}

/// One [`Grams`] per sequence: the partial sums the resampled fits are built from.
#[derive(Debug, Clone)]
pub struct SequenceGrams {
    parts: Vec<Grams>,
    k: usize,
    precision: Precision,
}

impl SequenceGrams {
    /// No sequence yet, for states of hidden size `k`: add batches with [`Self::push_f32`] or
    /// [`Self::push_f64`] (straight from a caller's buffer, without a [`States`] copy).
    pub fn new(k: usize, precision: Precision) -> Self {
        SequenceGrams {
            parts: Vec::new(),
            k,
            precision,
        }
    }

    /// One pass over `states`, keeping each sequence's Grams (`4 k²` values per sequence).
    pub fn from_states(states: &States, precision: Precision) -> Result<Self> {
        let mut out = SequenceGrams::new(states.hidden(), precision);
        out.push_f64(
            states.data(),
            states.num_sequences(),
            states.seq_len(),
            Some(states.lengths()),
        )?;
        if out.parts.is_empty() {
            return Err(KoopmanError::NotEnoughData(
                "no sequence to resample".into(),
            ));
        }
        Ok(out)
    }

    // push_f32 / push_f64: one [`Grams`] per sequence of the batch, in the batch's order.
    batch_push!(hidden);

    /// Keeps one [`Grams`] per sequence (row-major valid rows, `len · k` values each).
    fn push_seqs<T: Elem>(&mut self, seqs: &[&[T]]) {
        self.parts.reserve(seqs.len());
        for seq in seqs {
            let mut acc = GramAccumulator::with_precision(self.k, self.precision);
            acc.push_seqs(&[seq]);
            self.parts.push(acc.grams());
        }
    }

    /// Hidden size `k`.
    pub fn hidden(&self) -> usize {
        self.k
    }

    /// Number of sequences.
    pub fn num_sequences(&self) -> usize {
        self.parts.len()
    }

    /// The Grams `Σ_i w_i G_i` (and likewise `G0`, `G1`, `G01`); counts are weighted too. An
    /// error when no sequence was added.
    pub fn weighted(&self, weights: &[f64]) -> Result<Grams> {
        if self.parts.is_empty() {
            return Err(KoopmanError::NotEnoughData(
                "no sequence to resample".into(),
            ));
        }
        if weights.len() != self.parts.len() {
            return Err(KoopmanError::Shape(format!(
                "{} weights for {} sequences",
                weights.len(),
                self.parts.len()
            )));
        }
        let k = self.k;
        let mut out = Grams {
            g: Mat::zeros(k, k),
            g0: Mat::zeros(k, k),
            g1: Mat::zeros(k, k),
            g01: Mat::zeros(k, k),
            num_states: 0,
            num_pairs: 0,
            precision: self.precision,
        };
        let (mut states, mut pairs) = (0.0, 0.0);
        for (p, &w) in self.parts.iter().zip(weights) {
            if w == 0.0 {
                continue;
            }
            for (acc, m) in [
                (&mut out.g, &p.g),
                (&mut out.g0, &p.g0),
                (&mut out.g1, &p.g1),
                (&mut out.g01, &p.g01),
            ] {
                *acc += faer::Scale(w) * m;
            }
            states += w * p.num_states as f64;
            pairs += w * p.num_pairs as f64;
        }
        out.num_states = states.round() as usize;
        out.num_pairs = pairs.round() as usize;
        Ok(out)
    }

    /// Fit from the weighted Grams (Sec. 3.2, Eqs. 4-5); weights all ones give the plain Gram fit.
    pub fn fit_weighted(&self, weights: &[f64], options: &FitOptions) -> Result<KoopmanModel> {
        fit_from_grams(&self.weighted(weights)?, options)
    }
}

/// Weights over `s` sequences for one replicate.
pub fn draw_weights(scheme: Scheme, s: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut w = vec![0.0; s];
    match scheme {
        Scheme::Bootstrap => {
            for _ in 0..s {
                w[rng.random_range(0..s)] += 1.0;
            }
        }
        Scheme::Subsample => {
            // Partial Fisher-Yates: the first ⌊s/2⌋ of a random permutation.
            let mut idx: Vec<usize> = (0..s).collect();
            let m = (s / 2).max(1);
            for i in 0..m {
                let j = rng.random_range(i..s);
                idx.swap(i, j);
                w[idx[i]] = 1.0;
            }
        }
    }
    w
}

/// Minimum-cost one-to-one assignment (Hungarian algorithm, `O(n³)`) of rows to columns of a
/// square cost matrix given row-major; returns `col[row]`. Panics on a non-square input length.
pub fn assign_min_cost(cost: &[f64], n: usize) -> Vec<usize> {
    assert_eq!(cost.len(), n * n, "cost matrix must be n × n");
    // Potentials u (rows), v (cols); p[j] = row matched to column j (1-based, 0 = none).
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col = vec![0; n];
    for j in 1..=n {
        if p[j] > 0 {
            col[p[j] - 1] = j - 1;
        }
    }
    col
}

/// Index in `replicate` matched to each eigenvalue of `reference` by minimum total `|λ_i − λ'_j|`
/// (both spectra must have the same length).
pub fn match_eigenvalues(reference: &[c64], replicate: &[c64]) -> Vec<usize> {
    let n = reference.len();
    let cost: Vec<f64> = reference
        .iter()
        .flat_map(|a| replicate.iter().map(move |b| (a - b).norm()))
        .collect();
    assign_min_cost(&cost, n)
}

/// Options of [`bootstrap_spectrum`].
#[derive(Debug, Clone, Copy)]
pub struct BootstrapOptions {
    /// Resampling scheme.
    pub scheme: Scheme,
    /// Number of replicates.
    pub replicates: usize,
    /// Seed of the ChaCha8 stream; replicate `b` uses stream `b` of this seed.
    pub seed: u64,
    /// Two-sided level of the percentile intervals (e.g. 0.95).
    pub level: f64,
    /// A matched eigenvalue within this distance of the full fit's counts as "the same mode".
    pub match_radius: f64,
    /// `ε` of the memory horizon (Eq. 9).
    pub eps: f64,
    /// `|λ|` threshold of the counted "long-memory" modes (e.g. 0.99).
    pub modulus_threshold: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            scheme: Scheme::Bootstrap,
            replicates: 200,
            seed: 0,
            level: 0.95,
            match_radius: 0.05,
            eps: 0.01,
            modulus_threshold: 0.99,
        }
    }
}

/// Interval and stability of one eigenvalue of the full fit over the replicates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EigenInterval {
    /// The full fit's eigenvalue (re, im).
    pub lambda: [f64; 2],
    /// Percentile interval of `|λ|` over the matched replicates.
    pub modulus_ci: [f64; 2],
    /// Percentile interval of `τ(ε)` (Eq. 9); `None` for an end that is infinite (|λ| ≥ 1).
    pub tau_ci: [Option<f64>; 2],
    /// λ region: percentile box `[[re_low, re_high], [im_low, im_high]]` of the matched cloud.
    pub region: [[f64; 2]; 2],
    /// Fraction of replicates whose matched eigenvalue lies within the match radius.
    pub match_fraction: f64,
    /// For a complex eigenvalue: fraction of replicates in which its match is still complex
    /// with its conjugate matched to the full fit's partner; `None` for a real eigenvalue.
    pub pair_fraction: Option<f64>,
}

/// Result of [`bootstrap_spectrum`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectrumIntervals {
    /// Scheme used.
    pub scheme: Scheme,
    /// Replicates that gave a spectrum (failed refits are dropped and counted in `failed`).
    pub replicates: usize,
    /// Replicates whose refit or eigen-decomposition failed.
    pub failed: usize,
    /// Seed.
    pub seed: u64,
    /// Level.
    pub level: f64,
    /// Match radius.
    pub match_radius: f64,
    /// One entry per eigenvalue of the full fit, in the full fit's order.
    pub eigen: Vec<EigenInterval>,
    /// Count of `|λ| > modulus_threshold` in the full fit.
    pub count_above: usize,
    /// Percentile interval of that count over the replicates.
    pub count_above_ci: [f64; 2],
    /// The threshold.
    pub modulus_threshold: f64,
}

/// Percentile `q ∈ [0, 1]` of sorted values (linear interpolation); NaN for no values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let x = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo as f64)
}

/// The factor [`Scheme::Subsample`] scales the replicates' deviations by, for `s` sequences.
fn subsample_scale(s: usize) -> f64 {
    let m = (s / 2).max(1);
    if s > m {
        (m as f64 / (s - m) as f64).sqrt()
    } else {
        1.0
    }
}

/// Interval of `values` at `level`: plain percentiles for the bootstrap; for the half-sample,
/// the replicate deviations from `center` scaled by `scale` ([`subsample_scale`]).
fn interval(mut values: Vec<f64>, level: f64, scheme: Scheme, center: f64, scale: f64) -> [f64; 2] {
    values.retain(|x| !x.is_nan());
    values.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    let (lo, hi) = (percentile(&values, a), percentile(&values, 1.0 - a));
    match scheme {
        Scheme::Bootstrap => [lo, hi],
        Scheme::Subsample => [
            center + (lo - center) * scale,
            center + (hi - center) * scale,
        ],
    }
}

/// Bootstrap (or subsample) intervals of the spectrum of the fit from `grams` (weights all ones
/// for the full fit). Replicates run in parallel (rayon); replicate `b` draws its weights from
/// ChaCha8 seeded with `seed`, stream `b`, so results do not depend on the thread count.
///
/// Every replicate is fitted at the full fit's rank (`Rank::Fixed`), whatever rank rule `fit`
/// gives, so that each replicate's spectrum has as many eigenvalues as the full fit's.
pub fn bootstrap_spectrum(
    grams: &SequenceGrams,
    fit: &FitOptions,
    options: &BootstrapOptions,
) -> Result<SpectrumIntervals> {
    bootstrap_spectrum_with_progress(grams, fit, options, &|| {})
}

/// [`bootstrap_spectrum`], calling `progress` once after each replicate's refit (from the
/// worker threads: drive a progress bar with it).
pub fn bootstrap_spectrum_with_progress(
    grams: &SequenceGrams,
    fit: &FitOptions,
    options: &BootstrapOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<SpectrumIntervals> {
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(KoopmanError::InvalidParameter(format!(
            "interval level {} is not in (0, 1)",
            options.level
        )));
    }
    if options.replicates == 0 {
        return Err(KoopmanError::InvalidParameter(
            "resampling needs at least one replicate".into(),
        ));
    }
    let s = grams.num_sequences();
    let scale = subsample_scale(s);
    let full = grams.fit_weighted(&vec![1.0; s], fit)?;
    let reference = Spectrum::new(&full)?.eigenvalues;
    let r = reference.len();
    let refit = FitOptions {
        rank: Rank::Fixed(full.rank()),
        ..*fit
    };
    let replicates: Vec<Option<Vec<c64>>> = (0..options.replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream(b as u64);
            let w = draw_weights(options.scheme, s, &mut rng);
            let eig = grams
                .fit_weighted(&w, &refit)
                .and_then(|model| Spectrum::new(&model))
                .ok()
                .map(|sp| sp.eigenvalues);
            progress();
            eig.filter(|e| e.len() == r)
        })
        .collect();
    let ok: Vec<&Vec<c64>> = replicates.iter().flatten().collect();
    let failed = options.replicates - ok.len();
    let matches: Vec<Vec<usize>> = ok
        .par_iter()
        .map(|eig| match_eigenvalues(&reference, eig))
        .collect();
    let mut eigen = Vec::with_capacity(r);
    for i in 0..r {
        let l0 = reference[i];
        let mut mods = Vec::new();
        let mut taus = Vec::new();
        let mut re = Vec::new();
        let mut im = Vec::new();
        let mut within = 0usize;
        let mut paired = 0usize;
        let partner = if l0.im > 0.0 {
            Some(i + 1)
        } else if l0.im < 0.0 {
            Some(i - 1)
        } else {
            None
        };
        for (eig, m) in ok.iter().zip(&matches) {
            let l = eig[m[i]];
            if (l - l0).norm() <= options.match_radius {
                within += 1;
            }
            mods.push(l.norm());
            // Infinite τ (|λ| ≥ 1) sorts above every finite one.
            let tau = memory_horizon(l, options.eps, 0.0)?
                .tau
                .unwrap_or(f64::INFINITY);
            taus.push(tau);
            re.push(l.re);
            im.push(l.im);
            if let Some(p) = partner {
                let lp = eig[m[p]];
                if l.im != 0.0 && (lp - l.conj()).norm() <= 1e-9 * (1.0 + l.norm()) {
                    paired += 1;
                }
            }
        }
        let n = ok.len().max(1) as f64;
        let tau0 = memory_horizon(l0, options.eps, 0.0)?
            .tau
            .unwrap_or(f64::INFINITY);
        let tau_ci = interval(taus, options.level, options.scheme, tau0, scale);
        let fin = |x: f64| x.is_finite().then_some(x);
        eigen.push(EigenInterval {
            lambda: [l0.re, l0.im],
            modulus_ci: interval(mods, options.level, options.scheme, l0.norm(), scale),
            tau_ci: [fin(tau_ci[0]), fin(tau_ci[1])],
            region: [
                interval(re, options.level, options.scheme, l0.re, scale),
                interval(im, options.level, options.scheme, l0.im, scale),
            ],
            match_fraction: within as f64 / n,
            pair_fraction: partner.map(|_| paired as f64 / n),
        });
    }
    let above = |e: &[c64]| {
        e.iter()
            .filter(|l| l.norm() > options.modulus_threshold)
            .count() as f64
    };
    let count_above = above(&reference) as usize;
    let counts: Vec<f64> = ok.iter().map(|e| above(e)).collect();
    Ok(SpectrumIntervals {
        scheme: options.scheme,
        replicates: ok.len(),
        failed,
        seed: options.seed,
        level: options.level,
        match_radius: options.match_radius,
        eigen,
        count_above,
        count_above_ci: interval(
            counts,
            options.level,
            options.scheme,
            count_above as f64,
            scale,
        ),
        modulus_threshold: options.modulus_threshold,
    })
}
