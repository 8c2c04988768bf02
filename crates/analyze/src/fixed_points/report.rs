//! Stage 5: `fixed_points.json` ([`FixedPointsReport`]), `fixed_points.md` ([`markdown`]) and
//! the console summary ([`summary`]).

use std::fmt::Write as _;

use kann_dynamics::FixedPointOptions;
use serde::{Deserialize, Serialize};

use super::compare::{Comparison, PerPredictor};
use super::search::{Eigenvalue, InputReport, PcaReport, PointReport};
use crate::kann::EigenSummary;

/// The Koopman side on the same batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KoopmanSide {
    /// Rank of the basis.
    pub rank: usize,
    /// `e_rel` (Eq. 12) of the fit on its real steps, as `analyze imdb` computes it.
    pub e_rel: f64,
    /// The ten eigenvalues of largest modulus.
    pub top_eigenvalues: Vec<EigenSummary>,
}

/// `fixed_points.json` of `analyze fixed-points`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPointsReport {
    /// The run folder.
    pub run_dir: String,
    /// The run's task (`imdb`, `ecg` or `copy`).
    #[serde(default = "imdb")]
    pub task: String,
    /// The command that reproduces it.
    pub command: String,
    /// The cell.
    pub cell: String,
    /// State width `n` (`H`, or `2H` for the LSTM's `[h; c]`).
    pub state_dim: usize,
    /// Sequences in the batch (reviews, beats or strings: [`FixedPointsReport::units`]).
    pub batch: usize,
    /// Real steps in the batch.
    pub steps: usize,
    /// The settings of the search.
    pub options: FixedPointOptions,
    /// The Koopman fit.
    pub koopman: KoopmanSide,
    /// Fixed points at each input (zero and mean; copy: zero and blank).
    pub inputs: Vec<InputReport>,
    /// One-step prediction, linearisation (around the fixed points of each input) vs Koopman.
    pub comparisons: Vec<Comparison>,
    /// Figure files written (PNG and SVG).
    pub figures: Vec<String>,
    /// Anything to keep in mind.
    pub warnings: Vec<String>,
}

fn imdb() -> String {
    "imdb".into()
}

impl FixedPointsReport {
    /// What the batch's sequences are called: `reviews`, `beats` or `strings`.
    pub fn units(&self) -> &'static str {
        match self.task.as_str() {
            "ecg" => "beats",
            "copy" => "strings",
            _ => "reviews",
        }
    }

    /// The input whose most line-attractor-like point is drawn and judged: the mean input, else
    /// the zero input (the last input that has one), with that point's index.
    pub fn line_attractor(&self) -> Option<(&InputReport, usize)> {
        self.inputs
            .iter()
            .rev()
            .find_map(|r| r.line_attractor_point.map(|i| (r, i)))
    }
}

fn fmt_eig(l: &Eigenvalue) -> String {
    if l.im.abs() < 1e-12 {
        format!("{:.4}", l.re)
    } else {
        format!("{:.4}{:+.4}i", l.re, l.im)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.3}"))
}

/// The readout's value at a point: its logit `G(h*)` (IMDB), its class (copy), else `–`.
pub fn readout_value(p: &PointReport) -> String {
    match (p.logit, p.class) {
        (Some(g), _) => format!("{g:.3}"),
        (None, Some(c)) => format!("class {c}"),
        _ => "–".into(),
    }
}

/// `; G(h*) from a to b` for a one-logit readout, else nothing.
pub fn logit_range(p: &PcaReport) -> String {
    p.logit_range.map_or(String::new(), |(a, b)| {
        format!("; G(h*) from {a:.3} to {b:.3}")
    })
}

fn joined<T>(xs: impl Iterator<Item = T>, f: impl Fn(T) -> String, sep: &str) -> String {
    xs.map(f).collect::<Vec<_>>().join(sep)
}

/// The summary lines of one input's fixed points.
fn summary_input(s: &mut String, inp: &InputReport) {
    let _ = writeln!(
        s,
        "{} input: {} fixed points from {} starts (dropped q > max_q: {}, duplicates: {}); q of starts median {:.1e}, max {:.1e}",
        inp.input,
        inp.points.len(),
        inp.starts,
        inp.dropped_large_q,
        inp.duplicates,
        inp.q_of_starts_median,
        inp.q_of_starts_max
    );
    if let Some(i) = inp.line_attractor_point {
        let p = &inp.points[i];
        let _ = writeln!(
            s,
            "  most line-attractor-like point {}: q {:.1e}, G(h*) {}, top λ: {}; |cos(v1, w)| {}, |cos(l1, w)| {}",
            i + 1,
            p.q,
            readout_value(p),
            joined(p.top_eigenvalues.iter().take(5), fmt_eig, ", "),
            opt(p.cos_right_readout),
            opt(p.cos_left_readout)
        );
    }
    if let Some(p) = &inp.pca {
        let _ = writeln!(
            s,
            "  PCA of the fixed points: variance share {}; |cos(PC1, w)| {}, |cos(PC1, v1)| {}{}",
            joined(p.variance_ratio.iter(), |v| format!("{v:.3}"), ", "),
            opt(p.cos_pc1_readout),
            opt(p.cos_pc1_top_eigenvector),
            logit_range(p)
        );
    }
}

/// The summary lines of one comparison.
fn summary_comparison(s: &mut String, c: &Comparison) {
    let _ = writeln!(
        s,
        "one-step e_rel over {} targets, linearised at the {} input's fixed points: linearised {:.4}, linearised without input {:.4}, Koopman {:.4}, trivial {:.4}, exact map {:.1e}",
        c.targets,
        c.input,
        c.e_rel.linearised,
        c.e_rel.linearised_autonomous,
        c.e_rel.koopman,
        c.e_rel.trivial,
        c.e_rel.exact_map
    );
    for (what, a) in [
        ("last step", &c.agreement_last_step),
        ("all steps", &c.agreement_all_steps),
    ] {
        let Some(a) = a else { continue };
        let _ = writeln!(
            s,
            "agreement ({what}): linearised {:.4}, without input {:.4}, Koopman {:.4}, trivial {:.4}, exact {:.4}",
            a.linearised, a.linearised_autonomous, a.koopman, a.trivial, a.exact_map
        );
    }
}

/// The console summary.
pub fn summary(r: &FixedPointsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Koopman (rank {}): e_rel {:.4}; top |λ|: {}",
        r.koopman.rank,
        r.koopman.e_rel,
        joined(
            r.koopman.top_eigenvalues.iter().take(5),
            |e| format!("{:.4}", e.modulus),
            ", "
        )
    );
    for inp in &r.inputs {
        summary_input(&mut s, inp);
    }
    for c in &r.comparisons {
        summary_comparison(&mut s, c);
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// The section of `fixed_points.md` on one input's fixed points (at most 30 rows).
fn markdown_input(s: &mut String, inp: &InputReport) {
    let _ = writeln!(
        s,
        "## Fixed points at the {} input (|x| = {:.3})\n",
        inp.input, inp.input_norm
    );
    s.push_str("| # | q | starts | G(h*) | dist. to trajectories | top eigenvalues of J | #\\|λ\\|>0.99 | \\|cos(v1, w)\\| | \\|cos(l1, w)\\| |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (i, p) in inp.points.iter().enumerate().take(30) {
        let _ = writeln!(
            s,
            "| {} | {:.1e} | {} | {} | {:.3} | {} | {} | {} | {} |",
            i + 1,
            p.q,
            p.starts_merged,
            readout_value(p),
            p.distance_to_trajectories,
            joined(p.top_eigenvalues.iter().take(3), fmt_eig, ", "),
            p.count_above_099,
            opt(p.cos_right_readout),
            opt(p.cos_left_readout)
        );
    }
    if inp.points.len() > 30 {
        let _ = writeln!(s, "\n({} more in fixed_points.json)", inp.points.len() - 30);
    }
    s.push('\n');
}

/// An agreement to 4 decimals, `–` where none was scored (NaN).
fn agree(a: f64) -> String {
    if a.is_nan() {
        "–".into()
    } else {
        format!("{a:.4}")
    }
}

/// The section of `fixed_points.md` on one comparison.
fn markdown_comparison(s: &mut String, c: &Comparison) {
    let _ = writeln!(
        s,
        "## One-step prediction on the batch, linearised at the {} input's fixed points\n\n{}; {} fixed points, mean |s_t − s*|/|s_t| to the nearest {:.3}\n",
        c.input, c.method, c.fixed_points, c.mean_relative_distance_to_nearest
    );
    s.push_str("| predictor | e_rel | agreement, last step | agreement, all steps |\n| --- | --- | --- | --- |\n");
    let e = &c.e_rel;
    let none = PerPredictor::not_scored();
    let a = c.agreement_last_step.as_ref().unwrap_or(&none);
    let b = c.agreement_all_steps.as_ref().unwrap_or(&none);
    for (name, e, a, b) in [
        (
            "linearisation around the nearest fixed point",
            e.linearised,
            a.linearised,
            b.linearised,
        ),
        (
            "linearisation, no input term",
            e.linearised_autonomous,
            a.linearised_autonomous,
            b.linearised_autonomous,
        ),
        ("Koopman (Eq. 6)", e.koopman, a.koopman, b.koopman),
        ("trivial h_(t+1) = h_t", e.trivial, a.trivial, b.trivial),
        ("exact map (f64)", e.exact_map, a.exact_map, b.exact_map),
    ] {
        let _ = writeln!(s, "| {name} | {e:.4e} | {} | {} |", agree(a), agree(b));
    }
    s.push('\n');
}

/// `fixed_points.md`.
pub fn markdown(r: &FixedPointsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Fixed points and linearisation of the {} ({})\n",
        r.cell.to_uppercase(),
        r.run_dir
    );
    let _ = writeln!(
        s,
        "`{}`\n\n{} {}, {} real steps; state width {}. Fixed points minimise q(s) = ½|F(s, x) − s|² (Levenberg–Marquardt, at most {} iterations) from starts sampled along the batch's trajectories; kept when q ≤ {:e}, merged within {:e}.\n",
        r.command,
        r.batch,
        r.units(),
        r.steps,
        r.state_dim,
        r.options.max_iter,
        r.options.max_q,
        r.options.unique_tol
    );
    s.push_str("## Summary\n\n```\n");
    s.push_str(&summary(r));
    s.push_str("```\n\n");
    for inp in &r.inputs {
        markdown_input(&mut s, inp);
    }
    for c in &r.comparisons {
        markdown_comparison(&mut s, c);
    }
    for f in r.figures.iter().filter(|f| f.ends_with(".png")) {
        let _ = writeln!(s, "![{f}]({f})\n");
    }
    s
}
