//! The run folder that `train` writes and `analyze` reads.
//!
//! Layout of `results/<run>/`:
//!
//! | file | content |
//! | --- | --- |
//! | `config.toml` | the resolved [`RunConfig`] (every key, flags applied) |
//! | `model.json` | the model's shape ([`ModelSpec`]), enough to rebuild it |
//! | `model.bpk` | weights (burnpack): IMDB after the last epoch, ECG best validation loss |
//! | `model.bpk.crc32` | length and CRC-32 of `model.bpk`, checked on every load ([`crate::integrity`]) |
//! | `vocab.txt` | IMDB: the WordPiece vocabulary the run used (line number = id) |
//! | `metrics.csv` | one row per epoch ([`EpochMetrics`]): loss and accuracy per split, learning rate, seconds |
//! | `train.log` | the log of the run |
//! | `summary.json` | final numbers (test accuracy, wall time, ...) |
//! | `checkpoint/` | state of the last finished epoch for `--resume`: `LATEST` names a complete folder `epoch-NNNN/` holding `model.bpk`, `optim.bpk`, `state.json` (ECG also `best.bpk`) and `manifest.json` (their lengths and CRC-32s, written last) |
//! | `ecg_scores.csv`, `roc.csv` | ECG: summed L1 loss of every val/test beat; ROC of the threshold rule |
//! | `run.lock` | who is writing into the folder ([`crate::lock`]); only the OS lock on it counts |
//! | `analysis.incomplete` | present while `analyze` is writing (or after it failed): the report and figures are not one whole analysis |
//!
//! Every file is written atomically (temporary file, then rename). The CSV files are written and
//! read with the csv crate ([`write_csv`], [`write_metrics`], [`read_metrics`]).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::autoencoder::{EcgAutoencoder, EcgAutoencoderConfig};
use crate::config::{RunConfig, Task};
use crate::copy::{CopyModel, CopyModelConfig};
use crate::error::ModelError;
use crate::integrity::{read_verified, write_checked};
use crate::sentiment::{SentimentConfig, SentimentModel};

pub use kann_run::folder::*;

/// The model's shape, stored as `model.json` so the weights can be applied to a model of the
/// right size without the data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum ModelSpec {
    /// The IMDB classifier.
    Sentiment(SentimentConfig),
    /// The ECG autoencoder.
    Ecg(EcgAutoencoderConfig),
    /// The copy-problem model.
    Copy(CopyModelConfig),
}

/// A model rebuilt from a run folder.
// One value per loaded run, never stored in bulk: boxing would only complicate matching.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RunModel {
    /// The IMDB classifier.
    Sentiment(SentimentModel),
    /// The ECG autoencoder.
    Ecg(EcgAutoencoder),
    /// The copy-problem model.
    Copy(CopyModel),
}

/// Everything `analyze` needs from a run folder.
#[derive(Debug)]
pub struct LoadedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// The resolved config the run trained with.
    pub config: RunConfig,
    /// The model shape.
    pub spec: ModelSpec,
    /// The model with the run's weights.
    pub model: RunModel,
    /// IMDB: the run's vocabulary file (`vocab.txt`); `None` for ECG.
    pub vocab: Option<PathBuf>,
}

fn run_err(dir: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Run {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

/// Write the resolved config and model shape into `dir` (atomically).
pub fn write_run_header(
    dir: &Path,
    config: &RunConfig,
    spec: &ModelSpec,
) -> Result<(), ModelError> {
    write_checked(&dir.join(CONFIG_FILE), config.to_toml_string()?.as_bytes())?;
    let json = serde_json::to_string_pretty(spec)
        .map_err(|e| ModelError::Record(format!("cannot serialize model spec: {e}")))?;
    Ok(write_checked(&dir.join(MODEL_SPEC_FILE), json.as_bytes())?)
}

/// Read `model.json` from a run folder (checked against its sidecar).
pub fn read_model_spec(dir: &Path) -> Result<ModelSpec, ModelError> {
    let path = dir.join(MODEL_SPEC_FILE);
    let text = read_checked_text(&path)?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path,
        message: e.to_string(),
    })
}

/// Apply the burnpack weights at `path` to `module` after checking them against their checksum
/// sidecar (errors name the file and the mismatch; see [`crate::integrity`]).
pub fn load_weights<M: Module>(module: M, path: &Path) -> Result<M, ModelError> {
    crate::integrity::load_weights_verified(module, path)
}

/// Load a finished run: config, model shape, weights (`model.bpk`) and vocabulary, on `device`.
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun, ModelError> {
    if !dir.is_dir() {
        return Err(run_err(dir, "not a folder"));
    }
    let config = RunConfig::load(&dir.join(CONFIG_FILE))?;
    let spec = read_model_spec(dir)?;
    let weights = dir.join(WEIGHTS_FILE);
    let model = match (&spec, config.task()) {
        (ModelSpec::Sentiment(c), Task::Imdb) => {
            RunModel::Sentiment(load_weights(c.init(device), &weights)?)
        }
        (ModelSpec::Ecg(c), Task::Ecg) => RunModel::Ecg(load_weights(c.init(device), &weights)?),
        (ModelSpec::Copy(c), Task::Copy) => RunModel::Copy(load_weights(c.init(device), &weights)?),
        (_, task) => {
            return Err(run_err(
                dir,
                format!("{MODEL_SPEC_FILE} does not describe a model of task `{task}`"),
            ));
        }
    };
    let vocab = match config.task() {
        Task::Imdb => {
            let v = dir.join(VOCAB_FILE);
            if !v.is_file() {
                return Err(run_err(dir, format!("missing {VOCAB_FILE}")));
            }
            // Checked here; the tokenizer reads the file itself later.
            read_verified(&v)?;
            Some(v)
        }
        Task::Ecg | Task::Copy => None,
    };
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        config,
        spec,
        model,
        vocab,
    })
}

/// Load an IMDB run: the classifier and the path of its vocabulary.
pub fn load_sentiment_run(
    dir: &Path,
    device: &Device,
) -> Result<(SentimentModel, RunConfig, PathBuf), ModelError> {
    let run = load_run(dir, device)?;
    match (run.model, run.vocab) {
        (RunModel::Sentiment(m), Some(v)) => Ok((m, run.config, v)),
        _ => Err(run_err(dir, "not an IMDB run")),
    }
}

/// Load an ECG run: the autoencoder.
pub fn load_ecg_run(
    dir: &Path,
    device: &Device,
) -> Result<(EcgAutoencoder, RunConfig), ModelError> {
    let run = load_run(dir, device)?;
    match run.model {
        RunModel::Ecg(m) => Ok((m, run.config)),
        _ => Err(run_err(dir, "not an ECG run")),
    }
}

/// Load a copy-problem run: the model.
pub fn load_copy_run(dir: &Path, device: &Device) -> Result<(CopyModel, RunConfig), ModelError> {
    let run = load_run(dir, device)?;
    match run.model {
        RunModel::Copy(m) => Ok((m, run.config)),
        _ => Err(run_err(dir, "not a copy-problem run")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize) -> EpochMetrics {
        EpochMetrics {
            epoch,
            lr: 1e-3,
            train_loss: 0.5,
            train_acc: 0.75,
            val_loss: 0.25,
            val_acc: 0.875,
            test_loss: f64::NAN,
            test_acc: f64::NAN,
            train_seconds: 1.5,
            eval_seconds: 0.5,
        }
    }

    #[test]
    fn a_changed_run_file_is_refused_naming_it_and_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        write_metrics(dir.path(), &[row(1), row(2)]).unwrap();
        let path = dir.path().join(METRICS_FILE);
        assert!(dir.path().join("metrics.csv.crc32").is_file());
        // One digit of one accuracy edited: same length, different bytes.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("0.875", "0.975", 1)).unwrap();
        let e = read_metrics(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("metrics.csv") && e.contains("metrics.csv.crc32") && e.contains("changed"),
            "{e}"
        );
        // The config and model shape of a run are checked the same way.
        let config = RunConfig::Copy(crate::config::CopyRunConfig::default());
        let spec = ModelSpec::Copy(CopyModelConfig::new(10, 9));
        write_run_header(dir.path(), &config, &spec).unwrap();
        read_model_spec(dir.path()).unwrap();
        let spec_path = dir.path().join(MODEL_SPEC_FILE);
        let text = std::fs::read_to_string(&spec_path).unwrap();
        std::fs::write(&spec_path, text.replacen("10", "11", 1)).unwrap();
        let e = read_model_spec(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.json") && e.contains("changed"), "{e}");
    }
}
