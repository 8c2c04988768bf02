//! `report.html` of `analyze imdb|ecg|copy` (issue 25): one self-contained page per analysis,
//! written with [`kann_plot::write_report_html`] beside `report.md` and `report.json`; and
//! `fixed_points.html` of `analyze fixed-points` beside `fixed_points.md` and
//! `fixed_points.json` ([`fixed_points`]; the IMDB run folder's `report.html` is `analyze
//! imdb`'s).
//!
//! The page opens with the verdict table: one row per claim of the paper, the paper's number,
//! ours, the baseline that could explain ours away and the verdict of [`kann_plot::verdict`] (the
//! rule is printed under the table). Every number of a row is read from the analysis' report
//! (what `report.json` holds); the margin of each row is stated in its baseline cell. Then the
//! sections in the paper's order, each with its figure (the SVG the analysis wrote, inlined),
//! its numbers and a paragraph. `report.md` opens with the same table
//! ([`markdown_with_verdicts`]).
//!
//! The IMDB page is interactive ([`imdb`]): the spectrum is the control and the reviews'
//! tokens recolour by the chosen eigen-group's per-token values, read from the `token_views`
//! of `report.json` embedded in the page.

pub mod compare;
pub mod copy;
pub mod ecg;
pub mod fixed_points;
pub mod imdb;
pub mod states;

use std::path::Path;

use anyhow::{Context, Result};
use kann_plot::{Claim, HtmlReport, Section, Verdict, verdict, verdict_table_markdown};

use crate::common::FigureFile;

/// The name of the page in the run folder.
pub const PAGE: &str = "report.html";

/// A claim row whose measure is "higher supports the claim": `ours` against `baseline` with the
/// stated `margin` ([`kann_plot::verdict`]). `baseline_text` names the baseline and the margin.
pub fn claim(
    what: &str,
    paper: &str,
    ours: (f64, String),
    baseline: (f64, String),
    margin: f64,
) -> Claim {
    Claim {
        claim: what.to_string(),
        paper: paper.to_string(),
        ours: ours.1,
        baseline: baseline.1,
        verdict: verdict(ours.0, baseline.0, margin),
    }
}

/// The Fig. 4 row: KANN's agreement with the network against the trivial predictor's
/// (`trivial_name`, its agreement `trivial`), margin 1 point. With bootstrap intervals
/// (`crate::intervals`) the interval of the paired difference KANN − trivial decides
/// ([`kann_plot::verdict_from_interval`]) and both cells carry their intervals.
pub fn agreement_claim(
    what: &str,
    paper: &str,
    ours: (f64, String),
    trivial_name: &str,
    trivial: f64,
    intervals: Option<&crate::intervals::AgreementIntervals>,
) -> Claim {
    let mut c = claim(
        what,
        paper,
        ours,
        (
            trivial,
            format!("{trivial_name} {}; margin 1 point", pct(trivial)),
        ),
        0.01,
    );
    if let Some(ci) = intervals {
        c.ours = format!(
            "{}; KANN − trivial {}",
            c.ours,
            crate::intervals::difference_cell(ci)
        );
        c.baseline = format!(
            "{trivial_name} {} [{}, {}]; margin 1 point",
            pct(ci.trivial),
            pct(ci.trivial_ci[0]),
            pct(ci.trivial_ci[1])
        );
        c.verdict = kann_plot::verdict_from_interval(ci.difference_ci, 0.01);
    }
    c
}

/// The Eq. 12 row: KANN's e_rel against the trivial predictor `h_{t+1} = h_t` (lower is better).
/// With bootstrap intervals the interval of `trivial − KANN` decides against a margin of 10% of
/// the trivial predictor's e_rel ([`kann_plot::verdict_from_interval`]); without them the row has
/// no baseline (`ours`, `why_none`) and is inconclusive.
pub fn e_rel_claim(
    paper: &str,
    ours: String,
    intervals: Option<&crate::intervals::ErelIntervals>,
    why_none: &str,
) -> Claim {
    const WHAT: &str = "The linear model predicts the next state (Sec. 4.3, Eq. 12)";
    match intervals {
        None => claim_without_baseline(WHAT, paper, ours, why_none),
        Some(e) => Claim {
            claim: WHAT.to_string(),
            paper: paper.to_string(),
            ours: format!(
                "e_rel {:.4} [{:.4}, {:.4}] ({} targets); trivial − KANN {:+.4} [{:+.4}, {:+.4}]",
                e.kann,
                e.kann_ci[0],
                e.kann_ci[1],
                e.targets,
                e.difference,
                e.difference_ci[0],
                e.difference_ci[1]
            ),
            baseline: format!(
                "trivial h_(t+1) = h_t: e_rel {:.4} [{:.4}, {:.4}]; margin 10% of it",
                e.trivial, e.trivial_ci[0], e.trivial_ci[1]
            ),
            verdict: kann_plot::verdict_from_interval(e.difference_ci, 0.1 * e.trivial),
        },
    }
}

/// A claim row for which the analysis computes no baseline: always inconclusive by the rule
/// (a missing number), with the reason in the baseline cell.
pub fn claim_without_baseline(what: &str, paper: &str, ours: String, why: &str) -> Claim {
    Claim {
        claim: what.to_string(),
        paper: paper.to_string(),
        ours,
        baseline: why.to_string(),
        verdict: Verdict::Inconclusive,
    }
}

/// The text of the SVG of figure `name`, if the analysis wrote it.
pub fn svg_of(dir: &Path, figures: &[FigureFile], name: &str) -> Result<Option<String>> {
    match figures.iter().find(|f| f.name == name) {
        Some(f) => svg_file(dir, &f.svg).map(Some),
        None => Ok(None),
    }
}

/// The text of an SVG file of the run folder.
pub fn svg_file(dir: &Path, name: &str) -> Result<String> {
    let p = dir.join(name);
    std::fs::read_to_string(&p).with_context(|| format!("reading the figure {}", p.display()))
}

/// Writes `page` as `report.html` in `dir` (atomically, at most [`kann_plot::MAX_HTML_BYTES`]).
pub fn write_page(dir: &Path, page: &HtmlReport) -> Result<()> {
    write_page_as(dir, PAGE, page)
}

/// Writes an interactive `report.html` into `dir`: the verdict table (`claims`), `sections`,
/// the page's own `css` and `script`, and `data` (JSON the script reads).
pub fn write_interactive_page(
    dir: &Path,
    title: &str,
    (claims, sections): (Vec<Claim>, Vec<Section>),
    data: &serde_json::Value,
    (css, script): (&str, &str),
) -> Result<()> {
    let page = HtmlReport {
        title: title.into(),
        claims,
        sections,
        css: css.into(),
        data: Some(serde_json::to_string(data)?),
        script: Some(script.into()),
    };
    write_page(dir, &page)
}

/// Writes `page` as `name` in `dir` (atomically, at most [`kann_plot::MAX_HTML_BYTES`]).
pub fn write_page_as(dir: &Path, name: &str, page: &HtmlReport) -> Result<()> {
    let path = dir.join(name);
    kann_plot::write_report_html(page, &path).with_context(|| format!("writing {}", path.display()))
}

/// `report.md`'s text: the short verdict table first, then `rest` (the title, the long table of
/// paper figures and every number, as before).
pub fn markdown_with_verdicts(claims: &[Claim], rest: &str) -> String {
    markdown_with_verdicts_of(PAGE, claims, rest)
}

/// [`markdown_with_verdicts`] for the Markdown twin of the page `page` (e.g.
/// `fixed_points.md` of `fixed_points.html`).
pub fn markdown_with_verdicts_of(page: &str, claims: &[Claim], rest: &str) -> String {
    format!(
        "{}\nThe same table opens `{page}`, with the figures; the long cells follow below.\n\n{rest}",
        verdict_table_markdown(claims)
    )
}

/// A percentage with one decimal.
pub fn pct(x: f64) -> String {
    crate::common::pct(x)
}
