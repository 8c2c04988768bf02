//! ECG5000 autoencoder training (paper Sec. 4.2): Adam, reduce-on-plateau on the validation
//! loss, best-validation weights kept; normal iff the summed L1 loss is below the threshold.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use kann_data::ecg::{Beat, EcgSplits, SERIES_LEN};
use kann_data::locate_data_dir;
use kann_models::config::{EcgRunConfig, RunConfig, Task};
use kann_models::run::{ModelSpec, WEIGHTS_FILE, load_weights, write_csv, write_run_header};
use kann_models::{
    EcgAutoencoder, ThresholdAccuracy, beats_tensor, l1_per_beat, npy::tensor_to_vec, roc_curve,
    threshold_accuracy,
};
use serde::Serialize;
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::driver::{
    Evaluation, Finish, Improvement, Policy, Published, RunSpec, Schedule, StepLoss, drive,
};
use crate::probe::{ProbeInput, states_of};
use crate::setup::run_resolved;

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
        let run = RunSpec {
            out: &r.out,
            resume: r.resume,
            device: &r.device,
            config: &r.config,
        };
        drive(&run, &policy(cfg), || EcgTraining::new(cfg, &r.config))
    })
}

/// ECG's training settings: reduce-on-plateau with PyTorch's defaults (a relative threshold
/// of 1e-4 on the validation loss), the best-validation weights published.
pub fn policy(cfg: &EcgRunConfig) -> Policy {
    Policy {
        name: "ecg",
        epochs: cfg.train.epochs,
        seed: cfg.train.seed,
        lr: cfg.train.lr,
        weight_decay: cfg.train.weight_decay,
        grad_clip: cfg.train.grad_clip,
        improvement: Improvement::Relative(1e-4),
        schedule: Schedule::Plateau {
            factor: cfg.train.plateau_factor,
            patience: cfg.train.plateau_patience,
        },
        published: Published::BestValidation,
    }
}

/// The ECG autoencoder as the driver trains it.
pub struct EcgTraining<'a> {
    cfg: &'a EcgRunConfig,
    full_config: &'a RunConfig,
    data_dir: PathBuf,
    splits: EcgSplits,
    /// Running sum of the epoch's training examples and of those below the threshold.
    seen: (usize, usize),
    /// The last evaluation's accuracy on the test beats.
    last: ThresholdAccuracy,
}

impl<'a> EcgTraining<'a> {
    /// Load the data of `cfg` (training set limited to `train_limit`).
    pub fn new(cfg: &'a EcgRunConfig, full_config: &'a RunConfig) -> Result<Self> {
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
        Ok(Self {
            cfg,
            full_config,
            data_dir,
            splits,
            seen: (0, 0),
            last: threshold_accuracy::<f32>(&[], &[], cfg.train.threshold),
        })
    }
}

impl crate::driver::Task for EcgTraining<'_> {
    type Model = EcgAutoencoder;

    fn init_model(&self, device: &Device) -> EcgAutoencoder {
        self.cfg.model_config(SERIES_LEN).init(device)
    }

    fn write_header(&self, out: &Path) -> Result<()> {
        let spec = ModelSpec::Ecg(self.cfg.model_config(SERIES_LEN));
        Ok(write_run_header(out, self.full_config, &spec)?)
    }

    fn describe(&self, out: &Path) -> String {
        let s = &self.splits;
        format!(
            "ecg: {} train / {} val / {} normal test / {} anomalous test beats from {}; cell {}, run folder {}",
            s.train.len(),
            s.validation.len(),
            s.test_normal.len(),
            s.test_anomalous.len(),
            self.data_dir.display(),
            self.cfg.model.cell,
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
        self.seen = (0, 0);
    }

    fn train_step(
        &mut self,
        model: &EcgAutoencoder,
        batch: &[usize],
        device: &Device,
    ) -> Result<StepLoss> {
        let beats: Vec<&Beat> = batch.iter().map(|&i| &self.splits.train[i]).collect();
        let x = beats_tensor(&beats, device)?;
        let recon = model.forward(x.clone())?;
        let per_beat = l1_per_beat(recon, x);
        let per_host = tensor_to_vec(&per_beat.clone().detach())?;
        let thr = self.cfg.train.threshold;
        self.seen.0 += per_host.len();
        self.seen.1 += per_host.iter().filter(|&&s| (s as f64) < thr).count();
        Ok(StepLoss {
            loss: per_beat.mean(),
            value: mean(&per_host),
            examples: per_host.len(),
        })
    }

    fn progress(&self, mean_loss: f64) -> String {
        format!("loss {mean_loss:.2}")
    }

    fn train_accuracy(&self) -> f64 {
        self.seen.1 as f64 / self.seen.0 as f64
    }

    fn evaluate(
        &mut self,
        model: &EcgAutoencoder,
        _epoch: usize,
        device: &Device,
    ) -> Result<Evaluation> {
        let (s, thr) = (&self.splits, self.cfg.train.threshold);
        let val = scores(model, &s.validation, device)?;
        let (test_n, test_a) = if self.cfg.train.test_every_epoch {
            (
                scores(model, &s.test_normal, device)?,
                scores(model, &s.test_anomalous, device)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        self.last = threshold_accuracy(&test_n, &test_a, thr);
        Ok(Evaluation {
            val_loss: mean(&val),
            val_acc: frac(&val, |s| (s as f64) < thr),
            test_loss: mean(&test_n),
            test_acc: self.last.overall,
        })
    }

    fn epoch_line(&self, row: &EpochMetrics, improved: bool) -> String {
        let (acc, thr) = (&self.last, self.cfg.train.threshold);
        format!(
            "epoch {:>3}/{} lr {:.2e} | train L1 {:.2} ({:.1}% < {thr}) | val L1 {:.2} ({:.1}%){} | {}{}",
            row.epoch,
            self.cfg.train.epochs,
            row.lr,
            row.train_loss,
            100.0 * row.train_acc,
            row.val_loss,
            100.0 * row.val_acc,
            if improved { " *best" } else { "" },
            if self.cfg.train.test_every_epoch {
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
        )
    }

    fn probe_pool(&self) -> usize {
        self.splits.validation.len()
    }

    /// The encoder's states of the probe beats; the autoencoder has no class readout, so no
    /// agreement is measured.
    fn probe_input(
        &self,
        model: &EcgAutoencoder,
        indices: &[usize],
        device: &Device,
    ) -> Result<ProbeInput> {
        let beats: Vec<Beat> = indices
            .iter()
            .map(|&i| self.splits.validation[i].clone())
            .collect();
        let hooked = model.encode_states(beats_tensor(&beats, device)?, false)?;
        Ok(ProbeInput {
            states: states_of(&hooked.hidden, &hooked.lengths)?,
            readout: None,
        })
    }

    fn finish(&mut self, end: &Finish) -> Result<()> {
        finish(self.cfg, &self.splits, end)
    }
}

/// Final evaluation with the best-validation weights: `ecg_scores.csv`, `roc.csv`,
/// `summary.json` and the closing line.
fn finish(cfg: &EcgRunConfig, splits: &EcgSplits, end: &Finish) -> Result<()> {
    let (state, eval_device, thr) = (end.state, end.eval_device, cfg.train.threshold);
    let best = load_weights(
        cfg.model_config(SERIES_LEN).init(eval_device),
        &end.out.join(WEIGHTS_FILE),
    )
    .context("loading the best-validation weights")?;
    let val = scores(&best, &splits.validation, eval_device)?;
    let train_s = scores(&best, &splits.train, eval_device)?;
    let test_n = scores(&best, &splits.test_normal, eval_device)?;
    let test_a = scores(&best, &splits.test_anomalous, eval_device)?;
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
    write_csv(&end.out.join(SCORES_FILE), &score_rows)?;
    let to_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let (points, auc) = roc_curve(&to_f64(&test_n), &to_f64(&test_a));
    // The ROC needs both classes; without one of them its area is undefined, not 0.
    let auc = (!test_n.is_empty() && !test_a.is_empty()).then_some(auc);
    write_csv(&end.out.join(ROC_FILE), &points)?;
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
        "wall_seconds_this_session": end.session.secs(),
        "beats": {"train": splits.train.len(), "validation": splits.validation.len(),
                  "test_normal": splits.test_normal.len(), "test_anomalous": splits.test_anomalous.len()},
        "paper": {"train": 0.971, "validation": 0.976, "test": 0.986}
    });
    write_summary(end.out, &summary)?;
    end.log.line(format!(
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
