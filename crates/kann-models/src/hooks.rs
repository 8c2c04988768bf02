//! Hooked recurrent states: what the Koopman analysis (paper Sec. 3) consumes.

use std::path::Path;

use burn::prelude::*;

use crate::error::ModelError;
use crate::npy;

/// All hidden states of a batch with their padding mask (the paper's `H`, shape `[s, n, k]`).
#[derive(Debug, Clone)]
pub struct HookedStates {
    /// `h_t` at every step: `[B, T, H]`.
    pub hidden: Tensor<3>,
    /// LSTM cell states `c_t`, `[B, T, H]`, when requested from an LSTM; otherwise `None`.
    pub cell: Option<Tensor<3>>,
    /// `[B, T]`, `true` at real steps and `false` over padding.
    pub mask: Tensor<2, Bool>,
    /// Number of real steps of each sequence (`mask[b, t]` is `t < lengths[b]`).
    pub lengths: Vec<usize>,
}

impl HookedStates {
    /// The hidden state at each sequence's last real step: `[B, H]`.
    pub fn last_hidden(&self) -> Tensor<2> {
        last_step(self.hidden.clone(), &self.lengths)
    }

    /// Write `hidden.npy` (`[B,T,H]` f32), `mask.npy` (`[B,T]` u8), `lengths.npy` (`[B]` u64)
    /// and, when present, `cell.npy` into `dir` (each atomically).
    pub fn write_npy(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        npy::write_tensor(&dir.join("hidden.npy"), &self.hidden)?;
        if let Some(cell) = &self.cell {
            npy::write_tensor(&dir.join("cell.npy"), cell)?;
        }
        let [b, t] = self.mask.dims();
        let mask: Vec<u8> = self.mask.to_data().iter::<bool>().map(u8::from).collect();
        npy::write_u8(&dir.join("mask.npy"), &[b, t], &mask)?;
        let lengths: Vec<u64> = self.lengths.iter().map(|&l| l as u64).collect();
        npy::write_u64(&dir.join("lengths.npy"), &[lengths.len()], &lengths)?;
        Ok(())
    }
}

/// `[B, T]` padding mask, `true` where `t < lengths[b]`.
pub fn padding_mask(lengths: &[usize], time: usize, device: &Device) -> Tensor<2, Bool> {
    let data: Vec<bool> = lengths
        .iter()
        .flat_map(|&l| (0..time).map(move |t| t < l))
        .collect();
    Tensor::from_data(TensorData::new(data, [lengths.len(), time]), device)
}

/// Select `states[b, lengths[b] - 1, :]` for every `b`: `[B, T, H] -> [B, H]`.
///
/// Every length must be in `1..=T` (checked by the models before calling).
pub fn last_step(states: Tensor<3>, lengths: &[usize]) -> Tensor<2> {
    let [b, _, h] = states.dims();
    let device = states.device();
    let idx: Vec<i64> = lengths.iter().map(|&l| l as i64 - 1).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &device)
        .reshape([b, 1, 1])
        .expand([b, 1, h]);
    states.gather(1, idx).reshape([b, h])
}
