//! Stage "agreement" (Fig. 4 right): on all normal test beats, the threshold decision of the
//! network (decoding the last encoder state `h_T`) against KANN's one-step prediction
//! (decoding `h_{T−1} B C Bᵀ`, Eq. 6), and against the trivial predictor that decodes `h_{T−1}`
//! itself: the baseline that shows how much of the agreement needs the operator at all.

use anyhow::Result;
use kann_koopman::States;
use kann_koopman::faer::Mat;
use serde::{Deserialize, Serialize};

use super::network::{Decoder, l1};
use crate::intervals::AgreementIntervals;
use crate::kann::{self, Fit, to_rows};

/// Fig. 4 (right) on the normal test beats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgAgreement {
    /// How the latents were obtained.
    pub method: String,
    /// Normal test beats.
    pub beats: usize,
    /// Beats the network classifies normal (loss < threshold).
    pub network_normal: usize,
    /// Beats classified normal from the KANN latent.
    pub kann_normal: usize,
    /// Share with the same decision, network vs KANN.
    pub agreement: f64,
    /// Median summed L1 loss of the network.
    pub network_median_loss: f64,
    /// Median summed L1 loss from the KANN latent.
    pub kann_median_loss: f64,
    /// Baseline: beats classified normal from the trivial latent `h_{T−1}`.
    pub trivial_normal: usize,
    /// Baseline: share with the same decision, network vs trivial predictor.
    pub trivial_agreement: f64,
    /// Baseline: median summed L1 loss from `h_{T−1}`.
    pub trivial_median_loss: f64,
    /// Bootstrap intervals of KANN's and the trivial predictor's agreement and their
    /// difference (`--bootstrap N`; absent with `--bootstrap 0`).
    #[serde(default)]
    pub intervals: Option<AgreementIntervals>,
}

/// The per-beat losses behind [`EcgAgreement`] (for the histogram).
#[derive(Debug, Clone, PartialEq)]
pub struct Losses {
    /// Network (`h_T`).
    pub network: Vec<f64>,
    /// KANN (`h_{T−1} B C Bᵀ`).
    pub kann: Vec<f64>,
    /// Trivial (`h_{T−1}`).
    pub trivial: Vec<f64>,
}

/// The three latents `(h_T, h_{T−1} B C Bᵀ, h_{T−1})` of every sequence (`m × k` each).
pub fn latents(states: &States, fit: &Fit) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let n = states.seq_len();
    let last = kann::states_at(states, |_| n - 1);
    let prev = kann::states_at(states, |_| n.saturating_sub(2));
    let kann_latent = prev.as_ref() * fit.model.prediction_map().as_ref();
    (last, kann_latent, prev)
}

/// Share of beats on which two losses give the same decision `loss < threshold`.
pub fn decision_agreement(a: &[f64], b: &[f64], threshold: f64) -> f64 {
    let same = a
        .iter()
        .zip(b)
        .filter(|&(x, y)| (*x < threshold) == (*y < threshold))
        .count();
    same as f64 / a.len().max(1) as f64
}

fn count_normal(loss: &[f64], threshold: f64) -> usize {
    loss.iter().filter(|&&l| l < threshold).count()
}

/// Decodes the three latents of `states`, scores them against `beats` (row-major `m × 140`)
/// and compares the decisions at `threshold`. `fit_batch` names the fit's batch size.
pub fn agreement(
    decoder: &dyn Decoder,
    states: &States,
    beats: &[f64],
    fit: &Fit,
    threshold: f64,
    fit_batch: usize,
) -> Result<(EcgAgreement, Losses)> {
    let m = states.num_sequences();
    let (last, kann_latent, prev) = latents(states, fit);
    let loss = |z: &Mat<f64>| -> Result<Vec<f64>> {
        Ok(l1(&decoder.decode(&to_rows(z.as_ref()), m)?, beats))
    };
    let losses = Losses {
        network: loss(&last)?,
        kann: loss(&kann_latent)?,
        trivial: loss(&prev)?,
    };
    let median = kann_koopman::median;
    let a = EcgAgreement {
        method: format!(
            "network latent = last encoder state h_T; KANN latent = h_(T-1) B C B^T (Eq. 6) with C fitted on the {fit_batch}-beat analysis batch; trivial baseline latent = h_(T-1); each decoded, summed L1 loss against the beat, normal iff loss < {threshold}"
        ),
        beats: m,
        network_normal: count_normal(&losses.network, threshold),
        kann_normal: count_normal(&losses.kann, threshold),
        agreement: decision_agreement(&losses.network, &losses.kann, threshold),
        network_median_loss: median(&losses.network),
        kann_median_loss: median(&losses.kann),
        trivial_normal: count_normal(&losses.trivial, threshold),
        trivial_agreement: decision_agreement(&losses.network, &losses.trivial, threshold),
        trivial_median_loss: median(&losses.trivial),
        intervals: None,
    };
    Ok((a, losses))
}

/// Bootstrap intervals of the agreements of [`agreement`] (`crate::intervals`): the operator
/// refitted from `grams` (the analysis batch's per-sequence Grams) at `fit`'s rank in each of
/// `replicates`, its latents `h_{T−1} B C Bᵀ` decoded and thresholded like the full fit's, the
/// beats of `states` resampled. One decoder pass per replicate.
#[allow(clippy::too_many_arguments)]
pub fn intervals(
    decoder: &dyn Decoder,
    states: &States,
    beats: &[f64],
    losses: &Losses,
    grams: &kann_koopman::SequenceGrams,
    fit: &Fit,
    threshold: f64,
    replicates: usize,
    seed: u64,
) -> Result<AgreementIntervals> {
    let m = states.num_sequences();
    let n = states.seq_len();
    let prev = kann::states_at(states, |_| n.saturating_sub(2));
    let network: Vec<bool> = losses.network.iter().map(|&l| l < threshold).collect();
    let trivial: Vec<bool> = losses
        .trivial
        .iter()
        .zip(&network)
        .map(|(&l, &net)| (l < threshold) == net)
        .collect();
    crate::intervals::agreement_intervals(
        grams,
        fit.model.rank(),
        &trivial,
        replicates,
        seed,
        |model| {
            let latent = prev.as_ref() * model.prediction_map().as_ref();
            let loss = l1(&decoder.decode(&to_rows(latent.as_ref()), m)?, beats);
            Ok(loss
                .iter()
                .zip(&network)
                .map(|(&l, &net)| (l < threshold) == net)
                .collect())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecg::medians::tests::planted;

    #[test]
    fn decisions_agree_by_hand() {
        let a = [10.0, 30.0, 25.9, 26.0];
        let b = [20.0, 20.0, 26.1, 27.0];
        assert!((decision_agreement(&a, &b, 26.0) - 0.5).abs() < 1e-12);
        assert_eq!(count_normal(&a, 26.0), 2);
    }

    #[test]
    fn kann_predicts_a_linear_system_exactly_and_the_trivial_predictor_does_not() {
        let (states, dec) = planted(20, 30, 2);
        let fit = kann::fit(&states, Some(8)).unwrap();
        let (last, kann_latent, prev) = latents(&states, &fit);
        assert!((kann_latent.as_ref() - last.as_ref()).norm_l2() < 1e-8 * last.norm_l2());
        assert!((prev.as_ref() - last.as_ref()).norm_l2() > 1e-3 * last.norm_l2());
        // Beats = the decoded last state plus an offset that grows over the beats, so that the
        // losses straddle the threshold.
        let mut beats = dec.decode(&to_rows(last.as_ref()), 20).unwrap();
        for (i, row) in beats.chunks_mut(140).enumerate() {
            row[70] += 0.1 * i as f64;
        }
        let (a, l) = agreement(&dec, &states, &beats, &fit, 0.95, 20).unwrap();
        assert_eq!(a.beats, 20);
        assert!((a.agreement - 1.0).abs() < 1e-12, "{a:?}");
        assert_eq!(a.network_normal, a.kann_normal);
        assert_eq!(a.network_normal, 10);
        assert!(l.trivial.iter().zip(&l.network).all(|(t, n)| t > n));
        assert!(a.trivial_agreement < 1.0, "{a:?}");
    }
}
