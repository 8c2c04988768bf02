//! Stage "accuracy": the network's threshold decision on all test beats and its ROC.

use serde::{Deserialize, Serialize};

/// The network's accuracy at the threshold on the test beats, and its ROC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgThresholdAccuracy {
    /// The threshold (26 in the paper).
    pub threshold: f64,
    /// Normal test beats.
    pub normal_beats: usize,
    /// Anomalous test beats.
    pub anomalous_beats: usize,
    /// Share of normal beats below the threshold.
    pub normal: f64,
    /// Share of anomalous beats at or above the threshold.
    pub anomalous: f64,
    /// Over all test beats.
    pub overall: f64,
    /// Area under the ROC of "anomalous iff loss ≥ t".
    pub roc_auc: f64,
}

/// The ROC points `(fpr, tpr)` and the accuracy at `threshold` of the losses of normal and
/// anomalous beats ("normal iff loss < threshold", [`kann_models::threshold_accuracy`]; the
/// analysis always has beats of both classes).
pub fn threshold_accuracy(
    normal: &[f64],
    anomalous: &[f64],
    threshold: f64,
) -> (EcgThresholdAccuracy, Vec<f64>, Vec<f64>) {
    let (points, auc) = kann_models::roc_curve(normal, anomalous);
    let fpr = points.iter().map(|p| p.false_positive_rate).collect();
    let tpr = points.iter().map(|p| p.true_positive_rate).collect();
    let shares = kann_models::threshold_accuracy(normal, anomalous, threshold);
    let acc = EcgThresholdAccuracy {
        threshold,
        normal_beats: normal.len(),
        anomalous_beats: anomalous.len(),
        normal: shares.normal,
        anomalous: shares.anomalous,
        overall: shares.overall,
        roc_auc: auc,
    };
    (acc, fpr, tpr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_by_hand() {
        let (a, fpr, tpr) = threshold_accuracy(&[10.0, 20.0, 30.0], &[25.0, 40.0], 26.0);
        assert!((a.normal - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.anomalous - 0.5).abs() < 1e-12);
        assert!((a.overall - 0.6).abs() < 1e-12);
        // One normal beat (30) scores above one anomalous (25): AUC 5/6.
        assert!((a.roc_auc - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(fpr.len(), tpr.len());
    }
}
