//! The figures of `analyze imdb`: the spectrum, Fig. 1 (shaded reviews as PNG/SVG and one HTML
//! page with a view selector), the App. A word scatter, Fig. 4 (left) with its baselines and the
//! training curves.

use std::path::Path;

use anyhow::Result;
use kann_plot::{
    AgreementBarsFigure, ColorMap, ConfusionCounts, HighlightedText, ReviewViews, WordScatterFigure,
};

use super::report::Highlight;
use super::test_pass::ImdbAgreement;
use super::word_stats::WordStatsReport;
use super::words::{ChannelStats, PolarityLexicon, WordMeans, scored_words};
use crate::common::{FigureFile, figure_file};
use kann_plot::{CHANGE_LABEL, LEVEL_LABEL, ShadeMode, Shading, shade};

/// A review to shade, with the levels `m_S(h_t)` of several sets.
#[derive(Debug, Clone)]
pub struct ShadedReview {
    /// `positive`, `negative`, `context`.
    pub role: String,
    /// Figure stem suffix (`positive`, `context_1`, ...).
    pub stem: String,
    /// `id_rating`.
    pub review: String,
    /// Label (1 = positive).
    pub label: u8,
    /// The network's logit at the last piece.
    pub logit: f64,
    /// The pieces.
    pub tokens: Vec<String>,
    /// `(set name, 1-based set, levels per piece, level colour map)`; the first is drawn as PNG.
    pub sets: Vec<(String, Vec<usize>, Vec<f64>, ColorMap)>,
    /// The tracking set's contribution to the readout input at each piece, `w · P_S(h_t)`
    /// (its per-word change is drawn as `word_tracking_<stem>`), with the set's name.
    pub tracking: Option<(String, Vec<f64>)>,
    /// Stability marks of the tracking view (issue #23): per piece, whether the sign of its
    /// change agrees in at least [`STABLE_SHARE`] of the bootstrap refits, and what the mark
    /// means (for the legend). `None` without resampling.
    pub tracking_marks: Option<(Vec<bool>, String)>,
    /// Per piece, the share of refits that agree (behind `tracking_marks`).
    pub tracking_stability: Option<Vec<f64>>,
}

/// Share of bootstrap refits whose change has the full fit's sign for a piece to be marked
/// stable in the tracking view.
pub const STABLE_SHARE: f64 = 0.9;

const TRACKING_LABEL: &str = "change of w . P_S(h_t) (range: review's 95th pct)";

fn text<'a>(
    title: &'a str,
    label: &'a str,
    tokens: &'a [String],
    s: &'a Shading,
    marks: Option<&'a (Vec<bool>, String)>,
) -> HighlightedText<'a> {
    HighlightedText {
        min_score: Some(s.lo),
        max_score: Some(s.hi),
        colormap: s.colormap,
        score_label: label,
        marks: marks.map(|m| m.0.as_slice()),
        mark_label: marks.map_or("", |m| m.1.as_str()),
        ..HighlightedText::new(title, tokens, &s.scores)
    }
}

/// Writes the PNG/SVG pair (level and change of the first set) of every review and one HTML
/// page with every set in both modes. Returns the figures, the highlights and the page.
pub fn shaded_reviews(
    dir: &Path,
    reviews: &[ShadedReview],
) -> Result<(Vec<FigureFile>, Vec<Highlight>, Option<String>)> {
    let mut figures = Vec::new();
    let mut highlights = Vec::new();
    // Shadings and titles must outlive the HighlightedTexts of the page.
    let shadings: Vec<Vec<View>> = reviews.iter().map(review_views).collect();
    for (r, views) in reviews.iter().zip(&shadings) {
        highlights.push(review_figures(dir, r, views, &mut figures)?);
    }
    if reviews.is_empty() {
        return Ok((figures, highlights, None));
    }
    let page = highlight_page(dir, reviews, &shadings)?;
    Ok((figures, highlights, Some(page)))
}

/// One shading of a review: its name on the page, its title and the shading.
type View = (String, String, Shading);

/// The views of review `r`: each set's level and change (Eq. 10's magnitude), then the
/// change of the tracking set's readout contribution if it has one.
fn review_views(r: &ShadedReview) -> Vec<View> {
    let mut views = Vec::new();
    for (name, _, levels, map) in &r.sets {
        for mode in [ShadeMode::Level, ShadeMode::Change] {
            let what = match mode {
                ShadeMode::Level => "level",
                ShadeMode::Change => "change",
            };
            let title = format!("A {} review ({}) on {{{name}}}: {what}", r.role, r.review);
            views.push((
                format!("{what} on {{{name}}}"),
                title,
                shade(levels, mode, *map),
            ));
        }
    }
    if let Some((name, contribution)) = &r.tracking {
        let title = format!(
            "A {} review ({}): change of {{{name}}}'s contribution to the logit",
            r.role, r.review
        );
        views.push((
            format!("readout contribution change on {{{name}}}"),
            title,
            shade(contribution, ShadeMode::Change, ColorMap::RedBlue),
        ));
    }
    views
}

/// Writes the figures of review `r` into `dir` (appended to `figures`): the first set's level
/// (`word_highlight_<stem>`) and change (`word_change_<stem>`), and the tracking set's
/// readout contribution (`word_tracking_<stem>`) if any. Returns its highlight.
fn review_figures(
    dir: &Path,
    r: &ShadedReview,
    views: &[View],
    figures: &mut Vec<FigureFile>,
) -> Result<Highlight> {
    let mut stems = Vec::new();
    for (k, stem) in [
        format!("word_highlight_{}", r.stem),
        format!("word_change_{}", r.stem),
    ]
    .into_iter()
    .enumerate()
    {
        let (_, title, s) = &views[k];
        let label = if k == 0 { LEVEL_LABEL } else { CHANGE_LABEL };
        let p = kann_plot::word_highlight(dir, &stem, &text(title, label, &r.tokens, s, None))?;
        let caption = if k == 0 {
            format!(
                "Fig. 1: {} (the paper's level shading, robust range)",
                title.to_lowercase()
            )
        } else {
            format!(
                "Fig. 1: {}: the per-word change on a diverging scale (red: the projection shrinks, blue: it grows)",
                title.to_lowercase()
            )
        };
        figures.push(figure_file(dir, &p, &caption)?);
        stems.push(stem);
    }
    if r.tracking.is_some()
        && let Some((_, title, s)) = views.last()
    {
        let stem = format!("word_tracking_{}", r.stem);
        let p = kann_plot::word_highlight(
            dir,
            &stem,
            &text(
                title,
                TRACKING_LABEL,
                &r.tokens,
                s,
                r.tracking_marks.as_ref(),
            ),
        )?;
        figures.push(figure_file(
            dir,
            &p,
            &format!(
                "Fig. 1 (ours): {}: per word, how much the tracking set's share of the readout input moved (blue: towards positive, red: towards negative)",
                title.to_lowercase()
            ),
        )?);
        stems.push(stem);
    }
    Ok(Highlight {
        figures: stems,
        set: r.sets.first().map(|s| s.1.clone()).unwrap_or_default(),
        role: r.role.clone(),
        label: r.label,
        review: r.review.clone(),
        pieces: r.tokens.len(),
        logit: r.logit,
        views: views.iter().map(|v| v.0.clone()).collect(),
        tracking_stability: r.tracking_stability.clone(),
    })
}

/// `word_highlights.html`: every review with every view, switchable; returns its path relative
/// to `dir`.
fn highlight_page(dir: &Path, reviews: &[ShadedReview], shadings: &[Vec<View>]) -> Result<String> {
    let pages: Vec<ReviewViews> = reviews
        .iter()
        .zip(shadings)
        .map(|(r, views)| ReviewViews {
            heading: format!(
                "{} review {} (label {}, network logit {:.2})",
                r.role, r.review, r.label, r.logit
            ),
            views: views
                .iter()
                .map(|(name, title, s)| {
                    let tracking = name.starts_with("readout");
                    let label = match s.mode {
                        ShadeMode::Level => LEVEL_LABEL,
                        ShadeMode::Change if tracking => TRACKING_LABEL,
                        ShadeMode::Change => CHANGE_LABEL,
                    };
                    let marks = r.tracking_marks.as_ref().filter(|_| tracking);
                    (name.clone(), text(title, label, &r.tokens, s, marks))
                })
                .collect(),
        })
        .collect();
    let page = kann_plot::word_highlight_html_views(
        dir,
        "word_highlights",
        "Fig. 1: IMDB test reviews shaded by Koopman projection magnitudes (Eq. 10): level and per-word change",
        &pages,
    )?;
    Ok(page
        .strip_prefix(dir)
        .unwrap_or(&page)
        .to_string_lossy()
        .into_owned())
}

/// The spectrum of the used fit, with the bootstrap intervals of its leading eigenvalues where
/// the analysis resampled (`--bootstrap`).
pub fn spectrum(
    dir: &Path,
    title: &str,
    points: &[(f64, f64)],
    intervals: Option<&kann_koopman::SpectrumIntervals>,
) -> Result<FigureFile> {
    let p = crate::kann::spectrum_figure(dir, title, points, intervals)?;
    figure_file(
        dir,
        &p,
        "Sec. 4.1: eigenvalues of C with the unit circle, |lambda| > 0.99 labelled, and tau(0.01) (Eq. 9)",
    )
}

/// App. A: polarity against the mean change of `channel` (its values per lexicon word), the top
/// words labelled.
pub fn word_scatter(
    dir: &Path,
    stem: &str,
    channel: &ChannelStats,
    values: &[f64],
    means: &WordMeans,
    lexicon: &PolarityLexicon,
    min_test: usize,
) -> Result<Option<FigureFile>> {
    let scored = scored_words(means, min_test);
    if scored.is_empty() {
        return Ok(None);
    }
    let x: Vec<f64> = scored.iter().map(|&w| lexicon.polarity[w]).collect();
    let y: Vec<f64> = scored.iter().map(|&w| values[w]).collect();
    let mut labels = Vec::new();
    for (word, _) in channel
        .top_increase
        .iter()
        .take(10)
        .chain(channel.top_decrease.iter().take(10))
    {
        if let Some(i) = scored.iter().position(|&w| &lexicon.words[w] == word) {
            labels.push((i, word.clone()));
        }
    }
    let title = format!(
        "Words of the test set: polarity vs mean change of {{{}}}",
        channel.name
    );
    let y_label = format!("mean change at the word ({})", channel.kind);
    let note = format!(
        "Spearman ρ = {:.3} over {} words",
        channel.spearman,
        scored.len()
    );
    let p = kann_plot::word_scatter(
        dir,
        stem,
        &WordScatterFigure {
            title: &title,
            x_label: "polarity: log-odds positive vs negative (training labels)",
            y_label: &y_label,
            x: &x,
            y: &y,
            labels: &labels,
            note: &note,
        },
    )?;
    Ok(Some(figure_file(
        dir,
        &p,
        &format!(
            "App. A: one point per word (seen >= {min_test} times in the test set); the 10 words with the largest increase and decrease labelled; {}",
            channel.kind
        ),
    )?))
}

/// Fig. 4 (left) with the baselines.
pub fn agreement(dir: &Path, a: &ImdbAgreement) -> Result<FigureFile> {
    let c = |name: &'static str, x: &crate::report::Confusion| ConfusionCounts {
        name,
        tp: x.tp,
        tn: x.tn,
        fp: x.fp,
        fn_: x.fn_,
    };
    let mut sources = vec![
        c("network G(h_T)", &a.network),
        c("KANN G(h_T^KANN)", &a.kann),
    ];
    for b in &a.baselines {
        let name = match b.name.as_str() {
            "trivial" => "trivial G(h_T-1)",
            _ => "rank-r G(h_T B B^T)",
        };
        sources.push(c(name, &b.confusion));
    }
    let title = format!("IMDB test set ({} reviews)", a.reviews_used);
    let p = kann_plot::agreement_bars(
        dir,
        "agreement",
        &AgreementBarsFigure {
            title: &title,
            sources: &sources,
            agreement: Some(a.agreement),
            agreement_ci: a.intervals.as_ref().map(|ci| ci.kann_ci),
        },
    )?;
    figure_file(
        dir,
        &p,
        "Fig. 4 (left): TP/TN/FP/FN of the network, of KANN and of the trivial and rank-r baselines at each review's last step",
    )
}

/// The channels drawn as word scatters: the best group by each statistic and the readout.
pub fn scatter_channels(ws: &WordStatsReport) -> Vec<(&'static str, &ChannelStats)> {
    let mut out = vec![("word_scatter_readout", &ws.readout_direction)];
    if let Some(i) = ws.best_group_magnitude {
        out.push(("word_scatter_magnitude", &ws.groups[i].magnitude));
    }
    if let Some(i) = ws.best_group_readout {
        out.push((
            "word_scatter_contribution",
            &ws.groups[i].readout_contribution,
        ));
    }
    out
}
