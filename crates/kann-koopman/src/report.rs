//! A complete, serialisable analysis of a states tensor: fit, spectrum, memory horizons,
//! residuals, dominance and `e_rel` (what `analyze states` prints).

use crate::analysis::dominance;
use crate::error::{KoopmanError, Result};
use crate::fit::{FitMethod, FitOptions, Rank, koopman_operator};
use crate::predict::{RelativeError, relative_error};
use crate::resample::{
    BootstrapOptions, EigenInterval, Scheme, SequenceGrams, bootstrap_spectrum_with_progress,
    match_eigenvalues,
};
use crate::spectrum::{Spectrum, Stability};
use crate::states::{FitSteps, States};
use faer::c64;
use serde::{Deserialize, Serialize};

/// Moduli above this count as dominant (the paper's `|λ| > 0.99`).
pub const DOMINANT_MODULUS: f64 = 0.99;

/// Options of [`analyze_states`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOptions {
    /// Fit options (rank, estimator, conditioning limit).
    pub fit: FitOptions,
    /// Threshold `ε` of the memory horizon (Eq. 9); the paper uses 0.01.
    pub eps: f64,
    /// Tolerance on `| |λ| − 1 |` below which memory is infinite.
    pub unit_tol: f64,
    /// Eigenpairs whose signal-to-residual ratio `|λ| / residual` is below this are flagged
    /// unresolved ([`EigenReport::spurious`]); 1 by default.
    pub min_snr: f64,
    /// Which steps of a padded batch the basis and operator are fitted on; `e_rel` is scored on
    /// the real steps either way (and also on all steps when the batch is padded).
    pub fit_steps: FitSteps,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            fit: FitOptions::default(),
            eps: 0.01,
            unit_tol: 1e-6,
            min_snr: 1.0,
            fit_steps: FitSteps::Real,
        }
    }
}

/// Memory of a mode: what `τ(ε)` (Eq. 9) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Memory {
    /// `|λ| < 1`: `τ` is a number of steps.
    Finite,
    /// `|λ| = 1` (within the tolerance): the mode never decays.
    Infinite,
    /// `|λ| > 1`: the mode grows; `τ` is undefined.
    Unstable,
}

impl From<Stability> for Memory {
    fn from(s: Stability) -> Self {
        match s {
            Stability::Decaying => Memory::Finite,
            Stability::Marginal => Memory::Infinite,
            Stability::Unstable => Memory::Unstable,
        }
    }
}

/// The signal-to-residual ratio `|λ| / residual` of an eigenpair (0 for a NaN residual; the
/// residual is floored at the smallest positive double, so the ratio is always finite).
///
/// For the least-squares fit the residual of `C` is orthogonal to `X~`, so the one-step signal
/// of mode `v` splits as `‖Y~v‖² = |λ|²‖X~v‖² + ‖(Y~ − λX~)v‖²`: explained by `λ` plus unexplained.
/// The ratio is the square root of explained over unexplained, and `ratio < 1` means `λ`
/// explains less than half of what the mode does next. It is also the residual-DMD error bar:
/// `λ` lies within `residual` of the operator's spectrum, so `ratio < 1` means the error bar
/// reaches `λ = 0` and the eigenvalue is not resolved from noise. A direction of pure noise gets
/// `|λ|` of order `1/√#pairs` and `residual ≈ 1`, so its ratio is far below 1 whatever the
/// data's scale; a true mode of a low-noise system has a ratio of about `|λ| · signal / noise`,
/// far above 1 (tested on planted systems in `tests/states_input.rs`).
pub fn snr(lambda_modulus: f64, residual: f64) -> f64 {
    if residual.is_nan() {
        0.0
    } else {
        lambda_modulus / residual.max(f64::MIN_POSITIVE)
    }
}

/// One eigenpair of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EigenReport {
    /// Position in the spectrum (sorted by modulus, descending).
    pub index: usize,
    /// Real part of `λ`.
    pub re: f64,
    /// Imaginary part of `λ`.
    pub im: f64,
    /// `|λ|`.
    pub modulus: f64,
    /// Memory horizon `τ(ε)` (Eq. 9), a number exactly when `memory` is `finite` (`null` for
    /// both infinite and unstable modes: read `memory`).
    pub tau: Option<f64>,
    /// What `tau` is: finite, infinite (`|λ| = 1`) or unstable (`|λ| > 1`).
    pub memory: Memory,
    /// Stability class.
    pub stability: Stability,
    /// Residual `‖(Y~ − λX~)v‖ / ‖X~v‖` on the fitted pairs (residual DMD).
    pub residual: f64,
    /// `|λ| / residual` ([`snr`]).
    pub snr: f64,
    /// Unresolved: `snr < min_snr` (by default, `λ` explains less than half of the mode's
    /// next-step signal; see [`snr`]).
    pub spurious: bool,
    /// Dominance score (batch mean of `Σ_t |H~ V|`) and its rank (0 = most dominant).
    pub dominance: f64,
    /// Rank of this eigenvector by dominance (0 = most dominant).
    pub dominance_rank: usize,
    /// Resampling intervals of this eigenpair ([`bootstrap_report`]), written as fields of the
    /// eigenpair (`modulus_ci`, `tau_ci`, `re_ci`, `im_ci`, `match_fraction`, `pair_fraction`);
    /// absent when the analysis was not resampled.
    #[serde(flatten, default)]
    pub intervals: Option<EigenCi>,
}

/// Resampling intervals of one eigenpair (issue #23): percentile intervals over the replicates
/// of the eigenvalue matched to this one ([`crate::resample`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EigenCi {
    /// Interval `[low, high]` of `|λ|`.
    pub modulus_ci: [f64; 2],
    /// Interval of `τ(ε)` (Eq. 9); an end is `null` where it is infinite (`|λ| ≥ 1`).
    pub tau_ci: [Option<f64>; 2],
    /// The λ region, real part: interval of `Re λ` (with `im_ci`, a box in the complex plane).
    pub re_ci: [f64; 2],
    /// The λ region, imaginary part: interval of `Im λ`.
    pub im_ci: [f64; 2],
    /// Fraction of replicates whose matched eigenvalue lies within the match radius of `λ`:
    /// how often this eigenvalue's match exists.
    pub match_fraction: f64,
    /// For a complex `λ`: fraction of replicates in which its match is complex and its
    /// partner's match is its conjugate (the pair stays a pair); `null` for a real `λ`.
    pub pair_fraction: Option<f64>,
}

impl From<&EigenInterval> for EigenCi {
    fn from(e: &EigenInterval) -> Self {
        EigenCi {
            modulus_ci: e.modulus_ci,
            tau_ci: e.tau_ci,
            re_ci: e.region[0],
            im_ci: e.region[1],
            match_fraction: e.match_fraction,
            pair_fraction: e.pair_fraction,
        }
    }
}

/// How the intervals of a resampled report were made (top level of the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSummary {
    /// Resampling scheme over sequences.
    pub scheme: Scheme,
    /// Replicates asked for.
    pub replicates: usize,
    /// Replicates whose refit failed (dropped from the intervals).
    pub failed: usize,
    /// Two-sided level of the percentile intervals.
    pub level: f64,
    /// Seed of the replicate weights.
    pub seed: u64,
    /// Sequences resampled.
    pub sequences: usize,
    /// A replicate's eigenvalue within this distance of the fit's counts as its match existing.
    pub match_radius: f64,
    /// The matching rule, in words.
    pub matching: String,
    /// Interval of `num_dominant` (the count of `|λ| > 0.99`).
    pub num_dominant_ci: [f64; 2],
    /// What the intervals do not include, in words.
    pub note: String,
}

/// The full report of one states tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesReport {
    /// `[s, n, k]`.
    pub shape: [usize; 3],
    /// Steps the fit used: `real` (`t < length`) or `all` (padding included).
    pub fit_steps: FitSteps,
    /// True if some sequence is shorter than the array (lengths were applied).
    pub padded: bool,
    /// Real (valid) states: `Σ lengths`.
    pub num_real_states: usize,
    /// States the fit used (`num_real_states`, or `s · n` when fitted on all steps).
    pub num_states: usize,
    /// Pairs `(h_t, h_{t+1})` the fit used.
    pub num_pairs: usize,
    /// Rank `r` of the basis.
    pub rank: usize,
    /// Fraction of the states' energy captured by the basis.
    pub energy_captured: f64,
    /// Estimator name.
    pub estimator: String,
    /// How `C` was computed.
    pub method: FitMethod,
    /// Condition number of the system solved for `C`.
    pub condition: f64,
    /// Condition number of `V`.
    pub v_condition: f64,
    /// `ε` of the memory horizons.
    pub eps: f64,
    /// One-step relative error (Eq. 12) on the real steps: targets `h_{i,t}`, `1 ≤ t < length`
    /// (every step when no lengths were given); see `e_rel_steps`.
    pub relative_error: RelativeError,
    /// Which steps `relative_error` covers, in words.
    pub e_rel_steps: String,
    /// `e_rel` on every step of the padded batch (targets `1 ≤ t < n`, padding included), when
    /// the batch is padded and its padded steps are finite.
    pub relative_error_all_steps: Option<RelativeError>,
    /// Eigenvalues with `|λ| > 0.99` ([`DOMINANT_MODULUS`]).
    pub num_dominant: usize,
    /// Eigenvalues with infinite memory (`|λ| = 1` within the tolerance).
    pub num_infinite: usize,
    /// Eigenvalues with `|λ| > 1` (unstable).
    pub num_unstable: usize,
    /// The `min_snr` the flag used.
    pub min_snr: f64,
    /// Eigenpairs flagged unresolved (`snr < min_snr`).
    pub num_spurious: usize,
    /// Eigenpairs, sorted by modulus.
    pub eigen: Vec<EigenReport>,
    /// Warnings of the fit.
    pub warnings: Vec<String>,
    /// How the per-eigenpair intervals were made, when the analysis was resampled
    /// ([`bootstrap_report`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapSummary>,
}

/// Fits, eigen-decomposes and evaluates `states` (Sec. 3, Eq. 9, Eq. 12) in one call.
///
/// The fit uses the steps `options.fit_steps` names ([`States::for_fit`]); `e_rel`, dominance
/// and the counts are scored on the real steps of `states`. When the batch is padded, `e_rel` on
/// all steps is reported as well (if the padded steps are finite): fitting on all steps and
/// scoring on the real ones is the paper's reference pipeline.
pub fn analyze_states(states: &States, options: &AnalysisOptions) -> Result<StatesReport> {
    if !(options.min_snr >= 0.0 && options.min_snr.is_finite()) {
        return Err(crate::error::KoopmanError::InvalidParameter(format!(
            "min_snr {} must be finite and >= 0",
            options.min_snr
        )));
    }
    let padded = states.is_padded();
    let all_steps = match (padded, options.fit_steps) {
        (false, _) => None,
        (true, FitSteps::All) => Some(states.with_all_steps()?),
        (true, FitSteps::Real) => states.with_all_steps().ok(),
    };
    let fit_on = match (options.fit_steps, &all_steps) {
        (FitSteps::All, Some(all)) => all,
        _ => states,
    };
    let model = koopman_operator(fit_on, &options.fit)?;
    let spectrum = Spectrum::new(&model)?;
    let horizons = spectrum.memory_horizons(options.eps, options.unit_tol)?;
    let err = relative_error(states, &model)?;
    let err_all = all_steps
        .as_ref()
        .map(|all| relative_error(all, &model))
        .transpose()?;
    drop(all_steps);
    let dom = dominance(states, &model, &spectrum)?;
    let mut dom_score = vec![0.0; spectrum.len()];
    let mut dom_rank = vec![0; spectrum.len()];
    for (rank, &(j, score)) in dom.iter().enumerate() {
        dom_score[j] = score;
        dom_rank[j] = rank;
    }
    let total: f64 = model.singular_values.iter().map(|x| x * x).sum();
    let kept: f64 = model.singular_values[..model.rank()]
        .iter()
        .map(|x| x * x)
        .sum();
    let eigen: Vec<EigenReport> = spectrum
        .eigenvalues
        .iter()
        .enumerate()
        .map(|(j, l)| {
            let residual = spectrum.residuals[j];
            let snr = snr(l.norm(), residual);
            EigenReport {
                index: j,
                re: l.re,
                im: l.im,
                modulus: l.norm(),
                tau: horizons[j].tau,
                memory: horizons[j].stability.into(),
                stability: horizons[j].stability,
                residual,
                snr,
                spurious: snr < options.min_snr,
                dominance: dom_score[j],
                dominance_rank: dom_rank[j],
                intervals: None,
            }
        })
        .collect();
    let count = |f: &dyn Fn(&EigenReport) -> bool| eigen.iter().filter(|e| f(e)).count();
    Ok(StatesReport {
        shape: [states.num_sequences(), states.seq_len(), states.hidden()],
        fit_steps: options.fit_steps,
        padded,
        num_real_states: states.num_valid(),
        num_states: model.num_states,
        num_pairs: model.num_pairs,
        rank: model.rank(),
        energy_captured: if total > 0.0 { kept / total } else { 0.0 },
        estimator: model.estimator.to_string(),
        method: model.method,
        condition: model.condition,
        v_condition: spectrum.v_condition,
        eps: options.eps,
        relative_error: err,
        e_rel_steps: if padded {
            "real steps (1 <= t < length)".into()
        } else {
            "all steps (no sequence is padded)".into()
        },
        relative_error_all_steps: err_all,
        num_dominant: count(&|e| e.modulus > DOMINANT_MODULUS),
        num_infinite: count(&|e| e.memory == Memory::Infinite),
        num_unstable: count(&|e| e.memory == Memory::Unstable),
        min_snr: options.min_snr,
        num_spurious: count(&|e| e.spurious),
        eigen,
        warnings: model.warnings.clone(),
        bootstrap: None,
    })
}

/// Resampling intervals of one fit's eigenpairs ([`bootstrap_intervals`]), in the fit's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitIntervals {
    /// One entry per eigenvalue of the fit, in the fit's order.
    pub eigen: Vec<EigenCi>,
    /// How the intervals were made.
    pub summary: BootstrapSummary,
    /// Notes for the fit's warnings: intervals around a Gram fit that differs from the fit,
    /// failed refits.
    pub warnings: Vec<String>,
}

/// Resampling intervals (issue #23) of every eigenvalue of a fit, in the order of `eigenvalues`.
///
/// `grams` holds one set of Grams per sequence of the states the fit used
/// ([`SequenceGrams`]); each replicate refits basis, operator and spectrum from reweighted sums
/// at `rank` with `fit`'s estimator and limits ([`bootstrap_spectrum_with_progress`], `progress`
/// is called once per replicate). The intervals' eigenvalues (those of the full Gram fit) are
/// assigned to `eigenvalues` by minimum total distance; when they differ by more than `1e-6`
/// (relative), e.g. for a fit that fell back to SVD + QR (`method`), a warning says so. Needs at
/// least two sequences. `boot.eps` is the memory horizon's `ε`; `boot.modulus_threshold` is set
/// to [`DOMINANT_MODULUS`] (the interval of `num_dominant`).
pub fn bootstrap_intervals(
    grams: &SequenceGrams,
    fit: &FitOptions,
    rank: usize,
    method: FitMethod,
    eigenvalues: &[c64],
    boot: &BootstrapOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<FitIntervals> {
    let s = grams.num_sequences();
    if s < 2 {
        return Err(KoopmanError::InvalidParameter(format!(
            "resampling draws whole sequences and needs at least 2, the states have {s} (split one long sequence into several of equal length)"
        )));
    }
    let fit = FitOptions {
        rank: Rank::Fixed(rank),
        ..*fit
    };
    let boot = BootstrapOptions {
        modulus_threshold: DOMINANT_MODULUS,
        ..*boot
    };
    let ci = bootstrap_spectrum_with_progress(grams, &fit, &boot, progress)?;
    let theirs: Vec<c64> = ci
        .eigen
        .iter()
        .map(|e| c64::new(e.lambda[0], e.lambda[1]))
        .collect();
    if eigenvalues.len() != theirs.len() {
        return Err(KoopmanError::Shape(format!(
            "the resampled fit has {} eigenvalues, the fit {}",
            theirs.len(),
            eigenvalues.len()
        )));
    }
    let m = match_eigenvalues(eigenvalues, &theirs);
    let worst = eigenvalues
        .iter()
        .zip(&m)
        .map(|(l, &j)| (l - theirs[j]).norm() / (1.0 + l.norm()))
        .fold(0.0, f64::max);
    let mut warnings = Vec::new();
    if worst > 1e-6 {
        warnings.push(format!(
            "the resampled intervals are around the Gram fit's eigenvalues, which differ from this fit's ({method:?} fit) by up to {worst:.1e} (relative): read them as the spread, not as brackets of these values"
        ));
    }
    if ci.failed > 0 {
        warnings.push(format!(
            "{} of {} resampled refits failed and were left out of the intervals",
            ci.failed, boot.replicates
        ));
    }
    Ok(FitIntervals {
        eigen: m.iter().map(|&j| EigenCi::from(&ci.eigen[j])).collect(),
        summary: BootstrapSummary {
            scheme: boot.scheme,
            replicates: boot.replicates,
            failed: ci.failed,
            level: boot.level,
            seed: boot.seed,
            sequences: s,
            match_radius: boot.match_radius,
            matching: "each replicate's eigenvalues assigned one-to-one to the fit's by minimum total |lambda_i - lambda'_j| (Hungarian); intervals are percentiles of the matched values".into(),
            num_dominant_ci: ci.count_above_ci,
            note: "sampling spread over sequences only: the fit's own bias (finite basis rank, the least-squares estimator on finite sequences) is the same in every replicate and is not inside these intervals".into(),
        },
        warnings,
    })
}

/// Puts resampling intervals (issue #23) on every eigenpair of `report`, the report
/// [`analyze_states`] gave for `states` with `options`.
///
/// One pass over the fitted steps keeps each sequence's Grams ([`SequenceGrams`]), then
/// [`bootstrap_intervals`] at the report's rank with `ε = options.eps` (`progress` is called
/// once per replicate). Needs at least two sequences.
pub fn bootstrap_report(
    states: &States,
    options: &AnalysisOptions,
    boot: &BootstrapOptions,
    report: &mut StatesReport,
    progress: &(dyn Fn() + Sync),
) -> Result<()> {
    let fit_on = states.for_fit(options.fit_steps)?;
    let s = fit_on.num_sequences();
    if s < 2 {
        return Err(KoopmanError::InvalidParameter(format!(
            "resampling draws whole sequences and needs at least 2, the states have {s} (split one long sequence into several of equal length, e.g. --seq-len)"
        )));
    }
    let grams = SequenceGrams::from_states(&fit_on, options.fit.precision)?;
    drop(fit_on);
    let boot = BootstrapOptions {
        eps: options.eps,
        ..*boot
    };
    let ours: Vec<c64> = report.eigen.iter().map(|e| c64::new(e.re, e.im)).collect();
    let ci = bootstrap_intervals(
        &grams,
        &options.fit,
        report.rank,
        report.method,
        &ours,
        &boot,
        progress,
    )?;
    for (e, c) in report.eigen.iter_mut().zip(ci.eigen) {
        e.intervals = Some(c);
    }
    report.warnings.extend(ci.warnings);
    report.bootstrap = Some(ci.summary);
    Ok(())
}
