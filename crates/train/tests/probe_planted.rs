//! The planted check of the Koopman probe (issue 22 item 4): on a copy task whose memory is
//! known (`configs/copy-planted.toml`: 3 symbols of 4 recalled after a delay of d = 10 steps),
//! the network can only recall once some of its modes survive the delay. The probe counts the
//! eigenvalues with `|λ|^d ≥ 0.5` ("memory modes": half an input left after the delay):
//! - the untrained network has one, the mode of the mean state (`λ ≈ 1`, residual ≈ 0), and
//!   recalls at chance;
//! - at every epoch whose validation recall is at least 90%, there are at least 3 (the mean
//!   mode and a slow group beside it).
//!
//! Measured on this config (docs/training-probe.md): the slow group is there from epoch 1, when
//! recall first rises above chance (55% against 25%), seven epochs before recall crosses 90%;
//! so on this model the slow modes come with the first recall, not with the 90% crossing.

use std::path::Path;

mod common;
use common::{run_ok, start, workspace};

const DELAY: i32 = 10;

fn memory_modes(row: &serde_json::Value) -> usize {
    row["leading"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["modulus"].as_f64().unwrap().powi(DELAY) >= 0.5)
        .count()
}

/// Per-symbol validation recall by epoch (`metrics.csv` `val_acc`).
fn val_recall(dir: &Path) -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (e, v) = (col("epoch"), col("val_acc"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[e].parse().unwrap(), f[v].parse().unwrap())
        })
        .collect()
}

#[test]
fn memory_modes_are_absent_untrained_and_present_once_recall_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("planted");
    run_ok(&mut start(
        "copy",
        &workspace().join("configs/copy-planted.toml"),
        &run,
    ));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(run.join("probe.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 13, "the untrained model and 12 epochs");
    let untrained = &rows[0];
    assert_eq!(memory_modes(untrained), 1, "{untrained}");
    let mean_mode = &untrained["leading"][0];
    assert!(
        (mean_mode["modulus"].as_f64().unwrap() - 1.0).abs() < 0.01,
        "{mean_mode}"
    );
    let recall = val_recall(&run);
    let crossed = recall
        .iter()
        .find(|&&(_, acc)| acc >= 0.9)
        .map(|&(e, _)| e)
        .expect("the planted copy task is learnt (validation recall >= 90%)");
    for &(epoch, acc) in &recall {
        let row = rows.iter().find(|r| r["epoch"] == epoch).unwrap();
        if acc >= 0.9 {
            assert!(
                memory_modes(row) >= 3,
                "epoch {epoch} (recall {acc}, crossed at {crossed}): {row}"
            );
        }
    }
}
