//! Error bars of Fig. 4: "KANN's one-step prediction gives the network's decision", and whether
//! it does so more often than the trivial predictor (`h_{T−1}` read out or decoded as it is), as
//! a difference with a bootstrap interval (issue #23 item 2). Used by `analyze imdb` (the class
//! of each test review) and `analyze ecg` (the normal/anomalous decision of each normal beat).
//!
//! Two samples carry the number, and each replicate redraws both:
//! - the **analysis batch** the operator was fitted on: bootstrap weights over its sequences, the
//!   operator refitted from the reweighted per-sequence Grams at the full fit's rank
//!   (`kann_koopman::SequenceGrams`, no new pass over the states);
//! - the **scored sequences** (test reviews, normal beats): bootstrap weights over them.
//!
//! The caller scores a refitted operator (`kann_agrees`: whether KANN's decision equals the
//! network's, per scored sequence); the trivial predictor does not depend on the fit, and its
//! agreement and the paired difference are computed on the same reweighted sequences.
//! Percentile intervals.
//!
//! A refit sees about 63% distinct sequences of the batch, so it is on average a little worse
//! than the full fit: KANN's interval can sit below the full fit's point. That is the honest
//! direction for a claim that KANN beats the baseline.

use anyhow::{Result, bail};
use kann_koopman::resample::draw_weights;
use kann_koopman::{FitOptions, KoopmanModel, Rank, Scheme, SequenceGrams, percentile};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Interval level of every agreement interval.
pub const LEVEL: f64 = 0.95;

/// The agreement of KANN and of the trivial predictor with the network, with their paired
/// difference, each with a percentile interval over the replicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementIntervals {
    /// Resampling scheme (always `bootstrap` here).
    pub scheme: String,
    /// Replicates drawn.
    pub replicates: usize,
    /// Replicates whose refit failed (left out of the intervals).
    pub failed: usize,
    /// Interval level.
    pub level: f64,
    /// Seed of the replicates' weights.
    pub seed: u64,
    /// Sequences of the analysis batch resampled for the refit.
    pub batch_sequences: usize,
    /// Sequences scored (test reviews, normal beats), resampled for the score.
    pub scored: usize,
    /// KANN's agreement with the network (the full fit, every scored sequence).
    pub kann: f64,
    /// Its interval.
    pub kann_ci: [f64; 2],
    /// The trivial predictor's agreement.
    pub trivial: f64,
    /// Its interval.
    pub trivial_ci: [f64; 2],
    /// `kann − trivial`.
    pub difference: f64,
    /// Its interval (paired: both on the same reweighted sequences).
    pub difference_ci: [f64; 2],
    /// Share of replicates in which KANN agrees more often than the trivial predictor.
    pub kann_ahead_share: f64,
}

/// Bootstrap intervals of the agreements (see the module doc): `replicates` refits of the
/// operator from `grams` (the analysis batch's per-sequence Grams) at `rank`, each scored by
/// `kann_agrees` (one bool per scored sequence, as many as `trivial_agrees`). Replicate `b` draws
/// its weights from ChaCha8 seeded with `seed`, stream `b`.
pub fn agreement_intervals(
    grams: &SequenceGrams,
    rank: usize,
    trivial_agrees: &[bool],
    replicates: usize,
    seed: u64,
    mut kann_agrees: impl FnMut(&KoopmanModel) -> Result<Vec<bool>>,
) -> Result<AgreementIntervals> {
    let n = trivial_agrees.len();
    if n == 0 || replicates == 0 {
        bail!("agreement intervals need scored sequences and at least one replicate");
    }
    let options = FitOptions {
        rank: Rank::Fixed(rank),
        ..FitOptions::default()
    };
    let s = grams.num_sequences();
    let mut score = |batch: &[f64]| -> Result<Vec<bool>> {
        let agrees = kann_agrees(&grams.fit_weighted(batch, &options)?)?;
        if agrees.len() != n {
            bail!(
                "agreement intervals: {} KANN decisions for {n} scored sequences",
                agrees.len()
            );
        }
        Ok(agrees)
    };
    let full = score(&vec![1.0; s])?;
    let ones = vec![1.0; n];
    let (kann, trivial) = (share(&full, &ones), share(trivial_agrees, &ones));
    let mut draws = Vec::with_capacity(replicates);
    for b in 0..replicates {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(b as u64);
        let batch = draw_weights(Scheme::Bootstrap, s, &mut rng);
        let scored = draw_weights(Scheme::Bootstrap, n, &mut rng);
        // A refit that fails (a degenerate resample) is counted and left out.
        if let Ok(agrees) = score(&batch) {
            draws.push((share(&agrees, &scored), share(trivial_agrees, &scored)));
        }
    }
    if draws.is_empty() {
        bail!("agreement intervals: every one of the {replicates} refits failed");
    }
    let ci = |mut v: Vec<f64>| -> [f64; 2] {
        v.sort_by(f64::total_cmp);
        [
            percentile(&v, (1.0 - LEVEL) / 2.0),
            percentile(&v, (1.0 + LEVEL) / 2.0),
        ]
    };
    let ahead = draws.iter().filter(|(a, t)| a > t).count() as f64 / draws.len() as f64;
    Ok(AgreementIntervals {
        scheme: Scheme::Bootstrap.to_string(),
        replicates,
        failed: replicates - draws.len(),
        level: LEVEL,
        seed,
        batch_sequences: s,
        scored: n,
        kann,
        kann_ci: ci(draws.iter().map(|p| p.0).collect()),
        trivial,
        trivial_ci: ci(draws.iter().map(|p| p.1).collect()),
        difference: kann - trivial,
        difference_ci: ci(draws.iter().map(|p| p.0 - p.1).collect()),
        kann_ahead_share: ahead,
    })
}

/// Weighted share of `true`.
fn share(agrees: &[bool], weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    agrees
        .iter()
        .zip(weights)
        .filter(|(a, _)| **a)
        .map(|(_, w)| w)
        .sum::<f64>()
        / total
}

/// The intervals in one line for `report.md` (`unit`: what was scored, e.g. "test reviews").
pub fn agreement_line(a: &AgreementIntervals, unit: &str) -> String {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    format!(
        "KANN {} [{}, {}], trivial {} [{}, {}], KANN − trivial {} ({} bootstrap replicates over the {} batch sequences and the {} {unit}, {:.0}% percentile intervals, seed {}; KANN ahead in {:.0}% of them)",
        pct(a.kann),
        pct(a.kann_ci[0]),
        pct(a.kann_ci[1]),
        pct(a.trivial),
        pct(a.trivial_ci[0]),
        pct(a.trivial_ci[1]),
        difference_cell(a),
        a.replicates - a.failed,
        a.batch_sequences,
        a.scored,
        100.0 * a.level,
        a.seed,
        100.0 * a.kann_ahead_share
    )
}

/// `+0.8 points [+0.5, +1.1]`: the difference with its interval, in percentage points.
pub fn difference_cell(a: &AgreementIntervals) -> String {
    format!(
        "{:+.1} points [{:+.1}, {:+.1}]",
        100.0 * a.difference,
        100.0 * a.difference_ci[0],
        100.0 * a.difference_ci[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::States;
    use kann_koopman::faer::{Col, Mat};
    use rand::RngExt;

    const K: usize = 3;
    const A: [[f64; K]; K] = [[0.9, 0.1, 0.0], [-0.1, 0.9, 0.0], [0.0, 0.0, 0.5]];
    const W: [f64; K] = [1.0, -0.5, 0.2];

    fn step(h: &[f64]) -> Vec<f64> {
        (0..K)
            .map(|j| (0..K).map(|i| h[i] * A[i][j]).sum())
            .collect()
    }

    fn logit(h: &[f64]) -> f64 {
        h.iter().zip(W).map(|(x, w)| x * w).sum()
    }

    /// Sequences of the planted linear map `h_{t+1} = h_t A` (noise-free).
    fn planted_grams(rng: &mut ChaCha8Rng) -> SequenceGrams {
        let (s, t) = (12usize, 40usize);
        let mut data = Vec::new();
        for _ in 0..s {
            let mut h: Vec<f64> = (0..K).map(|_| rng.random_range(-1.0..1.0)).collect();
            for _ in 0..t {
                data.extend_from_slice(&h);
                h = step(&h);
            }
        }
        let states = States::from_f64(data, s, t, K).unwrap();
        SequenceGrams::from_states(&states, kann_koopman::Precision::F64).unwrap()
    }

    /// KANN recovers `A` exactly, so its agreement is 100% in every replicate; the trivial
    /// predictor is planted wrong on every 5th sequence: its interval covers 80%, and the
    /// difference's interval excludes 0 and contains the planted gap of 20 points.
    #[test]
    fn exact_dynamics_beat_a_planted_trivial_share_with_an_interval_around_the_gap() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let grams = planted_grams(&mut rng);
        let n = 400;
        let prev = Mat::<f64>::from_fn(n, K, |_, _| rng.random_range(-1.0..1.0));
        let network: Vec<bool> = (0..n)
            .map(|i| {
                let h: Vec<f64> = (0..K).map(|j| prev[(i, j)]).collect();
                logit(&step(&h)) > 0.0
            })
            .collect();
        let trivial: Vec<bool> = (0..n).map(|i| i % 5 != 0).collect();
        let w = Col::<f64>::from_fn(K, |j| W[j]);
        let kann_agrees = |model: &KoopmanModel| -> Result<Vec<bool>> {
            let z = &prev * (model.prediction_map() * &w);
            Ok((0..n).map(|i| (z[i] > 0.0) == network[i]).collect())
        };
        let ci = agreement_intervals(&grams, K, &trivial, 200, 7, kann_agrees).unwrap();
        assert_eq!(ci.failed, 0);
        assert_eq!(ci.kann, 1.0);
        assert_eq!(ci.kann_ci, [1.0, 1.0]);
        assert!((ci.trivial - 0.8).abs() < 1e-12);
        assert!(ci.trivial_ci[0] < 0.8 && 0.8 < ci.trivial_ci[1], "{ci:?}");
        assert!(ci.difference_ci[0] > 0.0, "{ci:?}");
        assert!(ci.difference_ci[0] < 0.2 && 0.2 < ci.difference_ci[1]);
        assert_eq!(ci.kann_ahead_share, 1.0);
        // Deterministic for a seed.
        let again = agreement_intervals(&grams, K, &trivial, 200, 7, kann_agrees).unwrap();
        assert_eq!(again, ci);
        assert!(agreement_line(&ci, "test reviews").contains("KANN − trivial +20.0 points"));
    }

    /// A scorer that returns the wrong number of decisions is an error naming both counts.
    #[test]
    fn a_scorer_of_the_wrong_length_is_an_error_naming_the_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let grams = planted_grams(&mut rng);
        let e = agreement_intervals(&grams, K, &[true, false], 10, 0, |_| Ok(vec![true; 3]))
            .unwrap_err();
        assert!(e.to_string().contains("3 KANN decisions for 2"), "{e}");
    }
}
