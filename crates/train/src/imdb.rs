//! IMDB sentiment training (paper Sec. 4.1): Adam, exponential LR decay per epoch, global
//! gradient-norm clipping, length-bucketed batches of reviews of at most `max_len` pieces.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::batch::{Batch, BatchConfig, LengthPolicy, PadTo, TextBatcher};
use kann_data::imdb::{ImdbDataset, ImdbSplits, Review, SplitLimits};
use kann_data::locate_data_dir;
use kann_data::progress::progress_bar;
use kann_data::tokenizer::{Tokenizer, TrainConfig};
use kann_models::config::{ImdbRunConfig, RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use kann_models::run::{ModelSpec, VOCAB_FILE, write_run_header};
use kann_models::{SentimentModel, bce_with_logits};
use serde_json::json;

use crate::TrainArgs;
use crate::common::*;
use crate::driver::{
    Evaluation, Finish, Improvement, Policy, Published, RunSpec, Schedule, StepLoss, drive,
};
use crate::probe::{ProbeInput, Readout, ScoredSteps, states_of};
use crate::setup::run_resolved;

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

/// Where a fresh IMDB run's vocabulary comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VocabSource {
    /// A vocabulary file (one piece per line).
    File(PathBuf),
    /// None was named or found: train one on the training reviews (`Tokenizer::train`).
    Train,
}

/// The vocabulary of a fresh run: the config's `vocab` (which must then exist), else
/// `imdb_wordpiece.vocab` in the data folder, else `shipped` (the repository's
/// `data/imdb_wordpiece.vocab`), else [`VocabSource::Train`].
pub fn vocab_source(cfg: &ImdbRunConfig, data_dir: &Path, shipped: &Path) -> VocabSource {
    if let Some(v) = &cfg.data.vocab {
        return VocabSource::File(v.clone());
    }
    let in_data = data_dir.join("imdb_wordpiece.vocab");
    if in_data.is_file() {
        return VocabSource::File(in_data);
    }
    if shipped.is_file() {
        return VocabSource::File(shipped.to_path_buf());
    }
    VocabSource::Train
}

/// The copy of the paper's vocabulary that ships with the repository.
pub fn shipped_vocab() -> PathBuf {
    kann_data::workspace_root().join("data/imdb_wordpiece.vocab")
}

/// The vocabulary file for commands that need the one a model was trained with (`train
/// import`, `train export-data`): as [`vocab_source`], and where none is found the data
/// folder's path, so the error names where it was looked for.
pub(crate) fn vocab_path(cfg: &ImdbRunConfig, data_dir: &Path) -> PathBuf {
    match vocab_source(cfg, data_dir, &shipped_vocab()) {
        VocabSource::File(p) => p,
        VocabSource::Train => data_dir.join("imdb_wordpiece.vocab"),
    }
}

/// The tokenizer of `source`, and how it was made (in words, for the run's log). A trained
/// vocabulary is learnt on `train` (the run's training reviews) with `tokenizers`, seeded and
/// deterministic; it is saved as the run's `vocab.txt` like a loaded one.
pub fn load_or_train_vocab(source: &VocabSource, train: &[Review]) -> Result<(Tokenizer, String)> {
    match source {
        VocabSource::File(p) => {
            let t = Tokenizer::from_vocab_file(p)
                .with_context(|| format!("loading the WordPiece vocabulary {}", p.display()))?;
            Ok((t, format!("vocabulary {}", p.display())))
        }
        VocabSource::Train => {
            let config = TrainConfig::default();
            eprintln!(
                "no vocabulary file ([data] vocab unset; no imdb_wordpiece.vocab in the data folder or the repository's data/): training a {}-piece WordPiece vocabulary on the {} training reviews",
                config.vocab_size,
                train.len()
            );
            let timer = Timer::start();
            let texts: Vec<&str> = train.iter().map(|r| r.text.as_str()).collect();
            let t = Tokenizer::train(&texts, &config).context("training a WordPiece vocabulary")?;
            Ok((
                t,
                format!(
                    "vocabulary trained here on {} training reviews in {} (no vocabulary file found)",
                    train.len(),
                    fmt_secs(timer.secs())
                ),
            ))
        }
    }
}

/// `train imdb`.
pub fn run(args: &TrainArgs) -> Result<std::path::PathBuf> {
    run_resolved(Task::Imdb, args, |r| {
        let RunConfig::Imdb(cfg) = &r.config else {
            anyhow::bail!("resolve returned a config of another task")
        };
        let run = RunSpec {
            out: &r.out,
            resume: r.resume,
            device: &r.device,
            config: &r.config,
        };
        drive(&run, &policy(cfg), || {
            ImdbTraining::new(cfg, &r.config, &r.out, r.resume)
        })
    })
}

/// IMDB's training settings: exponential decay of the rate per epoch, a strict `<` on the
/// validation loss, and the last epoch's weights published (the best epoch is reported as
/// `best_val_epoch`, its weights not kept).
pub fn policy(cfg: &ImdbRunConfig) -> Policy {
    Policy {
        name: "imdb",
        epochs: cfg.train.epochs,
        seed: cfg.train.seed,
        lr: cfg.train.lr,
        weight_decay: cfg.train.weight_decay,
        grad_clip: cfg.train.grad_clip,
        improvement: Improvement::Strict,
        schedule: Schedule::Exponential(cfg.train.lr_decay),
        published: Published::LastEpoch,
    }
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

/// The IMDB sentiment model as the driver trains it.
pub struct ImdbTraining<'a> {
    cfg: &'a ImdbRunConfig,
    full_config: &'a RunConfig,
    /// How the vocabulary was made, in words.
    vocab_origin: String,
    /// The run's `vocab.txt`: the file's bytes as they were, or the trained pieces one per line.
    vocab_bytes: Vec<u8>,
    tokenizer: Tokenizer,
    load_seconds: f64,
    train: Prepared,
    val: Prepared,
    test: Prepared,
    /// Running sum of the epoch's training examples and of those classified right.
    seen: (usize, usize),
}

impl<'a> ImdbTraining<'a> {
    /// Load the vocabulary (a resumed run keeps its own; a fresh run without one trains it, see
    /// [`vocab_source`]) and tokenize the splits of `cfg`.
    pub fn new(
        cfg: &'a ImdbRunConfig,
        full_config: &'a RunConfig,
        out: &Path,
        resume: bool,
    ) -> Result<Self> {
        Self::with_shipped_vocab(cfg, full_config, out, resume, &shipped_vocab())
    }

    /// [`ImdbTraining::new`] with the repository's vocabulary looked for at `shipped`.
    pub fn with_shipped_vocab(
        cfg: &'a ImdbRunConfig,
        full_config: &'a RunConfig,
        out: &Path,
        resume: bool,
        shipped: &Path,
    ) -> Result<Self> {
        let data_dir = locate_data_dir(None, cfg.data.data_dir.as_deref());
        // A resumed run keeps the vocabulary it was trained with.
        let source = if resume {
            VocabSource::File(out.join(VOCAB_FILE))
        } else {
            vocab_source(cfg, &data_dir, shipped)
        };
        let t_load = Timer::start();
        let splits = imdb_splits(cfg, &data_dir)?;
        let (tokenizer, vocab_origin) = load_or_train_vocab(&source, &splits.train)?;
        let vocab_bytes = match &source {
            VocabSource::File(p) => {
                std::fs::read(p).with_context(|| format!("reading {}", p.display()))?
            }
            VocabSource::Train => tokenizer
                .pieces()
                .iter()
                .flat_map(|p| p.bytes().chain(std::iter::once(b'\n')))
                .collect(),
        };
        let (bs, ml, bb, seed) = (
            cfg.train.batch_size,
            cfg.data.max_len,
            cfg.train.bucket_batches,
            cfg.train.seed,
        );
        let train = prepare(&splits.train, &tokenizer, bs, ml, bb, seed)?;
        let val = prepare(&splits.validation, &tokenizer, bs, ml, bb, seed)?;
        let test = prepare(&splits.test, &tokenizer, bs, ml, bb, seed)?;
        for (name, raw, prepared) in [
            ("training", splits.train.len(), &train),
            ("validation", splits.validation.len(), &val),
        ] {
            if prepared.batcher.is_empty() {
                bail!(
                    "no {name} reviews: {}",
                    empty_split_reason(name, raw, prepared, ml)
                );
            }
        }
        Ok(Self {
            cfg,
            full_config,
            vocab_origin,
            vocab_bytes,
            tokenizer,
            load_seconds: t_load.secs(),
            train,
            val,
            test,
            seen: (0, 0),
        })
    }
}

impl crate::driver::Task for ImdbTraining<'_> {
    type Model = SentimentModel;

    fn init_model(&self, device: &Device) -> SentimentModel {
        self.cfg
            .model_config(self.tokenizer.vocab_size())
            .init(device)
    }

    fn write_header(&self, out: &Path) -> Result<()> {
        kann_models::integrity::write_checked(&out.join(VOCAB_FILE), &self.vocab_bytes)?;
        let spec = ModelSpec::Sentiment(self.cfg.model_config(self.tokenizer.vocab_size()));
        Ok(write_run_header(out, self.full_config, &spec)?)
    }

    fn describe(&self, out: &Path) -> String {
        format!(
            "imdb: {} train / {} val / {} test reviews of at most {} pieces ({} / {} / {} dropped); \
             {} pieces ({}); loaded in {}; cell {}, run folder {}",
            self.train.batcher.len(),
            self.val.batcher.len(),
            self.test.batcher.len(),
            self.cfg.data.max_len,
            self.train.dropped,
            self.val.dropped,
            self.test.dropped,
            self.tokenizer.vocab_size(),
            self.vocab_origin,
            fmt_secs(self.load_seconds),
            self.cfg.model.cell,
            out.display()
        )
    }

    fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        self.train.batcher.epoch_order(epoch as u64)
    }

    fn begin_epoch(&mut self) {
        self.seen = (0, 0);
    }

    fn train_step(
        &mut self,
        model: &SentimentModel,
        batch: &[usize],
        device: &Device,
    ) -> Result<StepLoss> {
        let batch = self.train.batcher.make_batch(batch);
        let logits = model.forward(tokens_tensor(&batch, device), &batch.lengths)?;
        let loss = bce_with_logits(logits.clone(), labels_tensor(&batch, device));
        let value = loss.clone().into_scalar::<f32>() as f64;
        let z = tensor_to_vec(&logits.detach())?;
        self.seen.0 += batch.batch_size;
        self.seen.1 += z
            .iter()
            .zip(&batch.labels)
            .filter(|&(&z, &y)| (z > 0.0) == (y > 0.5))
            .count();
        Ok(StepLoss {
            loss,
            value,
            examples: batch.batch_size,
        })
    }

    fn progress(&self, mean_loss: f64) -> String {
        format!(
            "loss {mean_loss:.4} acc {:.1}%",
            100.0 * self.train_accuracy()
        )
    }

    fn train_accuracy(&self) -> f64 {
        self.seen.1 as f64 / self.seen.0 as f64
    }

    fn evaluate(
        &mut self,
        model: &SentimentModel,
        epoch: usize,
        device: &Device,
    ) -> Result<Evaluation> {
        let eval_bs = self.cfg.train.batch_size.max(64);
        let (val_loss, val_acc) = evaluate(model, &self.val, eval_bs, device, "  validation")?;
        // A non-finite validation loss stops the run (the driver's check): no test pass then.
        let last = epoch == self.cfg.train.epochs;
        let wanted = self.cfg.train.test_every_epoch || last;
        let (test_loss, test_acc) = if val_loss.is_finite() && wanted {
            evaluate(model, &self.test, eval_bs, device, "  test")?
        } else {
            (f64::NAN, f64::NAN)
        };
        Ok(Evaluation {
            val_loss,
            val_acc,
            test_loss,
            test_acc,
        })
    }

    fn epoch_line(&self, row: &EpochMetrics, _improved: bool) -> String {
        format!(
            "epoch {}/{} lr {:.2e} | train loss {:.4} acc {:.2}% | val loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | train {} eval {}",
            row.epoch,
            self.cfg.train.epochs,
            row.lr,
            row.train_loss,
            100.0 * row.train_acc,
            row.val_loss,
            100.0 * row.val_acc,
            row.test_loss,
            100.0 * row.test_acc,
            fmt_secs(row.train_seconds),
            fmt_secs(row.eval_seconds)
        )
    }

    fn probe_pool(&self) -> usize {
        self.val.batcher.kept_indices().len()
    }

    fn probe_input(
        &self,
        model: &SentimentModel,
        indices: &[usize],
        device: &Device,
    ) -> Result<ProbeInput> {
        let kept = self.val.batcher.kept_indices();
        let idx: Vec<usize> = indices.iter().map(|&i| kept[i]).collect();
        let batch = self.val.batcher.make_batch(&idx);
        let hooked = model.forward_states(tokens_tensor(&batch, device), &batch.lengths, false)?;
        Ok(ProbeInput {
            states: states_of(&hooked.hidden, &batch.lengths)?,
            readout: Some(Readout::from_linear(&model.readout, ScoredSteps::Last)?),
        })
    }

    fn finish(&mut self, end: &Finish) -> Result<()> {
        let state = end.state;
        let last = state
            .metrics
            .last()
            .context("no epoch was run (epochs = 0?)")?;
        let summary = json!({
            "task": "imdb",
            "cell": self.cfg.model.cell.to_string(),
            "epochs": state.epochs_done,
            "train_accuracy_running": last.train_acc,
            "val_accuracy": last.val_acc,
            "test_accuracy": last.test_acc,
            "test_loss": last.test_loss,
            "best_val_epoch": state.best_epoch,
            "train_seconds": state.elapsed_seconds,
            "wall_seconds_this_session": end.session.secs(),
            "reviews": {"train": self.train.batcher.len(), "validation": self.val.batcher.len(), "test": self.test.batcher.len()},
            "max_len": self.cfg.data.max_len,
            "paper": {"train": 0.92, "validation": 0.87, "test": 0.87}
        });
        write_summary(end.out, &summary)?;
        end.log.line(format!(
            "imdb done: test accuracy {:.2}% (paper 87%), val {:.2}%, after {} epochs; training time {}",
            100.0 * last.test_acc,
            100.0 * last.val_acc,
            state.epochs_done,
            fmt_secs(state.elapsed_seconds)
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Task as _;

    /// With the IMDB archive but no vocabulary file anywhere, a fresh run trains one on its
    /// training reviews, says so, and keeps it as the run's `vocab.txt` (issue 24).
    #[test]
    fn without_a_vocabulary_file_a_fresh_run_trains_one_and_keeps_it() {
        let shared = kann_data::workspace_root().join("../shared/data/aclImdb_v1.tar.gz");
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink(&shared, data.join("aclImdb_v1.tar.gz")).unwrap();
        let text =
            std::fs::read_to_string(kann_data::workspace_root().join("configs/imdb-smoke.toml"))
                .unwrap();
        let RunConfig::Imdb(mut cfg) =
            RunConfig::from_toml_str(&text, Path::new("imdb-smoke.toml")).unwrap()
        else {
            panic!("not an imdb config")
        };
        cfg.data.data_dir = Some(data.clone());
        let full = RunConfig::Imdb(cfg.clone());
        let missing = tmp.path().join("no-shipped.vocab");
        assert_eq!(vocab_source(&cfg, &data, &missing), VocabSource::Train);
        let out = tmp.path().join("run");
        std::fs::create_dir(&out).unwrap();
        let task = ImdbTraining::with_shipped_vocab(&cfg, &full, &out, false, &missing).unwrap();
        assert!(
            task.vocab_origin
                .contains("trained here on 2000 training reviews"),
            "{}",
            task.vocab_origin
        );
        assert!(
            task.tokenizer.vocab_size() > 1000,
            "{}",
            task.tokenizer.vocab_size()
        );
        assert_eq!(
            task.tokenizer.id_to_piece(0),
            Some(kann_data::tokenizer::UNK)
        );
        assert!(!task.train.batcher.is_empty());
        task.write_header(&out).unwrap();
        let kept = Tokenizer::from_vocab_file(out.join(VOCAB_FILE)).unwrap();
        assert_eq!(kept.pieces(), task.tokenizer.pieces());
        // A vocabulary found in the data folder wins over training one.
        std::fs::write(data.join("imdb_wordpiece.vocab"), "<unk>\na\n").unwrap();
        assert_eq!(
            vocab_source(&cfg, &data, &missing),
            VocabSource::File(data.join("imdb_wordpiece.vocab"))
        );
    }
}
