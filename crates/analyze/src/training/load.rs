//! The probe record of a run folder: `probe.jsonl`, `probe_batch.json`, `metrics.csv` and the
//! run's config (task, cell, seed), each checked against its checksum by the readers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kann_models::config::RunConfig;
use kann_models::probe::{
    PROBE_BATCH_FILE, PROBE_FILE, ProbeBatch, ProbeRow, read_probe_batch, read_probe_rows,
};
use kann_models::run::{CONFIG_FILE, EpochMetrics, METRICS_FILE, read_metrics};

/// One run's probes with what they are read against.
#[derive(Debug, Clone)]
pub struct RunProbes {
    /// The run folder.
    pub dir: PathBuf,
    /// `imdb`, `ecg` or `copy`.
    pub task: String,
    /// Recurrent cell.
    pub cell: String,
    /// Training seed.
    pub seed: u64,
    /// The probe batch and its rules.
    pub batch: ProbeBatch,
    /// Every probe, in training order.
    pub rows: Vec<ProbeRow>,
    /// `metrics.csv`, one row per epoch.
    pub metrics: Vec<EpochMetrics>,
}

impl RunProbes {
    /// Reads the probe record of `dir`; a run without one is an error that says how to make it.
    pub fn load(dir: &Path) -> Result<Self> {
        let config = RunConfig::load(&dir.join(CONFIG_FILE))
            .with_context(|| format!("{} is not a run folder", dir.display()))?;
        if !dir.join(PROBE_FILE).is_file() {
            bail!(
                "{}: no {PROBE_FILE}; this run was trained without the Koopman probe (it is on by default; `[probe] sequences = 0` or --probe-sequences 0 turns it off): train it again",
                dir.display()
            );
        }
        if !dir.join(PROBE_BATCH_FILE).is_file() {
            bail!("{}: {PROBE_FILE} without {PROBE_BATCH_FILE}", dir.display());
        }
        let rows = read_probe_rows(dir)?;
        if rows.is_empty() {
            bail!("{}: {PROBE_FILE} has no rows", dir.display());
        }
        let metrics = if dir.join(METRICS_FILE).is_file() {
            read_metrics(dir)?
        } else {
            Vec::new()
        };
        let (task, cell, seed) = match &config {
            RunConfig::Imdb(c) => ("imdb", c.model.cell.to_string(), c.train.seed),
            RunConfig::Ecg(c) => ("ecg", c.model.cell.to_string(), c.train.seed),
            RunConfig::Copy(c) => ("copy", c.model.cell.to_string(), c.train.seed),
        };
        Ok(RunProbes {
            dir: dir.to_path_buf(),
            task: task.into(),
            cell,
            seed,
            batch: read_probe_batch(dir)?,
            rows,
            metrics,
        })
    }

    /// The end-of-epoch probes (epoch 0 = the untrained model), one per epoch.
    pub fn epoch_rows(&self) -> Vec<&ProbeRow> {
        self.rows.iter().filter(|r| r.end_of_epoch).collect()
    }

    /// Training time of a probe in epochs: `epoch − 1 + step / steps of that epoch`, so a probe
    /// inside epoch 3 halfway through is 2.5 (the epoch's steps from its end-of-epoch row).
    pub fn time(&self, row: &ProbeRow) -> f64 {
        if row.end_of_epoch {
            return row.epoch as f64;
        }
        let steps = self
            .rows
            .iter()
            .find(|r| r.epoch == row.epoch && r.end_of_epoch)
            .map_or(row.step.max(1), |r| r.step.max(1));
        (row.epoch as f64 - 1.0) + row.step as f64 / steps as f64
    }

    /// A short name: the folder's name.
    pub fn name(&self) -> String {
        self.dir.file_name().map_or_else(
            || self.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}
