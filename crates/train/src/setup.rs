//! Resolving a run: config file + flags, run folder, device, data folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_models::config::{RunConfig, Task};
use kann_models::run::CONFIG_FILE;

use crate::common::Checkpoint;
use crate::{DeviceArg, TrainArgs};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// Data folder: `--data-dir`, else the config's `data_dir`, else env `KANN_DATA_DIR`, else
/// `<workspace>/../shared/data` when it exists, else `data/`.
pub fn resolve_data_dir(flag: Option<&Path>, config: Option<&Path>) -> PathBuf {
    if let Some(p) = flag.or(config) {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("KANN_DATA_DIR") {
        return PathBuf::from(p);
    }
    let shared = workspace_root().join("../shared/data");
    if shared.is_dir() {
        return shared;
    }
    PathBuf::from("data")
}

/// The default config file of a task: `configs/<task>.toml` in the current folder or the
/// workspace root.
fn default_config_path(task: Task) -> Result<PathBuf> {
    let name = format!("configs/{task}.toml");
    let local = PathBuf::from(&name);
    if local.is_file() {
        return Ok(local);
    }
    let root = workspace_root().join(&name);
    if root.is_file() {
        return Ok(root);
    }
    bail!(
        "no config given and neither {} nor {} exists",
        local.display(),
        root.display()
    )
}

/// A config path as given, else (when relative and absent) relative to the workspace root.
fn locate_config(p: &Path) -> Result<PathBuf> {
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    if p.is_relative() {
        let root = workspace_root().join(p);
        if root.is_file() {
            return Ok(root);
        }
    }
    bail!("config file {} does not exist", p.display())
}

/// A resolved run: the config (flags applied), its folder, and whether it resumes.
pub struct Resolved {
    /// Config with every flag applied.
    pub config: RunConfig,
    /// Run folder.
    pub out: PathBuf,
    /// Continue from `out/checkpoint`.
    pub resume: bool,
    /// Device for training (autodiff enabled).
    pub device: Device,
}

/// Read the config (or the run's own one when resuming), apply the flags, pick the run folder.
pub fn resolve(task: Task, args: &TrainArgs) -> Result<Resolved> {
    let (mut config, out) = if args.resume {
        let Some(out) = args.out.clone() else {
            bail!("--resume needs --out <run folder> naming the interrupted run");
        };
        let cfg_path = out.join(CONFIG_FILE);
        if !cfg_path.is_file() {
            bail!(
                "--resume: {} does not exist; nothing to resume",
                cfg_path.display()
            );
        }
        if !Checkpoint::new(&out).exists() {
            bail!(
                "--resume: {} has no checkpoint (no epoch finished); start it again without --resume",
                out.display()
            );
        }
        for (flag, given) in [
            ("--config", args.config.is_some()),
            ("--cell", args.cell.is_some()),
            ("--batch-size", args.batch_size.is_some()),
            ("--max-len", args.max_len.is_some()),
            ("--seed", args.seed.is_some()),
        ] {
            if given {
                bail!(
                    "--resume continues the run with its own config.toml; {flag} cannot change it (only --epochs, --data-dir, --device may be given)"
                );
            }
        }
        (RunConfig::load(&cfg_path)?, out)
    } else {
        let path = match &args.config {
            Some(p) => locate_config(p)?,
            None => default_config_path(task)?,
        };
        let config = RunConfig::load(&path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| task.to_string());
        let out = match &args.out {
            Some(o) => o.clone(),
            None => {
                let name = match args.cell {
                    Some(c) => format!("{stem}-{c}"),
                    None => stem,
                };
                PathBuf::from("results").join(name)
            }
        };
        if Checkpoint::new(&out).exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                out.display()
            );
        }
        (config, out)
    };
    if config.task() != task {
        bail!(
            "the config is for task `{}`, but `train {task}` was asked for",
            config.task()
        );
    }
    apply_flags(&mut config, args)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let device = make_device(args.device)?;
    Ok(Resolved {
        config,
        out,
        resume: args.resume,
        device,
    })
}

fn apply_flags(config: &mut RunConfig, args: &TrainArgs) -> Result<()> {
    if args.batch_size == Some(0) || args.epochs == Some(0) || args.max_len == Some(0) {
        bail!("--batch-size, --epochs and --max-len must be at least 1");
    }
    match config {
        RunConfig::Imdb(c) => {
            if let Some(v) = args.cell {
                c.model.cell = v;
            }
            if let Some(v) = args.epochs {
                c.train.epochs = v;
            }
            if let Some(v) = args.batch_size {
                c.train.batch_size = v;
            }
            if let Some(v) = args.max_len {
                c.data.max_len = v;
            }
            if let Some(v) = args.seed {
                c.train.seed = v;
            }
            if let Some(v) = &args.data_dir {
                c.data.data_dir = Some(v.clone());
            }
            if c.train.batch_size == 0 || c.data.max_len == 0 {
                bail!("config: batch_size and max_len must be at least 1");
            }
        }
        RunConfig::Ecg(c) => {
            if args.max_len.is_some() {
                bail!("--max-len applies to imdb only (ECG beats have 140 samples)");
            }
            if let Some(v) = args.cell {
                c.model.cell = v;
            }
            if let Some(v) = args.epochs {
                c.train.epochs = v;
            }
            if let Some(v) = args.batch_size {
                c.train.batch_size = v;
            }
            if let Some(v) = args.seed {
                c.train.seed = v;
            }
            if let Some(v) = &args.data_dir {
                c.data.data_dir = Some(v.clone());
            }
            if c.train.batch_size == 0 {
                bail!("config: batch_size must be at least 1");
            }
        }
    }
    Ok(())
}

/// The training device (with autodiff).
pub fn make_device(arg: DeviceArg) -> Result<Device> {
    match arg {
        DeviceArg::Cpu => Ok(Device::flex().autodiff()),
        DeviceArg::Wgpu => wgpu_device(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(Default::default()).autodiff())
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    bail!("this `train` was built without wgpu; rebuild with `--features wgpu` or use --device cpu")
}

/// `train download`: fetch the public data sets.
pub fn download(data_dir: Option<PathBuf>) -> Result<()> {
    let dir = kann_data::resolve_data_dir(data_dir.as_deref());
    kann_data::download::download_all(&dir, &kann_data::download::Sources::default())
        .with_context(|| format!("downloading into {}", dir.display()))?;
    println!("data ready in {}", dir.display());
    Ok(())
}
