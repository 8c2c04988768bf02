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
//! ```no_run
//! let args = analyze::AnalyzeArgs { run: Some("results/imdb".into()), ..Default::default() };
//! let report = analyze::run_imdb(&args)?;
//! println!("agreement {:.2}%", 100.0 * report.agreement.agreement);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod common;
pub mod ecg;
pub mod imdb;
pub mod kann;
pub mod report;

use std::path::PathBuf;

use clap::Args;

pub use common::{Accuracies, FigureFile};
pub use ecg::{EcgReport, run_ecg};
pub use imdb::ImdbReport;
pub use imdb::fit_modes::FitSteps;
pub use imdb::run_imdb;
pub use report::PaperRow;

/// Arguments of `analyze imdb` and `analyze ecg`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Run folder written by `train --out DIR` (default: the task's newest run under results/).
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
    /// IMDB: at most this many reviews in the contextual ("not bad"/"not good") batch.
    #[arg(long, default_value_t = 256)]
    pub context_cap: usize,
    /// IMDB: reviews per batch when streaming the test set for the agreement (Fig. 4 left).
    #[arg(long, default_value_t = 64)]
    pub stream_batch: usize,
    /// IMDB: fit the operator on the reviews' real steps, or on every step of the batch padded
    /// to max_len (the authors' pipeline). Both spectra are reported; this picks the one the
    /// rest of the analysis uses.
    #[arg(long, value_enum, default_value_t = FitSteps::Real)]
    pub fit_steps: FitSteps,
    /// IMDB word statistics: a word's polarity is used when it occurs at least this many times
    /// in the training reviews.
    #[arg(long, default_value_t = 50)]
    pub min_word_count: usize,
    /// IMDB word statistics: a word is scored when it occurs at least this many times in the
    /// test reviews.
    #[arg(long, default_value_t = 10)]
    pub min_word_test_count: usize,
    /// ECG: how dominance ranks are grouped into the sets of Fig. 2 (conjugate pairs, or the
    /// authors' consecutive ranks).
    #[arg(long, value_enum, default_value_t = ecg::PairingRule::Conjugate)]
    pub pairing: ecg::PairingRule,
    /// ECG: skip the Fig. 2 robustness sweep over batch sizes 20/64/145 x 3 draws.
    #[arg(long)]
    pub skip_robustness: bool,
}

impl Default for AnalyzeArgs {
    fn default() -> Self {
        AnalyzeArgs {
            run: None,
            data_dir: None,
            batch: 64,
            rank: None,
            seed: 0,
            context_cap: 256,
            stream_batch: 64,
            fit_steps: FitSteps::Real,
            min_word_count: 50,
            min_word_test_count: 10,
            pairing: ecg::PairingRule::Conjugate,
            skip_robustness: false,
        }
    }
}

impl AnalyzeArgs {
    /// The `analyze` command line that reproduces a report.
    pub fn command(&self, task: &str, run: &std::path::Path) -> String {
        let mut c = format!(
            "cargo run --release -p analyze -- {task} --run {} --batch {} --seed {}",
            run.display(),
            self.batch,
            self.seed
        );
        if let Some(r) = self.rank {
            c.push_str(&format!(" --rank {r}"));
        }
        if task == "ecg" && self.pairing != ecg::PairingRule::Conjugate {
            c.push_str(&format!(" --pairing {}", self.pairing));
        }
        if task == "ecg" && self.skip_robustness {
            c.push_str(" --skip-robustness");
        }
        if task == "imdb" && self.context_cap != 256 {
            c.push_str(&format!(" --context-cap {}", self.context_cap));
        }
        if task == "imdb" && self.fit_steps != FitSteps::Real {
            c.push_str(&format!(" --fit-steps {}", self.fit_steps));
        }
        if task == "imdb" && (self.min_word_count, self.min_word_test_count) != (50, 10) {
            c.push_str(&format!(
                " --min-word-count {} --min-word-test-count {}",
                self.min_word_count, self.min_word_test_count
            ));
        }
        c
    }

    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.batch < 2 {
            anyhow::bail!("--batch must be at least 2, got {}", self.batch);
        }
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
