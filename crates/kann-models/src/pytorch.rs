//! Import of models trained in PyTorch: a `.pt` state dict in, a [`SentimentModel`] or
//! [`EcgAutoencoder`] with the same function out.
//!
//! The file is read with `pytorch-reader` (burn's reader for PyTorch checkpoints, which needs
//! neither PyTorch nor burn), so no pickle is decoded by hand here.
//!
//! # Expected layout
//!
//! | model | keys | modules |
//! | --- | --- | --- |
//! | IMDB ([`import_sentiment`]) | `emb.weight`, `<cell>.{weight,bias}_{ih,hh}_l0`, `out.{weight,bias}` | `nn.Embedding`, `nn.GRU`/`LSTM`/`RNN`, `nn.Linear(H, 1)` |
//! | ECG ([`import_ecg`]) | `enc.*_l0`, `dec.*_l0`, `out.{weight,bias}` | encoder `nn.<Cell>(1, L)`, decoder `nn.<Cell>(L, D)` fed the latent at every step, `nn.Linear(D, 1)` |
//!
//! `<cell>` is `gru`, `lstm` or `rnn`. Recurrent layers have one layer, one direction, biases,
//! and (RNN) the default `tanh`; the batch-first flag does not change the weights.
//! [`KeyRename`]s (`--key-map FROM=TO`) rename key prefixes first, for scripts that named their
//! modules differently. An embedding with more rows than the vocabulary (a spare padding row) is
//! accepted: its first `vocab_size` rows are used. Every other mismatch is an error naming the key
//! (and a key the model has no place for is one too: a model with more layers would compute
//! something else).
//!
//! # Weight conversion
//!
//! PyTorch stores `weight_ih_l0: [G·H, X]` and `weight_hh_l0: [G·H, H]` with the gate blocks in
//! its order; [`Recurrent`] keeps `w_x: [X, G·H]`, `w_h: [H, G·H]` in the order of
//! [`crate::cells`]. Both have the same gate equations (GRU: the reset gate multiplies
//! `W_hn h + b_hn`), so the import transposes and reorders blocks:
//!
//! | cell | PyTorch blocks | kann blocks |
//! | --- | --- | --- |
//! | GRU | `r, z, n` | `z, r, n` |
//! | LSTM | `i, f, g, o` | `i, f, g, o` |
//! | RNN | one | one |
//!
//! `nn.Linear` stores `weight: [out, in]`, burn `[in, out]`: transposed too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use pytorch_reader::{DType, PytorchReader};

use crate::autoencoder::{EcgAutoencoder, EcgAutoencoderConfig};
use crate::cells::{CellKind, Recurrent};
use crate::error::ModelError;
use crate::sentiment::{SentimentConfig, SentimentModel};

/// A key-prefix rename `FROM=TO` applied to every key of the file before import
/// (`embedding.weight` becomes `emb.weight` under `embedding=emb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRename {
    /// Prefix as the file has it (a whole dotted component, or several).
    pub from: String,
    /// Prefix the import expects.
    pub to: String,
}

impl std::str::FromStr for KeyRename {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok(KeyRename {
                from: from.trim_end_matches('.').to_string(),
                to: to.trim_end_matches('.').to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not a key rename FROM=TO (e.g. `embedding=emb`)"
            )),
        }
    }
}

impl KeyRename {
    /// The renamed key, when `key` is `from` or starts with `from.`.
    fn apply(&self, key: &str) -> Option<String> {
        if key == self.from {
            return Some(self.to.clone());
        }
        key.strip_prefix(&self.from)
            .filter(|rest| rest.starts_with('.'))
            .map(|rest| format!("{}{rest}", self.to))
    }
}

/// One tensor of a state dict, as `f32` in row-major order.
#[derive(Debug, Clone)]
struct Array {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The tensors of a PyTorch state dict, keys renamed, each taken at most once by the import.
#[derive(Debug)]
pub struct StateDict {
    path: PathBuf,
    tensors: BTreeMap<String, Array>,
    /// Original name (before renames) of each key, for error messages.
    original: BTreeMap<String, String>,
}

impl StateDict {
    /// Read every tensor of `path` (a `.pt`/`.pth` file written by `torch.save`: a state dict, a
    /// whole module, or a dict holding one under `top_level_key`), applying `renames` in order
    /// (the first that matches a key wins).
    pub fn open(
        path: &Path,
        top_level_key: Option<&str>,
        renames: &[KeyRename],
    ) -> Result<Self, ModelError> {
        // A FIFO or device would make the reader wait forever: regular files only.
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(import_err(
                    path,
                    "is not a regular file (a folder, pipe or device); give a .pt file",
                ));
            }
            Err(e) => return Err(ModelError::io(path, e)),
        }
        let reader = match top_level_key {
            Some(k) => PytorchReader::with_top_level_key(path, k),
            None => PytorchReader::new(path),
        }
        .map_err(|e| import_err(path, format!("cannot read the PyTorch file: {e}")))?;
        let mut tensors = BTreeMap::new();
        let mut original = BTreeMap::new();
        for (name, tensor) in reader.into_tensors() {
            let bytes = tensor
                .read()
                .map_err(|e| import_err(path, format!("tensor `{name}`: {e}")))?;
            let data = to_f32(&bytes, tensor.dtype()).ok_or_else(|| {
                import_err(
                    path,
                    format!(
                        "tensor `{name}` has dtype {:?}; only float32 and float64 weights \
                             are imported (call `model.float()` before saving)",
                        tensor.dtype()
                    ),
                )
            })?;
            // Weights must be finite: NaN or inf would give NaN logits and a meaningless accuracy.
            let bad = data.iter().filter(|v| !v.is_finite()).count();
            if bad > 0 {
                return Err(import_err(
                    path,
                    format!(
                        "tensor `{name}` holds {bad} non-finite value(s) (NaN or inf) of {}; \
                         only finite weights are imported",
                        data.len()
                    ),
                ));
            }
            let key = renames
                .iter()
                .find_map(|r| r.apply(&name))
                .unwrap_or_else(|| name.clone());
            if let Some(first) = original.get(&key) {
                return Err(import_err(
                    path,
                    format!("keys `{first}` and `{name}` both map to `{key}` (check --key-map)"),
                ));
            }
            original.insert(key.clone(), name);
            tensors.insert(
                key,
                Array {
                    shape: tensor.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(StateDict {
            path: path.to_path_buf(),
            tensors,
            original,
        })
    }

    /// The keys (after renames) still in the dict.
    pub fn keys(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        let dotted = format!("{prefix}.");
        self.tensors.keys().any(|k| k.starts_with(&dotted))
    }

    fn err(&self, message: impl Into<String>) -> ModelError {
        import_err(&self.path, message)
    }

    fn name_of(&self, key: &str) -> String {
        match self.original.get(key) {
            Some(o) if o != key => format!("`{key}` (`{o}` in the file)"),
            _ => format!("`{key}`"),
        }
    }

    /// Remove and return tensor `key`, checking its rank.
    fn take(&mut self, key: &str, rank: usize) -> Result<Array, ModelError> {
        let Some(a) = self.tensors.remove(key) else {
            let near: Vec<&String> = self
                .tensors
                .keys()
                .filter(|k| k.split('.').next() == key.split('.').next())
                .collect();
            return Err(self.err(format!(
                "missing key `{key}`{}; keys in the file: {} (rename with --key-map FROM=TO)",
                if near.is_empty() {
                    String::new()
                } else {
                    format!(" (found under the same module: {near:?})")
                },
                self.original
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if a.shape.len() != rank {
            return Err(self.err(format!(
                "{} has shape {:?}, expected {rank} dimensions",
                self.name_of(key),
                a.shape
            )));
        }
        Ok(a)
    }

    fn check_shape(&self, key: &str, a: &Array, expected: &[usize]) -> Result<(), ModelError> {
        if a.shape != expected {
            return Err(self.err(format!(
                "{} has shape {:?}, expected {expected:?}",
                self.name_of(key),
                a.shape
            )));
        }
        Ok(())
    }

    /// Fails when keys are left over: the file's model has parts kann's does not.
    fn finish(&self) -> Result<(), ModelError> {
        if self.tensors.is_empty() {
            return Ok(());
        }
        let left: Vec<String> = self.tensors.keys().map(|k| self.name_of(k)).collect();
        Err(self.err(format!(
            "the file has tensors the model has no place for: {} (a model with more layers, \
             a second direction or other modules computes something else)",
            left.join(", ")
        )))
    }

    /// A recurrent layer `prefix.{weight,bias}_{ih,hh}_l0`: its cell (from the gate count
    /// `rows / H`, checked against `expected` when given), input and hidden widths.
    fn recurrent(
        &mut self,
        prefix: &str,
        expected: Option<CellKind>,
        device: &Device,
    ) -> Result<Recurrent, ModelError> {
        for extra in ["_l1", "_reverse"] {
            if let Some(k) = self
                .tensors
                .keys()
                .find(|k| k.starts_with(&format!("{prefix}.")) && k.contains(extra))
            {
                return Err(self.err(format!(
                    "{} belongs to a second layer or direction; only one-layer, one-direction \
                     recurrent layers are imported",
                    self.name_of(k)
                )));
            }
        }
        let (k_wih, k_whh) = (
            format!("{prefix}.weight_ih_l0"),
            format!("{prefix}.weight_hh_l0"),
        );
        let (k_bih, k_bhh) = (
            format!("{prefix}.bias_ih_l0"),
            format!("{prefix}.bias_hh_l0"),
        );
        let w_hh = self.take(&k_whh, 2)?;
        let (gh, h) = (w_hh.shape[0], w_hh.shape[1]);
        if h == 0 || gh % h != 0 {
            return Err(self.err(format!(
                "{} has shape {:?}: rows must be a multiple (the gate count) of the columns",
                self.name_of(&k_whh),
                w_hh.shape
            )));
        }
        let kind = match gh / h {
            1 => CellKind::Rnn,
            3 => CellKind::Gru,
            4 => CellKind::Lstm,
            g => {
                return Err(self.err(format!(
                    "{} has {g} gate blocks of width {h}; a GRU has 3, an LSTM 4, an RNN 1",
                    self.name_of(&k_whh)
                )));
            }
        };
        if let Some(e) = expected.filter(|&e| e != kind) {
            return Err(self.err(format!(
                "`{prefix}` is a {kind} layer ({} has {} gate blocks), not a {e}",
                self.name_of(&k_whh),
                gh / h
            )));
        }
        let w_ih = self.take(&k_wih, 2)?;
        if w_ih.shape[0] != gh {
            return Err(self.err(format!(
                "{} has shape {:?}, expected [{gh}, X] like {}",
                self.name_of(&k_wih),
                w_ih.shape,
                self.name_of(&k_whh)
            )));
        }
        let x = w_ih.shape[1];
        let b_ih = self.take(&k_bih, 1)?;
        self.check_shape(&k_bih, &b_ih, &[gh])?;
        let b_hh = self.take(&k_bhh, 1)?;
        self.check_shape(&k_bhh, &b_hh, &[gh])?;
        let order = torch_gate_order(kind);
        let w_x = transpose_blocks(&w_ih.data, x, h, order);
        let w_h = transpose_blocks(&w_hh.data, h, h, order);
        let b_x = reorder_blocks(&b_ih.data, h, order);
        let b_h = reorder_blocks(&b_hh.data, h, order);
        let g = order.len();
        Ok(Recurrent {
            w_x: param2(w_x, [x, g * h], device),
            b_x: param1(b_x, device),
            w_h: param2(w_h, [h, g * h], device),
            b_h: param1(b_h, device),
            kind,
            d_hidden: h,
        })
    }

    /// `nn.Linear(in, out)` as burn's `Linear` (`weight` transposed to `[in, out]`).
    fn linear(
        &mut self,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        device: &Device,
    ) -> Result<Linear, ModelError> {
        let (kw, kb) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
        let w = self.take(&kw, 2)?;
        self.check_shape(&kw, &w, &[d_out, d_in])?;
        let b = self.take(&kb, 1)?;
        self.check_shape(&kb, &b, &[d_out])?;
        let mut wt = vec![0.0f32; d_in * d_out];
        for o in 0..d_out {
            for i in 0..d_in {
                wt[i * d_out + o] = w.data[o * d_in + i];
            }
        }
        Ok(Linear {
            weight: param2(wt, [d_in, d_out], device),
            bias: Some(param1(b.data, device)),
        })
    }
}

fn import_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Import {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Row-major bytes of a float tensor as `f32` (`None` for other dtypes).
fn to_f32(bytes: &[u8], dtype: DType) -> Option<Vec<f32>> {
    match dtype {
        DType::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        DType::F64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    f64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        ),
        _ => None,
    }
}

/// For each kann gate block (in the order of [`crate::cells`]), the index of the PyTorch block
/// holding it.
fn torch_gate_order(kind: CellKind) -> &'static [usize] {
    match kind {
        // PyTorch r, z, n; kann z, r, n.
        CellKind::Gru => &[1, 0, 2],
        CellKind::Lstm => &[0, 1, 2, 3],
        CellKind::Rnn => &[0],
    }
}

/// PyTorch `[G·H, cols]` (blocks in PyTorch's order) to kann `[cols, G·H]` (kann's order).
fn transpose_blocks(w: &[f32], cols: usize, h: usize, order: &[usize]) -> Vec<f32> {
    let gh = order.len() * h;
    let mut out = vec![0.0f32; cols * gh];
    for (j, &src) in order.iter().enumerate() {
        for k in 0..h {
            let row = &w[(src * h + k) * cols..(src * h + k + 1) * cols];
            for (c, &v) in row.iter().enumerate() {
                out[c * gh + j * h + k] = v;
            }
        }
    }
    out
}

/// A PyTorch bias `[G·H]` in kann's gate order.
fn reorder_blocks(b: &[f32], h: usize, order: &[usize]) -> Vec<f32> {
    order
        .iter()
        .flat_map(|&src| b[src * h..(src + 1) * h].iter().copied())
        .collect()
}

fn param2(data: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), device))
}

fn param1(data: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = data.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(data, [n]), device))
}

/// The IMDB classifier of a PyTorch state dict (keys `emb.*`, `<cell>.*`, `out.*`), for a
/// vocabulary of `vocab_size` pieces. `cell` picks the recurrent prefix (`gru`, `lstm`, `rnn`);
/// `None` takes the one the file has.
pub fn import_sentiment(
    mut sd: StateDict,
    cell: Option<CellKind>,
    vocab_size: usize,
    device: &Device,
) -> Result<(SentimentModel, SentimentConfig), ModelError> {
    let prefix = match cell {
        Some(c) => c.to_string(),
        None => {
            let found: Vec<&str> = ["gru", "lstm", "rnn"]
                .into_iter()
                .filter(|p| sd.has_prefix(p))
                .collect();
            match found.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(sd.err(format!(
                        "no recurrent layer under `gru.`, `lstm.` or `rnn.`; keys in the file: {} \
                         (rename with --key-map FROM=TO)",
                        sd.original.values().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                many => {
                    return Err(sd.err(format!(
                        "several recurrent layers ({many:?}); pick one with --cell"
                    )));
                }
            }
        }
    };
    let recurrent = sd.recurrent(&prefix, cell, device)?;
    let emb = sd.take("emb.weight", 2)?;
    let (rows, d_embed) = (emb.shape[0], emb.shape[1]);
    if rows < vocab_size {
        return Err(sd.err(format!(
            "{} has {rows} rows, fewer than the {vocab_size} pieces of the vocabulary",
            sd.name_of("emb.weight")
        )));
    }
    if d_embed != recurrent.d_input() {
        return Err(sd.err(format!(
            "{} has width {d_embed}, but `{prefix}` takes inputs of width {}",
            sd.name_of("emb.weight"),
            recurrent.d_input()
        )));
    }
    let h = recurrent.d_hidden();
    let readout = sd.linear("out", h, 1, device)?;
    sd.finish()?;
    let config = SentimentConfig {
        vocab_size,
        d_embed,
        d_hidden: h,
        cell: recurrent.kind(),
    };
    let mut weight = emb.data;
    weight.truncate(vocab_size * d_embed);
    let model = SentimentModel {
        embedding: Embedding {
            weight: param2(weight, [vocab_size, d_embed], device),
        },
        recurrent,
        readout,
    };
    Ok((model, config))
}

/// The ECG autoencoder of a PyTorch state dict (keys `enc.*`, `dec.*`, `out.*`) for beats of
/// `seq_len` samples. The cell is read from the weights and checked against `cell` when given.
pub fn import_ecg(
    mut sd: StateDict,
    cell: Option<CellKind>,
    seq_len: usize,
    device: &Device,
) -> Result<(EcgAutoencoder, EcgAutoencoderConfig), ModelError> {
    let encoder = sd.recurrent("enc", cell, device)?;
    if encoder.d_input() != 1 {
        return Err(sd.err(format!(
            "{} takes inputs of width {}; the encoder reads one sample per step",
            sd.name_of("enc.weight_ih_l0"),
            encoder.d_input()
        )));
    }
    let decoder = sd.recurrent("dec", Some(encoder.kind()), device)?;
    if decoder.d_input() != encoder.d_hidden() {
        return Err(sd.err(format!(
            "the decoder takes inputs of width {}, the encoder's latent has width {}",
            decoder.d_input(),
            encoder.d_hidden()
        )));
    }
    let output = sd.linear("out", decoder.d_hidden(), 1, device)?;
    sd.finish()?;
    let config = EcgAutoencoderConfig {
        d_latent: encoder.d_hidden(),
        d_decoder: decoder.d_hidden(),
        seq_len,
        cell: encoder.kind(),
    };
    Ok((
        EcgAutoencoder {
            encoder,
            decoder,
            output,
            seq_len,
        },
        config,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rename_matches_whole_components() {
        let r: KeyRename = "embedding=emb".parse().expect("rename");
        assert_eq!(r.apply("embedding.weight").as_deref(), Some("emb.weight"));
        assert_eq!(r.apply("embedding"), Some("emb".to_string()));
        assert_eq!(r.apply("embeddings.weight"), None);
        assert!("nothing".parse::<KeyRename>().is_err());
        assert!("=x".parse::<KeyRename>().is_err());
    }

    #[test]
    fn gru_blocks_move_from_torch_order() {
        // Two gates' worth of rows per block, H = 1, one column: torch rows r, z, n.
        let w = [10.0, 20.0, 30.0];
        let out = transpose_blocks(&w, 1, 1, torch_gate_order(CellKind::Gru));
        assert_eq!(out, vec![20.0, 10.0, 30.0], "kann order z, r, n");
        let b = reorder_blocks(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, &[1, 0, 2]);
        assert_eq!(b, vec![3.0, 4.0, 1.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn transpose_puts_columns_first() {
        // [G·H = 2, cols = 3] -> [3, 2]
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let out = transpose_blocks(&w, 3, 2, &[0]);
        assert_eq!(out, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
