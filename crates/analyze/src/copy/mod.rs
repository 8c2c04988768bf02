//! `analyze copy`: the copy problem of the paper's App. D, where the Koopman analysis is set
//! against the line-attractor (fixed-point) analysis of Maheswaranathan et al. (2019).
//!
//! Stages:
//! 1. the run ([`kann_models::run::load_copy_run`]) and its test sequences, regenerated from the
//!    config's seed; two DISJOINT seeded draws from them: the analysis batch (`--batch`), on
//!    which everything is fitted or found, and the held-out batch (`--held-out`), on which the
//!    predictors are scored; the trajectories (full state `s_t`, one-hot input `x_t`) of both;
//! 2. the Koopman fit of the analysis batch's hidden states ([`crate::kann::fit`], Eqs. 4-5, the
//!    same fit as `analyze imdb|ecg`), its spectrum and memory horizons `τ(0.01)` (Eq. 9) set
//!    against the span the task needs ([`MemorySide`]);
//! 3. fixed points of `F(·, x)` at the zero input and at the blank input (the input of the delay
//!    and recall window), from states of the analysis batch ([`kann_dynamics`]): Jacobian
//!    spectra, PCA, the symbol each reads out ([`FixedPointSide`]);
//! 4. on the held-out batch: one-step prediction over the recall window and the rollout from
//!    the cue ([`predict`]) by Koopman, the linearisations, the trivial predictor and the exact
//!    map ([`PredictorScore`]);
//! 5. with `--bootstrap N` (default 200): bootstrap intervals of the one-step agreement of
//!    Koopman (refitted on reweighted analysis-batch sequences), the best linearisation and the
//!    trivial predictor, and of the paired differences ([`intervals`]).
//!
//! Written into the run folder (atomically, marked incomplete until done: [`crate::guarded`]):
//! `report.json` ([`CopyReport`]), `report.md`, figures `copy_spectra`, `spectrum`,
//! `copy_predictors` (PNG and SVG).

pub mod intervals;
pub mod predict;
mod report;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use kann_data::copy::{CopySequence, CopySpec, CopyTask};
use kann_dynamics::faer::Mat;
use kann_dynamics::{Cell, CellKind, FixedPointOptions, Linearisation};
use kann_models::CopyModel;
use kann_models::config::{RunConfig, Task};
use kann_models::npy::tensor_to_vec;
use serde::{Deserialize, Serialize};

use crate::CommonArgs;
use crate::common::{device, sample_indices, step};
use crate::fixed_points::{
    Eigenvalue, FoundPoint, InputSearch, Trajectories, cell_from_recurrent, eig_values,
    search_input,
};
use crate::kann::{self, DOMINANT_MODULUS, EPS, EigenSummary, eigen_summaries};
use predict::{ClassReadout, OneStep, Predictor, Rollout, one_step, rollout};

pub use report::markdown;

/// Arguments of `analyze copy`.
#[derive(Debug, Clone, Args)]
pub struct CopyArgs {
    /// The run, the size of the analysis batch (test sequences the operator is fitted on and the
    /// fixed points are searched from), the Koopman rank and the seed of the draws.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Held-out test sequences (disjoint from the analysis batch) the predictors are scored on.
    #[arg(long, default_value_t = 256)]
    pub held_out: usize,
    /// Starting states per input of the fixed-point search, sampled from the analysis batch.
    #[arg(long, default_value_t = 128)]
    pub starts: usize,
    /// Levenberg-Marquardt iterations per start, at most.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Minima with q = ½|F(s) − s|² above this are dropped.
    /// The default keeps slow points (the copy network's minima creep along slow manifolds;
    /// `analyze fixed-points` used 1e-5 for the same on IMDB).
    #[arg(long, default_value_t = 1e-6)]
    pub max_q: f64,
    /// Minima closer than this (Euclidean) are one fixed point.
    #[arg(long, default_value_t = 1e-3)]
    pub unique_tol: f64,
}

impl Default for CopyArgs {
    /// Every flag at its clap default ([`crate::defaults`]).
    fn default() -> Self {
        crate::defaults()
    }
}

impl CopyArgs {
    fn options(&self) -> FixedPointOptions {
        crate::fixed_points::search_options(self.max_iter, self.max_q, self.unique_tol)
    }

    /// Every flag in range (before anything is loaded).
    pub fn check(&self) -> Result<()> {
        if self.common.batch < 2 {
            bail!("--batch must be at least 2, got {}", self.common.batch);
        }
        if self.held_out == 0 {
            bail!("--held-out must be at least 1");
        }
        crate::fixed_points::check_search_flags(self.common.batch, self.starts, &self.options())
    }

    /// The command line that reproduces a report.
    pub fn command(&self, run: &Path) -> String {
        let mut c = format!(
            "cargo run --release -p analyze -- copy --run {} --batch {} --held-out {} --seed {} --starts {} --max-iter {} --max-q {:e} --unique-tol {:e}",
            run.display(),
            self.common.batch,
            self.held_out,
            self.common.seed,
            self.starts,
            self.max_iter,
            self.max_q,
            self.unique_tol
        );
        if let Some(r) = self.common.rank {
            let _ = write!(c, " --rank {r}");
        }
        if self.common.bootstrap != CommonArgs::default().bootstrap {
            let _ = write!(c, " --bootstrap {}", self.common.bootstrap);
        }
        c
    }
}

/// The task as analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSide {
    /// String length.
    pub len: usize,
    /// Alphabet size.
    pub symbols: usize,
    /// Blank steps before the cue.
    pub delay: usize,
    /// Steps per sequence.
    pub steps: usize,
    /// First step of the recall window.
    pub recall_start: usize,
    /// Steps each symbol is held, `len + delay + 1`.
    pub memory_span: usize,
    /// Symbols × positions to remember, `symbols · len` (one-hot slots of a linear memory).
    pub symbol_slots: usize,
    /// Cell and hidden width.
    pub cell: String,
    /// Hidden width `H`.
    pub hidden: usize,
    /// Test sequences available.
    pub test_sequences: usize,
    /// The network's recall accuracy (per symbol, whole string) on the held-out batch.
    pub network_symbol_accuracy: f64,
    /// Whole strings right on the held-out batch.
    pub network_string_accuracy: f64,
}

/// The Koopman operator of the analysis batch and its memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySide {
    /// Rank of the basis.
    pub rank: usize,
    /// Sequences × steps fitted.
    pub fitted_states: usize,
    /// `e_rel` (Eq. 12) of the fit on its own pairs.
    pub e_rel_fit: f64,
    /// `|λ|` a mode needs to keep `ε = 0.01` of itself over the memory span:
    /// `|λ|^span ≥ ε`, i.e. `τ(ε) ≥ span` (Eq. 9).
    pub modulus_for_span: f64,
    /// Eigenvalues with `τ(0.01) ≥ memory span` (infinite or unstable ones included).
    pub count_horizon_at_least_span: usize,
    /// Eigenvalues with `|λ| > 0.99`.
    pub count_above_099: usize,
    /// Eigenvalues with `|λ| > 0.95`.
    pub count_above_095: usize,
    /// The longest finite memory horizon `τ(0.01)` (Eq. 9).
    pub longest_finite_tau: Option<f64>,
    /// Every eigenvalue with its memory horizon, by modulus.
    pub eigenvalues: Vec<EigenSummary>,
}

/// One fixed point as `report.json` of `analyze copy` lists it: the copy view of a
/// [`FoundPoint`] of the shared search (its own fields and order, so the report keeps its form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyPoint {
    /// `q(s*) = ½|F(s*, x) − s*|²`.
    pub q: f64,
    /// Starts that ended here.
    pub starts_merged: usize,
    /// `|h*|`.
    pub norm: f64,
    /// The class the readout gives it, `argmax G(h*)` (`symbols` = blank).
    pub readout_class: usize,
    /// Jacobian eigenvalues with `|λ| > 0.99`.
    pub count_above_099: usize,
    /// Jacobian eigenvalues with `|λ| ≥` the modulus the memory span needs.
    pub count_for_span: usize,
    /// The largest Jacobian eigenvalues.
    pub top_eigenvalues: Vec<Eigenvalue>,
}

/// The fixed points at one constant input as `report.json` of `analyze copy` lists them: the
/// copy view of an [`InputSearch`] (`analyze fixed-points`' view is
/// [`crate::fixed_points::InputReport`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPointSide {
    /// `zero` or `blank`.
    pub input: String,
    /// Starts.
    pub starts: usize,
    /// Dropped for `q > max_q`.
    pub dropped_large_q: usize,
    /// Merged into a kept point.
    pub duplicates: usize,
    /// Median final `q` over the starts.
    pub q_of_starts_median: f64,
    /// The kept points, by ascending `q`.
    pub points: Vec<CopyPoint>,
    /// Variance share of the first (at most 5) principal components of the points (a line
    /// attractor puts nearly all on PC 1); empty with fewer than 2 points.
    pub pca_variance_ratio: Vec<f64>,
    /// Index of the point whose `|λ_1|` is closest to 1.
    pub slowest_point: Option<usize>,
    /// All Jacobian eigenvalues at that point.
    pub slowest_spectrum: Vec<Eigenvalue>,
    /// Whether the points look like a line attractor: at least 2 points, PC 1 ≥ 90% of their
    /// variance, and a Jacobian eigenvalue within 0.01 of 1 at the slowest.
    pub line_attractor: bool,
}

/// One predictor's scores on the held-out batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorScore {
    /// Name.
    pub name: String,
    /// One step ahead over the recall window.
    pub one_step: OneStep,
    /// Rolled out from the state at the cue over the recall window.
    pub rollout: Rollout,
}

/// `report.json` of `analyze copy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyReport {
    /// The run folder.
    pub run_dir: String,
    /// The command that reproduces it.
    pub command: String,
    /// The task, the model and the network's own accuracy.
    pub task: TaskSide,
    /// Sequences in the analysis batch (fit, fixed points).
    pub analysis_batch: usize,
    /// Sequences in the held-out batch (scores).
    pub held_out_batch: usize,
    /// The Koopman operator and its memory.
    pub koopman: MemorySide,
    /// Fixed-point search settings.
    pub options: FixedPointOptions,
    /// Fixed points at the zero and the blank input.
    pub fixed_points: Vec<FixedPointSide>,
    /// Predictors scored on the held-out batch.
    pub predictors: Vec<PredictorScore>,
    /// Bootstrap intervals of the one-step agreements (`--bootstrap N`; `None` with 0).
    #[serde(default)]
    pub one_step_intervals: Option<intervals::OneStepIntervals>,
    /// Figure files written (PNG and SVG).
    pub figures: Vec<String>,
    /// Anything to keep in mind.
    pub warnings: Vec<String>,
    /// Seconds the analysis took.
    pub seconds: f64,
}

impl CopyReport {
    /// The scores of a predictor by name.
    pub fn predictor(&self, name: &str) -> Option<&PredictorScore> {
        self.predictors.iter().find(|p| p.name == name)
    }
}

/// Names of the predictors, in report order: Koopman fitted on every step of the analysis batch.
pub const KOOPMAN: &str = "Koopman";
/// Koopman fitted on the steps after the string (where the only input is the cue).
pub const KOOPMAN_AFTER: &str = "Koopman, fitted after the string";
/// Linearisation around the nearest blank-input fixed point.
pub const LIN_BLANK: &str = "linearised (blank-input fixed points)";
/// Linearisation around the nearest zero-input fixed point, with the input term.
pub const LIN_ZERO: &str = "linearised (zero-input fixed points)";
/// Linearisation around the nearest zero-input fixed point, without the input term.
pub const LIN_ZERO_NO_INPUT: &str = "linearised (zero-input fixed points), no input term";
/// `ĥ_{t+1} = h_t`.
pub const TRIVIAL: &str = "trivial h_(t+1) = h_t";
/// The exact map in f64.
pub const EXACT: &str = "exact map F (check)";

/// Hooks the trajectories of `seqs`: full state (with the LSTM's `c`) and one-hot input.
pub(crate) fn hook(model: &CopyModel, seqs: &[&CopySequence]) -> Result<Trajectories> {
    let dev = device();
    let k = model.d_hidden();
    let tokens = model.tokens();
    let lstm = model.recurrent.kind() == CellKind::Lstm;
    let n = if lstm { 2 * k } else { k };
    let mut states = Vec::with_capacity(seqs.len());
    let mut inputs = Vec::with_capacity(seqs.len());
    for part in seqs.chunks(256) {
        let ids: Vec<&[usize]> = part.iter().map(|s| s.input.as_slice()).collect();
        let t = ids[0].len();
        let out = model.forward_states(model.one_hot(&ids, &dev)?, lstm)?;
        let h = tensor_to_vec(&out.hidden)?;
        let c = out.cell.as_ref().map(tensor_to_vec).transpose()?;
        for (r, seq) in part.iter().enumerate() {
            let mut s = Vec::with_capacity(t * n);
            let mut x = vec![0.0; t * tokens];
            for step in 0..t {
                let base = (r * t + step) * k;
                s.extend(h[base..base + k].iter().map(|&v| f64::from(v)));
                if let Some(c) = &c {
                    s.extend(c[base..base + k].iter().map(|&v| f64::from(v)));
                }
                x[step * tokens + seq.input[step]] = 1.0;
            }
            states.push(s);
            inputs.push(x);
        }
    }
    Ok(Trajectories {
        state_dim: n,
        hidden: k,
        input_dim: tokens,
        states,
        inputs,
        unit: "string",
    })
}

/// Jacobian eigenvalues listed per fixed point in `report.json`.
const TOP_EIGENVALUES: usize = 8;

impl CopyPoint {
    /// The copy view of a point of the shared search: the class the readout gives it and the
    /// eigenvalues the memory span needs.
    fn new(p: &FoundPoint, cell: &Cell, readout: &ClassReadout, modulus_for_span: f64) -> Self {
        CopyPoint {
            q: p.point.q,
            starts_merged: p.point.starts_merged,
            norm: p.hidden_norm,
            readout_class: readout.class(p.hidden(cell)),
            count_above_099: p.count_above(0.99),
            count_for_span: p
                .eigen
                .values
                .iter()
                .filter(|l| l.norm() >= modulus_for_span)
                .count(),
            top_eigenvalues: eig_values(&p.eigen.values, TOP_EIGENVALUES),
        }
    }
}

impl FixedPointSide {
    /// The copy view of the shared search at one input ([`search_input`]).
    pub fn new(
        s: &InputSearch,
        cell: &Cell,
        readout: &ClassReadout,
        modulus_for_span: f64,
    ) -> Self {
        let pca_variance_ratio: Vec<f64> = s
            .pca
            .as_ref()
            .map(|p| p.variance_ratio.iter().take(5).copied().collect())
            .unwrap_or_default();
        let slowest_spectrum = s.slowest_spectrum();
        let line_attractor = s.points.len() >= 2
            && pca_variance_ratio.first().is_some_and(|&v| v >= 0.9)
            && slowest_spectrum
                .first()
                .is_some_and(|l| (l.modulus - 1.0).abs() <= 0.01);
        FixedPointSide {
            input: s.input.clone(),
            starts: s.search.starts,
            dropped_large_q: s.search.dropped_large_q,
            duplicates: s.search.duplicates,
            q_of_starts_median: s.q_of_starts_median(),
            points: s
                .points
                .iter()
                .map(|p| CopyPoint::new(p, cell, readout, modulus_for_span))
                .collect(),
            pca_variance_ratio,
            slowest_point: s.slowest,
            slowest_spectrum,
            line_attractor,
        }
    }
}

/// Fixed points of `F(·, x)` from `starts` by the search `analyze fixed-points` runs
/// ([`search_input`]), each with its Jacobian spectrum and readout class, and their PCA
/// ([`FixedPointSide::new`]). Returns the report and the points' states.
pub fn fixed_points_at(
    name: &str,
    cell: &Cell,
    x: &[f64],
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
    readout: &ClassReadout,
    modulus_for_span: f64,
) -> Result<(FixedPointSide, Vec<Vec<f64>>)> {
    let s = search_input(name, cell, x, starts, options)?;
    Ok((
        FixedPointSide::new(&s, cell, readout, modulus_for_span),
        s.states(),
    ))
}

/// The Koopman spectrum set against the span the task needs.
pub fn memory_side(
    fit: &kann::Fit,
    e_rel_fit: f64,
    fitted_states: usize,
    span: usize,
) -> Result<MemorySide> {
    let eigenvalues = eigen_summaries(&fit.spectrum)?;
    let modulus_for_span = EPS.powf(1.0 / span.max(1) as f64);
    let count_horizon_at_least_span = eigenvalues
        .iter()
        .filter(|e| e.tau.is_none_or(|t| t >= span as f64))
        .count();
    Ok(MemorySide {
        rank: fit.model.rank(),
        fitted_states,
        e_rel_fit,
        modulus_for_span,
        count_horizon_at_least_span,
        count_above_099: eigenvalues
            .iter()
            .filter(|e| e.modulus > DOMINANT_MODULUS)
            .count(),
        count_above_095: eigenvalues.iter().filter(|e| e.modulus > 0.95).count(),
        longest_finite_tau: eigenvalues
            .iter()
            .filter_map(|e| e.tau)
            .filter(|t| t.is_finite())
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t)))),
        eigenvalues,
    })
}

/// The linearised predictors, in report order.
pub const LINEARISED: [&str; 3] = [LIN_BLANK, LIN_ZERO, LIN_ZERO_NO_INPUT];

/// The linearised predictor of that name (one of [`LINEARISED`]), if its input has fixed points.
fn linearised<'a>(
    name: &str,
    lin_blank: &'a [Linearisation],
    lin_zero: &'a [Linearisation],
) -> Option<Predictor<'a>> {
    let (points, input_term) = match name {
        LIN_BLANK => (lin_blank, true),
        LIN_ZERO => (lin_zero, true),
        LIN_ZERO_NO_INPUT => (lin_zero, false),
        _ => return None,
    };
    (!points.is_empty()).then_some(Predictor::Linearised { points, input_term })
}

/// Scores every predictor on the held-out trajectories.
#[allow(clippy::too_many_arguments)]
pub fn score_predictors(
    cell: &Cell,
    fits: &[(&str, &kann::Fit)],
    lin_blank: &[Linearisation],
    lin_zero: &[Linearisation],
    traj: &Trajectories,
    strings: &[Vec<usize>],
    task: &CopyTask,
    readout: &ClassReadout,
) -> Result<Vec<PredictorScore>> {
    let maps: Vec<Vec<Mat<f64>>> = fits
        .iter()
        .map(|(_, fit)| {
            (1..=task.len)
                .map(|l| fit.model.multi_step_map(l))
                .collect()
        })
        .collect();
    let mut preds: Vec<(&str, Predictor)> = fits
        .iter()
        .zip(&maps)
        .map(|((name, _), m)| (*name, Predictor::Koopman(m)))
        .collect();
    for name in LINEARISED {
        if let Some(p) = linearised(name, lin_blank, lin_zero) {
            preds.push((name, p));
        }
    }
    preds.push((TRIVIAL, Predictor::Trivial));
    preds.push((EXACT, Predictor::Exact(cell)));
    preds
        .iter()
        .map(|(name, p)| {
            Ok(PredictorScore {
                name: name.to_string(),
                one_step: one_step(p, traj, strings, task.recall_start(), readout)
                    .with_context(|| format!("one-step prediction by {name}"))?,
                rollout: rollout(p, traj, strings, task.recall_start(), readout)
                    .with_context(|| format!("rollout of {name}"))?,
            })
        })
        .collect()
}

/// Runs `analyze copy` (under the run folder's lock, marked incomplete until done) and writes
/// `report.json`, `report.md` and the figures into the run folder.
pub fn run_copy(args: &CopyArgs) -> Result<CopyReport> {
    args.check()?;
    crate::guarded(Task::Copy, &args.common, |common| {
        analyse(&CopyArgs {
            common,
            ..args.clone()
        })
    })
}

fn analyse(args: &CopyArgs) -> Result<CopyReport> {
    let started = std::time::Instant::now();
    let dir = args
        .common
        .run
        .clone()
        .context("the run folder was not resolved")?;
    println!("analyze copy: run folder {}", dir.display());
    let (model, task, test) = load(&dir)?;
    let cell = cell_from_recurrent(&model.recurrent)?;
    let (w, b) = model.readout_weights()?;
    let readout = ClassReadout::new(
        w.into_iter().map(f64::from).collect(),
        b.into_iter().map(f64::from).collect(),
        model.d_hidden(),
    )?;
    let (traj, held_traj, held_strings) = draw_and_hook(args, &dir, &model, &task, &test)?;
    let (fit, fit_after, koopman) = fit_koopman(args, &traj, &task)?;
    let local = fixed_point_sides(
        args,
        &cell,
        &traj,
        &task,
        &readout,
        koopman.modulus_for_span,
    )?;
    let (predictors, mut warnings) = step(
        &format!(
            "scoring the predictors on {} held-out sequences",
            held_strings.len()
        ),
        || {
            score_and_check(
                &cell,
                &[(KOOPMAN, &fit), (KOOPMAN_AFTER, &fit_after)],
                &local.lins,
                &held_traj,
                &held_strings,
                &task,
                &readout,
            )
        },
    )?;
    let held = Held {
        traj: &held_traj,
        strings: &held_strings,
        recall_start: task.recall_start(),
        readout: &readout,
    };
    let one_step_intervals =
        one_step_intervals(args, &traj, &fit, &local.lins, &predictors, &held)?;
    let net = network_accuracy(&held_traj, &held_strings, &task, &readout);
    let mut all_warnings = local.warnings;
    all_warnings.append(&mut warnings);
    let report = CopyReport {
        run_dir: dir.display().to_string(),
        command: args.command(&dir),
        task: task_side(&task, &cell, model.d_hidden(), test.len(), net),
        analysis_batch: args.common.batch,
        held_out_batch: args.held_out,
        koopman,
        options: args.options(),
        fixed_points: local.sides,
        predictors,
        one_step_intervals,
        figures: Vec::new(),
        warnings: all_warnings,
        seconds: 0.0,
    };
    write(&dir, report, &fit, started)
}

/// Stage 1: the run's model, its task and its test sequences (regenerated from the config's
/// seed).
pub(crate) fn load(dir: &Path) -> Result<(CopyModel, CopyTask, Vec<CopySequence>)> {
    let (model, config) = kann_models::run::load_copy_run(dir, &device())?;
    let RunConfig::Copy(cfg) = config else {
        bail!("{} is not a copy-problem run", dir.display());
    };
    let task = CopyTask::new(cfg.data.len, cfg.data.symbols, cfg.data.delay)?;
    if model.tokens() != task.input_tokens() || model.classes() != task.classes() {
        bail!(
            "{}: the model takes {} tokens and gives {} classes, the config's task needs {} and {}",
            dir.display(),
            model.tokens(),
            model.classes(),
            task.input_tokens(),
            task.classes()
        );
    }
    let splits = CopySpec {
        task,
        train: 0,
        validation: cfg.data.validation,
        test: cfg.data.test,
        seed: cfg.data.seed,
    }
    .splits()?;
    Ok((model, task, splits.test))
}

/// Stage 1: the two disjoint seeded draws of test sequences (analysis and held-out batch) and
/// their trajectories, with the held-out strings.
fn draw_and_hook(
    args: &CopyArgs,
    dir: &Path,
    model: &CopyModel,
    task: &CopyTask,
    test: &[CopySequence],
) -> Result<(Trajectories, Trajectories, Vec<Vec<usize>>)> {
    let (nb, nh) = (args.common.batch, args.held_out);
    if nb + nh > test.len() {
        bail!(
            "--batch {nb} + --held-out {nh} = {} sequences, but the run has {} test sequences ([data] test in {})",
            nb + nh,
            test.len(),
            dir.join(kann_models::run::CONFIG_FILE).display()
        );
    }
    let draw = sample_indices(test.len(), nb + nh, args.common.seed);
    let batch: Vec<&CopySequence> = draw[..nb].iter().map(|&i| &test[i]).collect();
    let held: Vec<&CopySequence> = draw[nb..].iter().map(|&i| &test[i]).collect();
    let (traj, held_traj) = step(
        &format!(
            "hooking the states of {nb} analysis and {nh} held-out test sequences ({} steps)",
            task.steps()
        ),
        || Ok((hook(model, &batch)?, hook(model, &held)?)),
    )?;
    let held_strings = held.iter().map(|s| s.string.clone()).collect();
    Ok((traj, held_traj, held_strings))
}

/// Stage 2: the Koopman fits of the analysis batch (every step, and the steps after the
/// string) and the memory of the first against the task's span.
fn fit_koopman(
    args: &CopyArgs,
    traj: &Trajectories,
    task: &CopyTask,
) -> Result<(kann::Fit, kann::Fit, MemorySide)> {
    let states = traj.hidden_states()?;
    let fit = step("fitting the Koopman operator on the analysis batch", || {
        kann::fit(&states, args.common.rank)
    })?;
    let after = after_string(traj, task.len)?;
    let fit_after = step(
        "fitting the Koopman operator on the steps after the string",
        || kann::fit(&after, args.common.rank),
    )?;
    let koopman = memory_side(
        &fit,
        kann::e_rel(&states, &fit)?.e_rel,
        args.common.batch * task.steps(),
        task.memory_span(),
    )?;
    Ok((fit, fit_after, koopman))
}

/// Stage 3 at the blank and the zero input.
struct LocalSides {
    /// The fixed points at each input, blank first.
    sides: Vec<FixedPointSide>,
    /// Their linearisations, blank first.
    lins: [Vec<Linearisation>; 2],
    /// Inputs without a fixed point.
    warnings: Vec<String>,
}

/// Stage 3: the fixed points at the blank and the zero input ([`fixed_points_at`]) and their
/// linearisations.
fn fixed_point_sides(
    args: &CopyArgs,
    cell: &Cell,
    traj: &Trajectories,
    task: &CopyTask,
    readout: &ClassReadout,
    modulus_for_span: f64,
) -> Result<LocalSides> {
    let options = args.options();
    let starts = traj.sample_states(args.starts, args.common.seed);
    let mut blank = vec![0.0; task.input_tokens()];
    blank[task.blank()] = 1.0;
    let mut sides = Vec::new();
    let mut lins: [Vec<Linearisation>; 2] = [Vec::new(), Vec::new()];
    let mut warnings = Vec::new();
    for (k, (name, x)) in [("blank", blank), ("zero", vec![0.0; task.input_tokens()])]
        .into_iter()
        .enumerate()
    {
        let (side, pts) = step(
            &format!(
                "fixed points at the {name} input from {} starts",
                starts.len()
            ),
            || fixed_points_at(name, cell, &x, &starts, &options, readout, modulus_for_span),
        )?;
        if pts.is_empty() {
            warnings.push(format!(
                "no fixed point at the {name} input with q <= {:e}: its linearisation is not scored",
                args.max_q
            ));
        }
        lins[k] = pts
            .iter()
            .map(|p| Linearisation::new(cell, p, &x))
            .collect::<std::result::Result<_, _>>()?;
        sides.push(side);
    }
    Ok(LocalSides {
        sides,
        lins,
        warnings,
    })
}

/// Stage 4: [`score_predictors`], with a warning when the exact map does not reproduce the
/// network's outputs.
fn score_and_check(
    cell: &Cell,
    fits: &[(&str, &kann::Fit)],
    lins: &[Vec<Linearisation>; 2],
    traj: &Trajectories,
    strings: &[Vec<usize>],
    task: &CopyTask,
    readout: &ClassReadout,
) -> Result<(Vec<PredictorScore>, Vec<String>)> {
    let predictors =
        score_predictors(cell, fits, &lins[0], &lins[1], traj, strings, task, readout)?;
    let exact = predictors
        .iter()
        .find(|p| p.name == EXACT)
        .context("the exact map was not scored")?;
    let mut warnings = Vec::new();
    if exact.rollout.agreement < 1.0 {
        warnings.push(format!(
            "the exact map in f64 agrees with the network's own output on only {:.4} of the recall steps (f32 rounding at a near tie, or a hook error)",
            exact.rollout.agreement
        ));
    }
    Ok((predictors, warnings))
}

/// The held-out batch as the predictors are scored on it.
struct Held<'a> {
    traj: &'a Trajectories,
    strings: &'a [Vec<usize>],
    recall_start: usize,
    readout: &'a ClassReadout,
}

/// Stage 5: with `--bootstrap N`, the intervals of the one-step agreements of Koopman (refitted
/// from the analysis batch's reweighted per-sequence Grams at the fit's rank), of the best
/// linearisation (highest one-step agreement in `predictors`) and of the trivial predictor
/// ([`intervals::one_step_intervals`]).
fn one_step_intervals(
    args: &CopyArgs,
    traj: &Trajectories,
    fit: &kann::Fit,
    lins: &[Vec<Linearisation>; 2],
    predictors: &[PredictorScore],
    held: &Held,
) -> Result<Option<intervals::OneStepIntervals>> {
    let replicates = args.common.bootstrap;
    if replicates == 0 {
        return Ok(None);
    }
    let counts = |p: &Predictor| {
        predict::one_step_counts(p, held.traj, held.strings, held.recall_start, held.readout)
    };
    let best = predictors
        .iter()
        .filter(|p| LINEARISED.contains(&p.name.as_str()) && p.one_step.agreement.is_finite())
        .max_by(|a, b| a.one_step.agreement.total_cmp(&b.one_step.agreement));
    let lin = best
        .and_then(|p| Some((p.name.as_str(), linearised(&p.name, &lins[0], &lins[1])?)))
        .map(|(name, p)| Ok::<_, anyhow::Error>((name, counts(&p)?)))
        .transpose()?;
    let trivial = counts(&Predictor::Trivial)?;
    step(
        &format!(
            "bootstrap intervals of the one-step agreements ({replicates} replicates over the analysis batch and the held-out sequences)"
        ),
        || {
            let grams = kann_koopman::SequenceGrams::from_states(
                &traj.hidden_states()?,
                fit.model.precision,
            )?;
            let targets = intervals::KoopmanTargets::new(
                held.traj,
                held.strings,
                held.recall_start,
                held.readout,
            )?;
            intervals::one_step_intervals(
                &grams,
                fit.model.rank(),
                &targets,
                lin.as_ref().map(|(name, c)| intervals::Rescored { name, counts: c }),
                intervals::Rescored {
                    name: TRIVIAL,
                    counts: &trivial,
                },
                replicates,
                args.common.seed,
            )
        },
    )
    .map(Some)
}

/// The task as analysed, with the network's recall accuracy `net` (per symbol, whole string).
fn task_side(
    task: &CopyTask,
    cell: &Cell,
    hidden: usize,
    test_sequences: usize,
    net: (f64, f64),
) -> TaskSide {
    TaskSide {
        len: task.len,
        symbols: task.symbols,
        delay: task.delay,
        steps: task.steps(),
        recall_start: task.recall_start(),
        memory_span: task.memory_span(),
        symbol_slots: task.len * task.symbols,
        cell: cell.kind().to_string(),
        hidden,
        test_sequences,
        network_symbol_accuracy: net.0,
        network_string_accuracy: net.1,
    }
}

/// Stage 5: the figures, `report.json`, `report.md` (opening with the verdict table) and
/// `report.html`.
fn write(
    dir: &Path,
    mut report: CopyReport,
    fit: &kann::Fit,
    started: std::time::Instant,
) -> Result<CopyReport> {
    report.figures = report::figures(dir, &report, &crate::kann::eigen_points(&fit.spectrum))?;
    report.seconds = started.elapsed().as_secs_f64();
    kann_koopman::io::write_json_atomic(dir.join("report.json"), &report)?;
    let claims = crate::report_html::copy::claims(&report);
    let md = crate::report_html::markdown_with_verdicts(&claims, &markdown(&report));
    kann_models::atomic::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    crate::report_html::copy::write(dir, &report, claims)?;
    print!("{}", report::summary(&report));
    println!(
        "analyze copy: report.json, report.md, report.html in {}",
        dir.display()
    );
    Ok(report)
}

/// The hidden states of steps `from..` of every sequence (the steps after the string: the
/// delay, the cue and the recall window).
pub fn after_string(traj: &Trajectories, from: usize) -> Result<kann_koopman::States> {
    let (s, k) = (traj.states.len(), traj.hidden);
    let width = (0..s).map(|i| traj.len_of(i)).min().unwrap_or(0);
    if width < from + 2 {
        bail!("sequences of {width} steps have fewer than 2 steps after step {from}");
    }
    let w = width - from;
    let mut data = Vec::with_capacity(s * w * k);
    for i in 0..s {
        for t in from..width {
            data.extend_from_slice(&traj.state(i, t)[..k]);
        }
    }
    Ok(kann_koopman::States::new_with_lengths(
        data,
        s,
        w,
        k,
        vec![w; s],
    )?)
}

/// The network's own recall accuracy (per symbol, whole string) read from the hooked states.
fn network_accuracy(
    traj: &Trajectories,
    strings: &[Vec<usize>],
    task: &CopyTask,
    readout: &ClassReadout,
) -> (f64, f64) {
    let mut acc = kann_data::copy::RecallAccuracy::default();
    for (i, s) in strings.iter().enumerate() {
        let out: Vec<usize> = (0..task.len)
            .map(|j| readout.class(&traj.state(i, task.recall_start() + j)[..traj.hidden]))
            .collect();
        acc.add(&out, s);
    }
    (acc.per_symbol(), acc.whole_string())
}
