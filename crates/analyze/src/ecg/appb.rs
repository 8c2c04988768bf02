//! Stage "App. B": the Fig. 2 panels with pairs of PCA modes of the encoder states instead of
//! Koopman pairs: `F_dec(mean + (h_last − mean) W_S W_Sᵀ)` for the modes `S = {1,2}, {3,4}, ...`.

use anyhow::Result;
use kann_koopman::faer::{Mat, MatRef};
use kann_koopman::{Pca, States};

use super::medians::MedianCurve;
use super::network::Decoder;
use crate::kann::to_rows;

/// One PCA panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaPanel {
    /// The modes, 1-based.
    pub modes: Vec<usize>,
    /// Their share of the variance.
    pub explained: f64,
    /// Median of the decoded beats.
    pub curve: MedianCurve,
}

/// App. B on a batch: the PCA of all its states and `pairs` panels of consecutive mode pairs.
pub fn pca_panels(
    decoder: &dyn Decoder,
    states: &States,
    h_last: MatRef<'_, f64>,
    pairs: usize,
) -> Result<(Vec<f64>, Vec<PcaPanel>)> {
    let (s, n, k) = (states.num_sequences(), states.seq_len(), states.hidden());
    let rows = MatRef::from_row_major_slice(states.data(), s * n, k);
    let n_pca = (2 * pairs).min(k).min(s * n);
    let pca = Pca::fit(rows, n_pca)?;
    let b = h_last.nrows();
    let mut panels = Vec::new();
    for p in 0..n_pca.div_ceil(2) {
        let cols: Vec<usize> = (2 * p..(2 * p + 2).min(n_pca)).collect();
        let w = Mat::<f64>::from_fn(k, cols.len(), |i, c| pca.components[(i, cols[c])]);
        let centered = Mat::<f64>::from_fn(b, k, |i, j| h_last[(i, j)] - pca.mean[j]);
        let proj = (centered.as_ref() * w.as_ref()) * w.transpose();
        let z = Mat::<f64>::from_fn(b, k, |i, j| proj[(i, j)] + pca.mean[j]);
        let decoded = decoder.decode(&to_rows(z.as_ref()), b)?;
        panels.push(PcaPanel {
            modes: cols.iter().map(|c| c + 1).collect(),
            explained: cols.iter().map(|&c| pca.explained_variance_ratio[c]).sum(),
            curve: MedianCurve::of(&decoded, b, decoded.len() / b)?,
        });
    }
    Ok((pca.explained_variance_ratio.clone(), panels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecg::fig2::last_states;
    use crate::ecg::medians::tests::planted;

    #[test]
    fn panels_pair_consecutive_modes_by_variance() {
        let (states, dec) = planted(12, 30, 1);
        let h = last_states(&states);
        let (ratio, panels) = pca_panels(&dec, &states, h.as_ref(), 4).unwrap();
        assert_eq!(panels.len(), 4);
        assert_eq!(panels[1].modes, vec![3, 4]);
        assert!((ratio.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(ratio.windows(2).all(|w| w[0] >= w[1]));
        assert!((panels[0].explained - ratio[0] - ratio[1]).abs() < 1e-12);
        assert!(panels.iter().all(|p| p.curve.median.len() == 140));
    }
}
