//! Pieces of the training loop ([`crate::driver`]): log, metrics, publishing the weights, gradient
//! clipping, optimizer, progress bars (the checkpoint is in [`crate::checkpoint`]).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, decay::WeightDecayConfig};
use burn::prelude::*;
use indicatif::ProgressBar;
use kann_models::run::{LOG_FILE, SUMMARY_FILE, WEIGHTS_FILE, write_metrics};

pub use crate::checkpoint::{Checkpoint, Restored};
/// A row of `metrics.csv` (kept in [`kann_models::run`], which writes and reads the file).
pub use kann_models::run::EpochMetrics;
use serde::{Deserialize, Serialize};

/// Log lines go to stdout (above any progress bar) and are appended to `train.log`.
pub struct Logger {
    path: PathBuf,
    bar: Option<ProgressBar>,
}

impl Logger {
    /// A logger appending to `<dir>/train.log`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(LOG_FILE),
            bar: None,
        }
    }

    /// Print above this bar while it is shown.
    pub fn attach(&mut self, bar: Option<ProgressBar>) {
        self.bar = bar;
    }

    /// Log one line.
    pub fn line(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(msg),
            _ => println!("{msg}"),
        }
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(f, "{msg}");
        }
    }
}

/// When the progress bar is hidden (output not a terminal, e.g. a `nohup` run), log a line
/// with rate and ETA about every 5% of the epoch instead.
pub fn log_progress(
    log: &Logger,
    bar: &ProgressBar,
    done: usize,
    total: usize,
    timer: &Timer,
    msg: &str,
) {
    let step = (total / 20).max(1);
    if bar.is_hidden() && (done.is_multiple_of(step) || done == total) && done > 0 {
        let secs = timer.secs();
        let rate = done as f64 / secs.max(1e-9);
        let eta = (total - done) as f64 / rate.max(1e-9);
        log.line(format!(
            "  {} {done}/{total} batches, {rate:.2} batches/s, ETA {} | {msg}",
            bar.prefix(),
            fmt_secs(eta)
        ));
    }
}

/// Training state saved with each checkpoint (`checkpoint/state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Learning rate for the next epoch.
    pub lr: f64,
    /// Best validation loss so far.
    pub best_val_loss: f64,
    /// Epoch (1-based) of the best validation loss.
    pub best_epoch: usize,
    /// Epochs since the validation loss last improved (reduce-on-plateau).
    pub bad_epochs: usize,
    /// Training + evaluation seconds spent so far (over all resumed sessions).
    pub elapsed_seconds: f64,
    /// Metrics rows so far.
    pub metrics: Vec<EpochMetrics>,
    /// The task's own per-epoch tables (file name -> rows; [`crate::driver::EpochTable`]),
    /// committed with the checkpoint. Absent from `state.json` when the task keeps none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, serde_json::Value>,
}

impl TrainState {
    /// The state before the first epoch, at learning rate `lr`.
    pub fn fresh(lr: f64) -> Self {
        Self {
            epochs_done: 0,
            lr,
            best_val_loss: f64::INFINITY,
            best_epoch: 0,
            bad_epochs: 0,
            elapsed_seconds: 0.0,
            metrics: Vec::new(),
            tables: BTreeMap::new(),
        }
    }
}

/// Burnpack bytes of the optimizer state.
pub fn optim_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>> {
    let bytes = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("serializing the optimizer state: {e}"))?;
    Ok(bytes.to_vec())
}

/// Apply optimizer-state bytes read from `origin`.
pub fn optim_from_bytes(
    optim: ModuleOptimizer,
    bytes: Vec<u8>,
    origin: &Path,
) -> Result<ModuleOptimizer> {
    optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow::anyhow!("loading optimizer state {}: {e}", origin.display()))
}

/// Publish what `analyze` reads after a checkpoint was committed: the weights (`model.bpk` with
/// its checksum; skipped when the file already holds exactly these bytes) and `metrics.csv`.
/// A kill between the commit and this step is repaired by `--resume`, which publishes again.
pub fn publish(dir: &Path, weights: &[u8], metrics: &[EpochMetrics]) -> Result<()> {
    let path = dir.join(WEIGHTS_FILE);
    let current = kann_models::integrity::read_verified(&path)
        .ok()
        .filter(|(b, verified)| *verified && b.as_slice() == weights);
    if current.is_none() {
        kann_models::integrity::write_weights(&path, weights)?;
    }
    kann_models::testhook::point("publish-after-weights");
    write_metrics(dir, metrics)?;
    Ok(())
}

/// Write `summary.json` atomically, with its checksum sidecar.
pub fn write_summary(dir: &Path, summary: &serde_json::Value) -> Result<()> {
    kann_models::integrity::write_checked(
        &dir.join(SUMMARY_FILE),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    Ok(())
}

/// Adam (PyTorch's defaults: betas 0.9/0.999, eps 1e-8) with L2 weight decay added to the
/// gradient, as `torch.optim.Adam(weight_decay=..)`. Clipping is done separately on the global
/// norm ([`clip_global_norm`]).
pub fn adam(weight_decay: f64) -> ModuleOptimizer {
    let wd = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(wd)
        .init()
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Global gradient norm `sqrt(sum over all parameters of |g|^2)`; if it exceeds `max_norm`
/// (when given), scale every gradient by `max_norm / norm` (PyTorch's `clip_grad_norm_`).
/// Returns the norm before clipping.
pub fn clip_global_norm<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: Option<f64>,
) -> f64 {
    let mut v = SquaredNorm { grads, sum: None };
    model.visit(&mut v);
    let norm = v
        .sum
        .map(|s| (s.into_scalar::<f32>() as f64).sqrt())
        .unwrap_or(0.0);
    if let Some(max) = max_norm
        && norm.is_finite()
        && norm > max
    {
        let mut s = Scale {
            grads,
            factor: (max / (norm + 1e-6)) as f32,
        };
        model.visit(&mut s);
    }
    norm
}

/// The order in which an epoch visits `n` training examples: a shuffle seeded from the run's
/// seed and the epoch, so that a resumed run repeats the uninterrupted one's order.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9),
    ));
    order
}

/// An epoch's batches of training-example indices: [`epoch_order`] cut into runs of
/// `batch_size` (the last one shorter when `batch_size` does not divide `n`).
pub fn epoch_batches(n: usize, seed: u64, epoch: usize, batch_size: usize) -> Vec<Vec<usize>> {
    epoch_order(n, seed, epoch)
        .chunks(batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

/// Stop on a non-finite loss or gradient, naming where it happened.
pub fn check_finite(what: &str, value: f64, epoch: usize, batch: usize) -> Result<()> {
    if !value.is_finite() {
        bail!(
            "{what} became {value} at epoch {epoch}, batch {batch}; the run stops here and the \
             last good checkpoint (end of epoch {}) is kept",
            epoch - 1
        );
    }
    Ok(())
}

/// Wall-clock timer.
pub struct Timer(Instant);

impl Timer {
    /// Start now.
    pub fn start() -> Self {
        Self(Instant::now())
    }
    /// Seconds since start.
    pub fn secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// `1h02m03s` style duration.
pub fn fmt_secs(s: f64) -> String {
    let d = Duration::from_secs_f64(s.max(0.0));
    let t = d.as_secs();
    if t >= 3600 {
        format!("{}h{:02}m{:02}s", t / 3600, (t / 60) % 60, t % 60)
    } else if t >= 60 {
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        format!("{:.1}s", s)
    }
}
