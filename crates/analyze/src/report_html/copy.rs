//! `report.html` of `analyze copy` (App. D): the verdict table, then the network, the Koopman
//! memory against the task's span, the fixed points and the predictors, each with its figure.

use std::path::Path;

use anyhow::Result;
use kann_plot::{Claim, HtmlReport, Section};

use super::{claim, pct, svg_file, write_page};
use crate::copy::intervals::{
    AgreementInterval, DifferenceInterval, agreement_cell, difference_cell,
};
use crate::copy::{
    CopyReport, KOOPMAN, LIN_BLANK, LIN_ZERO, LIN_ZERO_NO_INPUT, PredictorScore, TRIVIAL,
};

fn best<'a>(
    r: &'a CopyReport,
    names: &[&str],
    f: fn(&PredictorScore) -> f64,
) -> Option<&'a PredictorScore> {
    r.predictors
        .iter()
        .filter(|p| names.contains(&p.name.as_str()) && f(p).is_finite())
        .max_by(|a, b| f(a).total_cmp(&f(b)))
}

/// The verdict rows of `analyze copy`.
pub fn claims(r: &CopyReport) -> Vec<Claim> {
    let t = &r.task;
    let chance = 1.0 / t.symbols.max(1) as f64;
    let mut rows = vec![claim(
        "The network recalls the string (App. D)",
        "solved",
        (
            t.network_symbol_accuracy,
            format!(
                "{} per symbol on {} held-out sequences",
                pct(t.network_symbol_accuracy),
                r.held_out_batch
            ),
        ),
        (chance, format!("chance {}; margin 5 points", pct(chance))),
        0.05,
    )];
    let k = r.predictor(KOOPMAN);
    let lin = best(r, &[LIN_BLANK, LIN_ZERO, LIN_ZERO_NO_INPUT], |p| {
        p.rollout.symbol_accuracy
    });
    rows.push(claim(
        "KANN recalls the string better than the fixed-point linearisation [5] (App. D)",
        "KANN outperforms [5]",
        k.map_or((f64::NAN, "not scored".into()), |k| {
            (
                k.rollout.symbol_accuracy,
                format!(
                    "Koopman rolled out from the cue: {} of symbols",
                    pct(k.rollout.symbol_accuracy)
                ),
            )
        }),
        lin.map_or((f64::NAN, "no fixed point found".into()), |l| {
            (
                l.rollout.symbol_accuracy,
                format!(
                    "best linearisation {}; margin 5 points",
                    pct(l.rollout.symbol_accuracy)
                ),
            )
        }),
        0.05,
    ));
    rows.push(versus_trivial(r));
    rows.push(versus_linearised(r));
    rows
}

/// A one-step agreement row (margin 1 point): Koopman's agreement against a baseline's; with
/// bootstrap intervals (`one_step_intervals` of the report) both cells carry them and the
/// interval of the paired difference decides ([`kann_plot::verdict_from_interval`]).
fn one_step_row(
    what: &str,
    k: Option<&PredictorScore>,
    baseline: Option<(&PredictorScore, &str)>,
    intervals: Option<(&AgreementInterval, &AgreementInterval, &DifferenceInterval)>,
) -> Claim {
    let missing = || (f64::NAN, "not scored".to_string());
    let mut c = claim(
        what,
        "–",
        k.map_or_else(missing, |k| {
            (
                k.one_step.agreement,
                format!("{} of recall steps", pct(k.one_step.agreement)),
            )
        }),
        baseline.map_or_else(missing, |(p, label)| {
            (
                p.one_step.agreement,
                format!("{label} {}; margin 1 point", pct(p.one_step.agreement)),
            )
        }),
        0.01,
    );
    if let (Some((ki, bi, d)), Some((_, label))) = (intervals, baseline) {
        c.ours = format!(
            "{} of recall steps; Koopman − {label} {}",
            agreement_cell(ki),
            difference_cell(d)
        );
        c.baseline = format!("{label} {}; margin 1 point", agreement_cell(bi));
        c.verdict = kann_plot::verdict_from_interval(d.difference_ci, 0.01);
    }
    c
}

/// Koopman's one-step agreement against the trivial predictor's.
fn versus_trivial(r: &CopyReport) -> Claim {
    let ci = r
        .one_step_intervals
        .as_ref()
        .map(|c| (&c.koopman, &c.trivial, &c.koopman_minus_trivial));
    one_step_row(
        "KANN's one-step prediction agrees with the network (App. D)",
        r.predictor(KOOPMAN),
        r.predictor(TRIVIAL).map(|p| (p, "trivial h_(t+1) = h_t")),
        ci,
    )
}

/// Koopman's one-step agreement against the best linearisation's (highest one-step agreement);
/// its interval is conditional on the fixed points found on the analysis batch.
fn versus_linearised(r: &CopyReport) -> Claim {
    let lin = best(r, &[LIN_BLANK, LIN_ZERO, LIN_ZERO_NO_INPUT], |p| {
        p.one_step.agreement
    });
    let ci = r.one_step_intervals.as_ref().and_then(|c| {
        let (l, d) = (c.linearised.as_ref()?, c.koopman_minus_linearised.as_ref()?);
        Some((&c.koopman, l, d))
    });
    let mut c = one_step_row(
        "KANN's one-step prediction agrees with the network more often than the fixed-point linearisation [5] (App. D)",
        r.predictor(KOOPMAN),
        lin.map(|p| (p, "best linearisation")),
        ci,
    );
    if lin.is_none() {
        c.baseline = "no fixed point found".into();
    } else if ci.is_some() {
        c.baseline
            .push_str(" (fixed points not refitted: conditional on them)");
    }
    c
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// The SVG of figure stem `name` if the analysis wrote it.
fn fig(dir: &Path, r: &CopyReport, stem: &str) -> Result<Option<String>> {
    let f = format!("{stem}.svg");
    if r.figures.contains(&f) {
        svg_file(dir, &f).map(Some)
    } else {
        Ok(None)
    }
}

/// Writes `report.html` for `r` into `dir`.
pub fn write(dir: &Path, r: &CopyReport, claims: Vec<Claim>) -> Result<()> {
    let sections = vec![
        task_section(r),
        memory_section(dir, r)?,
        fixed_points_section(dir, r)?,
        predictors_section(dir, r)?,
    ];
    let t = &r.task;
    let page = HtmlReport {
        title: format!(
            "KANN analysis of the copy problem (App. D), {} hidden {}",
            t.cell.to_uppercase(),
            t.hidden
        ),
        claims,
        sections,
        ..HtmlReport::default()
    };
    write_page(dir, &page)
}

/// The section of App. D: the copy task and how well the network does it.
fn task_section(r: &CopyReport) -> Section {
    let t = &r.task;
    Section {
        heading: "App. D: the copy task and the network".into(),
        svg: None,
        numbers: vec![
            kv(
                "task",
                format!(
                    "{} symbols over {}, {} blanks, recall window; {} steps; span {}",
                    t.len, t.symbols, t.delay, t.steps, t.memory_span
                ),
            ),
            kv(
                "network",
                format!(
                    "{} per symbol, {} whole strings ({} {} hidden)",
                    pct(t.network_symbol_accuracy),
                    pct(t.network_string_accuracy),
                    t.cell.to_uppercase(),
                    t.hidden
                ),
            ),
        ],
        paragraph: format!(
            "Analysis batch: {} test sequences (the fit, the fixed-point starts); held-out batch: \
             {} others (every score). Reproduce: {}",
            r.analysis_batch, r.held_out_batch, r.command
        ),
        ..Section::default()
    }
}

/// The section of Koopman memory against the task: the modes whose `τ(0.01)` (Eq. 9) covers
/// the span.
fn memory_section(dir: &Path, r: &CopyReport) -> Result<Section> {
    let t = &r.task;
    let k = &r.koopman;
    Ok(Section {
        heading: "Koopman memory against the task (Eq. 9)".into(),
        svg: fig(dir, r, "spectrum")?,
        numbers: vec![
            kv(
                "fit",
                format!(
                    "rank {}, e_rel {:.4} on {} states",
                    k.rank, k.e_rel_fit, k.fitted_states
                ),
            ),
            kv(
                "eigenvalues keeping the span",
                format!(
                    "{} with |λ| ≥ {:.4} (> 0.99: {}, > 0.95: {}); one-hot slots needed {}",
                    k.count_horizon_at_least_span,
                    k.modulus_for_span,
                    k.count_above_099,
                    k.count_above_095,
                    t.symbol_slots
                ),
            ),
        ],
        paragraph: format!(
            "A mode keeps 1% of itself over the span of {} steps iff τ(0.01) ≥ {}, i.e. |λ| ≥ {:.4}.",
            t.memory_span, t.memory_span, k.modulus_for_span
        ),
        ..Section::default()
    })
}

/// The section of the fixed points and their Jacobians, beside C.
fn fixed_points_section(dir: &Path, r: &CopyReport) -> Result<Section> {
    Ok(Section {
        heading: "Fixed points and their Jacobians, beside C".into(),
        svg: fig(dir, r, "copy_spectra")?,
        numbers: r
            .fixed_points
            .iter()
            .map(|f| {
                kv(
                    &format!("{} input", f.input),
                    format!(
                        "{} points from {} starts; line attractor: {}",
                        f.points.len(),
                        f.starts,
                        if f.line_attractor { "yes" } else { "no" }
                    ),
                )
            })
            .collect(),
        paragraph: "Fixed points of the cell at a constant input, found from states of the \
                    analysis batch; the Jacobian at the slowest is drawn beside C's spectrum."
            .into(),
        ..Section::default()
    })
}

/// The section of the predictors on the held-out batch: one step and rolled out.
fn predictors_section(dir: &Path, r: &CopyReport) -> Result<Section> {
    let mut numbers: Vec<(String, String)> = r
        .predictors
        .iter()
        .map(|p| {
            kv(
                &p.name,
                format!(
                    "one step: e_rel {:.4}, agreement {}; rolled out: symbols {}, strings {}",
                    p.one_step.e_rel,
                    pct(p.one_step.agreement),
                    pct(p.rollout.symbol_accuracy),
                    pct(p.rollout.string_accuracy)
                ),
            )
        })
        .collect();
    if let Some(c) = &r.one_step_intervals {
        numbers.push(kv(
            "one-step agreement intervals",
            crate::copy::intervals::one_step_line(c),
        ));
    }
    Ok(Section {
        heading: "Which predictor reproduces the network? (held-out batch)".into(),
        svg: fig(dir, r, "copy_predictors")?,
        numbers,
        paragraph: "One step: each recall-window state from the true state before it. Rolled \
                    out: from the state at the cue over the recall window. The trivial predictor \
                    and chance are the baselines."
            .into(),
        ..Section::default()
    })
}
