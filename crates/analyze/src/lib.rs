//! Koopman analysis (KANN) of the trained models of the paper "A Koopman approach to understanding
//! sequence neural models": `analyze imdb` (Sec. 4.1, Fig. 1, Fig. 4 left) and `analyze ecg`
//! (Sec. 4.2, Figs. 2-3, Fig. 4 right, App. B).
//!
//! Both load the run folder that `train` wrote ([`kann_models::run`]), run a seeded random test
//! batch through the model with the state hooks, fit the Koopman operator
//! ([`kann_koopman::koopman_operator`], Eqs. 4-5) and write into the run folder: the figures as
//! PNG and SVG ([`kann_plot`]), `report.md` (opening with one table row per paper figure: the
//! paper's value, ours, and the command) and `report.json` ([`ImdbReport`], [`EcgReport`]).
//!
//! `analyze fixed-points` ([`fixed_points`]) sets the local analysis of an IMDB run beside the
//! Koopman one: fixed points of the cell at the zero and the mean input, their Jacobian spectra,
//! PCA and alignment with the readout, and one-step prediction of the linearisation around the
//! nearest fixed point against Koopman's (`fixed_points.json`, `fixed_points.md`).
//!
//! `analyze copy` ([`copy`]) analyses the copy problem of App. D: the Koopman operator's memory
//! against the task's delay, the fixed points at the blank and zero inputs, and which of
//! Koopman, the linearisations and the trivial predictor reproduces the network's recalled
//! string on held-out sequences (`report.json`, `report.md`).
//!
//! `analyze states FILE.npy` ([`states`]) analyses states from any model stored as `.npy`: the
//! spectrum, memory horizons (Eq. 9), eigenpair residuals and e_rel (Eq. 12), printed or written
//! as JSON.
//!
//! ```no_run
//! let common = analyze::CommonArgs { run: Some("results/imdb".into()), ..Default::default() };
//! let report = analyze::run_imdb(&common.into())?;
//! println!("agreement {:.2}%", 100.0 * report.agreement.agreement);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod common;
pub mod compare;
mod compare_out;
pub mod copy;
pub mod ecg;
pub mod fixed_points;
pub mod imdb;
pub mod intervals;
pub mod kann;
pub mod report;
pub mod report_html;
pub mod states;
pub mod training;

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

pub use common::{Accuracies, FigureFile};
pub use compare::{CompareArgs, CompareReport};
pub use copy::{CopyArgs, CopyReport};
pub use ecg::EcgReport;
pub use fixed_points::{FixedPointArgs, FixedPointsReport};
pub use imdb::ImdbReport;
pub use imdb::fit_modes::FitSteps;
pub use report::PaperRow;

/// Runs `analyze imdb` (see [`imdb::run_imdb`]) under the run folder's lock, marked
/// incomplete until it has finished (see [`guarded`]).
pub fn run_imdb(args: &ImdbArgs) -> anyhow::Result<ImdbReport> {
    guarded(kann_models::config::Task::Imdb, &args.common, |common| {
        imdb::run_imdb(&ImdbArgs {
            common,
            ..args.clone()
        })
    })
}

/// Runs `analyze ecg` (see [`ecg::run_ecg`]) under the run folder's lock, marked incomplete
/// until it has finished (see [`guarded`]).
pub fn run_ecg(args: &EcgArgs) -> anyhow::Result<EcgReport> {
    guarded(kann_models::config::Task::Ecg, &args.common, |common| {
        ecg::run_ecg(&EcgArgs {
            common,
            ..args.clone()
        })
    })
}

/// A file's length and modification time, to tell which files an analysis wrote.
type Snapshot =
    std::collections::BTreeMap<std::ffi::OsString, (u64, Option<std::time::SystemTime>)>;

fn snapshot(dir: &std::path::Path) -> Snapshot {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((e.file_name(), (m.len(), m.modified().ok())))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one analysis of a run folder so that the folder never silently mixes two analyses.
///
/// An analysis writes many files (figures, `report.md`, `report.json`) into the run folder; they
/// cannot be replaced all at once. So, holding the run folder's lock ([`kann_models::lock`]):
/// 1. it removes temporary files of killed writes and writes `analysis.incomplete`;
/// 2. it runs the analysis;
/// 3. on success it removes the marker: the report and every figure it lists are of this run;
/// 4. on failure, if nothing in the folder had changed, it removes the marker (the previous
///    analysis is untouched); otherwise it removes `report.json`/`report.md`/`report.html` (they
///    would describe figures that were partly replaced) and leaves the marker, which names the error
///    and the files this attempt wrote.
///
/// A kill leaves the marker from step 1. Whoever reads a run folder's analysis should check
/// that `analysis.incomplete` is absent. `analysis` gets `args` with the run folder resolved.
pub fn guarded<T>(
    task: kann_models::config::Task,
    args: &CommonArgs,
    analysis: impl FnOnce(CommonArgs) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    guarded_reports(task, args, &REPORT_FILES, analysis)
}

/// The reports of `analyze imdb|ecg|copy` in a run folder.
pub const REPORT_FILES: [&str; 3] = ["report.json", "report.md", report_html::PAGE];

/// [`guarded`] for an analysis whose reports (removed on a failure that changed the folder) are
/// `reports`: every `analyze` subcommand that writes into a run folder runs under this one
/// function.
pub fn guarded_reports<T>(
    task: kann_models::config::Task,
    args: &CommonArgs,
    reports: &[&str],
    analysis: impl FnOnce(CommonArgs) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use anyhow::Context;
    use kann_models::run::ANALYSIS_INCOMPLETE_FILE;
    let run = common::resolve_run_dir(args.run.as_deref(), task)?;
    let _lock = kann_models::lock::lock_run_dir(&run)?;
    if let Ok(entries) = std::fs::read_dir(&run) {
        for e in entries.flatten() {
            if kann_models::atomic::is_temp_name(&e.file_name().to_string_lossy())
                && e.path().is_file()
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let marker = run.join(ANALYSIS_INCOMPLETE_FILE);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let header = format!(
        "An analysis of this run folder was started and has not finished (`{command}`, pid {}).\n\
         Until this file is gone, {} and the figures here are not one whole analysis; run the \
         analysis again.\n",
        std::process::id(),
        reports.join(", ")
    );
    kann_models::atomic::write_atomic(&marker, header.as_bytes())
        .with_context(|| format!("marking the analysis of {} as started", run.display()))?;
    let before = snapshot(&run);
    let args = CommonArgs {
        run: Some(run.clone()),
        ..args.clone()
    };
    match analysis(args) {
        Ok(v) => {
            std::fs::remove_file(&marker)
                .with_context(|| format!("removing {}", marker.display()))?;
            Ok(v)
        }
        Err(e) => {
            let after = snapshot(&run);
            let mut written: Vec<String> = after
                .iter()
                .filter(|(name, meta)| before.get(*name) != Some(*meta))
                .map(|(name, _)| name.to_string_lossy().into_owned())
                .filter(|n| n != ANALYSIS_INCOMPLETE_FILE)
                .collect();
            written.sort();
            if written.is_empty() {
                let _ = std::fs::remove_file(&marker);
                return Err(e);
            }
            for f in reports {
                let _ = std::fs::remove_file(run.join(f));
            }
            let text = format!(
                "{header}\nIt failed: {e:#}\n\nFiles it wrote before failing (the other figures are \
                 older): {}\n{} were removed.\n",
                written.join(", "),
                reports.join(", ")
            );
            let _ = kann_models::atomic::write_atomic(&marker, text.as_bytes());
            Err(e.context(format!(
                "the analysis in {} is incomplete ({} marks it)",
                run.display(),
                marker.display()
            )))
        }
    }
}

/// The flags `analyze imdb` and `analyze ecg` share (flattened into [`ImdbArgs`] and
/// [`EcgArgs`], so that each command's `--help` lists only its own flags).
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Run folder written by `train --out DIR` (default: the task's newest run, by the time of its
    /// model.bpk, under ./results/ of the current folder, else under results/ of the workspace
    /// this binary was built from).
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Data folder (holds `aclImdb_v1.tar.gz`, `ECG5000/`); default as for `train`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Size of the random test batch the operator is fitted on (64 in the paper).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Rank of the Koopman basis (default: the reference's min(#pairs, k) - 1).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Seed of the random batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap replicates over the analysis batch's sequences for the intervals of the
    /// spectrum (the count of |λ| > 0.99, the leading |λ| and τ); 0 skips them.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
}

impl Default for CommonArgs {
    /// Every flag at its clap default ([`defaults`]).
    fn default() -> Self {
        defaults()
    }
}

/// The value of a clap argument struct when no flag is given: an empty command line parsed
/// through clap, so that the `#[arg(default_value_t = ...)]` attributes are the one place the
/// defaults live (the `Default` impls of the argument structs call this).
///
/// # Panics
/// If `T` has a required argument (a programming error; every argument struct this is used
/// for has none, as the unit test checks).
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults").no_binary_name(true));
    command
        .try_get_matches_from(std::iter::empty::<String>())
        .and_then(|m| T::from_arg_matches(&m))
        .unwrap_or_else(|e| panic!("argument defaults of {}: {e}", std::any::type_name::<T>()))
}

impl CommonArgs {
    /// The start of the `analyze <task>` command line that reproduces a report.
    fn command(&self, task: &str, run: &std::path::Path) -> String {
        let mut c = format!(
            "cargo run --release -p analyze -- {task} --run {} --batch {} --seed {}",
            run.display(),
            self.batch,
            self.seed
        );
        if let Some(r) = self.rank {
            let _ = write!(c, " --rank {r}");
        }
        c
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.batch < 2 {
            anyhow::bail!("--batch must be at least 2, got {}", self.batch);
        }
        Ok(())
    }
}

/// Arguments of `analyze imdb`.
#[derive(Debug, Clone, Args)]
pub struct ImdbArgs {
    /// The flags both analyses share.
    #[command(flatten)]
    pub common: CommonArgs,
    /// At most this many reviews in the contextual ("not bad"/"not good") batch.
    #[arg(long, default_value_t = 256)]
    pub context_cap: usize,
    /// Reviews per batch when streaming the test set for the agreement (Fig. 4 left).
    #[arg(long, default_value_t = 64)]
    pub stream_batch: usize,
    /// Fit the operator on the reviews' real steps, or on every step of the batch padded to
    /// max_len (the authors' pipeline). Both spectra are reported; this picks the one the rest
    /// of the analysis uses.
    #[arg(long, value_enum, default_value_t = FitSteps::Real)]
    pub fit_steps: FitSteps,
    /// Word statistics: a word's polarity is used when it occurs at least this many times in
    /// the training reviews.
    #[arg(long, default_value_t = 50)]
    pub min_word_count: usize,
    /// Word statistics: a word is scored when it occurs at least this many times in the test
    /// reviews.
    #[arg(long, default_value_t = 10)]
    pub min_word_test_count: usize,
}

impl Default for ImdbArgs {
    fn default() -> Self {
        CommonArgs::default().into()
    }
}

impl From<CommonArgs> for ImdbArgs {
    /// The shared flags as given, the IMDB ones at their defaults.
    fn from(common: CommonArgs) -> Self {
        ImdbArgs {
            common,
            ..defaults()
        }
    }
}

impl ImdbArgs {
    /// The `analyze imdb` command line that reproduces a report.
    pub fn command(&self, run: &std::path::Path) -> String {
        let mut c = self.common.command("imdb", run);
        if self.context_cap != 256 {
            let _ = write!(c, " --context-cap {}", self.context_cap);
        }
        if self.fit_steps != FitSteps::Real {
            let _ = write!(c, " --fit-steps {}", self.fit_steps);
        }
        if (self.min_word_count, self.min_word_test_count) != (50, 10) {
            let _ = write!(
                c,
                " --min-word-count {} --min-word-test-count {}",
                self.min_word_count, self.min_word_test_count
            );
        }
        c
    }

    pub(crate) fn check(&self) -> anyhow::Result<()> {
        self.common.check()?;
        if self.stream_batch == 0 {
            anyhow::bail!("--stream-batch must be at least 1");
        }
        if self.min_word_count == 0 || self.min_word_test_count == 0 {
            anyhow::bail!("--min-word-count and --min-word-test-count must be at least 1");
        }
        if self.context_cap < 2 {
            anyhow::bail!("--context-cap must be at least 2, got {}", self.context_cap);
        }
        Ok(())
    }
}

/// Arguments of `analyze ecg`.
#[derive(Debug, Clone, Args)]
pub struct EcgArgs {
    /// The flags both analyses share.
    #[command(flatten)]
    pub common: CommonArgs,
    /// How dominance ranks are grouped into the sets of Fig. 2 (conjugate pairs, or the
    /// authors' consecutive ranks).
    #[arg(long, value_enum, default_value_t = ecg::PairingRule::Conjugate)]
    pub pairing: ecg::PairingRule,
    /// Skip the Fig. 2 robustness sweep over batch sizes 20/64/145 x 3 draws.
    #[arg(long)]
    pub skip_robustness: bool,
}

impl Default for EcgArgs {
    fn default() -> Self {
        CommonArgs::default().into()
    }
}

impl From<CommonArgs> for EcgArgs {
    /// The shared flags as given, the ECG ones at their defaults.
    fn from(common: CommonArgs) -> Self {
        EcgArgs {
            common,
            ..defaults()
        }
    }
}

impl EcgArgs {
    /// The `analyze ecg` command line that reproduces a report.
    pub fn command(&self, run: &std::path::Path) -> String {
        let mut c = self.common.command("ecg", run);
        if self.pairing != ecg::PairingRule::Conjugate {
            let _ = write!(c, " --pairing {}", self.pairing);
        }
        if self.skip_robustness {
            c.push_str(" --skip-robustness");
        }
        c
    }

    pub(crate) fn check(&self) -> anyhow::Result<()> {
        self.common.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = CommonArgs::default();
        assert_eq!(
            (c.run, c.data_dir, c.batch, c.rank, c.seed, c.bootstrap),
            (None, None, 64, None, 0, 200)
        );
        let i = ImdbArgs::default();
        assert_eq!(i.common.batch, 64);
        assert_eq!(
            (
                i.context_cap,
                i.stream_batch,
                i.fit_steps,
                i.min_word_count,
                i.min_word_test_count
            ),
            (256, 64, FitSteps::Real, 50, 10)
        );
        let e = EcgArgs::default();
        assert_eq!(e.pairing, ecg::PairingRule::Conjugate);
        assert!(!e.skip_robustness);
        let k = CopyArgs::default();
        assert_eq!(k.common.bootstrap, 200);
        assert_eq!((k.held_out, k.starts, k.max_iter), (256, 128, 200));
        assert_eq!((k.max_q, k.unique_tol), (1e-6, 1e-3));
        let f = fixed_points::FixedPointArgs::default();
        assert_eq!((f.stream_batch, f.starts, f.max_iter), (64, 128, 100));
        assert_eq!((f.max_q, f.unique_tol), (1e-10, 1e-3));
        // The shared flags as given, the task's at their defaults.
        let given = CommonArgs {
            batch: 7,
            seed: 3,
            ..CommonArgs::default()
        };
        let i = ImdbArgs::from(given.clone());
        assert_eq!((i.common.batch, i.common.seed, i.context_cap), (7, 3, 256));
        let e = EcgArgs::from(given);
        assert_eq!(
            (e.common.batch, e.pairing),
            (7, ecg::PairingRule::Conjugate)
        );
    }
}
