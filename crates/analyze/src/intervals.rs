//! Error bars of the claims KANN is compared with the trivial predictor on (issue #23 item 2):
//! - Fig. 4, "KANN's one-step prediction gives the network's decision", and whether it does so
//!   more often than the trivial predictor (`h_{T−1}` read out or decoded as it is), as a
//!   difference with a bootstrap interval ([`agreement_intervals`]). Used by `analyze imdb` (the
//!   class of each test review) and `analyze ecg` (the normal/anomalous decision of each normal
//!   beat);
//! - Eq. 12, the one-step relative error e_rel of KANN beside that of the trivial predictor
//!   `h_{t+1} = h_t`, and their difference ([`e_rel_intervals`]).
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
use kann_koopman::faer::Mat;
use kann_koopman::resample::draw_weights;
use kann_koopman::{FitOptions, KoopmanModel, Rank, Scheme, SequenceGrams, States, percentile};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Interval level of every agreement interval.
pub const LEVEL: f64 = 0.95;

/// What every bootstrap interval of an analysis states about its replicates (the first fields of
/// each intervals object in `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resampling {
    /// Resampling scheme (always `bootstrap` here).
    pub scheme: String,
    /// Replicates drawn.
    pub replicates: usize,
    /// Replicates whose refit failed (left out of the intervals).
    pub failed: usize,
    /// Interval level.
    pub level: f64,
    /// Seed of the replicates' weights (replicate `b` draws from ChaCha8 stream `b`).
    pub seed: u64,
}

impl Resampling {
    /// `replicates` bootstrap replicates drawn with `seed`, of which `ok` succeeded, at [`LEVEL`].
    pub fn bootstrap(replicates: usize, ok: usize, seed: u64) -> Self {
        Resampling {
            scheme: Scheme::Bootstrap.to_string(),
            replicates,
            failed: replicates - ok,
            level: LEVEL,
            seed,
        }
    }

    /// Replicates that entered the intervals.
    pub fn used(&self) -> usize {
        self.replicates - self.failed
    }
}

/// The agreement of KANN and of the trivial predictor with the network, with their paired
/// difference, each with a percentile interval over the replicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementIntervals {
    /// Scheme, replicates (and failed ones), level and seed (flattened into the JSON object).
    #[serde(flatten)]
    pub resampling: Resampling,
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
    let ci = percentile_ci;
    let ahead = draws.iter().filter(|(a, t)| a > t).count() as f64 / draws.len() as f64;
    Ok(AgreementIntervals {
        resampling: Resampling::bootstrap(replicates, draws.len(), seed),
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

/// The one-step pairs `(h_t, h_{t+1})` of the scored sequences (real steps, `1 ≤ t+1 < len`),
/// with the sequence each pair belongs to; targets with `|h_{t+1}| = 0` are left out, as in
/// `kann_koopman::relative_error` (Eq. 12).
#[derive(Debug, Clone)]
pub struct ErrorPairs {
    x: Mat<f64>,
    y: Mat<f64>,
    y_norm2: Vec<f64>,
    sequence: Vec<usize>,
    sequences: usize,
}

impl ErrorPairs {
    /// Every admissible pair of `states`.
    pub fn of(states: &States) -> Self {
        let k = states.hidden();
        let mut rows = Vec::new();
        for (i, &len) in states.lengths().iter().enumerate() {
            for t in 1..len {
                let y = states.state(i, t);
                let n2: f64 = y.iter().map(|v| v * v).sum();
                if n2 > 0.0 {
                    rows.push((i, t, n2));
                }
            }
        }
        let x = Mat::<f64>::from_fn(rows.len(), k, |r, j| {
            states.state(rows[r].0, rows[r].1 - 1)[j]
        });
        let y = Mat::<f64>::from_fn(rows.len(), k, |r, j| states.state(rows[r].0, rows[r].1)[j]);
        ErrorPairs {
            x,
            y,
            y_norm2: rows.iter().map(|r| r.2).collect(),
            sequence: rows.iter().map(|r| r.0).collect(),
            sequences: states.num_sequences(),
        }
    }

    /// Number of pairs (the targets of Eq. 12).
    pub fn len(&self) -> usize {
        self.sequence.len()
    }

    /// No pair.
    pub fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }

    /// e_rel (Eq. 12) of the trivial predictor `h_{t+1} = h_t` over every pair (NaN for none).
    pub fn trivial_e_rel(&self) -> f64 {
        self.weighted_mean(&self.ratios(None), &vec![1.0; self.sequences])
    }

    /// `|h^KANN − h|² / |h|²` of every pair for the one-step map `map` (`h_{t+1} ≈ h_t map`;
    /// `None`: the identity, the trivial predictor).
    fn ratios(&self, map: Option<&Mat<f64>>) -> Vec<f64> {
        let diff = match map {
            Some(m) => &self.x * m - &self.y,
            None => &self.x - &self.y,
        };
        (0..self.len())
            .map(|r| {
                (0..diff.ncols())
                    .map(|j| diff[(r, j)] * diff[(r, j)])
                    .sum::<f64>()
                    / self.y_norm2[r]
            })
            .collect()
    }

    /// Eq. 12 with weights per scored sequence: `Σ w_s Σ_t ratio / Σ w_s n_s`.
    fn weighted_mean(&self, ratios: &[f64], weights: &[f64]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for (r, &s) in ratios.iter().zip(&self.sequence) {
            num += weights[s] * r;
            den += weights[s];
        }
        num / den
    }
}

/// e_rel (Eq. 12) of KANN and of the trivial predictor `h_{t+1} = h_t`, with the difference
/// `trivial − KANN` (positive: KANN predicts better), each with a percentile interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErelIntervals {
    /// Scheme, replicates (and failed ones), level and seed (flattened into the JSON object).
    #[serde(flatten)]
    pub resampling: Resampling,
    /// Whether the scored sequences are the fitted ones (one weight per sequence for both).
    pub in_sample: bool,
    /// Scored pairs (targets).
    pub targets: usize,
    /// KANN's e_rel (the full fit, every target).
    pub kann: f64,
    /// Its interval.
    pub kann_ci: [f64; 2],
    /// The trivial predictor's e_rel.
    pub trivial: f64,
    /// Its interval.
    pub trivial_ci: [f64; 2],
    /// `trivial − kann`.
    pub difference: f64,
    /// Its interval (paired).
    pub difference_ci: [f64; 2],
}

/// Bootstrap intervals of e_rel (Eq. 12): `replicates` refits from `grams` at `rank`, each
/// scored on `pairs` with bootstrap weights over the scored sequences. `in_sample`: the scored
/// sequences are the fitted ones, so one draw of weights serves both (as the e_rel of the
/// analysis batch is in-sample); otherwise the two are drawn independently. Seeded like
/// [`agreement_intervals`].
pub fn e_rel_intervals(
    grams: &SequenceGrams,
    rank: usize,
    pairs: &ErrorPairs,
    in_sample: bool,
    replicates: usize,
    seed: u64,
) -> Result<ErelIntervals> {
    let s = grams.num_sequences();
    let n = pairs.sequences;
    if pairs.is_empty() || replicates == 0 {
        bail!("e_rel intervals need scored pairs and at least one replicate");
    }
    if in_sample && n != s {
        bail!("e_rel intervals: {n} scored sequences are not the {s} fitted ones");
    }
    let options = FitOptions {
        rank: Rank::Fixed(rank),
        ..FitOptions::default()
    };
    let kann_ratios = |batch: &[f64]| -> Result<Vec<f64>> {
        let model = grams.fit_weighted(batch, &options)?;
        Ok(pairs.ratios(Some(&model.prediction_map())))
    };
    let trivial_ratios = pairs.ratios(None);
    let ones = vec![1.0; n];
    let kann = pairs.weighted_mean(&kann_ratios(&vec![1.0; s])?, &ones);
    let trivial = pairs.weighted_mean(&trivial_ratios, &ones);
    let mut draws = Vec::with_capacity(replicates);
    for b in 0..replicates {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(b as u64);
        let batch = draw_weights(Scheme::Bootstrap, s, &mut rng);
        let scored = if in_sample {
            batch.clone()
        } else {
            draw_weights(Scheme::Bootstrap, n, &mut rng)
        };
        // A refit that fails (a degenerate resample) is counted and left out.
        if let Ok(r) = kann_ratios(&batch) {
            draws.push((
                pairs.weighted_mean(&r, &scored),
                pairs.weighted_mean(&trivial_ratios, &scored),
            ));
        }
    }
    if draws.is_empty() {
        bail!("e_rel intervals: every one of the {replicates} refits failed");
    }
    Ok(ErelIntervals {
        resampling: Resampling::bootstrap(replicates, draws.len(), seed),
        in_sample,
        targets: pairs.len(),
        kann,
        kann_ci: percentile_ci(draws.iter().map(|p| p.0).collect()),
        trivial,
        trivial_ci: percentile_ci(draws.iter().map(|p| p.1).collect()),
        difference: trivial - kann,
        difference_ci: percentile_ci(draws.iter().map(|p| p.1 - p.0).collect()),
    })
}

/// The e_rel intervals in one line for `report.md`.
pub fn e_rel_line(e: &ErelIntervals) -> String {
    format!(
        "e_rel KANN {:.4} [{:.4}, {:.4}], trivial h_(t+1) = h_t {:.4} [{:.4}, {:.4}], trivial − KANN {:+.4} [{:+.4}, {:+.4}] ({} bootstrap replicates, {} targets, {:.0}% percentile intervals, seed {})",
        e.kann,
        e.kann_ci[0],
        e.kann_ci[1],
        e.trivial,
        e.trivial_ci[0],
        e.trivial_ci[1],
        e.difference,
        e.difference_ci[0],
        e.difference_ci[1],
        e.resampling.used(),
        e.targets,
        100.0 * e.resampling.level,
        e.resampling.seed
    )
}

/// The `LEVEL` percentile interval of `v`.
pub(crate) fn percentile_ci(mut v: Vec<f64>) -> [f64; 2] {
    v.sort_by(f64::total_cmp);
    [
        percentile(&v, (1.0 - LEVEL) / 2.0),
        percentile(&v, (1.0 + LEVEL) / 2.0),
    ]
}

/// Weighted share of `true`.
pub(crate) fn share(agrees: &[bool], weights: &[f64]) -> f64 {
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
        a.resampling.used(),
        a.batch_sequences,
        a.scored,
        100.0 * a.resampling.level,
        a.resampling.seed,
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
        assert_eq!(ci.resampling.failed, 0);
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

    /// e_rel: the full fit's value equals kann_koopman's Eq. 12 on the same states, the trivial
    /// predictor's is larger on noisy decaying dynamics, and the paired difference's interval
    /// excludes 0; on exact linear dynamics KANN's e_rel is 0 in every replicate.
    #[test]
    fn e_rel_intervals_match_eq_12_and_separate_kann_from_the_trivial_predictor() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (s, t) = (20usize, 30usize);
        let mut data = Vec::new();
        for _ in 0..s {
            let mut h: Vec<f64> = (0..K).map(|_| rng.random_range(-1.0..1.0)).collect();
            for _ in 0..t {
                data.extend_from_slice(&h);
                h = step(&h)
                    .iter()
                    .map(|v| v + 0.01 * rng.random_range(-1.0..1.0))
                    .collect();
            }
        }
        let states = States::from_f64(data, s, t, K).unwrap();
        let grams = SequenceGrams::from_states(&states, kann_koopman::Precision::F64).unwrap();
        let pairs = ErrorPairs::of(&states);
        assert_eq!(pairs.len(), s * (t - 1));
        let e = e_rel_intervals(&grams, K, &pairs, true, 200, 3).unwrap();
        let model = grams
            .fit_weighted(
                &vec![1.0; s],
                &FitOptions {
                    rank: Rank::Fixed(K),
                    ..FitOptions::default()
                },
            )
            .unwrap();
        let reference = kann_koopman::relative_error(&states, &model).unwrap();
        assert!(
            (e.kann - reference.e_rel).abs() < 1e-12,
            "{e:?} {reference:?}"
        );
        assert_eq!(e.targets, reference.count);
        assert!(e.trivial > e.kann, "{e:?}");
        assert!(e.difference_ci[0] > 0.0, "{e:?}");
        assert!(e.kann_ci[0] <= e.kann_ci[1] && e.trivial_ci[0] <= e.trivial_ci[1]);
        assert!(e_rel_line(&e).contains("trivial − KANN +"));
        // Noise-free: every refit recovers A exactly.
        let grams = planted_grams(&mut rng);
        let exact = {
            let mut data = Vec::new();
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            for _ in 0..12 {
                let mut h: Vec<f64> = (0..K).map(|_| rng.random_range(-1.0..1.0)).collect();
                for _ in 0..40 {
                    data.extend_from_slice(&h);
                    h = step(&h);
                }
            }
            States::from_f64(data, 12, 40, K).unwrap()
        };
        let e = e_rel_intervals(&grams, K, &ErrorPairs::of(&exact), false, 50, 1).unwrap();
        assert!(e.kann < 1e-20 && e.kann_ci[1] < 1e-20, "{e:?}");
        // In-sample scoring needs the fitted sequences.
        let err = e_rel_intervals(&grams, K, &pairs, true, 10, 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("20 scored sequences are not the 12 fitted"),
            "{err}"
        );
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
