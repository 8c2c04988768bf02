//! `analyze states`: the Koopman analysis of any model's states stored as `.npy`.
//!
//! Stages: read the array with its layout ([`read_input`]), check it for the layout mistakes
//! that give a wrong `e_rel` silently ([`check_input`]), fit and evaluate
//! ([`kann_koopman::analyze_states`]), print or write the report.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kann_koopman::checks::{
    AxisSmoothness, Stacked, ZeroRows, axis_smoothness, stacked_sequences, zero_rows,
};
use kann_koopman::io::{Layout, read_lengths_npy, read_states_array, write_json_atomic};
use kann_koopman::{
    AnalysisOptions, BootstrapOptions, Estimator, FitOptions, FitSteps, KoopmanError, Rank, Scheme,
    States, StatesReport, analyze_states, bootstrap_report,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod erel;
mod table;

/// Estimator choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstimatorArg {
    /// Least squares (the paper, Eq. 4).
    Lstsq,
    /// Exact DMD.
    Exact,
    /// Total-least-squares DMD (debiased under noise).
    Tls,
    /// Ridge-regularised least squares (see --ridge-alpha).
    Ridge,
}

/// Axis order of a 3-D array on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// [B, T, H]: batch, time, hidden (PyTorch batch_first=True; our hooks).
    Bth,
    /// [T, B, H]: time, batch, hidden (PyTorch's default batch_first=False).
    Tbh,
}

/// Arguments of `analyze states`.
#[derive(Debug, Args)]
pub struct StatesArgs {
    /// States as .npy (float32/float64, C order): [B, T, H], [T, B, H] with --layout tbh, or
    /// [T, H] (one sequence; --seq-len T splits a stacked [B*T, H]).
    pub file: PathBuf,
    /// Axis order of a 3-D array: bth = [batch, time, hidden], tbh = [time, batch, hidden].
    #[arg(long, value_enum, default_value_t = LayoutArg::Bth)]
    pub layout: LayoutArg,
    /// For a 2-D array of sequences stacked along the rows: the length T of each sequence.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Real lengths [B] (integers) or prefix mask [B, T] as .npy; steps past a length are
    /// padding: never scored, and fitted only with --fit-steps all. They may be NaN.
    #[arg(long)]
    pub lengths: Option<PathBuf>,
    /// Steps the basis and operator are fitted on: the real steps, or all steps of the padded
    /// batch (padding included, as the paper's reference pipeline does). e_rel is reported on
    /// the real steps, and also on all steps.
    #[arg(long, value_enum, default_value_t = crate::FitSteps::Real)]
    pub fit_steps: crate::FitSteps,
    /// Rank of the basis (default: the reference's min(#pairs, k) - 1).
    #[arg(long, conflicts_with = "energy")]
    pub rank: Option<usize>,
    /// Choose the rank by the fraction of energy (squared singular values) kept, in (0, 1].
    #[arg(long)]
    pub energy: Option<f64>,
    /// Estimator of the operator C.
    #[arg(long, value_enum, default_value_t = EstimatorArg::Lstsq)]
    pub estimator: EstimatorArg,
    /// Relative ridge strength (with --estimator ridge).
    #[arg(long, default_value_t = 1e-6)]
    pub ridge_alpha: f64,
    /// Threshold eps of the memory horizon tau(eps) (Eq. 9).
    #[arg(long, default_value_t = 0.01)]
    pub eps: f64,
    /// Tolerance on | |lambda| - 1 | for infinite memory.
    #[arg(long, default_value_t = 1e-6)]
    pub unit_tol: f64,
    /// Flag an eigenpair as unresolved when |lambda| / residual is below this (1: lambda
    /// explains less than half of its mode's next-step signal, and its residual error bar
    /// reaches 0).
    #[arg(long, default_value_t = 1.0)]
    pub min_snr: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write a self-contained page to this file (atomically): verdict table, spectrum with
    /// memory horizons, e_rel beside the trivial predictor h_(t+1) = h_t, eigenpair residuals.
    /// It adds the trivial predictor's e_rel (with intervals) to the JSON report as `e_rel_trivial`.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print only the first N eigenvalues in the table (all in JSON).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Resampling replicates over sequences for the intervals of every eigenpair (|lambda|,
    /// tau, the lambda box, how often its match exists and a pair stays a pair); 0 skips them.
    /// Default: 200, skipped with a warning when there is only one sequence.
    #[arg(long)]
    pub bootstrap: Option<usize>,
    /// Resampling scheme: bootstrap (sequences with replacement) or subsample (half of them
    /// without replacement, deviations from the fit scaled by sqrt(m / (s - m)), 1 for even s).
    #[arg(long, value_enum, default_value_t = SchemeArg::Bootstrap)]
    pub scheme: SchemeArg,
    /// Two-sided level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Seed of the replicates' weights (the result does not depend on the thread count).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Replicates of `analyze states` when `--bootstrap` is not given.
pub const DEFAULT_BOOTSTRAP: usize = 200;

/// Resampling scheme on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// Draw as many sequences as there are, with replacement.
    Bootstrap,
    /// Draw half of the sequences without replacement.
    Subsample,
}

impl From<SchemeArg> for Scheme {
    fn from(s: SchemeArg) -> Self {
        match s {
            SchemeArg::Bootstrap => Scheme::Bootstrap,
            SchemeArg::Subsample => Scheme::Subsample,
        }
    }
}

/// What was read and how it was interpreted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputInfo {
    /// The states file.
    pub file: PathBuf,
    /// Its shape as written.
    pub file_shape: Vec<usize>,
    /// Its dtype (`<f4`, `<f8`).
    pub dtype: String,
    /// The axis order it was read with.
    pub layout: Layout,
    /// `--seq-len`, if given.
    pub seq_len: Option<usize>,
    /// `[B, T, H]` after the layout was applied.
    pub read_as: [usize; 3],
    /// The lengths file, if given.
    pub lengths_file: Option<PathBuf>,
    /// True if lengths were given and applied.
    pub lengths_applied: bool,
    /// Real steps (`Σ lengths`) and padded steps (`B·T − Σ lengths`).
    pub real_steps: usize,
    /// Padded steps.
    pub padded_steps: usize,
}

/// The layout checks run before the fit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputChecks {
    /// Exactly-zero rows among the real steps.
    pub zero_rows: ZeroRows,
    /// Neighbour distances along time and batch.
    pub axis_smoothness: AxisSmoothness,
    /// Periodic jumps in a single sequence (stacked sequences), if found.
    pub stacked: Option<Stacked>,
}

/// The JSON report of `analyze states`: input, checks and the analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatesRun {
    /// What was read.
    pub input: InputInfo,
    /// Layout checks.
    pub checks: InputChecks,
    /// Fit, spectrum and errors.
    #[serde(flatten)]
    pub report: StatesReport,
    /// e_rel beside the trivial predictor `h_{t+1} = h_t` (computed for `--html` only; absent
    /// from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_rel_trivial: Option<erel::ErelComparison>,
}

/// Warn about exactly-zero rows when at least this fraction of the real rows is zero.
pub const ZERO_ROW_WARN_FRACTION: f64 = 0.01;

/// Stage 1: reads the states and lengths as the arguments say.
pub fn read_input(args: &StatesArgs) -> anyhow::Result<(States, InputInfo)> {
    let layout = match args.layout {
        LayoutArg::Bth => Layout::Bth,
        LayoutArg::Tbh => Layout::Tbh,
    };
    let array = read_states_array(&args.file, layout, args.seq_len)
        .with_context(|| format!("reading states {}", args.file.display()))?;
    let (s, n, k) = (array.s, array.n, array.k);
    let (file_shape, dtype) = (array.file_shape.clone(), array.dtype.clone());
    let states = match &args.lengths {
        Some(path) => {
            let lengths = read_lengths_npy(path, s, n)
                .with_context(|| format!("reading lengths {}", path.display()))?;
            array
                .into_states_with_lengths(lengths)
                .with_context(|| format!("states {}", args.file.display()))?
        }
        None => array.into_states().map_err(|e| {
            let hint = if matches!(e, KoopmanError::NonFinite { .. }) {
                " (if that step is padding, pass --lengths so that padded steps are not read as data)"
            } else {
                ""
            };
            anyhow::anyhow!("{}: {e}{hint}", args.file.display())
        })?,
    };
    let real = states.num_valid();
    let info = InputInfo {
        file: args.file.clone(),
        file_shape,
        dtype,
        layout,
        seq_len: args.seq_len,
        read_as: [s, n, k],
        lengths_file: args.lengths.clone(),
        lengths_applied: args.lengths.is_some(),
        real_steps: real,
        padded_steps: s * n - real,
    };
    Ok((states, info))
}

/// Stage 2: the layout checks and the warnings they give.
pub fn check_input(states: &States, info: &InputInfo) -> (InputChecks, Vec<String>) {
    let checks = InputChecks {
        zero_rows: zero_rows(states),
        axis_smoothness: axis_smoothness(states),
        stacked: stacked_sequences(states),
    };
    let mut warnings = Vec::new();
    let z = &checks.zero_rows;
    if z.zero > 0 && z.fraction() >= ZERO_ROW_WARN_FRACTION {
        let what = format!(
            "{} of {} rows ({:.1}%) are exactly zero, {} of them in runs that end {} sequences",
            z.zero,
            z.rows,
            100.0 * z.fraction(),
            z.trailing,
            z.sequences_with_trailing
        );
        warnings.push(if info.lengths_applied {
            format!("{what}, within the real steps: check that the lengths cover the padding")
        } else {
            format!(
                "{what}: this looks like zero padding, fitted as data (and skipped by e_rel as zero-norm targets); pass --lengths LENGTHS.npy ([B] lengths or a [B, T] mask) to fit and score the real steps only"
            )
        });
    }
    let a = &checks.axis_smoothness;
    if a.looks_transposed() {
        let fix = match info.layout {
            Layout::Bth => {
                "if the array is time-major [T, B, H] (PyTorch's default batch_first=False), pass --layout tbh"
            }
            Layout::Tbh => "if the array is batch-major [B, T, H], drop --layout tbh",
        };
        warnings.push(format!(
            "neighbouring states along the axis read as batch are closer (mean |h_a - h_b|^2 = {:.3e}) than along the axis read as time ({:.3e}); recurrent states change little per step, so the axes may be swapped: {fix}",
            a.batch, a.time
        ));
    }
    if let Some(st) = &checks.stacked {
        warnings.push(format!(
            "this one sequence of {} steps looks like {} sequences of {} steps stacked: |h_t+1 - h_t|^2 jumps at every multiple of {} (lower quartile {:.3e} against a median step of {:.3e}), and a fit over one sequence pairs the end of each with the start of the next; pass --seq-len {} (or reshape to [B, T, H])",
            st.seq_len * st.sequences,
            st.sequences,
            st.seq_len,
            st.seq_len,
            st.boundary_jump,
            st.typical_step,
            st.seq_len
        ));
    }
    (checks, warnings)
}

fn options(args: &StatesArgs) -> anyhow::Result<AnalysisOptions> {
    let rank = match (args.rank, args.energy) {
        (Some(r), _) => Rank::Fixed(r),
        (None, Some(f)) => Rank::Energy(f),
        (None, None) => Rank::ReferenceDefault,
    };
    let estimator = match args.estimator {
        EstimatorArg::Lstsq => Estimator::LeastSquares,
        EstimatorArg::Exact => Estimator::ExactDmd,
        EstimatorArg::Tls => Estimator::TotalLeastSquares,
        EstimatorArg::Ridge => Estimator::Ridge {
            alpha: args.ridge_alpha,
        },
    };
    if !(args.eps > 0.0 && args.eps < 1.0) {
        bail!("--eps must be in (0, 1), got {}", args.eps);
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must be in (0, 1), got {}", args.level);
    }
    if !(args.min_snr >= 0.0 && args.min_snr.is_finite()) {
        bail!("--min-snr must be finite and >= 0, got {}", args.min_snr);
    }
    if !(args.unit_tol >= 0.0 && args.unit_tol < 1.0) {
        bail!("--unit-tol must be in [0, 1), got {}", args.unit_tol);
    }
    if !(args.ridge_alpha >= 0.0 && args.ridge_alpha.is_finite()) {
        bail!(
            "--ridge-alpha must be finite and >= 0, got {}",
            args.ridge_alpha
        );
    }
    Ok(AnalysisOptions {
        fit: FitOptions {
            rank,
            estimator,
            ..FitOptions::default()
        },
        eps: args.eps,
        unit_tol: args.unit_tol,
        min_snr: args.min_snr,
        fit_steps: args.fit_steps.into(),
    })
}

/// Refuses writing `flag` = `out` over an input (the same file, by any path or link): the
/// report would replace the data it was computed from.
fn refuse_output_over_input(flag: &str, out: &Path, input: &Path) -> anyhow::Result<()> {
    let same = match (std::fs::canonicalize(out), std::fs::canonicalize(input)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        anyhow::bail!(
            "{flag} {} is the input {}; writing the report there would replace it, choose another path",
            out.display(),
            input.display()
        );
    }
    Ok(())
}

/// Refuses `--out` and `--html` over an input, and the two over each other.
fn check_outputs(args: &StatesArgs) -> anyhow::Result<()> {
    let outputs = [("--out", &args.out), ("--html", &args.html)];
    for (flag, out) in outputs {
        let Some(out) = out else { continue };
        refuse_output_over_input(flag, out, &args.file)?;
        if let Some(lengths) = &args.lengths {
            refuse_output_over_input(flag, out, lengths)?;
        }
    }
    if let (Some(json), Some(html)) = (&args.out, &args.html)
        && (json == html || refuse_output_over_input("--html", html, json).is_err())
    {
        anyhow::bail!(
            "--out and --html both name {}; give each its own file",
            json.display()
        );
    }
    Ok(())
}

/// Fits and evaluates `states`, with the resampled intervals unless `--bootstrap 0`.
fn analyse(
    args: &StatesArgs,
    options: &AnalysisOptions,
    states: &States,
    input: &InputInfo,
    warnings: Vec<String>,
) -> anyhow::Result<StatesReport> {
    let mut report = analyze_states(states, options).map_err(|e| {
        let hint = if options.fit_steps == FitSteps::All
            && matches!(e, KoopmanError::NonFinite { .. })
        {
            " (--fit-steps all fits the padded steps too, so they must be finite; use --fit-steps real)"
        } else {
            ""
        };
        anyhow::anyhow!("analysing {}: {e}{hint}", args.file.display())
    })?;
    report.warnings.extend(warnings);
    if options.fit_steps == FitSteps::All && !input.lengths_applied {
        report.warnings.push(
            "--fit-steps all without --lengths: every step is real, so it changes nothing".into(),
        );
    }
    let replicates = args.bootstrap.unwrap_or(DEFAULT_BOOTSTRAP);
    if replicates > 0 {
        if states.num_sequences() < 2 && args.bootstrap.is_none() {
            report.warnings.push(
                "no intervals: resampling draws whole sequences and there is only one (--seq-len splits a stacked array)".into(),
            );
        } else {
            let boot = BootstrapOptions {
                scheme: args.scheme.into(),
                replicates,
                seed: args.seed,
                level: args.level,
                ..BootstrapOptions::default()
            };
            let bar = kann_data::progress::progress_bar(replicates as u64, "  resampling");
            bootstrap_report(states, options, &boot, &mut report, &|| bar.inc(1))
                .with_context(|| format!("resampling {}", args.file.display()))?;
            bar.finish_and_clear();
        }
    }
    Ok(report)
}

/// Runs `analyze states`: prints the table (or JSON), writes `--out` and `--html`.
pub fn run(args: &StatesArgs) -> anyhow::Result<()> {
    check_outputs(args)?;
    let options = options(args)?;
    let (states, input) = read_input(args)?;
    let (checks, warnings) = check_input(&states, &input);
    let report = analyse(args, &options, &states, &input, warnings)?;
    let e_rel_trivial = match &args.html {
        Some(_) => Some(erel::compare(
            &states,
            &report,
            args,
            args.bootstrap.unwrap_or(DEFAULT_BOOTSTRAP),
        )?),
        None => None,
    };
    let run = StatesRun {
        input,
        checks,
        report,
        e_rel_trivial,
    };
    if let Some(out) = &args.out {
        write_json_atomic(out, &run)?;
    }
    if let Some(html) = &args.html {
        crate::report_html::states::write(html, &run, args.out.as_deref())?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        table::print_table(&run, args.top);
    }
    Ok(())
}
