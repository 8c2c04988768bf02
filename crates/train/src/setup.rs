//! Resolving a run: config file + flags (checked), run folder (created and locked), device, data
//! folder; undoing a failed start.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use kann_data::fetch::FetchOptions;
use kann_data::{locate_data_dir, workspace_root};
use kann_models::cells::CellKind;
use kann_models::config::{RunConfig, Task};
use kann_models::lock::{RunLock, lock_run_dir};
use kann_models::run::{CONFIG_FILE, FolderContent, LOCK_FILE};

use crate::common::Checkpoint;
use crate::{DeviceArg, TrainArgs};

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
    if let Ok(meta) = std::fs::metadata(p) {
        // Exists but is a folder, pipe or device (`/dev/zero`): say so, not "does not exist".
        bail!(
            "config file {} is not a regular file{}",
            p.display(),
            if meta.is_dir() {
                " (it is a folder)"
            } else {
                ""
            }
        )
    }
    bail!("config file {} does not exist", p.display())
}

/// A resolved run: the config (flags applied and checked), its folder (locked), and whether it
/// resumes.
pub struct Resolved {
    /// Config with every flag applied.
    pub config: RunConfig,
    /// Run folder.
    pub out: PathBuf,
    /// Continue from `out/checkpoint`.
    pub resume: bool,
    /// Device for training (autodiff enabled).
    pub device: Device,
    /// This process's lock on the run folder (held until the run ends).
    pub lock: RunLock,
    /// Undoes a fresh start that fails before its first checkpoint.
    pub guard: StartGuard,
}

/// Remembers what a fresh start found in its run folder, so that a start that fails before its
/// first epoch is checkpointed leaves nothing behind: the folder is removed if this run created
/// it, else only the files this run added.
pub struct StartGuard {
    out: PathBuf,
    created: bool,
    before: Option<HashSet<OsString>>,
}

impl StartGuard {
    /// Call before anything (the lock file included) is written into `out`.
    fn new(out: &Path, created: bool, fresh: bool) -> Self {
        let before = (fresh && !created).then(|| {
            std::fs::read_dir(out)
                .map(|es| es.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default()
        });
        Self {
            out: out.to_path_buf(),
            created,
            before,
        }
    }

    fn inert(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            created: false,
            before: None,
        }
    }

    /// After a failed run: remove the half-made run folder (or the files this run added) when
    /// no epoch was checkpointed. Returns what was removed, for the message.
    pub fn undo_failed_start(&self) -> Option<String> {
        if !(self.created || self.before.is_some()) || Checkpoint::new(&self.out).exists() {
            return None;
        }
        if self.created {
            return std::fs::remove_dir_all(&self.out)
                .ok()
                .map(|()| format!("removed the half-made run folder {}", self.out.display()));
        }
        let before = self.before.as_ref()?;
        let mut removed = Vec::new();
        for entry in std::fs::read_dir(&self.out).ok()?.flatten() {
            let name = entry.file_name();
            if before.contains(&name) {
                continue;
            }
            let path = entry.path();
            let ok = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if ok.is_ok() {
                removed.push(name.to_string_lossy().into_owned());
            }
        }
        (!removed.is_empty()).then(|| {
            format!(
                "removed what this start had written into {}: {}",
                self.out.display(),
                removed.join(", ")
            )
        })
    }
}

/// The config of a new run of `task`: `--config` (else `configs/<task>.toml`) with the flags
/// applied and checked, and the file it came from.
pub fn load_config(task: Task, args: &TrainArgs) -> Result<(RunConfig, PathBuf)> {
    let path = match &args.config {
        Some(p) => locate_config(p)?,
        None => default_config_path(task)?,
    };
    let mut config = RunConfig::load(&path)?;
    check_task(&config, task)?;
    apply_flags(&mut config, args)?;
    Ok((config, path))
}

/// Read the config (or the run's own one when resuming), apply and check the flags, then create
/// and lock the run folder. Nothing is written into the folder here.
pub fn resolve(task: Task, args: &TrainArgs) -> Result<Resolved> {
    let device = make_device(args.device)?;
    if args.resume {
        resolve_resume(task, args, device)
    } else {
        resolve_fresh(task, args, device)
    }
}

/// `--resume`: locks the interrupted run named by `--out`, reloads its own `config.toml` (only
/// `--epochs`, `--data-dir`, `--device` may be given) and marks its old analysis stale.
fn resolve_resume(task: Task, args: &TrainArgs, device: Device) -> Result<Resolved> {
    let Some(out) = args.out.clone() else {
        bail!("--resume needs --out <run folder> naming the interrupted run");
    };
    check_resume_flags(args)?;
    if !out.is_dir() {
        bail!(
            "--resume: {} is not a run folder; nothing to resume",
            out.display()
        );
    }
    let lock = lock_run_dir(&out)?;
    announce_takeover(&lock, &out);
    kann_models::testhook::point("locked");
    let cfg_path = out.join(CONFIG_FILE);
    if !cfg_path.is_file() {
        bail!(
            "--resume: {} does not exist; nothing to resume",
            cfg_path.display()
        );
    }
    if !Checkpoint::new(&out).exists() {
        bail!(
            "--resume: {} has no checkpoint (no epoch finished): nothing to resume; remove the \
             folder (`rm -r {}`) and start again without --resume",
            out.display(),
            out.display()
        );
    }
    let mut config = RunConfig::load(&cfg_path)?;
    check_task(&config, task)?;
    apply_flags(&mut config, args)?;
    ensure_data(&config, &args.fetch)?;
    // The old analysis describes the old weights: mark it before training on.
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    if kann_models::run::mark_analysis_stale(
        &out,
        &format!("training was resumed after it (`{command}`)"),
    )? {
        println!(
            "note: the analysis in {} describes the earlier weights; {} marks it stale",
            out.display(),
            kann_models::run::ANALYSIS_INCOMPLETE_FILE
        );
    }
    let guard = StartGuard::inert(&out);
    Ok(Resolved {
        config,
        out,
        resume: true,
        device,
        lock,
        guard,
    })
}

/// Refuses the flags that would change a resumed run's config.
fn check_resume_flags(args: &TrainArgs) -> Result<()> {
    for (flag, given) in [
        ("--config", args.config.is_some()),
        ("--cell", args.cell.is_some()),
        ("--batch-size", args.batch_size.is_some()),
        ("--max-len", args.max_len.is_some()),
        ("--seed", args.seed.is_some()),
        ("--probe-sequences", args.probe_sequences.is_some()),
        ("--probe-every", args.probe_every.is_some()),
    ] {
        if given {
            bail!(
                "--resume continues the run with its own config.toml; {flag} cannot change it (only --epochs, --data-dir, --device may be given)"
            );
        }
    }
    Ok(())
}

/// A fresh start: the config with the flags applied, its data fetched, then the run folder
/// created (if new) and locked, and refused unless it is empty.
fn resolve_fresh(task: Task, args: &TrainArgs, device: Device) -> Result<Resolved> {
    let (config, path) = load_config(task, args)?;
    // Fetched before the run folder is made, so a failed fetch leaves no half-made run.
    ensure_data(&config, &args.fetch)?;
    let out = default_out(task, args, &path);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let created = match std::fs::create_dir(&out) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && out.is_dir() => false,
        Err(e) => return Err(e).with_context(|| format!("creating {}", out.display())),
    };
    let guard = StartGuard::new(&out, created, true);
    let lock = match lock_run_dir(&out) {
        Ok(l) => l,
        Err(e) => {
            if created {
                let _ = std::fs::remove_dir(&out);
            }
            return Err(e.into());
        }
    };
    announce_takeover(&lock, &out);
    kann_models::testhook::point("locked");
    // Checked under the lock, so that a run still writing here is named as the lock holder.
    if let Some(e) = refuse_occupied(&out)? {
        // Take back the run.lock this start added, leaving the folder as it was found.
        if !guard
            .before
            .as_ref()
            .is_some_and(|b| b.contains(OsStr::new(LOCK_FILE)))
        {
            drop(lock);
            let _ = std::fs::remove_file(out.join(LOCK_FILE));
        }
        return Err(e);
    }
    Ok(Resolved {
        config,
        out,
        resume: false,
        device,
        lock,
        guard,
    })
}

/// The run folder of a fresh start: `--out`, else `results/<config stem>[-<cell>]`.
fn default_out(task: Task, args: &TrainArgs, config_path: &Path) -> PathBuf {
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| task.to_string());
    match &args.out {
        Some(o) => o.clone(),
        None => {
            let name = match args.cell {
                Some(c) => format!("{stem}-{c}"),
                None => stem,
            };
            PathBuf::from("results").join(name)
        }
    }
}

/// Why a fresh start may not write into `out`, if it may not. One rule
/// (kann_models::run::classify_run_dir): a fresh start writes only into an empty folder; a run
/// (even one whose checkpoint was lost, or an imported one) and files kann did not write are
/// never replaced.
fn refuse_occupied(out: &Path) -> Result<Option<anyhow::Error>> {
    Ok(match kann_models::run::classify_run_dir(out)? {
        FolderContent::Empty => None,
        FolderContent::Run { resumable: true } => Some(anyhow::anyhow!(
            "{} already holds a run; pass --resume to continue it or choose another --out",
            out.display()
        )),
        FolderContent::Run { resumable: false } => Some(anyhow::anyhow!(
            "{} already holds a run with no checkpoint to resume (finished, imported, or stopped before its first epoch: it has {CONFIG_FILE}); \
             choose another --out, or delete that folder to start it again",
            out.display()
        )),
        FolderContent::Foreign(names) => Some(anyhow::anyhow!(
            "{} holds files kann did not write ({}); choose a new or empty folder for --out",
            out.display(),
            names.join(", ")
        )),
    })
}

/// Resolves the run ([`resolve`]), trains it with `train`, and returns its folder; a failed start
/// is undone ([`StartGuard::undo_failed_start`], said on stderr). The lock is held throughout.
pub fn run_resolved(
    task: Task,
    args: &TrainArgs,
    train: impl FnOnce(&Resolved) -> Result<()>,
) -> Result<PathBuf> {
    let resolved = resolve(task, args)?;
    if let Err(e) = train(&resolved) {
        if let Some(note) = resolved.guard.undo_failed_start() {
            eprintln!("note: {note}");
        }
        return Err(e);
    }
    drop(resolved.lock);
    Ok(resolved.out)
}

fn announce_takeover(lock: &RunLock, out: &Path) {
    if let Some(h) = &lock.took_over {
        println!(
            "note: {} was locked by pid {} (`{}`), which is no longer running; taking it over",
            out.display(),
            h.pid,
            h.command
        );
    }
}

fn check_task(config: &RunConfig, task: Task) -> Result<()> {
    if config.task() != task {
        bail!(
            "the config is for task `{}`, but `train {task}` was asked for",
            config.task()
        );
    }
    Ok(())
}

/// The flags every task has: `--cell`, `--epochs`, `--batch-size`, `--seed`.
fn shared_flags(
    args: &TrainArgs,
    cell: &mut CellKind,
    epochs: &mut usize,
    batch_size: &mut usize,
    seed: &mut u64,
) {
    if let Some(v) = args.cell {
        *cell = v;
    }
    if let Some(v) = args.epochs {
        *epochs = v;
    }
    if let Some(v) = args.batch_size {
        *batch_size = v;
    }
    if let Some(v) = args.seed {
        *seed = v;
    }
}

/// Apply the command-line flags to `config` and check every value's range.
fn apply_flags(config: &mut RunConfig, args: &TrainArgs) -> Result<()> {
    for (flag, v) in [
        ("--batch-size", args.batch_size),
        ("--epochs", args.epochs),
        ("--max-len", args.max_len),
    ] {
        if v == Some(0) {
            bail!("{flag} 0: must be at least 1");
        }
    }
    match config {
        RunConfig::Imdb(c) => {
            shared_flags(
                args,
                &mut c.model.cell,
                &mut c.train.epochs,
                &mut c.train.batch_size,
                &mut c.train.seed,
            );
            if let Some(v) = args.max_len {
                c.data.max_len = v;
            }
            if let Some(v) = &args.data_dir {
                c.data.data_dir = Some(v.clone());
            }
        }
        RunConfig::Ecg(c) => {
            if args.max_len.is_some() {
                bail!("--max-len applies to imdb only (ECG beats have 140 samples)");
            }
            shared_flags(
                args,
                &mut c.model.cell,
                &mut c.train.epochs,
                &mut c.train.batch_size,
                &mut c.train.seed,
            );
            if let Some(v) = &args.data_dir {
                c.data.data_dir = Some(v.clone());
            }
        }
        RunConfig::Copy(c) => {
            if args.max_len.is_some() {
                bail!("--max-len applies to imdb only (set [data] len and delay of the copy task)");
            }
            shared_flags(
                args,
                &mut c.model.cell,
                &mut c.train.epochs,
                &mut c.train.batch_size,
                &mut c.train.seed,
            );
        }
    }
    if let Some(v) = args.probe_sequences {
        config.probe_mut().sequences = v;
    }
    if let Some(v) = args.probe_every {
        config.probe_mut().every_steps = v;
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("config (with the command-line flags applied): {e}"))
}

/// Where a run starts.
pub enum Start {
    /// From scratch (no `--resume`).
    Fresh,
    /// From the verified checkpoint (`--resume`).
    Resume(crate::common::Restored),
    /// A resumed run that has already trained every epoch: nothing to do (said on stdout).
    Finished,
}

/// With `--resume`, reads and verifies the checkpoint before anything in the folder changes,
/// and says "nothing to do" when the run has already trained all `epochs`.
pub fn restore_point(
    checkpoint: &Checkpoint,
    out: &Path,
    resume: bool,
    epochs: usize,
) -> Result<Start> {
    if !resume {
        return Ok(Start::Fresh);
    }
    let r = checkpoint.load()?;
    let done = r.state.epochs_done;
    if finished(out, done, epochs)? {
        println!(
            "nothing to do: {} finished all {done} epochs (see its summary.json); \
             pass --epochs N with N > {done} to train further",
            out.display()
        );
        return Ok(Start::Finished);
    }
    Ok(Start::Resume(r))
}

/// With `--resume`: whether the run already finished every epoch of `epochs` (its
/// `summary.json` was written after the last one). `--epochs` below the epochs done is an error.
fn finished(out: &Path, epochs_done: usize, epochs: usize) -> Result<bool> {
    if epochs < epochs_done {
        bail!(
            "{} has already trained {epochs_done} epochs; with --resume, --epochs is the new total and must be at least {epochs_done} (it is {epochs})",
            out.display()
        );
    }
    if epochs > epochs_done {
        return Ok(false);
    }
    let summary = out.join(kann_models::run::SUMMARY_FILE);
    let done = std::fs::read_to_string(&summary)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("epochs").and_then(|e| e.as_u64()))
        == Some(epochs_done as u64);
    Ok(done)
}

/// With `--resume`: write `config.toml` only when the flags changed it (e.g. a new `--epochs`).
pub fn update_config(out: &Path, config: &RunConfig) -> Result<()> {
    let path = out.join(CONFIG_FILE);
    if RunConfig::load(&path).ok().as_ref() != Some(config) {
        kann_models::integrity::write_checked(&path, config.to_toml_string()?.as_bytes())?;
    }
    Ok(())
}

/// Remove the temporary files of killed writes in the run folder and stale checkpoint folders.
/// Runs under the lock, after the checkpoint was read back successfully.
pub fn remove_leftovers(out: &Path) -> Result<usize> {
    let mut n = kann_models::atomic::remove_temp_files(out)?;
    n += Checkpoint::new(out).remove_stale(None)?;
    Ok(n)
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

/// `train download`: fetch whichever public data set is missing from the data folder.
pub fn download(data_dir: Option<PathBuf>, fetch: &FetchOptions) -> Result<()> {
    let dir = kann_data::resolve_data_dir(data_dir.as_deref());
    let report = kann_data::download::download_all(&dir, fetch)
        .with_context(|| format!("downloading into {}", dir.display()))?;
    println!(
        "data ready in {} (IMDB: {:?}, ECG5000: {:?})",
        dir.display(),
        report.imdb,
        report.ecg
    );
    Ok(())
}

/// First use fetches: makes sure the data set of `config` is in its data folder
/// ([`kann_data::locate_data_dir`] of the config's `data_dir`, flags applied), downloading it
/// there when missing ([`kann_data::fetch`]). The copy problem needs no data.
pub fn ensure_data(config: &RunConfig, fetch: &FetchOptions) -> Result<()> {
    match config {
        RunConfig::Imdb(c) => {
            kann_data::fetch::ensure_imdb(
                &locate_data_dir(None, c.data.data_dir.as_deref()),
                fetch,
            )?;
        }
        RunConfig::Ecg(c) => {
            kann_data::fetch::ensure_ecg(
                &locate_data_dir(None, c.data.data_dir.as_deref()),
                fetch,
            )?;
        }
        RunConfig::Copy(_) => {}
    }
    Ok(())
}

/// [`ensure_data`] for the config a command would use (`config`, else `configs/<task>.toml`,
/// with `data_dir` applied): `train sweep` fetches once before its runs.
pub fn fetch_data(
    task: Task,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    fetch: &FetchOptions,
) -> Result<()> {
    let args = TrainArgs {
        config,
        data_dir,
        ..TrainArgs::default()
    };
    ensure_data(&load_config(task, &args)?.0, fetch)
}
