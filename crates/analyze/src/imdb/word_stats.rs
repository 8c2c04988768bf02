//! App. A, quantitatively: for each tracked eigen-group and each reference direction, how well
//! the mean per-word change over the test set follows the word's polarity (Spearman over words),
//! and which words move it most (see [`super::words`] for the definitions).
//!
//! Two statistics per eigen-group `S`:
//! - **magnitude** (the paper's Eq. 10): the change of `m_S(h) = Σ_{j∈S} |h B v_j|`. A modulus
//!   has no sign: if the projection changes sign within reviews, a positive word can *lower* it;
//! - **readout contribution**: the change of `G`'s input along the set,
//!   `w · P_S(h)` with `P_S(h) = Re(h B V_S U_S) Bᵀ` — a linear, signed quantity: how much of the
//!   logit's change at the word passes through `S`.
//!
//! References: the readout weights `w` (the network's own direction), random directions (chance)
//! and a cross-validated ridge direction (how much polarity any linear read of `Δh` holds).

use kann_koopman::faer::c64;
use serde::{Deserialize, Serialize};

use super::readout::LinearReadout;
use super::words::{
    ChannelStats, CvDirection, PolarityLexicon, RandomDirections, WordMeans, along,
    channel_stats_with_top, cross_validated_direction, random_directions, scored_words,
    spearman_interval,
};
use crate::kann::{Fit, set_name};

/// Test occurrences a word needs to enter the top-word lists.
pub const TOP_MIN_COUNT: usize = 100;

/// The word statistics of one eigen-group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupWordStats {
    /// The group, 1-based.
    pub set: Vec<usize>,
    /// Its eigenvalues `(re, im)`.
    pub eigenvalues: Vec<(f64, f64)>,
    /// Change of the projection magnitude (Eq. 10).
    pub magnitude: ChannelStats,
    /// Change of the group's contribution to the readout's input.
    pub readout_contribution: ChannelStats,
    /// Spearman of the magnitude's mean change with the polarity's *strength* `|ρ(w)|`: a
    /// modulus cannot tell "great" from "awful", but can grow at both.
    pub magnitude_vs_strength: f64,
}

impl GroupWordStats {
    /// 0-based indices of the group's eigenvectors.
    pub fn indices(&self) -> Vec<usize> {
        self.set.iter().map(|j| j - 1).collect()
    }
}

/// Settings and results of the word statistics (`report.json` field `word_stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordStatsReport {
    /// How the polarity was built.
    pub polarity: String,
    /// Training reviews the polarity was counted on.
    pub training_reviews: usize,
    /// A word enters the lexicon when seen at least this many times in the training reviews.
    pub min_train_count: usize,
    /// A word is scored when seen at least this many times (not as a review's first word) in
    /// the test reviews.
    pub min_test_count: usize,
    /// Words in the lexicon.
    pub lexicon_words: usize,
    /// Words scored.
    pub words_scored: usize,
    /// The top-word lists take words seen at least this many times in the test reviews (the
    /// mean change of a rarer word is mostly noise).
    pub top_min_count: usize,
    /// Test occurrences of lexicon words counted.
    pub occurrences: usize,
    /// Per tracked eigen-group.
    pub groups: Vec<GroupWordStats>,
    /// Index into `groups` of the largest `|ρ|` of the magnitude statistic.
    pub best_group_magnitude: Option<usize>,
    /// Index into `groups` of the largest `|ρ|` of the readout-contribution statistic.
    pub best_group_readout: Option<usize>,
    /// The readout weights as a direction.
    pub readout_direction: ChannelStats,
    /// Random directions in state space.
    pub random_directions: RandomDirections,
    /// The cross-validated best linear direction.
    pub cv_linear_direction: CvDirection,
}

/// `P_S` applied to the readout: the direction `d_S = B Re(V_S U_S) Bᵀ w` whose dot product with
/// a state is the set's contribution `w · P_S(h)`.
pub fn readout_contribution_direction(fit: &Fit, set: &[usize], w: &[f64]) -> Vec<f64> {
    let b = &fit.model.basis;
    let (k, r) = (b.nrows(), b.ncols());
    let y: Vec<f64> = (0..r)
        .map(|c| (0..k).map(|i| b[(i, c)] * w[i]).sum())
        .collect();
    let (v, u) = (&fit.spectrum.v, &fit.spectrum.u);
    let mut z = vec![0.0; r];
    for &j in set {
        let uy: c64 = (0..r).map(|c| u[(j, c)] * c64::new(y[c], 0.0)).sum();
        for (i, zi) in z.iter_mut().enumerate() {
            *zi += (v[(i, j)] * uy).re;
        }
    }
    (0..k)
        .map(|i| (0..r).map(|c| b[(i, c)] * z[c]).sum())
        .collect()
}

/// Index of the largest `|ρ|`.
fn best(stats: &[&ChannelStats]) -> Option<usize> {
    (0..stats.len()).max_by(|&a, &b| stats[a].spearman.abs().total_cmp(&stats[b].spearman.abs()))
}

/// Scores the tracked `groups` (0-based) and the reference directions.
#[allow(clippy::too_many_arguments)]
pub fn word_stats(
    means: &WordMeans,
    lexicon: &PolarityLexicon,
    training_reviews: usize,
    min_test_count: usize,
    fit: &Fit,
    groups: &[Vec<usize>],
    readout: &LinearReadout,
    seed: u64,
    bootstrap: usize,
) -> WordStatsReport {
    let scored = scored_words(means, min_test_count);
    // Top words from the frequent words, unless too few are frequent (small data).
    let mut top_min_count = TOP_MIN_COUNT.max(min_test_count);
    let mut pool = scored_words(means, top_min_count);
    if pool.len() < 4 * super::words::TOP_WORDS {
        top_min_count = min_test_count;
        pool = scored.clone();
    }
    let words = ScoredWords {
        means,
        lexicon,
        scored: &scored,
        pool: &pool,
        bootstrap,
        seed,
    };
    let groups: Vec<GroupWordStats> = groups
        .iter()
        .enumerate()
        .map(|(g, set)| words.group(g, set, fit, readout))
        .collect();
    let mags: Vec<&ChannelStats> = groups.iter().map(|g| &g.magnitude).collect();
    let rcs: Vec<&ChannelStats> = groups.iter().map(|g| &g.readout_contribution).collect();
    WordStatsReport {
        polarity: format!(
            "smoothed log-odds (alpha = {}) of a word in positive vs negative training reviews",
            super::words::POLARITY_SMOOTHING
        ),
        training_reviews,
        min_train_count: lexicon.min_count,
        min_test_count,
        lexicon_words: lexicon.len(),
        words_scored: scored.len(),
        top_min_count,
        occurrences: means.occurrences,
        best_group_magnitude: best(&mags),
        best_group_readout: best(&rcs),
        readout_direction: words.channel(
            "readout",
            "change of w . h (the readout weights)",
            &along(means.delta_mean.as_ref(), &readout.w),
        ),
        random_directions: random_directions(means, &scored, lexicon, 100, seed),
        cv_linear_direction: cross_validated_direction(means, &scored, lexicon, 5, seed),
        groups,
    }
}

/// The words a channel is scored on: the per-word means over the test split, the polarity
/// lexicon, the words seen often enough (`scored`) and those the top words come from (`pool`).
struct ScoredWords<'a> {
    /// Per-word mean changes.
    means: &'a WordMeans,
    /// Word polarity from the training labels.
    lexicon: &'a PolarityLexicon,
    /// Words with at least `min_test_count` test occurrences.
    scored: &'a [usize],
    /// Words the top words are drawn from.
    pool: &'a [usize],
    /// Bootstrap replicates over words for the interval of each channel's ρ (0: none).
    bootstrap: usize,
    /// Their seed.
    seed: u64,
}

impl ScoredWords<'_> {
    /// Spearman (with its interval over words) and top words of the per-word values `value`
    /// ([`channel_stats_with_top`], [`spearman_interval`]).
    fn channel(&self, name: &str, kind: &str, value: &[f64]) -> ChannelStats {
        let mut c = channel_stats_with_top(name, kind, value, self.scored, self.pool, self.lexicon);
        let x: Vec<f64> = self.scored.iter().map(|&w| value[w]).collect();
        let p: Vec<f64> = self
            .scored
            .iter()
            .map(|&w| self.lexicon.polarity[w])
            .collect();
        c.spearman_ci = spearman_interval(&x, &p, self.bootstrap, self.seed);
        c
    }

    /// The mean change of group `g`'s projection magnitude (Eq. 10) per word.
    fn column(&self, g: usize) -> Vec<f64> {
        (0..self.means.count.len())
            .map(|w| self.means.group_mean[(w, g)])
            .collect()
    }

    /// The word statistics of tracked group `g` (0-based indices `set`): its magnitude channel,
    /// its readout-contribution channel and its magnitude against polarity strength.
    fn group(&self, g: usize, set: &[usize], fit: &Fit, readout: &LinearReadout) -> GroupWordStats {
        let name = set_name(set);
        let d = readout_contribution_direction(fit, set, &readout.w);
        GroupWordStats {
            set: set.iter().map(|j| j + 1).collect(),
            eigenvalues: crate::kann::set_eigenvalues(&fit.spectrum, set),
            magnitude_vs_strength: {
                let m = self.column(g);
                let x: Vec<f64> = self.scored.iter().map(|&w| m[w]).collect();
                let p: Vec<f64> = self
                    .scored
                    .iter()
                    .map(|&w| self.lexicon.polarity[w].abs())
                    .collect();
                super::words::spearman(&x, &p)
            },
            magnitude: self.channel(
                &name,
                "change of the projection magnitude (Eq. 10)",
                &self.column(g),
            ),
            readout_contribution: self.channel(
                &name,
                "change of the set's contribution to the readout input, w . P_S(h)",
                &along(self.means.delta_mean.as_ref(), &d),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::States;

    #[test]
    fn contribution_directions_of_all_eigenvectors_sum_to_the_projected_readout() {
        // With the full spectrum, Σ_S P_S = B Bᵀ, so the directions sum to B Bᵀ w.
        let (s, n) = (6, 12);
        let mut data = Vec::new();
        for i in 0..s {
            let mut h = [1.0 + i as f64, 0.5, -0.3 * i as f64];
            for _ in 0..n {
                data.extend_from_slice(&h);
                h = [
                    0.9 * h[0] - 0.2 * h[1],
                    0.2 * h[0] + 0.9 * h[1],
                    0.5 * h[2] + 0.1 * h[0],
                ];
            }
        }
        let states = States::from_f64(data, s, n, 3).unwrap();
        let fit = crate::kann::fit(&states, Some(3)).unwrap();
        let w = [0.3, -1.0, 2.0];
        let mut sum = [0.0; 3];
        for g in fit.spectrum.groups() {
            for (a, b) in sum
                .iter_mut()
                .zip(readout_contribution_direction(&fit, &g, &w))
            {
                *a += b;
            }
        }
        for i in 0..3 {
            assert!((sum[i] - w[i]).abs() < 1e-9, "{sum:?}");
        }
    }
}
