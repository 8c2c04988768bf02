//! The Koopman probe of a training run (issue 22): the run-folder contract between `train`,
//! which fits the operator to a fixed batch of validation sequences during training, and
//! `analyze training`, which draws what it recorded.
//!
//! Two files in the run folder, both written atomically with a CRC-32 sidecar
//! ([`crate::integrity::write_checked`]):
//! - [`PROBE_BATCH_FILE`] (`probe_batch.json`): which sequences the probe runs ([`ProbeBatch`]),
//!   and the rules its numbers follow, in words;
//! - [`PROBE_FILE`] (`probe.jsonl`): one JSON object per probe ([`ProbeRow`]), in training order:
//!   the untrained model (epoch 0), then every `every_steps` optimizer steps and at the end of
//!   every epoch. Its rows are committed with the checkpoint, so a resumed run has none twice and
//!   none missing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::integrity::write_checked;
use crate::run::read_checked_text;

/// One row per probe, as JSON lines.
pub const PROBE_FILE: &str = "probe.jsonl";
/// The probe batch and the rules of its numbers.
pub const PROBE_BATCH_FILE: &str = "probe_batch.json";
/// Leading eigenvalues kept per probe row.
pub const LEADING: usize = 8;

/// `[probe]` of a run config: the Koopman probe during training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Validation sequences in the probe batch (at most the split's size); 0 turns the probe off.
    pub sequences: usize,
    /// Also probe every this many optimizer steps inside an epoch; 0: at the end of each epoch
    /// only.
    pub every_steps: usize,
    /// Seed of the draw of the probe batch.
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            sequences: 64,
            every_steps: 0,
            seed: 7,
        }
    }
}

impl ProbeConfig {
    /// Whether the probe runs.
    pub fn enabled(&self) -> bool {
        self.sequences > 0
    }
}

/// The fixed batch the probe runs and how its numbers are made (`probe_batch.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeBatch {
    /// The split the sequences come from (`validation`).
    pub split: String,
    /// Seed of the draw.
    pub seed: u64,
    /// Positions of the sequences in that split (as the task orders it), ascending.
    pub indices: Vec<usize>,
    /// Their lengths in steps.
    pub lengths: Vec<usize>,
    /// Hidden size of the states.
    pub hidden: usize,
    /// How the operator is fitted, in words.
    pub fit: String,
    /// What `agreement` measures, in words (absent: the task has no readout to agree on).
    pub agreement: Option<String>,
    /// What `readout_alignment` measures, in words (absent where not measured).
    pub readout_alignment: Option<String>,
}

/// One eigenvalue of a probe's operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeEigen {
    /// 1-based position by modulus.
    pub index: usize,
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
    /// `|λ|`.
    pub modulus: f64,
    /// Memory horizon `τ(0.01)` (Eq. 9) in steps; `None` where `|λ| ≥ 1`.
    pub tau: Option<f64>,
    /// Residual `‖(Y~ − λX~)v‖ / ‖X~v‖` of the eigenpair on the probe's pairs.
    pub residual: f64,
}

/// How far the readout looks along one eigen-group's directions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAlignment {
    /// 1-based eigenvalue indices of the group (a real eigenvalue alone, a conjugate pair).
    pub group: Vec<usize>,
    /// `‖P_g w‖ / ‖w‖`: the share of the readout weights `w` inside the span of the group's
    /// eigenvectors mapped to state space (`B v`, real and imaginary parts), in `[0, 1]`.
    pub alignment: f64,
}

/// One probe: the Koopman fit of the probe batch's states at one point of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    /// The epoch: 0 before training, else the epoch in progress (1-based).
    pub epoch: usize,
    /// Optimizer steps done in that epoch when probed.
    pub step: usize,
    /// Optimizer steps done since the run began.
    pub global_step: usize,
    /// Whether the probe ran after the epoch's last step (its row lines up with `metrics.csv`).
    pub end_of_epoch: bool,
    /// Real pairs `(h_t, h_{t+1})` the fit used.
    pub pairs: usize,
    /// Rank of the basis.
    pub rank: usize,
    /// One-step relative error `e_rel` (Eq. 12) on the real steps.
    pub e_rel: f64,
    /// Eigenvalues with `|λ| > 0.99`.
    pub num_dominant: usize,
    /// Eigenvalues with `|λ| > 1` (beyond the tolerance).
    pub num_unstable: usize,
    /// The leading eigenvalues (at most [`LEADING`]), by modulus.
    pub leading: Vec<ProbeEigen>,
    /// Share of probe predictions where the readout of KANN's one-step state gives the network's
    /// class (see `probe_batch.json` for the steps scored); `None` without a readout.
    pub agreement: Option<f64>,
    /// The same share for the trivial predictor `h_t ≈ h_{t−1}` (the baseline); `None` without
    /// a readout.
    #[serde(default)]
    pub agreement_trivial: Option<f64>,
    /// The readout's alignment with the groups of the leading eigenvalues; `None` where not
    /// measured.
    pub readout_alignment: Option<Vec<GroupAlignment>>,
    /// Seconds the probe took (forward pass, fit, scores).
    pub seconds: f64,
}

/// Write `rows` as `probe.jsonl` into `dir` (atomically, with its checksum).
pub fn write_probe_rows(dir: &Path, rows: &[ProbeRow]) -> Result<(), ModelError> {
    let mut text = String::new();
    for row in rows {
        let line = serde_json::to_string(row)
            .map_err(|e| ModelError::Record(format!("cannot serialize a probe row: {e}")))?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(write_checked(&dir.join(PROBE_FILE), text.as_bytes())?)
}

/// Read `probe.jsonl` of `dir` (checked against its checksum); a bad line is an error naming
/// the file and line.
pub fn read_probe_rows(dir: &Path) -> Result<Vec<ProbeRow>, ModelError> {
    let path = dir.join(PROBE_FILE);
    let text = read_checked_text(&path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ModelError::Config {
                path: path.clone(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// Write `probe_batch.json` into `dir`.
pub fn write_probe_batch(dir: &Path, batch: &ProbeBatch) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(batch)
        .map_err(|e| ModelError::Record(format!("cannot serialize the probe batch: {e}")))?;
    Ok(write_checked(&dir.join(PROBE_BATCH_FILE), text.as_bytes())?)
}

/// Read `probe_batch.json` of `dir`.
pub fn read_probe_batch(dir: &Path) -> Result<ProbeBatch, ModelError> {
    let path = dir.join(PROBE_BATCH_FILE);
    let text = read_checked_text(&path)?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path,
        message: e.to_string(),
    })
}

/// The probe batch: `n` of `pool` sequences (all when `n >= pool`), drawn without replacement
/// by `seed`, ascending.
pub fn choose_probe(pool: usize, n: usize, seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut picked: Vec<usize> = (0..pool).collect();
    picked.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    picked.truncate(n);
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize) -> ProbeRow {
        ProbeRow {
            epoch,
            step: 3,
            global_step: 3 * epoch,
            end_of_epoch: true,
            pairs: 100,
            rank: 4,
            e_rel: 0.25,
            num_dominant: 1,
            num_unstable: 0,
            leading: vec![ProbeEigen {
                index: 1,
                re: 0.995,
                im: 0.01,
                modulus: 0.99505,
                tau: Some(928.1),
                residual: 0.02,
            }],
            agreement: Some(0.9),
            agreement_trivial: Some(0.8),
            readout_alignment: None,
            seconds: 0.1,
        }
    }

    #[test]
    fn probe_rows_round_trip_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row(0), row(1)];
        write_probe_rows(dir.path(), &rows).unwrap();
        assert_eq!(read_probe_rows(dir.path()).unwrap(), rows);
        // A changed file is refused by its checksum; a file without one is parsed line by line.
        let path = dir.path().join(PROBE_FILE);
        std::fs::remove_file(crate::integrity::sidecar_path(&path)).unwrap();
        std::fs::write(&path, "{\"epoch\": 0}\n").unwrap();
        let err = read_probe_rows(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("probe.jsonl") && err.contains("line 1"),
            "{err}"
        );
    }

    #[test]
    fn the_probe_batch_is_seeded_ascending_and_capped_by_the_pool() {
        let a = choose_probe(1000, 64, 7);
        assert_eq!(a, choose_probe(1000, 64, 7));
        assert_ne!(a, choose_probe(1000, 64, 8));
        assert_eq!(a.len(), 64);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[63] < 1000);
        assert_eq!(choose_probe(5, 64, 7), vec![0, 1, 2, 3, 4]);
    }
}
