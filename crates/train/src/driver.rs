//! The one epoch loop of `train`, shaped like burn's `Learner` (a model implements a train step
//! and a validation step; one loop drives any of them): each task (`imdb`, `ecg`, `copy`)
//! implements [`Task`] (its batches, its step, its evaluation, its summary) and states its
//! [`Policy`] (schedule, what "best" means, which weights it publishes); [`drive`] owns
//! everything else once: the restore point, the resume, clipping, the finite checks, the
//! progress bars, checkpoint-then-publish and the log.
//!
//! One epoch, in order: the task's batches of the epoch ([`Task::batches`]); for each batch the
//! task's forward pass and loss ([`Task::train_step`]), the finite check of the loss, backward,
//! global-norm clipping ([`clip_global_norm`]), the finite check of the norm, the Adam step,
//! the progress bar; then the task's evaluation ([`Task::evaluate`]) of the eval-mode model, the
//! finite check of the validation loss, the `metrics.csv` row, the [`Improvement`] rule, the
//! [`Schedule`], the checkpoint (the commit point), publishing `model.bpk` and `metrics.csv`,
//! the task's own per-epoch tables ([`EpochTable`]), and the epoch's log line.
//!
//! A kill anywhere in an epoch loses at most that epoch: `--resume` starts again from the last
//! committed checkpoint and gives the files of the uninterrupted run. The test hook
//! ([`kann_models::testhook`]) names the points between the steps: `driver-after-step`,
//! `driver-after-evaluation`, the checkpoint's own points, `publish-after-weights`,
//! `driver-after-publish`, `driver-after-tables`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use kann_data::progress::progress_bar;
use kann_models::config::RunConfig;
use kann_models::integrity::{module_bytes, module_from_bytes, read_verified};
use kann_models::run::{WEIGHTS_FILE, read_csv, write_csv};
use kann_models::testhook;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::{MODEL_FILE, OPTIM_FILE};
use crate::common::*;
use crate::probe::{ProbeInput, Prober, probe_line};
use crate::setup::{Start, remove_leftovers, restore_point, update_config};

/// When a validation loss counts as an improvement on the best so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Improvement {
    /// `val_loss < best` (IMDB, copy).
    Strict,
    /// `val_loss < best * (1 - rel)`: PyTorch's `ReduceLROnPlateau` in its default `rel` mode
    /// (threshold 1e-4 there; ECG).
    Relative(f64),
}

impl Improvement {
    /// Whether `val_loss` improves on `best`.
    pub fn improves(self, val_loss: f64, best: f64) -> bool {
        match self {
            Improvement::Strict => val_loss < best,
            Improvement::Relative(rel) => val_loss < best * (1.0 - rel),
        }
    }
}

/// How the learning rate changes after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The rate stays (copy).
    Constant,
    /// `lr *= factor` after every epoch (IMDB's `lr_decay`).
    Exponential(f64),
    /// Reduce-on-plateau (ECG): after more than `patience` epochs in a row without an
    /// [`Improvement`], `lr *= factor` and the count restarts.
    Plateau {
        /// Factor applied to the rate.
        factor: f64,
        /// Epochs without improvement tolerated.
        patience: usize,
    },
}

impl Schedule {
    /// Update `state` (learning rate, plateau count) after an epoch.
    pub fn after_epoch(self, state: &mut TrainState, improved: bool) {
        match self {
            Schedule::Constant => {}
            Schedule::Exponential(factor) => state.lr *= factor,
            Schedule::Plateau { factor, patience } => {
                state.bad_epochs = if improved { 0 } else { state.bad_epochs + 1 };
                if state.bad_epochs > patience {
                    state.lr *= factor;
                    state.bad_epochs = 0;
                }
            }
        }
    }
}

/// Which weights the run folder's `model.bpk` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The best-validation weights ([`Improvement`]); the checkpoint keeps them as `best.bpk`
    /// (ECG, copy).
    BestValidation,
    /// The last epoch's weights; the best epoch is still reported (`best_val_epoch` of IMDB's
    /// summary), its weights are not kept.
    LastEpoch,
}

/// The training settings of a task that the driver applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Task name, the progress bars' prefix (`copy epoch 1/2`).
    pub name: &'static str,
    /// Total epochs.
    pub epochs: usize,
    /// Seed of the weight init.
    pub seed: u64,
    /// Initial learning rate.
    pub lr: f64,
    /// Adam's L2 weight decay ([`adam`]).
    pub weight_decay: f64,
    /// Global gradient-norm clip ([`clip_global_norm`]).
    pub grad_clip: Option<f64>,
    /// What counts as a better validation loss.
    pub improvement: Improvement,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Which weights `model.bpk` holds.
    pub published: Published,
}

/// A task's forward pass on one training batch.
pub struct StepLoss {
    /// The mean loss to differentiate (autodiff graph attached).
    pub loss: Tensor<1>,
    /// Its value on the host (finite-checked, summed into the epoch's training loss).
    pub value: f64,
    /// Examples in the batch (the weight of `value` in the epoch's mean).
    pub examples: usize,
}

/// A task's end-of-epoch evaluation (the `metrics.csv` columns; `NaN` where not measured).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Validation loss (drives [`Improvement`] and [`Schedule`]).
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_acc: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_acc: f64,
}

/// What a task sees when the last epoch is done.
pub struct Finish<'a> {
    /// The run folder.
    pub out: &'a Path,
    /// The final training state.
    pub state: &'a TrainState,
    /// Inference device.
    pub eval_device: &'a Device,
    /// The run's log.
    pub log: &'a Logger,
    /// Started when this session began (`wall_seconds_this_session`).
    pub session: &'a Timer,
}

/// One training task driven by [`drive`].
pub trait Task {
    /// The trained network.
    type Model: Module;
    /// A freshly initialised network (the device is seeded before).
    fn init_model(&self, device: &Device) -> Self::Model;
    /// A fresh run's first files (`config.toml`, `model.json`, the vocabulary, ...).
    fn write_header(&self, out: &Path) -> Result<()>;
    /// The line logged before the first epoch of this session.
    fn describe(&self, out: &Path) -> String;
    /// The training batches of `epoch` (indices into the task's training set).
    fn batches(&self, epoch: usize) -> Vec<Vec<usize>>;
    /// Reset the running training statistics before an epoch.
    fn begin_epoch(&mut self);
    /// Forward pass and loss of one batch (and the task's running statistics).
    fn train_step(
        &mut self,
        model: &Self::Model,
        batch: &[usize],
        device: &Device,
    ) -> Result<StepLoss>;
    /// The progress-bar message, given the epoch's running mean loss.
    fn progress(&self, mean_loss: f64) -> String;
    /// The epoch's running training accuracy.
    fn train_accuracy(&self) -> f64;
    /// Evaluate the eval-mode `model` after `epoch`.
    fn evaluate(
        &mut self,
        model: &Self::Model,
        epoch: usize,
        device: &Device,
    ) -> Result<Evaluation>;
    /// The epoch's log line.
    fn epoch_line(&self, row: &EpochMetrics, improved: bool) -> String;
    /// The task's own per-epoch tables as they go into the checkpoint (file name -> rows).
    fn tables(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        Ok(BTreeMap::new())
    }
    /// Take the tables back from a resumed checkpoint and write their files again.
    fn restore_tables(&mut self, _state: &TrainState, _out: &Path) -> Result<()> {
        Ok(())
    }
    /// Write the tables' files after an epoch was committed.
    fn write_tables(&self, _out: &Path) -> Result<()> {
        Ok(())
    }
    /// After the last epoch: final evaluation, `summary.json`, the closing log line.
    fn finish(&mut self, end: &Finish) -> Result<()>;
    /// Sequences of the validation split the Koopman probe draws its batch from
    /// ([`crate::probe`]); 0: the task has no probe.
    fn probe_pool(&self) -> usize {
        0
    }
    /// The probe batch's hooked states and the readout under the eval-mode `model`; `indices`
    /// are positions in the validation split, ascending.
    fn probe_input(
        &self,
        _model: &Self::Model,
        _indices: &[usize],
        _device: &Device,
    ) -> Result<ProbeInput> {
        anyhow::bail!("this task has no probe")
    }
}

/// The run a task trains into.
pub struct RunSpec<'a> {
    /// Run folder.
    pub out: &'a Path,
    /// Continue from the checkpoint.
    pub resume: bool,
    /// Training device (autodiff).
    pub device: &'a Device,
    /// The config with every flag applied (`config.toml`).
    pub config: &'a RunConfig,
}

/// The trained state the loop carries besides the model.
struct Training {
    optim: ModuleOptimizer,
    state: TrainState,
    /// The best-validation weights ([`Published::BestValidation`]).
    best: Option<Vec<u8>>,
}

/// Train `policy.epochs` epochs of the task that `load` builds (data loaded after the
/// checkpoint was read and verified, so a resume with nothing to do loads nothing).
pub fn drive<T: Task>(
    run: &RunSpec,
    policy: &Policy,
    load: impl FnOnce() -> Result<T>,
) -> Result<()> {
    let checkpoint = Checkpoint::new(run.out);
    // A resume reads (and verifies) the checkpoint before anything in the folder changes.
    let restored = match restore_point(&checkpoint, run.out, run.resume, policy.epochs)? {
        Start::Fresh => None,
        Start::Resume(r) => Some(r),
        Start::Finished => return Ok(()),
    };
    let mut log = Logger::new(run.out);
    let session = Timer::start();
    let mut task = load()?;
    let (mut model, mut t, mut prober, eval_device) =
        start_training(&mut task, run, policy, restored, &log)?;
    log.line(task.describe(run.out));
    for epoch in t.state.epochs_done + 1..=policy.epochs {
        let trained;
        (model, trained) = train_epoch(
            &mut task,
            model,
            &mut t,
            (policy, epoch),
            (run.device, &eval_device),
            &mut prober,
            &mut log,
        )?;
        end_epoch(
            &mut task,
            &model,
            &mut t,
            (policy, epoch, trained),
            (&checkpoint, run.out, &eval_device),
            &mut prober,
            &mut log,
        )?;
    }
    task.finish(&Finish {
        out: run.out,
        state: &t.state,
        eval_device: &eval_device,
        log: &log,
        session: &session,
    })
}

/// The model, optimizer, state and probe the loop starts from, and the evaluation device:
/// restored from `restored` ([`resume`]), else fresh (seeded model, the task's header written).
fn start_training<T: Task>(
    task: &mut T,
    run: &RunSpec,
    policy: &Policy,
    restored: Option<Restored>,
    log: &Logger,
) -> Result<(T::Model, Training, Prober, Device)> {
    run.device.seed(policy.seed);
    let model = task.init_model(run.device);
    let optim = adam(policy.weight_decay);
    let eval_device = run.device.clone().inner();
    let probe_config = run.config.probe();
    let (model, t, prober) = match restored {
        Some(r) => {
            let prober = Prober::resume(probe_config, task, &r.state, run.out)?;
            let (model, t) = resume(task, run, policy, (model, optim), r, log)?;
            (model, t, prober)
        }
        None => {
            task.write_header(run.out)?;
            let prober = Prober::fresh(probe_config, task, &model.valid(), &eval_device, run.out)?;
            let state = TrainState::fresh(policy.lr);
            let t = Training {
                optim,
                state,
                best: None,
            };
            (model, t, prober)
        }
    };
    Ok((model, t, prober, eval_device))
}

/// The end of an epoch after its training pass: the evaluation of the eval-mode model, the
/// finite check of the validation loss, the `metrics.csv` row, the probe, the commit
/// ([`commit_epoch`]) and the epoch's log lines.
fn end_epoch<T: Task>(
    task: &mut T,
    model: &T::Model,
    t: &mut Training,
    (policy, epoch, trained): (&Policy, usize, Trained),
    (checkpoint, out, eval_device): (&Checkpoint, &Path, &Device),
    prober: &mut Prober,
    log: &mut Logger,
) -> Result<()> {
    let t_eval = Timer::start();
    let eval = task.evaluate(&model.valid(), epoch, eval_device)?;
    check_finite("validation loss", eval.val_loss, epoch, trained.batches)?;
    testhook::point("driver-after-evaluation");
    let row = EpochMetrics {
        epoch,
        lr: t.state.lr,
        train_loss: trained.loss,
        train_acc: task.train_accuracy(),
        val_loss: eval.val_loss,
        val_acc: eval.val_acc,
        test_loss: eval.test_loss,
        test_acc: eval.test_acc,
        train_seconds: trained.seconds,
        eval_seconds: t_eval.secs(),
    };
    let probed = prober.probe(
        task,
        &model.valid(),
        eval_device,
        (epoch, trained.batches, true),
    )?;
    let probe_log = probed.map(|p| probe_line(p, trained.seconds + row.eval_seconds));
    prober.end_epoch(trained.batches);
    let improved = commit_epoch(
        task,
        model,
        t,
        policy,
        (checkpoint, out),
        prober,
        row.clone(),
    )?;
    log.line(task.epoch_line(&row, improved));
    if let Some(line) = probe_log {
        log.line(line);
    }
    Ok(())
}

/// Restore the model, optimizer and state from `r`, and publish again what the checkpoint
/// commits (a kill between the commit and the publishing is repaired here).
fn resume<T: Task>(
    task: &mut T,
    run: &RunSpec,
    policy: &Policy,
    (model, optim): (T::Model, ModuleOptimizer),
    r: Restored,
    log: &Logger,
) -> Result<(T::Model, Training)> {
    let model = module_from_bytes(model, r.model.clone(), &r.dir.join(MODEL_FILE))?;
    let optim = optim_from_bytes(optim, r.optim, &r.dir.join(OPTIM_FILE))?;
    let best = match policy.published {
        // Checkpoints of the older layout kept no best weights: the run's model.bpk is them.
        Published::BestValidation => Some(match r.best {
            Some(b) => b,
            None => read_verified(&run.out.join(WEIGHTS_FILE))?.0,
        }),
        Published::LastEpoch => None,
    };
    update_config(run.out, run.config)?;
    publish(
        run.out,
        best.as_deref().unwrap_or(&r.model),
        &r.state.metrics,
    )?;
    task.restore_tables(&r.state, run.out)?;
    let removed = remove_leftovers(run.out)?;
    log.line(format!(
        "resuming after epoch {}{}{}",
        r.state.epochs_done,
        // The rate is said where the schedule changes it.
        if policy.schedule == Schedule::Constant {
            String::new()
        } else {
            format!(" (lr {:.3e})", r.state.lr)
        },
        if removed > 0 {
            format!("; removed {removed} leftover(s) of interrupted writes")
        } else {
            String::new()
        }
    ));
    let state = r.state;
    Ok((model, Training { optim, state, best }))
}

/// What one epoch of training gave.
struct Trained {
    /// Mean training loss over the examples.
    loss: f64,
    /// Batches run.
    batches: usize,
    /// Seconds spent.
    seconds: f64,
}

/// One pass over the training batches: step, finite checks, clipping, Adam, progress.
fn train_epoch<T: Task>(
    task: &mut T,
    mut model: T::Model,
    t: &mut Training,
    (policy, epoch): (&Policy, usize),
    (device, eval_device): (&Device, &Device),
    prober: &mut Prober,
    log: &mut Logger,
) -> Result<(T::Model, Trained)> {
    let timer = Timer::start();
    let batches = task.batches(epoch);
    let n = batches.len();
    let bar = progress_bar(
        n as u64,
        &format!("{} epoch {epoch}/{}", policy.name, policy.epochs),
    );
    log.attach(Some(bar.clone()));
    task.begin_epoch();
    prober.begin_epoch();
    let (mut loss_sum, mut seen) = (0.0f64, 0usize);
    for (bi, batch) in batches.iter().enumerate() {
        let step = task.train_step(&model, batch, device)?;
        check_finite("training loss", step.value, epoch, bi + 1)?;
        let mut grads = GradientsParams::from_grads(step.loss.backward(), &model);
        let norm = clip_global_norm(&model, &mut grads, policy.grad_clip);
        check_finite("gradient norm", norm, epoch, bi + 1)?;
        model = t.optim.step(t.state.lr, model, grads);
        testhook::point("driver-after-step");
        if prober.due(bi + 1, n) {
            prober.probe(task, &model.valid(), eval_device, (epoch, bi + 1, false))?;
        }
        loss_sum += step.value * step.examples as f64;
        seen += step.examples;
        let msg = task.progress(loss_sum / seen as f64);
        log_progress(log, &bar, bi + 1, n, &timer, &msg);
        bar.inc(1);
        bar.set_message(msg);
    }
    bar.finish_and_clear();
    log.attach(None);
    let trained = Trained {
        loss: loss_sum / seen as f64,
        batches: n,
        // The probes inside the epoch are not training time.
        seconds: timer.secs() - prober.epoch_seconds(),
    };
    Ok((model, trained))
}

/// The end of an epoch after its evaluation: the improvement rule, the schedule, the
/// checkpoint (the commit point), then `model.bpk`, `metrics.csv` and the task's tables.
/// Returns whether the epoch improved on the best validation loss.
fn commit_epoch<T: Task>(
    task: &T,
    model: &T::Model,
    t: &mut Training,
    policy: &Policy,
    (checkpoint, out): (&Checkpoint, &Path),
    prober: &Prober,
    row: EpochMetrics,
) -> Result<bool> {
    let improved = policy
        .improvement
        .improves(row.val_loss, t.state.best_val_loss);
    let model_bytes = module_bytes(model)?;
    if improved {
        t.state.best_val_loss = row.val_loss;
        t.state.best_epoch = row.epoch;
        if policy.published == Published::BestValidation {
            t.best = Some(model_bytes.clone());
        }
    }
    policy.schedule.after_epoch(&mut t.state, improved);
    t.state.epochs_done = row.epoch;
    t.state.elapsed_seconds += row.train_seconds + row.eval_seconds;
    t.state.metrics.push(row);
    t.state.tables = task.tables()?;
    prober.save_into(&mut t.state.tables)?;
    let (published, best) = match policy.published {
        Published::BestValidation => {
            let best = t
                .best
                .as_deref()
                .context("no best-validation weights after an epoch")?;
            (best, Some(best))
        }
        Published::LastEpoch => (model_bytes.as_slice(), None),
    };
    checkpoint.save(&model_bytes, &optim_bytes(&t.optim)?, &t.state, best)?;
    publish(out, published, &t.state.metrics)?;
    testhook::point("driver-after-publish");
    task.write_tables(out)?;
    prober.write(out)?;
    testhook::point("driver-after-tables");
    Ok(improved)
}

/// A row of a per-epoch table.
pub trait EpochRow: Serialize + DeserializeOwned + Clone {
    /// Its 1-based epoch.
    fn epoch(&self) -> usize;
}

/// A task's own per-epoch CSV file in the run folder (e.g. `copy_metrics.csv`). Its rows are
/// committed with the checkpoint (`state.json`'s `tables`), so a resume writes the file again
/// with exactly the committed epochs: none duplicated, none lost to a kill between the
/// checkpoint and the file.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochTable<R> {
    /// File name in the run folder.
    pub file: &'static str,
    /// Rows, one per epoch, in order.
    pub rows: Vec<R>,
}

impl<R: EpochRow> EpochTable<R> {
    /// An empty table written to `file`.
    pub fn new(file: &'static str) -> Self {
        Self {
            file,
            rows: Vec::new(),
        }
    }

    /// Add this table to the checkpoint's `tables`.
    pub fn save_into(&self, tables: &mut BTreeMap<String, serde_json::Value>) -> Result<()> {
        tables.insert(self.file.to_string(), serde_json::to_value(&self.rows)?);
        Ok(())
    }

    /// The rows of the committed epochs: from the checkpoint, or, for a checkpoint written
    /// before tables were kept there, from the file in `out` (a missing file is an empty
    /// table; an unreadable one is an error naming the file and line). Writes the file.
    pub fn restore(&mut self, state: &TrainState, out: &Path) -> Result<()> {
        let path = out.join(self.file);
        let rows: Vec<R> = match state.tables.get(self.file) {
            Some(v) => serde_json::from_value(v.clone())
                .with_context(|| format!("the checkpoint's table of {}", self.file))?,
            None if !path.exists() => Vec::new(),
            None => read_csv(&path)?,
        };
        // Rows of epochs after the checkpoint (a kill between the two writes) are dropped.
        self.rows = rows
            .into_iter()
            .filter(|r| r.epoch() <= state.epochs_done)
            .collect();
        self.write(out)
    }

    /// Write the file (atomically).
    pub fn write(&self, out: &Path) -> Result<()> {
        write_csv(&out.join(self.file), &self.rows)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use burn::nn::{Linear, LinearConfig};
    use kann_models::config::CopyRunConfig;

    use super::*;

    #[test]
    fn strict_and_relative_improvement() {
        assert!(Improvement::Strict.improves(0.999, 1.0));
        assert!(!Improvement::Strict.improves(1.0, 1.0));
        let rel = Improvement::Relative(1e-4);
        // PyTorch's rel mode: better only below best * (1 - 1e-4) = 0.9999.
        assert!(!rel.improves(0.99995, 1.0));
        assert!(!rel.improves(0.9999, 1.0));
        assert!(rel.improves(0.99989, 1.0));
        // The first epoch always improves on the fresh state's infinite best.
        for rule in [Improvement::Strict, rel] {
            assert!(rule.improves(1e30, f64::INFINITY));
            assert!(!rule.improves(f64::NAN, f64::INFINITY));
        }
    }

    fn lrs(schedule: Schedule, improved: &[bool]) -> Vec<(f64, usize)> {
        let mut state = TrainState::fresh(1.0);
        improved
            .iter()
            .map(|&i| {
                schedule.after_epoch(&mut state, i);
                (state.lr, state.bad_epochs)
            })
            .collect()
    }

    #[test]
    fn plateau_reduces_after_more_than_patience_bad_epochs_and_restarts_the_count() {
        let plateau = Schedule::Plateau {
            factor: 0.5,
            patience: 2,
        };
        // Two bad epochs are tolerated; the third halves the rate and restarts the count.
        let got = lrs(plateau, &[false, false, false, false, false, false, false]);
        assert_eq!(
            got,
            [
                (1.0, 1),
                (1.0, 2),
                (0.5, 0),
                (0.5, 1),
                (0.5, 2),
                (0.25, 0),
                (0.25, 1)
            ]
        );
        // An improvement resets the count.
        let got = lrs(plateau, &[false, false, true, false, false, false]);
        assert_eq!(
            got,
            [(1.0, 1), (1.0, 2), (1.0, 0), (1.0, 1), (1.0, 2), (0.5, 0)]
        );
    }

    #[test]
    fn exponential_and_constant_schedules() {
        let got = lrs(Schedule::Exponential(0.8), &[true, false, true]);
        assert_eq!(got, [(0.8, 0), (0.8 * 0.8, 0), (0.8 * 0.8 * 0.8, 0)]);
        assert_eq!(lrs(Schedule::Constant, &[false; 5]), [(1.0, 0); 5]);
    }

    /// `weight·3 + bias·4` summed: gradients 3 (both weights) and 4 (bias), norm √34.
    fn known_grads(model: &Linear) -> GradientsParams {
        let w = model.weight.val().mul_scalar(3.0).sum();
        let b = model.bias.as_ref().unwrap().val().mul_scalar(4.0).sum();
        GradientsParams::from_grads((w + b).backward(), model)
    }

    #[test]
    fn clipping_scales_the_global_norm_down_to_the_limit_only() {
        let device = Device::flex().autodiff();
        let model = LinearConfig::new(2, 1).init(&device);
        let full = 34f64.sqrt();
        for (limit, after) in [(None, full), (Some(10.0), full), (Some(1.0), 1.0)] {
            let mut grads = known_grads(&model);
            let before = clip_global_norm(&model, &mut grads, limit);
            assert!((before - full).abs() < 1e-5, "{limit:?}: {before}");
            let now = clip_global_norm(&model, &mut grads, None);
            assert!((now - after).abs() < 1e-5, "{limit:?}: {now} != {after}");
        }
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation_new_each_epoch() {
        let a = epoch_order(50, 7, 1);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 7, 1), "not repeatable");
        assert_ne!(a, epoch_order(50, 7, 2), "same order in the next epoch");
        assert_ne!(a, epoch_order(50, 8, 1), "same order for another seed");
    }

    /// A real, tiny task for the driver: fit `y = 3x + 1` with one linear unit, recording each
    /// call the driver makes and what the run folder holds when the epoch's tables are written.
    struct Line {
        events: Rc<RefCell<Vec<String>>>,
        out: std::path::PathBuf,
        x: Vec<f32>,
    }

    impl Line {
        fn log(&self, e: String) {
            self.events.borrow_mut().push(e);
        }
        fn tensors(&self, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
            let x: Vec<f32> = idx.iter().map(|&i| self.x[i]).collect();
            let y: Vec<f32> = x.iter().map(|v| 3.0 * v + 1.0).collect();
            let n = idx.len();
            (
                Tensor::from_data(TensorData::new(x, [n, 1]), device),
                Tensor::from_data(TensorData::new(y, [n, 1]), device),
            )
        }
        fn mse(&self, model: &Linear, idx: &[usize], device: &Device) -> Tensor<1> {
            let (x, y) = self.tensors(idx, device);
            let d = model.forward(x) - y;
            (d.clone() * d).mean()
        }
    }

    impl Task for Line {
        type Model = Linear;
        fn init_model(&self, device: &Device) -> Linear {
            LinearConfig::new(1, 1).init(device)
        }
        fn write_header(&self, _out: &Path) -> Result<()> {
            self.log("header".into());
            Ok(())
        }
        fn describe(&self, _out: &Path) -> String {
            self.log("describe".into());
            "line".into()
        }
        fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
            self.log(format!("batches {epoch}"));
            epoch_batches(self.x.len(), 1, epoch, 4)
        }
        fn begin_epoch(&mut self) {
            self.log("begin".into());
        }
        fn train_step(
            &mut self,
            model: &Linear,
            batch: &[usize],
            device: &Device,
        ) -> Result<StepLoss> {
            self.log("step".into());
            let loss = self.mse(model, batch, device);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            Ok(StepLoss {
                loss,
                value,
                examples: batch.len(),
            })
        }
        fn progress(&self, mean_loss: f64) -> String {
            format!("{mean_loss}")
        }
        fn train_accuracy(&self) -> f64 {
            f64::NAN
        }
        fn evaluate(
            &mut self,
            model: &Linear,
            epoch: usize,
            device: &Device,
        ) -> Result<Evaluation> {
            self.log(format!("evaluate {epoch}"));
            let all: Vec<usize> = (0..self.x.len()).collect();
            let val_loss = f64::from(self.mse(model, &all, device).into_scalar::<f32>());
            Ok(Evaluation {
                val_loss,
                val_acc: f64::NAN,
                test_loss: f64::NAN,
                test_acc: f64::NAN,
            })
        }
        fn epoch_line(&self, row: &EpochMetrics, _improved: bool) -> String {
            self.log(format!("line {}", row.epoch));
            String::new()
        }
        fn tables(&self) -> Result<BTreeMap<String, serde_json::Value>> {
            self.log("tables".into());
            Ok(BTreeMap::new())
        }
        fn restore_tables(&mut self, state: &TrainState, _out: &Path) -> Result<()> {
            self.log(format!("restore {}", state.epochs_done));
            Ok(())
        }
        fn write_tables(&self, out: &Path) -> Result<()> {
            // The checkpoint is committed and the weights and metrics published before this.
            let latest = std::fs::read_to_string(out.join("checkpoint/LATEST")).unwrap();
            let rows = std::fs::read_to_string(out.join("metrics.csv"))
                .unwrap()
                .lines()
                .count()
                - 1;
            let weights = out.join(WEIGHTS_FILE).is_file();
            self.log(format!("write_tables {} {rows} {weights}", latest.trim()));
            assert_eq!(out, self.out);
            Ok(())
        }
        fn finish(&mut self, end: &Finish) -> Result<()> {
            self.log(format!("finish {}", end.state.epochs_done));
            let summary = serde_json::json!({"epochs": end.state.epochs_done});
            write_summary(end.out, &summary)
        }
    }

    fn line_policy(epochs: usize) -> Policy {
        Policy {
            name: "line",
            epochs,
            seed: 3,
            lr: 0.05,
            weight_decay: 0.0,
            grad_clip: Some(5.0),
            improvement: Improvement::Strict,
            schedule: Schedule::Exponential(0.9),
            published: Published::BestValidation,
        }
    }

    fn epoch_events(e: usize) -> Vec<String> {
        let mut v = vec![format!("batches {e}"), "begin".into()];
        v.extend(std::iter::repeat_n("step".to_string(), 4));
        v.extend([
            format!("evaluate {e}"),
            "tables".into(),
            format!("write_tables epoch-{e:04} {e} true"),
            format!("line {e}"),
        ]);
        v
    }

    #[test]
    fn an_epoch_runs_its_steps_in_order_and_commits_before_it_publishes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        std::fs::create_dir(&out).unwrap();
        let device = Device::flex().autodiff();
        let config = RunConfig::Copy(CopyRunConfig::default());
        let events = Rc::new(RefCell::new(Vec::new()));
        let train = |epochs: usize, resume: bool| {
            let run = RunSpec {
                out: &out,
                resume,
                device: &device,
                config: &config,
            };
            let task = Line {
                events: events.clone(),
                out: out.clone(),
                x: (0..16).map(|i| i as f32 / 16.0).collect(),
            };
            drive(&run, &line_policy(epochs), || Ok(task)).unwrap();
            std::mem::take(&mut *events.borrow_mut())
        };
        let mut expected = vec!["header".to_string(), "describe".into()];
        expected.extend(epoch_events(1));
        expected.extend(epoch_events(2));
        expected.push("finish 2".into());
        assert_eq!(train(2, false), expected);
        // A resume counts the committed epochs' steps (the probe's global step: `batches` of
        // epochs 1 and 2), restores, then runs only the new epochs; with nothing to do, it
        // loads nothing.
        let mut expected = vec![
            "batches 1".to_string(),
            "batches 2".into(),
            "restore 2".into(),
            "describe".into(),
        ];
        expected.extend(epoch_events(3));
        expected.push("finish 3".into());
        assert_eq!(train(3, true), expected);
        assert_eq!(train(3, true), Vec::<String>::new());
        // The rate decayed once per epoch; the loss fell.
        let state = Checkpoint::new(&out).load().unwrap().state;
        assert_eq!(state.lr, 0.05 * 0.9 * 0.9 * 0.9);
        let m = &state.metrics;
        assert!(m[2].val_loss < m[0].val_loss, "{m:?}");
    }

    #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        epoch: usize,
        value: f64,
    }

    impl EpochRow for Row {
        fn epoch(&self) -> usize {
            self.epoch
        }
    }

    #[test]
    fn an_epoch_table_comes_back_from_the_checkpoint_or_names_the_bad_line_of_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut table = EpochTable::<Row>::new("rows.csv");
        table.rows = (1..=3)
            .map(|epoch| Row {
                epoch,
                value: 0.1 * epoch as f64,
            })
            .collect();
        let mut state = TrainState::fresh(1.0);
        state.epochs_done = 2;
        table.save_into(&mut state.tables).unwrap();
        // From the checkpoint: rows after the committed epoch dropped, the file written.
        let mut back = EpochTable::<Row>::new("rows.csv");
        back.restore(&state, tmp.path()).unwrap();
        assert_eq!(back.rows, table.rows[..2]);
        let text = std::fs::read_to_string(tmp.path().join("rows.csv")).unwrap();
        assert_eq!(text, "epoch,value\n1,0.1\n2,0.2\n");
        // A checkpoint without tables (older layout) reads the file; a bad line is an error.
        state.tables.clear();
        let mut legacy = EpochTable::<Row>::new("rows.csv");
        legacy.restore(&state, tmp.path()).unwrap();
        assert_eq!(legacy.rows, table.rows[..2]);
        std::fs::write(tmp.path().join("rows.csv"), "epoch,value\n1,0.1\n2,oops\n").unwrap();
        // The file no longer matches the checksum kann wrote beside it: refused as changed.
        let err = format!("{:#}", legacy.restore(&state, tmp.path()).unwrap_err());
        assert!(err.contains("rows.csv") && err.contains("changed"), "{err}");
        // A file without a checksum (written by hand) is parsed; its bad line is named.
        std::fs::remove_file(tmp.path().join("rows.csv.crc32")).unwrap();
        let err = format!("{:#}", legacy.restore(&state, tmp.path()).unwrap_err());
        assert!(err.contains("rows.csv") && err.contains("line: 3"), "{err}");
        // No file and no table: an empty history.
        std::fs::remove_file(tmp.path().join("rows.csv")).unwrap();
        legacy.restore(&state, tmp.path()).unwrap();
        assert!(legacy.rows.is_empty());
    }
}
