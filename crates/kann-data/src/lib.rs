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
//! // First use fetches: download a missing data set (resumable, size + SHA-256 checked).
//! kann_data::fetch::ensure_imdb(&dir, &kann_data::fetch::FetchOptions::default())?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`imdb`], [`ecg`], [`copy`] (the copy problem of App. D, generated from a seed), [`tokenizer`], [`batch`], [`fetch`] (first use downloads what is missing), [`download`], [`progress`] (the
//! progress bar both binaries draw), [`testdata`] (test support: locating the shared real data).
//! Where the data and the workspace are: [`locate_data_dir`], [`resolve_data_dir`],
//! [`workspace_root`].

pub mod batch;
pub mod copy;
pub mod download;
pub mod ecg;
mod error;
pub mod fetch;
pub mod imdb;
pub mod progress;
pub mod testdata;
pub mod tokenizer;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};

/// Environment variable naming the data folder.
pub const DATA_DIR_ENV: &str = "KANN_DATA_DIR";
/// Default data folder (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "data";

/// The workspace root: two levels above this crate's manifest (`crates/kann-data`), made
/// absolute when that folder exists, else `.`. `train` and `analyze` find `configs/`,
/// `results/` and `../shared/data` from here when they are not in the current folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// `$KANN_DATA_DIR`, when it is set and not empty.
fn env_data_dir() -> Option<PathBuf> {
    non_empty(std::env::var_os(DATA_DIR_ENV))
}

/// A variable's value as a folder; an empty value counts as unset (`KANN_DATA_DIR= cmd`).
fn non_empty(value: Option<std::ffi::OsString>) -> Option<PathBuf> {
    value.filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The folder to download into: `explicit` if given, else env `KANN_DATA_DIR` if set and
/// non-empty, else `data/`. The folder holds `aclImdb_v1.tar.gz` or `aclImdb/`, and `ECG5000/`.
/// (Reading also looks beside the workspace: see [`locate_data_dir`].)
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(env_data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// The folder `train` and `analyze` read the data from: the `--data-dir` flag, else the run
/// config's `data_dir`, else env `KANN_DATA_DIR` (when set and not empty), else
/// `<workspace>/../shared/data` when that folder exists (this project's machines), else `data/`.
pub fn locate_data_dir(flag: Option<&Path>, config: Option<&Path>) -> PathBuf {
    choose_data_dir(
        flag.or(config),
        env_data_dir(),
        &workspace_root().join("../shared/data"),
    )
}

/// [`locate_data_dir`] with its inputs given: `given` (flag or config), the environment's
/// folder, and the shared folder beside the workspace (used when it is a folder).
fn choose_data_dir(given: Option<&Path>, env: Option<PathBuf>, shared: &Path) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = env {
        return p;
    }
    if shared.is_dir() {
        return shared.to_path_buf();
    }
    PathBuf::from(DEFAULT_DATA_DIR)
}

/// Writes `bytes` to `path` atomically, with the workspace's one writer (`kann_run::atomic`: a
/// fresh temporary file in the same folder, synced, then renamed over `path`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    kann_run::atomic::write_atomic(path, bytes).map_err(|e| {
        let (_, error) = e.into_io();
        Error::io(path, error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{}", root.display());
        assert!(root.join("crates/kann-data").is_dir());
    }

    #[test]
    fn data_dir_order_is_given_then_env_then_shared_then_default() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        let absent = tmp.path().join("absent");
        let given = Path::new("/given");
        let env = || Some(PathBuf::from("/env"));
        assert_eq!(choose_data_dir(Some(given), env(), &absent), given);
        assert_eq!(choose_data_dir(None, env(), &absent), Path::new("/env"));
        assert_eq!(
            choose_data_dir(None, None, &absent),
            Path::new(DEFAULT_DATA_DIR)
        );
        std::fs::create_dir(&shared).unwrap();
        assert_eq!(choose_data_dir(None, None, &shared), shared);
        assert_eq!(choose_data_dir(None, env(), &shared), Path::new("/env"));
    }

    #[test]
    fn an_empty_data_dir_variable_counts_as_unset() {
        assert_eq!(non_empty(Some("".into())), None);
        assert_eq!(non_empty(None), None);
        assert_eq!(non_empty(Some("/d".into())), Some(PathBuf::from("/d")));
        // So an empty variable falls through to the shared folder or `data/`.
        let absent = Path::new("/nonexistent/kann/shared");
        let env = non_empty(Some("".into()));
        assert_eq!(
            choose_data_dir(None, env, absent),
            Path::new(DEFAULT_DATA_DIR)
        );
    }
}
