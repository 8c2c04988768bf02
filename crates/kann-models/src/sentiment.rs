//! The IMDB sentiment classifier of the paper's Sec. 4.1:
//! `Embedding(vocab, 128) -> GRU (hidden 256) -> Linear(256, 1)`, read at each review's last real
//! token, trained with binary cross-entropy on the logit.

use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

use crate::cells::{CellKind, Recurrent, RecurrentConfig};
use crate::error::ModelError;
use crate::hooks::{HookedStates, padding_mask};

/// Configuration of [`SentimentModel`] (the paper's IMDB model).
#[derive(Config, Debug)]
pub struct SentimentConfig {
    /// Number of word pieces in the tokenizer vocabulary (32,379 for the paper's WordPiece vocabulary).
    pub vocab_size: usize,
    /// Embedding width (128 in the paper).
    #[config(default = 128)]
    pub d_embed: usize,
    /// Width of the recurrent hidden state `h_t` (256 in the paper).
    #[config(default = 256)]
    pub d_hidden: usize,
    /// Recurrent cell (GRU in the paper; LSTM and vanilla RNN for the robustness appendix C).
    #[config(default = "CellKind::Gru")]
    pub cell: CellKind,
}

impl SentimentConfig {
    /// Build the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> SentimentModel {
        SentimentModel {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_embed).init(device),
            recurrent: RecurrentConfig::new(self.cell, self.d_embed, self.d_hidden).init(device),
            readout: LinearConfig::new(self.d_hidden, 1).init(device),
        }
    }
}

/// Embedding -> recurrent cell -> linear readout `G` (paper Sec. 4.1).
#[derive(Module, Debug)]
pub struct SentimentModel {
    /// Token embedding `[vocab, d_embed]`.
    pub embedding: Embedding,
    /// The recurrent layer whose hidden states the Koopman analysis studies.
    pub recurrent: Recurrent,
    /// Readout `G: R^H -> R` (a logit; `sigmoid(G(h)) > .5` means positive).
    pub readout: Linear,
}

impl SentimentModel {
    /// Width of the hidden state.
    pub fn d_hidden(&self) -> usize {
        self.recurrent.d_hidden()
    }

    /// The hook: all hidden states `h_t` as `[B, T, H]` (and LSTM `c_t` when `want_cell`), with
    /// the padding mask built from `lengths` (`true` at real tokens).
    ///
    /// `tokens`: `[B, T]` piece ids, padded after each review's end; `lengths[b]` in `1..=T`.
    pub fn forward_states(
        &self,
        tokens: Tensor<2, Int>,
        lengths: &[usize],
        want_cell: bool,
    ) -> Result<HookedStates, ModelError> {
        let [batch, time] = tokens.dims();
        check_lengths(lengths, batch, time)?;
        let device = tokens.device();
        let embedded = self.embedding.forward(tokens);
        let out = self.recurrent.forward(embedded, want_cell);
        Ok(HookedStates {
            hidden: out.hidden,
            cell: out.cell,
            mask: padding_mask(lengths, time, &device),
            lengths: lengths.to_vec(),
        })
    }

    /// The readout `G` applied to arbitrary states `[.., H]` (e.g. Koopman-projected or
    /// KANN-predicted states, Eq. 6/7): returns logits `[.., 1]`.
    pub fn readout<const D: usize>(&self, states: Tensor<D>) -> Tensor<D> {
        self.readout.forward(states)
    }

    /// Logits `[B]` read at each review's last real token, so padding never changes the prediction.
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        lengths: &[usize],
    ) -> Result<Tensor<1>, ModelError> {
        let states = self.forward_states(tokens, lengths, false)?;
        let last = states.last_hidden();
        Ok(self.readout(last).squeeze_dim::<1>(1))
    }
}

/// Mean binary cross-entropy of logits `[B]` against labels `[B]` (1 = positive):
/// `-(y log s(z) + (1-y) log(1 - s(z)))`, computed stably from the logit.
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    // log(1 - sigmoid(z)) = log_sigmoid(-z)
    let pos = log_sigmoid(logits.clone()) * labels.clone();
    let neg = log_sigmoid(logits.neg()) * (labels.neg() + 1.0);
    (pos + neg).neg().mean()
}

pub(crate) fn check_lengths(
    lengths: &[usize],
    batch: usize,
    time: usize,
) -> Result<(), ModelError> {
    if lengths.len() != batch {
        return Err(ModelError::Shape(format!(
            "{} lengths given for a batch of {batch} sequences",
            lengths.len()
        )));
    }
    if let Some((i, &l)) = lengths
        .iter()
        .enumerate()
        .find(|(_, l)| **l == 0 || **l > time)
    {
        return Err(ModelError::Shape(format!(
            "sequence {i} has length {l}, outside 1..={time} (the padded width)"
        )));
    }
    Ok(())
}
