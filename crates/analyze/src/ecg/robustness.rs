//! Stage "robustness": Fig. 2's k-of-4 over batch sizes (20 as in the authors' notebook, 64 as
//! in the paper's text, 145 = every normal test beat) and draws of the batch, under both pairing
//! rules and both reconstructions, on the same trained model.

use anyhow::Result;
use kann_koopman::States;
use serde::{Deserialize, Serialize};

use super::fig2::{Fig2Cell, fig2_from_fit};
use super::network::Decoder;
use super::pairs::PairingRule;
use crate::kann;

/// Batch sizes of the sweep (capped at the number of normal test beats).
pub const BATCH_SIZES: [usize; 3] = [20, 64, 145];
/// Draws of the batch per size (seeds `seed, seed + 1, seed + 2`).
pub const DRAWS: u64 = 3;

/// One cell of the sweep under one pairing rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessRow {
    /// Beats in the batch.
    pub batch: usize,
    /// Seed of the batch draw.
    pub seed: u64,
    /// Pairing rule.
    pub pairing: PairingRule,
    /// Rank of the fit.
    pub rank: usize,
    /// The sets (1-based eigenvector indices).
    pub sets: Vec<Vec<usize>>,
    /// How many of the sets are conjugate pairs.
    pub conjugate_sets: usize,
    /// k of 4, Eq. 11 with the modulus (canonical signs).
    pub modulus_captured: usize,
    /// Per set, the feature captured (Eq. 11 with the modulus).
    pub modulus_features: Vec<Option<String>>,
    /// k of 4, sign-invariant reconstruction.
    pub sign_invariant_captured: usize,
    /// Per set, the feature captured (sign-invariant).
    pub sign_invariant_features: Vec<Option<String>>,
}

impl RobustnessRow {
    /// The row of a Fig. 2 cell.
    pub fn of(batch: usize, seed: u64, pairing: PairingRule, cell: &Fig2Cell) -> Self {
        let feats = |m: &super::features::FeatureMatch| {
            m.sets.iter().map(|s| s.feature.clone()).collect::<Vec<_>>()
        };
        RobustnessRow {
            batch,
            seed,
            pairing,
            rank: cell.fit.model.rank(),
            sets: cell
                .sets
                .iter()
                .map(|s| s.set.iter().map(|j| j + 1).collect())
                .collect(),
            conjugate_sets: cell.sets.iter().filter(|s| s.conjugate).count(),
            modulus_captured: cell.modulus_features.captured,
            modulus_features: feats(&cell.modulus_features),
            sign_invariant_captured: cell.sign_invariant_features.captured,
            sign_invariant_features: feats(&cell.sign_invariant_features),
        }
    }
}

/// Runs Fig. 2 for every batch size in `sizes` and `DRAWS` seeds from `seed`, under both pairing
/// rules. `batch(size, seed)` returns the encoder states of that draw and the range of its beat
/// median.
pub fn sweep(
    decoder: &dyn Decoder,
    sizes: &[usize],
    seed: u64,
    rank: Option<usize>,
    mut batch: impl FnMut(usize, u64) -> Result<(States, f64)>,
) -> Result<Vec<RobustnessRow>> {
    let mut rows = Vec::new();
    for &size in sizes {
        for d in 0..DRAWS {
            let s = seed.wrapping_add(d);
            let (states, range) = batch(size, s)?;
            let fit = kann::fit(&states, rank)?;
            let ranking = kann_koopman::dominance(&states, &fit.model, &fit.spectrum)?;
            for rule in [PairingRule::Conjugate, PairingRule::ConsecutiveRanks] {
                let cell =
                    fig2_from_fit(decoder, &states, fit.clone(), ranking.clone(), range, rule)?;
                rows.push(RobustnessRow::of(size, s, rule, &cell));
            }
        }
    }
    Ok(rows)
}

/// Summary of the sweep for one pairing rule and reconstruction: the k-of-4 values by batch size.
pub fn k_by_size(
    rows: &[RobustnessRow],
    rule: PairingRule,
    modulus: bool,
) -> Vec<(usize, Vec<usize>)> {
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.batch).collect();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|b| {
            let ks = rows
                .iter()
                .filter(|r| r.batch == b && r.pairing == rule)
                .map(|r| {
                    if modulus {
                        r.modulus_captured
                    } else {
                        r.sign_invariant_captured
                    }
                })
                .collect();
            (b, ks)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecg::fig2::last_states;
    use crate::ecg::medians::{MedianCurve, tests::planted};
    use crate::kann::to_rows;

    #[test]
    fn sweep_covers_every_size_draw_and_rule() {
        let (_, dec) = planted(4, 30, 0);
        let mut calls = Vec::new();
        let rows = sweep(&dec, &[12, 20], 7, Some(8), |size, seed| {
            calls.push((size, seed));
            let (states, dec) = planted(size, 30, seed);
            let beats = dec.decode(&to_rows(last_states(&states).as_ref()), size)?;
            Ok((states, MedianCurve::of(&beats, size, 140)?.range()))
        })
        .unwrap();
        assert_eq!(
            calls,
            vec![(12, 7), (12, 8), (12, 9), (20, 7), (20, 8), (20, 9)]
        );
        assert_eq!(rows.len(), 12);
        // The planted system: four conjugate pairs, each decoding to one feature.
        for r in rows.iter().filter(|r| r.pairing == PairingRule::Conjugate) {
            assert_eq!(r.conjugate_sets, 4);
            assert_eq!(r.sign_invariant_captured, 4, "{r:?}");
        }
        let k = k_by_size(&rows, PairingRule::Conjugate, false);
        assert_eq!(k, vec![(12, vec![4, 4, 4]), (20, vec![4, 4, 4])]);
    }
}
