//! `train` binary: parses the command line and calls the [`train`] library.
//!
//! ```text
//! train imdb|ecg [--config FILE] [--cell gru|lstm|rnn] [--epochs N] [--batch-size N]
//!                [--seed N] [--data-dir DIR] [--out DIR] [--resume] [--device cpu|wgpu]
//! train imdb ... [--max-len N]
//! train download [--data-dir DIR]
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use train::{CommonArgs, ImdbArgs};

/// Large training buffers are backed by transparent huge pages (see `kann_models::hugepages`).
#[global_allocator]
static ALLOC: kann_models::hugepages::HugePageAlloc = kann_models::hugepages::HugePageAlloc;

/// Train the paper's sentiment (IMDB) and anomaly-detection (ECG5000) models.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Embedding -> GRU -> Linear sentiment classifier on IMDB (paper Sec. 4.1).
    Imdb(ImdbArgs),
    /// LSTM autoencoder on ECG5000, normal iff summed L1 loss < threshold (paper Sec. 4.2).
    Ecg(CommonArgs),
    /// Download the public data sets (IMDB archive, ECG5000 zip), resumable and checked.
    Download {
        /// Target folder (default: $KANN_DATA_DIR, else `data/`). Training reads the same
        /// folders, and also `../shared/data` beside the workspace when it exists.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Imdb(args) => train::run_imdb(&args.into()).map(|_| ()),
        Command::Ecg(args) => train::run_ecg(&args.into()).map(|_| ()),
        Command::Download { data_dir } => train::download(data_dir),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
