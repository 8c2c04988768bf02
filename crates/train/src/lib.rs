//! `train`: trains the paper's two models on the real data and writes everything `analyze`
//! needs into `results/<run>/` (layout: [`kann_models::run`]).
//!
//! Library API (used by the binary and by end-to-end tests): [`run_imdb`], [`run_ecg`],
//! [`download`], with [`TrainArgs`] holding the command-line flags.

pub mod common;
pub mod ecg;
pub mod imdb;
pub mod setup;

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kann_models::cells::CellKind;

/// Where the tensors live.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceArg {
    /// Pure-Rust CPU backend (burn `Flex`), with the fused recurrent kernels.
    #[default]
    Cpu,
    /// GPU through wgpu (build with `--features wgpu`).
    Wgpu,
}

/// Flags shared by both tasks; each overrides the config file.
#[derive(Args, Debug, Clone, Default)]
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

/// Train the IMDB sentiment model (paper Sec. 4.1); returns the run folder.
pub fn run_imdb(args: &TrainArgs) -> anyhow::Result<PathBuf> {
    imdb::run(args)
}

/// Train the ECG autoencoder (paper Sec. 4.2); returns the run folder.
pub fn run_ecg(args: &TrainArgs) -> anyhow::Result<PathBuf> {
    ecg::run(args)
}

/// Download the public data sets into `data_dir` (default: env `KANN_DATA_DIR`, else `data/`).
pub fn download(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    setup::download(data_dir)
}
