//! `analyze` binary: Koopman analyses of trained sequence models (KANN).
//!
//! Subcommands: `states` (spectrum, memory horizons, residuals and e_rel of any `.npy` states),
//! `imdb` and `ecg` (the paper's figures and numbers from a `train` run; see the `analyze` library),
//! `fixed-points` (the fixed-point analysis of an IMDB run beside the Koopman one), `copy` (the
//! copy problem of App. D).

use clap::{Parser, Subcommand};

/// Large training buffers are backed by transparent huge pages (see `kann_models::hugepages`).
#[global_allocator]
static ALLOC: kann_models::hugepages::HugePageAlloc = kann_models::hugepages::HugePageAlloc;

/// Koopman analysis of sequence models (KANN).
#[derive(Debug, Parser)]
#[command(name = "analyze", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit a Koopman operator to a states tensor (.npy, [s, n, k] or [n, k]) and print its
    /// spectrum, memory horizons, residuals and relative error.
    States(analyze::states::StatesArgs),
    /// IMDB sentiment GRU (paper Sec. 4.1, Fig. 1, Fig. 4 left): spectrum, sentiment and
    /// contextual eigenvectors, word highlights, agreement; report.md/json in the run folder.
    Imdb(analyze::ImdbArgs),
    /// ECG5000 LSTM autoencoder (paper Sec. 4.2, Figs. 2-3, Fig. 4 right, App. B); report.md/json
    /// in the run folder.
    Ecg(analyze::EcgArgs),
    /// Fixed points of a trained IMDB model at the zero and the mean input (Sussillo & Barak
    /// 2013), their Jacobian spectra, PCA and alignment with the readout, and one-step
    /// prediction of the linearisation beside Koopman's on the analysis batch;
    /// fixed_points.json/md/html in the run folder.
    FixedPoints(analyze::FixedPointArgs),
    /// The copy problem (App. D): Koopman memory against the delay, fixed points at the blank
    /// and zero inputs, and which predictor (Koopman, linearisation, trivial) reproduces the
    /// network's recalled string on held-out sequences; report.md/json in the run folder.
    Copy(analyze::CopyArgs),
    /// The runs of a sweep (`train sweep`) side by side: one table (per run and per cell, mean ±
    /// sd), spectral distances between runs, spectra overlaid per cell; compare.md/json/csv.
    Compare(analyze::CompareArgs),
    /// The Koopman probe during training (the paper's open question, Sec. 5): eigenvalues by
    /// epoch, the final modes traced back, slow-mode count, agreement and accuracy against
    /// epoch, and across seeds the spectral distance; training.md/json and figures.
    Training(analyze::training::TrainingArgs),
}

fn main() {
    kann_models::hugepages::retain_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::States(args) => analyze::states::run(&args),
        Command::Imdb(args) => analyze::run_imdb(&args).map(drop),
        Command::Ecg(args) => analyze::run_ecg(&args).map(drop),
        Command::FixedPoints(args) => analyze::fixed_points::run_fixed_points(&args).map(drop),
        Command::Copy(args) => analyze::copy::run_copy(&args).map(drop),
        Command::Compare(args) => analyze::compare::run_compare(&args).map(drop),
        Command::Training(args) => analyze::training::run_training(&args).map(drop),
    };
    // One line, as `train` does (no Debug output, no backtrace under RUST_BACKTRACE).
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
