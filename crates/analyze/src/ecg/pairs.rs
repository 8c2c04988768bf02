//! Stage "pairs": which sets of eigenvectors Fig. 2 reconstructs through.
//!
//! The eigenvectors are ranked by dominance (the reference's mean over the batch of
//! `Σ_t |H~ V_j|`, from Eq. 10). Two pairing rules turn the ranking into "pairs":
//!
//! - [`PairingRule::Conjugate`] (default): the most dominant conjugate pairs `{j, j̄}`; real
//!   eigenvectors are skipped (used alone only if there are too few pairs). `V_J U_J` is real.
//! - [`PairingRule::ConsecutiveRanks`]: the authors' code, ranks (1,2), (3,4), ... grouped
//!   without checking that they are conjugate. A real eigenvalue among the top ranks shifts every
//!   later group, which then mixes eigenvectors of different eigenvalues: `V_J U_J` is complex.

use anyhow::{Result, bail};
use kann_koopman::{Spectrum, pair_product_imaginary_share};
use serde::{Deserialize, Serialize};

/// How dominance ranks are grouped into the sets of Fig. 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PairingRule {
    /// The most dominant conjugate pairs (checked with the spectrum).
    #[default]
    Conjugate,
    /// Consecutive dominance ranks, unchecked (the authors' notebook).
    ConsecutiveRanks,
}

impl std::fmt::Display for PairingRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PairingRule::Conjugate => "conjugate",
            PairingRule::ConsecutiveRanks => "consecutive-ranks",
        })
    }
}

/// One set of eigenvectors of Fig. 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DominantSet {
    /// Eigenvector indices, 0-based, ascending.
    pub set: Vec<usize>,
    /// Dominance ranks of its members, 1-based.
    pub ranks: Vec<usize>,
    /// Dominance score of its most dominant member.
    pub dominance: f64,
    /// True if the set is a conjugate pair (or a real eigenvector alone): closed under
    /// conjugation, so `V_J U_J` is real.
    pub conjugate: bool,
    /// `‖Im(V_J U_J)‖ / ‖V_J U_J‖`: 0 for a conjugate set.
    pub imaginary_share: f64,
}

/// The `count` most dominant sets of `spectrum` under `rule`, from the dominance `ranking`
/// (`(index, score)`, most dominant first), and warnings.
pub fn dominant_sets(
    spectrum: &Spectrum,
    ranking: &[(usize, f64)],
    rule: PairingRule,
    count: usize,
) -> Result<(Vec<DominantSet>, Vec<String>)> {
    if ranking.len() != spectrum.len() {
        bail!(
            "dominance ranking has {} entries, the spectrum {}",
            ranking.len(),
            spectrum.len()
        );
    }
    let ranked = Ranked { spectrum, ranking };
    match rule {
        PairingRule::Conjugate => ranked.conjugate_pairs(count),
        PairingRule::ConsecutiveRanks => ranked.consecutive_ranks(count),
    }
}

/// A spectrum with its dominance ranking (`(index, score)`, most dominant first).
struct Ranked<'a> {
    /// The spectrum.
    spectrum: &'a Spectrum,
    /// The ranking.
    ranking: &'a [(usize, f64)],
}

impl Ranked<'_> {
    /// The 1-based dominance rank of eigenvector `j` (0 if unranked).
    fn rank_of(&self, j: usize) -> usize {
        self.ranking
            .iter()
            .position(|&(i, _)| i == j)
            .map_or(0, |p| p + 1)
    }

    /// The set of `members`: sorted, its ranks, its dominance (its most dominant member's
    /// score), whether it is closed under conjugation and the imaginary share of `V_J U_J`.
    fn set(&self, members: Vec<usize>) -> Result<DominantSet> {
        let mut set = members.clone();
        set.sort_unstable();
        set.dedup();
        let closed = set
            .iter()
            .all(|&j| self.spectrum.partner(j).is_none_or(|p| set.contains(&p)));
        let dominance = members
            .iter()
            .map(|&j| self.ranking[self.rank_of(j) - 1].1)
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(DominantSet {
            ranks: set.iter().map(|&j| self.rank_of(j)).collect(),
            imaginary_share: pair_product_imaginary_share(self.spectrum, &set)?,
            conjugate: closed,
            dominance,
            set,
        })
    }

    /// [`PairingRule::Conjugate`]: the conjugate pairs by their most dominant member, filled
    /// with the most dominant real eigenvectors (with a warning) if there are fewer than `count`.
    fn conjugate_pairs(&self, count: usize) -> Result<(Vec<DominantSet>, Vec<String>)> {
        let mut out: Vec<DominantSet> = Vec::new();
        let mut warnings = Vec::new();
        for &(j, _) in self.ranking {
            if out.len() == count {
                break;
            }
            if let Some(p) = self.spectrum.partner(j) {
                let set = vec![j.min(p), j.max(p)];
                if !out.iter().any(|s| s.set == set) {
                    out.push(self.set(set)?);
                }
            }
        }
        if out.len() < count {
            warnings.push(format!(
                "only {} conjugate pairs in the spectrum: Fig. 2 is filled with the most dominant real eigenvectors",
                out.len()
            ));
            for &(j, _) in self.ranking {
                if out.len() == count {
                    break;
                }
                if self.spectrum.partner(j).is_none() {
                    out.push(self.set(vec![j])?);
                }
            }
        }
        Ok((out, warnings))
    }

    /// [`PairingRule::ConsecutiveRanks`]: ranks 1-2, 3-4, …, with a warning for the sets that
    /// are not conjugate pairs.
    fn consecutive_ranks(&self, count: usize) -> Result<(Vec<DominantSet>, Vec<String>)> {
        let mut out: Vec<DominantSet> = Vec::new();
        let mut warnings = Vec::new();
        for chunk in self.ranking.chunks(2).take(count) {
            out.push(self.set(chunk.iter().map(|&(j, _)| j).collect())?);
        }
        let mixed = out.iter().filter(|s| !s.conjugate).count();
        if mixed > 0 {
            warnings.push(format!(
                "consecutive-ranks pairing: {mixed} of {} sets are not conjugate pairs (V_J U_J complex; Eq. 11 takes its modulus, the sign-invariant reconstruction its real part)",
                out.len()
            ));
        }
        Ok((out, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kann_koopman::faer::{Mat, c64};

    /// A spectrum with eigenvalues `pair(0,1), real(2), pair(3,4), pair(5,6)` and the identity as
    /// eigenvectors (only `partner` and `V U` matter here).
    fn spectrum() -> Spectrum {
        let eigenvalues = vec![
            c64::new(0.9, 0.3),
            c64::new(0.9, -0.3),
            c64::new(0.92, 0.0),
            c64::new(0.5, 0.5),
            c64::new(0.5, -0.5),
            c64::new(0.1, 0.6),
            c64::new(0.1, -0.6),
        ];
        let r = eigenvalues.len();
        // Eigenvectors: conjugate columns for the pairs (e_a ± i e_b)/√2, e_c for the real one.
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let mut v = Mat::<c64>::zeros(r, r);
        for (a, b) in [(0, 1), (3, 4), (5, 6)] {
            v[(a, a)] = c64::new(s, 0.0);
            v[(b, a)] = c64::new(0.0, s);
            v[(a, b)] = c64::new(s, 0.0);
            v[(b, b)] = c64::new(0.0, -s);
        }
        v[(2, 2)] = c64::new(1.0, 0.0);
        use kann_koopman::faer::linalg::solvers::Solve;
        let u = v
            .partial_piv_lu()
            .solve(Mat::<c64>::identity(r, r).as_ref());
        Spectrum {
            eigenvalues,
            v,
            u,
            v_condition: 1.0,
            residuals: vec![0.0; r],
        }
    }

    /// Dominance: pair (0,1) first, then the real eigenvector 2 between the pairs, then (3,4),
    /// then (5,6) (conjugate members tie, as they do in `dominance`).
    fn ranking() -> Vec<(usize, f64)> {
        vec![
            (0, 9.0),
            (1, 9.0),
            (2, 8.0),
            (3, 7.0),
            (4, 7.0),
            (5, 6.0),
            (6, 6.0),
        ]
    }

    #[test]
    fn conjugate_rule_skips_the_real_eigenvalue_between_pairs() {
        let (sets, warnings) =
            dominant_sets(&spectrum(), &ranking(), PairingRule::Conjugate, 3).unwrap();
        let got: Vec<Vec<usize>> = sets.iter().map(|s| s.set.clone()).collect();
        assert_eq!(got, vec![vec![0, 1], vec![3, 4], vec![5, 6]]);
        assert!(
            sets.iter()
                .all(|s| s.conjugate && s.imaginary_share < 1e-12)
        );
        assert_eq!(sets[1].ranks, vec![4, 5]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn consecutive_ranks_mix_the_real_eigenvalue_into_a_pair() {
        let (sets, warnings) =
            dominant_sets(&spectrum(), &ranking(), PairingRule::ConsecutiveRanks, 3).unwrap();
        let got: Vec<Vec<usize>> = sets.iter().map(|s| s.set.clone()).collect();
        // Ranks (1,2), (3,4), (5,6): the real eigenvector 2 with 3, then 4 with 5.
        assert_eq!(got, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
        assert!(sets[0].conjugate);
        assert!(!sets[1].conjugate && !sets[2].conjugate);
        assert!(sets[1].imaginary_share > 0.1 && sets[2].imaginary_share > 0.1);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn too_few_pairs_fill_with_real_eigenvectors() {
        let (sets, warnings) =
            dominant_sets(&spectrum(), &ranking(), PairingRule::Conjugate, 4).unwrap();
        assert_eq!(sets.len(), 4);
        assert_eq!(sets[3].set, vec![2]);
        assert!(sets[3].conjugate);
        assert_eq!(warnings.len(), 1);
        assert!(dominant_sets(&spectrum(), &ranking()[..3], PairingRule::Conjugate, 4).is_err());
    }
}
