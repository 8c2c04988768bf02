//! `report.json` and `report.md`: the paper's numbers next to ours, one table row per paper
//! figure, plus every number the analysis measured. Both files are written atomically.

use std::path::Path;

use anyhow::Result;
use kann_koopman::io::{write_atomic, write_json_atomic};
use serde::{Deserialize, Serialize};
use std::io::Write;

use crate::common::{Accuracies, FigureFile};
use crate::kann::{EigenSummary, ErelSummary};

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

/// A dominant conjugate pair of the ECG fit (Fig. 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgPair {
    /// The pair, 1-based (a single real eigenvector if there were not enough pairs).
    pub set: Vec<usize>,
    /// Eigenvalue `(re, im)` (positive imaginary part).
    pub eigenvalue: (f64, f64),
    /// Dominance score (mean over the batch of `Σ_t |H~ V|`).
    pub dominance: f64,
    /// Memory horizon `τ(0.01)`.
    pub tau: Option<f64>,
    /// The feature of the decoded median: `min`/`max` and its step `t` (1-based).
    pub feature: String,
    /// 1-based step of the feature.
    pub feature_t: usize,
}

/// Fig. 3 (right): cumulative silhouette `σ(t)` at the last step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilhouetteSummary {
    /// Normal + anomalous beats.
    pub beats: usize,
    /// `σ` on `H B` at `t = n`.
    pub sigma: f64,
    /// `σ_PCA` (first 5 principal components of `H B`).
    pub sigma_pca: f64,
    /// `σ_Koopman` (5 most dominant Koopman eigenvectors).
    pub sigma_koopman: f64,
    /// The 5 eigenvectors, 1-based.
    pub koopman_set: Vec<usize>,
}

/// Fig. 4 (right) on the normal test beats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgAgreement {
    /// How the KANN latent was obtained.
    pub method: String,
    /// Normal test beats.
    pub beats: usize,
    /// Beats the network classifies normal (loss < threshold).
    pub network_normal: usize,
    /// Beats classified normal from the KANN latent.
    pub kann_normal: usize,
    /// Share with the same decision.
    pub agreement: f64,
    /// Median summed L1 loss of the network.
    pub network_median_loss: f64,
    /// Median summed L1 loss from the KANN latent.
    pub kann_median_loss: f64,
}

/// The network's accuracy at the threshold on the test beats, and its ROC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgThresholdAccuracy {
    /// The threshold (26 in the paper).
    pub threshold: f64,
    /// Normal test beats.
    pub normal_beats: usize,
    /// Anomalous test beats.
    pub anomalous_beats: usize,
    /// Share of normal beats below the threshold.
    pub normal: f64,
    /// Share of anomalous beats at or above the threshold.
    pub anomalous: f64,
    /// Over all test beats.
    pub overall: f64,
    /// Area under the ROC of "anomalous iff loss ≥ t".
    pub roc_auc: f64,
}

/// Everything `analyze ecg` measured (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgReport {
    /// `ecg`.
    pub task: String,
    /// How the analysis was run.
    pub settings: Settings,
    /// Accuracies the run reported.
    pub accuracy: Accuracies,
    /// The network at the threshold on all test beats.
    pub threshold_accuracy: EcgThresholdAccuracy,
    /// Number of eigenvalues.
    pub num_eigenvalues: usize,
    /// Count of `|λ| > 0.99`.
    pub count_above_099: usize,
    /// The leading eigenvalues (at most 10) with `τ(0.01)`.
    pub top_eigenvalues: Vec<EigenSummary>,
    /// The four most dominant conjugate pairs (Fig. 2).
    pub dominant_pairs: Vec<EcgPair>,
    /// Explained variance ratio of the PCA modes of App. B.
    pub pca_explained_variance: Vec<f64>,
    /// `e_rel` on the analysis batch (the fit's own data).
    pub e_rel_batch: ErelSummary,
    /// `e_rel` on all normal test beats with the same fit (the paper's batch of 145).
    pub e_rel_normal_test: ErelSummary,
    /// Fig. 3 (right).
    pub silhouette: SilhouetteSummary,
    /// Fig. 4 (right).
    pub agreement: EcgAgreement,
    /// Figures written (PNG + SVG).
    pub figures: Vec<FigureFile>,
    /// The table of `report.md`.
    pub table: Vec<PaperRow>,
    /// Warnings of the fits and the analysis.
    pub warnings: Vec<String>,
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown table of paper rows.
pub fn table_markdown(rows: &[PaperRow]) -> String {
    let mut out = String::from("| Paper figure | Quantity | Paper | Ours | Produced by |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&r.figure),
            cell(&r.quantity),
            cell(&r.paper),
            cell(&r.ours),
            cell(&r.produced_by)
        ));
    }
    out
}

/// Writes `report.md` (the table first, then `body`) and `report.json` (`value`) into `dir`.
pub fn write_reports<T: Serialize>(
    dir: &Path,
    title: &str,
    rows: &[PaperRow],
    body: &str,
    value: &T,
) -> Result<()> {
    let mut md = table_markdown(rows);
    md.push_str(&format!("\n# {title}\n\n{body}"));
    write_atomic(dir.join("report.md"), |w| w.write_all(md.as_bytes()))?;
    write_json_atomic(dir.join("report.json"), value)?;
    Ok(())
}

/// A Markdown list of figures.
pub fn figures_markdown(figures: &[FigureFile], html: &[String]) -> String {
    let mut out = String::from("## Figures\n\n");
    for f in figures {
        out.push_str(&format!(
            "- `{}` / `{}` ({}x{}): {}\n",
            f.png, f.svg, f.width, f.height, f.caption
        ));
    }
    for h in html {
        out.push_str(&format!("- `{h}`: the shaded reviews as a web page\n"));
    }
    out.push('\n');
    out
}

/// Formats `e_rel` with its target count.
pub fn fmt_erel(e: &ErelSummary) -> String {
    format!("{:.4} ({} targets)", e.e_rel, e.targets)
}

/// Formats an eigenvalue.
pub fn fmt_lambda(re: f64, im: f64) -> String {
    if im.abs() < 1e-12 {
        format!("{re:.4}")
    } else {
        format!(
            "{re:.4}{}{:.4}i",
            if im < 0.0 { "-" } else { "+" },
            im.abs()
        )
    }
}

/// Formats a memory horizon `τ` (Eq. 9) of an eigenvalue of modulus `modulus`: a number, `inf`
/// for `|λ| = 1` (infinite memory), or `inf (unstable)` for `|λ| > 1`, whose powers grow.
pub fn fmt_tau(t: Option<f64>, modulus: f64) -> String {
    match t {
        Some(t) => format!("{t:.0}"),
        None if modulus > 1.0 + 1e-6 => "inf (unstable: modulus > 1)".to_string(),
        None => "inf".to_string(),
    }
}
