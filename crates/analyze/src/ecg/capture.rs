//! Stage "k of 4 under resampling" (issue #23 item 2): how stable Fig. 2's finding is on another
//! draw of the analysis batch.
//!
//! Each replicate draws the batch's beats with replacement (bootstrap, seeded), and redoes the
//! whole of Fig. 2 on that batch ([`super::fig2::fig2_cell`]): the fit at the full fit's rank,
//! the dominance ranking, the choice of the four sets, both reconstructions' medians and the
//! feature matching. So the interval includes the choice of the sets, which is made again inside
//! every replicate. The prominence scale of the feature rule stays the full batch's beat-median
//! range (a property of the data, not of the fit).
//!
//! Reported per reconstruction: the distribution of k over the replicates (how many gave 0, 1,
//! …, 4), its percentile interval, and for each of the paper's four features the share of
//! replicates in which it is captured.

use anyhow::Result;
use kann_koopman::States;
use kann_koopman::percentile;
use kann_koopman::resample::draw_weights;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::features::{FeatureMatch, PAPER_FEATURES};
use super::fig2::{Fig2Cell, fig2_cell};
use super::network::Decoder;
use super::pairs::PairingRule;
use crate::intervals::LEVEL;

/// Replicates at most: each redoes Fig. 2 (a fit and eight decoder passes), so `--bootstrap`
/// above this is capped here.
pub const MAX_REPLICATES: usize = 100;

/// k of 4 over the replicates, for one reconstruction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureStats {
    /// k of the full batch.
    pub k: usize,
    /// Percentile interval of k over the replicates.
    pub k_ci: [usize; 2],
    /// `k_counts[j]`: replicates that captured `j` features (`j = 0..=4`).
    pub k_counts: Vec<usize>,
    /// Per paper feature (in the paper's order): its name and the share of replicates that
    /// captured it.
    pub features: Vec<(String, f64)>,
}

/// Fig. 2's k of 4 under resampling of the analysis batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureIntervals {
    /// Resampling scheme (`bootstrap`: the batch's beats drawn with replacement).
    pub scheme: String,
    /// Replicates drawn.
    pub replicates: usize,
    /// Replicates whose fit or decoding failed (left out).
    pub failed: usize,
    /// Interval level.
    pub level: f64,
    /// Seed of the draws.
    pub seed: u64,
    /// Beats in the batch.
    pub batch: usize,
    /// Pairing rule of the sets.
    pub pairing: PairingRule,
    /// Eq. 11 with the modulus (canonical signs of `B`).
    pub modulus: CaptureStats,
    /// The sign-invariant reconstruction.
    pub sign_invariant: CaptureStats,
}

/// The sequences `idx` of `states` (repeats allowed), as a batch of their own.
fn select(states: &States, idx: &[usize]) -> Result<States> {
    let mut data = Vec::with_capacity(idx.len() * states.seq_len() * states.hidden());
    for &i in idx {
        data.extend_from_slice(states.sequence_slice(i));
    }
    let lengths = idx.iter().map(|&i| states.lengths()[i]).collect();
    Ok(
        States::from_f64(data, idx.len(), states.seq_len(), states.hidden())?
            .with_lengths(lengths)?,
    )
}

/// Indices of a bootstrap draw of `s` sequences (each index repeated by its weight).
fn draw(s: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let w = draw_weights(kann_koopman::Scheme::Bootstrap, s, rng);
    w.iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(i, c as usize))
        .collect()
}

fn stats(full: &FeatureMatch, reps: &[&FeatureMatch]) -> CaptureStats {
    let mut k_counts = vec![0; PAPER_FEATURES.len() + 1];
    for m in reps {
        k_counts[m.captured.min(PAPER_FEATURES.len())] += 1;
    }
    let mut ks: Vec<f64> = reps.iter().map(|m| m.captured as f64).collect();
    ks.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    let k_ci = if ks.is_empty() {
        [full.captured; 2]
    } else {
        [
            percentile(&ks, tail).floor() as usize,
            percentile(&ks, 1.0 - tail).ceil() as usize,
        ]
    };
    let n = reps.len().max(1) as f64;
    let features = PAPER_FEATURES
        .iter()
        .map(|f| {
            let hits = reps
                .iter()
                .filter(|m| m.captured_names.iter().any(|c| c == f.name))
                .count();
            (f.name.to_string(), hits as f64 / n)
        })
        .collect();
    CaptureStats {
        k: full.captured,
        k_ci,
        k_counts,
        features,
    }
}

/// Redoes Fig. 2 on `replicates` bootstrap draws of the batch `states` (see the module docs);
/// `cell` is the full batch's Fig. 2, `beat_range` its beat-median range.
pub fn capture_intervals(
    decoder: &dyn Decoder,
    states: &States,
    cell: &Fig2Cell,
    beat_range: f64,
    rule: PairingRule,
    replicates: usize,
    seed: u64,
) -> Result<CaptureIntervals> {
    let s = states.num_sequences();
    let rank = Some(cell.fit.model.rank());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cells = Vec::with_capacity(replicates);
    let mut failed = 0;
    let bar = kann_data::progress::progress_bar(replicates as u64, "  draws");
    for _ in 0..replicates {
        bar.inc(1);
        let idx = draw(s, &mut rng);
        match select(states, &idx).and_then(|b| fig2_cell(decoder, &b, beat_range, rule, rank)) {
            Ok(c) => cells.push((c.modulus_features, c.sign_invariant_features)),
            Err(_) => failed += 1,
        }
    }
    bar.finish_and_clear();
    let modulus: Vec<&FeatureMatch> = cells.iter().map(|c| &c.0).collect();
    let sign_invariant: Vec<&FeatureMatch> = cells.iter().map(|c| &c.1).collect();
    Ok(CaptureIntervals {
        scheme: "bootstrap".into(),
        replicates,
        failed,
        level: LEVEL,
        seed,
        batch: s,
        pairing: rule,
        modulus: stats(&cell.modulus_features, &modulus),
        sign_invariant: stats(&cell.sign_invariant_features, &sign_invariant),
    })
}

/// One line for the report: `k = 1 [0, 2]; min t≈3 71%, …`.
pub fn capture_line(c: &CaptureStats) -> String {
    let shares = c
        .features
        .iter()
        .map(|(name, share)| format!("{name} {:.0}%", 100.0 * share))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "k = {} [{}, {}]; captured in: {shares}",
        c.k, c.k_ci[0], c.k_ci[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecg::fig2::last_states;
    use crate::ecg::medians::{MedianCurve, tests::planted};
    use crate::kann::to_rows;

    #[test]
    fn a_planted_system_captures_every_feature_in_every_replicate() {
        let (states, dec) = planted(24, 30, 5);
        let beats = dec
            .decode(&to_rows(last_states(&states).as_ref()), 24)
            .unwrap();
        let range = MedianCurve::of(&beats, 24, 140).unwrap().range();
        let cell = fig2_cell(&dec, &states, range, PairingRule::Conjugate, Some(8)).unwrap();
        let c =
            capture_intervals(&dec, &states, &cell, range, PairingRule::Conjugate, 12, 3).unwrap();
        assert_eq!((c.replicates, c.failed, c.batch), (12, 0, 24));
        let si = &c.sign_invariant;
        assert_eq!((si.k, si.k_ci), (4, [4, 4]), "{si:?}");
        assert_eq!(si.k_counts, vec![0, 0, 0, 0, 12]);
        assert!(si.features.iter().all(|(_, share)| *share == 1.0), "{si:?}");
        // Seeded: the same draws again.
        let again =
            capture_intervals(&dec, &states, &cell, range, PairingRule::Conjugate, 12, 3).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn shares_and_the_interval_follow_the_replicates() {
        let m = |names: &[&str]| FeatureMatch {
            sets: Vec::new(),
            captured: names.len(),
            captured_names: names.iter().map(|s| s.to_string()).collect(),
        };
        let full = m(&["min t≈3"]);
        let reps = [
            m(&["min t≈3"]),
            m(&[]),
            m(&["min t≈3", "max t≈103"]),
            m(&["min t≈3"]),
        ];
        let s = stats(&full, &reps.iter().collect::<Vec<_>>());
        assert_eq!(s.k, 1);
        assert_eq!(s.k_counts, vec![1, 2, 1, 0, 0]);
        assert_eq!(s.features[0], ("min t≈3".to_string(), 0.75));
        assert_eq!(s.features[2].1, 0.25);
        assert_eq!(s.features[1].1, 0.0);
        assert!(s.k_ci[0] == 0 && s.k_ci[1] == 2, "{s:?}");
    }
}
