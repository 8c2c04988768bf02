//! The copy-problem model (App. D): one-hot input → recurrent layer → linear readout to
//! `symbols + 1` classes at every step.
//!
//! The input is the one-hot vector of the step's token (`symbols + 2` tokens: the alphabet,
//! blank, cue; see `kann_data::copy`), fed straight to the recurrent layer (no embedding, so
//! the local analysis sees the real input vectors `x_t`). The readout `G(h) = h W + b` is applied
//! at every step; training minimises the cross-entropy over the recall window only
//! ([`recall_cross_entropy`]): outside it the target is always blank, which a network learns at
//! once and which would only dilute the gradient of the part that needs memory. The network's
//! output is therefore defined (and scored) over the recall window.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::cells::{CellKind, Recurrent, RecurrentConfig, RecurrentOutput};
use crate::error::ModelError;

/// Configuration of [`CopyModel`].
#[derive(Config, Debug)]
pub struct CopyModelConfig {
    /// Input tokens (the width of the one-hot input): `symbols + 2`.
    pub tokens: usize,
    /// Output classes: `symbols + 1` (the alphabet and blank).
    pub classes: usize,
    /// Hidden width.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Recurrent cell.
    #[config(default = "CellKind::Gru")]
    pub cell: CellKind,
}

impl CopyModelConfig {
    /// Build the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> CopyModel {
        CopyModel {
            recurrent: RecurrentConfig::new(self.cell, self.tokens, self.d_hidden).init(device),
            readout: LinearConfig::new(self.d_hidden, self.classes).init(device),
        }
    }
}

/// One-hot input → recurrent layer → readout `G` at every step.
#[derive(Module, Debug)]
pub struct CopyModel {
    /// The recurrent layer whose hidden states the analysis studies (input width = tokens).
    pub recurrent: Recurrent,
    /// Readout `G: R^H → R^classes` (logits; the argmax is the output symbol).
    pub readout: Linear,
}

impl CopyModel {
    /// Hidden width.
    pub fn d_hidden(&self) -> usize {
        self.recurrent.d_hidden()
    }

    /// Input tokens (one-hot width).
    pub fn tokens(&self) -> usize {
        self.recurrent.d_input()
    }

    /// Output classes.
    pub fn classes(&self) -> usize {
        self.readout.weight.shape().dims::<2>()[1]
    }

    /// The one-hot inputs `[B, T, tokens]` of `sequences` (token ids, all of one length `T`).
    /// A token outside `0..tokens` or a ragged batch is an error naming the sequence.
    pub fn one_hot(
        &self,
        sequences: &[&[usize]],
        device: &Device,
    ) -> Result<Tensor<3>, ModelError> {
        one_hot(sequences, self.tokens(), device)
    }

    /// The hook: every hidden state `h_t`, `[B, T, H]` (and the LSTM's `c_t` when `want_cell`)
    /// for one-hot inputs `x: [B, T, tokens]`.
    pub fn forward_states(
        &self,
        x: Tensor<3>,
        want_cell: bool,
    ) -> Result<RecurrentOutput, ModelError> {
        self.recurrent
            .try_forward(x, want_cell)
            .map_err(|e| ModelError::Shape(e.to_string()))
    }

    /// The readout applied to arbitrary states `[.., H]` (hooked or predicted): logits `[.., classes]`.
    pub fn readout<const D: usize>(&self, states: Tensor<D>) -> Tensor<D> {
        self.readout.forward(states)
    }

    /// Logits of every step, `[B, T, classes]`.
    pub fn forward(&self, x: Tensor<3>) -> Result<Tensor<3>, ModelError> {
        Ok(self.readout(self.forward_states(x, false)?.hidden))
    }

    /// The readout weights `W` as plain numbers, row-major `[H, classes]`, and the bias `b`
    /// (so that `G(h) = h W + b`).
    pub fn readout_weights(&self) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let w = crate::npy::tensor_to_vec(&self.readout.weight.val())?;
        let b = match &self.readout.bias {
            Some(b) => crate::npy::tensor_to_vec(&b.val())?,
            None => vec![0.0; self.classes()],
        };
        Ok((w, b))
    }
}

/// The class of largest logit at every position of `logits: [B, L, C]`, row-major (`B·L`).
pub fn argmax_classes(logits: Tensor<3>) -> Result<Vec<usize>, ModelError> {
    let v = logits
        .argmax(2)
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| ModelError::Shape(format!("cannot read the argmax of the logits: {e:?}")))?;
    Ok(v.into_iter().map(|c| c.max(0) as usize).collect())
}

/// One-hot `[B, T, tokens]` of token sequences of one length.
pub fn one_hot(
    sequences: &[&[usize]],
    tokens: usize,
    device: &Device,
) -> Result<Tensor<3>, ModelError> {
    let b = sequences.len();
    let t = sequences.first().map_or(0, |s| s.len());
    if b == 0 || t == 0 {
        return Err(ModelError::Shape(format!(
            "one-hot input: {b} sequences of {t} steps; need at least one step of one sequence"
        )));
    }
    let mut data = vec![0.0f32; b * t * tokens];
    for (i, s) in sequences.iter().enumerate() {
        if s.len() != t {
            return Err(ModelError::Shape(format!(
                "one-hot input: sequence {i} has {} steps, sequence 0 has {t}",
                s.len()
            )));
        }
        for (step, &tok) in s.iter().enumerate() {
            if tok >= tokens {
                return Err(ModelError::Shape(format!(
                    "one-hot input: sequence {i} step {step} has token {tok}, outside 0..{tokens}"
                )));
            }
            data[(i * t + step) * tokens + tok] = 1.0;
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [b, t, tokens]),
        device,
    ))
}

/// Mean cross-entropy of `logits: [B, L, C]` against the classes `targets` (`B·L`, row-major):
/// `−mean log softmax(logits)[target]`. A target outside `0..C` or a wrong count is an error.
pub fn recall_cross_entropy(logits: Tensor<3>, targets: &[usize]) -> Result<Tensor<1>, ModelError> {
    let [b, l, c] = logits.dims();
    if targets.len() != b * l {
        return Err(ModelError::Shape(format!(
            "cross-entropy: {} targets for logits [{b}, {l}, {c}]",
            targets.len()
        )));
    }
    let mut mask = vec![0.0f32; b * l * c];
    for (i, &y) in targets.iter().enumerate() {
        if y >= c {
            return Err(ModelError::Shape(format!(
                "cross-entropy: target {y} at {i} outside 0..{c}"
            )));
        }
        mask[i * c + y] = 1.0;
    }
    let device = logits.device();
    let mask = Tensor::<3>::from_data(TensorData::new(mask, [b, l, c]), &device);
    Ok((log_softmax(logits, 2) * mask).sum().neg() / (b * l) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_and_cross_entropy_check_their_input() {
        let device = Device::flex();
        let x = one_hot(&[&[0, 2], &[1, 1]], 3, &device).unwrap();
        let v = crate::npy::tensor_to_vec(&x).unwrap();
        assert_eq!(v, vec![1., 0., 0., 0., 0., 1., 0., 1., 0., 0., 1., 0.]);
        assert!(one_hot(&[&[0, 3]], 3, &device).is_err());
        assert!(one_hot(&[&[0, 1], &[0]], 3, &device).is_err());
        assert!(one_hot(&[], 3, &device).is_err());
        // Uniform logits: the loss is ln C.
        let logits = Tensor::<3>::zeros([2, 2, 4], &device);
        let l = recall_cross_entropy(logits.clone(), &[0, 1, 2, 3]).unwrap();
        let v = crate::npy::tensor_to_vec(&l).unwrap()[0];
        assert!((f64::from(v) - 4f64.ln()).abs() < 1e-5, "{v}");
        assert!(recall_cross_entropy(logits.clone(), &[0, 1, 2]).is_err());
        assert!(recall_cross_entropy(logits, &[0, 1, 2, 4]).is_err());
        let m = CopyModelConfig::new(10, 9).with_d_hidden(5).init(&device);
        assert_eq!((m.tokens(), m.classes(), m.d_hidden()), (10, 9, 5));
        let (w, b) = m.readout_weights().unwrap();
        assert_eq!((w.len(), b.len()), (45, 9));
    }
}
