//! `train sweep`: every combination of cells and seeds of one task, each in its own run folder
//! `DIR/<cell>-s<seed>/` (the robustness study of the paper's App. C, and the seed spread the
//! single default run cannot show).
//!
//! Resumable: a run whose `summary.json` exists is finished and skipped; a run with a
//! checkpoint but no summary was interrupted and is resumed; any other is started. A failing run
//! does not stop the others; the sweep reports every failure at the end and fails then.
//! `DIR/sweep.json` lists the runs, their state and their test accuracy.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use kann_models::atomic::write_atomic;
use kann_models::cells::CellKind;
use kann_models::config::Task;
use kann_models::run::SUMMARY_FILE;
use serde::Serialize;

use crate::TrainArgs;
use crate::checkpoint::Checkpoint;

/// What `train sweep` needs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The task.
    pub task: Task,
    /// Cells to train.
    pub cells: Vec<CellKind>,
    /// Seeds of weight init and batch order.
    pub seeds: Vec<u64>,
    /// Epochs per run (default: the config's).
    pub epochs: Option<usize>,
    /// Config (default: `configs/<task>.toml`).
    pub config: Option<PathBuf>,
    /// Data folder.
    pub data_dir: Option<PathBuf>,
    /// The sweep folder.
    pub out: PathBuf,
}

/// One run of a sweep, as listed in `sweep.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRun {
    /// Cell.
    pub cell: String,
    /// Seed.
    pub seed: u64,
    /// Run folder.
    pub dir: PathBuf,
    /// `skipped` (finished before), `resumed`, `trained` or `failed: <error>`.
    pub status: String,
    /// Test accuracy from the run's `summary.json` (IMDB: test set; ECG: at the threshold).
    pub test_accuracy: Option<f64>,
}

/// The run folder of `cell` and `seed` inside the sweep folder.
pub fn run_dir(out: &Path, cell: CellKind, seed: u64) -> PathBuf {
    out.join(format!("{cell}-s{seed}"))
}

fn test_accuracy(dir: &Path) -> Option<f64> {
    let text = kann_models::run::read_checked_text(&dir.join(SUMMARY_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["test_accuracy"].as_f64()
}

/// Runs the sweep; returns its runs (an error when any failed, after all were tried).
pub fn run(opts: &SweepOptions) -> Result<Vec<SweepRun>> {
    if opts.cells.is_empty() || opts.seeds.is_empty() {
        bail!("a sweep needs at least one cell (--cells) and one seed (--seeds)");
    }
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", opts.out.display()))?;
    let total = opts.cells.len() * opts.seeds.len();
    let mut runs = Vec::with_capacity(total);
    for &cell in &opts.cells {
        for &seed in &opts.seeds {
            let dir = run_dir(&opts.out, cell, seed);
            let status = sweep_one(opts, cell, seed, &dir, (runs.len() + 1, total));
            runs.push(SweepRun {
                cell: cell.to_string(),
                seed,
                test_accuracy: test_accuracy(&dir),
                dir,
                status,
            });
            let json = serde_json::to_string_pretty(&runs)?;
            write_atomic(&opts.out.join("sweep.json"), json.as_bytes())?;
        }
    }
    let failed: Vec<&SweepRun> = runs
        .iter()
        .filter(|r| r.status.starts_with("failed"))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {total} runs failed ({}); run the same command again to retry them (finished runs are skipped)",
            failed.len(),
            failed
                .iter()
                .map(|r| r.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "sweep done: {total} runs in {} (sweep.json); next: cargo run --release -p analyze -- compare {}/*",
        opts.out.display(),
        opts.out.display()
    );
    Ok(runs)
}

/// Run `n` of `total` of the sweep, `cell` with `seed` in `dir`: skipped if finished, resumed
/// if it has a checkpoint, else trained. Returns its `sweep.json` status; a failure is said on
/// stderr and becomes `failed: <error>`.
fn sweep_one(
    opts: &SweepOptions,
    cell: CellKind,
    seed: u64,
    dir: &Path,
    (n, total): (usize, usize),
) -> String {
    let finished = dir.join(SUMMARY_FILE).is_file();
    let resume = !finished && Checkpoint::new(dir).exists();
    if finished {
        println!(
            "sweep {n}/{total}: {} finished before, skipped",
            dir.display()
        );
        return "skipped".to_string();
    }
    println!(
        "sweep {n}/{total}: {} {cell} seed {seed} -> {}",
        if resume { "resuming" } else { "training" },
        dir.display()
    );
    let args = if resume {
        TrainArgs {
            epochs: opts.epochs,
            data_dir: opts.data_dir.clone(),
            out: Some(dir.to_path_buf()),
            resume: true,
            ..TrainArgs::default()
        }
    } else {
        TrainArgs {
            config: opts.config.clone(),
            cell: Some(cell),
            epochs: opts.epochs,
            seed: Some(seed),
            data_dir: opts.data_dir.clone(),
            out: Some(dir.to_path_buf()),
            ..TrainArgs::default()
        }
    };
    let result = match opts.task {
        Task::Imdb => crate::run_imdb(&args),
        Task::Ecg => crate::run_ecg(&args),
        Task::Copy => crate::run_copy(&args),
    };
    match result {
        Ok(_) if resume => "resumed".to_string(),
        Ok(_) => "trained".to_string(),
        Err(e) => {
            eprintln!("sweep {n}/{total}: {} failed: {e:#}", dir.display());
            format!("failed: {e:#}")
        }
    }
}
