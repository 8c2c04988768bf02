//! ECG5000 autoencoder training (paper Sec. 4.2): Adam, reduce-on-plateau on the validation
//! loss, best-validation weights kept; normal iff the summed L1 loss is below the threshold.

use anyhow::{Context, Result};
use burn::optim::GradientsParams;
use burn::prelude::*;
use kann_data::ecg::{Beat, EcgSplits, SERIES_LEN};
use kann_data::locate_data_dir;
use kann_data::progress::progress_bar;
use kann_models::config::{EcgRunConfig, RunConfig, Task};
use kann_models::integrity::{module_bytes, module_from_bytes, read_verified};
use kann_models::run::{ModelSpec, WEIGHTS_FILE, load_weights, write_csv, write_run_header};
use kann_models::{
    EcgAutoencoder, beats_tensor, l1_per_beat, npy::tensor_to_vec, roc_curve, threshold_accuracy,
};
use serde::Serialize;
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::setup::{Start, remove_leftovers, restore_point, run_resolved, update_config};

/// Beats per inference batch: the decoder's buffers (`64 x 140 x 512` floats, 18 MiB) stay below
/// glibc's 32 MiB heap threshold and are recycled (see `hugepages::retain_freed_memory`).
pub const SCORE_BATCH: usize = 64;

/// Summed L1 reconstruction loss of every beat (inference, no autodiff).
pub fn scores(model: &EcgAutoencoder, beats: &[Beat], device: &Device) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(beats.len());
    for chunk in beats.chunks(SCORE_BATCH) {
        let x = beats_tensor(chunk, device)?;
        let recon = model.forward(x.clone())?;
        out.extend(tensor_to_vec(&l1_per_beat(recon, x))?);
    }
    Ok(out)
}

fn mean(v: &[f32]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
}

fn frac(v: &[f32], pred: impl Fn(f32) -> bool) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().filter(|&&x| pred(x)).count() as f64 / v.len() as f64
}

/// A fraction as a percentage with one decimal; `n/a` when undefined (NaN).
fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", 100.0 * x)
    } else {
        "n/a".into()
    }
}

/// `ecg_scores.csv`: the best weights' summed L1 loss of every beat of every split.
pub const SCORES_FILE: &str = "ecg_scores.csv";
/// `roc.csv`: the test beats' ROC of the threshold rule (one [`kann_models::RocPoint`] a row).
pub const ROC_FILE: &str = "roc.csv";

/// One row of `ecg_scores.csv` (columns `split,index,label,loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreRow<'a> {
    /// `train`, `validation`, `test_normal` or `test_anomalous`.
    pub split: &'a str,
    /// The beat's position in the merged file order.
    pub index: usize,
    /// Its UCR class label (1 = normal).
    pub label: u8,
    /// Its summed L1 reconstruction loss.
    pub loss: f32,
}

/// `train ecg`.
pub fn run(args: &TrainArgs) -> Result<std::path::PathBuf> {
    run_resolved(Task::Ecg, args, |r| {
        let RunConfig::Ecg(cfg) = &r.config else {
            anyhow::bail!("resolve returned a config of another task")
        };
        train_ecg(cfg, &r.config, &r.out, r.resume, &r.device)
    })
}

fn train_ecg(
    cfg: &EcgRunConfig,
    full_config: &RunConfig,
    out: &std::path::Path,
    resume: bool,
    device: &Device,
) -> Result<()> {
    let checkpoint = Checkpoint::new(out);
    // A resume reads (and verifies) the checkpoint before anything in the folder changes.
    let restored = match restore_point(&checkpoint, out, resume, cfg.train.epochs)? {
        Start::Fresh => None,
        Start::Resume(r) => Some(r),
        Start::Finished => return Ok(()),
    };
    let mut log = Logger::new(out);
    let total = Timer::start();
    let data_dir = locate_data_dir(None, cfg.data.data_dir.as_deref());
    let mut splits = EcgSplits::load(&data_dir, cfg.data.split_seed)
        .with_context(|| format!("loading ECG5000 from {}", data_dir.display()))?;
    if let Some(n) = cfg.data.train_limit {
        splits.train.truncate(n);
    }
    if splits.train.is_empty() || splits.validation.is_empty() {
        anyhow::bail!(
            "the ECG split of {} left {} training and {} validation beats; both need at least one normal beat",
            data_dir.display(),
            splits.train.len(),
            splits.validation.len()
        );
    }

    let mcfg = cfg.model_config(SERIES_LEN);
    device.seed(cfg.train.seed);
    let model = mcfg.init(device);
    let optim = adam(cfg.train.weight_decay);
    let (mut model, mut optim, mut state, mut best) = match restored {
        Some(r) => {
            let model = module_from_bytes(model, r.model, &r.dir.join("model.bpk"))?;
            let optim = optim_from_bytes(optim, r.optim, &r.dir.join("optim.bpk"))?;
            // Checkpoints of the older layout kept no best weights: the run's model.bpk is them.
            let best = match r.best {
                Some(b) => b,
                None => read_verified(&out.join(WEIGHTS_FILE))?.0,
            };
            update_config(out, full_config)?;
            publish(out, &best, &r.state.metrics)?;
            let removed = remove_leftovers(out)?;
            log.line(format!(
                "resuming after epoch {} (lr {:.3e}){}",
                r.state.epochs_done,
                r.state.lr,
                if removed > 0 {
                    format!("; removed {removed} leftover(s) of interrupted writes")
                } else {
                    String::new()
                }
            ));
            (model, optim, r.state, Some(best))
        }
        None => {
            write_run_header(out, full_config, &ModelSpec::Ecg(mcfg.clone()))?;
            (model, optim, TrainState::fresh(cfg.train.lr), None)
        }
    };
    log.line(format!(
        "ecg: {} train / {} val / {} normal test / {} anomalous test beats from {}; cell {}, run folder {}",
        splits.train.len(),
        splits.validation.len(),
        splits.test_normal.len(),
        splits.test_anomalous.len(),
        data_dir.display(),
        cfg.model.cell,
        out.display()
    ));
    let eval_device = device.clone().inner();
    let thr = cfg.train.threshold;
    let bs = cfg.train.batch_size;

    for epoch in state.epochs_done + 1..=cfg.train.epochs {
        let t_train = Timer::start();
        let order = epoch_order(splits.train.len(), cfg.train.seed, epoch);
        let n_batches = order.len().div_ceil(bs);
        let bar = progress_bar(
            n_batches as u64,
            &format!("ecg epoch {epoch}/{}", cfg.train.epochs),
        );
        log.attach(Some(bar.clone()));
        let (mut loss_sum, mut n_seen, mut n_ok) = (0.0f64, 0usize, 0usize);
        for (bi, idx) in order.chunks(bs).enumerate() {
            let beats: Vec<&Beat> = idx.iter().map(|&i| &splits.train[i]).collect();
            let x = beats_tensor(&beats, device)?;
            let recon = model.forward(x.clone())?;
            let per_beat = l1_per_beat(recon, x);
            let per_host = tensor_to_vec(&per_beat.clone().detach())?;
            let loss = per_beat.mean();
            let batch_loss = mean(&per_host);
            check_finite("training loss", batch_loss, epoch, bi + 1)?;
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let norm = clip_global_norm(&model, &mut grads, cfg.train.grad_clip);
            check_finite("gradient norm", norm, epoch, bi + 1)?;
            model = optim.step(state.lr, model, grads);
            loss_sum += batch_loss * per_host.len() as f64;
            n_seen += per_host.len();
            n_ok += per_host.iter().filter(|&&s| (s as f64) < thr).count();
            log_progress(
                &log,
                &bar,
                bi + 1,
                n_batches,
                &t_train,
                &format!("loss {:.2}", loss_sum / n_seen as f64),
            );
            bar.inc(1);
            bar.set_message(format!("loss {:.2}", loss_sum / n_seen as f64));
        }
        bar.finish_and_clear();
        log.attach(None);
        let train_seconds = t_train.secs();

        let t_eval = Timer::start();
        let valid = model.valid();
        let val = scores(&valid, &splits.validation, &eval_device)?;
        let (test_n, test_a) = if cfg.train.test_every_epoch {
            (
                scores(&valid, &splits.test_normal, &eval_device)?,
                scores(&valid, &splits.test_anomalous, &eval_device)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let val_loss = mean(&val);
        check_finite("validation loss", val_loss, epoch, n_batches)?;
        let acc = threshold_accuracy(&test_n, &test_a, thr);
        let row = EpochMetrics {
            epoch,
            lr: state.lr,
            train_loss: loss_sum / n_seen as f64,
            train_acc: n_ok as f64 / n_seen as f64,
            val_loss,
            val_acc: frac(&val, |s| (s as f64) < thr),
            test_loss: mean(&test_n),
            test_acc: acc.overall,
            train_seconds,
            eval_seconds: t_eval.secs(),
        };
        // Reduce-on-plateau (PyTorch defaults: relative threshold 1e-4).
        let improved = val_loss < state.best_val_loss * (1.0 - 1e-4);
        let model_bytes = module_bytes(&model)?;
        if improved {
            state.best_val_loss = val_loss;
            state.best_epoch = epoch;
            state.bad_epochs = 0;
            best = Some(model_bytes.clone());
        } else {
            state.bad_epochs += 1;
        }
        let lr_used = state.lr;
        if state.bad_epochs > cfg.train.plateau_patience {
            state.lr *= cfg.train.plateau_factor;
            state.bad_epochs = 0;
        }
        state.epochs_done = epoch;
        state.elapsed_seconds += row.train_seconds + row.eval_seconds;
        state.metrics.push(row.clone());
        let best_bytes = best
            .as_deref()
            .context("no best-validation weights after an epoch")?;
        // The checkpoint is the commit point; model.bpk and metrics.csv follow it.
        checkpoint.save(
            &model_bytes,
            &optim_bytes(&optim)?,
            &state,
            Some(best_bytes),
        )?;
        publish(out, best_bytes, &state.metrics)?;
        log.line(format!(
            "epoch {epoch:>3}/{} lr {lr_used:.2e} | train L1 {:.2} ({:.1}% < {thr}) | val L1 {:.2} ({:.1}%){} | {}{}",
            cfg.train.epochs,
            row.train_loss,
            100.0 * row.train_acc,
            row.val_loss,
            100.0 * row.val_acc,
            if improved { " *best" } else { "" },
            if cfg.train.test_every_epoch {
                format!(
                    "test normal {} anomalous {} all {} | ",
                    pct(acc.normal),
                    pct(acc.anomalous),
                    pct(acc.overall)
                )
            } else {
                String::new()
            },
            fmt_secs(row.train_seconds + row.eval_seconds)
        ));
    }

    // Final evaluation with the best-validation weights.
    let best = load_weights(mcfg.init(&eval_device), &out.join(WEIGHTS_FILE))
        .context("loading the best-validation weights")?;
    let val = scores(&best, &splits.validation, &eval_device)?;
    let train_s = scores(&best, &splits.train, &eval_device)?;
    let test_n = scores(&best, &splits.test_normal, &eval_device)?;
    let test_a = scores(&best, &splits.test_anomalous, &eval_device)?;
    let mut score_rows = Vec::new();
    for (split, beats, s) in [
        ("train", &splits.train, &train_s),
        ("validation", &splits.validation, &val),
        ("test_normal", &splits.test_normal, &test_n),
        ("test_anomalous", &splits.test_anomalous, &test_a),
    ] {
        score_rows.extend(beats.iter().zip(s.iter()).map(|(b, &loss)| ScoreRow {
            split,
            index: b.index,
            label: b.label,
            loss,
        }));
    }
    write_csv(&out.join(SCORES_FILE), &score_rows)?;
    let to_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let (points, auc) = roc_curve(&to_f64(&test_n), &to_f64(&test_a));
    // The ROC needs both classes; without one of them its area is undefined, not 0.
    let auc = (!test_n.is_empty() && !test_a.is_empty()).then_some(auc);
    write_csv(&out.join(ROC_FILE), &points)?;
    let acc = threshold_accuracy(&test_n, &test_a, thr);
    let train_acc = frac(&train_s, |s| (s as f64) < thr);
    let val_acc = frac(&val, |s| (s as f64) < thr);
    let summary = json!({
        "task": "ecg",
        "cell": cfg.model.cell.to_string(),
        "threshold": thr,
        "best_epoch": state.best_epoch,
        "best_val_loss": state.best_val_loss,
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "test_normal_accuracy": acc.normal,
        "test_anomalous_accuracy": acc.anomalous,
        "test_accuracy": acc.overall,
        "test_roc_auc": auc,
        "epochs": state.epochs_done,
        "train_seconds": state.elapsed_seconds,
        "wall_seconds_this_session": total.secs(),
        "beats": {"train": splits.train.len(), "validation": splits.validation.len(),
                  "test_normal": splits.test_normal.len(), "test_anomalous": splits.test_anomalous.len()},
        "paper": {"train": 0.971, "validation": 0.976, "test": 0.986}
    });
    write_summary(out, &summary)?;
    log.line(format!(
        "ecg done: best epoch {} (val L1 {:.2}); at threshold {thr}: train {:.1}%, val {:.1}%, test normal {}, anomalous {}, all {} (paper 98.6%); ROC AUC {}; training time {}",
        state.best_epoch,
        state.best_val_loss,
        100.0 * train_acc,
        100.0 * val_acc,
        pct(acc.normal),
        pct(acc.anomalous),
        pct(acc.overall),
        match auc {
            Some(a) => format!("{a:.4}"),
            None => format!(
                "undefined (the test split has {} normal and {} anomalous beats; it needs both)",
                test_n.len(),
                test_a.len()
            ),
        },
        fmt_secs(state.elapsed_seconds)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undefined_accuracy_prints_as_na() {
        assert_eq!(pct(f64::NAN), "n/a");
        assert_eq!(pct(0.5), "50.0%");
    }

    #[test]
    fn score_and_roc_rows_keep_their_columns() {
        let rows = [ScoreRow {
            split: "test_normal",
            index: 7,
            label: 1,
            loss: 12.5,
        }];
        let text = String::from_utf8(kann_models::run::csv_bytes(&rows).unwrap()).unwrap();
        assert_eq!(text, "split,index,label,loss\ntest_normal,7,1,12.5\n");
        let (points, _) = roc_curve(&[1.0], &[2.0]);
        let text = String::from_utf8(kann_models::run::csv_bytes(&points).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("threshold,false_positive_rate,true_positive_rate")
        );
        assert_eq!(lines.next(), Some("inf,0.0,0.0"));
        assert_eq!(lines.last(), Some("1.0,1.0,1.0"));
    }
}
