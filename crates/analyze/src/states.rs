//! `analyze states`: the Koopman analysis of any model's states stored as `.npy`.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kann_koopman::io::{read_lengths_npy, read_states_npy, write_json_atomic};
use kann_koopman::{AnalysisOptions, Estimator, FitOptions, Rank, StatesReport, analyze_states};
use std::path::PathBuf;

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

/// Arguments of `analyze states`.
#[derive(Debug, Args)]
pub struct StatesArgs {
    /// States as .npy (float32/float64, C order, [s, n, k] or [n, k]).
    pub file: PathBuf,
    /// Rank of the basis (default: the reference's min(#pairs, k) - 1).
    #[arg(long, conflicts_with = "energy")]
    pub rank: Option<usize>,
    /// Choose the rank by the fraction of energy (squared singular values) kept, in (0, 1].
    #[arg(long)]
    pub energy: Option<f64>,
    /// Valid lengths [s] (integers) or prefix mask [s, n] as .npy; padded steps are ignored.
    #[arg(long)]
    pub lengths: Option<PathBuf>,
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
    /// Residual above which an eigenpair is flagged spurious.
    #[arg(long, default_value_t = 0.1)]
    pub residual_tol: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print only the first N eigenvalues in the table (all in JSON).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

/// Runs `analyze states`.
pub fn run(args: &StatesArgs) -> anyhow::Result<()> {
    let mut states = read_states_npy(&args.file)
        .with_context(|| format!("reading states {}", args.file.display()))?;
    if let Some(path) = &args.lengths {
        let lengths = read_lengths_npy(path, states.num_sequences(), states.seq_len())
            .with_context(|| format!("reading lengths {}", path.display()))?;
        states = states
            .with_lengths(lengths)
            .with_context(|| format!("applying lengths {}", path.display()))?;
    }
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
    let options = AnalysisOptions {
        fit: FitOptions {
            rank,
            estimator,
            ..FitOptions::default()
        },
        eps: args.eps,
        unit_tol: args.unit_tol,
        residual_tol: args.residual_tol,
    };
    let report = analyze_states(&states, &options)
        .with_context(|| format!("analysing {}", args.file.display()))?;
    if let Some(out) = &args.out {
        write_json_atomic(out, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, args.top);
    }
    Ok(())
}

fn print_table(r: &StatesReport, top: usize) {
    println!(
        "states [s={}, n={}, k={}]: {} valid states, {} pairs",
        r.shape[0], r.shape[1], r.shape[2], r.num_states, r.num_pairs
    );
    println!(
        "fit: {} via {:?}, rank {} ({:.4}% of energy), condition {:.3e}, cond(V) {:.3e}",
        r.estimator,
        r.method,
        r.rank,
        100.0 * r.energy_captured,
        r.condition,
        r.v_condition
    );
    println!(
        "e_rel (Eq. 12, valid steps only) = {:.6} over {} targets{}",
        r.relative_error.e_rel,
        r.relative_error.count,
        if r.relative_error.zero_norm_skipped > 0 {
            format!(
                " ({} zero-norm targets skipped)",
                r.relative_error.zero_norm_skipped
            )
        } else {
            String::new()
        }
    );
    for w in &r.warnings {
        println!("warning: {w}");
    }
    println!(
        "{:>4}  {:>11} {:>11}  {:>9}  {:>12}  {:>9}  {:>8}  {:>5}",
        "j",
        "re",
        "im",
        "|lambda|",
        format!("tau({})", r.eps),
        "residual",
        "dominance",
        "dom#"
    );
    for e in r.eigen.iter().take(top) {
        let tau = match (e.tau, e.stability) {
            (Some(t), _) => format!("{t:.1}"),
            (None, kann_koopman::Stability::Unstable) => "unstable".into(),
            (None, _) => "inf".into(),
        };
        println!(
            "{:>4}  {:>11.6} {:>11.6}  {:>9.6}  {:>12}  {:>9.2e}{} {:>9.3}  {:>5}",
            e.index,
            e.re,
            e.im,
            e.modulus,
            tau,
            e.residual,
            if e.spurious { "*" } else { " " },
            e.dominance,
            e.dominance_rank
        );
    }
    if r.eigen.len() > top {
        println!("... {} more (use --top or --json)", r.eigen.len() - top);
    }
    if r.eigen.iter().any(|e| e.spurious) {
        println!("* residual above tolerance: likely spurious eigenvalue");
    }
}
