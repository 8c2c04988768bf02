//! e_rel (Eq. 12) of the fit beside the trivial predictor `h_{t+1} = h_t`, for the verdict of
//! `analyze states --html`: the point values always, bootstrap intervals
//! ([`crate::intervals::e_rel_intervals`]) where they can be made.

use anyhow::{Context, Result};
use kann_koopman::{FitOptions, States, StatesReport};
use serde::{Deserialize, Serialize};

use super::{EstimatorArg, StatesArgs};
use crate::intervals::{ErelIntervals, ErrorPairs, e_rel_intervals};

/// KANN's e_rel against the trivial predictor's on the real steps (the targets of Eq. 12 with
/// `|h_{t+1}| > 0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErelComparison {
    /// KANN's e_rel (the report's, on the real steps).
    pub kann: f64,
    /// The trivial predictor's e_rel on the same targets.
    pub trivial: f64,
    /// `trivial − kann` (positive: KANN predicts better).
    pub difference: f64,
    /// Targets scored.
    pub targets: usize,
    /// Bootstrap intervals of both and of their difference (95%, sequences with replacement,
    /// least-squares refits at the fit's rank, in-sample), when made.
    pub intervals: Option<ErelIntervals>,
    /// Why there are no intervals, when there are none.
    pub no_intervals: Option<String>,
}

/// Compares the fit's e_rel in `report` with the trivial predictor's on `states`, with
/// `replicates` bootstrap replicates seeded by `args.seed` (none for 0, a single sequence, or an
/// estimator other than least squares, which the refits do not reproduce).
pub fn compare(
    states: &States,
    report: &StatesReport,
    args: &StatesArgs,
    replicates: usize,
) -> Result<ErelComparison> {
    let pairs = ErrorPairs::of(states);
    let trivial = pairs.trivial_e_rel();
    let kann = report.relative_error.e_rel;
    let why_not = if replicates == 0 {
        Some("--bootstrap 0".to_string())
    } else if states.num_sequences() < 2 {
        Some("one sequence: resampling draws whole sequences".to_string())
    } else if args.estimator != EstimatorArg::Lstsq {
        let name = clap::ValueEnum::to_possible_value(&args.estimator)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        Some(format!(
            "--estimator {name}: the interval refits are least squares"
        ))
    } else if pairs.is_empty() {
        Some("no target with |h_(t+1)| > 0".to_string())
    } else {
        None
    };
    let intervals = match why_not {
        Some(_) => None,
        None => {
            let fitted = states.for_fit(args.fit_steps.into())?;
            let grams =
                kann_koopman::SequenceGrams::from_states(&fitted, FitOptions::default().precision)?;
            Some(
                e_rel_intervals(&grams, report.rank, &pairs, true, replicates, args.seed)
                    .with_context(|| format!("e_rel intervals of {}", args.file.display()))?,
            )
        }
    };
    Ok(ErelComparison {
        kann,
        trivial,
        difference: trivial - kann,
        targets: pairs.len(),
        intervals,
        no_intervals: why_not,
    })
}
