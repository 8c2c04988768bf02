//! `fixed_points.html` of `analyze fixed-points`: the verdict table, then the run and its batch,
//! the Koopman fit (Eqs. 4-5, 12), the fixed points at each input with the Jacobian spectrum of
//! the most line-attractor-like one, that spectrum beside Koopman's, and the one-step prediction
//! (Eqs. 6, 12), each with its figure. The page is not `report.html`: the run folder is an IMDB
//! run, whose `report.html` is `analyze imdb`'s.
//!
//! Every number of a row is read from [`FixedPointsReport`] (what `fixed_points.json` holds);
//! `fixed_points.json` carries no bootstrap intervals, so no row has one.

use std::path::Path;

use anyhow::Result;
use kann_plot::{Claim, HtmlReport, Section, Verdict};

use super::{claim, claim_without_baseline, pct, svg_file, write_page_as};
use crate::fixed_points::report::{logit_range, readout_value};
use crate::fixed_points::{Comparison, FixedPointsReport, InputReport, PerPredictor};

/// The name of the page in the run folder.
pub const PAGE: &str = "fixed_points.html";

/// `|λ_1|` within this of 1 counts as "an eigenvalue near 1" (the rule of `analyze copy`'s
/// `line_attractor`).
pub const NEAR_ONE: f64 = 0.01;

/// The mean and standard deviation of `|cos|` between a fixed vector and a uniformly random
/// direction of `R^n`: `E cos² = 1/n` and, for large `n`, `E|cos| ≈ √(2/(πn))`.
pub fn random_abs_cos(n: usize) -> (f64, f64) {
    let n = n.max(1) as f64;
    let mean = (2.0 / (std::f64::consts::PI * n)).sqrt().min(1.0);
    (mean, (1.0 / n - mean * mean).max(0.0).sqrt())
}

/// The comparison whose linearisation predicts best (lowest `e_rel` over both inputs, with or
/// without its input term), with that `e_rel` and the variant's name.
fn best_linearisation(r: &FixedPointsReport) -> Option<(&Comparison, f64, &'static str)> {
    r.comparisons
        .iter()
        .flat_map(|c| {
            [
                (c, c.e_rel.linearised, "with input term"),
                (c, c.e_rel.linearised_autonomous, "no input term"),
            ]
        })
        .filter(|(_, e, _)| e.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Row: Koopman's one-step `e_rel` (Eq. 12) against the trivial predictor's, margin 10% of it.
fn e_rel_row(r: &FixedPointsReport) -> Claim {
    const WHAT: &str = "The linear model predicts the next state (Sec. 4.3, Eq. 12)";
    let Some(c) = r.comparisons.first() else {
        return claim_without_baseline(
            WHAT,
            "e_rel 0.095",
            format!("e_rel {:.4} (fit)", r.koopman.e_rel),
            "no comparison: no fixed point was found, so the trivial predictor was not scored",
        );
    };
    let (k, t) = (c.e_rel.koopman, c.e_rel.trivial);
    claim(
        WHAT,
        "e_rel 0.095",
        (
            t - k,
            format!(
                "Koopman e_rel {k:.4} on {} one-step targets; trivial − Koopman {:+.4}",
                c.targets,
                t - k
            ),
        ),
        (
            0.0,
            format!("trivial h_(t+1) = h_t: e_rel {t:.4}; margin 10% of it"),
        ),
        0.1 * t,
    )
}

/// Row: the best linearisation's one-step `e_rel` against Koopman's; the claim (Koopman
/// predicts better) holds when the linearisation's `e_rel` exceeds Koopman's by 10% of the
/// trivial predictor's.
fn linearisation_row(r: &FixedPointsReport) -> Claim {
    const WHAT: &str = "KANN predicts the next state better than the linearisation around the nearest fixed point [5]";
    let Some((c, lin, variant)) = best_linearisation(r) else {
        return claim_without_baseline(
            WHAT,
            "KANN outperforms [5] (App. D)",
            format!("Koopman e_rel {:.4} (fit)", r.koopman.e_rel),
            "no fixed point found: no linearisation to compare",
        );
    };
    let (k, t) = (c.e_rel.koopman, c.e_rel.trivial);
    claim(
        WHAT,
        "KANN outperforms [5] (App. D)",
        (
            lin - k,
            format!(
                "Koopman e_rel {k:.4}; linearisation − Koopman {:+.4}",
                lin - k
            ),
        ),
        (
            0.0,
            format!(
                "best linearisation ({} input's fixed points, {variant}): e_rel {lin:.4}; trivial e_rel {t:.4}; margin 10% of trivial",
                c.input
            ),
        ),
        0.1 * t,
    )
}

/// Row: Koopman's one-step class agreement with the network (every step) against the trivial
/// predictor's, margin 1 point.
fn agreement_row(r: &FixedPointsReport) -> Claim {
    const WHAT: &str = "KANN's one-step prediction keeps the network's class";
    let Some(c) = r.comparisons.first() else {
        return claim_without_baseline(
            WHAT,
            "–",
            "not scored".into(),
            "no fixed point found: the one-step comparison did not run",
        );
    };
    let (Some(all), Some(last)) = (&c.agreement_all_steps, &c.agreement_last_step) else {
        return claim_without_baseline(
            WHAT,
            "–",
            "not scored".into(),
            "the network has no readout of this state (the ECG encoder's last state is decoded, not classified)",
        );
    };
    let (k, t) = (all.koopman, all.trivial);
    claim(
        WHAT,
        "–",
        (
            k,
            format!(
                "Koopman {} of {} steps (last step {})",
                pct(k),
                c.targets,
                pct(last.koopman)
            ),
        ),
        (
            t,
            format!(
                "trivial h_(t+1) = h_t {} (last step {}); margin 1 point",
                pct(t),
                pct(last.trivial)
            ),
        ),
        0.01,
    )
}

/// Whether the fixed points of `inp` look like a line attractor by `analyze copy`'s rule: at
/// least 2 points, PC 1 of them at least 90% of their variance, and `|λ_1|` of the slowest point
/// within [`NEAR_ONE`] of 1. `Err` says which part fails.
pub fn line_attractor_shape(inp: &InputReport) -> std::result::Result<(), String> {
    let pc1 = inp.pca.as_ref().and_then(|p| p.variance_ratio.first());
    let l1 = inp
        .line_attractor_point
        .and_then(|i| inp.points[i].top_eigenvalues.first())
        .map(|l| l.modulus);
    match (pc1, l1) {
        (None, _) => Err("fewer than 2 fixed points".into()),
        (Some(&v), _) if v < 0.9 => Err(format!("PC 1 holds {} of the points' variance", pct(v))),
        (_, Some(l)) if (l - 1.0).abs() <= NEAR_ONE => Ok(()),
        _ => Err(format!("|λ1| is not within {NEAR_ONE} of 1")),
    }
}

/// Row: a line attractor ([5]) aligned with the readout. The points must have a line
/// attractor's shape ([`line_attractor_shape`], else the claim does not hold); then the top
/// right eigenvector `v_1` of the slowest point against the readout `w`: `|cos(v_1, w)|` against
/// a random direction's, margin 3 sd of that.
fn line_attractor_row(r: &FixedPointsReport) -> Claim {
    const WHAT: &str = "A line attractor [5]: the fixed points lie on a line, the slowest has a Jacobian eigenvalue near 1 aligned with the readout";
    const PAPER: &str = "– ([5] reports one)";
    let Some((inp, i)) = r.line_attractor() else {
        return claim_without_baseline(WHAT, PAPER, "no fixed point found".into(), "–");
    };
    let p = &inp.points[i];
    let l1 = p.top_eigenvalues.first().map_or(f64::NAN, |l| l.modulus);
    let Some(cos) = p.cos_right_readout else {
        return line_without_readout(WHAT, PAPER, inp, i);
    };
    let (mean, sd) = random_abs_cos(r.state_dim);
    let pc1 = inp
        .pca
        .as_ref()
        .and_then(|p| p.variance_ratio.first())
        .map_or("–".into(), |v| pct(*v));
    let mut c = claim(
        WHAT,
        PAPER,
        (
            cos,
            format!(
                "{} input: {} points, PC 1 {pc1} of their variance; slowest (point {}): |λ1| {l1:.4}, {} eigenvalues > 0.99, |cos(v1, w)| {cos:.3}",
                inp.input,
                inp.points.len(),
                i + 1,
                p.count_above_099
            ),
        ),
        (
            mean,
            format!(
                "line: ≥ 2 points, PC 1 ≥ 90%, |λ1| within {NEAR_ONE} of 1; then a random direction of R^{}: |cos| ≈ {mean:.3} ± {sd:.3}, margin 3 sd",
                r.state_dim
            ),
        ),
        3.0 * sd,
    );
    if let Err(why) = line_attractor_shape(inp) {
        c.verdict = Verdict::DoesNotHold;
        c.baseline = format!("{}. Not a line: {why}", c.baseline);
    }
    c
}

/// The line-attractor row where the readout has no single direction (copy: one logit per
/// symbol; ECG: no readout): only the shape is judged, so it does not hold or is inconclusive.
fn line_without_readout(what: &str, paper: &str, inp: &InputReport, i: usize) -> Claim {
    let p = &inp.points[i];
    let ours = format!(
        "{} input: {} points; slowest (point {}): |λ1| {:.4}, {} eigenvalues > 0.99",
        inp.input,
        inp.points.len(),
        i + 1,
        p.top_eigenvalues.first().map_or(f64::NAN, |l| l.modulus),
        p.count_above_099
    );
    match line_attractor_shape(inp) {
        Err(why) => {
            let mut c = claim_without_baseline(what, paper, ours, "–");
            c.verdict = Verdict::DoesNotHold;
            c.baseline = format!("Not a line: {why}");
            c
        }
        Ok(()) => claim_without_baseline(
            what,
            paper,
            ours,
            "a line's shape; the readout has no single direction to align v1 with",
        ),
    }
}

/// The verdict rows of `analyze fixed-points`.
pub fn claims(r: &FixedPointsReport) -> Vec<Claim> {
    vec![
        e_rel_row(r),
        linearisation_row(r),
        agreement_row(r),
        line_attractor_row(r),
    ]
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// The SVG of figure stem `name` if the analysis wrote it.
fn fig(dir: &Path, r: &FixedPointsReport, stem: &str) -> Result<Option<String>> {
    let f = format!("{stem}.svg");
    if r.figures.contains(&f) {
        svg_file(dir, &f).map(Some)
    } else {
        Ok(None)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.3}"))
}

/// The numbers of one input's fixed points.
fn input_numbers(inp: &InputReport) -> Vec<(String, String)> {
    let mut rows = vec![kv(
        &format!("{} input (|x| = {:.3})", inp.input, inp.input_norm),
        format!(
            "{} points from {} starts (dropped q > max_q: {}, duplicates: {}, non-finite: {}); q of starts median {:.1e}, max {:.1e}",
            inp.points.len(),
            inp.starts,
            inp.dropped_large_q,
            inp.duplicates,
            inp.non_finite,
            inp.q_of_starts_median,
            inp.q_of_starts_max
        ),
    )];
    if let Some(i) = inp.line_attractor_point {
        let p = &inp.points[i];
        rows.push(kv(
            &format!("{} input: slowest point {}", inp.input, i + 1),
            format!(
                "q {:.1e}, G(h*) {}, |λ1| {:.4}, {} eigenvalues > 0.99, |cos(v1, w)| {}, |cos(l1, w)| {}, distance to the trajectories {:.3}",
                p.q,
                readout_value(p),
                p.top_eigenvalues.first().map_or(f64::NAN, |l| l.modulus),
                p.count_above_099,
                opt(p.cos_right_readout),
                opt(p.cos_left_readout),
                p.distance_to_trajectories
            ),
        ));
    }
    if let Some(p) = &inp.pca {
        rows.push(kv(
            &format!("{} input: PCA of the points", inp.input),
            format!(
                "variance shares {}; |cos(PC1, w)| {}, |cos(PC1, v1)| {}{}",
                p.variance_ratio
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                opt(p.cos_pc1_readout),
                opt(p.cos_pc1_top_eigenvector),
                logit_range(p)
            ),
        ));
    }
    rows
}

/// The numbers of one comparison.
fn comparison_numbers(c: &Comparison, units: &str) -> Vec<(String, String)> {
    let e = &c.e_rel;
    let none = PerPredictor::not_scored();
    let a = c.agreement_last_step.as_ref().unwrap_or(&none);
    let b = c.agreement_all_steps.as_ref().unwrap_or(&none);
    let row = |name: &str, e: f64, a: f64, b: f64| {
        let agreement = if a.is_nan() {
            String::new()
        } else {
            format!("; agreement {} (last step), {} (all steps)", pct(a), pct(b))
        };
        kv(
            &format!("{} input: {name}", c.input),
            format!("e_rel {e:.4}{agreement}"),
        )
    };
    vec![
        kv(
            &format!("{} input: fixed points linearised around", c.input),
            format!(
                "{}; mean |s_t − s*|/|s_t| to the nearest {:.3}; {} targets of {} {units}",
                c.fixed_points, c.mean_relative_distance_to_nearest, c.targets, c.reviews
            ),
        ),
        row("linearisation", e.linearised, a.linearised, b.linearised),
        row(
            "linearisation, no input term",
            e.linearised_autonomous,
            a.linearised_autonomous,
            b.linearised_autonomous,
        ),
        row("Koopman (Eq. 6)", e.koopman, a.koopman, b.koopman),
        row("trivial h_(t+1) = h_t", e.trivial, a.trivial, b.trivial),
        row(
            "exact map (f64, a check)",
            e.exact_map,
            a.exact_map,
            b.exact_map,
        ),
    ]
}

/// Where the batch comes from, per task.
fn batch_origin(r: &FixedPointsReport) -> &'static str {
    match r.task.as_str() {
        "ecg" => "The same normal test beats as `analyze ecg` with the same --batch and --seed.",
        "copy" => "Test strings of the run's copy problem, drawn with --seed.",
        _ => "The same reviews as `analyze imdb` with the same --batch and --seed.",
    }
}

/// How the one-step agreement is decided, per task.
fn agreement_words(r: &FixedPointsReport) -> &'static str {
    match r.task.as_str() {
        "ecg" => "No agreement: the encoder has no readout of its own.",
        "copy" => "Agreement: the same symbol argmax G as the network's.",
        _ => "Agreement: the same sign of the readout logit as the network's.",
    }
}

/// The first two sections: the run and its batch, the Koopman fit.
fn koopman_sections(dir: &Path, r: &FixedPointsReport) -> Result<Vec<Section>> {
    let k = &r.koopman;
    Ok(vec![
        Section {
            heading: "The run and the analysis batch".into(),
            numbers: vec![
                kv(
                    "cell",
                    format!("{} (state width {})", r.cell.to_uppercase(), r.state_dim),
                ),
                kv("run", r.run_dir.clone()),
                kv(
                    "batch",
                    format!("{} test {}, {} real steps", r.batch, r.units(), r.steps),
                ),
                kv(
                    "search",
                    format!(
                        "Levenberg–Marquardt, at most {} iterations; kept when q ≤ {:e}, merged within {:e}",
                        r.options.max_iter, r.options.max_q, r.options.unique_tol
                    ),
                ),
            ],
            paragraph: format!("{} Reproduce: {}", batch_origin(r), r.command),
            ..Section::default()
        },
        Section {
            heading: "The Koopman operator on the same batch (Eqs. 4-5, 12)".into(),
            svg: fig(dir, r, "fixed_point_koopman_spectrum")?,
            numbers: vec![
                kv(
                    "fit",
                    format!("rank {}, e_rel {:.4} on its real steps", k.rank, k.e_rel),
                ),
                kv(
                    "top |λ|",
                    k.top_eigenvalues
                        .iter()
                        .take(5)
                        .map(|e| format!("{:.4}", e.modulus))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ],
            paragraph: "The global linear model: one operator C for every state of the batch."
                .into(),
            ..Section::default()
        },
    ])
}

/// The local sections: the fixed points, the Jacobian beside C, the one-step prediction.
fn local_sections(dir: &Path, r: &FixedPointsReport) -> Result<Vec<Section>> {
    Ok(vec![
        Section {
            heading: format!(
                "Fixed points at the {} input",
                r.inputs
                    .iter()
                    .map(|i| i.input.as_str())
                    .collect::<Vec<_>>()
                    .join(" and the ")
            ),
            svg: fig(dir, r, "fixed_point_jacobian_spectrum")?,
            numbers: r.inputs.iter().flat_map(input_numbers).collect(),
            paragraph: "Fixed points minimise q(s) = ½|F(s, x) − s|² from states sampled along \
                        the batch's trajectories (Sussillo & Barak). The figure is the Jacobian \
                        spectrum at the slowest point (|λ1| closest to 1) of the mean input, else \
                        the zero input (copy: of the blank input); w is the readout, v1 and l1 \
                        the top right and left eigenvectors."
                .into(),
            ..Section::default()
        },
        Section {
            heading: "The Jacobian at the slowest fixed point beside C".into(),
            svg: fig(dir, r, "fixed_point_spectra")?,
            paragraph: "Both spectra in one complex plane: the local linear model at one point \
                        against the global one."
                .into(),
            ..Section::default()
        },
        Section {
            heading: "One-step prediction on the batch (Eqs. 6, 12)".into(),
            numbers: r
                .comparisons
                .iter()
                .flat_map(|c| comparison_numbers(c, r.units()))
                .collect(),
            paragraph: format!(
                "Every target h_(t+1) from the true state s_t: the linearisation around \
                        the fixed point nearest to s_t, F(s*, x̄) + J (s_t − s*) + B (x_(t+1) − x̄) \
                        (and without the B term), Koopman h_t B C Bᵀ, the trivial h_t and the \
                        exact map. {} The trivial predictor is the baseline.",
                agreement_words(r)
            ),
            ..Section::default()
        },
    ])
}

/// Writes `fixed_points.html` for `r` into `dir`.
pub fn write(dir: &Path, r: &FixedPointsReport, claims: Vec<Claim>) -> Result<()> {
    let mut sections = koopman_sections(dir, r)?;
    sections.extend(local_sections(dir, r)?);
    let page = HtmlReport {
        title: format!(
            "Fixed points and linearisation beside KANN, {} state width {}",
            r.cell.to_uppercase(),
            r.state_dim
        ),
        claims,
        sections,
        ..HtmlReport::default()
    };
    write_page_as(dir, PAGE, &page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed_points::{
        Comparison, Eigenvalue, KoopmanSide, PcaReport, PerPredictor, PointReport,
    };
    use kann_dynamics::FixedPointOptions;

    fn per(linearised: f64, koopman: f64, trivial: f64) -> PerPredictor {
        PerPredictor {
            exact_map: 0.0,
            linearised,
            linearised_autonomous: linearised + 0.1,
            koopman,
            trivial,
        }
    }

    fn point(l1: f64, cos: f64) -> PointReport {
        PointReport {
            q: 1e-12,
            iterations: 3,
            starts_merged: 1,
            norm: 1.0,
            logit: Some(0.5),
            class: None,
            distance_to_trajectories: 0.1,
            top_eigenvalues: vec![Eigenvalue {
                re: l1,
                im: 0.0,
                modulus: l1,
            }],
            count_above_099: 1,
            cos_right_readout: Some(cos),
            cos_left_readout: None,
        }
    }

    /// A report with one input (`mean`) of two points, PC 1 share `pc1`, the slowest `|λ1|` =
    /// `l1` with `|cos(v1, w)|` = `cos`, and one comparison of the given `e_rel`s.
    fn report(pc1: f64, l1: f64, cos: f64, e: PerPredictor) -> FixedPointsReport {
        let input = InputReport {
            input: "mean".into(),
            input_norm: 1.0,
            starts: 4,
            dropped_large_q: 0,
            duplicates: 2,
            non_finite: 0,
            q_of_starts_median: 1e-12,
            q_of_starts_max: 1e-11,
            points: vec![point(0.5, 0.0), point(l1, cos)],
            line_attractor_point: Some(1),
            line_attractor_spectrum: Vec::new(),
            pca: Some(PcaReport {
                variance_ratio: vec![pc1, 1.0 - pc1],
                cos_pc1_readout: None,
                cos_pc1_top_eigenvector: None,
                logit_range: Some((0.0, 1.0)),
            }),
        };
        let comparison = Comparison {
            input: "mean".into(),
            method: String::new(),
            fixed_points: 2,
            targets: 100,
            reviews: 4,
            mean_relative_distance_to_nearest: 0.5,
            e_rel: e,
            agreement_last_step: Some(per(0.9, 0.9, 0.8)),
            agreement_all_steps: Some(per(0.9, 0.95, 0.9)),
        };
        FixedPointsReport {
            run_dir: "run".into(),
            task: "imdb".into(),
            command: "analyze fixed-points".into(),
            cell: "gru".into(),
            state_dim: 100,
            batch: 4,
            steps: 104,
            options: FixedPointOptions::default(),
            koopman: KoopmanSide {
                rank: 3,
                e_rel: e.koopman,
                top_eigenvalues: Vec::new(),
            },
            inputs: vec![input],
            comparisons: vec![comparison],
            figures: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn verdicts(r: &FixedPointsReport) -> Vec<Verdict> {
        claims(r).into_iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn verdicts_follow_the_stated_rules() {
        use Verdict::*;
        // Koopman 0.2 vs trivial 0.6 (margin 0.06); linearisation 0.5 − Koopman 0.2 ≥ 0.06;
        // agreement 95% vs 90%; a line (PC 1 95%, |λ1| 0.999) aligned (0.5 ≫ 0.08 + 3·0.05).
        let good = report(0.95, 0.999, 0.5, per(0.5, 0.2, 0.6));
        assert_eq!(verdicts(&good), [Holds, Holds, Holds, Holds]);
        // The linearisation beats Koopman; Koopman within 10% of trivial; not a line.
        let bad = report(0.5, 0.999, 0.5, per(0.1, 0.58, 0.6));
        assert_eq!(
            verdicts(&bad),
            [Inconclusive, DoesNotHold, Holds, DoesNotHold]
        );
        assert!(claims(&bad)[3].baseline.contains("PC 1 holds 50.0%"));
        // A line whose slowest eigenvalue is far from 1, and one not aligned with the readout.
        assert_eq!(
            verdicts(&report(0.95, 0.9, 0.5, per(0.5, 0.2, 0.6)))[3],
            DoesNotHold
        );
        assert_eq!(
            verdicts(&report(0.95, 1.0, 0.05, per(0.5, 0.2, 0.6)))[3],
            DoesNotHold
        );
        // No fixed point: no comparison, every row inconclusive.
        let mut none = good.clone();
        none.inputs.clear();
        none.comparisons.clear();
        assert!(verdicts(&none).iter().all(|v| *v == Inconclusive));
        // No readout (an ECG run): no agreement and no alignment to judge; the line's shape is
        // still judged.
        let mut ecg = good.clone();
        ecg.task = "ecg".into();
        ecg.comparisons[0].agreement_all_steps = None;
        ecg.comparisons[0].agreement_last_step = None;
        for p in &mut ecg.inputs[0].points {
            (p.logit, p.cos_right_readout) = (None, None);
        }
        assert_eq!(verdicts(&ecg), [Holds, Holds, Inconclusive, Inconclusive]);
        ecg.inputs[0].pca.as_mut().unwrap().variance_ratio = vec![0.5, 0.5];
        assert_eq!(verdicts(&ecg)[3], DoesNotHold);
        let page = comparison_numbers(&ecg.comparisons[0], ecg.units());
        assert!(page.iter().all(|(_, v)| !v.contains("agreement")));
        assert!(page[0].1.ends_with("of 4 beats"), "{page:?}");
    }

    #[test]
    fn random_direction_baseline() {
        let (m, sd) = random_abs_cos(100);
        assert!(
            (m - 0.0798).abs() < 1e-3 && (sd - 0.0603).abs() < 1e-3,
            "{m} {sd}"
        );
        assert_eq!(
            random_abs_cos(1).0,
            1.0f64.min((2.0 / std::f64::consts::PI).sqrt())
        );
    }
}
