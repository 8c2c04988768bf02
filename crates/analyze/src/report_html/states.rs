//! The page of `analyze states FILE.npy --html PAGE`: the verdict table, then the spectrum with
//! its memory horizons (Eqs. 4, 8, 9), e_rel beside the trivial predictor (Eq. 12), the
//! eigenpairs with their residuals, and what was read. Every number is one of the `--out` JSON
//! report ([`StatesRun`]).
//!
//! Claims and rules:
//! - "The linear model predicts the next state" (Eq. 12): KANN's e_rel against that of the
//!   trivial predictor `h_{t+1} = h_t`, margin 10% of the trivial e_rel. With intervals the
//!   interval of `trivial − KANN` decides ([`super::e_rel_claim`]); without them the point values
//!   do ([`kann_plot::verdict`] on `trivial − KANN` against 0).
//! - "The slow modes are resolved": the smallest `|λ| / residual` among the eigenvalues with
//!   `|λ| > 0.99` against `--min-snr` (margin 0); with no slow mode the row is inconclusive.

use std::path::Path;

use anyhow::{Context, Result};
use kann_koopman::{DOMINANT_MODULUS, EigenReport, Memory};
use kann_plot::{Claim, HtmlReport, Section, SpectrumFigure, fmt_lambda};

use super::{claim, claim_without_baseline, e_rel_claim};
use crate::states::StatesRun;
use crate::states::erel::ErelComparison;

/// Eigenpairs listed in the residuals section (the rest are in the JSON report).
pub const MAX_LISTED: usize = 40;

/// Writes the page of `run` to `path` atomically (at most [`kann_plot::MAX_HTML_BYTES`]);
/// `json` names the `--out` report the page cites, if one was written.
pub fn write(path: &Path, run: &StatesRun, json: Option<&Path>) -> Result<()> {
    let page = page(run, json)?;
    kann_plot::write_report_html(&page, path).with_context(|| format!("writing {}", path.display()))
}

/// The verdict rows.
pub fn claims(run: &StatesRun) -> Vec<Claim> {
    let r = &run.report;
    let mut rows = vec![e_rel_row(run.e_rel_trivial.as_ref())];
    let slow: Vec<&EigenReport> = r
        .eigen
        .iter()
        .filter(|e| e.modulus > DOMINANT_MODULUS)
        .collect();
    const WHAT: &str = "The slow modes (|λ| > 0.99) are resolved: each λ explains more of its \
                        mode's next step than its residual leaves (Eq. 8)";
    match slow.iter().min_by(|a, b| a.snr.total_cmp(&b.snr)).copied() {
        None => rows.push(claim_without_baseline(
            WHAT,
            "–",
            "no eigenvalue with |λ| > 0.99".into(),
            "nothing to resolve",
        )),
        Some(e) => rows.push(claim(
            WHAT,
            "–",
            (
                e.snr,
                format!(
                    "smallest |λ| / residual {:.3} (λ{} = {}) over {} slow modes",
                    e.snr,
                    e.index + 1,
                    fmt_lambda(e.re, e.im),
                    slow.len()
                ),
            ),
            (r.min_snr, format!("--min-snr {}; margin 0", r.min_snr)),
            0.0,
        )),
    }
    rows
}

/// The Eq. 12 row: with intervals as `analyze imdb` has it, else on the point values.
fn e_rel_row(c: Option<&ErelComparison>) -> Claim {
    const PAPER: &str = "e_rel 0.095 (IMDB), 0.0056 (ECG)";
    let Some(c) = c else {
        return claim_without_baseline(
            "The linear model predicts the next state (Sec. 4.3, Eq. 12)",
            PAPER,
            "not compared".into(),
            "the trivial predictor was not computed",
        );
    };
    if let Some(ci) = &c.intervals {
        return e_rel_claim(PAPER, String::new(), Some(ci), "");
    }
    claim(
        "The linear model predicts the next state (Sec. 4.3, Eq. 12)",
        PAPER,
        (
            c.difference,
            format!(
                "e_rel {:.4} ({} targets); trivial − KANN {:+.4} (no interval: {})",
                c.kann,
                c.targets,
                c.difference,
                c.no_intervals.as_deref().unwrap_or("–")
            ),
        ),
        (
            0.0,
            format!(
                "trivial h_(t+1) = h_t: e_rel {:.4}; margin 10% of it",
                c.trivial
            ),
        ),
        0.1 * c.trivial,
    )
}

/// The whole page.
pub fn page(run: &StatesRun, json: Option<&Path>) -> Result<HtmlReport> {
    let r = &run.report;
    let eigenvalues: Vec<(f64, f64)> = r.eigen.iter().map(|e| (e.re, e.im)).collect();
    let title = format!("Koopman spectrum of {}", run.input.file.display());
    let svg = kann_plot::spectrum_svg(&SpectrumFigure {
        epsilon: Some(r.eps),
        label_threshold: DOMINANT_MODULUS,
        ..SpectrumFigure::new(&title, &eigenvalues)
    })
    .with_context(|| format!("drawing the spectrum of {}", run.input.file.display()))?;
    let sections = vec![
        spectrum_section(run, svg),
        e_rel_section(run),
        residuals_section(run),
        input_section(run, json),
    ];
    Ok(HtmlReport {
        title: format!("analyze states: {}", run.input.file.display()),
        claims: claims(run),
        sections,
        ..HtmlReport::default()
    })
}

fn tau_text(e: &EigenReport) -> String {
    match (e.tau, e.memory) {
        (Some(t), _) => format!("{t:.1}"),
        (None, Memory::Unstable) => "unstable (|λ| > 1)".into(),
        (None, _) => "∞".into(),
    }
}

fn spectrum_section(run: &StatesRun, svg: String) -> Section {
    let r = &run.report;
    let count = match &r.bootstrap {
        Some(b) => format!(
            "{} [{}, {}] ({:.0}% interval, {} {} replicates over {} sequences)",
            r.num_dominant,
            b.num_dominant_ci[0],
            b.num_dominant_ci[1],
            100.0 * b.level,
            b.replicates - b.failed,
            b.scheme,
            b.sequences
        ),
        None => format!("{} (no interval: not resampled)", r.num_dominant),
    };
    let mut numbers = vec![
        ("eigenvalues (rank r)".into(), r.eigen.len().to_string()),
        ("count |λ| > 0.99".into(), count),
        (
            "infinite memory (|λ| = 1) / unstable (|λ| > 1)".into(),
            format!("{} / {}", r.num_infinite, r.num_unstable),
        ),
    ];
    if let Some(e) = r.eigen.first() {
        numbers.push((
            format!("λ1, |λ1|, τ1({})", r.eps),
            format!(
                "{}, {:.6}, {}{}",
                fmt_lambda(e.re, e.im),
                e.modulus,
                tau_text(e),
                e.intervals.as_ref().map_or(String::new(), |ci| format!(
                    "; |λ1| in [{:.6}, {:.6}]",
                    ci.modulus_ci[0], ci.modulus_ci[1]
                ))
            ),
        ));
    }
    Section {
        heading: "Spectrum and memory horizons (Eqs. 4, 9)".into(),
        svg: Some(svg),
        numbers,
        paragraph: format!(
            "The operator C fitted to the states (rank {}, {:.2}% of their energy) has {} \
             eigenvalues; {} lie above |λ| = 0.99, the slow modes that carry memory. The right \
             panel gives each eigenvalue's memory horizon τ(ε) = log ε / log |λ| (Eq. 9, \
             ε = {}): the steps after which a mode's contribution has decayed to ε of its size.",
            r.rank,
            100.0 * r.energy_captured,
            r.eigen.len(),
            r.num_dominant,
            r.eps
        ),
        ..Section::default()
    }
}

fn e_rel_section(run: &StatesRun) -> Section {
    let r = &run.report;
    let mut numbers = vec![(
        format!("e_rel KANN, {}", r.e_rel_steps),
        format!(
            "{:.6} over {} targets",
            r.relative_error.e_rel, r.relative_error.count
        ),
    )];
    if let Some(all) = &r.relative_error_all_steps {
        numbers.push((
            "e_rel KANN, all steps incl. padding".into(),
            format!("{:.6} over {} targets", all.e_rel, all.count),
        ));
    }
    let paragraph = match &run.e_rel_trivial {
        None => "The trivial predictor was not computed.".to_string(),
        Some(c) => {
            numbers.push((
                "e_rel trivial h_(t+1) = h_t".into(),
                format!("{:.6} over {} targets", c.trivial, c.targets),
            ));
            numbers.push(("trivial − KANN".into(), format!("{:+.6}", c.difference)));
            match &c.intervals {
                Some(ci) => numbers.push(("intervals".into(), crate::intervals::e_rel_line(ci))),
                None => numbers.push((
                    "intervals".into(),
                    format!("none: {}", c.no_intervals.as_deref().unwrap_or("–")),
                )),
            }
            format!(
                "e_rel (Eq. 12) is the mean of |ĥ_(t+1) − h_(t+1)|² / |h_(t+1)|² over the real \
                 steps. Recurrent states change little per step, so the trivial predictor \
                 ĥ_(t+1) = h_t is already good; the linear model earns the claim only when it \
                 beats it by 10% of the trivial e_rel. Here KANN's e_rel is {:.4} and the \
                 trivial one {:.4}: KANN's error is {:.1}% of the trivial predictor's.",
                c.kann,
                c.trivial,
                100.0 * c.kann / c.trivial
            )
        }
    };
    Section {
        heading: "One-step prediction against the trivial predictor (Eq. 12)".into(),
        numbers,
        paragraph,
        ..Section::default()
    }
}

fn residuals_section(run: &StatesRun) -> Section {
    let r = &run.report;
    let numbers = r
        .eigen
        .iter()
        .take(MAX_LISTED)
        .map(|e| {
            let ci = e.intervals.as_ref().map_or(String::new(), |ci| {
                format!(
                    "; |λ| in [{:.4}, {:.4}], matched in {:.0}% of replicates",
                    ci.modulus_ci[0],
                    ci.modulus_ci[1],
                    100.0 * ci.match_fraction
                )
            });
            (
                format!("λ{} = {}", e.index + 1, fmt_lambda(e.re, e.im)),
                format!(
                    "|λ| {:.4}, τ {}, residual {:.2e}, |λ| / residual {:.2e}{}, dominance {:.3}{ci}",
                    e.modulus,
                    tau_text(e),
                    e.residual,
                    e.snr,
                    if e.spurious { " (unresolved)" } else { "" },
                    e.dominance
                ),
            )
        })
        .collect();
    let more = r.eigen.len().saturating_sub(MAX_LISTED);
    Section {
        heading: "Eigenpairs and their residuals (Eq. 8)".into(),
        numbers,
        paragraph: format!(
            "The residual of an eigenpair is how far its mode's next step is from λ times its \
             present (Eq. 8, Ĥ_(t+1) ≈ Ĥ_t Λ); an eigenpair with |λ| / residual below {} is \
             unresolved: λ explains less of its mode's next step than it leaves. {} of {} are \
             unresolved.{}",
            r.min_snr,
            r.num_spurious,
            r.eigen.len(),
            if more > 0 {
                format!(" The {more} smallest eigenvalues are in the JSON report only.")
            } else {
                String::new()
            }
        ),
        ..Section::default()
    }
}

fn input_section(run: &StatesRun, json: Option<&Path>) -> Section {
    let (i, r) = (&run.input, &run.report);
    let mut numbers = vec![
        (
            "file".into(),
            format!(
                "{} ({} array {:?})",
                i.file.display(),
                i.dtype,
                i.file_shape
            ),
        ),
        (
            "read as [B, T, H]".into(),
            format!("{:?} ({:?})", i.read_as, i.layout),
        ),
        (
            "steps".into(),
            format!("{} real, {} padded", i.real_steps, i.padded_steps),
        ),
        (
            "fit".into(),
            format!(
                "{} on {} steps: {} pairs, rank {}, condition {:.3e}",
                r.estimator, r.fit_steps, r.num_pairs, r.rank, r.condition
            ),
        ),
    ];
    if let Some(j) = json {
        numbers.push(("JSON report".into(), j.display().to_string()));
    }
    for w in &r.warnings {
        numbers.push(("warning".into(), w.clone()));
    }
    Section {
        heading: "Input and checks".into(),
        numbers,
        paragraph: format!(
            "{} warnings. The layout checks look for zero padding fitted as data, swapped time \
             and batch axes and stacked sequences, each of which gives a wrong e_rel silently.",
            r.warnings.len()
        ),
        ..Section::default()
    }
}
