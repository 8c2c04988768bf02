//! `report.md`, the console summary and the figures of `analyze copy`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::{CopyReport, EXACT, FixedPointSide, KOOPMAN, TRIVIAL};
use crate::fixed_points::names;

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The fixed-point set whose slowest point is drawn: blank input, else zero input.
fn drawn_side(r: &CopyReport) -> Option<&FixedPointSide> {
    r.fixed_points
        .iter()
        .find(|f| f.input == "blank" && !f.slowest_spectrum.is_empty())
        .or_else(|| {
            r.fixed_points
                .iter()
                .find(|f| !f.slowest_spectrum.is_empty())
        })
}

/// `copy_spectra` (Koopman beside the Jacobian at the slowest fixed point, unit circle),
/// `spectrum` (Koopman alone with memory horizons) and `copy_predictors` (the predictors'
/// scores on the held-out batch).
pub(super) fn figures(dir: &Path, r: &CopyReport, koopman: &[(f64, f64)]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let title = format!(
        "Koopman operator C, {} hidden {} on the copy task (len {}, delay {}, rank {})",
        r.task.cell.to_uppercase(),
        r.task.hidden,
        r.task.len,
        r.task.delay,
        r.koopman.rank
    );
    let p = kann_plot::spectrum(
        dir,
        "spectrum",
        &kann_plot::SpectrumFigure::new(&title, koopman),
    )
    .context("writing the figure spectrum")?;
    out.extend(names(&p));
    if let Some(side) = drawn_side(r) {
        out.extend(slowest_spectra(dir, r, side, koopman)?);
    }
    out.extend(predictors_figure(dir, r)?);
    Ok(out)
}

/// `copy_spectra`: C's spectrum beside that of the Jacobian `∂F/∂s` at `side`'s slowest fixed
/// point, zoomed on the modulus that keeps the span (Eq. 9). Returns the files written.
fn slowest_spectra(
    dir: &Path,
    r: &CopyReport,
    side: &FixedPointSide,
    koopman: &[(f64, f64)],
) -> Result<[String; 2]> {
    let jac: Vec<(f64, f64)> = side.slowest_spectrum.iter().map(|l| (l.re, l.im)).collect();
    let i = side.slowest_point.unwrap_or(0);
    let title = format!(
        "Koopman C (analysis batch) and Jacobian dF/ds at {} fixed point {} of {}, {}",
        side.input,
        i + 1,
        side.points.len(),
        r.task.cell.to_uppercase()
    );
    let zoom = ((r.koopman.modulus_for_span - 0.05) * 20.0).floor() / 20.0;
    let zoom = zoom.clamp(0.5, 0.95);
    let p = kann_plot::spectra(
        dir,
        "copy_spectra",
        &kann_plot::SpectraFigure {
            title: &title,
            first: ("J = dF/ds at the fixed point", &jac),
            second: ("Koopman C", koopman),
            zoom_from: zoom,
        },
    )
    .context("writing the figure copy_spectra")?;
    Ok(names(&p))
}

/// `copy_predictors`: every predictor's one-step `e_rel` (Eq. 12) and agreement and its
/// rolled-out recall on the held-out batch. Returns the files written.
fn predictors_figure(dir: &Path, r: &CopyReport) -> Result<[String; 2]> {
    let groups: Vec<String> = r.predictors.iter().map(|p| short(&p.name)).collect();
    let metric = |name: &str, f: &dyn Fn(&super::PredictorScore) -> f64| kann_plot::SweepMetric {
        name: name.to_string(),
        values: r
            .predictors
            .iter()
            .enumerate()
            .map(|(g, p)| (g, f(p)))
            .filter(|(_, v)| v.is_finite())
            .collect(),
    };
    let title = format!(
        "{} held-out: K, K2 Koopman; Lb, L0, L0- linearised; h_t trivial; F exact",
        r.held_out_batch
    );
    let p = kann_plot::sweep_numbers(
        dir,
        "copy_predictors",
        &kann_plot::SweepNumbersFigure {
            title: &title,
            groups,
            metrics: vec![
                metric("one step: e_rel (Eq. 12)", &|p| p.one_step.e_rel),
                metric("one step: agreement with the network", &|p| {
                    p.one_step.agreement
                }),
                metric("rolled out from the cue: symbols recalled", &|p| {
                    p.rollout.symbol_accuracy
                }),
                metric("rolled out: whole strings recalled", &|p| {
                    p.rollout.string_accuracy
                }),
            ],
        },
    )
    .context("writing the figure copy_predictors")?;
    Ok(names(&p))
}

/// A short label of a predictor for the figure's axis (the title says which is which).
fn short(name: &str) -> String {
    match name {
        KOOPMAN => "K".into(),
        super::KOOPMAN_AFTER => "K2".into(),
        super::LIN_BLANK => "Lb".into(),
        super::LIN_ZERO => "L0".into(),
        super::LIN_ZERO_NO_INPUT => "L0-".into(),
        TRIVIAL => "h_t".into(),
        EXACT => "F".into(),
        other => other.into(),
    }
}

/// The console summary.
pub(super) fn summary(r: &CopyReport) -> String {
    let mut s = String::new();
    let k = &r.koopman;
    let _ = writeln!(
        s,
        "network on {} held-out sequences: recall {} per symbol, {} whole strings",
        r.held_out_batch,
        pct(r.task.network_symbol_accuracy),
        pct(r.task.network_string_accuracy)
    );
    let _ = writeln!(
        s,
        "Koopman (rank {}, {} states): e_rel {:.4}; memory span {} steps needs |λ| ≥ {:.4}: {} eigenvalues (|λ| > 0.99: {}, > 0.95: {}); symbols × positions = {}; top |λ|: {}",
        k.rank,
        k.fitted_states,
        k.e_rel_fit,
        r.task.memory_span,
        k.modulus_for_span,
        k.count_horizon_at_least_span,
        k.count_above_099,
        k.count_above_095,
        r.task.symbol_slots,
        k.eigenvalues
            .iter()
            .take(5)
            .map(|e| format!("{:.4}", e.modulus))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for f in &r.fixed_points {
        let _ = writeln!(
            s,
            "{} input: {} fixed points from {} starts (dropped for q: {}, duplicates: {}); PCA {}; line attractor: {}{}",
            f.input,
            f.points.len(),
            f.starts,
            f.dropped_large_q,
            f.duplicates,
            f.pca_variance_ratio
                .iter()
                .map(|v| format!("{v:.3}"))
                .collect::<Vec<_>>()
                .join("/"),
            if f.line_attractor { "yes" } else { "no" },
            f.slowest_point
                .map(|i| format!(
                    "; slowest point {}: |λ1| {:.4}, {} eigenvalues ≥ {:.4}",
                    i + 1,
                    f.points[i]
                        .top_eigenvalues
                        .first()
                        .map_or(f64::NAN, |l| l.modulus),
                    f.points[i].count_for_span,
                    r.koopman.modulus_for_span
                ))
                .unwrap_or_default()
        );
    }
    for p in &r.predictors {
        let _ = writeln!(
            s,
            "{:<52} one step: e_rel {:.4}, agreement {}; rolled out: symbols {}, strings {}, agreement {}",
            p.name,
            p.one_step.e_rel,
            pct(p.one_step.agreement),
            pct(p.rollout.symbol_accuracy),
            pct(p.rollout.string_accuracy),
            pct(p.rollout.agreement)
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// The section of `report.md` on the Koopman memory against the task's span (Eq. 9).
fn markdown_memory(s: &mut String, r: &CopyReport) {
    let t = &r.task;
    let k = &r.koopman;
    let _ = writeln!(
        s,
        "## Koopman memory against the task\n\nA mode keeps ε = 0.01 of itself over the span of {} steps iff τ(0.01) ≥ {} (Eq. 9), i.e. |λ| ≥ 0.01^(1/{}) = {:.4}. The operator (rank {}, e_rel {:.4} on its {} fitted states) has **{}** such eigenvalues ({} above 0.99, {} above 0.95); a linear memory of the string as one-hot slots would need {} (symbols × positions), and {} positions at least. Longest finite horizon: {}.\n",
        t.memory_span,
        t.memory_span,
        t.memory_span,
        k.modulus_for_span,
        k.rank,
        k.e_rel_fit,
        k.fitted_states,
        k.count_horizon_at_least_span,
        k.count_above_099,
        k.count_above_095,
        t.symbol_slots,
        t.len,
        k.longest_finite_tau
            .map_or("–".into(), |v| format!("{v:.1} steps"))
    );
    s.push_str("| # | λ | \\|λ\\| | τ(0.01) |\n| --- | --- | --- | --- |\n");
    for e in k.eigenvalues.iter().take(20) {
        let _ = writeln!(
            s,
            "| {} | {:.4}{:+.4}i | {:.4} | {} |",
            e.index,
            e.re,
            e.im,
            e.modulus,
            e.tau.map_or("∞".into(), |v| format!("{v:.1}"))
        );
    }
    s.push('\n');
}

/// The sections of `report.md` on the fixed points at each input.
fn markdown_fixed_points(s: &mut String, r: &CopyReport) {
    let t = &r.task;
    for f in &r.fixed_points {
        let _ = writeln!(
            s,
            "## Fixed points at the {} input\n\n{} points from {} starts (dropped for q > max_q: {}, duplicates: {}, median q of the starts {:.1e}); PCA variance shares {}; line attractor (≥ 2 points, PC 1 ≥ 90%, |λ1| within 0.01 of 1): **{}**.\n",
            f.input,
            f.points.len(),
            f.starts,
            f.dropped_large_q,
            f.duplicates,
            f.q_of_starts_median,
            if f.pca_variance_ratio.is_empty() {
                "–".into()
            } else {
                f.pca_variance_ratio
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if f.line_attractor { "yes" } else { "no" }
        );
        if f.points.is_empty() {
            continue;
        }
        s.push_str("| # | q | starts | \\|h*\\| | readout class | top \\|λ\\| of J | #\\|λ\\|>0.99 | #\\|λ\\| ≥ span modulus |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (i, p) in f.points.iter().enumerate().take(20) {
            let _ = writeln!(
                s,
                "| {} | {:.1e} | {} | {:.3} | {} | {} | {} | {} |",
                i + 1,
                p.q,
                p.starts_merged,
                p.norm,
                if p.readout_class == t.symbols {
                    "blank".to_string()
                } else {
                    p.readout_class.to_string()
                },
                p.top_eigenvalues
                    .iter()
                    .take(3)
                    .map(|l| format!("{:.4}", l.modulus))
                    .collect::<Vec<_>>()
                    .join(", "),
                p.count_above_099,
                p.count_for_span
            );
        }
        s.push('\n');
    }
}

/// The section of `report.md` on the predictors scored on the held-out batch.
fn markdown_predictors(s: &mut String, r: &CopyReport) {
    let t = &r.task;
    let _ = writeln!(
        s,
        "## Which reproduces the network's outputs? (held-out batch, recall window)\n\nOne step: each recall-window state from the true state one step before; agreement = the network's readout (argmax symbol) on the predicted state equals its output on the true state. Rolled out: from the true state at the cue, {} steps with the real blank inputs (Koopman: h_c B C^(l−1) R; linearisations iterated, nearest fixed point chosen again each step; trivial: the cue state held); accuracy against the target string.\n",
        t.len
    );
    s.push_str("| predictor (figure label) | one-step e_rel | one-step agreement | one-step accuracy | rolled-out symbols | rolled-out strings | rolled-out agreement | rolled-out e_rel |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for p in &r.predictors {
        let _ = writeln!(
            s,
            "| {} ({}) | {:.4} | {} | {} | {} | {} | {} | {:.4} |",
            p.name,
            short(&p.name),
            p.one_step.e_rel,
            pct(p.one_step.agreement),
            pct(p.one_step.accuracy),
            pct(p.rollout.symbol_accuracy),
            pct(p.rollout.string_accuracy),
            pct(p.rollout.agreement),
            p.rollout.e_rel
        );
    }
    if let Some(c) = &r.one_step_intervals {
        let _ = writeln!(s, "\n{}", super::intervals::one_step_line(c));
    }
    let _ = writeln!(
        s,
        "\nThe baselines that could explain a score away: the trivial predictor (the state barely moves in one step) and chance ({} per symbol). During the recall window the input is blank, so the blank-input linearisation's input term is zero there: with and without it are the same predictor.\n",
        pct(1.0 / t.symbols as f64)
    );
}

/// `report.md`.
pub fn markdown(r: &CopyReport) -> String {
    let mut s = String::new();
    let t = &r.task;
    let _ = writeln!(
        s,
        "# The copy problem (App. D): Koopman vs fixed points, {} hidden {} ({})\n",
        t.cell.to_uppercase(),
        t.hidden,
        r.run_dir
    );
    let _ = writeln!(
        s,
        "`{}`\n\nStrings of {} symbols over an alphabet of {}, {} blanks, the cue, then the recall window ({} steps per sequence; each symbol is held {} steps). Analysis batch: {} test sequences (the Koopman fit, the fixed-point starts); held-out batch: {} other test sequences (every score below). Took {:.1} s.\n",
        r.command,
        t.len,
        t.symbols,
        t.delay,
        t.steps,
        t.memory_span,
        r.analysis_batch,
        r.held_out_batch,
        r.seconds
    );
    s.push_str("## Summary\n\n```\n");
    s.push_str(&summary(r));
    s.push_str("```\n\n");
    let _ = writeln!(
        s,
        "## The network\n\nRecall accuracy on the held-out batch: **{}** per symbol, **{}** whole strings (chance {} per symbol).\n",
        pct(t.network_symbol_accuracy),
        pct(t.network_string_accuracy),
        pct(1.0 / t.symbols as f64)
    );
    markdown_memory(&mut s, r);
    markdown_fixed_points(&mut s, r);
    markdown_predictors(&mut s, r);
    for w in &r.warnings {
        let _ = writeln!(s, "- warning: {w}");
    }
    for f in r.figures.iter().filter(|f| f.ends_with(".png")) {
        let _ = writeln!(s, "![{f}]({f})\n");
    }
    s
}
