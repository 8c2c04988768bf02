//! Stage "features": which of the paper's four beat features each reconstructed median captures
//! (Fig. 2), found by a rule instead of by eye.
//!
//! The paper (Sec. 4.2) names four features: the minimum around `t = 3`, the segment
//! `t ∈ [35, 75]`, the maximum at `t = 103` and the lower peak at `t = 133` (1-based steps).
//! The rule:
//!
//! 1. The extremes of a median curve `μ_J(t)` are its global minimum and global maximum. An
//!    extreme counts only if it is prominent: its distance from the curve's own median level is
//!    at least [`MIN_PROMINENCE`] of the range of the beats' median `μ` (a flat curve captures
//!    nothing).
//! 2. An extreme matches a feature if it has the feature's kind (minimum / maximum; either for the
//!    segment) and lies in the feature's window widened by [`TIME_TOLERANCE`] steps on each side.
//! 3. Each set is assigned at most one feature and each feature at most one set, maximising the
//!    number of features captured (ties: the larger total prominence). `k` of 4 is that number:
//!    the features captured by distinct sets.

use serde::{Deserialize, Serialize};

/// Steps by which each feature's window is widened on both sides.
pub const TIME_TOLERANCE: usize = 5;
/// An extreme counts if `|value − median level of the curve| ≥ MIN_PROMINENCE · range(μ)`.
pub const MIN_PROMINENCE: f64 = 0.1;

/// Kind of an extreme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A minimum.
    Min,
    /// A maximum.
    Max,
}

/// One of the paper's four features of the normal beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperFeature {
    /// Short name, as in the paper.
    pub name: &'static str,
    /// Required kind; `None` = either.
    pub kind: Option<Kind>,
    /// Window `[first, last]` of 1-based steps, before the tolerance.
    pub window: (usize, usize),
}

impl PaperFeature {
    /// Whether an extreme of `kind` at 1-based step `t` matches (window widened by the tolerance).
    pub fn matches(&self, kind: Kind, t: usize) -> bool {
        let lo = self.window.0.saturating_sub(TIME_TOLERANCE);
        let hi = self.window.1 + TIME_TOLERANCE;
        self.kind.is_none_or(|k| k == kind) && (lo..=hi).contains(&t)
    }
}

/// The paper's four features (Sec. 4.2, Fig. 2), in the paper's order.
pub const PAPER_FEATURES: [PaperFeature; 4] = [
    PaperFeature {
        name: "min t≈3",
        kind: Some(Kind::Min),
        window: (3, 3),
    },
    PaperFeature {
        name: "segment t∈[35,75]",
        kind: None,
        window: (35, 75),
    },
    PaperFeature {
        name: "max t≈103",
        kind: Some(Kind::Max),
        window: (103, 103),
    },
    PaperFeature {
        name: "peak t≈133",
        kind: Some(Kind::Max),
        window: (133, 133),
    },
];

/// An extreme of a median curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Extreme {
    /// Minimum or maximum.
    pub kind: Kind,
    /// 1-based step.
    pub t: usize,
    /// The curve's value there.
    pub value: f64,
    /// `|value − median level of the curve|`.
    pub prominence: f64,
}

impl Extreme {
    /// `"min t=5"`-style label.
    pub fn label(&self) -> String {
        let k = match self.kind {
            Kind::Min => "min",
            Kind::Max => "max",
        };
        format!("{k} t={}", self.t)
    }
}

/// The global minimum and maximum of `curve` with their prominence; the more prominent first.
pub fn extremes(curve: &[f64]) -> Vec<Extreme> {
    if curve.is_empty() {
        return Vec::new();
    }
    let level = kann_koopman::median(curve);
    let (mut imin, mut imax) = (0, 0);
    for (i, &v) in curve.iter().enumerate() {
        if v < curve[imin] {
            imin = i;
        }
        if v > curve[imax] {
            imax = i;
        }
    }
    let mut out = vec![
        Extreme {
            kind: Kind::Min,
            t: imin + 1,
            value: curve[imin],
            prominence: level - curve[imin],
        },
        Extreme {
            kind: Kind::Max,
            t: imax + 1,
            value: curve[imax],
            prominence: curve[imax] - level,
        },
    ];
    out.sort_by(|a, b| b.prominence.total_cmp(&a.prominence));
    out
}

/// The features of one set's median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFeatures {
    /// Its most prominent extreme (`"min t=5"`), whatever it matches.
    pub extreme: String,
    /// 1-based step of that extreme.
    pub extreme_t: usize,
    /// Every paper feature one of its prominent extremes matches (before the one-set-per-feature
    /// assignment).
    pub captures: Vec<String>,
    /// The paper feature assigned to the set in the distinct assignment, if any.
    pub feature: Option<String>,
    /// Step of the extreme that matched it.
    pub feature_t: Option<usize>,
}

/// The matching of a list of medians against the four features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatch {
    /// Per set, in the order given.
    pub sets: Vec<SetFeatures>,
    /// Distinct features captured by distinct sets (`k` of 4).
    pub captured: usize,
    /// Names of the captured features.
    pub captured_names: Vec<String>,
}

/// Matches the medians `curves` (one per set) against [`PAPER_FEATURES`]; `beat_range` is
/// `max μ − min μ` of the beats' median (the prominence scale).
pub fn match_features(curves: &[Vec<f64>], beat_range: f64) -> FeatureMatch {
    let threshold = MIN_PROMINENCE * beat_range.abs();
    let ext: Vec<Vec<Extreme>> = curves.iter().map(|c| extremes(c)).collect();
    let cands = candidates(&ext, threshold);
    let best = assign(&cands);
    let sets: Vec<SetFeatures> = ext
        .iter()
        .zip(&best)
        .enumerate()
        .map(|(s, (es, c))| {
            let top = es.first();
            let m = c.map(|c| cands[s][c]);
            SetFeatures {
                extreme: top.map_or_else(|| "none".into(), Extreme::label),
                extreme_t: top.map_or(0, |e| e.t),
                captures: cands[s]
                    .iter()
                    .map(|(f, _)| PAPER_FEATURES[*f].name.to_string())
                    .collect(),
                feature: m.map(|(f, _)| PAPER_FEATURES[f].name.to_string()),
                feature_t: m.map(|(_, e)| e.t),
            }
        })
        .collect();
    let mut captured: Vec<usize> = best
        .iter()
        .enumerate()
        .filter_map(|(s, c)| c.map(|c| cands[s][c].0))
        .collect();
    captured.sort_unstable();
    FeatureMatch {
        captured: captured.len(),
        captured_names: captured
            .iter()
            .map(|&f| PAPER_FEATURES[f].name.to_string())
            .collect(),
        sets,
    }
}

/// The candidates of each set: `(feature index, extreme)` for every paper feature one of its
/// extremes of prominence at least `threshold` matches (the first such extreme per feature).
fn candidates(ext: &[Vec<Extreme>], threshold: f64) -> Vec<Vec<(usize, Extreme)>> {
    ext.iter()
        .map(|es| {
            let mut v = Vec::new();
            for e in es.iter().filter(|e| e.prominence >= threshold) {
                for (f, pf) in PAPER_FEATURES.iter().enumerate() {
                    if pf.matches(e.kind, e.t) && !v.iter().any(|(g, _)| *g == f) {
                        v.push((f, *e));
                    }
                }
            }
            v
        })
        .collect()
}

/// One feature per set, one set per feature: the assignment (per set, the index of its chosen
/// candidate) with the most features, ties broken by the larger summed prominence; exhaustive
/// (at most 4 candidates per set, few sets).
fn assign(cands: &[Vec<(usize, Extreme)>]) -> Vec<Option<usize>> {
    let mut best: (usize, f64, Vec<Option<usize>>) = (0, 0.0, vec![None; cands.len()]);
    let mut choice: Vec<Option<usize>> = vec![None; cands.len()];
    search(0, cands, &mut choice, &mut [false; 4], &mut best);
    best.2
}

/// The depth-first step of [`assign`]: set `i` takes no feature or each unused one in turn;
/// `best` is `(features, summed prominence, choice)` of the best complete choice so far.
fn search(
    i: usize,
    cands: &[Vec<(usize, Extreme)>],
    choice: &mut [Option<usize>],
    used: &mut [bool; 4],
    best: &mut (usize, f64, Vec<Option<usize>>),
) {
    if i == cands.len() {
        let n = choice.iter().filter(|c| c.is_some()).count();
        let p: f64 = choice
            .iter()
            .enumerate()
            .filter_map(|(s, c)| c.map(|c| cands[s][c].1.prominence))
            .sum();
        if n > best.0 || (n == best.0 && p > best.1) {
            *best = (n, p, choice.to_vec());
        }
        return;
    }
    choice[i] = None;
    search(i + 1, cands, choice, used, best);
    for (c, (f, _)) in cands[i].iter().enumerate() {
        if !used[*f] {
            used[*f] = true;
            choice[i] = Some(c);
            search(i + 1, cands, choice, used, best);
            used[*f] = false;
            choice[i] = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat curve at `base` with a Gaussian bump of height `h` at 1-based step `t0`.
    fn bump(t0: f64, h: f64) -> Vec<f64> {
        (1..=140)
            .map(|t| h * (-((t as f64 - t0) / 4.0).powi(2)).exp())
            .collect()
    }

    #[test]
    fn four_planted_features_are_all_found() {
        let curves = vec![
            bump(4.0, -3.0),  // minimum near t = 3
            bump(55.0, 1.0),  // inside the segment
            bump(101.0, 2.0), // maximum near t = 103
            bump(136.0, 0.8), // lower peak near t = 133
        ];
        let m = match_features(&curves, 5.0);
        assert_eq!(m.captured, 4, "{m:?}");
        let got: Vec<Option<&str>> = m.sets.iter().map(|s| s.feature.as_deref()).collect();
        assert_eq!(
            got,
            vec![
                Some("min t≈3"),
                Some("segment t∈[35,75]"),
                Some("max t≈103"),
                Some("peak t≈133")
            ]
        );
        assert_eq!(m.sets[0].extreme, "min t=4");
        assert_eq!(m.sets[2].feature_t, Some(101));
    }

    #[test]
    fn the_same_feature_twice_counts_once_and_misplaced_or_flat_curves_count_not() {
        let curves = vec![
            bump(5.0, -3.0),
            bump(6.0, -2.0),  // the same minimum again
            bump(90.0, 2.0),  // a maximum outside every window (98..108 is the nearest)
            bump(55.0, 0.2),  // in the segment, but below 10% of the beat range
            bump(20.0, -1.0), // a minimum between the windows
        ];
        let m = match_features(&curves, 5.0);
        assert_eq!(m.captured, 1, "{m:?}");
        assert_eq!(m.captured_names, vec!["min t≈3".to_string()]);
        assert_eq!(m.sets.iter().filter(|s| s.feature.is_some()).count(), 1);
        // Both minima capture the feature; only one set is assigned it.
        assert_eq!(m.sets[0].captures, vec!["min t≈3".to_string()]);
        assert_eq!(m.sets[1].captures, vec!["min t≈3".to_string()]);
        assert!(m.sets[2].feature.is_none() && m.sets[3].feature.is_none());
        // The window edges: 98 is inside the tolerance of t = 103, 97 is not.
        assert!(PAPER_FEATURES[2].matches(Kind::Max, 98));
        assert!(!PAPER_FEATURES[2].matches(Kind::Max, 97));
        assert!(!PAPER_FEATURES[2].matches(Kind::Min, 103));
        assert!(PAPER_FEATURES[1].matches(Kind::Min, 30));
    }

    #[test]
    fn a_curve_with_two_features_takes_the_one_nobody_else_has() {
        // Set 0 has a deep minimum at t=3 and a maximum at t=103; set 1 only the minimum.
        let mut both = bump(3.0, -3.0);
        for (a, b) in both.iter_mut().zip(bump(103.0, 2.5)) {
            *a += b;
        }
        let m = match_features(&[both, bump(4.0, -2.0)], 5.0);
        assert_eq!(m.captured, 2);
        assert_eq!(m.sets[0].feature.as_deref(), Some("max t≈103"));
        assert_eq!(m.sets[1].feature.as_deref(), Some("min t≈3"));
        assert_eq!(m.sets[0].extreme, "min t=3");
    }
}
