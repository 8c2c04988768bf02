//! The run folder that `train` writes and `analyze` reads: the names of its files, the one rule
//! of who may write into a folder ([`classify_run_dir`]), the analysis marker
//! ([`ANALYSIS_INCOMPLETE_FILE`], [`mark_analysis_stale`], [`report_is_current`]) and the
//! per-epoch metrics table. The layout table, with what each file holds, is in
//! `kann_models::run` (which rebuilds a run's model) and docs/architecture.md.
//!
//! Every file is written atomically ([`crate::atomic`]); the files a result depends on carry a
//! checksum sidecar ([`crate::integrity`]). The CSV files are written and read with the csv
//! crate ([`write_csv`], [`write_metrics`], [`read_metrics`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::RunError;
use crate::integrity::{read_verified, write_checked};

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
pub fn classify_run_dir(dir: &Path) -> Result<FolderContent, RunError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FolderContent::Empty),
        Err(e) => return Err(RunError::io(dir, e)),
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
pub fn mark_analysis_stale(dir: &Path, why: &str) -> Result<bool, RunError> {
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
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), RunError> {
    let bytes = csv_bytes(rows).map_err(|message| RunError::Csv {
        path: path.to_path_buf(),
        message,
    })?;
    write_checked(path, &bytes)
}

/// Reads the CSV file `path` written by [`write_csv`] (columns by header name, values trimmed),
/// checked against its sidecar; a missing file, a changed file, a missing column or a bad value
/// is an error naming the file (and the line).
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, RunError> {
    let (bytes, _) = read_verified(path)?;
    let csv_err = |e: csv::Error| RunError::Csv {
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
pub fn write_metrics(dir: &Path, rows: &[EpochMetrics]) -> Result<(), RunError> {
    let path = dir.join(METRICS_FILE);
    if rows.is_empty() {
        return write_checked(&path, format!("{METRICS_HEADER}\n").as_bytes());
    }
    write_csv(&path, rows)
}

/// Reads `<dir>/metrics.csv` ([`read_csv`]): columns by header name (others are ignored; `lr` and
/// the seconds may be absent), values trimmed, `NaN` for a split that was not measured. A changed
/// file, a missing column or a value that is not a number is an error naming the file and line.
pub fn read_metrics(dir: &Path) -> Result<Vec<EpochMetrics>, RunError> {
    read_csv(&dir.join(METRICS_FILE))
}

/// Reads a run file as text after checking it against its sidecar ([`read_verified`]).
pub fn read_checked_text(path: &Path) -> Result<String, RunError> {
    let (bytes, _) = read_verified(path)?;
    String::from_utf8(bytes)
        .map_err(|e| RunError::Integrity(format!("{}: not UTF-8 text: {e}", path.display())))
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
