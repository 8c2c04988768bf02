//! `training.json` (every number) and `training.md` (the findings with their rules, one table per
//! run, the figures).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use kann_models::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use super::figures::Written;
use super::findings::{RunFindings, SeedDistances};

/// The markdown report's file name.
pub const MD_FILE: &str = "training.md";
/// The JSON report's file name.
pub const JSON_FILE: &str = "training.json";

/// Everything `analyze training` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// One entry per run.
    pub runs: Vec<RunFindings>,
    /// Across runs, when several were given.
    pub seeds: Option<SeedDistances>,
}

/// Writes `training.json` and `training.md` into `out`.
pub fn write(out: &Path, report: &TrainingReport, figs: &[Written]) -> Result<()> {
    kann_koopman::io::write_json_atomic(out.join(JSON_FILE), report)?;
    write_atomic(&out.join(MD_FILE), markdown(out, report, figs).as_bytes())?;
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{:.1}%", 100.0 * x))
}

/// The report as markdown.
pub fn markdown(out: &Path, report: &TrainingReport, figs: &[Written]) -> String {
    let mut md = String::from("# The Koopman probe during training\n\n");
    md.push_str(
        "Rules: the slow-mode count settles at the first end-of-epoch probe from which the count of |λ| > 0.99 equals its final value at every later probe; validation accuracy reaches 95% at the first epoch with val_acc ≥ 0.95 · final; KANN beats the trivial predictor from the first epoch after which its one-step agreement with the network stays above that of h_t ≈ h_(t−1). Modes are traced back from the final probe by minimum-cost assignment of the leading eigenvalues from each probe to the one before.\n\n",
    );
    for r in &report.runs {
        let _ = writeln!(
            md,
            "## {} ({} {}, seed {})\n",
            r.run, r.task, r.cell, r.seed
        );
        let _ = writeln!(md, "- {}", r.summary_line());
        let _ = writeln!(
            md,
            "- probe: {} validation sequences, {} probes; fit: {}",
            r.probe_sequences, r.probes, r.fit
        );
        if let Some(rule) = &r.agreement_rule {
            let _ = writeln!(md, "- agreement: {rule}");
        }
        md.push_str("\n| epoch | \\|λ\\| > 0.99 | \\|λ1\\| | τ1 | e_rel | KANN agrees | trivial agrees | val acc | train acc |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for p in &r.per_epoch {
            let _ = writeln!(
                md,
                "| {} | {} | {:.4} | {} | {:.4} | {} | {} | {} | {} |",
                p.epoch,
                p.num_dominant,
                p.lambda1_modulus,
                p.tau1.map_or("∞".into(), |t| format!("{t:.0}")),
                p.e_rel,
                pct(p.agreement),
                pct(p.agreement_trivial),
                pct(p.val_acc),
                pct(p.train_acc)
            );
        }
        md.push('\n');
    }
    if let Some(s) = &report.seeds {
        let _ = writeln!(
            md,
            "## Across runs\n\nMean spectral distance d_{} (the {} leading eigenvalues, optimal matching) over every pair of the {} runs: {}. It {} between epoch 1 and the last epoch.\n",
            s.k,
            s.k,
            s.runs.len(),
            s.epochs
                .iter()
                .zip(&s.mean_distance)
                .map(|(e, d)| format!("epoch {e}: {d:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            if s.shrinks {
                "shrinks"
            } else {
                "does not shrink"
            }
        );
    }
    md.push_str("## Figures\n\n");
    for f in figs {
        let rel = f.png.strip_prefix(out).unwrap_or(&f.png);
        let _ = writeln!(md, "![{}]({})\n", f.caption, rel.display());
    }
    md
}
