//! `analyze fixed-points`: the local (fixed-point) analysis of a trained network beside the
//! paper's global (Koopman) one, on the same analysis batch, for a run of any task (IMDB, ECG,
//! copy). The local analysis is a module tree that `analyze copy` shares (the trajectories, the
//! search, the eigenvalue rows, the figure names).
//!
//! Stages, each in its module with its own result type ([`run_fixed_points`] composes them):
//! 1. [`runs`]: the run (task from its config), the weights as plain numbers
//!    ([`cell_from_recurrent`]), the analysis batch's trajectories ([`trajectories`]: the full
//!    state `s_t`, `h_t` or `[h_t; c_t]` for an LSTM, and the input `x_t` of every real step),
//!    the readout ([`readout`]: IMDB's logit, copy's classes, none for the ECG encoder) and the
//!    inputs to search at ([`LocalRun`]);
//! 2. the Koopman fit on the real steps ([`crate::kann::fit`], Eqs. 4-5): spectrum and `e_rel`
//!    ([`KoopmanSide`]);
//! 3. [`search`]: fixed points of `F(·, x)` at the zero input and at the mean input `x̄` of the
//!    batch (copy: the zero and the blank input), by minimising `q(s) = ½|F(s, x) − s|²` from `--starts` states sampled along
//!    the trajectories ([`search_input`], the search `analyze copy` runs too); for each point the
//!    Jacobian spectrum and the alignment of its top eigenvectors with the readout; PCA of the
//!    points ([`InputReport`]);
//! 4. [`compare`]: one-step prediction on the batch: the linearisation around the nearest fixed
//!    point at `x̄` against the Koopman prediction (Eq. 6), with `e_rel` (Eq. 12) and the
//!    agreement of the readout's class ([`Comparison`]);
//! 5. [`report`], [`figures`] and [`crate::report_html::fixed_points`]: written into the run
//!    folder (atomically, under the run's lock): `fixed_points.json` ([`FixedPointsReport`]),
//!    `fixed_points.md`, `fixed_points.html` (the verdict table, then the sections; the run
//!    folder's `report.html` is the task's own analysis') and the Jacobian spectrum of the most
//!    line-attractor-like fixed point beside the Koopman spectrum (`fixed_point_spectra.png/svg`,
//!    both in one complex plane; `fixed_point_jacobian_spectrum` and
//!    `fixed_point_koopman_spectrum` each in the layout of `analyze imdb`'s spectrum figure). If
//!    the analysis fails after changing a file of the folder, those three reports are removed
//!    (they would describe figures that were partly replaced).

pub mod compare;
pub mod figures;
pub mod readout;
pub mod report;
pub mod runs;
pub mod search;
pub mod trajectories;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use kann_dynamics::FixedPointOptions;
use kann_dynamics::faer::Mat;
use kann_models::config::Task;

use crate::CommonArgs;
use crate::common::step;
use crate::kann::{self, eigen_summaries};

pub use compare::{Comparison, PerPredictor, compare};
pub use figures::names;
pub use readout::Readout;
pub use report::{FixedPointsReport, KoopmanSide, markdown, summary};
pub use runs::LocalRun;
pub use search::{
    Eigenvalue, FoundPoint, InputReport, InputSearch, PcaReport, PointReport, TOP_EIGENVALUES,
    analyse_input, eig_values, search_input,
};
pub use trajectories::{Trajectories, cell_from_recurrent, hook_imdb};

/// The files of the report that a failed analysis removes.
pub const REPORT_FILES: [&str; 3] = [
    "fixed_points.json",
    "fixed_points.md",
    crate::report_html::fixed_points::PAGE,
];

/// Arguments of `analyze fixed-points`.
#[derive(Debug, Clone, Args)]
pub struct FixedPointArgs {
    /// The run (of any task; default: the newest IMDB run under results/), data folder,
    /// analysis batch (the same reviews or beats as `analyze imdb`/`ecg` with the same seed; the
    /// seed also draws the starting states) and Koopman rank.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Reviews per forward pass when hooking the states.
    #[arg(long, default_value_t = 64)]
    pub stream_batch: usize,
    /// Starting states per input, sampled from the batch's real steps.
    #[arg(long, default_value_t = 128)]
    pub starts: usize,
    /// Levenberg-Marquardt iterations per start, at most.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Minima with q = ½|F(s) − s|² above this are dropped.
    #[arg(long, default_value_t = 1e-10)]
    pub max_q: f64,
    /// Minima closer than this (Euclidean) are one fixed point.
    #[arg(long, default_value_t = 1e-3)]
    pub unique_tol: f64,
}

/// The search's options from its three flags (the rest at their defaults); `analyze copy` and
/// `analyze fixed-points` both build them here.
pub fn search_options(max_iter: usize, max_q: f64, unique_tol: f64) -> FixedPointOptions {
    FixedPointOptions {
        max_iter,
        max_q,
        unique_tol,
        ..FixedPointOptions::default()
    }
}

/// The range checks both local analyses share: a batch of at least 2, at least one start, and
/// the search's options.
pub fn check_search_flags(batch: usize, starts: usize, options: &FixedPointOptions) -> Result<()> {
    if batch < 2 {
        bail!("--batch must be at least 2, got {batch}");
    }
    if starts == 0 {
        bail!("--starts must be at least 1");
    }
    options
        .check()
        .context("--max-iter, --max-q, --unique-tol")?;
    Ok(())
}

impl Default for FixedPointArgs {
    /// Every flag at its clap default ([`crate::defaults`]).
    fn default() -> Self {
        crate::defaults()
    }
}

impl FixedPointArgs {
    fn options(&self) -> FixedPointOptions {
        crate::fixed_points::search_options(self.max_iter, self.max_q, self.unique_tol)
    }

    fn check(&self) -> Result<()> {
        if self.stream_batch == 0 {
            bail!("--stream-batch must be at least 1");
        }
        check_search_flags(self.common.batch, self.starts, &self.options())
    }

    /// The command line that reproduces a report.
    pub fn command(&self, run: &std::path::Path) -> String {
        let mut c = format!(
            "cargo run --release -p analyze -- fixed-points --run {} --batch {} --seed {} --starts {} --max-iter {} --max-q {:e} --unique-tol {:e}",
            run.display(),
            self.common.batch,
            self.common.seed,
            self.starts,
            self.max_iter,
            self.max_q,
            self.unique_tol
        );
        if let Some(r) = self.common.rank {
            let _ = write!(c, " --rank {r}");
        }
        c
    }
}

/// Runs `analyze fixed-points` under the run folder's lock and writes `fixed_points.json`,
/// `fixed_points.md`, `fixed_points.html` and the spectra figures into the run folder (a run of
/// any task: [`runs::load`]). On a failure after a file of the folder changed, removes the three
/// reports ([`REPORT_FILES`]).
pub fn run_fixed_points(args: &FixedPointArgs) -> Result<FixedPointsReport> {
    args.check()?;
    crate::guarded_reports(Task::Imdb, &args.common, &REPORT_FILES, |common| {
        let dir = common.run.context("the run folder was not resolved")?;
        println!("analyze fixed-points: run folder {}", dir.display());
        let run = runs::load(args, &dir)?;
        analyse(args, &run)
    })
}

/// The stages of [`run_fixed_points`] on a loaded run.
fn analyse(args: &FixedPointArgs, run: &LocalRun) -> Result<FixedPointsReport> {
    let traj = &run.traj;
    let states = traj.hidden_states()?;
    let fit = step("fitting the Koopman operator on the real steps", || {
        kann::fit(&states, args.common.rank)
    })?;
    let koopman = KoopmanSide {
        rank: fit.model.rank(),
        e_rel: kann::e_rel(&states, &fit)?.e_rel,
        top_eigenvalues: eigen_summaries(&fit.spectrum)?
            .into_iter()
            .take(TOP_EIGENVALUES)
            .collect(),
    };
    let local = local_analysis(args, run, &fit.model.prediction_map())?;
    let report = FixedPointsReport {
        run_dir: run.dir.display().to_string(),
        task: run.task.to_string(),
        command: args.command(&run.dir),
        cell: run.cell.kind().to_string(),
        state_dim: run.cell.state_dim(),
        batch: traj.states.len(),
        steps: (0..traj.states.len()).map(|i| traj.len_of(i)).sum(),
        options: args.options(),
        koopman,
        inputs: local.inputs,
        comparisons: local.comparisons,
        figures: Vec::new(),
        warnings: local.warnings,
    };
    write(&run.dir, report, &kann::eigen_points(&fit.spectrum))
}

/// Stages 3 and 4 at every input.
struct Local {
    inputs: Vec<InputReport>,
    comparisons: Vec<Comparison>,
    warnings: Vec<String>,
}

/// The fixed points at each of the run's inputs ([`analyse_input`]) and, for each input with
/// any, the one-step comparison of their linearisation with Koopman's map ([`compare`]).
fn local_analysis(args: &FixedPointArgs, run: &LocalRun, map: &Mat<f64>) -> Result<Local> {
    let options = args.options();
    let (cell, traj, readout) = (&run.cell, &run.traj, &run.readout);
    let starts = traj.sample_states(args.starts, args.common.seed);
    let mut local = Local {
        inputs: Vec::new(),
        comparisons: Vec::new(),
        warnings: Vec::new(),
    };
    for (name, x) in &run.inputs {
        let (rep, pts) = step(
            &format!(
                "fixed points at the {name} input from {} starts",
                starts.len()
            ),
            || analyse_input(name, cell, x, &starts, &options, readout, traj),
        )?;
        local.inputs.push(rep);
        if pts.is_empty() {
            local.warnings.push(format!(
                "no fixed point at the {name} input with q <= {:e}: no linearisation to compare",
                args.max_q
            ));
            continue;
        }
        local.comparisons.push(step(
            &format!("one-step prediction: linearisation at the {name} input vs Koopman"),
            || compare(name, cell, &pts, x, traj, readout, map),
        )?);
    }
    Ok(local)
}

/// Stage 5: the figures, `fixed_points.json`, `fixed_points.md` and `fixed_points.html`.
fn write(
    dir: &Path,
    mut report: FixedPointsReport,
    koopman: &[(f64, f64)],
) -> Result<FixedPointsReport> {
    report.figures = figures::figures(dir, &report, koopman)?;
    kann_koopman::io::write_json_atomic(dir.join("fixed_points.json"), &report)?;
    let claims = crate::report_html::fixed_points::claims(&report);
    let md = crate::report_html::markdown_with_verdicts_of(
        crate::report_html::fixed_points::PAGE,
        &claims,
        &markdown(&report),
    );
    kann_models::atomic::write_atomic(&dir.join("fixed_points.md"), md.as_bytes())
        .with_context(|| format!("writing {}", dir.join("fixed_points.md").display()))?;
    crate::report_html::fixed_points::write(dir, &report, claims)?;
    print!("{}", summary(&report));
    println!(
        "analyze fixed-points: fixed_points.json, fixed_points.md, {} in {}",
        crate::report_html::fixed_points::PAGE,
        dir.display()
    );
    Ok(report)
}

#[cfg(test)]
mod tests;
