//! IMDB sentiment training (paper Sec. 4.1): Adam, exponential LR decay per epoch, global
//! gradient-norm clipping, length-bucketed batches of reviews of at most `max_len` pieces.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::optim::GradientsParams;
use burn::prelude::*;
use kann_data::batch::{Batch, BatchConfig, LengthPolicy, PadTo, TextBatcher};
use kann_data::imdb::{ImdbDataset, ImdbSplits, Review, SplitLimits};
use kann_data::locate_data_dir;
use kann_data::progress::progress_bar;
use kann_data::tokenizer::Tokenizer;
use kann_models::atomic::write_atomic;
use kann_models::config::{ImdbRunConfig, RunConfig, Task};
use kann_models::integrity::{module_bytes, module_from_bytes};
use kann_models::npy::tensor_to_vec;
use kann_models::run::{ModelSpec, VOCAB_FILE, write_run_header};
use kann_models::{SentimentModel, bce_with_logits};
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::setup::{Start, remove_leftovers, restore_point, run_resolved, update_config};

/// Token ids `[B, T]` of a batch.
pub fn tokens_tensor(batch: &Batch, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = batch.ids.iter().map(|&i| i as i64).collect();
    Tensor::from_data(
        TensorData::new(ids, [batch.batch_size, batch.max_len]),
        device,
    )
}

/// Labels `[B]` of a batch.
pub fn labels_tensor(batch: &Batch, device: &Device) -> Tensor<1> {
    Tensor::from_data(
        TensorData::new(batch.labels.clone(), [batch.batch_size]),
        device,
    )
}

/// A split tokenized and ready for batching.
pub struct Prepared {
    /// Batcher holding the kept reviews.
    pub batcher: TextBatcher,
    /// Reviews dropped for being longer than `max_len` or empty.
    pub dropped: usize,
    /// Length in pieces of every sequence given to the batcher (its input index order).
    pub lengths: Vec<usize>,
}

/// The IMDB splits a run with `cfg` trains, validates and tests on (limits applied), as
/// `train imdb` and `analyze imdb` draw them ([`ImdbDataset::run_splits`]).
pub(crate) fn imdb_splits(cfg: &ImdbRunConfig, data_dir: &Path) -> Result<ImdbSplits> {
    let limits = SplitLimits {
        train: cfg.data.train_limit,
        validation: cfg.data.val_limit,
        test: cfg.data.test_limit,
    };
    Ok(ImdbDataset::load(data_dir)
        .with_context(|| format!("loading IMDB from {}", data_dir.display()))?
        .run_splits(cfg.data.val_fraction, cfg.data.split_seed, &limits)?)
}

/// Tokenize reviews and build the batcher (long and empty reviews dropped).
pub fn prepare(
    reviews: &[Review],
    tokenizer: &Tokenizer,
    batch_size: usize,
    max_len: usize,
    bucket_batches: usize,
    seed: u64,
) -> Result<Prepared> {
    let texts: Vec<&str> = reviews.iter().map(|r| r.text.as_str()).collect();
    let ids = tokenizer.encode_ids_batch(&texts);
    let (mut seqs, mut labels) = (Vec::new(), Vec::new());
    let mut empty = 0;
    for (s, r) in ids.into_iter().zip(reviews) {
        if s.is_empty() {
            empty += 1;
            continue;
        }
        seqs.push(s);
        labels.push(r.label as f32);
    }
    let lengths = seqs.iter().map(Vec::len).collect();
    let batcher = TextBatcher::new(
        seqs,
        labels,
        BatchConfig {
            batch_size,
            max_len: Some(max_len),
            policy: LengthPolicy::Drop,
            pad_to: PadTo::Longest,
            shuffle: true,
            bucket_batches: Some(bucket_batches.max(1)),
            drop_last: false,
            seed,
        },
    )?;
    let dropped = batcher.dropped() + empty;
    Ok(Prepared {
        batcher,
        dropped,
        lengths,
    })
}

/// Mean binary cross-entropy and accuracy of `model` on every kept review of `data`
/// (`NaN`s when there are none).
pub fn evaluate(
    model: &SentimentModel,
    data: &Prepared,
    batch_size: usize,
    device: &Device,
    label: &str,
) -> Result<(f64, f64)> {
    let scored = logits_in_order(model, data, batch_size, device, label)?;
    if scored.logits.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    // −(y log σ(z) + (1 − y) log(1 − σ(z))) = max(z, 0) − z·y + log(1 + e^{−|z|}), as
    // `bce_with_logits`, summed in f64 on the host.
    let loss = scored
        .logits
        .iter()
        .zip(&scored.labels)
        .map(|(&z, &y)| {
            let (z, y) = (f64::from(z), f64::from(y));
            z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / scored.logits.len() as f64;
    Ok((loss, scored.accuracy()))
}

/// The logit and label of every kept review of a split, in the batcher's kept order.
pub(crate) struct Scored {
    /// Logit of each review.
    pub logits: Vec<f32>,
    /// Its label (1 = positive).
    pub labels: Vec<f32>,
}

impl Scored {
    /// Share of reviews whose logit has the sign of the label.
    pub fn accuracy(&self) -> f64 {
        let ok = self
            .labels
            .iter()
            .zip(&self.logits)
            .filter(|&(&y, &z)| (z > 0.0) == (y > 0.5))
            .count();
        ok as f64 / self.labels.len().max(1) as f64
    }
}

/// The model on every kept review of `data`, in kept order (batches sorted by length for the
/// least padding, the results written back in place).
pub(crate) fn logits_in_order(
    model: &SentimentModel,
    data: &Prepared,
    batch_size: usize,
    device: &Device,
    label: &str,
) -> Result<Scored> {
    let kept = data.batcher.kept_indices();
    // Sorted by length for the least padding; written back in kept order.
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&r| data.lengths[kept[r]]);
    let mut out = Scored {
        logits: vec![0.0f32; kept.len()],
        labels: vec![0.0f32; kept.len()],
    };
    let bar = progress_bar(kept.len().div_ceil(batch_size) as u64, label);
    for rows in order.chunks(batch_size) {
        let idx: Vec<usize> = rows.iter().map(|&r| kept[r]).collect();
        let batch: Batch = data.batcher.make_batch(&idx);
        let logits = tensor_to_vec(&model.forward(tokens_tensor(&batch, device), &batch.lengths)?)?;
        for ((&r, z), &y) in rows.iter().zip(logits).zip(&batch.labels) {
            out.logits[r] = z;
            out.labels[r] = y;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The vocabulary file: the config's `vocab`, else `imdb_wordpiece.vocab` in the data folder,
/// else the copy that ships with the repository (`<workspace>/data/imdb_wordpiece.vocab`). When
/// neither exists, the data folder's path (so the error names where it was looked for).
pub(crate) fn vocab_path(cfg: &ImdbRunConfig, data_dir: &Path) -> PathBuf {
    if let Some(v) = &cfg.data.vocab {
        return v.clone();
    }
    let in_data = data_dir.join("imdb_wordpiece.vocab");
    if in_data.is_file() {
        return in_data;
    }
    let shipped = kann_data::workspace_root().join("data/imdb_wordpiece.vocab");
    if shipped.is_file() {
        return shipped;
    }
    in_data
}

/// `train imdb`.
pub fn run(args: &TrainArgs) -> Result<std::path::PathBuf> {
    run_resolved(Task::Imdb, args, |r| {
        let RunConfig::Imdb(cfg) = &r.config else {
            anyhow::bail!("resolve returned a config of another task")
        };
        train_imdb(cfg, &r.config, &r.out, r.resume, &r.device)
    })
}

/// Why a split has no reviews left, in words.
fn empty_split_reason(name: &str, raw: usize, prepared: &Prepared, max_len: usize) -> String {
    if raw == 0 {
        format!("the {name} split has no reviews")
    } else {
        format!(
            "all {raw} {name} reviews were dropped (longer than max_len = {max_len} pieces, or empty); {} kept",
            prepared.batcher.len()
        )
    }
}

fn train_imdb(
    cfg: &ImdbRunConfig,
    full_config: &RunConfig,
    out: &Path,
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
    // A resumed run keeps the vocabulary it was trained with.
    let vocab = if resume {
        out.join(VOCAB_FILE)
    } else {
        vocab_path(cfg, &data_dir)
    };
    let tokenizer = Tokenizer::from_vocab_file(&vocab)
        .with_context(|| format!("loading the WordPiece vocabulary {}", vocab.display()))?;

    let t_load = Timer::start();
    let splits = imdb_splits(cfg, &data_dir)?;
    let (train_r, val_r, test_r) = (splits.train, splits.validation, splits.test);
    let (bs, ml, bb) = (
        cfg.train.batch_size,
        cfg.data.max_len,
        cfg.train.bucket_batches,
    );
    let train = prepare(&train_r, &tokenizer, bs, ml, bb, cfg.train.seed)?;
    let val = prepare(&val_r, &tokenizer, bs, ml, bb, cfg.train.seed)?;
    let test = prepare(&test_r, &tokenizer, bs, ml, bb, cfg.train.seed)?;
    if train.batcher.is_empty() {
        bail!(
            "no training reviews: {}",
            empty_split_reason("training", train_r.len(), &train, ml)
        );
    }
    if val.batcher.is_empty() {
        bail!(
            "no validation reviews: {}",
            empty_split_reason("validation", val_r.len(), &val, ml)
        );
    }

    let mcfg = cfg.model_config(tokenizer.vocab_size());
    device.seed(cfg.train.seed);
    let model = mcfg.init(device);
    let optim = adam(cfg.train.weight_decay);
    let (mut model, mut optim, mut state) = match restored {
        Some(r) => {
            let model = module_from_bytes(model, r.model.clone(), &r.dir.join("model.bpk"))?;
            let optim = optim_from_bytes(optim, r.optim, &r.dir.join("optim.bpk"))?;
            update_config(out, full_config)?;
            publish(out, &r.model, &r.state.metrics)?;
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
            (model, optim, r.state)
        }
        None => {
            let vocab_bytes =
                std::fs::read(&vocab).with_context(|| format!("reading {}", vocab.display()))?;
            write_atomic(&out.join(VOCAB_FILE), &vocab_bytes)?;
            write_run_header(out, full_config, &ModelSpec::Sentiment(mcfg.clone()))?;
            (model, optim, TrainState::fresh(cfg.train.lr))
        }
    };
    log.line(format!(
        "imdb: {} train / {} val / {} test reviews of at most {ml} pieces ({} / {} / {} dropped); \
         vocabulary {} pieces; loaded in {}; cell {}, run folder {}",
        train.batcher.len(),
        val.batcher.len(),
        test.batcher.len(),
        train.dropped,
        val.dropped,
        test.dropped,
        tokenizer.vocab_size(),
        fmt_secs(t_load.secs()),
        cfg.model.cell,
        out.display()
    ));
    let eval_device = device.clone().inner();
    let eval_bs = bs.max(64);

    for epoch in state.epochs_done + 1..=cfg.train.epochs {
        let t_train = Timer::start();
        let order = train.batcher.epoch_order(epoch as u64);
        let bar = progress_bar(
            order.len() as u64,
            &format!("imdb epoch {epoch}/{}", cfg.train.epochs),
        );
        log.attach(Some(bar.clone()));
        let (mut loss_sum, mut n_seen, mut n_ok) = (0.0f64, 0usize, 0usize);
        for (bi, idx) in order.iter().enumerate() {
            let batch = train.batcher.make_batch(idx);
            let logits = model.forward(tokens_tensor(&batch, device), &batch.lengths)?;
            let loss = bce_with_logits(logits.clone(), labels_tensor(&batch, device));
            let loss_val = loss.clone().into_scalar::<f32>() as f64;
            check_finite("training loss", loss_val, epoch, bi + 1)?;
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let norm = clip_global_norm(&model, &mut grads, cfg.train.grad_clip);
            check_finite("gradient norm", norm, epoch, bi + 1)?;
            model = optim.step(state.lr, model, grads);
            let z = tensor_to_vec(&logits.detach())?;
            n_ok += z
                .iter()
                .zip(&batch.labels)
                .filter(|&(&z, &y)| (z > 0.0) == (y > 0.5))
                .count();
            loss_sum += loss_val * batch.batch_size as f64;
            n_seen += batch.batch_size;
            log_progress(
                &log,
                &bar,
                bi + 1,
                order.len(),
                &t_train,
                &format!(
                    "loss {:.4} acc {:.1}%",
                    loss_sum / n_seen as f64,
                    100.0 * n_ok as f64 / n_seen as f64
                ),
            );
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.1}%",
                loss_sum / n_seen as f64,
                100.0 * n_ok as f64 / n_seen as f64
            ));
        }
        bar.finish_and_clear();
        log.attach(None);
        let train_seconds = t_train.secs();

        let t_eval = Timer::start();
        let valid = model.valid();
        let (val_loss, val_acc) = evaluate(&valid, &val, eval_bs, &eval_device, "  validation")?;
        check_finite("validation loss", val_loss, epoch, order.len())?;
        let (test_loss, test_acc) = if cfg.train.test_every_epoch || epoch == cfg.train.epochs {
            evaluate(&valid, &test, eval_bs, &eval_device, "  test")?
        } else {
            (f64::NAN, f64::NAN)
        };
        let row = EpochMetrics {
            epoch,
            lr: state.lr,
            train_loss: loss_sum / n_seen as f64,
            train_acc: n_ok as f64 / n_seen as f64,
            val_loss,
            val_acc,
            test_loss,
            test_acc,
            train_seconds,
            eval_seconds: t_eval.secs(),
        };
        if val_loss < state.best_val_loss {
            state.best_val_loss = val_loss;
            state.best_epoch = epoch;
        }
        state.lr *= cfg.train.lr_decay;
        state.epochs_done = epoch;
        state.elapsed_seconds += row.train_seconds + row.eval_seconds;
        state.metrics.push(row.clone());
        // The checkpoint is the commit point; model.bpk and metrics.csv follow it.
        let model_bytes = module_bytes(&model)?;
        checkpoint.save(&model_bytes, &optim_bytes(&optim)?, &state, None)?;
        publish(out, &model_bytes, &state.metrics)?;
        log.line(format!(
            "epoch {epoch}/{} lr {:.2e} | train loss {:.4} acc {:.2}% | val loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | train {} eval {}",
            cfg.train.epochs,
            row.lr,
            row.train_loss,
            100.0 * row.train_acc,
            row.val_loss,
            100.0 * row.val_acc,
            row.test_loss,
            100.0 * row.test_acc,
            fmt_secs(row.train_seconds),
            fmt_secs(row.eval_seconds)
        ));
    }

    let last = state
        .metrics
        .last()
        .context("no epoch was run (epochs = 0?)")?
        .clone();
    let summary = json!({
        "task": "imdb",
        "cell": cfg.model.cell.to_string(),
        "epochs": state.epochs_done,
        "train_accuracy_running": last.train_acc,
        "val_accuracy": last.val_acc,
        "test_accuracy": last.test_acc,
        "test_loss": last.test_loss,
        "best_val_epoch": state.best_epoch,
        "train_seconds": state.elapsed_seconds,
        "wall_seconds_this_session": total.secs(),
        "reviews": {"train": train.batcher.len(), "validation": val.batcher.len(), "test": test.batcher.len()},
        "max_len": ml,
        "paper": {"train": 0.92, "validation": 0.87, "test": 0.87}
    });
    write_summary(out, &summary)?;
    log.line(format!(
        "imdb done: test accuracy {:.2}% (paper 87%), val {:.2}%, after {} epochs; training time {}",
        100.0 * last.test_acc,
        100.0 * last.val_acc,
        state.epochs_done,
        fmt_secs(state.elapsed_seconds)
    ));
    Ok(())
}
