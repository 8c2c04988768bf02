//! `train`: trains the paper's two models on the real data and writes everything `analyze`
//! needs into `results/<run>/` (layout: [`kann_models::run`]).
//!
//! Library API (used by the binary and by end-to-end tests): [`run_imdb`], [`run_ecg`],
//! [`run_copy`] (the copy problem of App. D),
//! [`download`], with [`TrainArgs`] holding the command-line flags.

pub mod checkpoint;
pub mod cli;
pub mod common;
pub mod copy;
pub mod driver;
pub mod ecg;
pub mod imdb;
pub mod import;
pub mod probe;
pub mod setup;
pub mod sweep;

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
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

/// The values `--cell` accepts.
const CELL_VALUES: [&str; 3] = ["gru", "lstm", "rnn"];

/// The one parser of a `--cell` / `--cells` value (`gru`, `lstm`, `rnn`), for every command.
pub fn cell_parser() -> impl clap::builder::TypedValueParser<Value = CellKind> {
    clap::builder::PossibleValuesParser::new(CELL_VALUES)
        .try_map(|s| s.parse::<CellKind>().map_err(|e| e.to_string()))
}

/// Flags of `train ecg`, and the flags `train imdb` shares; each overrides the config file.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// TOML config (default: `configs/<task>.toml`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Recurrent cell (overrides `[model] cell`).
    #[arg(long, value_parser = cell_parser())]
    pub cell: Option<CellKind>,
    /// Number of epochs. With --resume: the new total, counting the epochs already done.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of weight init and batch order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data folder (default: the config's `data_dir`, else $KANN_DATA_DIR, else
    /// `../shared/data` beside the workspace when it exists, else `data/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run folder (default: `results/<config name>[-<cell>]`). One run at a time: a second
    /// `train` (or an `analyze`) on the same folder fails at once, naming the first.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in `--out` from its last checkpoint (only --epochs,
    /// --data-dir and --device may be given with it).
    #[arg(long)]
    pub resume: bool,
    /// Device.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Validation sequences in the Koopman probe batch (overrides `[probe] sequences`; 0 turns
    /// the probe off).
    #[arg(long)]
    pub probe_sequences: Option<usize>,
    /// Also probe every N optimizer steps, besides the end of each epoch (overrides `[probe]
    /// every_steps`).
    #[arg(long, value_name = "N")]
    pub probe_every: Option<usize>,
}

/// Flags of `train imdb`.
#[derive(Args, Debug, Clone, Default)]
pub struct ImdbArgs {
    // The flags both tasks share.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Drop reviews longer than this many word pieces (overrides `[data] max_len`).
    #[arg(long)]
    pub max_len: Option<usize>,
}

/// Every flag of either task, as the library takes them; each overrides the config file.
/// (The command line builds it from [`CommonArgs`] / [`ImdbArgs`], so that each task's `--help`
/// lists only its own flags.)
#[derive(Debug, Clone, Default)]
pub struct TrainArgs {
    /// TOML config (default: `configs/<task>.toml`).
    pub config: Option<PathBuf>,
    /// Recurrent cell (overrides `[model] cell`).
    pub cell: Option<CellKind>,
    /// Number of epochs; with `resume`, the new total.
    pub epochs: Option<usize>,
    /// Batch size.
    pub batch_size: Option<usize>,
    /// IMDB: drop reviews longer than this many word pieces.
    pub max_len: Option<usize>,
    /// Seed of weight init and batch order.
    pub seed: Option<u64>,
    /// Data folder.
    pub data_dir: Option<PathBuf>,
    /// Run folder (default: `results/<config name>[-<cell>]`).
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in `out` from its last checkpoint.
    pub resume: bool,
    /// Device.
    pub device: DeviceArg,
    /// Validation sequences in the probe batch (`[probe] sequences`).
    pub probe_sequences: Option<usize>,
    /// Probe every N optimizer steps too (`[probe] every_steps`).
    pub probe_every: Option<usize>,
    /// Whether and from where a missing data set is fetched (`--offline`, `--mirror`; the
    /// default fetches from the public hosts, and `KANN_OFFLINE` / `KANN_MIRROR` apply).
    pub fetch: kann_data::fetch::FetchOptions,
}

impl From<CommonArgs> for TrainArgs {
    fn from(c: CommonArgs) -> Self {
        TrainArgs {
            config: c.config,
            cell: c.cell,
            epochs: c.epochs,
            batch_size: c.batch_size,
            max_len: None,
            seed: c.seed,
            data_dir: c.data_dir,
            out: c.out,
            resume: c.resume,
            device: c.device,
            probe_sequences: c.probe_sequences,
            probe_every: c.probe_every,
            fetch: Default::default(),
        }
    }
}

impl From<ImdbArgs> for TrainArgs {
    fn from(a: ImdbArgs) -> Self {
        TrainArgs {
            max_len: a.max_len,
            ..a.common.into()
        }
    }
}

/// Train the IMDB sentiment model (paper Sec. 4.1); returns the run folder.
pub fn run_imdb(args: &TrainArgs) -> anyhow::Result<PathBuf> {
    imdb::run(args)
}

/// Train the ECG autoencoder (paper Sec. 4.2); returns the run folder.
pub fn run_ecg(args: &TrainArgs) -> anyhow::Result<PathBuf> {
    ecg::run(args)
}

/// Train the copy-problem model (App. D); returns the run folder.
pub fn run_copy(args: &TrainArgs) -> anyhow::Result<PathBuf> {
    copy::run(args)
}

/// Import a model trained in PyTorch as a run folder (`train import imdb|ecg`); returns it.
pub fn import(
    task: kann_models::config::Task,
    opts: &import::ImportOptions,
) -> anyhow::Result<PathBuf> {
    match task {
        kann_models::config::Task::Imdb => import::import_imdb(opts),
        kann_models::config::Task::Ecg => import::import_ecg_run(opts),
        kann_models::config::Task::Copy => {
            anyhow::bail!("`train import` takes imdb or ecg models, not copy-problem ones")
        }
    }
}

/// Download the public data sets into `data_dir` (default: env `KANN_DATA_DIR`, else `data/`)
/// when they are missing there.
pub fn download(
    data_dir: Option<PathBuf>,
    fetch: &kann_data::fetch::FetchOptions,
) -> anyhow::Result<()> {
    setup::download(data_dir, fetch)
}
