//! `report.html` of `analyze ecg`: the verdict table, the sections of Sec. 4.2, Fig. 2, App. B,
//! Fig. 3, Fig. 4 (right) and Sec. 4.3, and the interactive Fig. 2: pick one of the dominant
//! sets and see its median ± MAD reconstruction over the beats' median, Eq. 11 (with the
//! modulus) or the sign-invariant reconstruction, toggled.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use kann_plot::{Claim, Section, Verdict};
use serde::{Deserialize, Serialize};

use super::{
    agreement_claim, claim, claim_without_baseline, e_rel_claim, pct, svg_of,
    write_interactive_page,
};
use crate::ecg::EcgReport;
use crate::ecg::medians::MedianCurve;
use crate::report::{fmt_erel, fmt_lambda, fmt_tau};

/// A median curve with its median absolute deviation, per step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Curve {
    /// Median per step.
    pub median: Vec<f32>,
    /// Median absolute deviation per step.
    pub mad: Vec<f32>,
}

impl From<&MedianCurve> for Curve {
    fn from(c: &MedianCurve) -> Self {
        Curve {
            median: c.median.iter().map(|&v| v as f32).collect(),
            mad: c.mad.iter().map(|&v| v as f32).collect(),
        }
    }
}

/// One dominant set of Fig. 2 with both reconstructions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PairCurves {
    /// The set, 1-based.
    pub set: Vec<usize>,
    /// Eq. 11: `F_dec(H_last B |V_J U_J| Bᵀ)` (canonical signs), median ± MAD over the batch.
    pub modulus: Curve,
    /// Sign-invariant: `F_dec(Re(H_last B V_J U_J) Bᵀ)`, median ± MAD over the batch.
    pub sign_invariant: Curve,
}

/// The curves of Fig. 2 (`report.json` field `fig2_curves`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Fig2Curves {
    /// The median ± MAD of the batch's beats.
    pub beats: Curve,
    /// The median ± MAD of their full reconstruction by the network.
    pub reconstruction: Curve,
    /// The dominant sets, in the order of `dominant_pairs`.
    pub pairs: Vec<PairCurves>,
}

/// The verdict rows of `analyze ecg`.
pub fn claims(r: &EcgReport) -> Vec<Claim> {
    let a = &r.agreement;
    vec![
        accuracy_claim(r),
        four_of_four_claim(r),
        silhouette_claim(r),
        agreement_claim(
            "KANN's threshold decisions agree with the network (Fig. 4 right)",
            "> 97% (145 beats)",
            (
                a.agreement,
                format!("{} of {} normal beats", pct(a.agreement), a.beats),
            ),
            "trivial h_(T-1)",
            a.trivial_agreement,
            a.intervals.as_ref(),
        ),
        e_rel_claim(
            "e_rel 0.0056",
            format!("e_rel {}", fmt_erel(&r.e_rel_normal_test)),
            r.e_rel_intervals.as_ref(),
            "none computed without --bootstrap",
        ),
    ]
}

/// The verdict row of the network at its threshold (Sec. 4.2), against the majority class.
fn accuracy_claim(r: &EcgReport) -> Claim {
    let t = &r.threshold_accuracy;
    let total = (t.normal_beats + t.anomalous_beats).max(1) as f64;
    let majority = t.normal_beats.max(t.anomalous_beats) as f64 / total;
    claim(
        "The autoencoder separates normal from anomalous beats (Sec. 4.2)",
        "98.6% test",
        (
            t.overall,
            format!(
                "{} of {} test beats (threshold {})",
                pct(t.overall),
                t.normal_beats + t.anomalous_beats,
                t.threshold
            ),
        ),
        (
            majority,
            format!("majority class {}; margin 5 points", pct(majority)),
        ),
        0.05,
    )
}

/// The verdict row of Fig. 3 right: Koopman-5's silhouette against random 5-direction sets.
fn silhouette_claim(r: &EcgReport) -> Claim {
    let sil = &r.silhouette;
    let above = if sil.random_draws > 0 {
        1.0 - sil.random_below_koopman as f64 / sil.random_draws as f64
    } else {
        f64::NAN
    };
    claim(
        "Koopman-5 separates the classes least (Fig. 3 right)",
        "σ ≈ 0.1 vs 0.55 (H B), 0.6 (PCA-5)",
        (
            above,
            format!(
                "σ {:.3}; {} of {} random 5-direction sets above it{}",
                sil.sigma_koopman,
                sil.random_draws - sil.random_below_koopman,
                sil.random_draws,
                r.silhouette_intervals
                    .as_ref()
                    .map(|ci| format!(
                        "; [{:.3}, {:.3}] over {} redraws, below the random mean in {:.0}%",
                        ci.sigma_koopman_ci[0],
                        ci.sigma_koopman_ci[1],
                        ci.draws,
                        100.0 * ci.koopman_below_random_mean
                    ))
                    .unwrap_or_default()
            ),
        ),
        (
            0.5,
            format!(
                "random directions σ {:.3} ± {:.3}: half above by chance; margin 45 points",
                sil.sigma_random_mean, sil.sigma_random_sd
            ),
        ),
        0.45,
    )
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// Writes `report.html` for `r` into `dir`.
pub fn write(dir: &Path, r: &EcgReport, claims: Vec<Claim>) -> Result<()> {
    let sections = vec![
        threshold_section(dir, r)?,
        spectrum_section(dir, r)?,
        fig2_section(r),
        appb_section(dir, r)?,
        fig3_section(dir, r)?,
        agreement_section(dir, r)?,
        error_section(dir, r)?,
    ];
    let data = serde_json::json!({
        "fig2_curves": &r.fig2_curves,
        "dominant_pairs": &r.dominant_pairs,
    });
    write_interactive_page(
        dir,
        "KANN analysis of the ECG autoencoder",
        (claims, sections),
        &data,
        (CSS, SCRIPT),
    )
}

/// The section of Sec. 4.2: the network at its threshold, with its ROC.
fn threshold_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let t = &r.threshold_accuracy;
    Ok(Section {
        heading: "Sec. 4.2: the network at its threshold".into(),
        svg: fig("roc")?,
        numbers: vec![
            kv(
                "normal / anomalous test beats",
                format!(
                    "{} of {} / {} of {}",
                    pct(t.normal),
                    t.normal_beats,
                    pct(t.anomalous),
                    t.anomalous_beats
                ),
            ),
            kv("ROC AUC", format!("{:.4}", t.roc_auc)),
        ],
        paragraph: format!(
            "A beat is called anomalous when the autoencoder's reconstruction loss exceeds the \
             threshold {}.",
            t.threshold
        ),
        ..Section::default()
    })
}

/// The section of Sec. 4.2: the leading eigenvalues with `τ(0.01)` (Eqs. 4-5, Eq. 9).
fn spectrum_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    Ok(Section {
        heading: "Sec. 4.2: the spectrum (Eqs. 4-5, Eq. 9)".into(),
        svg: fig("spectrum")?,
        numbers: r
            .top_eigenvalues
            .iter()
            .take(6)
            .map(|e| {
                kv(
                    &format!("λ{}", e.index),
                    format!(
                        "{} (|λ| {:.4}, τ {})",
                        fmt_lambda(e.re, e.im),
                        e.modulus,
                        fmt_tau(e.tau, e.modulus)
                    ),
                )
            })
            .collect(),
        paragraph: format!(
            "C is fitted on the encoder states of {} normal beats (rank {}); {} eigenvalues have \
             |λ| > 0.99.",
            r.settings.batch, r.settings.rank, r.count_above_099
        ),
        ..Section::default()
    })
}

/// The section of Fig. 2: what each dominant pair reconstructs (Eq. 11), with the interactive
/// figure ([`widget`]).
fn fig2_section(r: &EcgReport) -> Section {
    let f2 = &r.fig2;
    Section {
        heading: "Fig. 2: what each dominant pair reconstructs (Eq. 11)".into(),
        svg: None,
        numbers: r
            .dominant_pairs
            .iter()
            .map(|p| {
                kv(
                    &format!(
                        "{{{}}}",
                        p.set
                            .iter()
                            .map(|j| format!("u{j}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    format!(
                        "λ = {}; Eq. 11: {} → {}; sign-invariant: {} → {}",
                        fmt_lambda(p.eigenvalue.0, p.eigenvalue.1),
                        p.feature,
                        p.paper_feature.as_deref().unwrap_or("no paper feature"),
                        p.sign_invariant_extreme,
                        p.sign_invariant_feature
                            .as_deref()
                            .unwrap_or("no paper feature")
                    ),
                )
            })
            .collect(),
        html: Some(widget(r)),
        paragraph: format!(
            "Pick a set and a reconstruction: the set's median reconstruction over the batch with \
             its MAD band, over the beats' median. k of 4 paper features captured by distinct \
             sets: {} with Eq. 11, {} sign-invariant. Over {} random sign patterns of B the Eq. 11 \
             medians moved by up to {:.3} (beat range {:.3}); the sign-invariant ones by {:.1e}. \
             Feature rule: {}.",
            f2.modulus_captured,
            f2.sign_invariant_captured,
            f2.sign_patterns,
            f2.max_median_deviation_modulus,
            f2.beat_range,
            f2.max_median_deviation_sign_invariant,
            f2.feature_rule
        ),
    }
}

/// The section of App. B: the explained variance of the PCA modes.
fn appb_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    Ok(Section {
        heading: "App. B: PCA modes instead of Koopman pairs".into(),
        svg: fig("appb_pca_modes")?,
        numbers: vec![kv(
            "explained variance",
            r.pca_explained_variance
                .iter()
                .map(|v| format!("{:.1}%", 100.0 * v))
                .collect::<Vec<_>>()
                .join(", "),
        )],
        paragraph: "The same panels with pairs of principal components of the states.".into(),
        ..Section::default()
    })
}

/// The section of Fig. 3: the cumulative silhouettes beside random directions.
fn fig3_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let sil = &r.silhouette;
    Ok(Section {
        heading: "Fig. 3: medians and cumulative silhouette".into(),
        svg: fig("fig3_silhouette")?,
        numbers: vec![
            kv("σ(140) on H B", format!("{:.4}", sil.sigma)),
            kv("σ(140) on PCA-5", format!("{:.4}", sil.sigma_pca)),
            kv(
                "σ(140) on Koopman-5",
                format!("{:.4} ({:?})", sil.sigma_koopman, sil.koopman_set),
            ),
            kv(
                "5 random directions",
                format!(
                    "{:.4} ± {:.4} ({} draws, {} below Koopman-5)",
                    sil.sigma_random_mean,
                    sil.sigma_random_sd,
                    sil.random_draws,
                    sil.random_below_koopman
                ),
            ),
        ],
        paragraph: format!(
            "Silhouette of normal against anomalous beats ({} beats) in the embedding of each \
             set of directions; random directions are the baseline.",
            sil.beats
        ),
        ..Section::default()
    })
}

/// The section of Fig. 4 (right): the threshold decisions of KANN (Eq. 6) and the trivial
/// predictor against the network's.
fn agreement_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    let a = &r.agreement;
    Ok(Section {
        heading: "Fig. 4 (right): agreement of the threshold decisions".into(),
        svg: fig("fig4_loss_histogram")?,
        numbers: vec![
            kv(
                "KANN",
                format!(
                    "{} of {} beats (network {} normal, KANN {} normal)",
                    pct(a.agreement),
                    a.beats,
                    a.network_normal,
                    a.kann_normal
                ),
            ),
            kv(
                "trivial h_(T-1)",
                format!("{} ({} normal)", pct(a.trivial_agreement), a.trivial_normal),
            ),
        ],
        paragraph: a.method.clone(),
        ..Section::default()
    })
}

/// The section of Sec. 4.3: `e_rel` (Eq. 12) and the training curves.
fn error_section(dir: &Path, r: &EcgReport) -> Result<Section> {
    let fig = |name: &str| svg_of(dir, &r.figures, name);
    Ok(Section {
        heading: "Sec. 4.3: relative error (Eq. 12) and training".into(),
        svg: fig("training_curves")?,
        numbers: vec![
            kv("all normal test beats", fmt_erel(&r.e_rel_normal_test)),
            kv("fit batch", fmt_erel(&r.e_rel_batch)),
        ],
        paragraph: format!("Reproduce: {}", r.settings.command),
        ..Section::default()
    })
}

const SCRIPT: &str = include_str!("ecg.js");
const CSS: &str = include_str!("ecg.css");

/// The skeleton of the interactive Fig. 2: set buttons, the reconstruction toggle and an empty
/// chart (drawn by the script).
fn widget(r: &EcgReport) -> String {
    let mut h = String::from(
        "<div id=\"ek\" class=\"ek\"><div class=\"ek-controls\"><div id=\"ek-pairs\" role=\"group\" aria-label=\"Dominant sets\">",
    );
    for (i, p) in r.fig2_curves.pairs.iter().enumerate() {
        let name = p
            .set
            .iter()
            .map(|j| format!("u{j}"))
            .collect::<Vec<_>>()
            .join(",");
        let _ = write!(
            h,
            "<button type=\"button\" class=\"pair\" data-p=\"{i}\" aria-pressed=\"false\">{{{name}}}</button>"
        );
    }
    h.push_str(
        "</div><fieldset><legend>Reconstruction</legend>\
<label><input type=\"radio\" name=\"ek-rec\" value=\"modulus\" checked> Eq. 11 (modulus)</label> \
<label><input type=\"radio\" name=\"ek-rec\" value=\"sign_invariant\"> sign-invariant</label></fieldset></div>\
<svg id=\"ek-chart\" class=\"ek-chart\" viewBox=\"0 0 700 300\" role=\"img\" aria-label=\"Median reconstruction of the chosen set\"></svg>\
<p id=\"ek-caption\" class=\"ek-caption\" aria-live=\"polite\"></p></div>",
    );
    h
}

/// The Fig. 2 row. Without resampling: no verdict (no baseline computed). With the capture
/// intervals (`crate::ecg::capture`): holds when the better reconstruction gives 4 of 4 in its
/// whole interval, does not hold when both intervals lie below 4, inconclusive otherwise.
fn four_of_four_claim(r: &EcgReport) -> Claim {
    const WHAT: &str = "Four dominant Koopman pairs capture four beat features (Fig. 2, Eq. 11)";
    let f2 = &r.fig2;
    let mut row = claim_without_baseline(
        WHAT,
        "4 of 4",
        format!(
            "{} of 4 (Eq. 11), {} of 4 sign-invariant",
            f2.modulus_captured, f2.sign_invariant_captured
        ),
        "none computed (no random sets)",
    );
    if let Some(c) = &r.capture_intervals {
        let (m, s) = (&c.modulus, &c.sign_invariant);
        row.ours = format!(
            "{} of 4 [{}, {}] (Eq. 11), {} of 4 [{}, {}] sign-invariant, over {} bootstrap draws",
            m.k, m.k_ci[0], m.k_ci[1], s.k, s.k_ci[0], s.k_ci[1], c.replicates
        );
        row.baseline = "none computed (no random sets); verdict from the interval of k".into();
        row.verdict = if m.k_ci[0] >= 4 || s.k_ci[0] >= 4 {
            Verdict::Holds
        } else if m.k_ci[1] < 4 && s.k_ci[1] < 4 {
            Verdict::DoesNotHold
        } else {
            Verdict::Inconclusive
        };
    }
    row
}
