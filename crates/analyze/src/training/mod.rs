//! `analyze training`: the Koopman picture during training (issue 22; the paper's open question,
//! Sec. 5), read from the probe `train` records (`probe.jsonl`, [`kann_models::probe`]).
//!
//! Stages:
//! 1. [`load`]: each run's probe rows, probe batch and `metrics.csv`.
//! 2. [`track`]: the final probe's leading modes traced back over training.
//! 3. [`findings`]: the epochs the report states (slow modes settle; validation accuracy reaches
//!    95% of its final value; KANN's agreement beats the trivial predictor's), and across seeds
//!    the spectral distance at each epoch.
//! 4. [`figures`] and [`report`]: per run `training_spectra` and `training_traces` (PNG + SVG),
//!    `training.md` and `training.json`.

pub mod figures;
pub mod findings;
pub mod load;
pub mod report;
pub mod track;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

pub use findings::{RunFindings, SeedDistances};
pub use report::TrainingReport;

/// Flags of `analyze training`.
#[derive(Args, Debug, Clone)]
pub struct TrainingArgs {
    /// Run folder(s) written by `train` with the probe on (the default). One run: the figures
    /// and `training.md/json` go into it. Several (the runs of a sweep): into `--out`, with the
    /// spectral distance between the runs at each epoch.
    #[arg(long = "run", required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Output folder when several runs are given (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Leading eigenvalues compared by the spectral distance between runs (at most 8, the
    /// probe's leading eigenvalues).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
}

/// Runs `analyze training` and writes its outputs.
pub fn run_training(args: &TrainingArgs) -> Result<TrainingReport> {
    if args.k == 0 || args.k > kann_models::probe::LEADING {
        bail!(
            "--k {}: must lie in 1..={}",
            args.k,
            kann_models::probe::LEADING
        );
    }
    let runs = crate::common::distinct_run_dirs(&args.runs)?;
    if runs.is_empty() {
        bail!("no run folders among the {} paths given", args.runs.len());
    }
    let out = match (&args.out, runs.len()) {
        (Some(o), _) => o.clone(),
        (None, 1) => runs[0].clone(),
        (None, _) => bail!("several runs given: name the output folder with --out"),
    };
    let mut loaded = Vec::new();
    for run in &runs {
        loaded.push(load::RunProbes::load(run)?);
    }
    let per_run: Vec<RunFindings> = loaded.iter().map(findings::run_findings).collect();
    let seeds = if loaded.len() > 1 {
        Some(findings::seed_distances(&loaded, args.k)?)
    } else {
        None
    };
    let report = TrainingReport {
        runs: per_run,
        seeds,
    };
    let write = |_: crate::CommonArgs| -> Result<()> {
        let figs = figures::draw(&out, &loaded, &report)?;
        report::write(&out, &report, &figs)
    };
    if runs.len() == 1 && args.out.is_none() {
        // Into the run folder: under the one analysis guard (the run's lock, the incomplete
        // marker, the three reports removed on a failure after a file changed).
        let common = crate::CommonArgs {
            run: Some(out.clone()),
            ..crate::defaults()
        };
        crate::guarded_reports(
            kann_models::config::Task::Imdb,
            &common,
            &[report::JSON_FILE, report::MD_FILE, report::HTML_FILE],
            write,
        )?;
    } else {
        std::fs::create_dir_all(&out)?;
        write(crate::defaults())?;
    }
    println!(
        "analyze training: {} run(s); report {}",
        loaded.len(),
        out.join(report::MD_FILE).display()
    );
    for f in &report.runs {
        println!("  {}", f.summary_line());
    }
    Ok(report)
}
