//! Import of PyTorch-trained models against PyTorch's own outputs.
//!
//! The fixtures in `tests/fixtures/pytorch/` are tiny models written by
//! `scripts/make_pytorch_fixtures.py` (run by hand with torch; committed, so CI needs no torch):
//! for each cell, a sentiment model and an ECG autoencoder, their inputs, and what PyTorch
//! computed — every hidden state, the logits, the reconstructions. An import must reproduce all
//! of them to 1e-5.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use kann_models::cells::CellKind;
use kann_models::npy::tensor_to_vec;
use kann_models::pytorch::{KeyRename, StateDict, import_ecg, import_sentiment};

const VOCAB: usize = 20;
const TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(name)
}

fn npy_f32(name: &str) -> (Vec<usize>, Vec<f32>) {
    let file = std::fs::File::open(fixture(name)).expect("fixture");
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).expect("npy header");
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().expect("f32 data"))
}

fn npy_i64(name: &str) -> Vec<i64> {
    let file = std::fs::File::open(fixture(name)).expect("fixture");
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).expect("npy header");
    npy.into_vec::<i64>().expect("i64 data")
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= TOL, "{what}: max |kann − PyTorch| = {worst:e}");
}

fn open(name: &str, renames: &[KeyRename]) -> StateDict {
    StateDict::open(&fixture(name), None, renames).expect("readable fixture")
}

#[test]
fn sentiment_models_match_pytorch_at_every_step() {
    let dev = Device::flex();
    let tokens = npy_i64("sentiment_tokens.npy");
    let lengths: Vec<usize> = npy_i64("sentiment_lengths.npy")
        .iter()
        .map(|&l| l as usize)
        .collect();
    let (b, t) = (lengths.len(), tokens.len() / lengths.len());
    for cell in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let sd = open(&format!("sentiment_{cell}.pt"), &[]);
        let (model, config) = import_sentiment(sd, None, VOCAB, &dev).expect("import");
        assert_eq!(config.cell, cell, "cell read from the weights");
        assert_eq!(
            (config.vocab_size, config.d_embed, config.d_hidden),
            (VOCAB, 6, 5)
        );
        let input = || Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [b, t]), &dev);
        let states = model
            .forward_states(input(), &lengths, false)
            .expect("forward");
        let (shape, want) = npy_f32(&format!("sentiment_{cell}_hidden.npy"));
        assert_eq!(shape, vec![b, t, 5]);
        let got = tensor_to_vec(&states.hidden).expect("values");
        assert_close(&format!("{cell} hidden states"), &got, &want);
        let logits = tensor_to_vec(&model.forward(input(), &lengths).expect("logits")).unwrap();
        let (_, want) = npy_f32(&format!("sentiment_{cell}_logits.npy"));
        assert_close(&format!("{cell} logits"), &logits, &want);
    }
}

#[test]
fn ecg_autoencoders_match_pytorch() {
    let dev = Device::flex();
    let (shape, beats) = npy_f32("ecg_beats.npy");
    let (b, t) = (shape[0], shape[1]);
    for cell in [CellKind::Gru, CellKind::Lstm, CellKind::Rnn] {
        let sd = open(&format!("ecg_{cell}.pt"), &[]);
        let (model, config) = import_ecg(sd, Some(cell), t, &dev).expect("import");
        assert_eq!(
            (config.d_latent, config.d_decoder, config.cell),
            (4, 6, cell)
        );
        let input = || Tensor::<2>::from_data(TensorData::new(beats.clone(), [b, t]), &dev);
        let states = model.encode_states(input(), false).expect("encode");
        let (_, want) = npy_f32(&format!("ecg_{cell}_hidden.npy"));
        assert_close(
            &format!("{cell} encoder states"),
            &tensor_to_vec(&states.hidden).unwrap(),
            &want,
        );
        let recon = tensor_to_vec(&model.forward(input()).expect("forward")).unwrap();
        let (_, want) = npy_f32(&format!("ecg_{cell}_recon.npy"));
        assert_close(&format!("{cell} reconstruction"), &recon, &want);
    }
}

#[test]
fn key_map_renames_modules_and_gives_the_same_model() {
    let dev = Device::flex();
    let plain = import_sentiment(open("sentiment_gru.pt", &[]), None, VOCAB, &dev)
        .expect("import")
        .0;
    let renames: Vec<KeyRename> = ["embedding=emb", "rnn_layer=gru", "fc=out"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let renamed = import_sentiment(open("gru_renamed_keys.pt", &renames), None, VOCAB, &dev)
        .expect("import with --key-map");
    let w = |m: &kann_models::SentimentModel| tensor_to_vec(&m.recurrent.w_h.val()).unwrap();
    assert_eq!(w(&plain), w(&renamed.0));

    // Without the renames the error names the missing layer and lists the file's keys.
    let err = import_sentiment(open("gru_renamed_keys.pt", &[]), None, VOCAB, &dev)
        .expect_err("no recurrent prefix")
        .to_string();
    assert!(err.contains("gru_renamed_keys.pt"), "{err}");
    assert!(err.contains("rnn_layer.weight_hh_l0"), "{err}");
    assert!(err.contains("--key-map"), "{err}");
}

#[test]
fn mismatches_are_errors_naming_the_key() {
    let dev = Device::flex();
    let err = import_sentiment(open("sentiment_gru_2layer.pt", &[]), None, VOCAB, &dev)
        .expect_err("two layers")
        .to_string();
    assert!(err.contains("gru.") && err.contains("_l1"), "{err}");

    // A vocabulary larger than the embedding.
    let err = import_sentiment(open("sentiment_gru.pt", &[]), None, 50, &dev)
        .expect_err("too few embedding rows")
        .to_string();
    assert!(
        err.contains("emb.weight") && err.contains("21 rows"),
        "{err}"
    );

    // The wrong cell asked for.
    let err = import_sentiment(
        open("sentiment_gru.pt", &[]),
        Some(CellKind::Lstm),
        VOCAB,
        &dev,
    )
    .expect_err("no lstm layer")
    .to_string();
    assert!(err.contains("lstm.weight_hh_l0"), "{err}");
    let err = import_ecg(open("ecg_gru.pt", &[]), Some(CellKind::Lstm), 9, &dev)
        .expect_err("a GRU is not an LSTM")
        .to_string();
    assert!(err.contains("enc") && err.contains("gru"), "{err}");

    // An ECG file read as a sentiment model: no recurrent prefix of that kind.
    let err = import_sentiment(open("ecg_lstm.pt", &[]), None, VOCAB, &dev)
        .expect_err("not a sentiment model")
        .to_string();
    assert!(err.contains("enc.weight_ih_l0"), "{err}");

    // Keys the model has no place for (a rename that duplicates a module).
    let err = import_ecg(open("sentiment_gru.pt", &[]), None, 9, &dev)
        .expect_err("not an autoencoder")
        .to_string();
    assert!(err.contains("enc.weight_hh_l0"), "{err}");

    // Not a PyTorch file at all.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("model.pt");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    let err = StateDict::open(&bad, None, &[])
        .expect_err("garbage")
        .to_string();
    assert!(err.contains("model.pt"), "{err}");
}

/// Issue 19, class 5: weights holding NaN or inf are refused on import, naming the tensor
/// (`ecg_gru_nan.pt` is `ecg_gru.pt` with the first two values of one tensor set to NaN and inf,
/// its zip CRC fixed; made with Python's zipfile/struct, no torch).
#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let err = match StateDict::open(&fixture("ecg_gru_nan.pt"), None, &[]) {
        Ok(_) => panic!("NaN weights were accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("non-finite") && err.contains("ecg_gru_nan.pt"),
        "{err}"
    );
    assert!(err.contains("2 non-finite"), "{err}");
    // The same file without the damage imports.
    open("ecg_gru.pt", &[]);
}
