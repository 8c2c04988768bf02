//! The trained autoencoder as the analysis sees it: beats in, encoder states out (`F_enc` with
//! the state hook), latents in, beats out (`F_dec`), and the per-beat summed L1 loss.
//!
//! The stages take a [`Decoder`] rather than the burn model, so that they can be tested on a
//! planted decoder whose answer is known.

use anyhow::Result;
use burn::prelude::*;
use kann_data::ecg::{Beat, SERIES_LEN};
use kann_data::progress::progress_bar;
use kann_koopman::States;
use kann_models::npy::tensor_to_vec;
use kann_models::{EcgAutoencoder, beats_tensor, l1_per_beat};

use crate::common::{rows_tensor, states_from_tensor};

/// `F_dec`: decodes latents into beats.
pub trait Decoder {
    /// Latent size `k`.
    fn latent(&self) -> usize;
    /// Decodes `m` latents (row-major `m × k`) into `m` beats (row-major `m × 140`).
    fn decode(&self, rows: &[f64], m: usize) -> Result<Vec<f64>>;
}

/// The trained ECG autoencoder on its device.
pub struct Network<'a> {
    /// The model.
    pub model: &'a EcgAutoencoder,
    /// Its device.
    pub device: &'a Device,
}

/// The values of beats, row-major `m × 140`, as `f64`.
pub fn beat_values(beats: &[&Beat]) -> Vec<f64> {
    beats
        .iter()
        .flat_map(|b| b.values.iter().map(|&x| x as f64))
        .collect()
}

/// Summed L1 loss per beat of reconstructions against beats (both row-major `m × 140`).
pub fn l1(recon: &[f64], beats: &[f64]) -> Vec<f64> {
    recon
        .chunks(SERIES_LEN)
        .zip(beats.chunks(SERIES_LEN))
        .map(|(r, b)| r.iter().zip(b).map(|(x, y)| (x - y).abs()).sum())
        .collect()
}

impl Network<'_> {
    /// Encoder states `[m, 140, k]` of the beats.
    pub fn encode(&self, beats: &[&Beat]) -> Result<States> {
        let hooked = self
            .model
            .encode_states(beats_tensor(beats, self.device)?, false)?;
        states_from_tensor(&hooked.hidden, &hooked.lengths)
    }

    /// The network's summed L1 loss of every beat, in chunks with a progress bar.
    pub fn scores(&self, beats: &[Beat], label: &str) -> Result<Vec<f64>> {
        let bar = progress_bar(beats.len().div_ceil(256) as u64, label);
        let mut out = Vec::with_capacity(beats.len());
        for chunk in beats.chunks(256) {
            let x = beats_tensor(chunk, self.device)?;
            let recon = self.model.forward(x.clone())?;
            out.extend(
                tensor_to_vec(&l1_per_beat(recon, x))?
                    .into_iter()
                    .map(f64::from),
            );
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(out)
    }
}

impl Decoder for Network<'_> {
    fn latent(&self) -> usize {
        self.model.d_latent()
    }

    fn decode(&self, rows: &[f64], m: usize) -> Result<Vec<f64>> {
        let k = self.latent();
        anyhow::ensure!(
            rows.len() == m * k,
            "decode: {} values for {m} latents of size {k}",
            rows.len()
        );
        // Chunks keep the decoder's activations small for large sweeps.
        let mut out = Vec::with_capacity(m * SERIES_LEN);
        for (c, chunk) in rows.chunks(512 * k).enumerate() {
            let rows_here = chunk.len() / k;
            let t = rows_tensor(chunk, rows_here, k, self.device);
            let dec = self.model.decode(t)?;
            out.extend(tensor_to_vec(&dec)?.into_iter().map(f64::from));
            debug_assert_eq!(out.len(), (c * 512 + rows_here) * SERIES_LEN);
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod planted {
    //! A planted decoder for the stage tests: linear, `beat = latent · W` with `W` (`k × n`)
    //! mapping each latent direction to a known shape.
    use super::*;

    /// A linear decoder `x = z W`.
    pub struct LinearDecoder {
        /// `k × n`, row-major.
        pub w: Vec<f64>,
        /// Latent size.
        pub k: usize,
        /// Beat length.
        pub n: usize,
    }

    impl Decoder for LinearDecoder {
        fn latent(&self) -> usize {
            self.k
        }
        fn decode(&self, rows: &[f64], m: usize) -> Result<Vec<f64>> {
            anyhow::ensure!(rows.len() == m * self.k, "bad latent shape");
            let mut out = vec![0.0; m * self.n];
            for i in 0..m {
                for j in 0..self.k {
                    let z = rows[i * self.k + j];
                    for t in 0..self.n {
                        out[i * self.n + t] += z * self.w[j * self.n + t];
                    }
                }
            }
            Ok(out)
        }
    }

    #[test]
    fn l1_sums_per_beat() {
        let beats = vec![0.0; 2 * SERIES_LEN];
        let mut recon = vec![0.5; 2 * SERIES_LEN];
        recon[SERIES_LEN] = -2.5;
        let l = l1(&recon, &beats);
        assert_eq!(l.len(), 2);
        assert!((l[0] - 70.0).abs() < 1e-12);
        assert!((l[1] - (69.5 + 2.5)).abs() < 1e-12);
    }
}
