//! `report.json` and `report.md` of `analyze imdb`: the paper's numbers beside ours, with the
//! baselines next to every claim.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use super::contextual::ContextualChoice;
use super::fit_modes::{FitSteps, SpectrumSummary};
use super::sentiment::{BatchReadout, RandomSets, SentimentChoice, SetReadout};
use super::test_pass::ImdbAgreement;
use super::word_stats::WordStatsReport;
use super::words::ChannelStats;
use crate::common::{Accuracies, FigureFile, opt_pct, pct};
use crate::report::{PaperRow, Settings, figures_markdown, fmt_erel, fmt_lambda, fmt_tau};

/// A review shaded in Fig. 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    /// Figure stems (level and change) of the review's first view.
    pub figures: Vec<String>,
    /// The eigenvectors of the figures (1-based).
    pub set: Vec<usize>,
    /// `positive`, `negative` or `context`.
    pub role: String,
    /// Label of the review (1 = positive).
    pub label: u8,
    /// IMDB id and rating of the review (`id_rating`, as in the file name).
    pub review: String,
    /// Number of word pieces.
    pub pieces: usize,
    /// The network's logit at the last piece.
    pub logit: f64,
    /// The views offered on the HTML page for this review.
    pub views: Vec<String>,
    /// Per piece, the share of bootstrap refits (the tracking set chosen again in each) whose
    /// change of the tracking contribution has the full fit's sign (0 at the first piece);
    /// pieces at or above 0.9 are underlined in `word_tracking_*`. Absent without resampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_stability: Option<Vec<f64>>,
}

/// The contextual batch and its eigenvector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextualReport {
    /// Test reviews (of at most `max_len` pieces) containing one of the phrases.
    pub matching_reviews: usize,
    /// Reviews in the contextual batch (capped).
    pub batch: usize,
    /// The cap.
    pub cap: usize,
    /// Rank of the contextual fit.
    pub rank: usize,
    /// `|λ| > 0.99` count of the contextual fit.
    pub count_above_099: usize,
    /// The sentiment sets of the contextual fit (1-based), excluded from the choice.
    pub excluded: Vec<usize>,
    /// The best group and its null tests; `None` if no phrase occurrence was found.
    pub choice: Option<ContextualChoice>,
}

/// The readout test: the sets chosen on the analysis batch, tested on it and on a held-out batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentReport {
    /// The choice, with every candidate's test on the analysis batch.
    pub choice: SentimentChoice,
    /// The chosen sets on the analysis batch, with baselines.
    pub analysis_batch: BatchReadout,
    /// The chosen sets on a disjoint batch of test reviews, with baselines (`None` if the test
    /// split has no reviews left).
    pub held_out_batch: Option<BatchReadout>,
    /// Bootstrap intervals of the chosen sets' readout tests, the choice redone in every
    /// replicate (`--bootstrap`; absent with `--bootstrap 0`).
    #[serde(default)]
    pub intervals: Option<super::readout_intervals::SentimentIntervals>,
    /// Each replicate's readout-contribution direction of its tracking set (for the stability
    /// marks of Fig. 1; not written).
    #[serde(skip)]
    pub tracking_directions: Vec<Vec<f64>>,
}

/// Everything `analyze imdb` measured (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImdbReport {
    /// `imdb`.
    pub task: String,
    /// How the analysis was run.
    pub settings: Settings,
    /// The run's `max_len`: the analysis batch is padded to it.
    pub max_len: usize,
    /// Accuracies the run reported.
    pub accuracy: Accuracies,
    /// The fit the analysis uses (`--fit-steps`).
    pub fit_steps: FitSteps,
    /// Both fits' spectra, the used one first.
    pub spectra: Vec<SpectrumSummary>,
    /// Bootstrap intervals of the used fit's spectrum over the batch's reviews (`--bootstrap`;
    /// absent with `--bootstrap 0`).
    #[serde(default)]
    pub spectrum_intervals: Option<kann_koopman::SpectrumIntervals>,
    /// Bootstrap intervals of the used fit's e_rel on the batch's real steps, beside the trivial
    /// predictor's (`--bootstrap`; absent with `--bootstrap 0`).
    #[serde(default)]
    pub e_rel_intervals: Option<crate::intervals::ErelIntervals>,
    /// The used fit's e_rel on the held-out batch's real steps (out of sample: the fit never saw
    /// these reviews), beside the trivial predictor's, with intervals from refits on resampled
    /// batch reviews scored on independently resampled held-out reviews (`--bootstrap`; absent
    /// with `--bootstrap 0` or without a held-out batch).
    #[serde(default)]
    pub e_rel_held_out_intervals: Option<crate::intervals::ErelIntervals>,
    /// The readout test.
    pub sentiment: SentimentReport,
    /// App. A over the test set.
    pub word_stats: WordStatsReport,
    /// The contextual batch and its eigenvector.
    pub contextual: ContextualReport,
    /// Fig. 4 (left) with its baselines.
    pub agreement: ImdbAgreement,
    /// The reviews shaded in Fig. 1.
    pub highlights: Vec<Highlight>,
    /// Per-token values of the tracked eigen-groups for reviews of the analysis batch (the
    /// interactive Fig. 1 of `report.html`).
    #[serde(default)]
    pub token_views: crate::report_html::imdb::TokenViews,
    /// The analysis batch's states, lengths and labels as `.npy` (relative to the run folder).
    pub states_files: Vec<String>,
    /// Figures written (PNG + SVG).
    pub figures: Vec<FigureFile>,
    /// HTML pages written (relative to the run folder).
    pub html: Vec<String>,
    /// The table of `report.md`.
    pub table: Vec<PaperRow>,
    /// Warnings of the fits and the analysis.
    pub warnings: Vec<String>,
}

fn spectrum_cell(s: &SpectrumSummary) -> String {
    let top: Vec<String> = s
        .top_eigenvalues
        .iter()
        .take(s.count_above_099.clamp(4, 6))
        .map(|e| fmt_lambda(e.re, e.im))
        .collect();
    format!(
        "{} fit ({} pairs): {} above 0.99 ({} unstable); top {}",
        s.fit_steps,
        s.pairs,
        s.count_above_099,
        s.count_unstable,
        top.join(", ")
    )
}

fn set_cell(t: &SetReadout, positive: bool) -> String {
    format!(
        "{{{}}}: {} {}, agrees with the network on {}, logit corr {:.2}",
        t.name,
        pct(if positive {
            t.share_positive
        } else {
            t.share_negative
        }),
        if positive { "positive" } else { "negative" },
        pct(t.agreement_with_network),
        t.logit_correlation
    )
}

fn random_cell(r: &RandomSets, positive: bool) -> String {
    let s = if positive {
        &r.share_positive
    } else {
        &r.share_negative
    };
    format!(
        "random {}-sets: {} ± {} (share ≥ chosen: {})",
        r.size,
        pct(s.mean),
        pct(s.sd),
        pct(s.share_at_least)
    )
}

fn batch_cell(b: &BatchReadout) -> String {
    let mut s = format!(
        "{} batch ({} reviews, network acc {}, G(0) = {:.2}): {}; {}",
        b.batch,
        b.reviews,
        pct(b.network_accuracy),
        b.zero_state_logit,
        set_cell(&b.positive, true),
        random_cell(&b.random_positive_size, true)
    );
    if let (Some(n), Some(r)) = (&b.negative, &b.random_negative_size) {
        let _ = write!(s, "; {}; {}", set_cell(n, false), random_cell(r, false));
    }
    let t = &b.tracking;
    let r = &b.random_tracking_size.agreement_with_network;
    let _ = write!(
        s,
        "; tracking set {{{}}}: agrees with the network on {} (random {}-sets {} ± {}), logit corr {:.2}",
        t.name,
        pct(t.agreement_with_network),
        b.random_tracking_size.size,
        pct(r.mean),
        pct(r.sd),
        t.logit_correlation
    );
    s
}

fn channel_cell(c: &ChannelStats) -> String {
    let top = |v: &[(String, f64)]| {
        v.iter()
            .take(5)
            .map(|(w, _)| w.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{{{}}} ρ = {} (up: {}; down: {})",
        c.name,
        rho(c, 2),
        top(&c.top_increase),
        top(&c.top_decrease)
    )
}

/// `ρ` with `digits` decimals and, where the analysis resampled the words, its interval.
fn rho(c: &ChannelStats, digits: usize) -> String {
    match c.spearman_ci {
        Some([lo, hi]) => format!("{:.digits$} [{lo:.digits$}, {hi:.digits$}]", c.spearman),
        None => format!("{:.digits$}", c.spearman),
    }
}

/// The table that opens `report.md`.
pub fn table(r: &ImdbReport, train_cmd: &str, cmd: &str) -> Vec<PaperRow> {
    let mut rows = spectrum_rows(r, train_cmd, cmd);
    rows.extend(readout_rows(r, cmd));
    rows.extend(agreement_rows(r, cmd));
    rows
}

/// The PNGs of the figures whose name starts with `prefix`, as a cell.
fn figure_list(r: &ImdbReport, prefix: &str) -> String {
    r.figures
        .iter()
        .filter(|f| f.name.starts_with(prefix))
        .map(|f| format!("`{}`", f.png))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table rows of Sec. 4.1: the training accuracies, both fits' spectra and the memory
/// horizons `τ(0.01)` (Eq. 9).
fn spectrum_rows(r: &ImdbReport, train_cmd: &str, cmd: &str) -> Vec<PaperRow> {
    let fig = |prefix: &str| figure_list(r, prefix);
    let used = &r.spectra[0];
    let taus: Vec<String> = used
        .top_eigenvalues
        .iter()
        .take(used.count_above_099.clamp(4, 6))
        .map(|e| fmt_tau(e.tau, e.modulus))
        .collect();
    vec![
        PaperRow::new(
            "Sec. 4.1 (training)",
            "accuracy train / val / test",
            "92% / 87% / 87%",
            format!(
                "{} / {} / {}",
                opt_pct(r.accuracy.train),
                opt_pct(r.accuracy.validation),
                opt_pct(r.accuracy.test)
            ),
            train_cmd.to_string(),
        ),
        PaperRow::new(
            "Sec. 4.1 (spectrum)",
            "count of |λ| > 0.99 and top eigenvalues, both fits",
            "4; 0.9999, 0.9965, 0.9942±0.0035i (authors' code: padded batch)",
            r.spectra
                .iter()
                .map(spectrum_cell)
                .collect::<Vec<_>>()
                .join(" | "),
            format!("`{cmd}` → {}", fig("spectrum")),
        ),
        PaperRow::new(
            "Sec. 4.1 (Eq. 9)",
            "τ(0.01) of the top eigenvalues",
            "> 800 for all four",
            format!("{} fit: {}", used.fit_steps, taus.join(", ")),
            format!("`{cmd}`"),
        ),
    ]
}

/// The table rows of the readout test, App. A (word statistics) and Fig. 1 (blue, red).
fn readout_rows(r: &ImdbReport, cmd: &str) -> Vec<PaperRow> {
    let fig = |prefix: &str| figure_list(r, prefix);
    let ws = &r.word_stats;
    let best_group =
        |i: Option<usize>, f: fn(&super::word_stats::GroupWordStats) -> &ChannelStats| {
            i.map(|i| channel_cell(f(&ws.groups[i])))
                .unwrap_or_else(|| "–".into())
        };
    let s = &r.sentiment;
    vec![
        PaperRow::new(
            "Sec. 4.1 (readout test)",
            "projected readout on the sentiment sets (chosen on the analysis batch)",
            "ỹ12 < .5 and ỹ34 > .5 on all 64",
            std::iter::once(&s.analysis_batch)
                .chain(s.held_out_batch.as_ref())
                .map(batch_cell)
                .collect::<Vec<_>>()
                .join(" | "),
            format!("`{cmd}`"),
        ),
        PaperRow::new(
            "App. A (test set)",
            "Spearman ρ of mean per-word change vs training-label polarity",
            "u1..u4 track negative / positive words (qualitative)",
            format!(
                "best magnitude {}; best readout contribution {}; readout w ρ = {:.2}; random |ρ| {:.2} ± {:.2}; cross-validated linear ρ = {:.2} ({} words)",
                best_group(ws.best_group_magnitude, |g| &g.magnitude),
                best_group(ws.best_group_readout, |g| &g.readout_contribution),
                ws.readout_direction.spearman,
                ws.random_directions.mean_abs_spearman,
                ws.random_directions.sd_abs_spearman,
                ws.cv_linear_direction.spearman,
                ws.words_scored
            ),
            format!("`{cmd}` → {}", fig("word_scatter")),
        ),
        PaperRow::new(
            "Fig. 1 (blue, red)",
            "reviews shaded by the sentiment sets (level and per-word change)",
            "{u1,u2} blues, {u3,u4} reds",
            r.highlights
                .iter()
                .filter(|h| h.role != "context")
                .map(|h| format!("{} review {}: {}", h.role, h.review, h.views.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
            format!(
                "`{cmd}` → {}, {}, {}, `word_highlights.html`",
                fig("word_highlight_"),
                fig("word_change_"),
                fig("word_tracking_")
            ),
        ),
    ]
}

/// The contextual cell of the table: the best group with its null tests, or why there is none.
fn contextual_cell(r: &ImdbReport) -> String {
    match &r.contextual.choice {
        Some(c) => format!(
            "best {{{}}} (λ = {}, ratio {:.2}); nulls: random positions z {:.1}, control words {}; {}",
            c.chosen_name,
            fmt_lambda(c.chosen_eigenvalue.0, c.chosen_eigenvalue.1),
            c.top_candidates[0].ratio,
            c.null.random_positions.z,
            c.null
                .control_words
                .as_ref()
                .map(|t| format!("z {:.1} (p {:.3})", t.z, t.p))
                .unwrap_or_else(|| "–".into()),
            if c.null.is_contextual {
                "contextual"
            } else {
                "not distinguishable from chance"
            }
        ),
        None => format!("none ({} matching reviews)", r.contextual.matching_reviews),
    }
}

/// The table rows of Fig. 1 (green, the contextual eigenvector), Fig. 4 left (agreement) and
/// Eq. 12.
fn agreement_rows(r: &ImdbReport, cmd: &str) -> Vec<PaperRow> {
    let fig = |prefix: &str| figure_list(r, prefix);
    let a = &r.agreement;
    let base = a
        .baselines
        .iter()
        .map(|b| format!("{} {}", b.name, pct(b.agreement_with_network)))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        PaperRow::new(
            "Fig. 1 (green)",
            "contextual eigenvector (\"not bad\"/\"not good\" batch)",
            "u8 (256 reviews)",
            contextual_cell(r),
            format!("`{cmd}` → {}", fig("word_change_context")),
        ),
        PaperRow::new(
            "Fig. 4 (left)",
            "agreement of G(h_T) and G(h_T^KANN), whole test set",
            "> 99%",
            format!(
                "{} of {} reviews; baselines: {base}{}",
                pct(a.agreement),
                a.reviews_used,
                a.intervals.as_ref().map_or(String::new(), |ci| format!(
                    "; KANN − trivial {} (95% bootstrap)",
                    crate::intervals::difference_cell(ci)
                ))
            ),
            format!("`{cmd}` → {}", fig("agreement")),
        ),
        PaperRow::new(
            "Sec. 4.3 (Eq. 12)",
            "e_rel on the analysis batch",
            "0.095 (steps not stated)",
            r.spectra
                .iter()
                .map(|s| {
                    format!(
                        "{} fit: {} on real steps, {} on all steps",
                        s.fit_steps,
                        fmt_erel(&s.e_rel_real_steps),
                        fmt_erel(&s.e_rel_all_steps)
                    )
                })
                .collect::<Vec<_>>()
                .join(" | "),
            format!("`{cmd}`"),
        ),
    ]
}

fn top_words(v: &[(String, f64)]) -> String {
    v.iter()
        .map(|(w, x)| format!("{w} ({x:+.3})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The body of `report.md` after the table.
pub fn body(r: &ImdbReport) -> String {
    let mut s = spectra_section(r);
    s.push_str(&readout_section(r));
    s.push_str(&word_stats_section(r));
    s.push_str(&contextual_section(r));
    s.push_str(&agreement_section(r));
    let _ = write!(
        s,
        "\n## Accuracy of the run\n\nFrom {}: train {}, validation {}, test {}.\n\n",
        r.accuracy.source,
        opt_pct(r.accuracy.train),
        opt_pct(r.accuracy.validation),
        opt_pct(r.accuracy.test)
    );
    if !r.states_files.is_empty() {
        let _ = write!(
            s,
            "## States\n\nThe analysis batch's hooked states, lengths and labels: {} (reproduce the spectrum with `analyze states states.npy --lengths lengths.npy`).\n\n",
            r.states_files
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s.push_str(&figures_markdown(&r.figures, &r.html));
    if !r.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
    s
}

/// The opening paragraph (the run, the batch, the fit used, the command) and `## Spectra of
/// both fits`: eigenvalues, `τ(0.01)` (Eq. 9), `e_rel` (Eq. 12) and their intervals.
fn spectra_section(r: &ImdbReport) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let _ = write!(
        s,
        "Run `{}` ({} cell, hidden {}), data `{}`. Analysis batch: {} random test reviews (seed {}), \
         padded to max_len {}; the analysis uses the **{}** fit (`--fit-steps {}`), rank {}.\n\n\
         Reproduce: `{}`\n\n",
        st.run_dir,
        st.cell,
        st.hidden,
        st.data_dir,
        st.batch,
        st.seed,
        r.max_len,
        r.fit_steps,
        r.fit_steps,
        st.rank,
        st.command
    );
    s.push_str("## Spectra of both fits\n\n");
    s.push_str(super::fit_modes::DOC_FIT_STEPS);
    s.push_str("\n\n| fit | used | pairs | \\|λ\\| > 0.99 | unstable | top eigenvalues (τ) | e_rel real steps | e_rel all steps |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for sp in &r.spectra {
        let top: Vec<String> = sp
            .top_eigenvalues
            .iter()
            .take(6)
            .map(|e| format!("{} ({})", fmt_lambda(e.re, e.im), fmt_tau(e.tau, e.modulus)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            sp.fit_steps,
            if sp.used_by_analysis { "yes" } else { "no" },
            sp.pairs,
            sp.count_above_099,
            sp.count_unstable,
            top.join(", "),
            fmt_erel(&sp.e_rel_real_steps),
            fmt_erel(&sp.e_rel_all_steps)
        );
    }
    if let Some(ci) = &r.spectrum_intervals {
        let _ = write!(
            s,
            "\nIntervals of the used fit: {}. The count's interval is what another draw of {} reviews could give; it does not cover the choice between the two fits.\n",
            crate::kann::intervals_line(ci, st.batch),
            st.batch
        );
    }
    if let Some(e) = &r.e_rel_intervals {
        let _ = write!(
            s,
            "\nOne-step error of the used fit on the batch's real steps, beside the trivial predictor (refits and scores on the same resampled reviews): {}. In-sample: a refit is scored on the reviews it was fitted on, duplicates included, so KANN's interval leans below its point (optimism), and the point can lie outside the intervals; see docs/error-bars.md.\n",
            crate::intervals::e_rel_line(e)
        );
    }
    if let Some(e) = &r.e_rel_held_out_intervals {
        let _ = write!(
            s,
            "\nThe same on the held-out batch's real steps, out of sample (reviews the fit never saw; refits on resampled batch reviews, scored on independently resampled held-out reviews): {}.\n",
            crate::intervals::e_rel_line(e)
        );
    }
    s
}

/// `## Readout test`: the candidate sets on the analysis batch and the chosen sets on both
/// batches beside the baselines.
fn readout_section(r: &ImdbReport) -> String {
    let mut s = String::new();
    let sv = &r.sentiment;
    let _ = write!(
        s,
        "\n## Readout test\n\nEach review's last state is projected on a set (Re(H~ V_S U_S) B^T) and read out with G. Sets {}.\n\n\
         Candidates on the analysis batch:\n\n| set | eigenvalues | negative | positive | mean logit | agrees with network | logit corr |\n| --- | --- | --- | --- | --- | --- | --- |\n",
        sv.choice.rule
    );
    for c in &sv.choice.candidates {
        let ev: Vec<String> = c
            .eigenvalues
            .iter()
            .map(|&(a, b)| fmt_lambda(a, b))
            .collect();
        let _ = writeln!(
            s,
            "| {{{}}} | {} | {} | {} | {:.3} | {} | {:.2} |",
            c.name,
            ev.join(", "),
            pct(c.share_negative),
            pct(c.share_positive),
            c.mean_logit,
            pct(c.agreement_with_network),
            c.logit_correlation
        );
    }
    s.push_str("\nThe chosen sets on both batches, with the baselines (G(0) = the logit of the zero state, i.e. what a set whose projection is small reads out; random sets = unions of random eigen-groups of the same size):\n\n");
    for b in std::iter::once(&sv.analysis_batch).chain(sv.held_out_batch.as_ref()) {
        let _ = writeln!(s, "- {}", batch_cell(b));
    }
    if let Some(ci) = &sv.intervals {
        let _ = writeln!(s, "\n{}", super::readout_intervals::line(ci));
    }
    s
}

/// `## Word statistics over the test set (App. A)`: Spearman ρ of every channel against the
/// word polarity, and the top words of the best channels.
fn word_stats_section(r: &ImdbReport) -> String {
    let mut s = String::new();
    let ws = &r.word_stats;
    let _ = write!(
        s,
        "\n## Word statistics over the test set (App. A)\n\nPolarity: {} ({} training reviews; words seen ≥ {} times: {}). Scored: {} words seen ≥ {} times in the test reviews ({} occurrences); top-word lists from words seen ≥ {} times. \
         Spearman ρ between a channel's mean change at a word and the word's polarity; random directions: |ρ| {:.3} ± {:.3} (max {:.3}, {} draws); cross-validated ridge direction (held-out words, {} folds): ρ = {:.3}; readout weights: ρ = {:.3}.\n\n\
         | group | eigenvalues | ρ magnitude (Eq. 10) | ρ magnitude vs \\|polarity\\| | ρ readout contribution |\n| --- | --- | --- | --- | --- |\n",
        ws.polarity,
        ws.training_reviews,
        ws.min_train_count,
        ws.lexicon_words,
        ws.words_scored,
        ws.min_test_count,
        ws.occurrences,
        ws.top_min_count,
        ws.random_directions.mean_abs_spearman,
        ws.random_directions.sd_abs_spearman,
        ws.random_directions.max_abs_spearman,
        ws.random_directions.draws,
        ws.cv_linear_direction.folds,
        ws.cv_linear_direction.spearman,
        ws.readout_direction.spearman
    );
    for g in &ws.groups {
        let ev: Vec<String> = g
            .eigenvalues
            .iter()
            .map(|&(a, b)| fmt_lambda(a, b))
            .collect();
        let _ = writeln!(
            s,
            "| {{{}}} | {} | {} | {:.3} | {} |",
            g.magnitude.name,
            ev.join(", "),
            rho(&g.magnitude, 3),
            g.magnitude_vs_strength,
            rho(&g.readout_contribution, 3)
        );
    }
    if ws.readout_direction.spearman_ci.is_some() {
        s.push_str("\nIntervals of ρ: 95% bootstrap over the scored words, given the group (chosen before) and the test split's mean changes.\n");
    }
    let mut listed: Vec<(&str, &ChannelStats)> = vec![("readout weights", &ws.readout_direction)];
    if let Some(i) = ws.best_group_magnitude {
        listed.push(("best group, magnitude", &ws.groups[i].magnitude));
    }
    if let Some(i) = ws.best_group_readout {
        listed.push((
            "best group, readout contribution",
            &ws.groups[i].readout_contribution,
        ));
    }
    for (what, c) in listed {
        let _ = write!(
            s,
            "\n**{what}** {{{}}} (ρ = {}):\n- largest increase: {}\n- largest decrease: {}\n",
            c.name,
            rho(c, 3),
            top_words(&c.top_increase),
            top_words(&c.top_decrease)
        );
    }
    s
}

/// `## Contextual eigenvector`: the "not bad"/"not good" batch, its candidate groups and
/// the two null tests.
fn contextual_section(r: &ImdbReport) -> String {
    let mut s = String::new();
    s.push_str("\n## Contextual eigenvector\n\n");
    let c = &r.contextual;
    let _ = write!(
        s,
        "{} test reviews of at most {} pieces contain \"not bad\" or \"not good\"; batch of {} (cap {}), rank {}, {} eigenvalues with |λ| > 0.99.\n\n",
        c.matching_reviews, r.max_len, c.batch, c.cap, c.rank, c.count_above_099
    );
    if let Some(ch) = &c.choice {
        let _ = write!(
            s,
            "Criterion: {}.\n\n| group | modulus | mean jump | mean abs step | ratio |\n| --- | --- | --- | --- | --- |\n",
            ch.criterion
        );
        for t in &ch.top_candidates {
            let _ = writeln!(
                s,
                "| {{{}}} | {:.4} | {:.4} | {:.4} | {:.2} |",
                t.name, t.modulus, t.mean_jump, t.mean_abs_step, t.ratio
            );
        }
        let n = &ch.null;
        let _ = write!(
            s,
            "\nNull tests ({} draws, the maximum over groups each time): random positions of the same reviews: observed {:.3}, null {:.3} ± {:.3}, z = {:.2}, p = {:.3}. ",
            n.draws,
            n.random_positions.observed,
            n.random_positions.null_mean,
            n.random_positions.null_sd,
            n.random_positions.z,
            n.random_positions.p
        );
        match &n.control_words {
            Some(t) => {
                let _ = write!(
                    s,
                    "Control words (\"bad\"/\"good\" without \"not\", {} occurrences): contrast {:.3}, null {:.3} ± {:.3}, z = {:.2}, p = {:.3}. ",
                    n.control_occurrences, t.observed, t.null_mean, t.null_sd, t.z, t.p
                );
            }
            None => s.push_str("No control-word occurrences. "),
        }
        let _ = write!(
            s,
            "Verdict (both nulls: z ≥ {} and p ≤ {}): **{}**.\n\n",
            super::contextual::Z_CONTEXTUAL,
            super::contextual::P_CONTEXTUAL,
            if n.is_contextual {
                "a contextual eigenvector"
            } else {
                "no group responds to negation more than chance"
            }
        );
    }
    s
}

/// `## Agreement (Fig. 4 left)`: the confusion of the network, KANN (Eq. 6) and the baselines
/// on the test split, with the intervals.
fn agreement_section(r: &ImdbReport) -> String {
    let mut s = String::new();
    let a = &r.agreement;
    let _ = write!(
        s,
        "## Agreement (Fig. 4 left)\n\n{}.\n\nTest split: {} reviews; used {} ({} longer than {} pieces dropped by the run's policy, {} shorter than 2 pieces).\n\n| predictor | state read out | TP | TN | FP | FN | accuracy | agreement with the network |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n| network | h_T | {} | {} | {} | {} | {} | – |\n| KANN | h_(T-1) B C B^T | {} | {} | {} | {} | {} | {} |\n",
        a.method,
        a.test_reviews,
        a.reviews_used,
        a.dropped_too_long,
        r.max_len,
        a.dropped_too_short,
        a.network.tp,
        a.network.tn,
        a.network.fp,
        a.network.fn_,
        pct(a.network.accuracy()),
        a.kann.tp,
        a.kann.tn,
        a.kann.fp,
        a.kann.fn_,
        pct(a.kann.accuracy()),
        pct(a.agreement)
    );
    for b in &a.baselines {
        let c = &b.confusion;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            b.name,
            b.state,
            c.tp,
            c.tn,
            c.fp,
            c.fn_,
            pct(c.accuracy()),
            pct(b.agreement_with_network)
        );
    }
    if let Some(ci) = &a.intervals {
        let _ = write!(
            s,
            "\nIntervals: {}.\n",
            crate::intervals::agreement_line(ci, "test reviews")
        );
    }
    s
}
