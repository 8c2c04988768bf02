//! The resume checkpoint, written as one atomic unit.
//!
//! Layout of `<run>/checkpoint/`:
//!
//! ```text
//! LATEST               names the current checkpoint folder, e.g. `epoch-0007`
//! epoch-0007/
//!   model.bpk          weights after the epoch
//!   optim.bpk          Adam state
//!   state.json         epochs done, learning rate, best epoch, metrics rows
//!   best.bpk           ECG: the best-validation weights (what `model.bpk` of the run holds)
//!   manifest.json      length and CRC-32 of each file above; written last
//! ```
//!
//! [`Checkpoint::save`] writes a new folder under a temporary name, syncs it, renames it to
//! `epoch-NNNN` and only then replaces `LATEST` (atomically). A kill at any point leaves `LATEST`
//! naming a complete, earlier folder; nothing a reader sees ever mixes files of two epochs.
//! [`Checkpoint::load`] checks every file against the manifest before anything is used.
//! Checkpoints of the older layout (the three files directly in `checkpoint/`) still load,
//! unverified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kann_models::atomic::{is_temp_name, sync_dir, temp_path, write_atomic};
use kann_models::integrity::Checksum;
use kann_models::run::CHECKPOINT_DIR;
use kann_models::testhook;
use serde::{Deserialize, Serialize};

use crate::common::TrainState;

/// The pointer file naming the current checkpoint folder.
pub const LATEST_FILE: &str = "LATEST";
/// The manifest inside a checkpoint folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Weights after the epoch.
pub const MODEL_FILE: &str = "model.bpk";
/// Optimizer state.
pub const OPTIM_FILE: &str = "optim.bpk";
/// Training state.
pub const STATE_FILE: &str = "state.json";
/// ECG: best-validation weights.
pub const BEST_FILE: &str = "best.bpk";

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    name: String,
    bytes: u64,
    crc32: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    epochs_done: usize,
    files: Vec<ManifestEntry>,
}

/// A checkpoint read back and verified.
pub struct Restored {
    /// The training state.
    pub state: TrainState,
    /// Weights after the last finished epoch (burnpack bytes).
    pub model: Vec<u8>,
    /// Optimizer state (burnpack bytes).
    pub optim: Vec<u8>,
    /// ECG: best-validation weights.
    pub best: Option<Vec<u8>>,
    /// The folder it was read from (for messages).
    pub dir: PathBuf,
}

/// The resume checkpoint of one run folder.
pub struct Checkpoint {
    dir: PathBuf,
}

fn epoch_dir_name(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

impl Checkpoint {
    /// The checkpoint of run folder `run_dir`.
    pub fn new(run_dir: &Path) -> Self {
        Self {
            dir: run_dir.join(CHECKPOINT_DIR),
        }
    }

    fn latest_path(&self) -> PathBuf {
        self.dir.join(LATEST_FILE)
    }

    fn legacy_state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Whether a checkpoint exists (at least one epoch finished).
    pub fn exists(&self) -> bool {
        self.latest_path().is_file() || self.legacy_state().is_file()
    }

    /// The current checkpoint folder named by `LATEST`.
    fn current(&self) -> Result<Option<PathBuf>> {
        let latest = self.latest_path();
        let name = match std::fs::read_to_string(&latest) {
            Ok(t) => t.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", latest.display())),
        };
        let ok = name
            .strip_prefix("epoch-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            bail!(
                "{}: expected a folder name like `epoch-0003`, found {name:?}",
                latest.display()
            );
        }
        Ok(Some(self.dir.join(name)))
    }

    /// Save the state after an epoch as one unit: `model` (weights, burnpack bytes), `optim`,
    /// `state` and (ECG) `best` weights. See the module docs for the order of the steps.
    pub fn save(
        &self,
        model: &[u8],
        optim: &[u8],
        state: &TrainState,
        best: Option<&[u8]>,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let name = epoch_dir_name(state.epochs_done);
        let target = self.dir.join(&name);
        let tmp = temp_path(&target);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let state_json = serde_json::to_vec_pretty(state)?;
        let mut files: Vec<(&str, &[u8])> = vec![
            (MODEL_FILE, model),
            (OPTIM_FILE, optim),
            (STATE_FILE, state_json.as_slice()),
        ];
        if let Some(b) = best {
            files.push((BEST_FILE, b));
        }
        let mut entries = Vec::new();
        for (file, bytes) in &files {
            write_atomic(&tmp.join(file), bytes)?;
            testhook::point(&format!("checkpoint-after-{file}"));
            let sum = Checksum::of(bytes);
            entries.push(ManifestEntry {
                name: file.to_string(),
                bytes: sum.bytes,
                crc32: format!("{:08x}", sum.crc32),
            });
        }
        let manifest = Manifest {
            format: 1,
            epochs_done: state.epochs_done,
            files: entries,
        };
        write_atomic(
            &tmp.join(MANIFEST_FILE),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
        sync_dir(&tmp);
        testhook::point("checkpoint-after-manifest");
        if target.exists() {
            // Left by a run killed after this rename but before `LATEST` moved: never current.
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("removing {}", target.display()))?;
        }
        std::fs::rename(&tmp, &target)
            .with_context(|| format!("renaming {} to {}", tmp.display(), target.display()))?;
        sync_dir(&self.dir);
        testhook::point("checkpoint-after-rename");
        write_atomic(&self.latest_path(), format!("{name}\n").as_bytes())?;
        sync_dir(&self.dir);
        testhook::point("checkpoint-after-latest");
        self.remove_stale(Some(&name))?;
        Ok(())
    }

    /// Remove everything in `checkpoint/` but the current folder and `LATEST`: older epochs,
    /// folders and files of interrupted saves, files of the older layout once superseded.
    /// Returns how many entries were removed. Call it only while holding the run's lock.
    pub fn remove_stale(&self, keep: Option<&str>) -> Result<usize> {
        let keep = match keep {
            Some(k) => Some(k.to_string()),
            None => self
                .current()?
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
        };
        let Some(keep) = keep else {
            // Older layout (or nothing): only leftovers of killed writes can go.
            return Ok(kann_models::atomic::remove_temp_files(&self.dir)?);
        };
        let mut n = 0;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e).with_context(|| format!("listing {}", self.dir.display())),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = (name.starts_with("epoch-") && name != keep)
                || is_temp_name(&name)
                || [MODEL_FILE, OPTIM_FILE, STATE_FILE].contains(&name.as_str());
            if !stale {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("removing {}", path.display()))?;
            n += 1;
        }
        Ok(n)
    }

    /// Read the current checkpoint and check every file against its manifest.
    pub fn load(&self) -> Result<Restored> {
        let Some(dir) = self.current()? else {
            return self.load_legacy();
        };
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "reading {} (the checkpoint named by {} is incomplete)",
                manifest_path.display(),
                self.latest_path().display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", manifest_path.display()))?;
        let mut files = BTreeMap::new();
        for entry in &manifest.files {
            let path = dir.join(&entry.name);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let found = Checksum::of(&bytes);
            let recorded = u32::from_str_radix(&entry.crc32, 16).ok();
            if found.bytes != entry.bytes || Some(found.crc32) != recorded {
                bail!(
                    "{} is damaged: it has {found}, but {} records {} bytes, CRC-32 {}",
                    path.display(),
                    manifest_path.display(),
                    entry.bytes,
                    entry.crc32
                );
            }
            files.insert(entry.name.clone(), bytes);
        }
        let mut take = |name: &str| {
            files
                .remove(name)
                .with_context(|| format!("{} lists no {name}", manifest_path.display()))
        };
        let state_bytes = take(STATE_FILE)?;
        let model = take(MODEL_FILE)?;
        let optim = take(OPTIM_FILE)?;
        let best = files.remove(BEST_FILE);
        let state_path = dir.join(STATE_FILE);
        let state: TrainState = serde_json::from_slice(&state_bytes)
            .with_context(|| format!("parsing {}", state_path.display()))?;
        if state.epochs_done != manifest.epochs_done {
            bail!(
                "{} says {} epochs done, {} says {}",
                state_path.display(),
                state.epochs_done,
                manifest_path.display(),
                manifest.epochs_done
            );
        }
        Ok(Restored {
            state,
            model,
            optim,
            best,
            dir,
        })
    }

    fn load_legacy(&self) -> Result<Restored> {
        let state_path = self.legacy_state();
        let text = std::fs::read_to_string(&state_path)
            .with_context(|| format!("reading {}", state_path.display()))?;
        let state: TrainState = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", state_path.display()))?;
        let read = |name: &str| {
            let p = self.dir.join(name);
            std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
        };
        eprintln!(
            "warning: {} is a checkpoint of the older layout (no manifest); loading it unverified",
            self.dir.display()
        );
        Ok(Restored {
            state,
            model: read(MODEL_FILE)?,
            optim: read(OPTIM_FILE)?,
            best: None,
            dir: self.dir.clone(),
        })
    }
}
