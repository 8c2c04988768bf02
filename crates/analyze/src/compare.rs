//! `analyze compare RUN...`: the runs of a sweep (`train sweep`) side by side: which of the
//! numbers are properties of the method and which are the luck of a seed (paper App. C).
//!
//! Each run is analysed as `analyze imdb|ecg` does (its `report.json` is reused when present,
//! unless `--reanalyze`), then one row per run holds: test accuracy, the count of `|λ| > 0.99`,
//! the slowest eigenvalues and `τ` of the slowest, `e_rel` (Eq. 12), agreement of KANN and of the
//! trivial predictor `h_{T−1}` with the network; IMDB also the held-out agreement of the tracking
//! set against random sets of its size; ECG the paper's features captured (k of 4, Eq. 11 and
//! sign-invariant) and the silhouette ordering. Per cell: mean ± sd of each number. Between runs:
//! [`kann_koopman::spectral_distance`] of their slowest eigenvalues (basis-free), with the mean
//! distance within a cell (seeds) and between cells.
//!
//! Written into `--out` (default: the first run's parent folder): `compare.json`, `compare.csv`,
//! `compare.md`, `compare_spectra.png/svg` (each cell's runs overlaid in the complex plane),
//! `compare_numbers.png/svg` (the key numbers per run, grouped by cell) and `compare.html` (one
//! self-contained page of them all, [`crate::report_html::compare`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kann_koopman::spectral_distance;
use kann_models::config::{RunConfig, Task};
use kann_models::run::CONFIG_FILE;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CommonArgs, EcgArgs, ImdbArgs};

/// Flags of `analyze compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run folders of one task (e.g. `results/sweep-ecg/*`); files among them are ignored.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write the comparison (default: the first run's parent folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Analyse every run again even when it has a report.json.
    #[arg(long)]
    pub reanalyze: bool,
    /// Number of slowest eigenvalues the spectral distance matches.
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    /// Data folder (as for `analyze imdb|ecg`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Analysis batch size for runs analysed here.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Seed of the analysis batches for runs analysed here.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// One run's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRow {
    /// Run folder.
    pub run: PathBuf,
    /// Recurrent cell.
    pub cell: String,
    /// Training seed (`[train] seed` of the run's config).
    pub seed: u64,
    /// Numbers by name (the column order is [`columns`]); `None` where the run has no value.
    pub values: BTreeMap<String, Option<f64>>,
    /// Slowest eigenvalues `(re, im)` of the analysis fit, by decreasing modulus.
    pub top_eigenvalues: Vec<(f64, f64)>,
}

/// Mean and standard deviation (n − 1) of one number over a cell's runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct MeanSd {
    /// Mean over the runs that have the number.
    pub mean: f64,
    /// Sample standard deviation (0 for one run).
    pub sd: f64,
    /// Runs with the number.
    pub n: usize,
}

/// The whole comparison (`compare.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompareReport {
    /// `imdb` or `ecg`.
    pub task: String,
    /// One row per run.
    pub rows: Vec<RunRow>,
    /// Per cell, per number: mean ± sd over the seeds.
    pub cells: BTreeMap<String, BTreeMap<String, MeanSd>>,
    /// Eigenvalues matched by the spectral distance.
    pub k: usize,
    /// `distances[i][j]`: spectral distance between runs `i` and `j`.
    pub distances: Vec<Vec<f64>>,
    /// Mean spectral distance between runs of the same cell (different seeds).
    pub mean_distance_within_cells: Option<f64>,
    /// Mean spectral distance between runs of different cells.
    pub mean_distance_between_cells: Option<f64>,
}

/// Why a copy-problem run is refused.
const NO_COPY: &str = "a copy-problem run; `analyze compare` takes imdb or ecg runs (analyse it with `analyze copy --run DIR`)";

/// The numbers of a row, in table order, with their descriptions.
pub fn columns(task: Task) -> Vec<(&'static str, &'static str)> {
    let mut c = vec![
        ("test_accuracy", "test accuracy"),
        ("count_above_099", "count |λ| > 0.99"),
        ("top_modulus", "|λ1|"),
        ("tau_top", "τ(0.01) of λ1"),
        ("e_rel", "e_rel (Eq. 12)"),
        ("agreement_kann", "agreement KANN"),
        ("agreement_trivial", "agreement trivial h_(T-1)"),
    ];
    match task {
        Task::Imdb => c.extend([
            ("tracking_held_out", "tracking set, held-out agreement"),
            ("tracking_random_mean", "random sets of its size, mean"),
        ]),
        Task::Ecg => c.extend([
            ("features_eq11", "features k of 4, Eq. 11"),
            ("features_sign_invariant", "features k of 4, sign-invariant"),
            ("sigma_hb", "silhouette σ, H B"),
            ("sigma_pca", "silhouette σ, PCA-5"),
            ("sigma_koopman", "silhouette σ, Koopman-5"),
            ("sigma_random", "silhouette σ, random (mean)"),
        ]),
        Task::Copy => {}
    }
    c
}

fn at(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

fn eigen_pairs(list: Option<&Value>) -> Vec<(f64, f64)> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e["re"].as_f64()?, e["im"].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// A row from an `analyze imdb` report (as JSON).
pub fn imdb_row(run: &Path, cell: String, seed: u64, report: &Value) -> RunRow {
    let spectrum = report["spectra"]
        .as_array()
        .and_then(|s| s.iter().find(|f| f["used_by_analysis"] == true));
    let top = spectrum.map(|s| &s["top_eigenvalues"]);
    let trivial = report["agreement"]["baselines"]
        .as_array()
        .and_then(|b| b.iter().find(|x| x["name"] == "trivial"))
        .and_then(|x| x["agreement_with_network"].as_f64());
    let values = BTreeMap::from([
        ("test_accuracy".into(), at(report, "/accuracy/test")),
        (
            "count_above_099".into(),
            spectrum.and_then(|s| s["count_above_099"].as_f64()),
        ),
        (
            "top_modulus".into(),
            top.and_then(|t| t[0]["modulus"].as_f64()),
        ),
        ("tau_top".into(), top.and_then(|t| t[0]["tau"].as_f64())),
        (
            "e_rel".into(),
            spectrum.and_then(|s| s["e_rel_real_steps"]["e_rel"].as_f64()),
        ),
        ("agreement_kann".into(), at(report, "/agreement/agreement")),
        ("agreement_trivial".into(), trivial),
        (
            "tracking_held_out".into(),
            at(
                report,
                "/sentiment/held_out_batch/tracking/agreement_with_network",
            ),
        ),
        (
            "tracking_random_mean".into(),
            at(
                report,
                "/sentiment/held_out_batch/random_tracking_size/agreement_with_network/mean",
            ),
        ),
    ]);
    RunRow {
        run: run.to_path_buf(),
        cell,
        seed,
        values,
        top_eigenvalues: eigen_pairs(top),
    }
}

/// A row from an `analyze ecg` report (as JSON).
pub fn ecg_row(run: &Path, cell: String, seed: u64, report: &Value) -> RunRow {
    let top = report.get("top_eigenvalues");
    let values = BTreeMap::from([
        (
            "test_accuracy".into(),
            at(report, "/threshold_accuracy/overall"),
        ),
        ("count_above_099".into(), at(report, "/count_above_099")),
        (
            "top_modulus".into(),
            at(report, "/top_eigenvalues/0/modulus"),
        ),
        ("tau_top".into(), at(report, "/top_eigenvalues/0/tau")),
        ("e_rel".into(), at(report, "/e_rel_batch/e_rel")),
        ("agreement_kann".into(), at(report, "/agreement/agreement")),
        (
            "agreement_trivial".into(),
            at(report, "/agreement/trivial_agreement"),
        ),
        ("features_eq11".into(), at(report, "/fig2/modulus_captured")),
        (
            "features_sign_invariant".into(),
            at(report, "/fig2/sign_invariant_captured"),
        ),
        ("sigma_hb".into(), at(report, "/silhouette/sigma")),
        ("sigma_pca".into(), at(report, "/silhouette/sigma_pca")),
        (
            "sigma_koopman".into(),
            at(report, "/silhouette/sigma_koopman"),
        ),
        (
            "sigma_random".into(),
            at(report, "/silhouette/sigma_random_mean"),
        ),
    ]);
    RunRow {
        run: run.to_path_buf(),
        cell,
        seed,
        values,
        top_eigenvalues: eigen_pairs(top),
    }
}

/// Mean ± sd (n − 1) of the finite values.
pub fn mean_sd(values: &[f64]) -> Option<MeanSd> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(MeanSd { mean, sd, n })
}

/// Per-cell summaries, the distance matrix and the within/between-cell means.
pub fn summarise(task: Task, rows: Vec<RunRow>, k: usize) -> Result<CompareReport> {
    let mut cells: BTreeMap<String, BTreeMap<String, MeanSd>> = BTreeMap::new();
    for cell in rows.iter().map(|r| r.cell.clone()) {
        if cells.contains_key(&cell) {
            continue;
        }
        let mine: Vec<&RunRow> = rows.iter().filter(|r| r.cell == cell).collect();
        let mut stats = BTreeMap::new();
        for (name, _) in columns(task) {
            let vals: Vec<f64> = mine.iter().filter_map(|r| r.values[name]).collect();
            if let Some(ms) = mean_sd(&vals) {
                stats.insert(name.to_string(), ms);
            }
        }
        cells.insert(cell, stats);
    }
    let k = rows
        .iter()
        .map(|r| r.top_eigenvalues.len())
        .min()
        .unwrap_or(0)
        .min(k);
    let n = rows.len();
    let mut distances = vec![vec![0.0; n]; n];
    let (mut within, mut between) = (Vec::new(), Vec::new());
    if k > 0 {
        for i in 0..n {
            for j in i + 1..n {
                let d = spectral_distance(&rows[i].top_eigenvalues, &rows[j].top_eigenvalues, k)?;
                distances[i][j] = d;
                distances[j][i] = d;
                if rows[i].cell == rows[j].cell {
                    within.push(d);
                } else {
                    between.push(d);
                }
            }
        }
    }
    Ok(CompareReport {
        task: task.to_string(),
        rows,
        cells,
        k,
        distances,
        mean_distance_within_cells: mean_sd(&within).map(|m| m.mean),
        mean_distance_between_cells: mean_sd(&between).map(|m| m.mean),
    })
}

/// The run's report as JSON: `report.json` when present (and not `reanalyze`), else a fresh
/// analysis of the run.
fn report_of(run: &Path, task: Task, args: &CompareArgs) -> Result<Value> {
    let path = run.join("report.json");
    // A report marked stale or incomplete, or older than the weights, is analysed again.
    if kann_models::run::report_is_current(run) && !args.reanalyze {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        // Typed first, so a report of an older layout is named as such instead of giving blanks.
        return match task {
            Task::Imdb => serde_json::from_str::<crate::ImdbReport>(&text)
                .map(serde_json::to_value)
                .with_context(|| format!("{} is not an `analyze imdb` report", path.display()))?,
            Task::Ecg => serde_json::from_str::<crate::EcgReport>(&text)
                .map(serde_json::to_value)
                .with_context(|| format!("{} is not an `analyze ecg` report", path.display()))?,
            Task::Copy => bail!("{}: {NO_COPY}", run.display()),
        }
        .with_context(|| format!("re-encoding {}", path.display()));
    }
    println!("analysing {} ({task})", run.display());
    let common = CommonArgs {
        run: Some(run.to_path_buf()),
        data_dir: args.data_dir.clone(),
        batch: args.batch,
        rank: None,
        seed: args.seed,
        // The comparison reads counts and agreements, not intervals.
        bootstrap: 0,
    };
    Ok(match task {
        Task::Imdb => serde_json::to_value(crate::run_imdb(&ImdbArgs::from(common))?)?,
        Task::Ecg => serde_json::to_value(crate::run_ecg(&EcgArgs::from(common))?)?,
        Task::Copy => bail!("{}: {NO_COPY}", run.display()),
    })
}

/// `analyze compare`.
pub fn run_compare(args: &CompareArgs) -> Result<CompareReport> {
    let runs = crate::common::distinct_run_dirs(&args.runs)?;
    if runs.is_empty() {
        bail!("no run folders among the {} paths given", args.runs.len());
    }
    let mut task: Option<Task> = None;
    let mut rows = Vec::new();
    for run in &runs {
        let config = RunConfig::load(&run.join(CONFIG_FILE))
            .with_context(|| format!("{} is not a run folder", run.display()))?;
        let t = config.task();
        if let Some(first) = task.filter(|&f| f != t) {
            bail!(
                "{} is a {t} run, the first run is {first}: compare runs of one task",
                run.display()
            );
        }
        task = Some(t);
        let report = report_of(run, t, args)?;
        let (cell, seed) = match &config {
            RunConfig::Imdb(c) => (c.model.cell.to_string(), c.train.seed),
            RunConfig::Ecg(c) => (c.model.cell.to_string(), c.train.seed),
            RunConfig::Copy(_) => bail!("{}: {NO_COPY}", run.display()),
        };
        rows.push(match t {
            Task::Imdb => imdb_row(run, cell, seed, &report),
            Task::Ecg => ecg_row(run, cell, seed, &report),
            Task::Copy => bail!("{}: {NO_COPY}", run.display()),
        });
    }
    let task = task.expect("at least one run");
    let report = summarise(task, rows, args.k)?;
    let out = match &args.out {
        Some(o) => o.clone(),
        None => runs[0]
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    crate::compare_out::write_all(&out, task, &report)?;
    println!(
        "analyze compare: {} runs of {task}; compare.md, compare.json, compare.csv, compare.html and figures in {}",
        report.rows.len(),
        out.display()
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cell: &str, seed: u64, acc: f64, top: &[(f64, f64)]) -> RunRow {
        RunRow {
            run: PathBuf::from(format!("{cell}-s{seed}")),
            cell: cell.into(),
            seed,
            values: columns(Task::Ecg)
                .iter()
                .map(|(n, _)| (n.to_string(), (*n == "test_accuracy").then_some(acc)))
                .collect(),
            top_eigenvalues: top.to_vec(),
        }
    }

    #[test]
    fn cells_get_mean_and_sample_sd_and_distances_split_by_cell() {
        let rows = vec![
            row("gru", 1, 0.8, &[(0.9, 0.0), (0.5, 0.0)]),
            row("gru", 2, 0.9, &[(0.9, 0.0), (0.5, 0.0)]),
            row("lstm", 1, 0.7, &[(0.7, 0.0), (0.5, 0.0)]),
        ];
        let r = summarise(Task::Ecg, rows, 8).unwrap();
        let gru = r.cells["gru"]["test_accuracy"];
        assert!((gru.mean - 0.85).abs() < 1e-12);
        assert!((gru.sd - (0.005f64).sqrt()).abs() < 1e-12, "{}", gru.sd);
        assert_eq!(r.cells["lstm"]["test_accuracy"].sd, 0.0);
        assert!(
            !r.cells["gru"].contains_key("e_rel"),
            "no values, no summary"
        );
        assert_eq!(r.k, 2, "k capped by the shortest list");
        assert_eq!(r.distances[0][1], 0.0);
        assert!((r.distances[0][2] - 0.1).abs() < 1e-12);
        assert_eq!(r.mean_distance_within_cells, Some(0.0));
        assert!((r.mean_distance_between_cells.unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn rows_read_the_report_fields() {
        let ecg: Value = serde_json::json!({
            "threshold_accuracy": {"overall": 0.95},
            "count_above_099": 3,
            "top_eigenvalues": [{"re": 0.99, "im": 0.1, "modulus": 0.995, "tau": 900.0}],
            "e_rel_batch": {"e_rel": 0.01},
            "agreement": {"agreement": 0.9, "trivial_agreement": 0.8},
            "fig2": {"modulus_captured": 2, "sign_invariant_captured": 3},
            "silhouette": {"sigma": 0.3, "sigma_pca": 0.31, "sigma_koopman": 0.2, "sigma_random_mean": 0.29}
        });
        let r = ecg_row(Path::new("x"), "lstm".into(), 1, &ecg);
        for (name, _) in columns(Task::Ecg) {
            assert!(r.values[name].is_some(), "{name} not read");
        }
        assert_eq!(r.top_eigenvalues, vec![(0.99, 0.1)]);
        let imdb: Value = serde_json::json!({
            "accuracy": {"test": 0.85},
            "spectra": [
                {"used_by_analysis": false, "count_above_099": 9},
                {"used_by_analysis": true, "count_above_099": 3,
                 "top_eigenvalues": [{"re": 1.0, "im": 0.0, "modulus": 1.0, "tau": null}],
                 "e_rel_real_steps": {"e_rel": 0.17}}
            ],
            "agreement": {"agreement": 0.95, "baselines": [{"name": "trivial", "agreement_with_network": 0.94}]},
            "sentiment": {"held_out_batch": {"tracking": {"agreement_with_network": 0.9},
                "random_tracking_size": {"agreement_with_network": {"mean": 0.5}}}}
        });
        let r = imdb_row(Path::new("x"), "gru".into(), 1, &imdb);
        assert_eq!(
            r.values["count_above_099"],
            Some(3.0),
            "the analysis fit, not the other"
        );
        assert_eq!(r.values["tau_top"], None, "infinite memory has no finite τ");
        for name in [
            "test_accuracy",
            "e_rel",
            "agreement_trivial",
            "tracking_random_mean",
        ] {
            assert!(r.values[name].is_some(), "{name} not read");
        }
    }
}
