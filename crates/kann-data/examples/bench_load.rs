//! Load + tokenize benchmark of the full IMDB corpus (50,000 reviews).
//!
//! `cargo run --release -p kann-data --example bench_load [-- DATA_DIR]`
//!
//! DATA_DIR holds `aclImdb_v1.tar.gz` (or `aclImdb/`) and `imdb_wordpiece.vocab`; default: env
//! `KANN_SHARED_DATA`, else `<workspace>/../shared/data`. Prints the load time, the tokenize
//! time with the paper's vocabulary and with a 32k vocabulary trained on the training split, and
//! as the in-run reference the same tokenization done by the `tokenizers` crate's own WordPiece
//! model (ratio = reference time / ours; it also counts reviews where the two disagree).

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use tokenizers::Model;
use tokenizers::models::wordpiece::WordPiece;

use kann_data::imdb::ImdbDataset;
use kann_data::tokenizer::{Tokenizer, TrainConfig};

fn stats(name: &str, ids: &[Vec<u32>], n_train: usize, unk: u32) {
    let total: usize = ids.iter().map(Vec::len).sum();
    let unks: usize = ids.iter().flatten().filter(|&&i| i == unk).count();
    let kept_train = ids[..n_train].iter().filter(|s| s.len() <= 1000).count();
    let kept_test = ids[n_train..].iter().filter(|s| s.len() <= 1000).count();
    println!(
        "  {name}: {total} pieces, mean {:.1} per review, <unk> {:.3}%, reviews <= 1000 pieces: \
         train {kept_train} / {n_train}, test {kept_test} / {}",
        total as f64 / ids.len() as f64,
        100.0 * unks as f64 / total as f64,
        ids.len() - n_train
    );
}

fn fnv(pieces: &[String]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for p in pieces {
        for b in p.bytes().chain([b'\n']) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("KANN_SHARED_DATA").map(PathBuf::from))
        .unwrap_or_else(kann_data::testdata::default_shared_data_dir);
    println!(
        "data: {}  (rayon threads: {})",
        dir.display(),
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let data = ImdbDataset::load(&dir)?;
    let load_s = t.elapsed().as_secs_f64();
    println!(
        "load: {} train + {} test reviews in {load_s:.2} s",
        data.train.len(),
        data.test.len()
    );
    let texts: Vec<&str> = data.iter().map(|r| r.text.as_str()).collect();
    let n_train = data.train.len();

    // (a) The paper's vocabulary.
    let t = Instant::now();
    let paper = Tokenizer::from_vocab_file(dir.join("imdb_wordpiece.vocab"))?;
    let vocab_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ids = paper.encode_ids_batch(&texts);
    let ours_s = t.elapsed().as_secs_f64();
    println!(
        "paper vocab ({} pieces, read in {vocab_s:.3} s): tokenize 50k reviews in {ours_s:.2} s",
        paper.vocab_size()
    );
    stats("paper vocab", &ids, n_train, paper.unk_id());

    // Reference in the same run: the `tokenizers` crate's WordPiece model, same vocabulary,
    // same lowercase + whitespace words, also parallel over reviews.
    let vocab: ahash::AHashMap<String, u32> = paper
        .pieces()
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), i as u32))
        .collect();
    let hf = WordPiece::builder()
        .vocab(vocab)
        .unk_token("<unk>".into())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()?;
    let t = Instant::now();
    let hf_ids: Vec<Vec<u32>> = texts
        .par_iter()
        .map(|text| {
            let lower = text.to_lowercase();
            lower
                .split_whitespace()
                .flat_map(|w| hf.tokenize(w).map(|v| v.into_iter().map(|tk| tk.id)))
                .flatten()
                .collect()
        })
        .collect();
    let hf_s = t.elapsed().as_secs_f64();
    let differ = ids.iter().zip(&hf_ids).filter(|(a, b)| a != b).count();
    println!(
        "reference (tokenizers WordPiece model): {hf_s:.2} s; ratio reference / ours = {:.2}; \
         reviews tokenized differently: {differ}",
        hf_s / ours_s
    );

    // (b) A 32k vocabulary trained on the training split.
    let train_texts = &texts[..n_train];
    let t = Instant::now();
    let trained = Tokenizer::train(train_texts, &TrainConfig::default())?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ids2 = trained.encode_ids_batch(&texts);
    let enc2_s = t.elapsed().as_secs_f64();
    println!(
        "trained vocab ({} pieces, fnv64 {:016x}): train on 25k reviews in {train_s:.2} s, \
         tokenize 50k reviews in {enc2_s:.2} s",
        trained.vocab_size(),
        fnv(trained.pieces())
    );
    stats("trained vocab", &ids2, n_train, trained.unk_id());
    println!(
        "ratios vs load time: paper-vocab tokenize {:.2}, train {:.2}, trained-vocab tokenize {:.2}",
        ours_s / load_s,
        train_s / load_s,
        enc2_s / load_s
    );
    Ok(())
}
