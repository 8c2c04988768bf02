//! Runs and results that survive kills, races and bad values (issue 12), tested on the `train`
//! binary with a small ECG5000 subset (real beats, a few hundred), so that each run takes about
//! a second.
//!
//! Kills use the test-only hook `KANN_TEST_HOOK=<point>[@n]:abort|wait`
//! (`kann_models::testhook`): `abort` stops the process at a named step of the checkpoint or
//! weights write as `kill -9` would (no destructors, no cleanup, lock not released by us).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{metrics_without_times as metrics, run_err, run_ok, text, train, without_param_ids};

fn start(config: &Path, out: &Path) -> Command {
    common::start("ecg", config, out)
}

fn resume(out: &Path) -> Command {
    common::resume("ecg", out)
}

/// A small ECG5000 folder: the first `normal` normal and `anomalous` anomalous beats of the real
/// training file, as `ECG5000_TRAIN.tsv` (the test file is empty of rows but present).
fn small_ecg(root: &Path, normal: usize, anomalous: usize) -> Option<PathBuf> {
    let data = kann_data::testdata::shared_data_dir()?;
    let text = std::fs::read_to_string(data.join("ECG5000/ECG5000_TRAIN.tsv")).ok()?;
    let (mut n, mut a) = (0, 0);
    let mut rows = Vec::new();
    for line in text.lines() {
        let label = line.split('\t').next().unwrap_or("").trim();
        let normal_beat = label.parse::<f64>().ok() == Some(1.0);
        if normal_beat && n < normal {
            n += 1;
            rows.push(line);
        } else if !normal_beat && a < anomalous {
            a += 1;
            rows.push(line);
        }
    }
    let dir = root.join("data");
    std::fs::create_dir_all(dir.join("ECG5000")).unwrap();
    let (train, test) = rows.split_at(rows.len() * 2 / 3);
    std::fs::write(
        dir.join("ECG5000/ECG5000_TRAIN.tsv"),
        train.join("\n") + "\n",
    )
    .unwrap();
    std::fs::write(dir.join("ECG5000/ECG5000_TEST.tsv"), test.join("\n") + "\n").unwrap();
    Some(dir)
}

/// A tiny ECG config (2 epochs) with `extra` appended under `[train]`.
fn tiny_config(root: &Path, name: &str, data: &Path, extra: &str) -> PathBuf {
    let path = root.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "task = \"ecg\"\n[model]\ncell = \"lstm\"\nd_latent = 8\nd_decoder = 16\n\
             [data]\ndata_dir = {:?}\nsplit_seed = 42\n\
             [train]\nepochs = 2\nbatch_size = 16\nlr = 1e-3\nseed = 42\nthreshold = 26.0\n{extra}",
            data.display().to_string()
        ),
    )
    .unwrap();
    path
}

/// Every file under `dir` (relative path -> bytes), skipping `run.lock`'s content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let bytes = if rel == "run.lock" {
                    Vec::new()
                } else {
                    std::fs::read(&p).unwrap()
                };
                out.insert(rel, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn kill_at_every_step_of_a_checkpoint_resumes_to_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = small_ecg(tmp.path(), 150, 60) else {
        return;
    };
    let cfg = tiny_config(tmp.path(), "tiny", &data, "");
    let reference = tmp.path().join("reference");
    run_ok(&mut start(&cfg, &reference));
    let ref_metrics = metrics(&reference);
    assert_eq!(ref_metrics.len(), 3, "{ref_metrics:?}");
    let ref_weights = without_param_ids(std::fs::read(reference.join("model.bpk")).unwrap());
    let ref_summary = summary(&reference);

    // Every step of the epoch-2 checkpoint, and of publishing the weights after epoch 1.
    let points = [
        "checkpoint-after-model.bpk@2",
        "checkpoint-after-optim.bpk@2",
        "checkpoint-after-state.json@2",
        "checkpoint-after-best.bpk@2",
        "checkpoint-after-manifest@2",
        "checkpoint-after-rename@2",
        "checkpoint-after-latest@2",
        "publish-after-weights@2",
        "weights-between-sidecar-and-rename@1",
        "weights-after-rename@1",
    ];
    for point in points {
        let run = tmp.path().join(point.replace(['@', '.'], "-"));
        let out = start(&cfg, &run)
            .env("KANN_TEST_HOOK", format!("{point}:abort"))
            .output()
            .unwrap();
        assert!(
            !out.status.success() && text(&out).contains("stopping at"),
            "{point}: the hook did not stop the run:\n{}",
            text(&out)
        );
        let log = run_ok(&mut resume(&run));
        // The checkpoint of epoch 2 counts from the moment `LATEST` names it.
        let expected_epoch =
            if point.starts_with("checkpoint-after-latest") || point.starts_with("publish") {
                2
            } else {
                1
            };
        assert!(
            log.contains(&format!("resuming after epoch {expected_epoch}")),
            "{point}: {log}"
        );
        assert_eq!(metrics(&run), ref_metrics, "{point}: metrics differ");
        let weights = without_param_ids(std::fs::read(run.join("model.bpk")).unwrap());
        if weights != ref_weights {
            let first = weights.iter().zip(&ref_weights).position(|(a, b)| a != b);
            panic!(
                "{point}: weights differ ({} vs {} bytes, first difference at byte {first:?})",
                weights.len(),
                ref_weights.len()
            );
        }
        for key in [
            "test_accuracy",
            "best_epoch",
            "best_val_loss",
            "test_roc_auc",
        ] {
            assert_eq!(summary(&run)[key], ref_summary[key], "{point}: {key}");
        }
        // No leftovers of the killed writes, one checkpoint folder.
        let files = tree(&run);
        let stray: Vec<&String> = files.keys().filter(|k| k.contains(".tmp")).collect();
        assert!(stray.is_empty(), "{point}: leftovers {stray:?}");
        let ckpt: Vec<String> = std::fs::read_dir(run.join("checkpoint"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut ckpt = ckpt;
        ckpt.sort();
        assert_eq!(ckpt, ["LATEST", "epoch-0002"], "{point}");
    }
}

#[test]
fn second_run_into_one_folder_fails_at_once_and_a_dead_holder_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = small_ecg(tmp.path(), 150, 60) else {
        return;
    };
    let cfg = tiny_config(tmp.path(), "tiny", &data, "");
    let run = tmp.path().join("run");
    // The first run takes the lock and waits there.
    let mut first = start(&cfg, &run)
        .env("KANN_TEST_HOOK", "locked:wait")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(run.join("run.lock"))
        .unwrap_or_default()
        .contains(&format!("\"pid\":{pid}"))
    {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    let err = run_err(start(&cfg, &run).args(["--seed", "2"]));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the second run did not fail at once"
    );
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains("run.lock"),
        "{err}"
    );
    // Resuming meanwhile is refused the same way.
    let err = run_err(&mut resume(&run));
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    // The second run wrote nothing.
    assert!(!run.join("config.toml").exists());

    // The holder dies without releasing anything: the next run takes over.
    first.kill().unwrap();
    first.wait().unwrap();
    let log = run_ok(&mut start(&cfg, &run));
    assert!(
        log.contains(&format!("locked by pid {pid}")) && log.contains("taking it over"),
        "{log}"
    );
    assert!(log.contains("ecg done"), "{log}");
}

#[test]
fn failed_or_empty_resume_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = small_ecg(tmp.path(), 150, 60) else {
        return;
    };
    let cfg = tiny_config(tmp.path(), "tiny", &data, "");
    let run = tmp.path().join("run");
    run_ok(&mut start(&cfg, &run));
    let before = tree(&run);

    // Nothing to do: the run finished its 2 epochs.
    let log = run_ok(&mut resume(&run));
    assert!(log.contains("nothing to do"), "{log}");
    assert_eq!(
        tree(&run),
        before,
        "a resume with nothing to do changed the folder"
    );
    // Fewer epochs than done.
    let err = run_err(resume(&run).args(["--epochs", "1"]));
    assert!(err.contains("new total"), "{err}");
    assert_eq!(tree(&run), before);

    // A damaged checkpoint: the resume fails naming the file, and config.toml keeps epochs = 2.
    let optim = run.join("checkpoint/epoch-0002/optim.bpk");
    let mut bytes = std::fs::read(&optim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&optim, &bytes).unwrap();
    let before = tree(&run);
    let err = run_err(resume(&run).args(["--epochs", "7"]));
    assert!(
        err.contains("optim.bpk") && err.contains("damaged"),
        "{err}"
    );
    assert_eq!(tree(&run), before, "a failed resume changed the folder");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 2"), "{config}");
}

#[test]
fn damaged_weights_are_refused_on_load() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = small_ecg(tmp.path(), 150, 60) else {
        return;
    };
    let cfg = tiny_config(tmp.path(), "tiny", &data, "");
    let run = tmp.path().join("run");
    run_ok(start(&cfg, &run).args(["--epochs", "1"]));
    let dev = burn::prelude::Device::flex();
    kann_models::run::load_run(&run, &dev).expect("intact weights load");
    let weights = run.join("model.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    // A flipped bit in the last tensor's data (the header is at the start).
    let i = bytes.len() - 5;
    bytes[i] ^= 0x01;
    std::fs::write(&weights, &bytes).unwrap();
    let err = kann_models::run::load_run(&run, &dev)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.bpk") && err.contains("damaged"),
        "{err}"
    );
}

#[test]
fn bad_values_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("no-data-needed");
    for (extra, key) in [
        ("lr = -0.001\n", "train.lr"),
        ("grad_clip = -1.0\n", "train.grad_clip"),
        ("threshold = nan\n", "train.threshold"),
        ("plateau_factor = 0.0\n", "train.plateau_factor"),
    ] {
        let cfg = tiny_config(tmp.path(), "bad", &data, "");
        // The bad line replaces the config's own value of that key.
        let name = extra.split(' ').next().unwrap();
        let text: String = std::fs::read_to_string(&cfg)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with(&format!("{name} =")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&cfg, text + extra).unwrap();
        let run = tmp.path().join("run");
        let err = run_err(&mut start(&cfg, &run));
        assert!(
            err.contains(key) && err.contains("bad.toml"),
            "{extra}: {err}"
        );
        assert!(!run.exists(), "{extra}: a run folder was made");
    }
    let cfg = tmp.path().join("zero.toml");
    std::fs::write(&cfg, "task = \"ecg\"\n[model]\nd_latent = 0\n").unwrap();
    let err = run_err(&mut start(&cfg, &tmp.path().join("run")));
    assert!(
        err.contains("model.d_latent = 0") && err.contains("at least 1"),
        "{err}"
    );
    let cfg = tmp.path().join("imdb.toml");
    std::fs::write(
        &cfg,
        "task = \"imdb\"\n[train]\nlr_decay = -0.5\n[data]\nval_fraction = 0.0\n",
    )
    .unwrap();
    let err = run_err(
        train()
            .args(["imdb", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(tmp.path().join("run")),
    );
    assert!(
        err.contains("train.lr_decay") && err.contains("data.val_fraction"),
        "{err}"
    );
    // Flags are checked too.
    let cfg = tiny_config(tmp.path(), "ok", &data, "");
    let err = run_err(start(&cfg, &tmp.path().join("run")).args(["--epochs", "0"]));
    assert!(err.contains("--epochs 0"), "{err}");
}

#[test]
fn ecg_without_anomalous_beats_says_the_auc_is_undefined() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = small_ecg(tmp.path(), 150, 0) else {
        return;
    };
    let cfg = tiny_config(tmp.path(), "tiny", &data, "");
    let run = tmp.path().join("run");
    let log = run_ok(start(&cfg, &run).args(["--epochs", "1"]));
    assert!(log.contains("ROC AUC undefined"), "{log}");
    assert!(!log.contains("ROC AUC 0.0000"), "{log}");
    assert!(summary(&run)["test_roc_auc"].is_null());
}

#[test]
fn failed_start_leaves_no_half_made_folder_and_os_errors_print_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "tiny", &tmp.path().join("nowhere"), "");
    // A new folder: removed again.
    let run = tmp.path().join("new-run");
    let err = run_err(&mut start(&cfg, &run));
    assert!(err.contains("nowhere"), "{err}");
    assert!(!run.exists(), "half-made folder left: {:?}", tree(&run));
    // An existing folder: only what this start wrote is removed.
    let run = tmp.path().join("existing");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    run_err(&mut start(&cfg, &run));
    assert_eq!(tree(&run).keys().collect::<Vec<_>>(), ["notes.txt"]);
    // An OS error is named once (a missing vocabulary file of an IMDB run).
    let cfg = tmp.path().join("imdb.toml");
    std::fs::write(
        &cfg,
        "task = \"imdb\"\n[data]\nvocab = \"/nonexistent/kann.vocab\"\n",
    )
    .unwrap();
    let run = tmp.path().join("imdb-run");
    let err = run_err(
        train()
            .args(["imdb", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&run),
    );
    assert!(err.contains("kann.vocab"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert!(!run.exists());
}

#[test]
fn help_lists_each_tasks_own_flags_and_their_values() {
    let help = |args: &[&str]| run_ok(train().args(args));
    let ecg = help(&["ecg", "--help"]);
    assert!(!ecg.contains("--max-len"), "{ecg}");
    assert!(ecg.contains("[possible values: gru, lstm, rnn]"), "{ecg}");
    assert!(ecg.contains("new total"), "{ecg}");
    let imdb = help(&["imdb", "--help"]);
    assert!(imdb.contains("--max-len"), "{imdb}");
    let download = help(&["download", "--help"]);
    assert!(
        download.contains("KANN_DATA_DIR") && download.contains("data/"),
        "{download}"
    );
    // `--max-len` given to ecg is a usage error naming it.
    let err = run_err(train().args(["ecg", "--max-len", "5"]));
    assert!(err.contains("--max-len"), "{err}");
}
