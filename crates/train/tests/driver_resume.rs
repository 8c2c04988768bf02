//! The epoch driver (`train::driver`) survives a kill at every point of an epoch: on the copy
//! task (configs/copy-smoke.toml: 2 epochs of 8 batches, no data files, about a second a run),
//! a run killed with the test hook `KANN_TEST_HOOK=<point>@n:abort` and then resumed leaves the
//! same `metrics.csv`, `copy_metrics.csv`, weights and summary as the uninterrupted run, with
//! one checkpoint folder and no leftovers, and the same Koopman probe rows (`probe.jsonl`, probed
//! every 3 steps as well as after each epoch): none twice, none missing. The same driver trains ECG and IMDB, so this is their
//! resume path too (tests/reliability.rs repeats the checkpoint points on real ECG beats).

use std::path::Path;
use std::process::Command;

mod common;
use common::{
    metrics_without_times as metrics, run_err, run_ok, start_copy_smoke as start, text,
    without_param_ids,
};

fn resume(out: &Path) -> Command {
    common::resume("copy", out)
}

/// `metrics.csv` rows equal field by field, numbers to within one ulp, naming the field that
/// differs (the rows of epochs before the kill come back from the checkpoint's `state.json`);
/// `the_resumed_metrics_are_exact` below asserts exact bytes.
fn assert_metrics_eq(got: &[String], expected: &[String], point: &str) {
    assert_eq!(got.len(), expected.len(), "{point}: {got:?}");
    for (g, e) in got.iter().zip(expected) {
        let (gf, ef): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), e.split(',').collect());
        assert_eq!(gf.len(), ef.len(), "{point}: {g} vs {e}");
        for (a, b) in gf.iter().zip(&ef) {
            let same = match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()),
                _ => a == b,
            };
            assert!(same, "{point}: metrics.csv row {g} vs {e}");
        }
    }
}

/// `summary.json` without its timing fields.
fn summary(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let m = v.as_object_mut().unwrap();
    m.remove("train_seconds");
    m.remove("wall_seconds_this_session");
    v
}

/// The rows of `probe.jsonl` without their timing field.
fn probe_rows(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("probe.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

/// Everything a finished run shows that must not depend on a kill and a resume.
struct Outputs {
    metrics: Vec<String>,
    copy_metrics: String,
    weights: Vec<u8>,
    summary: serde_json::Value,
    probe: Vec<serde_json::Value>,
}

fn outputs(dir: &Path) -> Outputs {
    Outputs {
        metrics: metrics(dir),
        copy_metrics: std::fs::read_to_string(dir.join("copy_metrics.csv")).unwrap(),
        weights: without_param_ids(std::fs::read(dir.join("model.bpk")).unwrap()),
        summary: summary(dir),
        probe: probe_rows(dir),
    }
}

/// The copy smoke run with the Koopman probe also every 3 of an epoch's 8 steps.
fn start_probed(out: &Path) -> Command {
    let mut cmd = start(out);
    cmd.args(["--probe-every", "3"]);
    cmd
}

/// Names under `dir`, recursively, relative to it.
fn names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn a_kill_at_every_point_of_an_epoch_resumes_to_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    run_ok(&mut start_probed(&reference));
    let expected = outputs(&reference);
    assert_eq!(expected.metrics.len(), 3, "{:?}", expected.metrics);
    assert_eq!(expected.copy_metrics.lines().count(), 3);
    // The untrained model, then steps 3 and 6 and the end of each of the two epochs.
    let at: Vec<(u64, u64)> = expected
        .probe
        .iter()
        .map(|r| (r["epoch"].as_u64().unwrap(), r["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, [(0, 0), (1, 3), (1, 6), (1, 8), (2, 3), (2, 6), (2, 8)]);

    // (hook point, the epoch the checkpoint holds when it fires). Epoch 2 runs batches 9..16.
    let points = [
        ("driver-after-step@12", 1),
        ("driver-after-step@16", 1),
        ("driver-after-evaluation@2", 1),
        ("checkpoint-after-model.bpk@2", 1),
        ("checkpoint-after-optim.bpk@2", 1),
        ("checkpoint-after-state.json@2", 1),
        ("checkpoint-after-best.bpk@2", 1),
        ("checkpoint-after-manifest@2", 1),
        ("checkpoint-after-rename@2", 1),
        ("checkpoint-after-latest@2", 2),
        ("publish-after-weights@2", 2),
        ("driver-after-publish@1", 1),
        ("driver-after-publish@2", 2),
        ("driver-after-tables@2", 2),
        ("weights-between-sidecar-and-rename@1", 1),
        ("weights-after-rename@1", 1),
    ];
    for (point, committed) in points {
        let run = tmp.path().join(point.replace(['@', '.'], "-"));
        let out = start_probed(&run)
            .env("KANN_TEST_HOOK", format!("{point}:abort"))
            .output()
            .unwrap();
        assert!(
            !out.status.success() && text(&out).contains("stopping at"),
            "{point}: the hook did not stop the run:\n{}",
            text(&out)
        );
        let log = run_ok(&mut resume(&run));
        assert!(
            log.contains(&format!("resuming after epoch {committed}")),
            "{point}: {log}"
        );
        let got = outputs(&run);
        assert_metrics_eq(&got.metrics, &expected.metrics, point);
        assert_eq!(got.copy_metrics, expected.copy_metrics, "{point}");
        assert_eq!(got.summary, expected.summary, "{point}: summary.json");
        assert_eq!(got.probe, expected.probe, "{point}: probe.jsonl");
        assert!(
            got.weights == expected.weights,
            "{point}: model.bpk differs"
        );
        let files = names(&run);
        let stray: Vec<&String> = files.iter().filter(|k| k.contains(".tmp")).collect();
        assert!(stray.is_empty(), "{point}: leftovers {stray:?}");
        let mut ckpt: Vec<String> = std::fs::read_dir(run.join("checkpoint"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        ckpt.sort();
        assert_eq!(ckpt, ["LATEST", "epoch-0002"], "{point}");
    }
}

#[test]
fn a_damaged_copy_metrics_file_is_rewritten_from_the_checkpoint_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_ok(start(&run).args(["--epochs", "1"]));
    let after_one = std::fs::read_to_string(run.join("copy_metrics.csv")).unwrap();
    assert_eq!(after_one.lines().count(), 2, "{after_one}");
    std::fs::write(
        run.join("copy_metrics.csv"),
        "epoch,val_string_acc\nx,y,z\n",
    )
    .unwrap();
    run_ok(resume(&run).args(["--epochs", "2"]));
    let text = std::fs::read_to_string(run.join("copy_metrics.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[..2], after_one.lines().collect::<Vec<_>>()[..]);
    assert!(lines[2].starts_with("2,"), "{text}");
}

#[test]
fn a_kill_before_the_first_checkpoint_cannot_be_resumed_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = start(&run)
        .env("KANN_TEST_HOOK", "driver-after-step@3:abort")
        .output()
        .unwrap();
    assert!(text(&out).contains("stopping at"), "{}", text(&out));
    let err = run_err(&mut resume(&run));
    assert!(err.contains("no checkpoint"), "{err}");
    assert!(!run.join("metrics.csv").exists());
}

/// Exact bytes after a resume: relies on serde_json's `float_roundtrip` feature (pinned in
/// workspace-hack); without it `state.json`'s 17-digit numbers can come back one ulp off.
#[test]
fn the_resumed_metrics_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    run_ok(&mut start(&reference));
    let run = tmp.path().join("run");
    let out = start(&run)
        .env("KANN_TEST_HOOK", "driver-after-step@12:abort")
        .output()
        .unwrap();
    assert!(text(&out).contains("stopping at"), "{}", text(&out));
    run_ok(&mut resume(&run));
    assert_eq!(metrics(&run), metrics(&reference));
}
