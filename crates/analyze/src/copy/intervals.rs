//! Bootstrap intervals of the one-step agreement with the network in `analyze copy` (issue #23):
//! of Koopman, of the best linearisation (the linearised predictor with the highest one-step
//! agreement) and of the trivial predictor `h_{t+1} = h_t`, with the paired differences
//! Koopman − best linearisation and Koopman − trivial ([`one_step_intervals`]).
//!
//! The scheme is that of [`crate::intervals::agreement_intervals`] (IMDB, ECG). Replicate `b`
//! draws, from ChaCha8 seeded with `seed`, stream `b`:
//! - bootstrap weights over the **analysis batch's** sequences, from which the Koopman operator is
//!   refitted at the full fit's rank (reweighted per-sequence Grams, no new pass over the states);
//! - bootstrap weights over the **held-out** sequences, over which every predictor's agreement is
//!   the weighted share of agreeing targets, `Σ w_i a_i / Σ w_i n_i`.
//!
//! The linearisations and the trivial predictor are **not refitted**: the fixed points were found
//! from states of the analysis batch, and searching them again in every replicate is out of
//! reach, so their intervals (and the differences) are conditional on the fixed points found;
//! they only carry the held-out sequences' resampling. The differences are paired: every
//! predictor is scored on the same reweighted held-out sequences. Percentile intervals.

use anyhow::{Result, bail};
use kann_koopman::faer::Mat;
use kann_koopman::resample::draw_weights;
use kann_koopman::{FitOptions, KoopmanModel, Rank, Scheme, SequenceGrams};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::predict::{ClassReadout, argmax, check_window};
use crate::fixed_points::Trajectories;
use crate::intervals::{Resampling, percentile_ci};

/// What the linearisations' and the trivial predictor's intervals are conditional on, as
/// `report.json` and `report.md` say it.
pub const CONDITIONAL: &str = "the linearisations are not refitted: their fixed points were \
found on the analysis batch, so their intervals and the differences to them resample only the \
held-out sequences (conditional on the fixed points found)";

/// One predictor's one-step agreement with the network and its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementInterval {
    /// The predictor's name (as in `predictors` of `report.json`).
    pub predictor: String,
    /// Its agreement on every held-out target (Koopman: the refit with weights all ones).
    pub agreement: f64,
    /// Its percentile interval.
    pub agreement_ci: [f64; 2],
    /// Whether it was refitted in every replicate (Koopman) or only rescored (the others).
    pub refitted: bool,
}

/// Koopman's agreement minus a baseline's, paired over the same reweighted held-out sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DifferenceInterval {
    /// The baseline's name.
    pub baseline: String,
    /// Koopman − baseline on every held-out target.
    pub difference: f64,
    /// Its percentile interval.
    pub difference_ci: [f64; 2],
    /// Share of replicates in which Koopman agrees more often than the baseline.
    pub koopman_ahead_share: f64,
}

/// `one_step_intervals` of `report.json` of `analyze copy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneStepIntervals {
    /// Scheme, replicates (and failed ones), level and seed (flattened into the JSON object).
    #[serde(flatten)]
    pub resampling: Resampling,
    /// Sequences of the analysis batch resampled for the refit.
    pub batch_sequences: usize,
    /// Held-out sequences resampled for the scores.
    pub held_out_sequences: usize,
    /// One-step targets on the held-out batch.
    pub targets: usize,
    /// Koopman (refitted in every replicate).
    pub koopman: AgreementInterval,
    /// The best linearisation (highest one-step agreement), if any was scored.
    pub linearised: Option<AgreementInterval>,
    /// The trivial predictor `h_{t+1} = h_t`.
    pub trivial: AgreementInterval,
    /// Koopman − best linearisation.
    pub koopman_minus_linearised: Option<DifferenceInterval>,
    /// Koopman − trivial.
    pub koopman_minus_trivial: DifferenceInterval,
    /// What the intervals are conditional on ([`CONDITIONAL`]).
    pub note: String,
}

/// The held-out one-step targets as Koopman scores them in a replicate: the true states one
/// step before (`x`, one row per target), the sequence of each target and the network's output
/// on it, and the readout as matrices, so a refitted operator is scored by two products.
#[derive(Debug, Clone)]
pub struct KoopmanTargets {
    x: Mat<f64>,
    sequence: Vec<usize>,
    network: Vec<usize>,
    w: Mat<f64>,
    b: Vec<f64>,
    sequences: usize,
}

impl KoopmanTargets {
    /// The recall-window targets of `traj` as [`super::predict::one_step`] scores them.
    pub fn new(
        traj: &Trajectories,
        strings: &[Vec<usize>],
        recall_start: usize,
        readout: &ClassReadout,
    ) -> Result<Self> {
        check_window(traj, strings, recall_start)?;
        let k = traj.hidden;
        let sequences = strings.len().min(traj.states.len());
        let (mut rows, mut sequence, mut network) = (Vec::new(), Vec::new(), Vec::new());
        for (i, string) in strings.iter().enumerate().take(sequences) {
            for j in 0..string.len() {
                let t1 = recall_start + j;
                rows.push(&traj.state(i, t1 - 1)[..k]);
                sequence.push(i);
                network.push(readout.class(&traj.state(i, t1)[..k]));
            }
        }
        if rows.is_empty() {
            bail!("no recall-window targets");
        }
        let c = readout.classes();
        Ok(KoopmanTargets {
            x: Mat::from_fn(rows.len(), k, |r, j| rows[r][j]),
            sequence,
            network,
            w: Mat::from_fn(k, c, |j, o| readout.w[j * c + o]),
            b: readout.b.clone(),
            sequences,
        })
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.sequence.len()
    }

    /// No target.
    pub fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }

    /// Per sequence, `(agreeing, targets)` of the one-step prediction `h_t M` (Eq. 6) by `model`.
    pub fn counts(&self, model: &KoopmanModel) -> Result<Vec<(usize, usize)>> {
        if model.hidden() != self.x.ncols() {
            bail!(
                "a Koopman operator of hidden width {} for states of width {}",
                model.hidden(),
                self.x.ncols()
            );
        }
        let logits = &self.x * (model.prediction_map() * &self.w);
        let mut counts = vec![(0usize, 0usize); self.sequences];
        let mut l = vec![0.0; self.b.len()];
        for (r, (&s, &net)) in self.sequence.iter().zip(&self.network).enumerate() {
            for (o, v) in l.iter_mut().enumerate() {
                *v = self.b[o] + logits[(r, o)];
            }
            counts[s].0 += usize::from(argmax(&l) == net);
            counts[s].1 += 1;
        }
        Ok(counts)
    }
}

/// A predictor that is not refitted: its name and its per-sequence `(agreeing, targets)` on the
/// held-out batch ([`super::predict::one_step_counts`]).
#[derive(Debug, Clone, Copy)]
pub struct Rescored<'a> {
    /// Its name.
    pub name: &'a str,
    /// Per held-out sequence `(agreeing, targets)`.
    pub counts: &'a [(usize, usize)],
}

/// The weighted share `Σ w_i a_i / Σ w_i n_i` of agreeing targets.
fn weighted_share(counts: &[(usize, usize)], weights: &[f64]) -> f64 {
    let (mut a, mut n) = (0.0, 0.0);
    for (&(agree, targets), &w) in counts.iter().zip(weights) {
        a += w * agree as f64;
        n += w * targets as f64;
    }
    a / n
}

/// The agreements of one replicate: Koopman, then the linearisation (NaN without), then trivial.
type Draw = [f64; 3];

/// Bootstrap intervals of the one-step agreements (see the module doc): `replicates` refits of
/// the Koopman operator from `grams` (the analysis batch's per-sequence Grams) at `rank`, each
/// scored on `targets`; `linearised` and `trivial` are rescored on the same held-out weights.
pub fn one_step_intervals(
    grams: &SequenceGrams,
    rank: usize,
    targets: &KoopmanTargets,
    linearised: Option<Rescored>,
    trivial: Rescored,
    replicates: usize,
    seed: u64,
) -> Result<OneStepIntervals> {
    let n = targets.sequences;
    for p in linearised.iter().chain([&trivial]) {
        if p.counts.len() != n {
            bail!(
                "one-step intervals: {} has {} sequences, Koopman's targets {n}",
                p.name,
                p.counts.len()
            );
        }
    }
    if replicates == 0 {
        bail!("one-step intervals need at least one replicate");
    }
    let options = FitOptions {
        rank: Rank::Fixed(rank),
        ..FitOptions::default()
    };
    let s = grams.num_sequences();
    let score = |batch: &[f64], held: &[f64]| -> Result<Draw> {
        let koopman = targets.counts(&grams.fit_weighted(batch, &options)?)?;
        Ok([
            weighted_share(&koopman, held),
            linearised.map_or(f64::NAN, |l| weighted_share(l.counts, held)),
            weighted_share(trivial.counts, held),
        ])
    };
    let point = score(&vec![1.0; s], &vec![1.0; n])?;
    let mut draws: Vec<Draw> = Vec::with_capacity(replicates);
    for b in 0..replicates {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(b as u64);
        let batch = draw_weights(Scheme::Bootstrap, s, &mut rng);
        let held = draw_weights(Scheme::Bootstrap, n, &mut rng);
        // A refit that fails (a degenerate resample) is counted and left out.
        if let Ok(d) = score(&batch, &held) {
            draws.push(d);
        }
    }
    if draws.is_empty() {
        bail!("one-step intervals: every one of the {replicates} refits failed");
    }
    let agreement = |i: usize, name: &str, refitted: bool| AgreementInterval {
        predictor: name.to_string(),
        agreement: point[i],
        agreement_ci: percentile_ci(draws.iter().map(|d| d[i]).collect()),
        refitted,
    };
    let difference = |i: usize, name: &str| DifferenceInterval {
        baseline: name.to_string(),
        difference: point[0] - point[i],
        difference_ci: percentile_ci(draws.iter().map(|d| d[0] - d[i]).collect()),
        koopman_ahead_share: draws.iter().filter(|d| d[0] > d[i]).count() as f64
            / draws.len() as f64,
    };
    Ok(OneStepIntervals {
        resampling: Resampling::bootstrap(replicates, draws.len(), seed),
        batch_sequences: s,
        held_out_sequences: n,
        targets: targets.len(),
        koopman: agreement(0, super::KOOPMAN, true),
        linearised: linearised.map(|l| agreement(1, l.name, false)),
        trivial: agreement(2, trivial.name, false),
        koopman_minus_linearised: linearised.map(|l| difference(1, l.name)),
        koopman_minus_trivial: difference(2, trivial.name),
        note: CONDITIONAL.to_string(),
    })
}

/// `+0.8 points [+0.5, +1.1]`: a difference with its interval, in percentage points.
pub fn difference_cell(d: &DifferenceInterval) -> String {
    format!(
        "{:+.1} points [{:+.1}, {:+.1}]",
        100.0 * d.difference,
        100.0 * d.difference_ci[0],
        100.0 * d.difference_ci[1]
    )
}

/// `97.2% [92.4%, 99.3%]`: an agreement with its interval.
pub fn agreement_cell(a: &AgreementInterval) -> String {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    format!(
        "{} [{}, {}]",
        pct(a.agreement),
        pct(a.agreement_ci[0]),
        pct(a.agreement_ci[1])
    )
}

/// The intervals in one line for `report.md`.
pub fn one_step_line(c: &OneStepIntervals) -> String {
    let lin = match (&c.linearised, &c.koopman_minus_linearised) {
        (Some(l), Some(d)) => format!(
            "best linearisation ({}) {}, Koopman − it {} (ahead in {:.0}% of the replicates); ",
            l.predictor,
            agreement_cell(l),
            difference_cell(d),
            100.0 * d.koopman_ahead_share
        ),
        _ => "no linearisation scored; ".to_string(),
    };
    format!(
        "One-step agreement with the network, {:.0}% percentile intervals over {} bootstrap replicates (seed {}) of the {} analysis-batch sequences (Koopman refitted) and the {} held-out sequences ({} targets): Koopman {}; {}trivial {}, Koopman − trivial {} (ahead in {:.0}%). Note: {}.",
        100.0 * c.resampling.level,
        c.resampling.used(),
        c.resampling.seed,
        c.batch_sequences,
        c.held_out_sequences,
        c.targets,
        agreement_cell(&c.koopman),
        lin,
        agreement_cell(&c.trivial),
        difference_cell(&c.koopman_minus_trivial),
        100.0 * c.koopman_minus_trivial.koopman_ahead_share,
        c.note
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::predict::{Predictor, one_step, one_step_counts};
    use rand::RngExt;

    const K: usize = 3;
    const A: [[f64; K]; K] = [[0.9, 0.3, 0.0], [-0.3, 0.9, 0.0], [0.0, 0.0, 0.7]];

    /// `s` sequences of `t` steps of the noisy planted map `h_{t+1} = h_t A + 0.05 ξ`.
    fn planted(s: usize, t: usize, rng: &mut ChaCha8Rng) -> (Trajectories, Vec<Vec<usize>>) {
        let mut states = Vec::new();
        for _ in 0..s {
            let mut h: Vec<f64> = (0..K).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut seq = Vec::new();
            for _ in 0..t {
                seq.extend_from_slice(&h);
                h = (0..K)
                    .map(|j| {
                        (0..K).map(|i| h[i] * A[i][j]).sum::<f64>()
                            + 0.05 * rng.random_range(-1.0..1.0)
                    })
                    .collect();
            }
            states.push(seq);
        }
        let traj = Trajectories {
            state_dim: K,
            hidden: K,
            input_dim: 1,
            inputs: vec![vec![0.0; t]; s],
            states,
            unit: "string",
        };
        (traj, vec![vec![0; t - 1]; s])
    }

    /// The readout `argmax h` (three classes).
    fn readout() -> ClassReadout {
        let mut w = vec![0.0; K * K];
        for j in 0..K {
            w[j * K + j] = 1.0;
        }
        ClassReadout::new(w, vec![0.0; K], K).unwrap()
    }

    /// Weights all ones reproduce the point values of `one_step` (Koopman fitted as `analyze
    /// copy` fits it; a fixed map standing in for a linearisation; trivial); every interval
    /// is ordered, within [0, 1] and contains its point; the result is a function of the seed.
    #[test]
    fn all_ones_reproduce_one_step_and_the_intervals_contain_the_points() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (batch, _) = planted(30, 25, &mut rng);
        let (held, strings) = planted(60, 20, &mut rng);
        let ro = readout();
        let states = batch.hidden_states().unwrap();
        let fit = crate::kann::fit(&states, Some(K)).unwrap();
        let grams = SequenceGrams::from_states(&states, fit.model.precision).unwrap();
        let targets = KoopmanTargets::new(&held, &strings, 1, &ro).unwrap();
        assert_eq!(targets.len(), 60 * 19);
        let fixed = [Mat::<f64>::from_fn(K, K, |i, j| {
            0.8 * A[i][j] + 0.2 * A[j][i]
        })];
        let lin = Predictor::Koopman(&fixed);
        let lin_counts = one_step_counts(&lin, &held, &strings, 1, &ro).unwrap();
        let triv_counts = one_step_counts(&Predictor::Trivial, &held, &strings, 1, &ro).unwrap();
        let run = |seed| {
            one_step_intervals(
                &grams,
                K,
                &targets,
                Some(Rescored {
                    name: "lin",
                    counts: &lin_counts,
                }),
                Rescored {
                    name: "trivial",
                    counts: &triv_counts,
                },
                100,
                seed,
            )
            .unwrap()
        };
        let c = run(4);
        let maps = [fit.model.multi_step_map(1)];
        let point = |p: &Predictor| one_step(p, &held, &strings, 1, &ro).unwrap().agreement;
        assert_eq!(c.koopman.agreement, point(&Predictor::Koopman(&maps)));
        let l = c.linearised.as_ref().unwrap();
        assert_eq!(l.agreement, point(&lin));
        assert_eq!(c.trivial.agreement, point(&Predictor::Trivial));
        assert_eq!(
            (c.resampling.failed, c.targets, c.held_out_sequences),
            (0, 60 * 19, 60)
        );
        for a in [&c.koopman, l, &c.trivial] {
            let [lo, hi] = a.agreement_ci;
            assert!(
                0.0 <= lo && lo <= a.agreement && a.agreement <= hi && hi <= 1.0,
                "{a:?}"
            );
        }
        let dl = c.koopman_minus_linearised.as_ref().unwrap();
        for d in [dl, &c.koopman_minus_trivial] {
            let [lo, hi] = d.difference_ci;
            assert!(lo <= d.difference && d.difference <= hi, "{d:?}");
        }
        // The planted map is learnt: Koopman beats the trivial predictor in every replicate.
        assert!(c.koopman_minus_trivial.difference_ci[0] > 0.0, "{c:?}");
        assert_eq!(c.koopman_minus_trivial.koopman_ahead_share, 1.0);
        assert!(c.koopman.refitted && !l.refitted && !c.trivial.refitted);
        assert_eq!(run(4), c);
        assert_ne!(run(5).koopman.agreement_ci, c.koopman.agreement_ci);
        let line = one_step_line(&c);
        assert!(line.contains("Koopman − trivial +") && line.contains("not refitted"));
        // Counts of another batch are an error naming both.
        let e = one_step_intervals(
            &grams,
            K,
            &targets,
            None,
            Rescored {
                name: "trivial",
                counts: &triv_counts[..5],
            },
            10,
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("trivial has 5 sequences"), "{e}");
    }
}
