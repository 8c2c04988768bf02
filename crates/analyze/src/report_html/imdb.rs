//! `report.html` of `analyze imdb`: the verdict table, the sections of Sec. 4.1, Fig. 1, App. A,
//! Fig. 4 (left) and Sec. 4.3, and the interactive Fig. 1: the spectrum is the control; choosing
//! an eigen-group recolours the tokens of the chosen review by that group's per-token level
//! `m_S(h_t)` (Eq. 10), its change, or its readout contribution `w · P_S(h_t)`, with the group's
//! top rising and falling words of App. A beside it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use kann_koopman::States;
use kann_plot::{Claim, Section};
use serde::{Deserialize, Serialize};

use super::{
    agreement_claim, claim, claim_without_baseline, e_rel_claim, pct, svg_of,
    write_interactive_page,
};
use crate::imdb::ImdbReport;
use crate::imdb::data::{ImdbRun, Item};
use crate::imdb::word_stats::{GroupWordStats, readout_contribution_direction};
use crate::kann::{Fit, magnitudes};
use crate::report::{fmt_erel, fmt_lambda, fmt_tau};

/// Reviews of the analysis batch whose per-token values `report.json` keeps (the Fig. 1 reviews
/// first): enough to browse, small enough for the page's size bound.
pub const MAX_REVIEWS: usize = 16;

/// One review of the analysis batch with the per-token values of every tracked eigen-group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReview {
    /// IMDB id and rating (`id_rating`).
    pub review: String,
    /// `positive` / `negative` for the reviews of Fig. 1, empty otherwise.
    pub role: String,
    /// Label (1 = positive).
    pub label: u8,
    /// The network's logit at the last piece.
    pub logit: f64,
    /// The word pieces.
    pub tokens: Vec<String>,
    /// `level[g][t] = m_S(h_t) = Σ_{j∈S} |h~_tᵀ V_j|` (Eq. 10) of group `g` at piece `t`.
    pub level: Vec<Vec<f32>>,
    /// `contribution[g][t] = w · P_S(h_t)`: group `g`'s part of the readout input at piece `t`.
    pub contribution: Vec<Vec<f32>>,
}

/// The data of the interactive Fig. 1 (`report.json` field `token_views`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenViews {
    /// Every eigenvalue `(re, im)` of the fit the analysis uses, by modulus.
    pub eigenvalues: Vec<(f64, f64)>,
    /// The eigen-groups (1-based), those of `word_stats.groups` in the same order.
    pub groups: Vec<Vec<usize>>,
    /// The reviews, the Fig. 1 ones first.
    pub reviews: Vec<TokenReview>,
}

/// Per-token values of the tracked groups for at most [`MAX_REVIEWS`] reviews of the analysis
/// batch (`states`, `batch`, the network's last-piece logits `net`), the Fig. 1 reviews (named
/// `id_rating` in `fig1` with their role) first.
pub fn token_views(
    imdb: &ImdbRun,
    fit: &Fit,
    states: &States,
    batch: &[&Item],
    net: &[f64],
    groups: &[GroupWordStats],
    fig1: &[(String, String)],
) -> TokenViews {
    let name = |it: &Item| format!("{}_{}", it.review.id, it.review.rating);
    let mut order: Vec<usize> = fig1
        .iter()
        .filter_map(|(r, _)| batch.iter().position(|it| &name(it) == r))
        .collect();
    for i in 0..batch.len() {
        if order.len() >= MAX_REVIEWS {
            break;
        }
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let sets: Vec<Vec<usize>> = groups.iter().map(|g| g.indices()).collect();
    let directions: Vec<Vec<f64>> = sets
        .iter()
        .map(|s| readout_contribution_direction(fit, s, &imdb.readout.w))
        .collect();
    let reviews = order
        .into_iter()
        .map(|i| {
            let it = batch[i];
            let seq = states.sequence(i);
            let mags = magnitudes(seq, fit);
            let steps = states.lengths()[i];
            let level = sets
                .iter()
                .map(|s| {
                    (0..steps)
                        .map(|t| s.iter().map(|&j| mags[(t, j)]).sum::<f64>() as f32)
                        .collect()
                })
                .collect();
            let contribution = directions
                .iter()
                .map(|d| {
                    (0..steps)
                        .map(|t| (0..d.len()).map(|j| seq[(t, j)] * d[j]).sum::<f64>() as f32)
                        .collect()
                })
                .collect();
            let r = name(it);
            TokenReview {
                role: fig1
                    .iter()
                    .find(|(n, _)| *n == r)
                    .map(|(_, role)| role.clone())
                    .unwrap_or_default(),
                review: r,
                label: it.review.label,
                logit: net[i],
                tokens: imdb.pieces(&it.ids[..steps.min(it.ids.len())]),
                level,
                contribution,
            }
        })
        .collect();
    TokenViews {
        eigenvalues: crate::kann::eigen_points(&fit.spectrum),
        groups: groups.iter().map(|g| g.set.clone()).collect(),
        reviews,
    }
}

/// The verdict rows of `analyze imdb`.
pub fn claims(r: &ImdbReport) -> Vec<Claim> {
    let mut rows = vec![accuracy_claim(r), spectrum_claim(r)];
    rows.extend(readout_claims(r));
    rows.push(word_polarity_claim(r));
    rows.push(contextual_claim(r));
    let a = &r.agreement;
    // The trivial predictor G(h_(T-1)) is the baseline: the rank-r projection G(h_T B Bᵀ) reads
    // the true last state, so it is a check of the basis, not a prediction.
    let trivial = a
        .baselines
        .iter()
        .find(|b| b.name == "trivial")
        .map_or(f64::NAN, |b| b.agreement_with_network);
    rows.push(agreement_claim(
        "KANN's prediction agrees with the network (Fig. 4 left)",
        "> 99%",
        (
            a.agreement,
            format!("{} of {} test reviews", pct(a.agreement), a.reviews_used),
        ),
        "trivial G(h_(T-1))",
        trivial,
        a.intervals.as_ref(),
    ));
    rows.push(e_rel_claim(
        "e_rel 0.095",
        format!("e_rel {}", fmt_erel(&r.spectra[0].e_rel_real_steps)),
        r.e_rel_intervals.as_ref(),
        "none computed without --bootstrap (see analyze fixed-points)",
    ));
    rows
}

/// The verdict row of the network's test accuracy (Sec. 4.1), against the majority class.
fn accuracy_claim(r: &ImdbReport) -> Claim {
    let a = &r.agreement;
    let n = &a.network;
    let total = (n.tp + n.tn + n.fp + n.fn_).max(1) as f64;
    let majority = ((n.tp + n.fn_).max(n.tn + n.fp)) as f64 / total;
    let acc = n.accuracy();
    claim(
        "The GRU classifies sentiment (Sec. 4.1)",
        "87% test",
        (
            acc,
            format!("{} on {} test reviews", pct(acc), a.reviews_used),
        ),
        (
            majority,
            format!("majority class {}; margin 5 points", pct(majority)),
        ),
        0.05,
    )
}

/// The verdict row of the eigenvalues near 1 and their memory horizons (Sec. 4.1, Eq. 9).
fn spectrum_claim(r: &ImdbReport) -> Claim {
    let used = &r.spectra[0];
    let taus: Vec<String> = used
        .top_eigenvalues
        .iter()
        .take(4)
        .map(|e| fmt_tau(e.tau, e.modulus))
        .collect();
    claim_without_baseline(
        "A few eigenvalues near 1 with long memory (Sec. 4.1, Eq. 9)",
        "4 with |λ| > 0.99; τ(0.01) > 800",
        format!(
            "{}{} with |λ| > 0.99; τ {}",
            used.count_above_099,
            r.spectrum_intervals
                .as_ref()
                .map_or(String::new(), |ci| format!(
                    " [{}, {}] (95%, {} bootstrap replicates)",
                    ci.count_above_ci[0].floor(),
                    ci.count_above_ci[1].ceil(),
                    ci.replicates
                )),
            taus.join(", ")
        ),
        "none computed (no null spectrum)",
    )
}

/// The verdict rows of the readout test (Sec. 4.1): the positive set reads positive, the
/// negative set (if any) negative, each against random sets of its size.
fn readout_claims(r: &ImdbReport) -> Vec<Claim> {
    let mut rows = Vec::new();
    let s = &r.sentiment;
    let b = s.held_out_batch.as_ref().unwrap_or(&s.analysis_batch);
    let p = &b.positive;
    let rp = &b.random_positive_size.share_positive;
    rows.push(with_readout_interval(
        claim(
            &format!(
                "Projection on the positive set {{{}}} reads positive (Sec. 4.1)",
                p.name
            ),
            "ỹ34 > .5 on all 64",
            (
                p.share_positive,
                format!(
                    "{} of {} {} reviews",
                    pct(p.share_positive),
                    b.reviews,
                    b.batch
                ),
            ),
            (
                rp.mean,
                format!(
                    "random {}-sets {} ± {}; margin 2 sd",
                    b.random_positive_size.size,
                    pct(rp.mean),
                    pct(rp.sd)
                ),
            ),
            2.0 * rp.sd,
        ),
        s,
        "positive",
        rp.mean,
        2.0 * rp.sd,
    ));
    if let (Some(ng), Some(rn)) = (&b.negative, &b.random_negative_size) {
        let rs = &rn.share_negative;
        rows.push(with_readout_interval(
            claim(
                &format!(
                    "Projection on the negative set {{{}}} reads negative (Sec. 4.1)",
                    ng.name
                ),
                "ỹ12 < .5 on all 64",
                (
                    ng.share_negative,
                    format!(
                        "{} of {} {} reviews",
                        pct(ng.share_negative),
                        b.reviews,
                        b.batch
                    ),
                ),
                (
                    rs.mean,
                    format!(
                        "random {}-sets {} ± {}; margin 2 sd",
                        rn.size,
                        pct(rs.mean),
                        pct(rs.sd)
                    ),
                ),
                2.0 * rs.sd,
            ),
            s,
            "negative",
            rs.mean,
            2.0 * rs.sd,
        ));
    }
    rows
}

/// A readout-test row decided by the bootstrap interval of its share (the set chosen again in
/// every replicate; on the held-out batch where there is one): the interval of `share − random
/// mean` against the margin. Unchanged without intervals.
fn with_readout_interval(
    mut c: Claim,
    s: &crate::imdb::report::SentimentReport,
    role: &str,
    random_mean: f64,
    margin: f64,
) -> Claim {
    let Some(ri) = s.intervals.as_ref().and_then(|ci| ci.role(role)) else {
        return c;
    };
    let Some(ci) = ri.held_out.as_ref().or(ri.analysis.as_ref()) else {
        return c;
    };
    let share = if role == "negative" {
        ci.share_negative
    } else {
        ci.share_positive
    };
    c.ours = format!(
        "{} [{}, {}] (the set chosen again in each of {} replicates; the same set in {:.0}%)",
        c.ours,
        pct(share[0]),
        pct(share[1]),
        s.intervals
            .as_ref()
            .map_or(0, |ci| ci.resampling.replicates),
        100.0 * ri.same_set
    );
    c.verdict =
        kann_plot::verdict_from_interval([share[0] - random_mean, share[1] - random_mean], margin);
    c
}

/// The verdict row of App. A: the best eigen-group's |ρ| against word polarity, against random
/// directions.
fn word_polarity_claim(r: &ImdbReport) -> Claim {
    let ws = &r.word_stats;
    let best = [
        ws.best_group_magnitude
            .map(|i| (&ws.groups[i].magnitude, "magnitude")),
        ws.best_group_readout
            .map(|i| (&ws.groups[i].readout_contribution, "readout contribution")),
    ]
    .into_iter()
    .flatten()
    .max_by(|x, y| x.0.spearman.abs().total_cmp(&y.0.spearman.abs()));
    let rd = &ws.random_directions;
    let mut c = claim(
        "Eigen-groups track word polarity over the test set (App. A)",
        "u1..u4 track negative / positive words",
        best.map_or((f64::NAN, "no group scored".into()), |(c, kind)| {
            (
                c.spearman.abs(),
                format!("|ρ| = {:.2} ({{{}}}, {kind})", c.spearman.abs(), c.name),
            )
        }),
        (
            rd.max_abs_spearman,
            format!(
                "largest |ρ| of {} random directions {:.2} (mean {:.2}); margin 1 sd ({:.2})",
                rd.draws, rd.max_abs_spearman, rd.mean_abs_spearman, rd.sd_abs_spearman
            ),
        ),
        rd.sd_abs_spearman,
    );
    // With the interval of ρ over words (conditional on the group, chosen as the best), the
    // interval of |ρ| − the largest random |ρ| decides.
    if let Some((ch, [lo, hi])) = best.and_then(|(ch, _)| Some((ch, ch.spearman_ci?))) {
        let abs = if ch.spearman >= 0.0 {
            [lo, hi]
        } else {
            [-hi, -lo]
        };
        c.ours = format!(
            "{} [{:.2}, {:.2}] (bootstrap over words, given the group)",
            c.ours, abs[0], abs[1]
        );
        c.verdict = kann_plot::verdict_from_interval(
            [abs[0] - rd.max_abs_spearman, abs[1] - rd.max_abs_spearman],
            rd.sd_abs_spearman,
        );
    }
    c
}

/// The verdict row of the contextual eigenvector (Fig. 1 green): the smaller z of its two null
/// tests.
fn contextual_claim(r: &ImdbReport) -> Claim {
    let z = crate::imdb::contextual::Z_CONTEXTUAL;
    match &r.contextual.choice {
        Some(c) => {
            let zr = c.null.random_positions.z;
            let zc = c.null.control_words.as_ref().map_or(f64::NAN, |t| t.z);
            let ours = zr.min(zc);
            claim(
                "A contextual eigenvector responds to negation (Fig. 1 green)",
                "u8 (256 reviews)",
                (
                    ours,
                    format!(
                        "{{{}}}: smaller z of the two nulls {:.1} (random positions {:.1}, control words {:.1})",
                        c.chosen_name, ours, zr, zc
                    ),
                ),
                (0.0, format!("chance (z = 0); margin z {z}")),
                z,
            )
        }
        None => claim_without_baseline(
            "A contextual eigenvector responds to negation (Fig. 1 green)",
            "u8 (256 reviews)",
            format!(
                "no phrase found ({} reviews)",
                r.contextual.matching_reviews
            ),
            "not testable",
        ),
    }
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// Writes `report.html` for `r` into `dir`.
pub fn write(dir: &Path, r: &ImdbReport, claims: Vec<Claim>) -> Result<()> {
    let sections = vec![
        spectrum_section(dir, r)?,
        readout_section(r),
        fig1_section(r),
        word_stats_section(dir, r)?,
        contextual_section(dir, r)?,
        agreement_section(dir, r)?,
        error_section(dir, r)?,
    ];
    let ws = &r.word_stats;
    let data = serde_json::json!({
        "token_views": &r.token_views,
        "groups": &ws.groups,
    });
    write_interactive_page(
        dir,
        "KANN analysis of the IMDB model",
        (claims, sections),
        &data,
        (CSS, SCRIPT),
    )
}

/// The section of Sec. 4.1: the spectra of both fits with `τ(0.01)` (Eq. 9).
fn spectrum_section(dir: &Path, r: &ImdbReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let used = &r.spectra[0];
    Ok(Section {
        heading: "Sec. 4.1: the spectrum of the fitted operator (Eqs. 4-5, Eq. 9)".into(),
        svg: fig("spectrum")?,
        numbers: r
            .spectra
            .iter()
            .map(|s| {
                kv(
                    &format!(
                        "{} fit{}",
                        s.fit_steps,
                        if s.used_by_analysis { " (used)" } else { "" }
                    ),
                    format!(
                        "{} pairs, rank {}, {} with |λ| > 0.99, {} unstable; top {}",
                        s.pairs,
                        s.rank,
                        s.count_above_099,
                        s.count_unstable,
                        s.top_eigenvalues
                            .iter()
                            .take(4)
                            .map(|e| format!(
                                "{} (τ {})",
                                fmt_lambda(e.re, e.im),
                                fmt_tau(e.tau, e.modulus)
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
            .collect(),
        paragraph: format!(
            "C is fitted on the hidden states of {} test reviews ({} fit). The paper finds four \
             eigenvalues with |λ| > 0.99; this fit has {}. Eigenvalues near the unit circle keep \
             what they track for many steps (τ(0.01), Eq. 9).",
            r.settings.batch, used.fit_steps, used.count_above_099
        ),
        ..Section::default()
    })
}

/// The section of the readout test (Sec. 4.1): the chosen sets on both batches beside `G(0)`
/// and random sets.
fn readout_section(r: &ImdbReport) -> Section {
    let s = &r.sentiment;
    let mut nums = Vec::new();
    for b in std::iter::once(&s.analysis_batch).chain(s.held_out_batch.as_ref()) {
        nums.push(kv(
            &format!("{} batch", b.batch),
            format!(
                "{} reviews, network accuracy {}, G(0) = {:.2}",
                b.reviews,
                pct(b.network_accuracy),
                b.zero_state_logit
            ),
        ));
        nums.push(kv(
            &format!("{} batch: {{{}}}", b.batch, b.positive.name),
            format!(
                "{} positive (random {}-sets {} ± {})",
                pct(b.positive.share_positive),
                b.random_positive_size.size,
                pct(b.random_positive_size.share_positive.mean),
                pct(b.random_positive_size.share_positive.sd)
            ),
        ));
        if let (Some(n), Some(rn)) = (&b.negative, &b.random_negative_size) {
            nums.push(kv(
                &format!("{} batch: {{{}}}", b.batch, n.name),
                format!(
                    "{} negative (random {}-sets {} ± {})",
                    pct(n.share_negative),
                    rn.size,
                    pct(rn.share_negative.mean),
                    pct(rn.share_negative.sd)
                ),
            ));
        }
    }
    Section {
        heading: "Sec. 4.1: the readout test".into(),
        svg: None,
        numbers: nums,
        paragraph: format!(
            "Each review's last state is projected on a set of eigenvectors and read out with the \
             network's readout G. The sets are chosen on the analysis batch ({}) and tested on a \
             disjoint held-out batch. G(0), the logit of a state whose projection is small, and \
             random sets of the same size are what could explain a one-sided readout away.",
            s.choice.rule
        ),
        ..Section::default()
    }
}

/// The section of Fig. 1: the interactive token view ([`widget`]).
fn fig1_section(r: &ImdbReport) -> Section {
    Section {
        heading: "Fig. 1: reviews coloured by an eigen-group (Eq. 10)".into(),
        svg: None,
        numbers: Vec::new(),
        html: Some(widget(r)),
        paragraph: format!(
            "Choose an eigen-group on the spectrum (or with the buttons) and a review: each word \
             piece is coloured by the group's level m_S(h_t), its change from the previous piece, \
             or the group's readout contribution w · P_S(h_t). Beside it: the words whose mean \
             change over the test set is largest and smallest (App. A). Values are those of \
             report.json (token_views), {} reviews of the analysis batch, the Fig. 1 ones first.",
            r.token_views.reviews.len()
        ),
    }
}

/// The section of App. A: the word statistics over the test set.
fn word_stats_section(dir: &Path, r: &ImdbReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let ws = &r.word_stats;
    let scatter = r
        .figures
        .iter()
        .find(|f| f.name.starts_with("word_scatter"))
        .map(|f| f.name.clone());
    Ok(Section {
        heading: "App. A: word statistics over the test set".into(),
        svg: match scatter {
            Some(n) => fig(&n)?,
            None => None,
        },
        numbers: vec![
            kv(
                "words scored",
                format!("{} ({} occurrences)", ws.words_scored, ws.occurrences),
            ),
            kv(
                "readout weights w",
                format!("ρ = {:.3}", ws.readout_direction.spearman),
            ),
            kv(
                "random directions",
                format!(
                    "|ρ| {:.3} ± {:.3}, max {:.3} ({} draws)",
                    ws.random_directions.mean_abs_spearman,
                    ws.random_directions.sd_abs_spearman,
                    ws.random_directions.max_abs_spearman,
                    ws.random_directions.draws
                ),
            ),
            kv(
                "cross-validated linear direction",
                format!("ρ = {:.3}", ws.cv_linear_direction.spearman),
            ),
        ],
        paragraph: format!(
            "Spearman ρ between a channel's mean change at a word and the word's polarity \
             ({}). A group tracks polarity when its ρ stands out from that of random directions.",
            ws.polarity
        ),
        ..Section::default()
    })
}

/// The section of Fig. 1 (green): the contextual eigenvector and its null tests.
fn contextual_section(dir: &Path, r: &ImdbReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let c = &r.contextual;
    let ctx_fig = r
        .figures
        .iter()
        .find(|f| f.name.starts_with("word_change_context"))
        .map(|f| f.name.clone());
    Ok(Section {
        heading: "Fig. 1 (green): the contextual eigenvector".into(),
        svg: match ctx_fig {
            Some(n) => fig(&n)?,
            None => None,
        },
        numbers: match &c.choice {
            Some(ch) => vec![
                kv(
                    "batch",
                    format!(
                        "{} of {} matching reviews, rank {}",
                        c.batch, c.matching_reviews, c.rank
                    ),
                ),
                kv(
                    "chosen group",
                    format!(
                        "{{{}}} λ = {}",
                        ch.chosen_name,
                        fmt_lambda(ch.chosen_eigenvalue.0, ch.chosen_eigenvalue.1)
                    ),
                ),
                kv(
                    "random positions",
                    format!(
                        "z = {:.2}, p = {:.3}",
                        ch.null.random_positions.z, ch.null.random_positions.p
                    ),
                ),
                kv(
                    "control words",
                    ch.null
                        .control_words
                        .as_ref()
                        .map_or("none".into(), |t| format!("z = {:.2}, p = {:.3}", t.z, t.p)),
                ),
            ],
            None => vec![kv("matching reviews", c.matching_reviews.to_string())],
        },
        paragraph:
            "The \"not bad\" / \"not good\" reviews are fitted on their own; the group whose \
                    level jumps most at the phrase is tested against random positions of the same \
                    reviews and against \"bad\"/\"good\" without \"not\"."
                .into(),
        ..Section::default()
    })
}

/// The section of Fig. 4 (left): the agreement of KANN (Eq. 6) and the baselines with the
/// network.
fn agreement_section(dir: &Path, r: &ImdbReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let a = &r.agreement;
    let mut nums = vec![kv(
        "KANN (h_(T-1) B C Bᵀ)",
        format!(
            "agreement {} of {} reviews",
            pct(a.agreement),
            a.reviews_used
        ),
    )];
    for b in &a.baselines {
        nums.push(kv(
            &format!("{} ({})", b.name, b.state),
            format!("agreement {}", pct(b.agreement_with_network)),
        ));
    }
    Ok(Section {
        heading: "Fig. 4 (left): agreement with the network".into(),
        svg: fig("agreement")?,
        numbers: nums,
        paragraph: "KANN predicts the last state from the one before with C and reads it out with \
                    G; agreement is the share of test reviews where its class equals the \
                    network's. The baselines read out the previous state itself, or its rank-r \
                    projection, and could explain a high agreement away."
            .into(),
        ..Section::default()
    })
}

/// The section of Sec. 4.3: `e_rel` (Eq. 12) of both fits and the run's accuracies.
fn error_section(dir: &Path, r: &ImdbReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    Ok(Section {
        heading: "Sec. 4.3: relative error (Eq. 12) and training".into(),
        svg: fig("training_curves")?,
        numbers: r
            .spectra
            .iter()
            .map(|s| {
                kv(
                    &format!("{} fit", s.fit_steps),
                    format!(
                        "e_rel {} on real steps, {} on all steps",
                        fmt_erel(&s.e_rel_real_steps),
                        fmt_erel(&s.e_rel_all_steps)
                    ),
                )
            })
            .chain(std::iter::once(kv(
                "accuracy train / validation / test",
                format!(
                    "{} / {} / {}",
                    crate::common::opt_pct(r.accuracy.train),
                    crate::common::opt_pct(r.accuracy.validation),
                    crate::common::opt_pct(r.accuracy.test)
                ),
            )))
            .collect(),
        paragraph: format!("Reproduce: {}", r.settings.command),
        ..Section::default()
    })
}

const SCRIPT: &str = include_str!("imdb.js");
const CSS: &str = include_str!("imdb.css");

/// The static skeleton of the interactive Fig. 1: the spectrum (every eigenvalue; those of the
/// groups are buttons), the group buttons, the review picker with its search box, the colour
/// mode, the words panel and the token area (filled by the script).
fn widget(r: &ImdbReport) -> String {
    let tv = &r.token_views;
    let mut h = String::from("<div id=\"kv\" class=\"kv\">");
    widget_spectrum(&mut h, tv);
    h.push_str("</g></svg><div class=\"kv-side\"><div id=\"kv-groups\" role=\"group\" aria-label=\"Eigen-groups\">");
    widget_groups(&mut h, tv);
    h.push_str(
        "</div>\
<label class=\"kv-row\">Search the reviews <input id=\"kv-search\" type=\"search\" autocomplete=\"off\"></label>\
<label class=\"kv-row\">Review <select id=\"kv-review\"></select></label>\
<fieldset class=\"kv-row\"><legend>Colour by</legend>\
<label><input type=\"radio\" name=\"kv-mode\" value=\"level\" checked> level m_S(h_t)</label> \
<label><input type=\"radio\" name=\"kv-mode\" value=\"change\"> change</label> \
<label><input type=\"radio\" name=\"kv-mode\" value=\"contribution\"> readout contribution</label></fieldset>\
<div id=\"kv-words\" class=\"kv-words\" aria-live=\"polite\"></div></div>\
<p id=\"kv-caption\" class=\"kv-caption\" aria-live=\"polite\"></p>\
<div id=\"kv-tokens\" class=\"kv-tokens\"></div></div>",
    );
    h
}

/// The widget's spectrum (appended to `h`): the unit circle, zoomed on the groups' eigenvalues,
/// each group's eigenvalue a button.
fn widget_spectrum(h: &mut String, tv: &TokenViews) {
    // The spectrum, zoomed on the groups' eigenvalues, y up.
    let members: Vec<(f64, f64)> = tv
        .groups
        .iter()
        .flatten()
        .filter_map(|&j| tv.eigenvalues.get(j - 1).copied())
        .collect();
    let (mut x0, mut x1, mut ym) = (1.0f64, 1.0f64, 0.0f64);
    for &(re, im) in &members {
        x0 = x0.min(re);
        x1 = x1.max(re);
        ym = ym.max(im.abs());
    }
    let half = ((x1 - x0) / 2.0).max(ym).max(0.05) * 1.15;
    let cx = (x0 + x1) / 2.0;
    let dot = half * 0.035;
    let _ = write!(
        h,
        "<svg id=\"kv-spec\" class=\"kv-spec\" viewBox=\"{:.5} {:.5} {:.5} {:.5}\" role=\"group\" aria-label=\"Spectrum: choose an eigen-group\">\
<g transform=\"scale(1,-1)\"><circle cx=\"0\" cy=\"0\" r=\"1\" class=\"unit\" vector-effect=\"non-scaling-stroke\"/>\
<line x1=\"{:.5}\" y1=\"0\" x2=\"{:.5}\" y2=\"0\" class=\"axis\" vector-effect=\"non-scaling-stroke\"/>",
        cx - half,
        -half,
        2.0 * half,
        2.0 * half,
        cx - half,
        cx + half
    );
    for (j, &(re, im)) in tv.eigenvalues.iter().enumerate() {
        let g = tv.groups.iter().position(|s| s.contains(&(j + 1)));
        if (re - cx).abs() > half || im.abs() > half {
            continue;
        }
        match g {
            Some(g) => {
                let _ = write!(
                    h,
                    "<circle class=\"ev\" data-g=\"{g}\" cx=\"{re:.5}\" cy=\"{im:.5}\" r=\"{:.5}\" tabindex=\"0\" role=\"button\" aria-label=\"u{} λ = {}\"><title>u{} λ = {}</title></circle>",
                    dot * 1.4,
                    j + 1,
                    fmt_lambda(re, im),
                    j + 1,
                    fmt_lambda(re, im)
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<circle class=\"ev-other\" cx=\"{re:.5}\" cy=\"{im:.5}\" r=\"{dot:.5}\"/>"
                );
            }
        }
    }
}

/// The widget's group buttons (appended to `h`), each titled with its eigenvalue.
fn widget_groups(h: &mut String, tv: &TokenViews) {
    for (g, set) in tv.groups.iter().enumerate() {
        let name = set
            .iter()
            .map(|j| format!("u{j}"))
            .collect::<Vec<_>>()
            .join(",");
        let ev = set
            .first()
            .and_then(|&j| tv.eigenvalues.get(j - 1))
            .map_or(String::new(), |&(a, b)| fmt_lambda(a, b));
        let _ = write!(
            h,
            "<button type=\"button\" class=\"grp\" data-g=\"{g}\" aria-pressed=\"false\" title=\"λ = {ev}\">{{{name}}}</button>"
        );
    }
}
