//! The run and its data: the trained GRU, its vocabulary, the run's test split tokenized, the
//! training reviews (for word polarity), and the hooked states of a set of reviews.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::imdb::{ImdbDataset, Review, SplitLimits};
use kann_data::locate_data_dir;
use kann_data::progress::progress_bar;
use kann_data::tokenizer::{PAD_ID, Tokenizer};
use kann_koopman::States;
use kann_models::SentimentModel;
use kann_models::config::{ImdbRunConfig, RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use kann_models::run::load_sentiment_run;

use super::readout::LinearReadout;
use crate::common::{device, resolve_run_dir, step};

/// A tokenized review.
#[derive(Debug, Clone)]
pub struct Item {
    /// The review.
    pub review: Review,
    /// Its piece ids.
    pub ids: Vec<u32>,
}

/// A trained IMDB run, loaded.
pub struct ImdbRun {
    /// The run folder.
    pub dir: PathBuf,
    /// The model.
    pub model: SentimentModel,
    /// Its configuration.
    pub config: ImdbRunConfig,
    /// Its vocabulary.
    pub tokenizer: Tokenizer,
    /// The readout `G` as numbers.
    pub readout: LinearReadout,
    /// The inference device.
    pub device: Device,
}

impl ImdbRun {
    /// Loads the run folder (`None`: the newest IMDB run under `results/`).
    pub fn load(run: Option<&Path>) -> Result<Self> {
        let dir = resolve_run_dir(run, Task::Imdb)?;
        let device = device();
        let (model, config, vocab_path) = load_sentiment_run(&dir, &device)
            .with_context(|| format!("loading the IMDB run {}", dir.display()))?;
        let RunConfig::Imdb(config) = config else {
            bail!("{} is not an IMDB run", dir.display());
        };
        let tokenizer = Tokenizer::from_vocab_file(&vocab_path)
            .with_context(|| format!("loading the run's vocabulary {}", vocab_path.display()))?;
        let n_embed = model.embedding.weight.val().dims()[0];
        if n_embed != tokenizer.vocab_size() {
            bail!(
                "incompatible run {}: the model embeds {n_embed} pieces but {} has {}",
                dir.display(),
                vocab_path.display(),
                tokenizer.vocab_size()
            );
        }
        let w = tensor_to_vec(&model.readout.weight.val())?;
        let b = match &model.readout.bias {
            Some(b) => tensor_to_vec(&b.val())?.first().copied().unwrap_or(0.0),
            None => 0.0,
        };
        if w.len() != model.d_hidden() {
            bail!(
                "{}: the readout has {} weights, expected one logit from {} hidden units",
                dir.display(),
                w.len(),
                model.d_hidden()
            );
        }
        let readout = LinearReadout {
            w: w.iter().map(|&x| f64::from(x)).collect(),
            b: f64::from(b),
        };
        Ok(ImdbRun {
            dir,
            model,
            config,
            tokenizer,
            readout,
            device,
        })
    }

    /// The pieces of `ids` as strings.
    pub fn pieces(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&i| self.tokenizer.id_to_piece(i).unwrap_or("<unk>").to_string())
            .collect()
    }

    /// Runs `items` through the GRU in chunks of `chunk`, all padded to `width`: the states
    /// `[s, width, k]` with the reviews' lengths.
    pub fn states(
        &self,
        items: &[&Item],
        width: usize,
        chunk: usize,
        label: &str,
    ) -> Result<States> {
        let k = self.model.d_hidden();
        let mut data = Vec::with_capacity(items.len() * width * k);
        let bar = progress_bar(items.len().div_ceil(chunk) as u64, label);
        for part in items.chunks(chunk) {
            let hidden = self.hidden(part, width)?;
            data.extend(hidden.into_iter().map(f64::from));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let lengths = items.iter().map(|it| it.ids.len()).collect();
        Ok(States::new_with_lengths(
            data,
            items.len(),
            width,
            k,
            lengths,
        )?)
    }

    /// The hooked states `[b, width, k]` (row-major f32) of a chunk of reviews padded to `width`.
    pub fn hidden(&self, part: &[&Item], width: usize) -> Result<Vec<f32>> {
        let lengths: Vec<usize> = part.iter().map(|it| it.ids.len()).collect();
        let hooked =
            self.model
                .forward_states(tokens_tensor(part, width, &self.device), &lengths, false)?;
        Ok(tensor_to_vec(&hooked.hidden)?)
    }
}

/// Token ids `[B, width]` padded with [`PAD_ID`].
pub(crate) fn tokens_tensor(items: &[&Item], width: usize, device: &Device) -> Tensor<2, Int> {
    let mut ids = Vec::with_capacity(items.len() * width);
    for it in items {
        ids.extend(it.ids.iter().map(|&i| i as i64));
        ids.extend(std::iter::repeat_n(PAD_ID as i64, width - it.ids.len()));
    }
    Tensor::from_data(TensorData::new(ids, [items.len(), width]), device)
}

/// The reviews the analysis reads.
pub struct ImdbData {
    /// The data folder.
    pub data_dir: PathBuf,
    /// The run's test split, tokenized, limited to 2..=max_len pieces.
    pub kept: Vec<Item>,
    /// Test reviews in the run's split.
    pub test_reviews: usize,
    /// Dropped: longer than `max_len` pieces.
    pub too_long: usize,
    /// Dropped: fewer than 2 pieces.
    pub too_short: usize,
    /// The whole official test set (the contextual batch is drawn from it).
    pub all_test: Vec<Review>,
    /// The run's training reviews (word polarity is built from their labels only).
    pub train: Vec<Review>,
}

impl ImdbData {
    /// Loads IMDB from the data folder (`flag`, else the run config's, else the default order)
    /// and tokenizes the run's test split.
    pub fn load(run: &ImdbRun, flag: Option<&Path>) -> Result<Self> {
        let cfg = &run.config;
        let data_dir = locate_data_dir(flag, cfg.data.data_dir.as_deref());
        // First use fetches (KANN_OFFLINE / KANN_MIRROR apply).
        kann_data::fetch::ensure_imdb(&data_dir, &Default::default())?;
        // The run's own splits (the same call as `train`'s), and the whole test set.
        let (splits, all_test) =
            step(&format!("loading IMDB from {}", data_dir.display()), || {
                let dataset = ImdbDataset::load(&data_dir)?;
                let all_test = dataset.test.clone();
                let limits = SplitLimits {
                    train: cfg.data.train_limit,
                    validation: cfg.data.val_limit,
                    test: cfg.data.test_limit,
                };
                let splits =
                    dataset.run_splits(cfg.data.val_fraction, cfg.data.split_seed, &limits)?;
                Ok((splits, all_test))
            })?;
        let test = splits.test;
        let texts: Vec<&str> = test.iter().map(|r| r.text.as_str()).collect();
        let ids = step(&format!("tokenizing {} test reviews", texts.len()), || {
            Ok(run.tokenizer.encode_ids_batch(&texts))
        })?;
        let max_len = cfg.data.max_len;
        let (mut too_long, mut too_short, mut kept) = (0, 0, Vec::new());
        for (review, ids) in test.iter().zip(ids) {
            if ids.len() > max_len {
                too_long += 1;
            } else if ids.len() < 2 {
                too_short += 1;
            } else {
                kept.push(Item {
                    review: review.clone(),
                    ids,
                });
            }
        }
        let train = splits.train;
        Ok(ImdbData {
            data_dir,
            test_reviews: test.len(),
            kept,
            too_long,
            too_short,
            all_test,
            train,
        })
    }
}
