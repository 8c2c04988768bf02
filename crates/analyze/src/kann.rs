//! The Koopman fit of a batch of states and the summaries both tasks report: the spectrum with
//! memory horizons (Eq. 9), groups of eigenvectors (real ones alone, conjugate pairs together)
//! and projection magnitudes (Eq. 10).

use anyhow::{Result, bail};
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{
    FitOptions, KoopmanModel, Rank, RelativeError, Spectrum, States, coefficients,
    koopman_operator, memory_horizon, relative_error,
};
use serde::{Deserialize, Serialize};

/// Threshold `ε` of the memory horizon used throughout (the paper's 0.01).
pub const EPS: f64 = 0.01;
/// Tolerance on `| |λ| − 1 |` below which a mode has infinite memory.
pub const UNIT_TOL: f64 = 1e-6;
/// Moduli above this are "dominant" in the paper's count (`|λ| > 0.99`).
pub const DOMINANT_MODULUS: f64 = 0.99;

/// A fitted Koopman operator with its eigen-decomposition.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Basis `B`, operator `C`, readout (Eqs. 4-6).
    pub model: KoopmanModel,
    /// `C = V Λ U`, sorted by modulus.
    pub spectrum: Spectrum,
}

/// Fits `C` on `states` (Sec. 3.2) with the rank given on the command line (`None`: the
/// reference default `min(#pairs, k) − 1`). A rank above the hidden size is an error.
pub fn fit(states: &States, rank: Option<usize>) -> Result<Fit> {
    let k = states.hidden();
    let rank = match rank {
        Some(0) => bail!("--rank must be at least 1"),
        Some(r) if r > k => bail!("--rank {r} is larger than the hidden size {k} of the model"),
        Some(r) => Rank::Fixed(r),
        None => Rank::ReferenceDefault,
    };
    let model = koopman_operator(
        states,
        &FitOptions {
            rank,
            ..FitOptions::default()
        },
    )?;
    let spectrum = Spectrum::new(&model)?;
    Ok(Fit { model, spectrum })
}

/// Leading eigenvalues whose intervals the reports keep.
pub const INTERVAL_EIGENVALUES: usize = 8;

/// The per-sequence Gram matrices of `states` (the states `fit` was fitted on), from which every
/// bootstrap refit of an analysis is summed (`kann_koopman::SequenceGrams`, one pass over the
/// states); `None` when `replicates` is 0 (no resampling).
pub fn batch_grams(
    states: &States,
    fit: &Fit,
    replicates: usize,
) -> Result<Option<kann_koopman::SequenceGrams>> {
    if replicates == 0 {
        return Ok(None);
    }
    Ok(Some(kann_koopman::SequenceGrams::from_states(
        states,
        fit.model.precision,
    )?))
}

/// Bootstrap intervals of `fit`'s spectrum over whole sequences, from `grams` (the per-sequence
/// Grams of the states `fit` was fitted on, [`batch_grams`]): `replicates` refits from
/// reweighted sums at `fit`'s rank, 95% percentile intervals, the replicates' eigenvalues matched
/// to the fit's by minimum total distance (`kann_koopman::bootstrap_spectrum`,
/// docs/error-bars.md). Keeps the [`INTERVAL_EIGENVALUES`] leading eigenvalues. `None` without
/// `grams`.
pub fn spectrum_intervals(
    grams: Option<&kann_koopman::SequenceGrams>,
    fit: &Fit,
    replicates: usize,
    seed: u64,
) -> Result<Option<kann_koopman::SpectrumIntervals>> {
    let Some(grams) = grams.filter(|_| replicates > 0) else {
        return Ok(None);
    };
    let options = FitOptions {
        rank: Rank::Fixed(fit.model.rank()),
        ..FitOptions::default()
    };
    let boot = kann_koopman::BootstrapOptions {
        replicates,
        seed,
        eps: EPS,
        modulus_threshold: DOMINANT_MODULUS,
        ..Default::default()
    };
    let mut ci = kann_koopman::bootstrap_spectrum(grams, &options, &boot)?;
    ci.eigen.truncate(INTERVAL_EIGENVALUES);
    Ok(Some(ci))
}

/// The intervals as the spectrum figure of `points` (the eigenvalues as [`eigen_points`] lists
/// them) draws them, each on the eigenvalue nearest to its full fit's λ, with the legend's
/// words; intervals that are not finite (never matched) are left out.
pub fn eigen_boxes(
    ci: &kann_koopman::SpectrumIntervals,
    points: &[(f64, f64)],
) -> (Vec<kann_plot::EigenBox>, String) {
    let nearest = |l: [f64; 2]| {
        (0..points.len()).min_by(|&a, &b| {
            let d = |j: usize| (points[j].0 - l[0]).hypot(points[j].1 - l[1]);
            d(a).total_cmp(&d(b))
        })
    };
    let boxes = ci
        .eigen
        .iter()
        .filter_map(|e| Some((nearest(e.lambda)?, e)))
        .map(|(index, e)| kann_plot::EigenBox {
            index,
            re: e.region[0],
            im: e.region[1],
            modulus: e.modulus_ci,
        })
        .filter(|b| {
            [b.re, b.im, b.modulus]
                .iter()
                .flatten()
                .all(|v| v.is_finite())
        })
        .collect();
    let label = format!(
        "{:.0}% {}, {} replicates",
        100.0 * ci.level,
        ci.scheme,
        ci.replicates
    );
    (boxes, label)
}

/// `spectrum.png`/`.svg` of a fit's eigenvalues `points` in `dir`, with the bootstrap
/// intervals of its leading eigenvalues where the analysis resampled ([`eigen_boxes`]).
pub fn spectrum_figure(
    dir: &std::path::Path,
    title: &str,
    points: &[(f64, f64)],
    intervals: Option<&kann_koopman::SpectrumIntervals>,
) -> Result<kann_plot::FigurePaths> {
    let (boxes, label) = intervals.map_or_else(Default::default, |ci| eigen_boxes(ci, points));
    let fig = kann_plot::SpectrumFigure {
        intervals: &boxes,
        interval_label: &label,
        ..kann_plot::SpectrumFigure::new(title, points)
    };
    Ok(kann_plot::spectrum(dir, "spectrum", &fig)?)
}

/// The intervals in one line for `report.md` (the count's interpolated percentiles rounded
/// outwards to whole counts).
pub fn intervals_line(ci: &kann_koopman::SpectrumIntervals, sequences: usize) -> String {
    let lead: Vec<String> = ci
        .eigen
        .iter()
        .take(4)
        .enumerate()
        .map(|(j, e)| {
            format!(
                "|λ{}| {:.4} [{:.4}, {:.4}] (matched in {:.0}%)",
                j + 1,
                e.lambda[0].hypot(e.lambda[1]),
                e.modulus_ci[0],
                e.modulus_ci[1],
                100.0 * e.match_fraction
            )
        })
        .collect();
    format!(
        "{} bootstrap replicates over the {sequences} sequences ({:.0}% percentile intervals, seed {}): count of |λ| > {} = {} [{}, {}]; {}",
        ci.replicates,
        100.0 * ci.level,
        ci.seed,
        ci.modulus_threshold,
        ci.count_above,
        ci.count_above_ci[0].floor(),
        ci.count_above_ci[1].ceil(),
        lead.join(", ")
    )
}

/// One eigenvalue as reported (`index` is 1-based, as in the paper's `λ_1, λ_2, ...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EigenSummary {
    /// 1-based position in the spectrum sorted by modulus.
    pub index: usize,
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
    /// `|λ|`.
    pub modulus: f64,
    /// Memory horizon `τ(0.01)` (Eq. 9); `None` = infinite (`|λ| ≥ 1`).
    pub tau: Option<f64>,
}

/// The spectrum as plain numbers: all eigenvalues with their memory horizons.
pub fn eigen_summaries(spectrum: &Spectrum) -> Result<Vec<EigenSummary>> {
    spectrum
        .eigenvalues
        .iter()
        .enumerate()
        .map(|(j, &l)| {
            let h = memory_horizon(l, EPS, UNIT_TOL)?;
            Ok(EigenSummary {
                index: j + 1,
                re: l.re,
                im: l.im,
                modulus: l.norm(),
                tau: h.tau,
            })
        })
        .collect()
}

/// Eigenvalues `(re, im)` for the spectrum figure.
pub fn eigen_points(spectrum: &Spectrum) -> Vec<(f64, f64)> {
    spectrum.eigenvalues.iter().map(|l| (l.re, l.im)).collect()
}

/// The eigenvalues `(re, im)` of a set of 0-based eigenvector indices.
pub fn set_eigenvalues(spectrum: &Spectrum, set: &[usize]) -> Vec<(f64, f64)> {
    set.iter()
        .map(|&j| {
            let l = spectrum.eigenvalues[j];
            (l.re, l.im)
        })
        .collect()
}

/// `"u3,u4"`-style name of a set of 0-based eigenvector indices (1-based, as in the paper).
pub fn set_name(set: &[usize]) -> String {
    set.iter()
        .map(|j| format!("u{}", j + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// Projection magnitudes `s(j, h_t) = |h~_tᵀ V_j|` (Eq. 10) of all eigenvectors for the rows of
/// `h` (`m × k` → `m × r`).
pub fn magnitudes(h: MatRef<'_, f64>, fit: &Fit) -> Mat<f64> {
    let tilde = coefficients(h, &fit.model);
    let v = &fit.spectrum.v;
    let (r1, r2) = (v.nrows(), v.ncols());
    let v_re = Mat::<f64>::from_fn(r1, r2, |i, j| v[(i, j)].re);
    let v_im = Mat::<f64>::from_fn(r1, r2, |i, j| v[(i, j)].im);
    let re = tilde.as_ref() * v_re.as_ref();
    let im = tilde.as_ref() * v_im.as_ref();
    Mat::<f64>::from_fn(re.nrows(), re.ncols(), |i, j| re[(i, j)].hypot(im[(i, j)]))
}

/// `[Re, Im]` of the projections `H~ V_S` (Eq. 7) onto a set `S` of eigenvectors: a real
/// embedding (`m × 2|S|`) whose Euclidean distances are those of the complex projections.
pub fn projection_embedding(h: MatRef<'_, f64>, fit: &Fit, set: &[usize]) -> Mat<f64> {
    let tilde = coefficients(h, &fit.model);
    let v = &fit.spectrum.v;
    let r = v.nrows();
    let s = set.len();
    let v_re = Mat::<f64>::from_fn(r, s, |i, a| v[(i, set[a])].re);
    let v_im = Mat::<f64>::from_fn(r, s, |i, a| v[(i, set[a])].im);
    let re = tilde.as_ref() * v_re.as_ref();
    let im = tilde.as_ref() * v_im.as_ref();
    Mat::<f64>::from_fn(h.nrows(), 2 * s, |i, c| {
        if c < s { re[(i, c)] } else { im[(i, c - s)] }
    })
}

/// `e_rel` (Eq. 12) as reported: the value and how many targets entered it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErelSummary {
    /// The relative error.
    pub e_rel: f64,
    /// Number of targets `(s, t)` averaged.
    pub targets: usize,
}

impl From<RelativeError> for ErelSummary {
    fn from(e: RelativeError) -> Self {
        ErelSummary {
            e_rel: e.e_rel,
            targets: e.count,
        }
    }
}

/// `e_rel` of `fit` on `states` (valid steps only, Eq. 12).
pub fn e_rel(states: &States, fit: &Fit) -> Result<ErelSummary> {
    Ok(relative_error(states, &fit.model)?.into())
}

/// Row-major copy of a matrix.
pub fn to_rows(m: MatRef<'_, f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.push(m[(i, j)]);
        }
    }
    out
}

/// The state of every sequence at step `t_of(i)` as an `s × k` matrix.
pub fn states_at(states: &States, t_of: impl Fn(usize) -> usize) -> Mat<f64> {
    let (s, k) = (states.num_sequences(), states.hidden());
    Mat::<f64>::from_fn(s, k, |i, j| states.state(i, t_of(i))[j])
}
