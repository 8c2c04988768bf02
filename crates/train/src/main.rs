//! `train`: trains the paper's two models on the real data and writes everything `analyze`
//! needs into `results/<run>/` (layout: [`kann_models::run`]).
//!
//! ```text
//! train imdb|ecg [--config FILE] [--cell gru|lstm|rnn] [--epochs N] [--batch-size N]
//!                [--max-len N] [--seed N] [--data-dir DIR] [--out DIR] [--resume]
//!                [--device cpu|wgpu]
//! train download [--data-dir DIR]
//! ```

mod common;
mod ecg;
mod imdb;
mod setup;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kann_models::cells::CellKind;

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
    Imdb(TrainArgs),
    /// LSTM autoencoder on ECG5000, normal iff summed L1 loss < threshold (paper Sec. 4.2).
    Ecg(TrainArgs),
    /// Download the public data sets into the data folder.
    Download {
        /// Target folder (default: env KANN_DATA_DIR, else `data/`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// Where the tensors live.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// Pure-Rust CPU backend (burn `Flex`), with the fused recurrent kernels.
    Cpu,
    /// GPU through wgpu (build with `--features wgpu`).
    Wgpu,
}

/// Flags shared by both tasks; each overrides the config file.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// TOML config (default: `configs/<task>.toml`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Recurrent cell (overrides `[model] cell`).
    #[arg(long)]
    pub cell: Option<CellKind>,
    /// Number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// IMDB: drop reviews longer than this many word pieces.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Seed of weight init and batch order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data folder (holds `aclImdb_v1.tar.gz`, `imdb_wordpiece.vocab`, `ECG5000/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run folder (default: `results/<config name>[-<cell>]`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in `--out` from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Device.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Imdb(args) => imdb::run(&args),
        Command::Ecg(args) => ecg::run(&args),
        Command::Download { data_dir } => setup::download(data_dir),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
