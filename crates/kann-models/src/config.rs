//! Run configurations (`configs/*.toml`), shared by `train` (which writes the resolved config into
//! the run folder) and `analyze` (which reads it back to rebuild the model).
//!
//! Unknown keys are errors (`deny_unknown_fields`); missing keys take the defaults below, which
//! are the settings measured to work on this project (see `configs/imdb.toml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::autoencoder::EcgAutoencoderConfig;
use crate::cells::CellKind;

mod budget;
use crate::copy::CopyModelConfig;
use crate::error::ModelError;
pub use crate::probe::ProbeConfig;
use crate::sentiment::SentimentConfig;
pub use budget::MAX_PLANNED_BYTES;

/// Which of the paper's two experiments a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// IMDB sentiment classification (Sec. 4.1).
    Imdb,
    /// ECG5000 anomaly detection with an autoencoder (Sec. 4.2).
    Ecg,
    /// The copy problem (App. D), generated from a seed.
    Copy,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Imdb => "imdb",
            Task::Ecg => "ecg",
            Task::Copy => "copy",
        })
    }
}

/// `[model]` of an IMDB run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImdbModel {
    /// Recurrent cell: `gru` (paper), `lstm` or `rnn`.
    pub cell: CellKind,
    /// Embedding width (128).
    pub d_embed: usize,
    /// Hidden width (256).
    pub d_hidden: usize,
}

impl Default for ImdbModel {
    fn default() -> Self {
        Self {
            cell: CellKind::Gru,
            d_embed: 128,
            d_hidden: 256,
        }
    }
}

/// `[data]` of an IMDB run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImdbData {
    /// Folder with `aclImdb_v1.tar.gz` and `imdb_wordpiece.vocab`; `None`: `<workspace>/../shared/data`.
    pub data_dir: Option<PathBuf>,
    /// WordPiece vocabulary file; `None`: `imdb_wordpiece.vocab` in `data_dir`.
    pub vocab: Option<PathBuf>,
    /// Reviews longer than this many pieces are dropped (1000 in the paper).
    pub max_len: usize,
    /// Use only this many training reviews (smoke runs); `None`: all.
    pub train_limit: Option<usize>,
    /// Use only this many validation reviews; `None`: all.
    pub val_limit: Option<usize>,
    /// Use only this many test reviews; `None`: all.
    pub test_limit: Option<usize>,
    /// Fraction of the official training set held out for validation.
    pub val_fraction: f64,
    /// Seed of the validation split and of the `*_limit` subsets.
    pub split_seed: u64,
}

impl Default for ImdbData {
    fn default() -> Self {
        Self {
            data_dir: None,
            vocab: None,
            max_len: 1000,
            train_limit: None,
            val_limit: None,
            test_limit: None,
            val_fraction: 0.1,
            split_seed: 42,
        }
    }
}

/// `[train]` of an IMDB run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImdbTrain {
    /// Number of epochs.
    pub epochs: usize,
    /// Reviews per batch (batches are bucketed by length).
    pub batch_size: usize,
    /// Adam learning rate at epoch 1.
    pub lr: f64,
    /// Adam L2 weight decay (added to the gradient, as PyTorch's `Adam(weight_decay=..)`).
    pub weight_decay: f64,
    /// Exponential LR decay per epoch: `lr_e = lr * lr_decay^(e-1)`.
    pub lr_decay: f64,
    /// Clip the global gradient norm to this value; `None`: no clipping.
    pub grad_clip: Option<f64>,
    /// Seed of weights init and batch order.
    pub seed: u64,
    /// Evaluate on the test split after every epoch (else only after the last one).
    pub test_every_epoch: bool,
    /// Batches per length bucket: within each chunk of this many batches reviews are sorted
    /// by length before cutting batches, so little padding is processed.
    pub bucket_batches: usize,
}

impl Default for ImdbTrain {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            lr_decay: 0.7,
            grad_clip: Some(15.0),
            seed: 42,
            test_every_epoch: false,
            bucket_batches: 50,
        }
    }
}

/// A whole IMDB run config (`configs/imdb.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImdbRunConfig {
    /// Always `imdb`.
    pub task: Task,
    /// Model section.
    #[serde(default)]
    pub model: ImdbModel,
    /// Data section.
    #[serde(default)]
    pub data: ImdbData,
    /// Training section.
    #[serde(default)]
    pub train: ImdbTrain,
    /// The Koopman probe during training ([`crate::probe`]).
    #[serde(default)]
    pub probe: ProbeConfig,
}

impl Default for ImdbRunConfig {
    fn default() -> Self {
        Self {
            task: Task::Imdb,
            model: ImdbModel::default(),
            data: ImdbData::default(),
            train: ImdbTrain::default(),
            probe: ProbeConfig::default(),
        }
    }
}

impl ImdbRunConfig {
    /// The model config for a vocabulary of `vocab_size` pieces.
    pub fn model_config(&self, vocab_size: usize) -> SentimentConfig {
        SentimentConfig::new(vocab_size)
            .with_d_embed(self.model.d_embed)
            .with_d_hidden(self.model.d_hidden)
            .with_cell(self.model.cell)
    }
}

/// `[model]` of an ECG run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcgModel {
    /// Recurrent cell of encoder and decoder: `lstm` (paper), `gru` or `rnn`.
    pub cell: CellKind,
    /// Latent width = encoder hidden width (64).
    pub d_latent: usize,
    /// Decoder hidden width (128).
    pub d_decoder: usize,
}

impl Default for EcgModel {
    fn default() -> Self {
        Self {
            cell: CellKind::Lstm,
            d_latent: 64,
            d_decoder: 128,
        }
    }
}

/// `[data]` of an ECG run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcgData {
    /// Folder holding `ECG5000/ECG5000_{TRAIN,TEST}.tsv`; `None`: `<workspace>/../shared/data`.
    pub data_dir: Option<PathBuf>,
    /// Use only this many normal training beats (smoke runs); `None`: all.
    pub train_limit: Option<usize>,
    /// Seed of the shuffle that splits the beats (the split is part of the run).
    pub split_seed: u64,
}

impl Default for EcgData {
    fn default() -> Self {
        Self {
            data_dir: None,
            train_limit: None,
            split_seed: 42,
        }
    }
}

/// `[train]` of an ECG run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcgTrain {
    /// Number of epochs.
    pub epochs: usize,
    /// Beats per batch.
    pub batch_size: usize,
    /// Adam learning rate at the start.
    pub lr: f64,
    /// Adam L2 weight decay.
    pub weight_decay: f64,
    /// Reduce-on-plateau: multiply the LR by this factor ...
    pub plateau_factor: f64,
    /// ... after this many epochs without a better validation loss.
    pub plateau_patience: usize,
    /// Clip the global gradient norm to this value; `None`: no clipping.
    pub grad_clip: Option<f64>,
    /// Seed of weights init and batch order.
    pub seed: u64,
    /// A beat is normal iff its summed L1 loss is below this (26 in the paper).
    pub threshold: f64,
    /// Score the test beats after every epoch (else only the best weights, after the last one).
    /// Informational only (the best epoch is chosen on validation); costs about a third of an
    /// epoch (README, "Speed").
    pub test_every_epoch: bool,
}

impl Default for EcgTrain {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch_size: 8,
            lr: 1e-3,
            weight_decay: 0.0,
            plateau_factor: 0.5,
            plateau_patience: 2,
            grad_clip: None,
            seed: 42,
            threshold: 26.0,
            test_every_epoch: true,
        }
    }
}

/// A whole ECG run config (`configs/ecg.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcgRunConfig {
    /// Always `ecg`.
    pub task: Task,
    /// Model section.
    #[serde(default)]
    pub model: EcgModel,
    /// Data section.
    #[serde(default)]
    pub data: EcgData,
    /// Training section.
    #[serde(default)]
    pub train: EcgTrain,
    /// The Koopman probe during training ([`crate::probe`]).
    #[serde(default)]
    pub probe: ProbeConfig,
}

impl Default for EcgRunConfig {
    fn default() -> Self {
        Self {
            task: Task::Ecg,
            model: EcgModel::default(),
            data: EcgData::default(),
            train: EcgTrain::default(),
            probe: ProbeConfig::default(),
        }
    }
}

impl EcgRunConfig {
    /// The model config for beats of `seq_len` samples.
    pub fn model_config(&self, seq_len: usize) -> EcgAutoencoderConfig {
        EcgAutoencoderConfig::new()
            .with_d_latent(self.model.d_latent)
            .with_d_decoder(self.model.d_decoder)
            .with_seq_len(seq_len)
            .with_cell(self.model.cell)
    }
}

/// `[model]` of a copy-problem run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopyModel {
    /// Recurrent cell: `gru` (default), `lstm` or `rnn`.
    pub cell: CellKind,
    /// Hidden width.
    pub d_hidden: usize,
}

impl Default for CopyModel {
    fn default() -> Self {
        Self {
            cell: CellKind::Gru,
            d_hidden: 64,
        }
    }
}

/// `[data]` of a copy-problem run: the task's sizes and its seeded splits
/// (`kann_data::copy`; no files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopyData {
    /// Length of the string to remember.
    pub len: usize,
    /// Size of the alphabet.
    pub symbols: usize,
    /// Blank steps between the string and the recall cue.
    pub delay: usize,
    /// Training sequences.
    pub train: usize,
    /// Validation sequences.
    pub validation: usize,
    /// Test sequences.
    pub test: usize,
    /// Seed of the generated sequences.
    pub seed: u64,
}

impl Default for CopyData {
    fn default() -> Self {
        Self {
            len: 5,
            symbols: 8,
            delay: 10,
            train: 20_000,
            validation: 1_000,
            test: 2_000,
            seed: 42,
        }
    }
}

/// `[train]` of a copy-problem run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopyTrain {
    /// Number of epochs.
    pub epochs: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam L2 weight decay.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value; `None`: no clipping.
    pub grad_clip: Option<f64>,
    /// Seed of weights init and batch order.
    pub seed: u64,
}

impl Default for CopyTrain {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            grad_clip: Some(5.0),
            seed: 42,
        }
    }
}

/// A whole copy-problem run config (`configs/copy.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyRunConfig {
    /// Always `copy`.
    pub task: Task,
    /// Model section.
    #[serde(default)]
    pub model: CopyModel,
    /// Data section.
    #[serde(default)]
    pub data: CopyData,
    /// Training section.
    #[serde(default)]
    pub train: CopyTrain,
    /// The Koopman probe during training ([`crate::probe`]).
    #[serde(default)]
    pub probe: ProbeConfig,
}

impl Default for CopyRunConfig {
    fn default() -> Self {
        Self {
            task: Task::Copy,
            model: CopyModel::default(),
            data: CopyData::default(),
            train: CopyTrain::default(),
            probe: ProbeConfig::default(),
        }
    }
}

impl CopyRunConfig {
    /// The model config: one-hot input of `symbols + 2` tokens, `symbols + 1` classes.
    pub fn model_config(&self) -> CopyModelConfig {
        CopyModelConfig::new(self.data.symbols + 2, self.data.symbols + 1)
            .with_d_hidden(self.model.d_hidden)
            .with_cell(self.model.cell)
    }

    /// Every numeric setting within its allowed range; the error names each bad key and its range.
    pub fn validate(&self) -> Result<(), String> {
        let mut c = RangeCheck::default();
        c.at_least_1("model.d_hidden", self.model.d_hidden);
        c.at_least_1("data.len", self.data.len);
        if self.data.symbols < 2 {
            c.0.push(format!(
                "data.symbols = {}: must be at least 2",
                self.data.symbols
            ));
        }
        c.at_least_1("data.train", self.data.train);
        c.at_least_1("data.validation", self.data.validation);
        c.at_least_1("data.test", self.data.test);
        c.at_least_1("train.epochs", self.train.epochs);
        c.at_least_1("train.batch_size", self.train.batch_size);
        c.positive("train.lr", self.train.lr);
        c.non_negative("train.weight_decay", self.train.weight_decay);
        if let Some(g) = self.train.grad_clip {
            c.positive("train.grad_clip", g);
        }
        c.budget(|b| self.plan(b));
        c.finish()
    }

    /// The memory the model, one batch and the generated splits would need.
    fn plan(&self, b: &mut budget::Budget) {
        let (m, d) = (&self.model, &self.data);
        let inputs = d.symbols.saturating_add(2);
        b.recurrent_layer("model.d_hidden", m.cell, inputs, m.d_hidden);
        b.dense_layer(
            "data.symbols",
            d.symbols,
            m.d_hidden,
            d.symbols.saturating_add(1),
        );
        let steps = 2.0 * d.len as f64 + d.delay as f64 + 1.0;
        let width = inputs as f64 + (m.cell.gates() * m.d_hidden) as f64 + d.symbols as f64;
        b.data(
            "train.batch_size",
            self.train.batch_size,
            "one batch's activations",
            self.train.batch_size as f64 * steps,
            width * 8.0,
        );
        let sequences = d.train as f64 + d.validation as f64 + d.test as f64;
        b.data(
            "data.train",
            d.train,
            "the generated splits (string, input and target of every sequence)",
            sequences,
            (d.len as f64 + 2.0 * steps) * std::mem::size_of::<usize>() as f64,
        );
    }
}

/// Collects the settings that are out of range, each with its allowed range.
#[derive(Default)]
struct RangeCheck(Vec<String>);

impl RangeCheck {
    fn at_least_1(&mut self, key: &str, v: usize) {
        if v == 0 {
            self.0.push(format!("{key} = 0: must be at least 1"));
        }
    }
    fn opt_at_least_1(&mut self, key: &str, v: Option<usize>) {
        if let Some(v) = v {
            self.at_least_1(key, v);
        }
    }
    /// `lo < v` (or `lo <= v` when `lo_closed`) and `v <= hi` (or `v < hi`), `v` finite.
    fn range(&mut self, key: &str, v: f64, lo: f64, lo_closed: bool, hi: f64, hi_closed: bool) {
        let ok = v.is_finite()
            && (if lo_closed { v >= lo } else { v > lo })
            && (if hi_closed { v <= hi } else { v < hi });
        if !ok {
            let lo_s = if lo_closed {
                format!(">= {lo}")
            } else {
                format!("> {lo}")
            };
            let allowed = if hi.is_infinite() {
                format!("a finite number {lo_s}")
            } else {
                let hi_s = if hi_closed {
                    format!("<= {hi}")
                } else {
                    format!("< {hi}")
                };
                format!("a number {lo_s} and {hi_s}")
            };
            self.0.push(format!("{key} = {v}: must be {allowed}"));
        }
    }
    fn positive(&mut self, key: &str, v: f64) {
        self.range(key, v, 0.0, false, f64::INFINITY, false);
    }
    fn non_negative(&mut self, key: &str, v: f64) {
        self.range(key, v, 0.0, true, f64::INFINITY, false);
    }
    /// Adds the parts of `plan` whose memory is over [`MAX_PLANNED_BYTES`]; skipped when a size
    /// is already out of range (its estimate would mean nothing).
    fn budget(&mut self, plan: impl FnOnce(&mut budget::Budget)) {
        if self.0.is_empty() {
            let mut b = budget::Budget::default();
            plan(&mut b);
            self.0.extend(b.0);
        }
    }
    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("; "))
        }
    }
}

impl ImdbRunConfig {
    /// Every numeric setting within its allowed range; the error names each bad key and its range.
    pub fn validate(&self) -> Result<(), String> {
        let mut c = RangeCheck::default();
        c.at_least_1("model.d_embed", self.model.d_embed);
        c.at_least_1("model.d_hidden", self.model.d_hidden);
        c.at_least_1("data.max_len", self.data.max_len);
        c.opt_at_least_1("data.train_limit", self.data.train_limit);
        c.opt_at_least_1("data.val_limit", self.data.val_limit);
        c.opt_at_least_1("data.test_limit", self.data.test_limit);
        c.range(
            "data.val_fraction",
            self.data.val_fraction,
            0.0,
            false,
            1.0,
            false,
        );
        c.at_least_1("train.epochs", self.train.epochs);
        c.at_least_1("train.batch_size", self.train.batch_size);
        c.positive("train.lr", self.train.lr);
        c.non_negative("train.weight_decay", self.train.weight_decay);
        c.range("train.lr_decay", self.train.lr_decay, 0.0, false, 1.0, true);
        if let Some(g) = self.train.grad_clip {
            c.positive("train.grad_clip", g);
        }
        c.at_least_1("train.bucket_batches", self.train.bucket_batches);
        c.budget(|b| {
            let m = &self.model;
            b.recurrent_layer("model.d_hidden", m.cell, m.d_embed, m.d_hidden);
            let width = m
                .d_embed
                .saturating_add(m.cell.gates().saturating_mul(m.d_hidden));
            b.activations(
                "data.max_len",
                self.data.max_len,
                self.train.batch_size,
                self.data.max_len,
                width,
            );
        });
        c.finish()
    }
}

impl EcgRunConfig {
    /// Every numeric setting within its allowed range; the error names each bad key and its range.
    pub fn validate(&self) -> Result<(), String> {
        let mut c = RangeCheck::default();
        c.at_least_1("model.d_latent", self.model.d_latent);
        c.at_least_1("model.d_decoder", self.model.d_decoder);
        c.opt_at_least_1("data.train_limit", self.data.train_limit);
        c.at_least_1("train.epochs", self.train.epochs);
        c.at_least_1("train.batch_size", self.train.batch_size);
        c.positive("train.lr", self.train.lr);
        c.non_negative("train.weight_decay", self.train.weight_decay);
        c.range(
            "train.plateau_factor",
            self.train.plateau_factor,
            0.0,
            false,
            1.0,
            true,
        );
        if let Some(g) = self.train.grad_clip {
            c.positive("train.grad_clip", g);
        }
        c.positive("train.threshold", self.train.threshold);
        c.budget(|b| {
            let m = &self.model;
            b.recurrent_layer("model.d_latent", m.cell, 1, m.d_latent);
            b.recurrent_layer("model.d_decoder", m.cell, m.d_latent, m.d_decoder);
            let gates = m.cell.gates();
            let width = gates.saturating_mul(m.d_latent.saturating_add(m.d_decoder));
            b.activations(
                "train.batch_size",
                self.train.batch_size,
                self.train.batch_size,
                budget::ECG_STEPS,
                width,
            );
        });
        c.finish()
    }
}

/// A run config of either task.
#[derive(Debug, Clone, PartialEq)]
pub enum RunConfig {
    /// IMDB sentiment.
    Imdb(ImdbRunConfig),
    /// ECG autoencoder.
    Ecg(EcgRunConfig),
    /// The copy problem.
    Copy(CopyRunConfig),
}

impl RunConfig {
    /// The task.
    pub fn task(&self) -> Task {
        match self {
            RunConfig::Imdb(_) => Task::Imdb,
            RunConfig::Ecg(_) => Task::Ecg,
            RunConfig::Copy(_) => Task::Copy,
        }
    }

    /// The `[probe]` section.
    pub fn probe(&self) -> &ProbeConfig {
        match self {
            RunConfig::Imdb(c) => &c.probe,
            RunConfig::Ecg(c) => &c.probe,
            RunConfig::Copy(c) => &c.probe,
        }
    }

    /// The `[probe]` section, to change.
    pub fn probe_mut(&mut self) -> &mut ProbeConfig {
        match self {
            RunConfig::Imdb(c) => &mut c.probe,
            RunConfig::Ecg(c) => &mut c.probe,
            RunConfig::Copy(c) => &mut c.probe,
        }
    }

    /// Every numeric setting within its allowed range (see `validate` of each task's config).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            RunConfig::Imdb(c) => c.validate(),
            RunConfig::Ecg(c) => c.validate(),
            RunConfig::Copy(c) => c.validate(),
        }
    }

    /// Parse TOML text and check every value's range; `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let config = Self::parse_toml(text, origin)?;
        config.validate().map_err(|message| ModelError::Config {
            path: origin.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    fn parse_toml(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::Config {
            path: origin.to_path_buf(),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let task = table
            .get("task")
            .ok_or_else(|| err("missing key `task` (\"imdb\", \"ecg\" or \"copy\")".into()))?;
        match task.as_str() {
            Some("imdb") => Ok(RunConfig::Imdb(
                toml::from_str(text).map_err(|e| err(e.to_string()))?,
            )),
            Some("ecg") => Ok(RunConfig::Ecg(
                toml::from_str(text).map_err(|e| err(e.to_string()))?,
            )),
            Some("copy") => Ok(RunConfig::Copy(
                toml::from_str(text).map_err(|e| err(e.to_string()))?,
            )),
            _ => Err(err(format!(
                "`task = {task}` is not a task; expected \"imdb\", \"ecg\" or \"copy\""
            ))),
        }
    }

    /// Read and parse a TOML config file. A run's `config.toml` is checked against the checksum
    /// `train` wrote beside it ([`crate::integrity::read_verified`]); a file without one (a
    /// user's config) is read as it is.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = crate::run::read_checked_text(path)?;
        Self::from_toml_str(&text, path)
    }

    /// Serialize as TOML.
    pub fn to_toml_string(&self) -> Result<String, ModelError> {
        let result = match self {
            RunConfig::Imdb(c) => toml::to_string_pretty(c),
            RunConfig::Ecg(c) => toml::to_string_pretty(c),
            RunConfig::Copy(c) => toml::to_string_pretty(c),
        };
        result.map_err(|e| ModelError::Record(format!("cannot serialize config: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let text = "task = \"imdb\"\n[train]\nepochs = 2\nlearning_rate = 0.1\n";
        let err = RunConfig::from_toml_str(text, Path::new("x.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("learning_rate") && msg.contains("x.toml"),
            "{msg}"
        );
    }

    #[test]
    fn missing_or_bad_task_is_an_error() {
        assert!(RunConfig::from_toml_str("[train]\n", Path::new("a.toml")).is_err());
        let err = RunConfig::from_toml_str("task = \"mnist\"\n", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("mnist"));
    }

    #[test]
    fn out_of_range_values_are_errors_naming_key_and_range() {
        for (text, key, range) in [
            ("task = \"ecg\"\n[train]\nlr = -0.001\n", "train.lr", "> 0"),
            (
                "task = \"imdb\"\n[train]\nlr_decay = -0.5\n",
                "train.lr_decay",
                "<= 1",
            ),
            (
                "task = \"imdb\"\n[train]\ngrad_clip = -1.0\n",
                "train.grad_clip",
                "> 0",
            ),
            (
                "task = \"ecg\"\n[train]\ngrad_clip = -1.0\n",
                "train.grad_clip",
                "> 0",
            ),
            (
                "task = \"ecg\"\n[train]\nthreshold = nan\n",
                "train.threshold",
                "finite",
            ),
            (
                "task = \"ecg\"\n[train]\nepochs = 0\n",
                "train.epochs",
                "at least 1",
            ),
            (
                "task = \"imdb\"\n[model]\nd_hidden = 0\n",
                "model.d_hidden",
                "at least 1",
            ),
            (
                "task = \"imdb\"\n[model]\nd_embed = 0\n",
                "model.d_embed",
                "at least 1",
            ),
            (
                "task = \"ecg\"\n[model]\nd_latent = 0\n",
                "model.d_latent",
                "at least 1",
            ),
            (
                "task = \"ecg\"\n[model]\nd_decoder = 0\n",
                "model.d_decoder",
                "at least 1",
            ),
            (
                "task = \"imdb\"\n[data]\nval_fraction = 0.0\n",
                "data.val_fraction",
                "> 0",
            ),
            (
                "task = \"imdb\"\n[train]\nweight_decay = inf\n",
                "train.weight_decay",
                ">= 0",
            ),
        ] {
            let err = RunConfig::from_toml_str(text, Path::new("v.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("v.toml") && err.contains(key) && err.contains(range),
                "{text}: {err}"
            );
        }
        // Every shipped default is valid.
        ImdbRunConfig::default().validate().unwrap();
        EcgRunConfig::default().validate().unwrap();
        CopyRunConfig::default().validate().unwrap();
    }

    #[test]
    fn copy_config_checks_its_keys_and_round_trips() {
        for (text, key) in [
            ("task = \"copy\"\n[data]\nsymbols = 1\n", "data.symbols"),
            ("task = \"copy\"\n[data]\nlen = 0\n", "data.len"),
            ("task = \"copy\"\n[data]\ntest = 0\n", "data.test"),
            ("task = \"copy\"\n[train]\nlr = 0.0\n", "train.lr"),
            ("task = \"copy\"\n[model]\nd_hidden = 0\n", "model.d_hidden"),
            ("task = \"copy\"\n[data]\nlength = 5\n", "length"),
        ] {
            let err = RunConfig::from_toml_str(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("c.toml") && err.contains(key), "{text}: {err}");
        }
        let mut c = CopyRunConfig::default();
        c.data.delay = 17;
        let c = RunConfig::Copy(c);
        assert_eq!(c.task(), Task::Copy);
        let text = c.to_toml_string().unwrap();
        assert_eq!(
            RunConfig::from_toml_str(&text, Path::new("r.toml")).unwrap(),
            c
        );
    }

    #[test]
    fn the_ecg_budget_uses_the_data_sets_beat_length() {
        assert_eq!(budget::ECG_STEPS, kann_data::ecg::SERIES_LEN);
    }

    #[test]
    fn sizes_whose_memory_is_out_of_bounds_are_errors_naming_key_and_memory() {
        for (text, key) in [
            (
                "task = \"imdb\"\n[model]\nd_hidden = 1000000000\n",
                "model.d_hidden",
            ),
            (
                "task = \"imdb\"\n[data]\nmax_len = 100000000\n",
                "data.max_len",
            ),
            (
                "task = \"ecg\"\n[model]\nd_latent = 200000\n",
                "model.d_latent",
            ),
            (
                "task = \"copy\"\n[model]\nd_hidden = 1000000000\n",
                "model.d_hidden",
            ),
            (
                "task = \"copy\"\n[data]\nsymbols = 1000000000\n",
                "data.symbols",
            ),
            ("task = \"copy\"\n[data]\nlen = 1000000000\n", "data.train"),
            (
                "task = \"copy\"\n[data]\ndelay = 10000000000\n",
                "data.train",
            ),
            (
                "task = \"copy\"\n[data]\ntrain = 10000000000\n",
                "data.train",
            ),
        ] {
            let err = RunConfig::from_toml_str(text, Path::new("b.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("b.toml") && err.contains(key) && err.contains("would need about"),
                "{text}: {err}"
            );
        }
        // The paper's sizes and the defaults are well inside the bounds.
        RunConfig::from_toml_str("task = \"imdb\"\n", Path::new("d.toml")).unwrap();
        RunConfig::from_toml_str("task = \"ecg\"\n", Path::new("d.toml")).unwrap();
        RunConfig::from_toml_str("task = \"copy\"\n", Path::new("d.toml")).unwrap();
    }

    #[test]
    fn round_trip_keeps_every_value() {
        let mut c = EcgRunConfig::default();
        c.train.epochs = 7;
        c.model.cell = CellKind::Gru;
        let c = RunConfig::Ecg(c);
        let text = c.to_toml_string().unwrap();
        assert_eq!(
            RunConfig::from_toml_str(&text, Path::new("r.toml")).unwrap(),
            c
        );
    }
}
