//! Datasets (IMDB, ECG5000), WordPiece tokenizer, batching and download for kann, the
//! reproduction of "Koopman analysis of sequence models" (paper Sec. 4.1 and 4.2).
//!
//! Plain Rust data (no tensor library): the training code turns [`batch::Batch`] /
//! [`batch::EcgBatch`] into tensors.
//!
//! # Public API
//!
//! ```no_run
//! use kann_data::{batch, ecg, imdb, tokenizer};
//! # fn main() -> kann_data::Result<()> {
//! // Data location: explicit path > env KANN_DATA_DIR > `data/`.
//! let dir = kann_data::resolve_data_dir(None);
//!
//! // IMDB: from `aclImdb_v1.tar.gz` (streamed) or an extracted `aclImdb/`.
//! let imdb = imdb::ImdbDataset::load(&dir)?; // 25,000 train + 25,000 test reviews
//! let splits = imdb.split_validation(0.1, 42)?; // seeded, stratified by label
//!
//! // Tokenizer: the paper's vocabulary file, or a vocabulary trained on the training split.
//! let tok = tokenizer::Tokenizer::from_vocab_file(dir.join("imdb_wordpiece.vocab"))?;
//! let texts: Vec<&str> = splits.train.iter().map(|r| r.text.as_str()).collect();
//! let trained = tokenizer::Tokenizer::train(&texts, &tokenizer::TrainConfig::default())?;
//! trained.save_vocab("results/run/vocab.txt")?; // same format as the paper's file
//! let enc = tok.encode("Watched this on KQED, with Frank Baxter commenting,");
//! assert_eq!(enc.pieces[3..6], ["k", "##q", "##ed,"]);
//!
//! // Batches: drop reviews of more than 1000 pieces (the paper), pad with id 0 + mask.
//! let ids = tok.encode_ids_batch(&texts);
//! let labels = splits.train.iter().map(|r| r.label as f32).collect();
//! let batcher = batch::TextBatcher::new(ids, labels, batch::BatchConfig::default())?;
//! for b in batcher.batches(0) { let _ = (b.ids, b.mask, b.lengths, b.labels); }
//!
//! // ECG5000: train+test merged, shuffled with a seed, 2481 / 293 / 145 normal, 2081 anomalous.
//! let ecg = ecg::EcgSplits::load(&dir, 42)?;
//! let batches = batch::ecg_batches(&ecg.train, 8, Some(0))?;
//! # let _ = batches;
//!
//! // Download the public archives if missing (resumable, structure-checked).
//! kann_data::download::download_all(&dir, &kann_data::download::Sources::default())?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`imdb`], [`ecg`], [`tokenizer`], [`batch`], [`download`], [`testdata`] (test
//! support: locating the shared real data).

pub mod batch;
pub mod download;
pub mod ecg;
mod error;
pub mod imdb;
pub mod testdata;
pub mod tokenizer;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use error::{Error, Result};

/// Environment variable naming the data folder.
pub const DATA_DIR_ENV: &str = "KANN_DATA_DIR";
/// Default data folder (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "data";

/// The data folder: `explicit` if given, else env `KANN_DATA_DIR` if set and non-empty, else
/// `data/`. The folder holds `aclImdb_v1.tar.gz` or `aclImdb/`, and `ECG5000/`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
