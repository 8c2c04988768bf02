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
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::{MODEL_FILE, OPTIM_FILE};
use crate::common::*;
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
    run.device.seed(policy.seed);
    let model = task.init_model(run.device);
    let optim = adam(policy.weight_decay);
    let (mut model, mut t) = match restored {
        Some(r) => resume(&mut task, run, policy, (model, optim), r, &log)?,
        None => {
            task.write_header(run.out)?;
            let state = TrainState::fresh(policy.lr);
            (
                model,
                Training {
                    optim,
                    state,
                    best: None,
                },
            )
        }
    };
    log.line(task.describe(run.out));
    let eval_device = run.device.clone().inner();
    for epoch in t.state.epochs_done + 1..=policy.epochs {
        let trained;
        (model, trained) = train_epoch(
            &mut task, model, &mut t, policy, epoch, run.device, &mut log,
        )?;
        let t_eval = Timer::start();
        let eval = task.evaluate(&model.valid(), epoch, &eval_device)?;
        check_finite("validation loss", eval.val_loss, epoch, trained.batches)?;
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
        let improved = commit_epoch(
            &task,
            &model,
            &mut t,
            policy,
            (&checkpoint, run.out),
            row.clone(),
        )?;
        log.line(task.epoch_line(&row, improved));
    }
    task.finish(&Finish {
        out: run.out,
        state: &t.state,
        eval_device: &eval_device,
        log: &log,
        session: &session,
    })
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
    policy: &Policy,
    epoch: usize,
    device: &Device,
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
    let (mut loss_sum, mut seen) = (0.0f64, 0usize);
    for (bi, batch) in batches.iter().enumerate() {
        let step = task.train_step(&model, batch, device)?;
        check_finite("training loss", step.value, epoch, bi + 1)?;
        let mut grads = GradientsParams::from_grads(step.loss.backward(), &model);
        let norm = clip_global_norm(&model, &mut grads, policy.grad_clip);
        check_finite("gradient norm", norm, epoch, bi + 1)?;
        model = t.optim.step(t.state.lr, model, grads);
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
        seconds: timer.secs(),
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
    task.write_tables(out)?;
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
