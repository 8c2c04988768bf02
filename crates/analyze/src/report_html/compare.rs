//! `compare.html` of `analyze compare` (App. C), beside `compare.md/json/csv` in the comparison's
//! folder: the verdict table, the runs, the per-cell mean ± sd, the spectral distances and the
//! two figures `compare` writes (spectra overlaid per cell, key numbers per run), inlined.
//!
//! Claims and rules (only where the comparison has a baseline):
//! - per cell, "KANN's one-step prediction gives the network's decision more often than the
//!   trivial predictor" (Fig. 4): the mean over the cell's seeds of KANN's agreement against the
//!   mean of the trivial predictor's, margin 1 point ([`kann_plot::verdict`]; no interval);
//! - with at least two cells and two seeds of one cell, "the spectrum is a property of the cell,
//!   not of the seed" (App. C): the mean spectral distance between runs of different cells
//!   against the mean distance between seeds of one cell, margin the latter (the claim holds when
//!   cells are at least twice as far apart as seeds).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use kann_models::config::Task;
use kann_plot::{Claim, HtmlReport, Section};

use super::{claim, pct, svg_file};
use crate::compare::{CompareReport, MeanSd, columns};

/// The page's file name in the comparison's folder.
pub const PAGE: &str = "compare.html";

/// Writes `compare.html` into `out` (atomically, at most [`kann_plot::MAX_HTML_BYTES`]); the
/// figures `compare_spectra.svg` and `compare_numbers.svg` must be there already.
pub fn write(out: &Path, task: Task, report: &CompareReport) -> Result<()> {
    let path = out.join(PAGE);
    kann_plot::write_report_html(&page(out, task, report)?, &path)
        .with_context(|| format!("writing {}", path.display()))
}

fn mean_sd_text(m: &MeanSd, as_pct: bool) -> String {
    if as_pct {
        format!("{} ± {} (n={})", pct(m.mean), pct(m.sd), m.n)
    } else {
        format!("{:.4} ± {:.4} (n={})", m.mean, m.sd, m.n)
    }
}

/// The verdict rows (see the module doc).
pub fn claims(report: &CompareReport) -> Vec<Claim> {
    // The paper's numbers as the imdb and ecg pages state them.
    let (paper, figure) = match report.task.as_str() {
        "imdb" => ("> 99%", "Fig. 4 left"),
        "ecg" => ("> 97% (145 beats)", "Fig. 4 right"),
        _ => ("–", "Fig. 4"),
    };
    let mut rows = Vec::new();
    for (cell, stats) in &report.cells {
        let (Some(k), Some(t)) = (stats.get("agreement_kann"), stats.get("agreement_trivial"))
        else {
            continue;
        };
        rows.push(claim(
            &format!(
                "{cell}: KANN's one-step prediction gives the network's decision more often than the trivial predictor ({figure})"
            ),
            paper,
            (k.mean, format!("KANN {}", mean_sd_text(k, true))),
            (
                t.mean,
                format!("trivial {}; margin 1 point", mean_sd_text(t, true)),
            ),
            0.01,
        ));
    }
    if let (Some(within), Some(between)) = (
        report.mean_distance_within_cells,
        report.mean_distance_between_cells,
    ) {
        rows.push(claim(
            "The spectrum is a property of the cell, not of the seed (App. C)",
            "–",
            (
                between,
                format!(
                    "mean spectral distance between cells {between:.4} (d_{})",
                    report.k
                ),
            ),
            (
                within,
                format!("between seeds of one cell {within:.4}; margin the same {within:.4}"),
            ),
            within,
        ));
    }
    rows
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML table (escaped cells) in a horizontally scrolling box.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<div class=\"wide\"><table class=\"cmp\"><thead><tr>");
    for c in header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    h
}

fn value(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e6 => format!("{x:.0}"),
        Some(x) => format!("{x:.4}"),
        None => "–".into(),
    }
}

fn run_name(r: &crate::compare::RunRow) -> String {
    format!("{}-s{}", r.cell, r.seed)
}

fn runs_section(task: Task, report: &CompareReport) -> Section {
    let cols = columns(task);
    let mut header = vec!["run".to_string(), "folder".into()];
    header.extend(cols.iter().map(|(_, d)| d.to_string()));
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![run_name(r), r.run.display().to_string()];
            row.extend(cols.iter().map(|(n, _)| value(r.values[*n])));
            row
        })
        .collect();
    Section {
        heading: format!("The runs ({task}, {} runs)", report.rows.len()),
        html: Some(table(&header, &rows)),
        paragraph: format!(
            "Each run analysed as analyze {task} does (its report.json). One row per run; \
             \"–\" where the run has no value. The same numbers are in compare.csv."
        ),
        ..Section::default()
    }
}

fn cells_section(task: Task, report: &CompareReport, svg: String) -> Section {
    let mut header = vec!["number".to_string()];
    header.extend(report.cells.keys().cloned());
    let rows: Vec<Vec<String>> = columns(task)
        .iter()
        .map(|(name, desc)| {
            let mut row = vec![desc.to_string()];
            row.extend(
                report
                    .cells
                    .values()
                    .map(|c| c.get(*name).map_or("–".into(), |m| mean_sd_text(m, false))),
            );
            row
        })
        .collect();
    Section {
        heading: "Per cell: mean ± sd over seeds".into(),
        svg: Some(svg),
        html: Some(table(&header, &rows)),
        paragraph: "The figure shows each run's number (a dot) and the cell's mean (a bar). A \
                    number whose sd within a cell is small beside the differences between \
                    cells is a property of the cell; one whose sd is as large is the luck of a \
                    seed. sd is the sample standard deviation (n − 1), 0 for one run."
            .into(),
        ..Section::default()
    }
}

fn distances_section(report: &CompareReport, svg: String) -> Section {
    let names: Vec<String> = report.rows.iter().map(run_name).collect();
    let mut header = vec![String::new()];
    header.extend(names.iter().cloned());
    let rows: Vec<Vec<String>> = names
        .iter()
        .zip(&report.distances)
        .map(|(n, d)| {
            let mut row = vec![n.clone()];
            row.extend(d.iter().map(|x| format!("{x:.4}")));
            row
        })
        .collect();
    Section {
        heading: "Spectra and spectral distances".into(),
        svg: Some(svg),
        html: Some(table(&header, &rows)),
        numbers: vec![
            (
                "mean distance between seeds of one cell".into(),
                value(report.mean_distance_within_cells),
            ),
            (
                "mean distance between cells".into(),
                value(report.mean_distance_between_cells),
            ),
        ],
        paragraph: format!(
            "The {} slowest eigenvalues of each run's operator, one panel per cell. The \
             spectral distance matches two runs' {} slowest eigenvalues optimally and averages \
             |λ − μ| over the pairs: it needs no common basis, so runs with different weights \
             compare.",
            report.k, report.k
        ),
    }
}

/// The whole page.
pub fn page(out: &Path, task: Task, report: &CompareReport) -> Result<HtmlReport> {
    let spectra = svg_file(out, "compare_spectra.svg")?;
    let numbers = svg_file(out, "compare_numbers.svg")?;
    Ok(HtmlReport {
        title: format!(
            "Sweep comparison ({task}, {} runs, {} cells)",
            report.rows.len(),
            report.cells.len()
        ),
        claims: claims(report),
        sections: vec![
            runs_section(task, report),
            cells_section(task, report, numbers),
            distances_section(report, spectra),
        ],
        css: ".wide{overflow-x:auto;margin:.5rem 0}table.cmp{width:auto;font-size:.9em}\
              table.cmp td{white-space:nowrap}"
            .into(),
        ..HtmlReport::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{RunRow, summarise};

    fn row(cell: &str, seed: u64, kann: f64, trivial: f64, top: &[(f64, f64)]) -> RunRow {
        RunRow {
            run: format!("runs/{cell}-{seed}").into(),
            cell: cell.into(),
            seed,
            values: columns(Task::Ecg)
                .iter()
                .map(|(n, _)| {
                    let v = match *n {
                        "agreement_kann" => Some(kann),
                        "agreement_trivial" => Some(trivial),
                        _ => None,
                    };
                    (n.to_string(), v)
                })
                .collect(),
            top_eigenvalues: top.to_vec(),
        }
    }

    #[test]
    fn claims_follow_the_stated_rules_and_the_page_holds_the_numbers() {
        let rows = vec![
            row("gru", 1, 0.99, 0.90, &[(0.9, 0.0), (0.5, 0.0)]),
            row("gru", 2, 0.97, 0.90, &[(0.9, 0.0), (0.52, 0.0)]),
            row("lstm", 1, 0.905, 0.90, &[(0.7, 0.0), (0.1, 0.0)]),
        ];
        let report = summarise(Task::Ecg, rows, 8).unwrap();
        let c = claims(&report);
        assert_eq!(c.len(), 3);
        // gru: 98% against 90%, by more than 1 point; lstm: 90.5% is within the margin.
        assert_eq!(c[0].verdict, kann_plot::Verdict::Holds);
        assert_eq!(c[1].verdict, kann_plot::Verdict::Inconclusive);
        // Between cells (mean 0.35) against seeds (0.01): more than twice as far.
        assert_eq!(c[2].verdict, kann_plot::Verdict::Holds);

        let dir = tempfile::tempdir().unwrap();
        for f in ["compare_spectra.svg", "compare_numbers.svg"] {
            std::fs::write(
                dir.path().join(f),
                "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
            )
            .unwrap();
        }
        write(dir.path(), Task::Ecg, &report).unwrap();
        let html = std::fs::read_to_string(dir.path().join(PAGE)).unwrap();
        kann_plot::check_self_contained(&html).unwrap();
        assert!(html.contains("98.0% ± 1.4% (n=2)"), "gru's KANN agreement");
        assert!(html.contains("runs/lstm-1"), "the run's folder");
        assert!(html.contains(&format!("{:.4}", report.distances[0][2])));
    }

    #[test]
    fn one_cell_has_no_distance_claim() {
        let rows = vec![
            row("gru", 1, 0.9, 0.95, &[(0.9, 0.0)]),
            row("gru", 2, 0.9, 0.95, &[(0.8, 0.0)]),
        ];
        let report = summarise(Task::Ecg, rows, 8).unwrap();
        let c = claims(&report);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].verdict, kann_plot::Verdict::DoesNotHold);
    }
}
