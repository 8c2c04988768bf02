//! Copy-problem training (the paper's App. D): Adam, global gradient-norm clipping,
//! cross-entropy over the recall window ([`kann_models::copy::recall_cross_entropy`]),
//! best-validation-loss weights kept; checkpointed and resumable like `train ecg`.
//!
//! Per epoch `metrics.csv` holds the loss and the per-symbol recall accuracy of each split
//! (`*_acc`), and `copy_metrics.csv` ([`CopyEpoch`]) the whole-string accuracies of validation
//! and test. `summary.json` gives both accuracies of the best weights on every split.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::copy::{CopySequence, CopySpec, CopySplits, CopyTask, RecallAccuracy};
use kann_models::CopyModel;
use kann_models::config::{CopyRunConfig, RunConfig, Task};
use kann_models::copy::{argmax_classes, recall_cross_entropy};
use kann_models::run::{ModelSpec, WEIGHTS_FILE, load_weights, write_run_header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::driver::{
    EpochRow, EpochTable, Evaluation, Finish, Improvement, Policy, Published, RunSpec, Schedule,
    StepLoss, drive,
};
use crate::probe::{ProbeInput, Readout, ScoredSteps, states_of};
use crate::setup::run_resolved;

/// `copy_metrics.csv`: whole-string accuracy per epoch.
pub const COPY_METRICS_FILE: &str = "copy_metrics.csv";

/// One row of `copy_metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Validation: fraction of strings recalled without error.
    pub val_string_acc: f64,
    /// Test: fraction of strings recalled without error.
    pub test_string_acc: f64,
}

/// The task and splits of a config.
pub fn copy_splits(cfg: &CopyRunConfig) -> Result<CopySplits> {
    let task = CopyTask::new(cfg.data.len, cfg.data.symbols, cfg.data.delay)?;
    Ok(CopySpec {
        task,
        train: cfg.data.train,
        validation: cfg.data.validation,
        test: cfg.data.test,
        seed: cfg.data.seed,
    }
    .splits()?)
}

/// The network's output classes over the recall window of `seqs` (`len` per sequence, in
/// order), and the mean recall cross-entropy, in chunks of 512 (inference).
pub fn recall_outputs(
    model: &CopyModel,
    task: &CopyTask,
    seqs: &[CopySequence],
    device: &Device,
) -> Result<(Vec<usize>, f64)> {
    let mut classes = Vec::with_capacity(seqs.len() * task.len);
    let mut loss_sum = 0.0;
    for chunk in seqs.chunks(512) {
        let inputs: Vec<&[usize]> = chunk.iter().map(|s| s.input.as_slice()).collect();
        let x = model.one_hot(&inputs, device)?;
        let hidden = model.forward_states(x, false)?.hidden;
        let logits = model.readout(hidden.narrow(1, task.recall_start(), task.len));
        let targets: Vec<usize> = chunk
            .iter()
            .flat_map(|s| s.string.iter().copied())
            .collect();
        let loss = recall_cross_entropy(logits.clone(), &targets)?;
        loss_sum += f64::from(loss.into_scalar::<f32>()) * chunk.len() as f64;
        classes.extend(argmax_classes(logits)?);
    }
    Ok((classes, loss_sum / seqs.len().max(1) as f64))
}

/// Per-symbol and whole-string accuracy of recall outputs (`len` classes per sequence).
pub fn score(task: &CopyTask, seqs: &[CopySequence], classes: &[usize]) -> RecallAccuracy {
    let mut acc = RecallAccuracy::default();
    for (s, c) in seqs.iter().zip(classes.chunks(task.len)) {
        acc.add(c, &s.string);
    }
    acc
}

/// Loss and recall accuracy of a split.
fn evaluate(
    model: &CopyModel,
    task: &CopyTask,
    seqs: &[CopySequence],
    device: &Device,
) -> Result<(f64, RecallAccuracy)> {
    let (classes, loss) = recall_outputs(model, task, seqs, device)?;
    Ok((loss, score(task, seqs, &classes)))
}

/// `train copy`.
pub fn run(args: &TrainArgs) -> Result<std::path::PathBuf> {
    run_resolved(Task::Copy, args, |r| {
        let RunConfig::Copy(cfg) = &r.config else {
            bail!("resolve returned a config of another task")
        };
        let run = RunSpec {
            out: &r.out,
            resume: r.resume,
            device: &r.device,
            config: &r.config,
        };
        drive(&run, &policy(cfg), || CopyTraining::new(cfg, &r.config))
    })
}

/// Copy's training settings: a constant rate, a strict `<` on the validation loss, the
/// best-validation weights published.
pub fn policy(cfg: &CopyRunConfig) -> Policy {
    Policy {
        name: "copy",
        epochs: cfg.train.epochs,
        seed: cfg.train.seed,
        lr: cfg.train.lr,
        weight_decay: cfg.train.weight_decay,
        grad_clip: cfg.train.grad_clip,
        improvement: Improvement::Strict,
        schedule: Schedule::Constant,
        published: Published::BestValidation,
    }
}

impl EpochRow for CopyEpoch {
    fn epoch(&self) -> usize {
        self.epoch
    }
}

/// The copy task as the driver trains it.
pub struct CopyTraining<'a> {
    cfg: &'a CopyRunConfig,
    full_config: &'a RunConfig,
    splits: CopySplits,
    /// Running recall accuracy of the epoch's training batches.
    train_acc: RecallAccuracy,
    /// The last evaluation's validation and test recall.
    last: (RecallAccuracy, RecallAccuracy),
    /// `copy_metrics.csv`.
    rows: EpochTable<CopyEpoch>,
}

impl<'a> CopyTraining<'a> {
    /// The task of `cfg` with its splits drawn.
    pub fn new(cfg: &'a CopyRunConfig, full_config: &'a RunConfig) -> Result<Self> {
        Ok(Self {
            cfg,
            full_config,
            splits: copy_splits(cfg)?,
            train_acc: RecallAccuracy::default(),
            last: Default::default(),
            rows: EpochTable::new(COPY_METRICS_FILE),
        })
    }
}

impl crate::driver::Task for CopyTraining<'_> {
    type Model = CopyModel;

    fn init_model(&self, device: &Device) -> CopyModel {
        self.cfg.model_config().init(device)
    }

    fn write_header(&self, out: &Path) -> Result<()> {
        let spec = ModelSpec::Copy(self.cfg.model_config());
        Ok(write_run_header(out, self.full_config, &spec)?)
    }

    fn describe(&self, out: &Path) -> String {
        let (task, splits, cfg) = (&self.splits.task, &self.splits, self.cfg);
        format!(
            "copy: strings of {} over {} symbols, delay {} ({} steps, recall window {}..{}); {} train / {} val / {} test sequences (seed {}); cell {}, hidden {}, run folder {}",
            task.len,
            task.symbols,
            task.delay,
            task.steps(),
            task.recall_start(),
            task.steps(),
            splits.train.len(),
            splits.validation.len(),
            splits.test.len(),
            cfg.data.seed,
            cfg.model.cell,
            cfg.model.d_hidden,
            out.display()
        )
    }

    fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        epoch_batches(
            self.splits.train.len(),
            self.cfg.train.seed,
            epoch,
            self.cfg.train.batch_size,
        )
    }

    fn begin_epoch(&mut self) {
        self.train_acc = RecallAccuracy::default();
    }

    fn train_step(
        &mut self,
        model: &CopyModel,
        batch: &[usize],
        device: &Device,
    ) -> Result<StepLoss> {
        let task = &self.splits.task;
        let seqs: Vec<&CopySequence> = batch.iter().map(|&i| &self.splits.train[i]).collect();
        let inputs: Vec<&[usize]> = seqs.iter().map(|s| s.input.as_slice()).collect();
        let targets: Vec<usize> = seqs.iter().flat_map(|s| s.string.iter().copied()).collect();
        let x = model.one_hot(&inputs, device)?;
        let hidden = model.forward_states(x, false)?.hidden;
        let logits = model.readout(hidden.narrow(1, task.recall_start(), task.len));
        let loss = recall_cross_entropy(logits.clone(), &targets)?;
        let value = f64::from(loss.clone().detach().into_scalar::<f32>());
        if value.is_finite() {
            let classes = argmax_classes(logits.detach())?;
            for (s, c) in seqs.iter().zip(classes.chunks(task.len)) {
                self.train_acc.add(c, &s.string);
            }
        }
        Ok(StepLoss {
            loss,
            value,
            examples: seqs.len(),
        })
    }

    fn progress(&self, mean_loss: f64) -> String {
        format!(
            "loss {mean_loss:.3} recall {:.1}%",
            100.0 * self.train_acc.per_symbol()
        )
    }

    fn train_accuracy(&self) -> f64 {
        self.train_acc.per_symbol()
    }

    fn evaluate(&mut self, model: &CopyModel, epoch: usize, device: &Device) -> Result<Evaluation> {
        let task = &self.splits.task;
        let (val_loss, val) = evaluate(model, task, &self.splits.validation, device)?;
        let (test_loss, test) = evaluate(model, task, &self.splits.test, device)?;
        self.rows.rows.push(CopyEpoch {
            epoch,
            val_string_acc: val.whole_string(),
            test_string_acc: test.whole_string(),
        });
        let eval = Evaluation {
            val_loss,
            val_acc: val.per_symbol(),
            test_loss,
            test_acc: test.per_symbol(),
        };
        self.last = (val, test);
        Ok(eval)
    }

    fn epoch_line(&self, row: &EpochMetrics, improved: bool) -> String {
        let (val, test) = &self.last;
        format!(
            "epoch {:>3}/{} | train loss {:.4} recall {:.2}% | val loss {:.4} recall {:.2}% strings {:.2}%{} | test recall {:.2}% strings {:.2}% | {}",
            row.epoch,
            self.cfg.train.epochs,
            row.train_loss,
            100.0 * row.train_acc,
            row.val_loss,
            100.0 * val.per_symbol(),
            100.0 * val.whole_string(),
            if improved { " *best" } else { "" },
            100.0 * test.per_symbol(),
            100.0 * test.whole_string(),
            fmt_secs(row.train_seconds + row.eval_seconds)
        )
    }

    fn tables(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        let mut tables = BTreeMap::new();
        self.rows.save_into(&mut tables)?;
        Ok(tables)
    }

    fn restore_tables(&mut self, state: &TrainState, out: &Path) -> Result<()> {
        self.rows.restore(state, out)
    }

    fn write_tables(&self, out: &Path) -> Result<()> {
        self.rows.write(out)
    }

    fn probe_pool(&self) -> usize {
        self.splits.validation.len()
    }

    fn probe_input(
        &self,
        model: &CopyModel,
        indices: &[usize],
        device: &Device,
    ) -> Result<ProbeInput> {
        let task = &self.splits.task;
        let inputs: Vec<&[usize]> = indices
            .iter()
            .map(|&i| self.splits.validation[i].input.as_slice())
            .collect();
        let hidden = model
            .forward_states(model.one_hot(&inputs, device)?, false)?
            .hidden;
        let steps = hidden.dims()[1];
        let scored = ScoredSteps::Window {
            start: task.recall_start(),
            len: task.len,
        };
        Ok(ProbeInput {
            states: states_of(&hidden, &vec![steps; inputs.len()])?,
            readout: Some(Readout::from_linear(&model.readout, scored)?),
        })
    }

    fn finish(&mut self, end: &Finish) -> Result<()> {
        finish(self.cfg, &self.splits, end)
    }
}

/// Final evaluation with the best-validation weights, `summary.json` and the closing line.
fn finish(cfg: &CopyRunConfig, splits: &CopySplits, end: &Finish) -> Result<()> {
    let (task, state, eval_device) = (&splits.task, end.state, end.eval_device);
    let best = load_weights(
        cfg.model_config().init(eval_device),
        &end.out.join(WEIGHTS_FILE),
    )
    .context("loading the best-validation weights")?;
    let mut accs = serde_json::Map::new();
    let mut line = Vec::new();
    for (name, seqs) in [
        ("train", &splits.train),
        ("validation", &splits.validation),
        ("test", &splits.test),
    ] {
        let (loss, a) = evaluate(&best, task, seqs, eval_device)?;
        accs.insert(
            name.into(),
            json!({"loss": loss, "symbol_accuracy": a.per_symbol(), "string_accuracy": a.whole_string(), "sequences": seqs.len()}),
        );
        line.push(format!(
            "{name} {:.2}% / {:.2}%",
            100.0 * a.per_symbol(),
            100.0 * a.whole_string()
        ));
    }
    let test = &accs["test"];
    let summary = json!({
        "task": "copy",
        "cell": cfg.model.cell.to_string(),
        "d_hidden": cfg.model.d_hidden,
        "len": task.len,
        "symbols": task.symbols,
        "delay": task.delay,
        "steps": task.steps(),
        "chance_symbol_accuracy": 1.0 / task.symbols as f64,
        "best_epoch": state.best_epoch,
        "best_val_loss": state.best_val_loss,
        "test_accuracy": test["symbol_accuracy"],
        "test_string_accuracy": test["string_accuracy"],
        "splits": accs,
        "epochs": state.epochs_done,
        "train_seconds": state.elapsed_seconds,
        "wall_seconds_this_session": end.session.secs(),
    });
    write_summary(end.out, &summary)?;
    end.log.line(format!(
        "copy done: best epoch {} (val loss {:.4}); recall per symbol / whole string: {} (chance {:.1}% per symbol); training time {}",
        state.best_epoch,
        state.best_val_loss,
        line.join(", "),
        100.0 / task.symbols as f64,
        fmt_secs(state.elapsed_seconds)
    ));
    Ok(())
}
