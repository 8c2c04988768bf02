//! `report.json` ([`EcgReport`]) and `report.md` of `analyze ecg`: the paper's numbers next to
//! ours, one table row per paper figure, then every number measured.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::accuracy::EcgThresholdAccuracy;
use super::agreement::EcgAgreement;
use super::features::{MIN_PROMINENCE, TIME_TOLERANCE};
use super::pairs::PairingRule;
use super::robustness::{RobustnessRow, k_by_size};
use super::silhouette::SilhouetteSummary;
use crate::common::{Accuracies, FigureFile, opt_pct, pct};
use crate::kann::{EigenSummary, ErelSummary, set_name};
use crate::report::{PaperRow, Settings, figures_markdown, fmt_erel, fmt_lambda, fmt_tau};

/// A set of Fig. 2 (a dominant conjugate pair under the default rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgPair {
    /// The set, 1-based (a single real eigenvector if there were not enough pairs).
    pub set: Vec<usize>,
    /// Dominance ranks of its members, 1-based.
    pub ranks: Vec<usize>,
    /// Eigenvalue `(re, im)` of its first member.
    pub eigenvalue: (f64, f64),
    /// Dominance score (mean over the batch of `Σ_t |H~ V|`) of its most dominant member.
    pub dominance: f64,
    /// Memory horizon `τ(0.01)` of its first member.
    pub tau: Option<f64>,
    /// Closed under conjugation (`V_J U_J` real).
    pub conjugate: bool,
    /// `‖Im(V_J U_J)‖ / ‖V_J U_J‖`.
    pub imaginary_share: f64,
    /// Eq. 11 (modulus, canonical signs): the median's most prominent extreme, e.g. `min t=5`.
    pub feature: String,
    /// 1-based step of that extreme.
    pub feature_t: usize,
    /// Eq. 11 (modulus): every paper feature a prominent extreme of the median matches.
    pub captures: Vec<String>,
    /// Eq. 11 (modulus): the paper feature assigned to this set when each feature goes to one
    /// set only (the `k` of 4), if any.
    pub paper_feature: Option<String>,
    /// Sign-invariant reconstruction: the median's most prominent extreme.
    pub sign_invariant_extreme: String,
    /// Sign-invariant reconstruction: every paper feature matched.
    pub sign_invariant_captures: Vec<String>,
    /// Sign-invariant reconstruction: the paper feature assigned (one set per feature), if any.
    pub sign_invariant_feature: Option<String>,
    /// Eq. 11: `max_{pattern, t} |μ^pattern(t) − μ^canonical(t)|` over random sign patterns of `B`.
    pub max_sign_deviation: f64,
}

/// Fig. 2 in numbers: the rules used and what they found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Summary {
    /// The pairing rule of the sets.
    pub pairing: PairingRule,
    /// The sign convention of `B` under which Eq. 11 (with the modulus) is computed.
    pub sign_convention: String,
    /// The feature matcher's rule.
    pub feature_rule: String,
    /// Window tolerance of the matcher, steps.
    pub feature_tolerance_steps: usize,
    /// Range `max μ − min μ` of the beats' median (the prominence scale).
    pub beat_range: f64,
    /// k of 4 features captured by distinct sets, Eq. 11 with the modulus.
    pub modulus_captured: usize,
    /// The captured features, Eq. 11 with the modulus.
    pub modulus_features: Vec<String>,
    /// k of 4, sign-invariant reconstruction.
    pub sign_invariant_captured: usize,
    /// The captured features, sign-invariant reconstruction.
    pub sign_invariant_features: Vec<String>,
    /// Random sign patterns of `B` drawn.
    pub sign_patterns: usize,
    /// Their seed.
    pub sign_seed: u64,
    /// Largest deviation of an Eq. 11 median over the patterns (all sets).
    pub max_median_deviation_modulus: f64,
    /// The same for the sign-invariant reconstruction (zero up to rounding).
    pub max_median_deviation_sign_invariant: f64,
}

/// Everything `analyze ecg` measured (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcgReport {
    /// `ecg`.
    pub task: String,
    /// How the analysis was run.
    pub settings: Settings,
    /// Accuracies the run reported.
    pub accuracy: Accuracies,
    /// The network at the threshold on all test beats.
    pub threshold_accuracy: EcgThresholdAccuracy,
    /// Number of eigenvalues.
    pub num_eigenvalues: usize,
    /// Count of `|λ| > 0.99`.
    pub count_above_099: usize,
    /// The leading eigenvalues (at most 10) with `τ(0.01)`.
    pub top_eigenvalues: Vec<EigenSummary>,
    /// Bootstrap intervals of the spectrum over the batch's beats (`--bootstrap`; absent with
    /// `--bootstrap 0`).
    #[serde(default)]
    pub spectrum_intervals: Option<kann_koopman::SpectrumIntervals>,
    /// The four sets of Fig. 2.
    pub dominant_pairs: Vec<EcgPair>,
    /// Fig. 2 in numbers: both reconstructions, features found, sign dependence.
    pub fig2: Fig2Summary,
    /// k of 4 and each feature's capture rate over bootstrap draws of the batch, Fig. 2 redone
    /// in each (`--bootstrap`, at most [`super::capture::MAX_REPLICATES`]; absent with
    /// `--bootstrap 0`).
    #[serde(default)]
    pub capture_intervals: Option<super::capture::CaptureIntervals>,
    /// k-of-4 over batch sizes 20/64/145 and three batch draws, both pairing rules.
    pub robustness: Vec<RobustnessRow>,
    /// Explained variance ratio of the PCA modes of App. B.
    pub pca_explained_variance: Vec<f64>,
    /// `e_rel` on the analysis batch (the fit's own data).
    pub e_rel_batch: ErelSummary,
    /// `e_rel` on all normal test beats with the same fit (the paper's batch of 145).
    pub e_rel_normal_test: ErelSummary,
    /// Bootstrap intervals of that e_rel beside the trivial predictor's (refits on resampled
    /// batches, scores on resampled normal beats; `--bootstrap`, absent with `--bootstrap 0`).
    #[serde(default)]
    pub e_rel_intervals: Option<crate::intervals::ErelIntervals>,
    /// Fig. 3 (right) with the random-direction baseline.
    pub silhouette: SilhouetteSummary,
    /// Fig. 3 right on other draws of the two batches from the test split (`--bootstrap`, at
    /// most [`super::silhouette::MAX_REDRAWS`] draws; absent with `--bootstrap 0`).
    #[serde(default)]
    pub silhouette_intervals: Option<super::silhouette::SilhouetteIntervals>,
    /// Fig. 4 (right) with the trivial-predictor baseline.
    pub agreement: EcgAgreement,
    /// The curves of Fig. 2 (median ± MAD of both reconstructions per set, and of the beats),
    /// for the interactive Fig. 2 of `report.html`.
    #[serde(default)]
    pub fig2_curves: crate::report_html::ecg::Fig2Curves,
    /// Figures written (PNG + SVG).
    pub figures: Vec<FigureFile>,
    /// The table of `report.md`.
    pub table: Vec<PaperRow>,
    /// Warnings of the fits and the analysis.
    pub warnings: Vec<String>,
}

/// The matcher's rule in words.
pub fn feature_rule() -> String {
    format!(
        "extremes = global min and max of a set's median; prominent if |value - median level| >= {MIN_PROMINENCE} x range of the beats' median; matched to min t=3 / any extreme in t=35..75 / max t=103 / max t=133 within ±{TIME_TOLERANCE} steps; one feature per set, one set per feature, most features"
    )
}

fn pair_name(set: &[usize]) -> String {
    format!(
        "{{{}}}",
        set_name(&set.iter().map(|j| j - 1).collect::<Vec<_>>())
    )
}

fn captures_text(c: &[String]) -> String {
    if c.is_empty() {
        "none".to_string()
    } else {
        c.join(" + ")
    }
}

fn pair_features(r: &EcgReport, invariant: bool) -> String {
    r.dominant_pairs
        .iter()
        .map(|p| {
            let (ext, c) = if invariant {
                (&p.sign_invariant_extreme, &p.sign_invariant_captures)
            } else {
                (&p.feature, &p.captures)
            };
            format!("{} {} → {}", pair_name(&p.set), ext, captures_text(c))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `"20: 1,1,2; 64: ..."` for one rule and reconstruction.
pub fn k_table(rows: &[RobustnessRow], rule: PairingRule, modulus: bool) -> String {
    k_by_size(rows, rule, modulus)
        .iter()
        .map(|(b, ks)| {
            format!(
                "b={b}: {}",
                ks.iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of the table that opens `report.md`.
pub fn ecg_table(r: &EcgReport, run: &Path) -> Vec<PaperRow> {
    let mut rows = training_rows(r, run);
    rows.extend(fig2_rows(r));
    rows.extend(fig3_fig4_rows(r));
    rows
}

/// The command cell of the table: the analysis command.
fn command_cell(r: &EcgReport) -> String {
    format!("`{}`", r.settings.command)
}

/// The command cell of a row with figure `name`: the command → the figure's PNG.
fn figure_cell(r: &EcgReport, name: &str) -> String {
    let cmd = command_cell(r);
    r.figures
        .iter()
        .find(|f| f.name == name)
        .map(|f| format!("{cmd} → `{}`", f.png))
        .unwrap_or_else(|| cmd.clone())
}

/// The table rows of Sec. 4.2: the training accuracies, the network at the threshold and the
/// spectrum.
fn training_rows(r: &EcgReport, run: &Path) -> Vec<PaperRow> {
    let fig = |name: &str| figure_cell(r, name);
    let acc = &r.accuracy;
    let t = &r.threshold_accuracy;
    let top: Vec<String> = r
        .top_eigenvalues
        .iter()
        .take(4)
        .map(|e| {
            format!(
                "{} (τ {})",
                fmt_lambda(e.re, e.im),
                fmt_tau(e.tau, e.modulus)
            )
        })
        .collect();
    vec![
        PaperRow::new(
            "Sec. 4.2 (training)",
            "accuracy train / val / test",
            "97.1% / 97.6% / 98.6%",
            format!(
                "{} / {} / {}",
                opt_pct(acc.train),
                opt_pct(acc.validation),
                opt_pct(acc.test)
            ),
            crate::common::run_origin(run, kann_models::config::Task::Ecg),
        ),
        PaperRow::new(
            "Sec. 4.2 (threshold)",
            "network at the threshold: normal / anomalous test beats, ROC AUC",
            "threshold 26",
            format!(
                "{} of {} / {} of {} (threshold {}), AUC {:.4}",
                pct(t.normal),
                t.normal_beats,
                pct(t.anomalous),
                t.anomalous_beats,
                t.threshold,
                t.roc_auc
            ),
            fig("roc"),
        ),
        PaperRow::new(
            "Sec. 4.2 (spectrum)",
            "count of |λ| > 0.99; leading eigenvalues",
            "not stated",
            match &r.spectrum_intervals {
                Some(ci) => format!(
                    "{} [{}, {}] ({} bootstrap replicates); {}",
                    r.count_above_099,
                    ci.count_above_ci[0].floor(),
                    ci.count_above_ci[1].ceil(),
                    ci.replicates,
                    top.join(", ")
                ),
                None => format!("{}; {}", r.count_above_099, top.join(", ")),
            },
            fig("spectrum"),
        ),
    ]
}

/// The table rows of Fig. 2 (Eq. 11 with canonical signs, sign-invariant, sign dependence,
/// robustness) and App. B.
fn fig2_rows(r: &EcgReport) -> Vec<PaperRow> {
    let fig = |name: &str| figure_cell(r, name);
    let cmd = command_cell(r);
    let f2 = &r.fig2;
    let paper_features = "58–59 min t=3; 25–26 t∈[35,75]; 9–10 max t=103; 50–51 peak t=133";
    vec![
        PaperRow::new(
            "Fig. 2 (Eq. 11, canonical signs)",
            &format!(
                "four dominant sets ({} pairing), extreme of each median → paper feature; k of 4",
                f2.pairing
            ),
            paper_features,
            format!(
                "{}; k = {} of 4 captured by distinct sets{}",
                pair_features(r, false),
                f2.modulus_captured,
                capture_cell(r, false)
            ),
            fig("fig2_koopman_pairs"),
        ),
        PaperRow::new(
            "Fig. 2 (sign-invariant)",
            "the same without the modulus: Re(H B V_J U_J) Bᵀ; k of 4",
            paper_features,
            format!(
                "{}; k = {} of 4 captured by distinct sets{}",
                pair_features(r, true),
                f2.sign_invariant_captured,
                capture_cell(r, true)
            ),
            fig("fig2_sign_invariant"),
        ),
        PaperRow::new(
            "Fig. 2 (signs)",
            &format!(
                "max deviation of a pair median over {} random sign patterns of B (beat range {:.2})",
                f2.sign_patterns, f2.beat_range
            ),
            "not considered",
            format!(
                "Eq. 11: {:.3}; sign-invariant: {:.1e}",
                f2.max_median_deviation_modulus, f2.max_median_deviation_sign_invariant
            ),
            fig("fig2_sign_spread"),
        ),
        PaperRow::new(
            "Fig. 2 (robustness)",
            "k of 4 over batch size × 3 draws, conjugate pairs: Eq. 11 | sign-invariant",
            "4 of 4 (one batch of 64)",
            format!(
                "{} | {}",
                k_table(&r.robustness, PairingRule::Conjugate, true),
                k_table(&r.robustness, PairingRule::Conjugate, false)
            ),
            cmd.clone(),
        ),
        PaperRow::new(
            "App. B",
            "PCA modes instead of Koopman pairs",
            "PCA modes do not isolate beat features",
            format!(
                "explained variance {}",
                r.pca_explained_variance
                    .iter()
                    .map(|v| format!("{:.1}%", 100.0 * v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fig("appb_pca_modes"),
        ),
    ]
}

/// The table rows of Fig. 3 (medians, silhouettes), Fig. 4 right (agreement) and Eq. 12.
fn fig3_fig4_rows(r: &EcgReport) -> Vec<PaperRow> {
    let fig = |name: &str| figure_cell(r, name);
    let cmd = command_cell(r);
    let sil = &r.silhouette;
    vec![
        PaperRow::new(
            "Fig. 3 (left)",
            "medians of normal/anomalous beats and reconstructions",
            "both reconstructed well",
            format!("{} + {} beats", r.settings.batch, r.settings.batch),
            fig("fig3_medians"),
        ),
        PaperRow::new(
            "Fig. 3 (right)",
            "cumulative silhouette σ(140): H B / PCA-5 / Koopman-5; 5 random directions (mean ± sd)",
            "≈0.55 / ≈0.6 / ≈0.1 (Koopman lowest); no baseline",
            format!(
                "{:.3} / {:.3} / {:.3}; random {:.3} ± {:.3} ({} of {} draws below Koopman-5)",
                sil.sigma,
                sil.sigma_pca,
                sil.sigma_koopman,
                sil.sigma_random_mean,
                sil.sigma_random_sd,
                sil.random_below_koopman,
                sil.random_draws
            ) + &silhouette_cell(r),
            fig("fig3_silhouette"),
        ),
        PaperRow::new(
            "Fig. 4 (right)",
            "agreement of threshold decisions, normal test beats: KANN h_(T-1) B C Bᵀ; trivial h_(T-1)",
            "> 97% (145 beats); no baseline",
            format!(
                "KANN {} of {} beats (network {} normal, KANN {} normal); trivial {} ({} normal){}",
                pct(r.agreement.agreement),
                r.agreement.beats,
                r.agreement.network_normal,
                r.agreement.kann_normal,
                pct(r.agreement.trivial_agreement),
                r.agreement.trivial_normal,
                r.agreement
                    .intervals
                    .as_ref()
                    .map_or(String::new(), |ci| format!(
                        "; KANN − trivial {} (95% bootstrap)",
                        crate::intervals::difference_cell(ci)
                    ))
            ),
            fig("fig4_loss_histogram"),
        ),
        PaperRow::new(
            "Sec. 4.3 (Eq. 12)",
            "e_rel",
            "0.0056 (145 normal beats)",
            format!(
                "{} on all {} normal test beats; {} on the {}-beat fit batch",
                fmt_erel(&r.e_rel_normal_test),
                r.agreement.beats,
                fmt_erel(&r.e_rel_batch),
                r.settings.batch
            ),
            cmd.clone(),
        ),
    ]
}

/// The body of `report.md` after the table.
pub fn ecg_body(r: &EcgReport) -> String {
    let st = &r.settings;
    let mut s = ecg_intro(r);
    s.push_str(&spectrum_section(r));
    s.push_str(&fig2_section(r));
    s.push_str(&robustness_section(r));
    s.push_str(&agreement_section(r));
    s.push_str(&silhouette_section(r));
    let _ = write!(
        s,
        "## Relative error (Eq. 12)\n\n- fit batch ({} beats): {}\n- all normal test beats: {}\n\n",
        st.batch,
        fmt_erel(&r.e_rel_batch),
        fmt_erel(&r.e_rel_normal_test)
    );
    let t = &r.threshold_accuracy;
    let _ = write!(
        s,
        "## Accuracy\n\nFrom {}: train {}, validation {}, test {}. Measured here at threshold {}: normal {} ({} beats), anomalous {} ({} beats), overall {}, ROC AUC {:.4}.\n\n",
        r.accuracy.source,
        opt_pct(r.accuracy.train),
        opt_pct(r.accuracy.validation),
        opt_pct(r.accuracy.test),
        t.threshold,
        pct(t.normal),
        t.normal_beats,
        pct(t.anomalous),
        t.anomalous_beats,
        pct(t.overall),
        t.roc_auc
    );
    s.push_str(&figures_markdown(&r.figures, &[]));
    if !r.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
    s
}

/// The opening paragraph of the body: the run, the analysis batch and the command.
fn ecg_intro(r: &EcgReport) -> String {
    let st = &r.settings;
    format!(
        "Run `{}` ({} cell, latent {}), data `{}`. Analysis batch: {} random normal test beats (seed {}), encoder states [{}, 140, {}]; rank {}{}. All beats have 140 real steps (no padding), so e_rel has a single variant.\n\nReproduce: `{}`\n\n",
        st.run_dir,
        st.cell,
        st.hidden,
        st.data_dir,
        st.batch,
        st.seed,
        st.batch,
        st.hidden,
        st.rank,
        if st.rank_is_default {
            " (reference default min(#pairs, k) - 1)"
        } else {
            ""
        },
        st.command
    )
}

/// `## Spectrum`: the leading eigenvalues with `τ(0.01)` (Eq. 9) and their intervals.
fn spectrum_section(r: &EcgReport) -> String {
    let mut s = String::new();
    s.push_str("## Spectrum\n\n| j | λ | modulus | τ(0.01) |\n| --- | --- | --- | --- |\n");
    for e in &r.top_eigenvalues {
        let _ = writeln!(
            s,
            "| {} | {} | {:.5} | {} |",
            e.index,
            fmt_lambda(e.re, e.im),
            e.modulus,
            fmt_tau(e.tau, e.modulus)
        );
    }
    if let Some(ci) = &r.spectrum_intervals {
        let _ = write!(
            s,
            "\nIntervals: {}.\n",
            crate::kann::intervals_line(ci, r.settings.batch)
        );
    }
    s
}

/// `## Fig. 2`: the dominant sets, the features each reconstruction (Eq. 11 and
/// sign-invariant) captures, the sign dependence and the bootstrap capture rates.
fn fig2_section(r: &EcgReport) -> String {
    let mut s = String::new();
    let f2 = &r.fig2;
    let _ = write!(
        s,
        "\n## Fig. 2\n\nSets: {} pairing. Eq. 11 (`F_dec(H_last B |V_J U_J| Bᵀ)`) with the sign convention: {}. Sign-invariant: `F_dec(Re(H_last B V_J U_J) Bᵀ)`. Feature rule: {}.\n\n",
        f2.pairing, f2.sign_convention, f2.feature_rule
    );
    s.push_str("| set | ranks | λ | dominance | τ(0.01) | conjugate | Im share | Eq. 11 extreme → features matched | max dev. over signs | sign-invariant extreme → features matched |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for p in &r.dominant_pairs {
        let _ = writeln!(
            s,
            "| {} | {:?} | {} | {:.4} | {} | {} | {:.3} | {} → {} | {:.3} | {} → {} |",
            pair_name(&p.set),
            p.ranks,
            fmt_lambda(p.eigenvalue.0, p.eigenvalue.1),
            p.dominance,
            fmt_tau(p.tau, p.eigenvalue.0.hypot(p.eigenvalue.1)),
            if p.conjugate { "yes" } else { "no" },
            p.imaginary_share,
            p.feature,
            captures_text(&p.captures),
            p.max_sign_deviation,
            p.sign_invariant_extreme,
            captures_text(&p.sign_invariant_captures),
        );
    }
    let _ = write!(
        s,
        "\nk of 4 features captured by distinct sets: Eq. 11 {} ({}), sign-invariant {} ({}). Over {} random sign patterns of B (seed {}), the Eq. 11 medians moved by up to {:.3} (beat range {:.3}); the sign-invariant ones by {:.1e}.\n\n",
        f2.modulus_captured,
        f2.modulus_features.join(", "),
        f2.sign_invariant_captured,
        f2.sign_invariant_features.join(", "),
        f2.sign_patterns,
        f2.sign_seed,
        f2.max_median_deviation_modulus,
        f2.beat_range,
        f2.max_median_deviation_sign_invariant
    );
    if let Some(c) = &r.capture_intervals {
        let _ = write!(
            s,
            "Over {} bootstrap draws of the batch's {} beats (seed {}, {} failed; Fig. 2 redone in each, the sets chosen again; {:.0}% percentile intervals): Eq. 11 {}; sign-invariant {}. Replicates by k = 0..4: Eq. 11 {:?}, sign-invariant {:?}.\n\n",
            c.replicates,
            c.batch,
            c.seed,
            c.failed,
            100.0 * c.level,
            super::capture::capture_line(&c.modulus),
            super::capture::capture_line(&c.sign_invariant),
            c.modulus.k_counts,
            c.sign_invariant.k_counts
        );
    }
    s
}

/// `## Fig. 2 robustness (k of 4)`: one row per batch size, draw and pairing rule.
fn robustness_section(r: &EcgReport) -> String {
    let mut s = String::new();
    s.push_str("## Fig. 2 robustness (k of 4)\n\n| batch | seed | pairing | rank | sets | conjugate | Eq. 11 k | sign-invariant k |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for row in &r.robustness {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            row.batch,
            row.seed,
            row.pairing,
            row.rank,
            row.sets
                .iter()
                .map(|x| pair_name(x))
                .collect::<Vec<_>>()
                .join(" "),
            row.conjugate_sets,
            row.modulus_captured,
            row.sign_invariant_captured
        );
    }
    s
}

/// `## Agreement (Fig. 4 right)`: the threshold decisions of KANN (Eq. 6) and the trivial
/// predictor against the network, and the intervals of the agreements and of `e_rel` (Eq. 12).
fn agreement_section(r: &EcgReport) -> String {
    let mut s = String::new();
    let a = &r.agreement;
    let _ = write!(
        s,
        "\n## Agreement (Fig. 4 right)\n\n{}.\n\n{} beats: network normal {}, KANN normal {}, agreement {}; trivial predictor normal {}, agreement {}; median loss network {:.2}, KANN {:.2}, trivial {:.2}.\n\n",
        a.method,
        a.beats,
        a.network_normal,
        a.kann_normal,
        pct(a.agreement),
        a.trivial_normal,
        pct(a.trivial_agreement),
        a.network_median_loss,
        a.kann_median_loss,
        a.trivial_median_loss
    );
    if let Some(ci) = &a.intervals {
        let _ = write!(
            s,
            "Intervals: {}.\n\n",
            crate::intervals::agreement_line(ci, "normal beats")
        );
    }
    if let Some(e) = &r.e_rel_intervals {
        let _ = write!(
            s,
            "One-step error on all normal test beats, beside the trivial predictor: {}.\n\n",
            crate::intervals::e_rel_line(e)
        );
    }
    s
}

/// `## Silhouette (Fig. 3 right)`: `σ(140)` on the coefficients, PCA-5 and Koopman-5 beside
/// random directions, and over other draws.
fn silhouette_section(r: &EcgReport) -> String {
    let mut s = String::new();
    let sil = &r.silhouette;
    let _ = write!(
        s,
        "## Silhouette (Fig. 3 right)\n\n{} beats; the operator refitted on normal + anomalous states together; σ(140) = {:.4} on H B, {:.4} on its first 5 principal components, {:.4} on the Koopman eigenvectors {:?} (embedding [Re, Im] of H B V_S); baseline: 5 random orthonormal directions of the coefficient space, {} draws: {:.4} ± {:.4} (min {:.4}; {} draws below Koopman-5).\n\n",
        sil.beats,
        sil.sigma,
        sil.sigma_pca,
        sil.sigma_koopman,
        sil.koopman_set,
        sil.random_draws,
        sil.sigma_random_mean,
        sil.sigma_random_sd,
        sil.sigma_random_min,
        sil.random_below_koopman
    );
    if let Some(ci) = &r.silhouette_intervals {
        let _ = write!(
            s,
            "On {} other draws of {} normal and {} anomalous test beats ({} failed; draws overlap each other and the batch, so these intervals describe this test split's batches; {:.0}% percentile intervals): σ(140) on H B [{:.4}, {:.4}], PCA-5 [{:.4}, {:.4}], Koopman-5 [{:.4}, {:.4}], random directions' mean [{:.4}, {:.4}]; Koopman-5 below PCA-5 in {:.0}% of the draws, below the random mean in {:.0}%.\n\n",
            ci.draws,
            r.settings.batch,
            r.settings.batch,
            ci.failed,
            100.0 * ci.level,
            ci.sigma_ci[0],
            ci.sigma_ci[1],
            ci.sigma_pca_ci[0],
            ci.sigma_pca_ci[1],
            ci.sigma_koopman_ci[0],
            ci.sigma_koopman_ci[1],
            ci.sigma_random_mean_ci[0],
            ci.sigma_random_mean_ci[1],
            100.0 * ci.koopman_below_pca,
            100.0 * ci.koopman_below_random_mean
        );
    }
    s
}

/// `" [lo, hi] over N draws"` after a k of 4, when the capture intervals exist.
fn capture_cell(r: &EcgReport, sign_invariant: bool) -> String {
    match &r.capture_intervals {
        Some(c) => {
            let st = if sign_invariant {
                &c.sign_invariant
            } else {
                &c.modulus
            };
            format!(
                " [{}, {}] over {} draws",
                st.k_ci[0], st.k_ci[1], c.replicates
            )
        }
        None => String::new(),
    }
}

/// `"; Koopman-5 [lo, hi] over N redraws, below PCA-5 in X%"`, when the redraws exist.
fn silhouette_cell(r: &EcgReport) -> String {
    match &r.silhouette_intervals {
        Some(ci) => format!(
            "; over {} redraws Koopman-5 [{:.3}, {:.3}], PCA-5 [{:.3}, {:.3}], Koopman-5 below PCA-5 in {:.0}%",
            ci.draws,
            ci.sigma_koopman_ci[0],
            ci.sigma_koopman_ci[1],
            ci.sigma_pca_ci[0],
            ci.sigma_pca_ci[1],
            100.0 * ci.koopman_below_pca
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(batch: usize, seed: u64, pairing: PairingRule, km: usize, ki: usize) -> RobustnessRow {
        RobustnessRow {
            batch,
            seed,
            pairing,
            rank: 63,
            sets: vec![vec![1, 2]],
            conjugate_sets: 1,
            modulus_captured: km,
            modulus_features: vec![None],
            sign_invariant_captured: ki,
            sign_invariant_features: vec![None],
        }
    }

    #[test]
    fn k_table_groups_by_batch_size_and_rule() {
        let rows = vec![
            row(20, 0, PairingRule::Conjugate, 1, 2),
            row(20, 0, PairingRule::ConsecutiveRanks, 0, 0),
            row(20, 1, PairingRule::Conjugate, 2, 3),
            row(64, 0, PairingRule::Conjugate, 1, 1),
        ];
        assert_eq!(
            k_table(&rows, PairingRule::Conjugate, true),
            "b=20: 1/2, b=64: 1"
        );
        assert_eq!(
            k_table(&rows, PairingRule::Conjugate, false),
            "b=20: 2/3, b=64: 1"
        );
        assert_eq!(
            k_table(&rows, PairingRule::ConsecutiveRanks, true),
            "b=20: 0, b=64: "
        );
        assert!(feature_rule().contains("±5 steps"));
    }
}
