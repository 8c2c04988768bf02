//! Which steps the operator is fitted on (Sec. 4.1 spectrum), and the spectrum summary of each
//! choice.
//!
//! The analysis batch is padded to `max_len` (1000 in the paper). `real` fits basis and operator
//! on the reviews' own steps only; `all` fits them on every step of the padded batch, as the
//! authors' code does. With reviews of about 250 pieces, three quarters of the pairs of the `all`
//! fit are the network reading padding, whose slow drift adds eigenvalues near 1. Both spectra
//! are always reported; `--fit-steps` says which fit the rest of the analysis (sentiment sets,
//! figures, agreement) uses. The default is `real`: the question is what the network does while
//! it reads a review. `e_rel` (Eq. 12) of each fit is given on the real steps and on all steps.

use anyhow::Result;
use clap::ValueEnum;
use kann_koopman::States;
use serde::{Deserialize, Serialize};

use crate::kann::{self, DOMINANT_MODULUS, EigenSummary, ErelSummary, Fit, eigen_summaries};

/// The steps the Koopman operator is fitted on: [`kann_koopman::FitSteps`] as a command-line
/// value (`--fit-steps real|all` of `analyze imdb` and `analyze states`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FitSteps {
    /// The reviews' real (unpadded) steps only.
    #[default]
    Real,
    /// Every step of the padded batch (the authors' pipeline).
    All,
}

impl From<FitSteps> for kann_koopman::FitSteps {
    fn from(f: FitSteps) -> Self {
        match f {
            FitSteps::Real => kann_koopman::FitSteps::Real,
            FitSteps::All => kann_koopman::FitSteps::All,
        }
    }
}

impl std::fmt::Display for FitSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        kann_koopman::FitSteps::from(*self).fmt(f)
    }
}

/// The spectrum of one fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectrumSummary {
    /// The steps fitted on.
    pub fit_steps: FitSteps,
    /// Whether the rest of the analysis uses this fit.
    pub used_by_analysis: bool,
    /// Rank of the basis.
    pub rank: usize,
    /// Pairs `(h_t, h_{t+1})` fitted.
    pub pairs: usize,
    /// Count of `|λ| > 0.99`.
    pub count_above_099: usize,
    /// The ten eigenvalues of largest modulus, with `τ(0.01)` (Eq. 9).
    pub top_eigenvalues: Vec<EigenSummary>,
    /// Smallest finite `τ(0.01)` among `|λ| > 0.99`.
    pub min_tau_above_099: Option<f64>,
    /// Count of `|λ| > 1 + 1e-6` (the fitted operator is unstable along them).
    pub count_unstable: usize,
    /// `e_rel` (Eq. 12) over the reviews' real steps.
    pub e_rel_real_steps: ErelSummary,
    /// `e_rel` over every step of the padded batch.
    pub e_rel_all_steps: ErelSummary,
}

/// Both fits of the analysis batch.
pub struct Fits {
    /// The fit the analysis uses.
    pub used: Fit,
    /// Summaries of both fits, the used one first.
    pub summaries: Vec<SpectrumSummary>,
}

fn summary(
    fit: &Fit,
    mode: FitSteps,
    used: bool,
    real: &States,
    all: &States,
) -> Result<SpectrumSummary> {
    let eig = eigen_summaries(&fit.spectrum)?;
    let dominant = || eig.iter().filter(|e| e.modulus > DOMINANT_MODULUS);
    Ok(SpectrumSummary {
        fit_steps: mode,
        used_by_analysis: used,
        rank: fit.model.rank(),
        pairs: fit.model.num_pairs,
        count_above_099: dominant().count(),
        top_eigenvalues: eig.iter().take(10).cloned().collect(),
        min_tau_above_099: dominant().filter_map(|e| e.tau).min_by(f64::total_cmp),
        count_unstable: eig
            .iter()
            .filter(|e| e.modulus > 1.0 + kann::UNIT_TOL)
            .count(),
        e_rel_real_steps: kann::e_rel(real, fit)?,
        e_rel_all_steps: kann::e_rel(all, fit)?,
    })
}

/// Fits the batch `states` (lengths = the reviews' real lengths, padded to `seq_len`) both ways;
/// `mode` is the one the analysis uses.
pub fn fit_both(states: &States, mode: FitSteps, rank: Option<usize>) -> Result<Fits> {
    let all = states
        .clone()
        .with_lengths(vec![states.seq_len(); states.num_sequences()])?;
    let real_fit = kann::fit(states, rank)?;
    let all_fit = kann::fit(&all, rank)?;
    let real_sum = summary(
        &real_fit,
        FitSteps::Real,
        mode == FitSteps::Real,
        states,
        &all,
    )?;
    let all_sum = summary(&all_fit, FitSteps::All, mode == FitSteps::All, states, &all)?;
    Ok(match mode {
        FitSteps::Real => Fits {
            used: real_fit,
            summaries: vec![real_sum, all_sum],
        },
        FitSteps::All => Fits {
            used: all_fit,
            summaries: vec![all_sum, real_sum],
        },
    })
}

/// What the two fit modes are, for the report.
pub const DOC_FIT_STEPS: &str = "`real`: basis and operator fitted on the reviews' own steps; \
    `all`: on every step of the batch padded to max_len, as the authors' code does (with reviews \
    of about 250 pieces, most of those pairs are the network reading padding). `e_rel` (Eq. 12) is \
    given on both sets of steps for each fit.";

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequences of 20 real steps of a decaying rotation, padded to 60 steps by a constant
    /// drift towards a fixed point: the `all` fit sees the padding, the `real` fit does not.
    #[test]
    fn the_two_fits_differ_and_each_is_labelled() {
        let (s, n, k) = (8, 60, 3);
        let mut data = Vec::new();
        for i in 0..s {
            let mut h = [1.0 + 0.1 * i as f64, 0.5, -0.2 * i as f64];
            for t in 0..n {
                data.extend_from_slice(&h);
                h = if t < 19 {
                    [0.7 * h[0] - 0.5 * h[1], 0.5 * h[0] + 0.7 * h[1], 0.8 * h[2]]
                } else {
                    [0.99 * h[0] + 0.01, 0.99 * h[1], 0.99 * h[2] + 0.005]
                };
            }
        }
        let states = States::new_with_lengths(data, s, n, k, vec![20; s]).unwrap();
        let fits = fit_both(&states, FitSteps::Real, Some(3)).unwrap();
        let [used, other] = [&fits.summaries[0], &fits.summaries[1]];
        assert_eq!(used.fit_steps, FitSteps::Real);
        assert!(used.used_by_analysis && !other.used_by_analysis);
        assert_eq!(used.pairs, s * 19);
        assert_eq!(other.pairs, s * 59);
        assert_eq!(used.e_rel_real_steps.targets, s * 19);
        assert_eq!(used.e_rel_all_steps.targets, s * 59);
        // the real-steps fit is exact on the real steps
        assert!(used.e_rel_real_steps.e_rel < 1e-8, "{used:?}");
        assert!(other.e_rel_real_steps.e_rel > used.e_rel_real_steps.e_rel);
        let fits = fit_both(&states, FitSteps::All, Some(3)).unwrap();
        assert_eq!(fits.summaries[0].fit_steps, FitSteps::All);
        assert_eq!(fits.used.model.num_pairs, s * 59);
    }
}
