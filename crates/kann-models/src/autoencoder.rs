//! The ECG5000 LSTM autoencoder of the paper's Sec. 4.2: an encoder LSTM(1 -> 64) whose last
//! hidden state is the latent; a decoder that repeats the latent 140 times through
//! LSTM(64 -> 128) -> Linear(128 -> 1). A beat is normal iff its summed L1 reconstruction loss is
//! below a threshold (26 in the paper).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use crate::cells::{CellKind, Recurrent, RecurrentConfig};
use crate::error::ModelError;
use crate::hooks::{HookedStates, padding_mask};

/// Configuration of [`EcgAutoencoder`].
#[derive(Config, Debug)]
pub struct EcgAutoencoderConfig {
    /// Latent width = encoder hidden width (64 in the paper).
    #[config(default = 64)]
    pub d_latent: usize,
    /// Decoder hidden width (128 in the paper).
    #[config(default = 128)]
    pub d_decoder: usize,
    /// Beat length (140 samples in ECG5000).
    #[config(default = 140)]
    pub seq_len: usize,
    /// Recurrent cell of encoder and decoder (LSTM in the paper).
    #[config(default = "CellKind::Lstm")]
    pub cell: CellKind,
}

impl EcgAutoencoderConfig {
    /// Build the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> EcgAutoencoder {
        EcgAutoencoder {
            encoder: RecurrentConfig::new(self.cell, 1, self.d_latent).init(device),
            decoder: RecurrentConfig::new(self.cell, self.d_latent, self.d_decoder).init(device),
            output: LinearConfig::new(self.d_decoder, 1).init(device),
            seq_len: self.seq_len,
        }
    }
}

/// Encoder -> latent -> decoder autoencoder (paper Sec. 4.2).
#[derive(Module, Debug)]
pub struct EcgAutoencoder {
    /// Encoder over the beat's samples; its states are what the Koopman analysis studies.
    pub encoder: Recurrent,
    /// Decoder fed the latent at each of `seq_len` steps.
    pub decoder: Recurrent,
    /// Per-step output layer `128 -> 1`.
    pub output: Linear,
    /// Beat length the decoder produces.
    pub seq_len: usize,
}

impl EcgAutoencoder {
    /// Latent (= encoder hidden) width.
    pub fn d_latent(&self) -> usize {
        self.encoder.d_hidden()
    }

    fn check_beats(&self, beats: &Tensor<2>) -> Result<[usize; 2], ModelError> {
        let [b, t] = beats.dims();
        if t != self.seq_len {
            return Err(ModelError::Shape(format!(
                "beats have {t} samples, the model expects {}",
                self.seq_len
            )));
        }
        if b == 0 {
            return Err(ModelError::Shape("empty batch of beats".into()));
        }
        Ok([b, t])
    }

    /// The hook: encoder states `h_t` `[B, T, 64]` (and LSTM `c_t` when `want_cell`) for beats
    /// `[B, T]`. Beats all have the full length, so the mask is all `true`.
    pub fn encode_states(
        &self,
        beats: Tensor<2>,
        want_cell: bool,
    ) -> Result<HookedStates, ModelError> {
        let [b, t] = self.check_beats(&beats)?;
        let device = beats.device();
        let out = self.encoder.forward(beats.reshape([b, t, 1]), want_cell);
        let lengths = vec![t; b];
        Ok(HookedStates {
            hidden: out.hidden,
            cell: out.cell,
            mask: padding_mask(&lengths, t, &device),
            lengths,
        })
    }

    /// The latent: the encoder's last hidden state, `[B, 64]`.
    pub fn encode(&self, beats: Tensor<2>) -> Result<Tensor<2>, ModelError> {
        Ok(self.encode_states(beats, false)?.last_hidden())
    }

    /// The decoder on an arbitrary latent `[B, 64]` (e.g. a KANN-predicted or mode-projected last
    /// state, Eq. 11): the reconstructed beat `[B, seq_len]`.
    pub fn decode(&self, latent: Tensor<2>) -> Result<Tensor<2>, ModelError> {
        let [b, d] = latent.dims();
        if d != self.d_latent() {
            return Err(ModelError::Shape(format!(
                "latent has width {d}, the decoder expects {}",
                self.d_latent()
            )));
        }
        let out = self.decoder.forward_repeated(latent, self.seq_len, false);
        Ok(self.output.forward(out.hidden).reshape([b, self.seq_len]))
    }

    /// Reconstruction `[B, T]` of beats `[B, T]`.
    pub fn forward(&self, beats: Tensor<2>) -> Result<Tensor<2>, ModelError> {
        let latent = self.encode(beats)?;
        self.decode(latent)
    }
}

/// Per-beat L1 loss summed over the steps: `sum_t |x_t - x^_t|`, `[B, T] -> [B]`
/// (a beat is normal iff this is below the threshold, 26 in the paper).
pub fn l1_per_beat(reconstruction: Tensor<2>, beats: Tensor<2>) -> Tensor<1> {
    (reconstruction - beats)
        .abs()
        .sum_dim(1)
        .squeeze_dim::<1>(1)
}

/// Beats (or any series of equal length, e.g. `kann_data::ecg::Beat`) as one row-major tensor
/// `[beats, samples]`, the autoencoder's input. Errors, naming the beat, when the series differ
/// in length, and when there are none.
pub fn beats_tensor<S: AsRef<[f32]>>(
    beats: &[S],
    device: &Device,
) -> Result<Tensor<2>, ModelError> {
    let Some(first) = beats.first() else {
        return Err(ModelError::Shape("no beats to make a tensor of".into()));
    };
    let len = first.as_ref().len();
    let mut data = Vec::with_capacity(beats.len() * len);
    for (i, b) in beats.iter().enumerate() {
        let v = b.as_ref();
        if v.len() != len {
            return Err(ModelError::Shape(format!(
                "beat {i} has {} samples, beat 0 has {len}",
                v.len()
            )));
        }
        data.extend_from_slice(v);
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [beats.len(), len]),
        device,
    ))
}

/// Accuracy of the rule "normal iff loss < threshold" on normal and anomalous beats
/// ([`threshold_accuracy`]); NaN for a class without beats (no accuracy, rather than 0%).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdAccuracy {
    /// Share of normal beats with a loss below the threshold.
    pub normal: f64,
    /// Share of anomalous beats with a loss at or above the threshold.
    pub anomalous: f64,
    /// Share of all beats classified correctly.
    pub overall: f64,
}

/// The accuracy at `threshold` of the per-beat losses of normal and anomalous beats, the rule
/// "normal iff loss < threshold" (26 in the paper).
pub fn threshold_accuracy<T: Copy + Into<f64>>(
    normal: &[T],
    anomalous: &[T],
    threshold: f64,
) -> ThresholdAccuracy {
    let n_ok = normal.iter().filter(|&&x| x.into() < threshold).count();
    let a_ok = anomalous.iter().filter(|&&x| x.into() >= threshold).count();
    let ratio = |ok: usize, n: usize| {
        if n == 0 {
            f64::NAN
        } else {
            ok as f64 / n as f64
        }
    };
    ThresholdAccuracy {
        normal: ratio(n_ok, normal.len()),
        anomalous: ratio(a_ok, anomalous.len()),
        overall: ratio(n_ok + a_ok, normal.len() + anomalous.len()),
    }
}

/// One point of the ROC curve of the rule "anomalous iff loss ≥ threshold" (anomalous beats are
/// the positives). Serialized as one row of a run's `roc.csv`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    /// The loss threshold (`+∞` for the first point, where nothing is called anomalous).
    pub threshold: f64,
    /// Share of normal beats called anomalous.
    pub false_positive_rate: f64,
    /// Share of anomalous beats called anomalous.
    pub true_positive_rate: f64,
}

/// ROC over every distinct threshold of the per-beat losses, from `(0, 0)` at `+∞` to `(1, 1)`,
/// and the area under it (trapezoid rule; tied losses form one step).
pub fn roc_curve(normal: &[f64], anomalous: &[f64]) -> (Vec<RocPoint>, f64) {
    let mut all: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (s, false))
        .chain(anomalous.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (np, nn) = (anomalous.len().max(1) as f64, normal.len().max(1) as f64);
    let mut points = vec![RocPoint {
        threshold: f64::INFINITY,
        false_positive_rate: 0.0,
        true_positive_rate: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < all.len() {
        let threshold = all[i].0;
        while i < all.len() && all[i].0 == threshold {
            if all[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push(RocPoint {
            threshold,
            false_positive_rate: fp as f64 / nn,
            true_positive_rate: tp as f64 / np,
        });
    }
    let auc = points
        .windows(2)
        .map(|w| {
            (w[1].false_positive_rate - w[0].false_positive_rate)
                * (w[1].true_positive_rate + w[0].true_positive_rate)
                / 2.0
        })
        .sum();
    (points, auc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_of_separable_scores_has_area_one() {
        let (pts, auc) = roc_curve(&[1.0, 2.0, 3.0], &[10.0, 20.0]);
        assert!((auc - 1.0).abs() < 1e-12, "{auc}");
        let last = pts.last().expect("points");
        assert_eq!(
            (last.false_positive_rate, last.true_positive_rate),
            (1.0, 1.0)
        );
        assert_eq!(pts.len(), 6, "one point per distinct loss plus the start");
    }

    #[test]
    fn roc_of_reversed_scores_has_area_zero() {
        let (_, auc) = roc_curve(&[10.0, 20.0], &[1.0, 2.0]);
        assert!(auc.abs() < 1e-12, "{auc}");
    }

    #[test]
    fn tied_losses_form_one_step() {
        let (pts, auc) = roc_curve(&[5.0, 1.0], &[5.0, 9.0]);
        assert_eq!(pts.len(), 4);
        assert!((auc - 0.875).abs() < 1e-12, "{auc}");
    }

    #[test]
    fn beats_tensor_keeps_row_order_and_refuses_ragged_or_no_beats() {
        let device = Device::flex();
        let beats = [vec![1.0f32, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
        let t = beats_tensor(&beats, &device).expect("two beats of 3");
        assert_eq!(t.dims(), [2, 3]);
        let v = crate::npy::tensor_to_vec(&t).expect("f32 data");
        assert_eq!(v, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let ragged = [vec![1.0f32, 2.0], vec![3.0]];
        let e = beats_tensor(&ragged, &device).unwrap_err().to_string();
        assert!(e.contains("beat 1 has 1 samples, beat 0 has 2"), "{e}");
        assert!(beats_tensor::<Vec<f32>>(&[], &device).is_err());
    }

    #[test]
    fn threshold_rule_counts_both_classes() {
        let a = threshold_accuracy(&[1.0f32, 30.0], &[40.0, 5.0, 50.0], 26.0);
        assert_eq!((a.normal, a.anomalous), (0.5, 2.0 / 3.0));
        assert!((a.overall - 0.6).abs() < 1e-12);
        // A loss equal to the threshold is anomalous.
        let b = threshold_accuracy(&[26.0f64], &[26.0], 26.0);
        assert_eq!((b.normal, b.anomalous), (0.0, 1.0));
    }

    #[test]
    fn an_empty_class_has_no_accuracy() {
        let a = threshold_accuracy(&[1.0f32, 30.0], &[], 26.0);
        assert_eq!(a.normal, 0.5);
        assert!(a.anomalous.is_nan());
        assert_eq!(a.overall, 0.5);
        assert!(threshold_accuracy::<f64>(&[], &[], 1.0).overall.is_nan());
    }
}
