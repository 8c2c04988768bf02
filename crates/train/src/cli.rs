//! The command line of `train`, defined once (ripgrep's shape): the clap structs, and [`run`],
//! which dispatches each command to a short library function. The binary only parses and prints
//! one error line.
//!
//! ```text
//! train imdb|ecg|copy [--config FILE] [--cell gru|lstm|rnn] [--epochs N] [--batch-size N]
//!                [--seed N] [--data-dir DIR] [--out DIR] [--resume] [--device cpu|wgpu]
//! train imdb ... [--max-len N]
//! train download [--data-dir DIR]
//! every command: [--offline] [--mirror URL]   (also KANN_OFFLINE=1, KANN_MIRROR=URL)
//! train import imdb|ecg --pytorch MODEL.pt --out DIR [--vocab FILE] [--cell C] [--key-map FROM=TO]
//! train export-data imdb|ecg --out DIR [--config FILE] [--data-dir DIR]
//! train sweep imdb|ecg --out DIR [--cells gru,lstm,rnn] [--seeds 1,2,3] [--epochs N]
//! ```

use std::path::PathBuf;

use crate::import::ImportOptions;
use crate::{CommonArgs, ImdbArgs, TrainArgs, cell_parser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kann_data::fetch::FetchOptions;
use kann_models::cells::CellKind;
use kann_models::config::Task;
use kann_models::pytorch::KeyRename;

/// Train the paper's sentiment (IMDB) and anomaly-detection (ECG5000) models.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Never download: a missing data set is an error that says what to place where.
    /// (`KANN_OFFLINE=1` too; `0`, `false`, `no`, `off` or empty leave fetching on.)
    #[arg(long, global = true, env = kann_data::fetch::OFFLINE_ENV,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new())]
    offline: bool,
    /// Fetch missing data sets from this host instead of the public ones (same paths, e.g.
    /// `URL/~amaas/data/sentiment/aclImdb_v1.tar.gz`, `URL/aeon-toolkit/ECG5000.zip`).
    #[arg(long, global = true, value_name = "URL", env = kann_data::fetch::MIRROR_ENV)]
    mirror: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Embedding -> GRU -> Linear sentiment classifier on IMDB (paper Sec. 4.1).
    Imdb(ImdbArgs),
    /// LSTM autoencoder on ECG5000, normal iff summed L1 loss < threshold (paper Sec. 4.2).
    Ecg(CommonArgs),
    /// The copy problem (App. D): one-hot input -> GRU -> Linear at every step, recall a random
    /// string after a delay and a cue (generated from the config's seed; no data files).
    Copy(CommonArgs),
    /// Import a model trained in PyTorch (a `.pt` state dict) as a run folder that `analyze`
    /// accepts, and measure it on the run's data (IMDB test accuracy; ECG at the threshold).
    Import {
        #[command(subcommand)]
        task: ImportTask,
    },
    /// Write the splits exactly as `train` feeds them (`.npy`), to train a model in PyTorch on
    /// the same inputs and import it.
    ExportData {
        /// Which data set.
        #[arg(value_enum)]
        task: TaskArg,
        /// Folder to write into.
        #[arg(long)]
        out: PathBuf,
        /// TOML config (default: `configs/<task>.toml`): split seed, limits, `max_len`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data folder (as for `train imdb|ecg`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Train every cell x seed combination into `OUT/<cell>-s<seed>/` (resumable: finished runs
    /// are skipped, interrupted ones resumed); then `analyze compare OUT/*`.
    Sweep {
        /// Which task.
        #[arg(value_enum)]
        task: TaskArg,
        /// Sweep folder.
        #[arg(long)]
        out: PathBuf,
        /// Cells, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "gru,lstm,rnn", value_parser = cell_parser())]
        cells: Vec<CellKind>,
        /// Seeds of weight init and batch order, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        seeds: Vec<u64>,
        /// Epochs per run (default: the config's).
        #[arg(long)]
        epochs: Option<usize>,
        /// TOML config (default: `configs/<task>.toml`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data folder (as for `train imdb|ecg`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Download the public data sets (IMDB archive, ECG5000 zip) that are missing, resumable and
    /// checked (`train imdb|ecg` also fetch what they need on first use).
    Download {
        /// Target folder (default: $KANN_DATA_DIR, else `data/`). Training reads the same
        /// folders, and also `../shared/data` beside the workspace when it exists.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// A task named on the command line.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum TaskArg {
    /// IMDB sentiment.
    Imdb,
    /// ECG5000 anomaly detection.
    Ecg,
    /// The copy problem.
    Copy,
}

impl From<TaskArg> for Task {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Imdb => Task::Imdb,
            TaskArg::Ecg => Task::Ecg,
            TaskArg::Copy => Task::Copy,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ImportTask {
    /// `torch.nn.Embedding` -> `GRU`/`LSTM`/`RNN` (batch_first, one layer) -> `Linear(H, 1)`,
    /// keys `emb.*`, `gru.*|lstm.*|rnn.*`, `out.*`.
    Imdb {
        #[command(flatten)]
        common: ImportArgs,
        /// The WordPiece vocabulary the model was trained with (default: the config's, else the
        /// paper's `imdb_wordpiece.vocab` in the data folder). The embedding may have more rows.
        #[arg(long)]
        vocab: Option<PathBuf>,
    },
    /// Encoder `LSTM(1, L)`, decoder `LSTM(L, D)` fed the latent at every step, `Linear(D, 1)`
    /// (or GRU/RNN), keys `enc.*`, `dec.*`, `out.*`.
    Ecg {
        #[command(flatten)]
        common: ImportArgs,
    },
}

/// Flags of `train import imdb|ecg`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The PyTorch file: `torch.save(model.state_dict(), path)` (or a whole module).
    #[arg(long)]
    pytorch: PathBuf,
    /// Run folder to create (refused when it holds a trained run).
    #[arg(long)]
    out: PathBuf,
    /// The recurrent cell to expect (default: read from the weights' gate count).
    #[arg(long, value_parser = cell_parser())]
    cell: Option<CellKind>,
    /// Rename a key prefix before import, e.g. `--key-map embedding=emb --key-map fc=out`
    /// (repeatable; whole dotted components).
    #[arg(long, value_name = "FROM=TO")]
    key_map: Vec<KeyRename>,
    /// The dictionary key holding the state dict, for checkpoints that nest it
    /// (e.g. `model_state_dict`).
    #[arg(long)]
    top_level_key: Option<String>,
    /// TOML config whose data settings the run uses (default: `configs/<task>.toml`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data folder (as for `train imdb|ecg`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl ImportArgs {
    fn options(self, vocab: Option<PathBuf>, fetch: &FetchOptions) -> ImportOptions {
        ImportOptions {
            pytorch: self.pytorch,
            out: self.out,
            vocab,
            cell: self.cell,
            key_map: self.key_map,
            top_level_key: self.top_level_key,
            config: self.config,
            data_dir: self.data_dir,
            fetch: fetch.clone(),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let fetch = FetchOptions {
        offline: cli.offline,
        mirror: cli.mirror.filter(|m| !m.trim().is_empty()),
        quiet: false,
    };
    let with_fetch = |args: TrainArgs| TrainArgs {
        fetch: fetch.clone(),
        ..args
    };
    match cli.command {
        Command::Imdb(args) => crate::run_imdb(&with_fetch(args.into())).map(|_| ()),
        Command::Ecg(args) => crate::run_ecg(&with_fetch(args.into())).map(|_| ()),
        Command::Copy(args) => crate::run_copy(&args.into()).map(|_| ()),
        Command::Import { task } => match task {
            ImportTask::Imdb { common, vocab } => {
                crate::import(Task::Imdb, &common.options(vocab, &fetch)).map(|_| ())
            }
            ImportTask::Ecg { common } => {
                crate::import(Task::Ecg, &common.options(None, &fetch)).map(|_| ())
            }
        },
        Command::ExportData {
            task,
            out,
            config,
            data_dir,
        } => crate::import::export_data(task.into(), config, data_dir, &out, &fetch),
        Command::Sweep {
            task,
            out,
            cells,
            seeds,
            epochs,
            config,
            data_dir,
        } => crate::setup::fetch_data(task.into(), config.clone(), data_dir.clone(), &fetch)
            .and_then(|()| {
                crate::sweep::run(&crate::sweep::SweepOptions {
                    task: task.into(),
                    cells,
                    seeds,
                    epochs,
                    config,
                    data_dir,
                    out,
                })
                .map(drop)
            }),
        Command::Download { data_dir } => crate::download(data_dir, &fetch),
    }
}
