//! Output of `analyze compare`: `compare.json`, `compare.csv` (one row per run),
//! `compare.md` (per-run table, per-cell mean ± sd, spectral distances), two figures and
//! `compare.html` (all of it on one page, [`crate::report_html::compare`]).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use kann_models::atomic::write_atomic;
use kann_models::config::Task;

use crate::compare::{CompareReport, columns};

/// Writes every output of the comparison into `out`.
pub fn write_all(out: &Path, task: Task, report: &CompareReport) -> Result<()> {
    kann_koopman::io::write_json_atomic(out.join("compare.json"), report)?;
    write_atomic(&out.join("compare.csv"), &csv_bytes(task, report)?)?;
    write_atomic(&out.join("compare.md"), markdown(task, report).as_bytes())?;
    figures(out, task, report)?;
    crate::report_html::compare::write(out, task, report)?;
    Ok(())
}

fn csv_bytes(task: Task, report: &CompareReport) -> Result<Vec<u8>> {
    let cols = columns(task);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["run".to_string(), "cell".into(), "seed".into()];
    header.extend(cols.iter().map(|(n, _)| n.to_string()));
    header.push("top_eigenvalues".into());
    w.write_record(&header)?;
    for r in &report.rows {
        let mut rec = vec![
            r.run.display().to_string(),
            r.cell.clone(),
            r.seed.to_string(),
        ];
        rec.extend(
            cols.iter()
                .map(|(n, _)| r.values[*n].map(|v| v.to_string()).unwrap_or_default()),
        );
        rec.push(
            r.top_eigenvalues
                .iter()
                .map(|(a, b)| format!("{a:.6}{b:+.6}i"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        w.write_record(&rec)?;
    }
    Ok(w.into_inner()?)
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e6 => format!("{x:.0}"),
        Some(x) => format!("{x:.4}"),
        None => "–".into(),
    }
}

/// The report as markdown.
pub fn markdown(task: Task, report: &CompareReport) -> String {
    let cols = columns(task);
    let mut s = format!(
        "# Sweep comparison ({task}, {} runs)\n\nEach run analysed as `analyze {task}` does \
         (its report.json). Spectral distance: optimal matching of the {} slowest eigenvalues of \
         two runs' operators (mean |λ − μ| over the best pairing; basis-free).\n\n## Runs\n\n",
        report.rows.len(),
        report.k
    );
    runs_table(&mut s, &cols, report);
    cells_table(&mut s, &cols, report);
    distances_table(&mut s, report);
    s.push_str("\nFigures: `compare_spectra.png` (each cell's runs overlaid), `compare_numbers.png` (the numbers per run).\n");
    s
}

/// `## Runs` (appended to `s`): one row per run, its numbers `cols` and slowest eigenvalues.
fn runs_table(s: &mut String, cols: &[(&str, &str)], report: &CompareReport) {
    let _ = writeln!(
        s,
        "| run | cell | seed | {} | slowest eigenvalues |",
        cols.iter().map(|(_, d)| *d).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(s, "|{}", " --- |".repeat(cols.len() + 4));
    for r in &report.rows {
        let top: Vec<String> = r
            .top_eigenvalues
            .iter()
            .take(4)
            .map(|(a, b)| {
                if b.abs() < 1e-9 {
                    format!("{a:.4}")
                } else {
                    format!("{a:.4}{b:+.4}i")
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            r.run.display(),
            r.cell,
            r.seed,
            cols.iter()
                .map(|(n, _)| fmt(r.values[*n]))
                .collect::<Vec<_>>()
                .join(" | "),
            top.join(", ")
        );
    }
}

/// `## Per cell (mean ± sd over seeds)` (appended to `s`): each number of `cols` per cell.
fn cells_table(s: &mut String, cols: &[(&str, &str)], report: &CompareReport) {
    s.push_str("\n## Per cell (mean ± sd over seeds)\n\n");
    let _ = writeln!(
        s,
        "| number | {} |",
        report.cells.keys().cloned().collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(s, "|{}", " --- |".repeat(report.cells.len() + 1));
    for (name, desc) in cols {
        let cells: Vec<String> = report
            .cells
            .values()
            .map(|c| match c.get(*name) {
                Some(m) => format!("{:.4} ± {:.4} (n={})", m.mean, m.sd, m.n),
                None => "–".into(),
            })
            .collect();
        let _ = writeln!(s, "| {desc} | {} |", cells.join(" | "));
    }
}

/// `## Spectral distances` (appended to `s`): the means within and between cells and the
/// matrix of distances between runs.
fn distances_table(s: &mut String, report: &CompareReport) {
    let _ = writeln!(
        s,
        "\n## Spectral distances\n\nMean within a cell (seeds): {}; between cells: {}.\n",
        fmt(report.mean_distance_within_cells),
        fmt(report.mean_distance_between_cells)
    );
    let names: Vec<String> = report
        .rows
        .iter()
        .map(|r| format!("{}-s{}", r.cell, r.seed))
        .collect();
    let _ = writeln!(s, "| | {} |", names.join(" | "));
    let _ = writeln!(s, "|{}", " --- |".repeat(names.len() + 1));
    for (name, row) in names.iter().zip(&report.distances) {
        let _ = writeln!(
            s,
            "| {name} | {} |",
            row.iter()
                .map(|d| format!("{d:.4}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}

fn figures(out: &Path, task: Task, report: &CompareReport) -> Result<()> {
    let cells: Vec<String> = report.cells.keys().cloned().collect();
    let panels = cells
        .iter()
        .map(|c| {
            let runs = report
                .rows
                .iter()
                .filter(|r| &r.cell == c && !r.top_eigenvalues.is_empty())
                .map(|r| kann_plot::RunSpectrum {
                    label: format!("seed {}", r.seed),
                    eigenvalues: &r.top_eigenvalues,
                })
                .collect();
            (c.clone(), runs)
        })
        .collect();
    let title = format!("Slowest Koopman eigenvalues per run ({task}), one panel per cell");
    kann_plot::sweep_spectra(
        out,
        "compare_spectra",
        &kann_plot::SweepSpectraFigure {
            title: &title,
            panels,
        },
    )?;
    let metrics = columns(task)
        .into_iter()
        .map(|(name, desc)| kann_plot::SweepMetric {
            name: desc.to_string(),
            values: report
                .rows
                .iter()
                .filter_map(|r| {
                    let g = cells.iter().position(|c| c == &r.cell)?;
                    r.values[name].filter(|v| v.is_finite()).map(|v| (g, v))
                })
                .collect(),
        })
        .collect();
    let title = format!("Key numbers per run ({task}); bar = cell mean");
    kann_plot::sweep_numbers(
        out,
        "compare_numbers",
        &kann_plot::SweepNumbersFigure {
            title: &title,
            groups: cells,
            metrics,
        },
    )?;
    Ok(())
}
