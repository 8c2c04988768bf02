//! `train import` and `train export-data` end to end on the real data, with the committed PyTorch
//! fixtures of `kann-models` (`scripts/make_pytorch_fixtures.py`): the run folder an import
//! writes loads with `kann_models::run::load_run` and computes exactly what PyTorch computed.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::prelude::*;
use kann_models::npy::tensor_to_vec;
use kann_models::run::{RunModel, load_run};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    workspace()
        .join("crates/kann-models/tests/fixtures/pytorch")
        .join(name)
}

fn train() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    // Tests never reach the network: missing data is an error (tests/fetch.rs serves its own).
    c.current_dir(workspace())
        .env("RAYON_NUM_THREADS", "1")
        .env("KANN_OFFLINE", "1");
    c
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run train");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn npy_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("npy");
    npyz::NpyFile::new(&bytes[..])
        .expect("header")
        .into_vec::<f32>()
        .expect("f32")
}

fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn imported_sentiment_run_loads_and_matches_pytorch() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's vocabulary: 20 pieces (its embedding has a spare 21st row).
    let full = std::fs::read_to_string(data.join("imdb_wordpiece.vocab")).unwrap();
    let vocab: String = full.lines().take(20).map(|l| format!("{l}\n")).collect();
    let vocab_file = tmp.path().join("vocab20.txt");
    std::fs::write(&vocab_file, vocab).unwrap();
    let dir = tmp.path().join("run");
    let (ok, text) = run(train()
        .args([
            "import",
            "imdb",
            "--config",
            "configs/imdb-smoke.toml",
            "--pytorch",
        ])
        .arg(fixture("sentiment_gru.pt"))
        .arg("--vocab")
        .arg(&vocab_file)
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&dir));
    assert!(ok, "{text}");
    assert!(text.contains("test accuracy"), "{text}");
    let s = summary(&dir);
    assert_eq!(s["cell"], "gru");
    let acc = s["test_accuracy"].as_f64().expect("test accuracy");
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(
        s["imported_from"]["bytes"].as_u64(),
        Some(
            std::fs::metadata(fixture("sentiment_gru.pt"))
                .unwrap()
                .len()
        )
    );
    // One prediction per kept test review, and their accuracy is the summary's.
    let preds = std::fs::read_to_string(dir.join("test_predictions.csv")).unwrap();
    let rows: Vec<Vec<f64>> = preds
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len() as u64, s["reviews"]["test"].as_u64().unwrap());
    let right = rows.iter().filter(|r| (r[3] > 0.0) == (r[1] > 0.5)).count();
    assert!((right as f64 / rows.len() as f64 - acc).abs() < 1e-12);

    // The run folder rebuilds the model, which computes PyTorch's hidden states.
    let dev = Device::flex();
    let loaded = load_run(&dir, &dev).expect("load_run");
    let RunModel::Sentiment(model) = loaded.model else {
        panic!("not a sentiment run")
    };
    let bytes = std::fs::read(fixture("sentiment_tokens.npy")).unwrap();
    let tokens = npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    let bytes = std::fs::read(fixture("sentiment_lengths.npy")).unwrap();
    let lengths: Vec<usize> = npyz::NpyFile::new(&bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|l| l as usize)
        .collect();
    let t = tokens.len() / lengths.len();
    let x = Tensor::<2, Int>::from_data(TensorData::new(tokens, [lengths.len(), t]), &dev);
    let states = model.forward_states(x, &lengths, false).unwrap();
    let want = npy_f32(&fixture("sentiment_gru_hidden.npy"));
    let got = tensor_to_vec(&states.hidden).unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "hidden states differ from PyTorch's by {worst:e}"
    );
}

#[test]
fn imported_autoencoder_run_loads() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (ok, text) = run(train()
        .args([
            "import",
            "ecg",
            "--config",
            "configs/ecg-smoke.toml",
            "--pytorch",
        ])
        .arg(fixture("ecg_rnn.pt"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&dir));
    assert!(ok, "{text}");
    assert!(text.contains("threshold"), "{text}");
    let s = summary(&dir);
    assert_eq!(s["cell"], "rnn");
    assert!(s["test_accuracy"].as_f64().is_some());
    let loaded = load_run(&dir, &Device::flex()).expect("load_run");
    assert!(matches!(loaded.model, RunModel::Ecg(_)));
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(
        config.contains("d_latent = 4") && config.contains("cell = \"rnn\""),
        "{config}"
    );
}

#[test]
fn import_errors_name_the_file_and_key_and_leave_nothing() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let import = |file: &Path, extra: &[&str]| {
        run(train()
            .args([
                "import",
                "ecg",
                "--config",
                "configs/ecg-smoke.toml",
                "--pytorch",
            ])
            .arg(file)
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(&dir))
    };
    let (ok, text) = import(&fixture("ecg_gru.pt"), &["--cell", "lstm"]);
    assert!(!ok);
    assert!(
        text.contains("ecg_gru.pt") && text.contains("enc.weight_hh_l0"),
        "{text}"
    );
    assert!(!dir.exists(), "a failed import leaves no run folder");

    let (ok, text) = import(&fixture("sentiment_gru.pt"), &[]);
    assert!(!ok);
    assert!(text.contains("missing key `enc.weight_hh_l0`"), "{text}");

    let (ok, text) = import(&tmp.path().join("absent.pt"), &[]);
    assert!(!ok);
    assert!(text.contains("absent.pt"), "{text}");

    let (ok, text) = import(&fixture("ecg_gru.pt"), &["--key-map", "enc"]);
    assert!(!ok);
    assert!(text.contains("FROM=TO"), "{text}");
}

#[test]
fn export_data_writes_the_ecg_splits() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (ok, text) = run(train()
        .args(["export-data", "ecg", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(tmp.path()));
    assert!(ok, "{text}");
    let splits = kann_data::ecg::EcgSplits::load(&data, 42).unwrap();
    for (name, n) in [
        ("train", splits.train.len()),
        ("validation", splits.validation.len()),
        ("test_normal", splits.test_normal.len()),
        ("test_anomalous", splits.test_anomalous.len()),
    ] {
        let beats = npy_f32(&tmp.path().join(format!("{name}_beats.npy")));
        assert_eq!(beats.len(), n * 140, "{name}");
    }
    let first = npy_f32(&tmp.path().join("train_beats.npy"));
    assert_eq!(&first[..140], &splits.train[0].values[..]);
}
