//! Stage "Fig. 2 on one batch": fit → dominance → sets ([`super::pairs`]) → medians of both
//! reconstructions ([`super::medians`]) → features found ([`super::features`]). The main run
//! calls it once on the analysis batch; the robustness sweep ([`super::robustness`]) once per
//! batch size and draw.

use anyhow::Result;
use kann_koopman::{States, dominance};

use super::features::{FeatureMatch, match_features};
use super::medians::{MedianCurve, Reconstruction, set_medians};
use super::network::Decoder;
use super::pairs::{DominantSet, PairingRule, dominant_sets};
use crate::kann::{self, Fit};

/// Number of sets shown in Fig. 2.
pub const PANELS: usize = 4;

/// Fig. 2 of one batch.
#[derive(Debug, Clone)]
pub struct Fig2Cell {
    /// The fit on the batch's encoder states.
    pub fit: Fit,
    /// Dominance ranking `(index, score)`, most dominant first.
    pub ranking: Vec<(usize, f64)>,
    /// The sets under the pairing rule.
    pub sets: Vec<DominantSet>,
    /// Medians of Eq. 11 with the modulus (canonical signs), per set.
    pub modulus: Vec<MedianCurve>,
    /// Medians of the sign-invariant reconstruction, per set.
    pub sign_invariant: Vec<MedianCurve>,
    /// Features of the modulus medians.
    pub modulus_features: FeatureMatch,
    /// Features of the sign-invariant medians.
    pub sign_invariant_features: FeatureMatch,
    /// Warnings of the fit and the pairing.
    pub warnings: Vec<String>,
}

/// The last encoder states `H_last` (`m × k`) of a batch.
pub fn last_states(states: &States) -> kann_koopman::faer::Mat<f64> {
    let n = states.seq_len();
    kann::states_at(states, |_| n - 1)
}

/// Fits `states` (rank `rank`, `None` = reference default) and builds Fig. 2 under `rule`;
/// `beat_range` is `max μ − min μ` of the batch's beat median (the feature prominence scale).
pub fn fig2_cell(
    decoder: &dyn Decoder,
    states: &States,
    beat_range: f64,
    rule: PairingRule,
    rank: Option<usize>,
) -> Result<Fig2Cell> {
    let fit = kann::fit(states, rank)?;
    let ranking = dominance(states, &fit.model, &fit.spectrum)?;
    fig2_from_fit(decoder, states, fit, ranking, beat_range, rule)
}

/// [`fig2_cell`] on a given fit and ranking.
pub fn fig2_from_fit(
    decoder: &dyn Decoder,
    states: &States,
    fit: Fit,
    ranking: Vec<(usize, f64)>,
    beat_range: f64,
    rule: PairingRule,
) -> Result<Fig2Cell> {
    let mut warnings: Vec<String> = fit
        .model
        .warnings
        .iter()
        .map(|w| format!("fit: {w}"))
        .collect();
    let (sets, w) = dominant_sets(&fit.spectrum, &ranking, rule, PANELS)?;
    warnings.extend(w);
    let h_last = last_states(states);
    let idx: Vec<Vec<usize>> = sets.iter().map(|s| s.set.clone()).collect();
    let medians = |how| {
        set_medians(
            decoder,
            h_last.as_ref(),
            &fit.model,
            &fit.spectrum,
            &idx,
            how,
        )
    };
    let modulus = medians(Reconstruction::Modulus)?;
    let sign_invariant = medians(Reconstruction::SignInvariant)?;
    let curves = |c: &[MedianCurve]| c.iter().map(|m| m.median.clone()).collect::<Vec<_>>();
    Ok(Fig2Cell {
        modulus_features: match_features(&curves(&modulus), beat_range),
        sign_invariant_features: match_features(&curves(&sign_invariant), beat_range),
        fit,
        ranking,
        sets,
        modulus,
        sign_invariant,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecg::medians::tests::planted;
    use crate::kann::to_rows;

    #[test]
    fn planted_system_gives_four_of_four_with_conjugate_pairs() {
        let (states, dec) = planted(24, 30, 5);
        let beats = dec
            .decode(&to_rows(last_states(&states).as_ref()), 24)
            .unwrap();
        let mu = MedianCurve::of(&beats, 24, 140).unwrap();
        let cell = fig2_cell(&dec, &states, mu.range(), PairingRule::Conjugate, Some(8)).unwrap();
        assert_eq!(cell.sets.len(), 4);
        assert!(cell.sets.iter().all(|s| s.conjugate && s.set.len() == 2));
        assert_eq!(cell.sign_invariant_features.captured, 4, "{cell:?}");
        assert_eq!(cell.modulus.len(), 4);
        assert_eq!(cell.modulus[0].median.len(), 140);
    }
}
