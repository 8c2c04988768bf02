//! Bootstrap intervals of the readout test (Sec. 4.1; issue #23 item 2), **with the choice
//! inside**: the positive, negative and tracking sets are chosen on the analysis batch, so an
//! interval that kept them fixed would leave out the choice's own luck. Replicate `b`:
//! 1. draws bootstrap weights over the analysis batch's reviews (ChaCha8 seeded with `seed`,
//!    stream `b`: the same draw as replicate `b` of the spectrum and agreement intervals) and
//!    refits the operator from the reweighted per-sequence Grams at the full fit's rank;
//! 2. chooses the three sets again by [`sentiment::choose`] on the redrawn batch (each review's
//!    last state repeated as often as it was drawn) and the refit's own spectrum;
//! 3. scores them on the redrawn analysis batch and on a redrawn held-out batch (bootstrap
//!    weights over its reviews, the next draw of the same stream).
//!
//! Reported per role: percentile intervals of the shares of positive and negative readouts and
//! of the agreement with the network, how often the role found a set at all (the negative set
//! can be missing), and how often the replicate chose the *same* set as the full batch (its
//! eigenvalues each within [`SAME_SET_RADIUS`] of the full choice's, one to one).

use anyhow::{Result, bail};
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::resample::draw_weights;
use kann_koopman::{FitOptions, Rank, Scheme, SequenceGrams, Spectrum};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::readout::LinearReadout;
use super::sentiment::{self, SentimentChoice, SetReadout};
use super::word_stats::readout_contribution_direction;
use crate::intervals::{Resampling, percentile_ci};
use crate::kann::Fit;

/// A replicate's set is "the same" as the full batch's when their eigenvalues pair up one to
/// one within this distance (the spectrum intervals' match radius).
pub const SAME_SET_RADIUS: f64 = 0.05;

/// The three roles of the readout test, in report order.
pub const ROLES: [&str; 3] = ["positive", "negative", "tracking"];

/// Percentile intervals of one set's readout test on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadoutCi {
    /// Share of reviews whose projected readout is positive.
    pub share_positive: [f64; 2],
    /// Share of reviews whose projected readout is negative.
    pub share_negative: [f64; 2],
    /// Share of reviews whose projected readout's class is the network's.
    pub agreement_with_network: [f64; 2],
}

/// The intervals of one role (positive, negative or tracking set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleIntervals {
    /// `"positive"`, `"negative"` or `"tracking"`.
    pub role: String,
    /// Share of the replicates in which the rule found a set for this role.
    pub found: f64,
    /// Share of the replicates that chose the full batch's set (eigenvalues within
    /// [`SAME_SET_RADIUS`]).
    pub same_set: f64,
    /// On the (redrawn) analysis batch; `None` if no replicate found a set.
    pub analysis: Option<ReadoutCi>,
    /// On the (redrawn) held-out batch; `None` without a held-out batch or a set.
    pub held_out: Option<ReadoutCi>,
}

/// `sentiment.intervals` of `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentIntervals {
    /// Scheme, replicates (and failed ones), level and seed (flattened into the JSON object).
    #[serde(flatten)]
    pub resampling: Resampling,
    /// What each replicate redoes.
    pub rule: String,
    /// Per role, in [`ROLES`] order.
    pub roles: Vec<RoleIntervals>,
}

impl SentimentIntervals {
    /// The intervals of `role`.
    pub fn role(&self, role: &str) -> Option<&RoleIntervals> {
        self.roles.iter().find(|r| r.role == role)
    }
}

/// What the rule of [`readout_intervals`] redoes, for the report.
pub const RULE: &str = "each replicate redraws the analysis batch's reviews (bootstrap), refits \
    the operator from the reweighted per-sequence Grams at the full fit's rank, chooses the \
    positive, negative and tracking sets again on the redrawn batch, and scores them on it and \
    on a redrawn held-out batch: the intervals include the choice";

/// One batch the readout test is scored on: last states (`s × k`) and the network's logits.
pub struct ScoredBatch<'a> {
    /// Each review's last state.
    pub h_last: MatRef<'a, f64>,
    /// The network's logit of each review.
    pub net: &'a [f64],
}

/// One replicate's readout tests: per role, on the analysis and the held-out batch, and whether
/// its set is the full batch's.
type ReplicateTests = [Option<(SetReadout, Option<SetReadout>, bool)>; 3];

/// What [`readout_intervals`] returns: the intervals, and each successful replicate's
/// readout-contribution direction of its own tracking set (`d_S`,
/// [`super::word_stats::readout_contribution_direction`]), from which the Fig. 1 shading's
/// stability is read ([`stable_signs`]).
pub struct ReadoutReplicates {
    /// The intervals (`report.json`).
    pub intervals: SentimentIntervals,
    /// One `k`-vector per successful replicate.
    pub tracking_directions: Vec<Vec<f64>>,
}

/// The bootstrap intervals of the readout test (module doc): `replicates` refits from `grams`
/// (the analysis batch's per-sequence Grams, in the batch's order) at `fit`'s rank.
pub fn readout_intervals(
    grams: &SequenceGrams,
    fit: &Fit,
    choice: &SentimentChoice,
    readout: &LinearReadout,
    (analysis, held_out): (&ScoredBatch<'_>, Option<&ScoredBatch<'_>>),
    replicates: usize,
    seed: u64,
) -> Result<ReadoutReplicates> {
    let s = grams.num_sequences();
    if replicates == 0 || s != analysis.h_last.nrows() {
        bail!(
            "readout intervals need at least one replicate and one Gram per analysis review ({} Grams, {} reviews)",
            s,
            analysis.h_last.nrows()
        );
    }
    let options = FitOptions {
        rank: Rank::Fixed(fit.model.rank()),
        ..FitOptions::default()
    };
    let full_sets = [
        Some(choice.positive_set()),
        choice.negative.map(|_| choice.negative_set()),
        Some(choice.tracking_set()),
    ]
    .map(|set| set.map(|set| crate::kann::set_eigenvalues(&fit.spectrum, &set)));
    let draws: Vec<Option<(ReplicateTests, Vec<f64>)>> = (0..replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(b as u64);
            let w_batch = draw_weights(Scheme::Bootstrap, s, &mut rng);
            let w_held = held_out.map(|h| draw_weights(Scheme::Bootstrap, h.net.len(), &mut rng));
            let model = grams.fit_weighted(&w_batch, &options).ok()?;
            let spectrum = Spectrum::new(&model).ok()?;
            let refit = Fit { model, spectrum };
            let a = redraw(analysis, &w_batch);
            let h = held_out.zip(w_held.as_ref()).map(|(h, w)| redraw(h, w));
            replicate(&refit, readout, &a, h.as_ref(), &full_sets)
                .ok()
                .map(|(tests, tracking)| {
                    let d = readout_contribution_direction(&refit, &tracking, &readout.w);
                    (tests, d)
                })
        })
        .collect();
    let (ok, tracking_directions): (Vec<ReplicateTests>, Vec<Vec<f64>>) =
        draws.into_iter().flatten().unzip();
    if ok.is_empty() {
        bail!("readout intervals: every one of the {replicates} refits failed");
    }
    let roles = ROLES
        .iter()
        .enumerate()
        .map(|(i, role)| role_intervals(role, ok.iter().map(|r| r[i].as_ref()), ok.len()))
        .collect();
    let intervals = SentimentIntervals {
        resampling: Resampling::bootstrap(replicates, ok.len(), seed),
        rule: RULE.to_string(),
        roles,
    };
    Ok(ReadoutReplicates {
        intervals,
        tracking_directions,
    })
}

/// Share of replicates in which the per-piece change of a review's tracking contribution,
/// `Δ_t (h_t · d_b)`, has the sign of the full fit's change `full_change[t]` (0 at `t = 0`);
/// `rows` are the review's states `h_t` (`n × k`), `directions` the replicates' `d_b`.
pub fn stable_signs(
    rows: MatRef<'_, f64>,
    full_change: &[f64],
    directions: &[Vec<f64>],
) -> Vec<f64> {
    let n = rows.nrows();
    let mut agree = vec![0usize; n];
    for d in directions {
        let c: Vec<f64> = (0..n)
            .map(|t| (0..d.len()).map(|j| rows[(t, j)] * d[j]).sum())
            .collect();
        for t in 1..n {
            let full = full_change[t];
            if full != 0.0 && (c[t] - c[t - 1]).signum() == full.signum() {
                agree[t] += 1;
            }
        }
    }
    agree
        .iter()
        .map(|&a| a as f64 / directions.len().max(1) as f64)
        .collect()
}

/// A batch with each review repeated as often as `weights` (whole counts) say.
fn redraw(batch: &ScoredBatch<'_>, weights: &[f64]) -> (Mat<f64>, Vec<f64>) {
    let rows: Vec<usize> = weights
        .iter()
        .enumerate()
        .flat_map(|(i, &w)| std::iter::repeat_n(i, w.round() as usize))
        .collect();
    let h = Mat::<f64>::from_fn(rows.len(), batch.h_last.ncols(), |r, j| {
        batch.h_last[(rows[r], j)]
    });
    (h, rows.iter().map(|&i| batch.net[i]).collect())
}

/// One replicate: the choice on the redrawn analysis batch `a`, each role's readout test on `a`
/// and on the redrawn held-out batch `h`, and whether the role's set is the full batch's.
fn replicate(
    refit: &Fit,
    readout: &LinearReadout,
    a: &(Mat<f64>, Vec<f64>),
    h: Option<&(Mat<f64>, Vec<f64>)>,
    full_sets: &[Option<Vec<(f64, f64)>>; 3],
) -> Result<(ReplicateTests, Vec<usize>)> {
    let choice = sentiment::choose(refit, a.0.as_ref(), readout, &a.1)?;
    let sets = [
        Some(choice.positive_set()),
        choice.negative.map(|_| choice.negative_set()),
        Some(choice.tracking_set()),
    ];
    let mut out: ReplicateTests = [None, None, None];
    for (i, set) in sets.iter().enumerate() {
        let Some(set) = set else { continue };
        let on_a = sentiment::readout_test(refit, a.0.as_ref(), readout, &a.1, set)?;
        let on_h = match h {
            Some(h) => Some(sentiment::readout_test(
                refit,
                h.0.as_ref(),
                readout,
                &h.1,
                set,
            )?),
            None => None,
        };
        let same = full_sets[i]
            .as_ref()
            .is_some_and(|full| same_set(full, &on_a.eigenvalues));
        out[i] = Some((on_a, on_h, same));
    }
    Ok((out, choice.tracking_set()))
}

/// Whether two sets of eigenvalues pair up one to one within [`SAME_SET_RADIUS`].
pub fn same_set(full: &[(f64, f64)], other: &[(f64, f64)]) -> bool {
    if full.len() != other.len() {
        return false;
    }
    let mut used = vec![false; other.len()];
    full.iter().all(|&(re, im)| {
        let nearest = (0..other.len())
            .filter(|&j| !used[j])
            .map(|j| (j, (other[j].0 - re).hypot(other[j].1 - im)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((j, d)) if d <= SAME_SET_RADIUS => {
                used[j] = true;
                true
            }
            _ => false,
        }
    })
}

/// The intervals of one role over the `n` successful replicates' tests `tests`.
fn role_intervals<'a>(
    role: &str,
    tests: impl Iterator<Item = Option<&'a (SetReadout, Option<SetReadout>, bool)>>,
    n: usize,
) -> RoleIntervals {
    let found: Vec<&(SetReadout, Option<SetReadout>, bool)> = tests.flatten().collect();
    let ci = |tests: Vec<&SetReadout>| {
        (!tests.is_empty()).then(|| ReadoutCi {
            share_positive: percentile_ci(tests.iter().map(|t| t.share_positive).collect()),
            share_negative: percentile_ci(tests.iter().map(|t| t.share_negative).collect()),
            agreement_with_network: percentile_ci(
                tests.iter().map(|t| t.agreement_with_network).collect(),
            ),
        })
    };
    RoleIntervals {
        role: role.to_string(),
        found: found.len() as f64 / n as f64,
        same_set: found.iter().filter(|t| t.2).count() as f64 / n as f64,
        analysis: ci(found.iter().map(|t| &t.0).collect()),
        held_out: ci(found.iter().filter_map(|t| t.1.as_ref()).collect()),
    }
}

/// The intervals in one line for `report.md`.
pub fn line(ci: &SentimentIntervals) -> String {
    let pct = |v: [f64; 2]| format!("[{:.1}%, {:.1}%]", 100.0 * v[0], 100.0 * v[1]);
    let parts: Vec<String> = ci
        .roles
        .iter()
        .map(|r| {
            let stat = |c: &ReadoutCi| match r.role.as_str() {
                "positive" => format!("positive share {}", pct(c.share_positive)),
                "negative" => format!("negative share {}", pct(c.share_negative)),
                _ => format!("agreement {}", pct(c.agreement_with_network)),
            };
            format!(
                "{} set: analysis {}, held-out {} (same set chosen in {:.0}% of replicates, a set found in {:.0}%)",
                r.role,
                r.analysis.as_ref().map_or("–".into(), stat),
                r.held_out.as_ref().map_or("–".into(), stat),
                100.0 * r.same_set,
                100.0 * r.found
            )
        })
        .collect();
    format!(
        "{:.0}% bootstrap intervals, {} replicates ({} failed), the sets chosen again in each: {}.",
        100.0 * ci.resampling.level,
        ci.resampling.replicates,
        ci.resampling.failed,
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::States;

    #[test]
    fn same_set_pairs_eigenvalues_one_to_one() {
        let pair = [(0.9, 0.1), (0.9, -0.1)];
        assert!(same_set(&pair, &[(0.91, -0.1), (0.9, 0.11)]));
        assert!(
            !same_set(&pair, &[(0.9, 0.1), (0.9, 0.1)]),
            "one match used twice"
        );
        assert!(!same_set(&pair, &[(0.9, 0.1)]));
        assert!(!same_set(&[(1.0, 0.0)], &[(0.9, 0.0)]));
    }

    /// A 3-D system whose λ = 1 axis carries each review's sign (as in `sentiment::tests`).
    fn system(s: usize) -> States {
        let n = 30;
        let mut data = Vec::new();
        for i in 0..s {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            let mut h = [
                sign * (1.0 + 0.1 * (i % 5) as f64),
                1.0 + 0.05 * i as f64,
                0.3 - 0.02 * (i % 3) as f64,
            ];
            for _ in 0..n {
                data.extend_from_slice(&h);
                let (a, b) = (h[1], h[2]);
                h = [h[0], 0.9 * (0.8 * a - 0.6 * b), 0.9 * (0.6 * a + 0.8 * b)];
            }
        }
        States::from_f64(data, s, n, 3).unwrap()
    }

    #[test]
    fn a_planted_sentiment_axis_is_chosen_in_every_replicate_and_seeded() {
        let states = system(24);
        let f = crate::kann::fit(&states, Some(3)).unwrap();
        let h_last = Mat::<f64>::from_fn(24, 3, |i, j| states.state(i, 29)[j]);
        let g = LinearReadout {
            w: vec![2.0, 0.1, 0.1],
            b: -0.05,
        };
        let net = g.logits(h_last.as_ref());
        let choice = sentiment::choose(&f, h_last.as_ref(), &g, &net).unwrap();
        let grams = SequenceGrams::from_states(&states, f.model.precision).unwrap();
        let batch = ScoredBatch {
            h_last: h_last.as_ref(),
            net: &net,
        };
        let run = |seed| {
            readout_intervals(&grams, &f, &choice, &g, (&batch, Some(&batch)), 40, seed).unwrap()
        };
        let reps = run(3);
        let ci = reps.intervals;
        assert_eq!(ci, run(3).intervals, "seeded");
        assert_eq!(reps.tracking_directions.len(), 40);
        // the shading of a review by the tracking set (the λ = 1 axis: constant along a review,
        // so every change is ~0) — use a review whose states move along axis 0 instead
        let rows = Mat::<f64>::from_fn(
            4,
            3,
            |t, j| if j == 0 { [0.0, 1.0, 0.5, 2.0][t] } else { 0.0 },
        );
        let d = readout_contribution_direction(&f, &choice.tracking_set(), &g.w);
        let full: Vec<f64> = (0..4)
            .map(|t| {
                if t == 0 {
                    0.0
                } else {
                    (rows[(t, 0)] - rows[(t - 1, 0)]) * d[0]
                }
            })
            .collect();
        let stable = stable_signs(rows.as_ref(), &full, &reps.tracking_directions);
        assert_eq!(stable, vec![0.0, 1.0, 1.0, 1.0]);
        assert_eq!(ci.resampling.failed, 0);
        let tracking = ci.role("tracking").unwrap();
        // the λ = 1 axis reads out the network's class on every review, in every replicate
        assert_eq!(tracking.found, 1.0);
        assert_eq!(tracking.same_set, 1.0);
        assert_eq!(
            tracking.held_out.as_ref().unwrap().agreement_with_network,
            [1.0, 1.0]
        );
        let a = tracking.analysis.as_ref().unwrap();
        assert!(a.share_positive[0] <= a.share_positive[1]);
        assert!(line(&ci).contains("tracking set: analysis agreement [100.0%, 100.0%]"));
    }

    #[test]
    fn redraw_repeats_rows_by_their_counts() {
        let h = Mat::<f64>::from_fn(3, 2, |i, j| (10 * i + j) as f64);
        let net = [1.0, 2.0, 3.0];
        let b = ScoredBatch {
            h_last: h.as_ref(),
            net: &net,
        };
        let (m, z) = redraw(&b, &[2.0, 0.0, 1.0]);
        assert_eq!(z, vec![1.0, 1.0, 3.0]);
        assert_eq!(m[(2, 1)], 21.0);
        assert_eq!(m.nrows(), 3);
    }
}
