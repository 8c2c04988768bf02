//! End to end: the `train` binary trains both smoke configs on the real data and leaves a run
//! folder that `kann_models::run::load_run` can rebuild. Also checks the CLI's error paths.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn train() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    // Tests never reach the network: missing data is an error (tests/fetch.rs serves its own).
    c.current_dir(workspace())
        .env("RAYON_NUM_THREADS", "1")
        .env("KANN_OFFLINE", "1");
    c
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run train");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "train failed:\n{text}");
    text
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run train");
    assert!(!out.status.success(), "train should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn metrics_rows(dir: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("epoch,lr,train_loss"));
    lines
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

#[test]
fn ecg_smoke_trains_resumes_and_loads() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("ecg");
    let text = run_ok(
        train()
            .args(["ecg", "--config", "configs/ecg-smoke.toml", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&run),
    );
    assert!(text.contains("ecg done"), "{text}");
    let rows = metrics_rows(&run);
    assert_eq!(rows.len(), 1);
    assert!(rows[0][2].is_finite() && rows[0][4].is_finite());
    for f in [
        "config.toml",
        "model.json",
        "model.bpk",
        "summary.json",
        "roc.csv",
        "ecg_scores.csv",
        "train.log",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    // Starting again over the same folder is refused; --resume with more epochs continues.
    let err = run_err(
        train()
            .args(["ecg", "--config", "configs/ecg-smoke.toml", "--out"])
            .arg(&run),
    );
    assert!(err.contains("--resume"), "{err}");
    run_ok(
        train()
            .args(["ecg", "--resume", "--epochs", "2", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&run),
    );
    let rows = metrics_rows(&run);
    assert_eq!(rows.len(), 2, "resume should add epoch 2 only");
    assert_eq!(rows[1][0], 2.0);

    let dev = burn::prelude::Device::flex();
    let loaded = kann_models::run::load_run(&run, &dev).unwrap();
    assert!(matches!(loaded.model, kann_models::run::RunModel::Ecg(_)));
}

#[test]
fn imdb_smoke_trains_and_loads() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("imdb");
    let text = run_ok(
        train()
            .args(["imdb", "--config", "configs/imdb-smoke.toml", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&run),
    );
    assert!(text.contains("imdb done"), "{text}");
    let rows = metrics_rows(&run);
    assert_eq!(rows.len(), 1);
    let acc = rows[0][7];
    assert!((0.0..=1.0).contains(&acc), "test accuracy {acc}");
    let dev = burn::prelude::Device::flex();
    let loaded = kann_models::run::load_run(&run, &dev).unwrap();
    assert!(loaded.vocab.is_some());
    assert!(matches!(
        loaded.model,
        kann_models::run::RunModel::Sentiment(_)
    ));
}

#[test]
fn bad_input_gives_clear_errors() {
    let out = tempfile::tempdir().unwrap();
    // Unknown cell.
    let err = run_err(train().args(["ecg", "--cell", "transformer"]));
    assert!(err.contains("transformer"), "{err}");
    // Unknown config key.
    let cfg = out.path().join("bad.toml");
    std::fs::write(&cfg, "task = \"ecg\"\n[train]\nepochz = 3\n").unwrap();
    let err = run_err(
        train()
            .args(["ecg", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(out.path().join("r1")),
    );
    assert!(err.contains("epochz") && err.contains("bad.toml"), "{err}");
    // Config of the other task.
    let err = run_err(
        train()
            .args(["imdb", "--config", "configs/ecg.toml", "--out"])
            .arg(out.path().join("r2")),
    );
    assert!(err.contains("task"), "{err}");
    // Missing data.
    let err = run_err(
        train()
            .args(["ecg", "--config", "configs/ecg-smoke.toml", "--data-dir"])
            .arg(out.path().join("nowhere"))
            .arg("--out")
            .arg(out.path().join("r3")),
    );
    assert!(
        err.contains("nowhere") && err.contains("ECG5000") && err.contains("turned off"),
        "{err}"
    );
    // Resume without a run.
    let err = run_err(
        train()
            .args(["ecg", "--resume", "--out"])
            .arg(out.path().join("r4")),
    );
    assert!(err.contains("resume"), "{err}");
}

#[test]
fn same_seed_repeats_the_run() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let losses = |name: &str| {
        let run = out.path().join(name);
        run_ok(
            train()
                .args([
                    "ecg",
                    "--config",
                    "configs/ecg-smoke.toml",
                    "--seed",
                    "7",
                    "--data-dir",
                ])
                .arg(&data)
                .arg("--out")
                .arg(&run),
        );
        // train_loss, val_loss, test_loss of every epoch
        metrics_rows(&run)
            .iter()
            .map(|r| [r[2], r[4], r[6]])
            .collect::<Vec<_>>()
    };
    assert_eq!(losses("a"), losses("b"));
}
