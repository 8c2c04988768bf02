//! `report.json` and `report.md`: the paper's numbers next to ours, one table row per paper
//! figure, plus every number the analysis measured. Both files are written atomically.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use kann_koopman::io::{write_atomic, write_json_atomic};
use serde::{Deserialize, Serialize};
use std::io::Write;

use crate::common::FigureFile;
use crate::kann::ErelSummary;

/// One row of the table that opens `report.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRow {
    /// The paper figure or section, e.g. `Fig. 4 (left)`.
    pub figure: String,
    /// The quantity compared.
    pub quantity: String,
    /// The paper's value.
    pub paper: String,
    /// Our value.
    pub ours: String,
    /// The command (and config) that produced our value.
    pub produced_by: String,
}

impl PaperRow {
    /// A row from its five cells.
    pub fn new(
        figure: &str,
        quantity: &str,
        paper: impl Into<String>,
        ours: impl Into<String>,
        produced_by: impl Into<String>,
    ) -> Self {
        PaperRow {
            figure: figure.to_string(),
            quantity: quantity.to_string(),
            paper: paper.into(),
            ours: ours.into(),
            produced_by: produced_by.into(),
        }
    }
}

/// Settings of one analysis run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The run folder analysed.
    pub run_dir: String,
    /// The data folder read.
    pub data_dir: String,
    /// The command that reproduces this report.
    pub command: String,
    /// Seed of the random batch.
    pub seed: u64,
    /// Size of the analysis batch.
    pub batch: usize,
    /// Rank of the fit (`r`, the number of basis vectors).
    pub rank: usize,
    /// Whether the rank was the reference default (`min(#pairs, k) − 1`).
    pub rank_is_default: bool,
    /// Hidden size `k` of the analysed states.
    pub hidden: usize,
    /// The recurrent cell of the model.
    pub cell: String,
}

/// Confusion counts of a binary classifier against the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// True positives.
    pub tp: u64,
    /// True negatives.
    pub tn: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
}

impl Confusion {
    /// Adds one decision.
    pub fn add(&mut self, predicted_positive: bool, label_positive: bool) {
        match (predicted_positive, label_positive) {
            (true, true) => self.tp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
        }
    }
    /// Accuracy `(tp + tn) / total`.
    pub fn accuracy(&self) -> f64 {
        let total = self.tp + self.tn + self.fp + self.fn_;
        (self.tp + self.tn) as f64 / total.max(1) as f64
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown table of paper rows.
pub fn table_markdown(rows: &[PaperRow]) -> String {
    let mut out = String::from("| Paper figure | Quantity | Paper | Ours | Produced by |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&r.figure),
            cell(&r.quantity),
            cell(&r.paper),
            cell(&r.ours),
            cell(&r.produced_by)
        );
    }
    out
}

/// Writes `report.md` (the verdict table of `claims` first, then the title, the table of paper
/// rows and `body`) and `report.json` (`value`) into `dir`.
pub fn write_reports<T: Serialize>(
    dir: &Path,
    title: &str,
    claims: &[kann_plot::Claim],
    rows: &[PaperRow],
    body: &str,
    value: &T,
) -> Result<()> {
    let md = crate::report_html::markdown_with_verdicts(
        claims,
        &format!("# {title}\n\n{}\n{body}", table_markdown(rows)),
    );
    write_atomic(dir.join("report.md"), |w| w.write_all(md.as_bytes()))?;
    write_json_atomic(dir.join("report.json"), value)?;
    Ok(())
}

/// A Markdown list of figures.
pub fn figures_markdown(figures: &[FigureFile], html: &[String]) -> String {
    let mut out = String::from("## Figures\n\n");
    for f in figures {
        let _ = writeln!(
            out,
            "- `{}` / `{}` ({}x{}): {}",
            f.png, f.svg, f.width, f.height, f.caption
        );
    }
    for h in html {
        let _ = writeln!(out, "- `{h}`: the shaded reviews as a web page");
    }
    out.push('\n');
    out
}

/// Formats `e_rel` with its target count.
pub fn fmt_erel(e: &ErelSummary) -> String {
    format!("{:.4} ({} targets)", e.e_rel, e.targets)
}

/// Formats an eigenvalue (`0.9950+0.0300i`; one formatter for the reports and the Python
/// figures' captions, in kann-plot).
pub use kann_plot::fmt_lambda;

/// Formats a memory horizon `τ` (Eq. 9) of an eigenvalue of modulus `modulus`: a number, `inf`
/// for `|λ| = 1` (infinite memory), or `inf (unstable)` for `|λ| > 1`, whose powers grow.
pub fn fmt_tau(t: Option<f64>, modulus: f64) -> String {
    match t {
        Some(t) => format!("{t:.0}"),
        None if modulus > 1.0 + 1e-6 => "inf (unstable: modulus > 1)".to_string(),
        None => "inf".to_string(),
    }
}
