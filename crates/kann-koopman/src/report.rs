//! A complete, serialisable analysis of a states tensor: fit, spectrum, memory horizons,
//! residuals, dominance and `e_rel` (what `analyze states` prints).

use crate::analysis::dominance;
use crate::error::Result;
use crate::fit::{FitMethod, FitOptions, koopman_operator};
use crate::predict::{RelativeError, relative_error};
use crate::spectrum::{Spectrum, Stability};
use crate::states::States;
use serde::{Deserialize, Serialize};

/// Options of [`analyze_states`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOptions {
    /// Fit options (rank, estimator, conditioning limit).
    pub fit: FitOptions,
    /// Threshold `ε` of the memory horizon (Eq. 9); the paper uses 0.01.
    pub eps: f64,
    /// Tolerance on `| |λ| − 1 |` below which memory is infinite.
    pub unit_tol: f64,
    /// Residual above which an eigenpair is flagged spurious.
    pub residual_tol: f64,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            fit: FitOptions::default(),
            eps: 0.01,
            unit_tol: 1e-6,
            residual_tol: 0.1,
        }
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
    /// Memory horizon `τ(ε)` (Eq. 9); `null` = infinite.
    pub tau: Option<f64>,
    /// Stability class.
    pub stability: Stability,
    /// Residual `‖(Y~ − λX~)v‖ / ‖X~v‖`.
    pub residual: f64,
    /// Residual above `residual_tol`.
    pub spurious: bool,
    /// Dominance score (batch mean of `Σ_t |H~ V|`) and its rank (0 = most dominant).
    pub dominance: f64,
    /// Rank of this eigenvector by dominance (0 = most dominant).
    pub dominance_rank: usize,
}

/// The full report of one states tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesReport {
    /// `[s, n, k]`.
    pub shape: [usize; 3],
    /// Valid states used.
    pub num_states: usize,
    /// Admissible pairs used.
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
    /// One-step relative error (Eq. 12) over the valid steps.
    pub relative_error: RelativeError,
    /// Eigenpairs, sorted by modulus.
    pub eigen: Vec<EigenReport>,
    /// Warnings of the fit.
    pub warnings: Vec<String>,
}

/// Fits, eigen-decomposes and evaluates `states` (Sec. 3, Eq. 9, Eq. 12) in one call.
pub fn analyze_states(states: &States, options: &AnalysisOptions) -> Result<StatesReport> {
    let model = koopman_operator(states, &options.fit)?;
    let spectrum = Spectrum::new(&model)?;
    let horizons = spectrum.memory_horizons(options.eps, options.unit_tol)?;
    let err = relative_error(states, &model)?;
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
    let eigen = spectrum
        .eigenvalues
        .iter()
        .enumerate()
        .map(|(j, l)| EigenReport {
            index: j,
            re: l.re,
            im: l.im,
            modulus: l.norm(),
            tau: horizons[j].tau,
            stability: horizons[j].stability,
            residual: spectrum.residuals[j],
            spurious: spectrum.residuals[j].is_nan()
                || spectrum.residuals[j] > options.residual_tol,
            dominance: dom_score[j],
            dominance_rank: dom_rank[j],
        })
        .collect();
    Ok(StatesReport {
        shape: [states.num_sequences(), states.seq_len(), states.hidden()],
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
        eigen,
        warnings: model.warnings.clone(),
    })
}
