//! `training.json` (every number) and `training.md` (the findings with their rules, one table per
//! run, the figures).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use kann_models::atomic::write_atomic;
use kann_plot::{Claim, HtmlReport, Section};
use serde::{Deserialize, Serialize};

use super::figures::Written;
use super::findings::{RunFindings, SeedDistances};
use crate::report_html::claim;

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

/// The page's file name.
pub const HTML_FILE: &str = "training.html";

/// Writes `training.json`, `training.md` and `training.html` into `out`.
pub fn write(out: &Path, report: &TrainingReport, figs: &[Written]) -> Result<()> {
    kann_koopman::io::write_json_atomic(out.join(JSON_FILE), report)?;
    write_atomic(&out.join(MD_FILE), markdown(out, report, figs).as_bytes())?;
    let path = out.join(HTML_FILE);
    kann_plot::write_report_html(&page(report, figs)?, &path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The verdict rows of one run, read at its last probe: KANN's agreement against the trivial
/// predictor's (Fig. 4's claim; margin 5 points, as the probe scores few steps: on IMDB's 64
/// last steps one review is 1.6 points), and the count of slow modes against the
/// untrained model's (the paper's 4 at Sec. 4.1).
fn claims(r: &RunFindings) -> Vec<Claim> {
    let (Some(first), Some(last)) = (r.per_epoch.first(), r.per_epoch.last()) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    if let (Some(a), Some(t)) = (last.agreement, last.agreement_trivial) {
        rows.push(claim(
            &format!(
                "{}: KANN's one-step prediction gives the network's class (Fig. 4), epoch {}",
                r.task, last.epoch
            ),
            "> 97%",
            (a, format!("{} of the probe's scored steps", pct(Some(a)))),
            (
                t,
                format!("trivial h_t ≈ h_(t−1): {}; margin 5 points", pct(Some(t))),
            ),
            0.05,
        ));
    }
    rows.push(claim(
        &format!(
            "{}: training creates slow modes, |λ| > 0.99 (Sec. 4.1), epoch {}",
            r.task, last.epoch
        ),
        "4 (IMDB)",
        (last.num_dominant as f64, format!("{}", last.num_dominant)),
        (
            first.num_dominant as f64,
            format!("the untrained model: {}; margin 1", first.num_dominant),
        ),
        1.0,
    ));
    rows
}

/// `training.html`: the verdict rows, then per run the two figures with the table's numbers.
fn page(report: &TrainingReport, figs: &[Written]) -> Result<HtmlReport> {
    let mut sections = Vec::new();
    let mut claims_all = Vec::new();
    for r in &report.runs {
        claims_all.extend(claims(r));
        sections.push(Section {
            heading: format!("{} ({} {}, seed {})", r.run, r.task, r.cell, r.seed),
            svg: None,
            numbers: r
                .per_epoch
                .iter()
                .map(|p| {
                    (
                        format!("epoch {}", p.epoch),
                        format!(
                            "|λ| > 0.99: {}; |λ1| {:.4}; e_rel {:.4}; KANN agrees {}, trivial {}; val acc {}",
                            p.num_dominant,
                            p.lambda1_modulus,
                            p.e_rel,
                            pct(p.agreement),
                            pct(p.agreement_trivial),
                            pct(p.val_acc)
                        ),
                    )
                })
                .collect(),
            paragraph: r.summary_line(),
            ..Section::default()
        });
    }
    for f in figs {
        let svg = f.png.with_extension("svg");
        sections.push(Section {
            heading: f.caption.clone(),
            svg: Some(
                std::fs::read_to_string(&svg)
                    .with_context(|| format!("reading the figure {}", svg.display()))?,
            ),
            ..Section::default()
        });
    }
    Ok(HtmlReport {
        title: "The Koopman probe during training".into(),
        claims: claims_all,
        sections,
        ..HtmlReport::default()
    })
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
