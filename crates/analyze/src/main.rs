//! `analyze` binary: Koopman analyses of trained sequence models (KANN).
//!
//! Subcommands: `states` (spectrum, memory horizons, residuals and e_rel of any `.npy` states).

mod states;

use clap::{Parser, Subcommand};

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
    States(states::StatesArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::States(args) => states::run(&args),
    }
}
