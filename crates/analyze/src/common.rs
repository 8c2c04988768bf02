//! Pieces shared by `analyze imdb` and `analyze ecg`: the run folder, progress reporting, conversion of hooked states, and the files a figure leaves behind.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use kann_data::workspace_root;
use kann_koopman::States;
use kann_models::config::Task;
use kann_models::npy::tensor_to_vec;
use kann_models::run::{
    CONFIG_FILE, EpochMetrics, METRICS_FILE, SUMMARY_FILE, WEIGHTS_FILE, read_metrics,
};
use kann_plot::FigurePaths;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The run folder to analyse: `explicit` if given, else the newest run of `task` under
/// `results/` (in the current folder, else in the workspace root), judged by the time its
/// weights (`model.bpk`) were written.
pub fn resolve_run_dir(explicit: Option<&Path>, task: Task) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        if !dir.is_dir() {
            bail!("--run {}: no such run folder", dir.display());
        }
        // Checked before the lock is taken, so a folder that is not a run gets no `run.lock`.
        if !dir.join(CONFIG_FILE).is_file() {
            bail!(
                "--run {}: not a run folder (no {CONFIG_FILE}); give a folder written by `train`",
                dir.display()
            );
        }
        return Ok(dir.to_path_buf());
    }
    let mut roots = vec![PathBuf::from("results")];
    let ws = workspace_root().join("results");
    if ws != roots[0] {
        roots.push(ws);
    }
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for root in &roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let (cfg, weights) = (dir.join(CONFIG_FILE), dir.join(WEIGHTS_FILE));
            if !cfg.is_file() || !weights.is_file() {
                continue;
            }
            let Ok(config) = kann_models::config::RunConfig::load(&cfg) else {
                continue;
            };
            if config.task() != task {
                continue;
            }
            let Ok(modified) = std::fs::metadata(&weights).and_then(|m| m.modified()) else {
                continue;
            };
            if best.as_ref().is_none_or(|(t, _)| modified > *t) {
                best = Some((modified, dir));
            }
        }
    }
    match best {
        Some((_, dir)) => Ok(dir),
        None => bail!(
            "no {task} run found under results/ (looked in {}): train one with \
             `cargo run --release -p train -- {task}` or pass --run DIR",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// The inference device (pure-Rust CPU backend, no autodiff).
pub fn device() -> Device {
    Device::flex()
}

/// Runs one step of the analysis under a spinner and prints how long it took.
pub fn step<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let start = Instant::now();
    let out = f();
    bar.finish_and_clear();
    match &out {
        Ok(_) => println!("{what}: done in {:.1}s", start.elapsed().as_secs_f64()),
        Err(_) => println!("{what}: failed after {:.1}s", start.elapsed().as_secs_f64()),
    }
    out.with_context(|| what.to_string())
}

/// `n` distinct indices out of `0..total`, chosen by a seeded shuffle (ChaCha8).
pub fn sample_indices(total: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..total).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    idx.truncate(n);
    idx
}

/// Hooked hidden states `[B, T, H]` with per-sequence lengths as [`States`] (f64).
pub fn states_from_tensor(hidden: &Tensor<3>, lengths: &[usize]) -> Result<States> {
    let [b, t, h] = hidden.dims();
    let data = tensor_to_vec(hidden)?;
    Ok(States::new_with_lengths(
        data.iter().map(|&x| x as f64).collect(),
        b,
        t,
        h,
        lengths.to_vec(),
    )?)
}

/// Rows of `data` (`m × k`, row-major f64) as an f32 tensor `[m, k]`.
pub fn rows_tensor(data: &[f64], m: usize, k: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [m, k]), device)
}

/// A figure written by the analysis, as recorded in `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureFile {
    /// Short name (the file stem), e.g. `spectrum`.
    pub name: String,
    /// What the figure shows and which paper figure it reproduces.
    pub caption: String,
    /// PNG file name, relative to the run folder.
    pub png: String,
    /// SVG file name, relative to the run folder.
    pub svg: String,
    /// Width of the PNG in pixels.
    pub width: u32,
    /// Height of the PNG in pixels.
    pub height: u32,
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(path: &Path) -> Result<(u32, u32)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        bail!("{} is not a PNG file", path.display());
    }
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    Ok((w, h))
}

/// Records a written figure (paths relative to `dir`, size read back from the PNG).
pub fn figure_file(dir: &Path, paths: &FigurePaths, caption: &str) -> Result<FigureFile> {
    let (width, height) = png_size(&paths.png)?;
    let rel = |p: &Path| {
        p.strip_prefix(dir)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let name = paths
        .png
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(FigureFile {
        name,
        caption: caption.to_string(),
        png: rel(&paths.png),
        svg: rel(&paths.svg),
        width,
        height,
    })
}

/// Accuracies the training run reported (from `summary.json`, else the last row of
/// `metrics.csv`). `None` where the run did not measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracies {
    /// Training accuracy.
    pub train: Option<f64>,
    /// Validation accuracy.
    pub validation: Option<f64>,
    /// Test accuracy.
    pub test: Option<f64>,
    /// Where the numbers come from (file and field).
    pub source: String,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Where a run's model came from, for the reports' source column: the `train` command, or the
/// PyTorch file a `train import` read (`summary.json`'s `imported_from`).
pub fn run_origin(run: &Path, task: Task) -> String {
    let imported = kann_models::run::read_checked_text(&run.join(SUMMARY_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["imported_from"]["file"].as_str().map(str::to_owned));
    match imported {
        Some(file) => format!(
            "`train import {task} --pytorch {file}` → {} (a model trained in PyTorch)",
            run.display()
        ),
        None => format!("`train {task}` → {} (config.toml there)", run.display()),
    }
}

/// The run's accuracies: `summary.json` fields (`train_key`, `val_accuracy`, `test_accuracy`)
/// when the file exists, else the last row of `metrics.csv`.
pub fn read_accuracies(run: &Path, train_key: &str) -> Result<Accuracies> {
    let summary = run.join(SUMMARY_FILE);
    if summary.is_file() {
        let text = kann_models::run::read_checked_text(&summary)
            .with_context(|| format!("reading {}", summary.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", summary.display()))?;
        return Ok(Accuracies {
            train: finite(v.get(train_key).and_then(|x| x.as_f64())),
            validation: finite(v.get("val_accuracy").and_then(|x| x.as_f64())),
            test: finite(v.get("test_accuracy").and_then(|x| x.as_f64())),
            source: format!("{SUMMARY_FILE} ({train_key}, val_accuracy, test_accuracy)"),
        });
    }
    if !run.join(METRICS_FILE).is_file() {
        return Ok(Accuracies {
            train: None,
            validation: None,
            test: None,
            source: format!("neither {SUMMARY_FILE} nor {METRICS_FILE} in the run folder"),
        });
    }
    let rows = read_metrics(run)?;
    let last = rows
        .last()
        .with_context(|| format!("{} has no epoch row", run.join(METRICS_FILE).display()))?;
    Ok(Accuracies {
        train: finite(Some(last.train_acc)),
        validation: finite(Some(last.val_acc)),
        test: finite(Some(last.test_acc)),
        source: format!("{METRICS_FILE} (last epoch)"),
    })
}

/// Training curves (loss and accuracy per split) from `metrics.csv`, if it has rows.
pub fn training_curves_figure(run: &Path, title: &str) -> Result<Option<FigureFile>> {
    if !run.join(METRICS_FILE).is_file() {
        return Ok(None);
    }
    let rows = read_metrics(run)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let epochs: Vec<f64> = rows.iter().map(|r| r.epoch as f64).collect();
    let pick = |f: fn(&EpochMetrics) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
    let cols = [
        ("loss", "train", pick(|r| r.train_loss)),
        ("loss", "valid", pick(|r| r.val_loss)),
        ("loss", "test", pick(|r| r.test_loss)),
        ("accuracy", "train", pick(|r| r.train_acc)),
        ("accuracy", "valid", pick(|r| r.val_acc)),
        ("accuracy", "test", pick(|r| r.test_acc)),
    ];
    let series: Vec<kann_plot::MetricSeries> = cols
        .iter()
        .filter(|(_, _, v)| v.iter().all(|x| x.is_finite()))
        .map(|(metric, split, values)| kann_plot::MetricSeries {
            metric,
            split,
            epochs: Some(&epochs),
            values,
        })
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let paths = kann_plot::training_curves(
        run,
        "training_curves",
        &kann_plot::TrainingCurvesFigure {
            title,
            series: &series,
        },
    )?;
    Ok(Some(figure_file(
        run,
        &paths,
        "Training curves of the run (metrics.csv), for context",
    )?))
}

/// Formats a fraction as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Formats an optional fraction as a percentage, `n/a` when absent.
pub fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_string(), pct)
}

/// The run folders among `paths`, each once, in the order given: every path must exist; files
/// among them (a shell glob such as `sweep/*` also names `sweep.json`) are skipped with a note;
/// the same folder given twice (by any path) counts once, with a note.
pub fn distinct_run_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such run folder", p.display());
        }
        if !p.is_dir() {
            eprintln!("note: {} is not a folder; skipped", p.display());
            continue;
        }
        let canon =
            std::fs::canonicalize(p).with_context(|| format!("resolving {}", p.display()))?;
        if seen.insert(canon) {
            runs.push(p.clone());
        } else {
            eprintln!("note: {} given twice; counted once", p.display());
        }
    }
    Ok(runs)
}
