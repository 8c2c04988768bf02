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

use crate::atomic::write_atomic;
use crate::autoencoder::{EcgAutoencoder, EcgAutoencoderConfig};
use crate::config::{RunConfig, Task};
use crate::copy::{CopyModel, CopyModelConfig};
use crate::error::ModelError;
use crate::integrity::{read_verified, write_checked};
use crate::sentiment::{SentimentConfig, SentimentModel};

/// Resolved config file name.
pub const CONFIG_FILE: &str = "config.toml";
/// Model shape file name.
pub const MODEL_SPEC_FILE: &str = "model.json";
/// Weights file name (for analysis).
pub const WEIGHTS_FILE: &str = "model.bpk";
/// Tokenizer vocabulary file name (IMDB).
pub const VOCAB_FILE: &str = "vocab.txt";
/// Per-epoch metrics file name.
pub const METRICS_FILE: &str = "metrics.csv";
/// Log file name.
pub const LOG_FILE: &str = "train.log";
/// Final numbers file name.
pub const SUMMARY_FILE: &str = "summary.json";
/// Resume checkpoint folder name.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Marker of an analysis that has not finished (see the layout table).
pub const ANALYSIS_INCOMPLETE_FILE: &str = "analysis.incomplete";
pub use crate::lock::LOCK_FILE;

/// What a folder holds, for the one rule of who may write into it ([`classify_run_dir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderContent {
    /// Absent, or empty apart from `run.lock` and temporary files of killed writes.
    Empty,
    /// A kann run (it has `config.toml`): `resumable` when its checkpoint names a finished epoch.
    /// A finished run whose `checkpoint/LATEST` was lost, or an imported run (no checkpoint), is
    /// still a run: it is never silently replaced by a fresh start.
    Run {
        /// Whether `checkpoint/LATEST` exists (so `--resume` can continue it).
        resumable: bool,
    },
    /// Anything else: files kann did not write (the first few named).
    Foreign(Vec<String>),
}

/// The one "may a fresh run write here?" rule: only a folder that is [`FolderContent::Empty`].
/// `train` and `train import` call it under the folder's lock before writing anything; a
/// [`FolderContent::Run`] is continued only with `--resume`, and a [`FolderContent::Foreign`]
/// folder is never written.
pub fn classify_run_dir(dir: &Path) -> Result<FolderContent, ModelError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FolderContent::Empty),
        Err(e) => return Err(ModelError::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK_FILE && !crate::atomic::is_temp_name(n))
        .collect();
    if names.is_empty() {
        return Ok(FolderContent::Empty);
    }
    if dir.join(CONFIG_FILE).is_file() {
        let resumable = dir.join(CHECKPOINT_DIR).join("LATEST").is_file();
        return Ok(FolderContent::Run { resumable });
    }
    names.sort();
    names.truncate(5);
    Ok(FolderContent::Foreign(names))
}

/// Files of an analysis written into a run folder (`analyze imdb|ecg|copy`).
const REPORT_FILES: [&str; 2] = ["report.json", "report.md"];

/// Marks the analysis in `dir` (if any) as stale by writing [`ANALYSIS_INCOMPLETE_FILE`] with
/// `why`: `train --resume` calls it before training on, so the old `report.json`, `report.md`
/// and figures, which describe the earlier weights, are never taken for current ones. The next
/// `analyze` of the run replaces the marker (and removes it when it finishes). Returns whether a
/// report was there to mark.
pub fn mark_analysis_stale(dir: &Path, why: &str) -> Result<bool, ModelError> {
    if !REPORT_FILES.iter().any(|f| dir.join(f).exists()) {
        return Ok(false);
    }
    let text = format!(
        "The analysis in this folder is stale: {why}.\n\
         report.json, report.md and the figures here describe earlier weights; run the analysis \
         again (this file goes when it finishes).\n"
    );
    write_atomic(&dir.join(ANALYSIS_INCOMPLETE_FILE), text.as_bytes())?;
    Ok(true)
}

/// Whether the analysis report in `dir` may be used as current: `report.json` exists, no
/// [`ANALYSIS_INCOMPLETE_FILE`] marks it, and it is not older than the weights `model.bpk`.
pub fn report_is_current(dir: &Path) -> bool {
    let report = dir.join("report.json");
    let (Ok(r), false) = (
        std::fs::metadata(&report),
        dir.join(ANALYSIS_INCOMPLETE_FILE).exists(),
    ) else {
        return false;
    };
    match (
        r.modified(),
        std::fs::metadata(dir.join(WEIGHTS_FILE)).and_then(|m| m.modified()),
    ) {
        (Ok(report), Ok(weights)) => report >= weights,
        _ => r.is_file(),
    }
}

/// One row of `metrics.csv`: `train` writes one per epoch, `analyze` reads them back (by column
/// name) for the training curves and the accuracies of a run without `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used in this epoch (NaN when a file does not record it).
    #[serde(default = "not_recorded", deserialize_with = "nan_if_null")]
    pub lr: f64,
    /// Mean training loss over the epoch's batches.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    /// Training accuracy over the epoch (running, as the model changed).
    #[serde(deserialize_with = "nan_if_null")]
    pub train_acc: f64,
    /// Validation loss.
    #[serde(deserialize_with = "nan_if_null")]
    pub val_loss: f64,
    /// Validation accuracy.
    #[serde(deserialize_with = "nan_if_null")]
    pub val_acc: f64,
    /// Test loss (NaN when not evaluated).
    #[serde(deserialize_with = "nan_if_null")]
    pub test_loss: f64,
    /// Test accuracy (NaN when not evaluated).
    #[serde(deserialize_with = "nan_if_null")]
    pub test_acc: f64,
    /// Seconds spent training this epoch (NaN when a file does not record it).
    #[serde(default = "not_recorded", deserialize_with = "nan_if_null")]
    pub train_seconds: f64,
    /// Seconds spent evaluating this epoch (NaN when a file does not record it).
    #[serde(default = "not_recorded", deserialize_with = "nan_if_null")]
    pub eval_seconds: f64,
}

fn not_recorded() -> f64 {
    f64::NAN
}

/// A number, or NaN for `null`: JSON has no NaN, so serde_json writes a NaN (a test loss not
/// evaluated) as `null`, and a checkpoint's `state.json` must read it back.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Header of `metrics.csv` (the fields of [`EpochMetrics`], in order).
pub const METRICS_HEADER: &str =
    "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,train_seconds,eval_seconds";

/// `rows` as CSV: a header of the field names, then one line a row (no header for no rows).
/// Floats are written in full (shortest exact) precision, `NaN` and `inf` as such.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.error().to_string())
}

/// Writes `rows` as the CSV file `path` ([`csv_bytes`]), atomically, with its checksum sidecar
/// ([`write_checked`]).
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), ModelError> {
    let bytes = csv_bytes(rows).map_err(|message| ModelError::Csv {
        path: path.to_path_buf(),
        message,
    })?;
    write_checked(path, &bytes)
}

/// Reads the CSV file `path` written by [`write_csv`] (columns by header name, values trimmed),
/// checked against its sidecar; a missing file, a changed file, a missing column or a bad value
/// is an error naming the file (and the line).
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, ModelError> {
    let (bytes, _) = read_verified(path)?;
    let csv_err = |e: csv::Error| ModelError::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice())
        .deserialize()
        .map(|row| row.map_err(csv_err))
        .collect()
}

/// Rewrites `<dir>/metrics.csv` with all rows (atomically, checked); with no rows, the header.
pub fn write_metrics(dir: &Path, rows: &[EpochMetrics]) -> Result<(), ModelError> {
    let path = dir.join(METRICS_FILE);
    if rows.is_empty() {
        return write_checked(&path, format!("{METRICS_HEADER}\n").as_bytes());
    }
    write_csv(&path, rows)
}

/// Reads `<dir>/metrics.csv` ([`read_csv`]): columns by header name (others are ignored; `lr` and
/// the seconds may be absent), values trimmed, `NaN` for a split that was not measured. A changed
/// file, a missing column or a value that is not a number is an error naming the file and line.
pub fn read_metrics(dir: &Path) -> Result<Vec<EpochMetrics>, ModelError> {
    read_csv(&dir.join(METRICS_FILE))
}

/// Reads a run file as text after checking it against its sidecar ([`read_verified`]).
pub fn read_checked_text(path: &Path) -> Result<String, ModelError> {
    let (bytes, _) = read_verified(path)?;
    String::from_utf8(bytes)
        .map_err(|e| ModelError::Integrity(format!("{}: not UTF-8 text: {e}", path.display())))
}

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
    write_checked(&dir.join(MODEL_SPEC_FILE), json.as_bytes())
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
    fn metrics_csv_has_the_documented_header_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        write_metrics(dir.path(), &[row(1), row(2)]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(METRICS_HEADER));
        assert_eq!(
            lines.next(),
            Some("1,0.001,0.5,0.75,0.25,0.875,NaN,NaN,1.5,0.5")
        );
        let back = read_metrics(dir.path()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[1].epoch, back[1].val_acc), (2, 0.875));
        assert!(back[1].test_loss.is_nan());
        // No epoch yet: the header alone, read as no rows.
        write_metrics(dir.path(), &[]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(text, format!("{METRICS_HEADER}\n"));
        assert!(read_metrics(dir.path()).unwrap().is_empty());
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

    #[test]
    fn metrics_are_read_by_column_name_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(METRICS_FILE);
        // Reordered, padded, an unknown column, no lr or seconds, `nan` in lower case.
        std::fs::write(
            &path,
            "val_acc,epoch,train_loss,train_acc,val_loss,test_loss,test_acc,extra\n\
             0.875,1,0.5,0.75,0.25,NaN,nan,x\n\
             0.9, 2 ,0.4,0.8,0.2,0.3,0.85,y\n",
        )
        .unwrap();
        let rows = read_metrics(dir.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].epoch, rows[0].val_acc), (1, 0.875));
        assert!(rows[0].test_loss.is_nan() && rows[0].test_acc.is_nan());
        assert!(rows[0].lr.is_nan() && rows[1].eval_seconds.is_nan());
        assert_eq!((rows[1].epoch, rows[1].test_acc), (2, 0.85));
        // A missing column and a bad number are errors that name the file and the line.
        std::fs::write(&path, "epoch,train_loss\n1,0.5\n").unwrap();
        let e = read_metrics(dir.path()).unwrap_err().to_string();
        assert!(e.contains("metrics.csv") && e.contains("train_acc"), "{e}");
        std::fs::write(
            &path,
            "epoch,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc\n1,0.5,abc,0,0,0,0\n",
        )
        .unwrap();
        let e = read_metrics(dir.path()).unwrap_err().to_string();
        assert!(e.contains("metrics.csv") && e.contains("line: 2"), "{e}");
        // No file: an I/O error naming it.
        std::fs::remove_file(&path).unwrap();
        let e = read_metrics(dir.path()).unwrap_err().to_string();
        assert!(e.contains("metrics.csv"), "{e}");
    }
}
