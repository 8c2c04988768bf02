//! Stage 5 (figures): the Jacobian spectrum of the most line-attractor-like fixed point beside
//! the Koopman spectrum (`fixed_point_spectra`, both in one complex plane;
//! `fixed_point_jacobian_spectrum` and `fixed_point_koopman_spectrum`, each in the layout of
//! `analyze imdb`'s spectrum figure).

use anyhow::{Context, Result};

use super::report::FixedPointsReport;

/// The Jacobian spectrum of the most line-attractor-like fixed point (mean input, else zero)
/// beside the Koopman spectrum.
pub fn figures(
    dir: &std::path::Path,
    report: &FixedPointsReport,
    koopman: &[(f64, f64)],
) -> Result<Vec<String>> {
    let Some((inp, i)) = report.line_attractor() else {
        return Ok(Vec::new());
    };
    let jac: Vec<(f64, f64)> = inp
        .line_attractor_spectrum
        .iter()
        .map(|l| (l.re, l.im))
        .collect();
    let mut out = Vec::new();
    let title_j = format!(
        "Jacobian dF/ds at fixed point {} ({} input, q = {:.1e}), {}",
        i + 1,
        inp.input,
        inp.points[i].q,
        report.cell.to_uppercase()
    );
    let title_k = format!(
        "Koopman operator C (same batch, rank {})",
        report.koopman.rank
    );
    for (stem, title, pts) in [
        ("fixed_point_jacobian_spectrum", title_j, jac.clone()),
        ("fixed_point_koopman_spectrum", title_k, koopman.to_vec()),
    ] {
        if pts.is_empty() {
            continue;
        }
        let fig = kann_plot::SpectrumFigure {
            operator: if stem.contains("jacobian") {
                "J = dF/ds"
            } else {
                "C"
            },
            ..kann_plot::SpectrumFigure::new(&title, &pts)
        };
        let p = kann_plot::spectrum(dir, stem, &fig)
            .with_context(|| format!("writing the figure {stem}"))?;
        out.extend(names(&p));
    }
    let title = format!(
        "Jacobian at fixed point {} ({} input) beside the Koopman operator, {} on the same batch",
        i + 1,
        inp.input,
        report.cell.to_uppercase()
    );
    let p = kann_plot::spectra(
        dir,
        "fixed_point_spectra",
        &kann_plot::SpectraFigure {
            title: &title,
            first: ("J = dF/ds at the fixed point", &jac),
            second: ("Koopman C", koopman),
            zoom_from: 0.95,
        },
    )
    .context("writing the figure fixed_point_spectra")?;
    out.extend(names(&p));
    Ok(out)
}

/// The file names of a figure's PNG and SVG.
pub fn names(p: &kann_plot::FigurePaths) -> [String; 2] {
    [&p.png, &p.svg].map(|f| {
        f.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}
