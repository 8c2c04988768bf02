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
