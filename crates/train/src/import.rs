//! `train import`: a model trained in PyTorch becomes a run folder that `analyze` accepts, and
//! `train export-data`: the exact inputs `train` feeds its models, as `.npy`, to train one in
//! PyTorch on them.
//!
//! An import reads the `.pt` state dict ([`kann_models::pytorch`]), writes the run folder of a
//! `train` run (config with the imported shape, `model.json`, checksummed `model.bpk`, IMDB
//! `vocab.txt`), then measures the imported model on the run's data and writes what it found:
//! `summary.json` (accuracies, where the weights came from) and, for IMDB,
//! `test_predictions.csv` (one logit per kept test review, in the order of
//! `export-data`'s `test_*.npy`), so the predictions can be compared with PyTorch's review by
//! review.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kann_data::ecg::{EcgSplits, SERIES_LEN};
use kann_data::imdb::Review;
use kann_data::locate_data_dir;
use kann_data::tokenizer::Tokenizer;
use kann_models::cells::CellKind;
use kann_models::config::{EcgRunConfig, ImdbRunConfig, RunConfig, Task};
use kann_models::integrity::{Checksum, module_bytes, write_weights};
use kann_models::npy;
use kann_models::pytorch::{KeyRename, StateDict, import_ecg, import_sentiment};
use kann_models::run::{ModelSpec, VOCAB_FILE, WEIGHTS_FILE, write_csv, write_run_header};
use kann_models::{SentimentModel, threshold_accuracy};
use serde::Serialize;
use serde_json::json;

use crate::TrainArgs;
use crate::common::{Logger, write_summary};
use crate::ecg::scores;
use crate::imdb::{Prepared, Scored, imdb_splits, logits_in_order, prepare, vocab_path};
use crate::setup::run_resolved;

/// What `train import` needs besides the task.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The PyTorch file (`torch.save(model.state_dict(), path)`).
    pub pytorch: PathBuf,
    /// Run folder to create.
    pub out: PathBuf,
    /// IMDB: the vocabulary the model was trained with (default: the config's, else the paper's).
    pub vocab: Option<PathBuf>,
    /// The cell to expect (read from the weights when `None`).
    pub cell: Option<CellKind>,
    /// Key-prefix renames applied before import.
    pub key_map: Vec<KeyRename>,
    /// Dictionary key holding the state dict inside the file, if nested.
    pub top_level_key: Option<String>,
    /// Config whose data settings (split, max_len, threshold) the run uses
    /// (default `configs/<task>.toml`).
    pub config: Option<PathBuf>,
    /// Data folder.
    pub data_dir: Option<PathBuf>,
    /// Whether and from where a missing data set is fetched.
    pub fetch: kann_data::fetch::FetchOptions,
}

impl ImportOptions {
    fn train_args(&self) -> TrainArgs {
        TrainArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            fetch: self.fetch.clone(),
            out: Some(self.out.clone()),
            ..TrainArgs::default()
        }
    }

    fn state_dict(&self) -> Result<StateDict> {
        Ok(StateDict::open(
            &self.pytorch,
            self.top_level_key.as_deref(),
            &self.key_map,
        )?)
    }

    /// Where the weights came from, for `summary.json`.
    fn source(&self) -> Result<serde_json::Value> {
        let bytes = std::fs::read(&self.pytorch)
            .with_context(|| format!("reading {}", self.pytorch.display()))?;
        let sum = Checksum::of(&bytes);
        Ok(json!({
            "file": self.pytorch.display().to_string(),
            "bytes": sum.bytes,
            "crc32": format!("{:08x}", sum.crc32),
            "key_map": self.key_map.iter().map(|r| format!("{}={}", r.from, r.to)).collect::<Vec<_>>(),
        }))
    }
}

/// One row of `test_predictions.csv`.
#[derive(Debug, Clone, Copy, Serialize)]
struct Prediction {
    /// Position among the kept test reviews (the order of `export-data`'s `test_*.npy`).
    row: usize,
    /// The review's label (1 = positive).
    label: u8,
    /// Its length in word pieces.
    length: usize,
    /// The imported model's logit.
    logit: f32,
}

/// `train import imdb`: returns the run folder.
pub fn import_imdb(opts: &ImportOptions) -> Result<PathBuf> {
    run_resolved(Task::Imdb, &opts.train_args(), |r| {
        let RunConfig::Imdb(mut cfg) = r.config.clone() else {
            bail!("resolve returned a config of another task")
        };
        let (out, device) = (r.out.as_path(), &r.device.clone().inner());
        let log = Logger::new(out);
        let data_dir = locate_data_dir(opts.data_dir.as_deref(), cfg.data.data_dir.as_deref());
        let (model, tokenizer) = write_imported_imdb(out, &log, opts, &mut cfg, &data_dir, device)?;
        let splits = imdb_splits(&cfg, &data_dir)?;
        let prep = |reviews: &[Review]| {
            prepare(
                reviews,
                &tokenizer,
                cfg.train.batch_size,
                cfg.data.max_len,
                cfg.train.bucket_batches,
                cfg.train.seed,
            )
        };
        let (val, test) = (prep(&splits.validation)?, prep(&splits.test)?);
        let bs = cfg.train.batch_size.max(64);
        let val_scored = logits_in_order(&model, &val, bs, device, "  validation")?;
        let test_scored = logits_in_order(&model, &test, bs, device, "  test")?;
        let (val_acc, test_acc) = (val_scored.accuracy(), test_scored.accuracy());
        write_csv(
            &out.join("test_predictions.csv"),
            &predictions(&test, &test_scored),
        )?;
        write_summary(
            out,
            &json!({
                "task": "imdb",
                "cell": cfg.model.cell.to_string(),
                "imported_from": opts.source()?,
                "val_accuracy": val_acc,
                "test_accuracy": test_acc,
                "reviews": {"validation": val.batcher.len(), "test": test.batcher.len()},
                "max_len": cfg.data.max_len,
                "paper": {"train": 0.92, "validation": 0.87, "test": 0.87}
            }),
        )?;
        log.line(format!(
            "imported model: test accuracy {:.2}% over {} reviews (validation {:.2}% over {}); \
             per-review logits in test_predictions.csv",
            100.0 * test_acc,
            test.batcher.len(),
            100.0 * val_acc,
            val.batcher.len()
        ));
        Ok(())
    })
}

/// The IMDB half of an import before any measuring: the vocabulary (`--vocab`, else the
/// config's) loaded and copied into the run as `vocab.txt`, the state dict imported with its
/// shape written into `cfg`, and the run header and weights written ([`write_imported`]).
fn write_imported_imdb(
    out: &Path,
    log: &Logger,
    opts: &ImportOptions,
    cfg: &mut ImdbRunConfig,
    data_dir: &Path,
    device: &burn::prelude::Device,
) -> Result<(SentimentModel, Tokenizer)> {
    let vocab = opts
        .vocab
        .clone()
        .unwrap_or_else(|| vocab_path(cfg, data_dir));
    let tokenizer = Tokenizer::from_vocab_file(&vocab)
        .with_context(|| format!("loading the WordPiece vocabulary {}", vocab.display()))?;
    let (model, mcfg) = import_sentiment(
        opts.state_dict()?,
        opts.cell,
        tokenizer.vocab_size(),
        device,
    )?;
    cfg.model.cell = mcfg.cell;
    cfg.model.d_embed = mcfg.d_embed;
    cfg.model.d_hidden = mcfg.d_hidden;
    let vocab_bytes =
        std::fs::read(&vocab).with_context(|| format!("reading {}", vocab.display()))?;
    kann_models::integrity::write_checked(&out.join(VOCAB_FILE), &vocab_bytes)?;
    let shape = format!(
        "Embedding({}, {e}) -> {c}({e}, {h}) -> Linear({h}, 1)",
        mcfg.vocab_size,
        e = mcfg.d_embed,
        c = mcfg.cell,
        h = mcfg.d_hidden
    );
    let spec = ModelSpec::Sentiment(mcfg.clone());
    write_imported(
        out,
        log,
        opts,
        &RunConfig::Imdb(cfg.clone()),
        &spec,
        &model,
        &shape,
    )?;
    Ok((model, tokenizer))
}

/// The rows of `test_predictions.csv`: the imported model's logit of every kept test review,
/// in kept order.
fn predictions(test: &Prepared, scored: &Scored) -> Vec<Prediction> {
    test.batcher
        .kept_indices()
        .iter()
        .zip(scored.logits.iter().zip(&scored.labels))
        .enumerate()
        .map(|(row, (&i, (&logit, &label)))| Prediction {
            row,
            label: label as u8,
            length: test.lengths[i],
            logit,
        })
        .collect()
}

/// `train import ecg`: returns the run folder.
pub fn import_ecg_run(opts: &ImportOptions) -> Result<PathBuf> {
    run_resolved(Task::Ecg, &opts.train_args(), |r| {
        let RunConfig::Ecg(mut cfg) = r.config.clone() else {
            bail!("resolve returned a config of another task")
        };
        let (out, device) = (r.out.as_path(), &r.device.clone().inner());
        let log = Logger::new(out);
        let (model, mcfg) = import_ecg(opts.state_dict()?, opts.cell, SERIES_LEN, device)?;
        cfg.model.cell = mcfg.cell;
        cfg.model.d_latent = mcfg.d_latent;
        cfg.model.d_decoder = mcfg.d_decoder;
        let shape = format!(
            "encoder {c}(1, {l}), decoder {c}({l}, {d}), Linear({d}, 1)",
            c = mcfg.cell,
            l = mcfg.d_latent,
            d = mcfg.d_decoder
        );
        let spec = ModelSpec::Ecg(mcfg.clone());
        write_imported(
            out,
            &log,
            opts,
            &RunConfig::Ecg(cfg.clone()),
            &spec,
            &model,
            &shape,
        )?;
        let data_dir = locate_data_dir(opts.data_dir.as_deref(), cfg.data.data_dir.as_deref());
        let splits = EcgSplits::load(&data_dir, cfg.data.split_seed)
            .with_context(|| format!("loading ECG5000 from {}", data_dir.display()))?;
        let thr = cfg.train.threshold;
        let s = |beats| scores(&model, beats, device);
        let (train_s, val_s) = (s(&splits.train)?, s(&splits.validation)?);
        let (test_n, test_a) = (s(&splits.test_normal)?, s(&splits.test_anomalous)?);
        let normal_rate = |v: &[f32]| threshold_accuracy(v, &[], thr).normal;
        let acc = threshold_accuracy(&test_n, &test_a, thr);
        write_summary(
            out,
            &json!({
                "task": "ecg",
                "cell": mcfg.cell.to_string(),
                "imported_from": opts.source()?,
                "threshold": thr,
                "train_accuracy": normal_rate(&train_s),
                "val_accuracy": normal_rate(&val_s),
                "test_normal_accuracy": acc.normal,
                "test_anomalous_accuracy": acc.anomalous,
                "test_accuracy": acc.overall,
                "beats": {"train": splits.train.len(), "validation": splits.validation.len(),
                          "test_normal": splits.test_normal.len(), "test_anomalous": splits.test_anomalous.len()},
                "paper": {"train": 0.971, "validation": 0.976, "test": 0.986}
            }),
        )?;
        log.line(format!(
            "imported model at threshold {thr}: train {:.1}%, validation {:.1}%, test {:.1}% \
             (normal {:.1}%, anomalous {:.1}%)",
            100.0 * normal_rate(&train_s),
            100.0 * normal_rate(&val_s),
            100.0 * acc.overall,
            100.0 * acc.normal,
            100.0 * acc.anomalous
        ));
        Ok(())
    })
}

/// Writes the run header (config with the imported shape, `model.json`) and the checksummed
/// weights of an imported model, and logs what was imported.
fn write_imported<M: burn::module::Module>(
    out: &Path,
    log: &Logger,
    opts: &ImportOptions,
    config: &RunConfig,
    spec: &ModelSpec,
    model: &M,
    shape: &str,
) -> Result<()> {
    write_run_header(out, config, spec)?;
    write_weights(&out.join(WEIGHTS_FILE), &module_bytes(model)?)?;
    log.line(format!(
        "imported {} ({shape}) into {}",
        opts.pytorch.display(),
        out.display()
    ));
    Ok(())
}

/// `train export-data imdb|ecg --out DIR`: the splits exactly as `train` feeds them, as `.npy`.
///
/// IMDB: `{train,validation,test}_tokens.npy` (`u32 [N, T]`, word-piece ids zero-padded to the
/// split's longest kept review), `_lengths.npy` (`u64 [N]`), `_labels.npy` (`u8 [N]`, 1 =
/// positive), in the kept order (reviews longer than `max_len` or empty dropped), plus the
/// vocabulary as `vocab.txt`. ECG: `{train,validation,test_normal,test_anomalous}_beats.npy`
/// (`f32 [N, 140]`) and `_labels.npy` (`u8`, UCR class 1..=5).
pub fn export_data(
    task: Task,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    out: &Path,
    fetch: &kann_data::fetch::FetchOptions,
) -> Result<()> {
    let args = TrainArgs {
        config,
        data_dir: data_dir.clone(),
        ..TrainArgs::default()
    };
    let (config, _) = crate::setup::load_config(task, &args)?;
    crate::setup::ensure_data(&config, fetch)?;
    if let RunConfig::Copy(_) = config {
        bail!(
            "`train export-data` writes imdb or ecg data; the copy problem is generated from its seed"
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    match config {
        RunConfig::Copy(_) => bail!("the copy problem has no data to export"),
        RunConfig::Imdb(cfg) => export_imdb(&cfg, data_dir.as_deref(), out)?,
        RunConfig::Ecg(cfg) => export_ecg(&cfg, data_dir.as_deref(), out)?,
    }
    println!("wrote the {task} splits to {}", out.display());
    Ok(())
}

/// `train export-data imdb`: per split, the kept reviews' word-piece ids, lengths and labels as
/// `.npy` (see [`export_data`]), and the vocabulary as `vocab.txt`.
fn export_imdb(cfg: &ImdbRunConfig, data_dir: Option<&Path>, out: &Path) -> Result<()> {
    let data_dir = locate_data_dir(data_dir, cfg.data.data_dir.as_deref());
    let vocab = vocab_path(cfg, &data_dir);
    let tokenizer = Tokenizer::from_vocab_file(&vocab)
        .with_context(|| format!("loading the WordPiece vocabulary {}", vocab.display()))?;
    let splits = imdb_splits(cfg, &data_dir)?;
    for (name, reviews) in [
        ("train", &splits.train),
        ("validation", &splits.validation),
        ("test", &splits.test),
    ] {
        let p = prepare(
            reviews,
            &tokenizer,
            cfg.train.batch_size,
            cfg.data.max_len,
            cfg.train.bucket_batches,
            cfg.train.seed,
        )?;
        let batch = p.batcher.make_batch(p.batcher.kept_indices());
        let shape = [batch.batch_size, batch.max_len];
        npy::write_u32(&out.join(format!("{name}_tokens.npy")), &shape, &batch.ids)?;
        let lengths: Vec<u64> = batch.lengths.iter().map(|&l| l as u64).collect();
        npy::write_u64(
            &out.join(format!("{name}_lengths.npy")),
            &[lengths.len()],
            &lengths,
        )?;
        let labels: Vec<u8> = batch.labels.iter().map(|&y| y as u8).collect();
        npy::write_u8(
            &out.join(format!("{name}_labels.npy")),
            &[labels.len()],
            &labels,
        )?;
        println!(
            "{name}: {} reviews, padded to {} pieces",
            shape[0], shape[1]
        );
    }
    let bytes = std::fs::read(&vocab).with_context(|| format!("reading {}", vocab.display()))?;
    kann_models::integrity::write_checked(&out.join(VOCAB_FILE), &bytes)?;
    Ok(())
}

/// `train export-data ecg`: per split, the beats and their UCR labels as `.npy` (see
/// [`export_data`]).
fn export_ecg(cfg: &EcgRunConfig, data_dir: Option<&Path>, out: &Path) -> Result<()> {
    let data_dir = locate_data_dir(data_dir, cfg.data.data_dir.as_deref());
    let splits = EcgSplits::load(&data_dir, cfg.data.split_seed)
        .with_context(|| format!("loading ECG5000 from {}", data_dir.display()))?;
    for (name, beats) in [
        ("train", &splits.train),
        ("validation", &splits.validation),
        ("test_normal", &splits.test_normal),
        ("test_anomalous", &splits.test_anomalous),
    ] {
        let values: Vec<f32> = beats
            .iter()
            .flat_map(|b| b.values.iter().copied())
            .collect();
        npy::write_f32(
            &out.join(format!("{name}_beats.npy")),
            &[beats.len(), SERIES_LEN],
            &values,
        )?;
        let labels: Vec<u8> = beats.iter().map(|b| b.label).collect();
        npy::write_u8(
            &out.join(format!("{name}_labels.npy")),
            &[labels.len()],
            &labels,
        )?;
        println!("{name}: {} beats", beats.len());
    }
    Ok(())
}
