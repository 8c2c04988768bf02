//! Copy-problem training (the paper's App. D): Adam, global gradient-norm clipping,
//! cross-entropy over the recall window ([`kann_models::copy::recall_cross_entropy`]),
//! best-validation-loss weights kept; checkpointed and resumable like `train ecg`.
//!
//! Per epoch `metrics.csv` holds the loss and the per-symbol recall accuracy of each split
//! (`*_acc`), and `copy_metrics.csv` ([`CopyEpoch`]) the whole-string accuracies of validation
//! and test. `summary.json` gives both accuracies of the best weights on every split.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::optim::GradientsParams;
use burn::prelude::*;
use kann_data::copy::{CopySequence, CopySpec, CopySplits, CopyTask, RecallAccuracy};
use kann_data::progress::progress_bar;
use kann_models::CopyModel;
use kann_models::config::{CopyRunConfig, RunConfig, Task};
use kann_models::copy::{argmax_classes, recall_cross_entropy};
use kann_models::integrity::{module_bytes, module_from_bytes, read_verified};
use kann_models::run::{
    ModelSpec, WEIGHTS_FILE, load_weights, read_csv, write_csv, write_run_header,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::setup::{Start, remove_leftovers, restore_point, run_resolved, update_config};

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
        train_copy(cfg, &r.config, &r.out, r.resume, &r.device)
    })
}

fn train_copy(
    cfg: &CopyRunConfig,
    full_config: &RunConfig,
    out: &Path,
    resume: bool,
    device: &Device,
) -> Result<()> {
    let checkpoint = Checkpoint::new(out);
    let restored = match restore_point(&checkpoint, out, resume, cfg.train.epochs)? {
        Start::Fresh => None,
        Start::Resume(r) => Some(r),
        Start::Finished => return Ok(()),
    };
    let mut log = Logger::new(out);
    let total = Timer::start();
    let splits = copy_splits(cfg)?;
    let task = splits.task;
    let mcfg = cfg.model_config();
    device.seed(cfg.train.seed);
    let model = mcfg.init(device);
    let optim = adam(cfg.train.weight_decay);
    let (mut model, mut optim, mut state, mut best, mut copy_rows) = match restored {
        Some(r) => {
            let model = module_from_bytes(model, r.model, &r.dir.join("model.bpk"))?;
            let optim = optim_from_bytes(optim, r.optim, &r.dir.join("optim.bpk"))?;
            let best = match r.best {
                Some(b) => b,
                None => read_verified(&out.join(WEIGHTS_FILE))?.0,
            };
            // Rows of epochs after the checkpoint (a kill between the two writes) are dropped.
            let rows: Vec<CopyEpoch> = read_csv(&out.join(COPY_METRICS_FILE))
                .unwrap_or_default()
                .into_iter()
                .filter(|row: &CopyEpoch| row.epoch <= r.state.epochs_done)
                .collect();
            update_config(out, full_config)?;
            publish(out, &best, &r.state.metrics)?;
            write_csv(&out.join(COPY_METRICS_FILE), &rows)?;
            let removed = remove_leftovers(out)?;
            log.line(format!(
                "resuming after epoch {}{}",
                r.state.epochs_done,
                if removed > 0 {
                    format!("; removed {removed} leftover(s) of interrupted writes")
                } else {
                    String::new()
                }
            ));
            (model, optim, r.state, Some(best), rows)
        }
        None => {
            write_run_header(out, full_config, &ModelSpec::Copy(mcfg.clone()))?;
            (
                model,
                optim,
                TrainState::fresh(cfg.train.lr),
                None,
                Vec::new(),
            )
        }
    };
    log.line(format!(
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
    ));
    let eval_device = device.clone().inner();
    let bs = cfg.train.batch_size;
    for epoch in state.epochs_done + 1..=cfg.train.epochs {
        let t_train = Timer::start();
        let order = epoch_order(splits.train.len(), cfg.train.seed, epoch);
        let n_batches = order.len().div_ceil(bs);
        let bar = progress_bar(
            n_batches as u64,
            &format!("copy epoch {epoch}/{}", cfg.train.epochs),
        );
        log.attach(Some(bar.clone()));
        let (mut loss_sum, mut n_seen) = (0.0f64, 0usize);
        let mut acc = RecallAccuracy::default();
        for (bi, idx) in order.chunks(bs).enumerate() {
            let seqs: Vec<&CopySequence> = idx.iter().map(|&i| &splits.train[i]).collect();
            let inputs: Vec<&[usize]> = seqs.iter().map(|s| s.input.as_slice()).collect();
            let targets: Vec<usize> = seqs.iter().flat_map(|s| s.string.iter().copied()).collect();
            let x = model.one_hot(&inputs, device)?;
            let hidden = model.forward_states(x, false)?.hidden;
            let logits = model.readout(hidden.narrow(1, task.recall_start(), task.len));
            let loss = recall_cross_entropy(logits.clone(), &targets)?;
            let batch_loss = f64::from(loss.clone().detach().into_scalar::<f32>());
            check_finite("training loss", batch_loss, epoch, bi + 1)?;
            let classes = argmax_classes(logits.detach())?;
            for (s, c) in seqs.iter().zip(classes.chunks(task.len)) {
                acc.add(c, &s.string);
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let norm = clip_global_norm(&model, &mut grads, cfg.train.grad_clip);
            check_finite("gradient norm", norm, epoch, bi + 1)?;
            model = optim.step(state.lr, model, grads);
            loss_sum += batch_loss * seqs.len() as f64;
            n_seen += seqs.len();
            let msg = format!(
                "loss {:.3} recall {:.1}%",
                loss_sum / n_seen as f64,
                100.0 * acc.per_symbol()
            );
            log_progress(&log, &bar, bi + 1, n_batches, &t_train, &msg);
            bar.inc(1);
            bar.set_message(msg);
        }
        bar.finish_and_clear();
        log.attach(None);
        let train_seconds = t_train.secs();

        let t_eval = Timer::start();
        let valid = model.valid();
        let (val_loss, val) = evaluate(&valid, &task, &splits.validation, &eval_device)?;
        let (test_loss, test) = evaluate(&valid, &task, &splits.test, &eval_device)?;
        check_finite("validation loss", val_loss, epoch, n_batches)?;
        let row = EpochMetrics {
            epoch,
            lr: state.lr,
            train_loss: loss_sum / n_seen as f64,
            train_acc: acc.per_symbol(),
            val_loss,
            val_acc: val.per_symbol(),
            test_loss,
            test_acc: test.per_symbol(),
            train_seconds,
            eval_seconds: t_eval.secs(),
        };
        let improved = val_loss < state.best_val_loss;
        let model_bytes = module_bytes(&model)?;
        if improved {
            state.best_val_loss = val_loss;
            state.best_epoch = epoch;
            best = Some(model_bytes.clone());
        }
        state.epochs_done = epoch;
        state.elapsed_seconds += row.train_seconds + row.eval_seconds;
        state.metrics.push(row.clone());
        copy_rows.push(CopyEpoch {
            epoch,
            val_string_acc: val.whole_string(),
            test_string_acc: test.whole_string(),
        });
        let best_bytes = best
            .as_deref()
            .context("no best-validation weights after an epoch")?;
        checkpoint.save(
            &model_bytes,
            &optim_bytes(&optim)?,
            &state,
            Some(best_bytes),
        )?;
        publish(out, best_bytes, &state.metrics)?;
        write_csv(&out.join(COPY_METRICS_FILE), &copy_rows)?;
        log.line(format!(
            "epoch {epoch:>3}/{} | train loss {:.4} recall {:.2}% | val loss {:.4} recall {:.2}% strings {:.2}%{} | test recall {:.2}% strings {:.2}% | {}",
            cfg.train.epochs,
            row.train_loss,
            100.0 * row.train_acc,
            val_loss,
            100.0 * val.per_symbol(),
            100.0 * val.whole_string(),
            if improved { " *best" } else { "" },
            100.0 * test.per_symbol(),
            100.0 * test.whole_string(),
            fmt_secs(row.train_seconds + row.eval_seconds)
        ));
    }

    // Final evaluation with the best-validation weights.
    let best = load_weights(mcfg.init(&eval_device), &out.join(WEIGHTS_FILE))
        .context("loading the best-validation weights")?;
    let mut accs = serde_json::Map::new();
    let mut line = Vec::new();
    for (name, seqs) in [
        ("train", &splits.train),
        ("validation", &splits.validation),
        ("test", &splits.test),
    ] {
        let (loss, a) = evaluate(&best, &task, seqs, &eval_device)?;
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
        "wall_seconds_this_session": total.secs(),
    });
    write_summary(out, &summary)?;
    log.line(format!(
        "copy done: best epoch {} (val loss {:.4}); recall per symbol / whole string: {} (chance {:.1}% per symbol); training time {}",
        state.best_epoch,
        state.best_val_loss,
        line.join(", "),
        100.0 / task.symbols as f64,
        fmt_secs(state.elapsed_seconds)
    ));
    Ok(())
}
