//! The figures of `analyze ecg`, drawn from the stages' results (no computation here).

use std::path::Path;

use anyhow::Result;
use kann_plot::{
    Band, Curve, HistogramSeries, LabelledPoint, LossHistogramFigure, MedianComparisonFigure,
    MedianPanel, MedianPanelsFigure, MedianSeries, Rgb, RocCurve, RocFigure, SilhouetteFigure,
    TimeMarker,
};

use super::accuracy::EcgThresholdAccuracy;
use super::agreement::{EcgAgreement, Losses};
use super::medians::MedianCurve;
use super::silhouette::{SilhouetteCurves, SilhouetteIntervals};
use crate::common::{FigureFile, figure_file};

/// One panel of a Fig. 2-style figure.
pub struct Panel {
    /// Caption.
    pub name: String,
    /// The set's median and MAD.
    pub curve: MedianCurve,
    /// Marker position (1-based step) and label.
    pub marker: Option<(usize, String)>,
    /// Thin curves behind the median (e.g. medians under other sign patterns).
    pub spread: Vec<Vec<f64>>,
}

/// The Koopman spectrum, with the bootstrap intervals of its leading eigenvalues where the
/// analysis resampled (`--bootstrap`).
pub fn spectrum(
    run: &Path,
    title: &str,
    points: &[(f64, f64)],
    intervals: Option<&kann_koopman::SpectrumIntervals>,
) -> Result<FigureFile> {
    let p = crate::kann::spectrum_figure(run, title, points, intervals)?;
    figure_file(
        run,
        &p,
        "Eigenvalues of C (ECG encoder), |lambda| > 0.99 labelled, tau(0.01) (Eq. 9)",
    )
}

/// Medians of decoded sets over `μ` and `μ_r` (Fig. 2, App. B).
pub fn panels(
    run: &Path,
    stem: &str,
    title: &str,
    caption: &str,
    mu: &MedianCurve,
    mu_r: &MedianCurve,
    panels: &[Panel],
) -> Result<FigureFile> {
    let markers: Vec<Vec<TimeMarker>> = panels
        .iter()
        .map(|p| {
            p.marker
                .iter()
                .map(|(t, label)| TimeMarker {
                    t: *t as f64,
                    label,
                })
                .collect()
        })
        .collect();
    let spreads: Vec<Vec<&[f64]>> = panels
        .iter()
        .map(|p| p.spread.iter().map(Vec::as_slice).collect())
        .collect();
    let refs: Vec<MedianPanel> = panels
        .iter()
        .zip(&markers)
        .zip(&spreads)
        .map(|((p, m), s)| MedianPanel {
            series: MedianSeries::new(&p.name, &p.curve.median, Some(&p.curve.mad)),
            markers: m,
            spread: s,
        })
        .collect();
    let p = kann_plot::median_panels(
        run,
        stem,
        &MedianPanelsFigure {
            title,
            original: MedianSeries::new("μ (original beats)", &mu.median, None),
            reconstruction: MedianSeries::new("μ_r (network reconstruction)", &mu_r.median, None),
            panels: &refs,
            time: None,
            columns: 0,
            x_label: "t",
            y_label: "amplitude",
        },
    )?;
    figure_file(run, &p, caption)
}

/// Fig. 3 (left): medians of normal and anomalous beats and their reconstructions.
pub fn fig3_medians(run: &Path, b: usize, curves: [&MedianCurve; 4]) -> Result<FigureFile> {
    let [n, nr, a, ar] = curves;
    let series = [
        MedianSeries {
            color: Some(Rgb::BLUE),
            ..MedianSeries::new("normal", &n.median, Some(&n.mad))
        },
        MedianSeries {
            color: Some(Rgb::GREEN),
            ..MedianSeries::new("normal reconstructed", &nr.median, Some(&nr.mad))
        },
        MedianSeries {
            color: Some(Rgb::ORANGE),
            ..MedianSeries::new("anomalous", &a.median, Some(&a.mad))
        },
        MedianSeries {
            color: Some(Rgb::BROWN),
            ..MedianSeries::new("anomalous reconstructed", &ar.median, Some(&ar.mad))
        },
    ];
    let title = format!("Beats and reconstructions: {b} normal, {b} anomalous");
    let p = kann_plot::median_comparison(
        run,
        "fig3_medians",
        &MedianComparisonFigure {
            title: &title,
            series: &series,
            time: None,
            x_label: "t",
            y_label: "amplitude",
        },
    )?;
    figure_file(
        run,
        &p,
        "Fig. 3 (left): medians with MAD of normal and anomalous beats and of their reconstructions",
    )
}

/// The σ(n) intervals of the redrawn batches (`--bootstrap`) as vertical bars just right of
/// the curves' end `t = n`, in the curves' order (H B, PCA-5, Koopman-5, random mean): the bar's
/// `x` (twice, for a two-point curve) and `[low, high]`.
fn end_bars(n: usize, ci: &SilhouetteIntervals) -> [([f64; 2], [f64; 2]); 4] {
    let cis = [
        ci.sigma_ci,
        ci.sigma_pca_ci,
        ci.sigma_koopman_ci,
        ci.sigma_random_mean_ci,
    ];
    std::array::from_fn(|j| {
        let x = n as f64 + 2.0 * (j + 1) as f64;
        ([x, x], cis[j])
    })
}

/// The legend names of Fig. 3 right's four curves (H B, PCA-5, Koopman-5, random mean), each
/// with its σ(n) interval when `intervals` are given, and the legend name of the bars.
fn silhouette_labels(
    c: &SilhouetteCurves,
    intervals: Option<&SilhouetteIntervals>,
) -> ([String; 4], Option<String>) {
    let n = c.sigma.len();
    let mut names = [
        "σ (H B)".to_string(),
        "σ_PCA (5 principal components)".to_string(),
        "σ_Koopman (5 dominant eigenvectors)".to_string(),
        format!("5 random directions: mean ({} draws)", c.random_final.len()),
    ];
    let Some(ci) = intervals else {
        return (names, None);
    };
    for (name, (_, [lo, hi])) in names.iter_mut().zip(end_bars(n, ci)) {
        name.push_str(&format!("; σ({n}) [{lo:.3}, {hi:.3}]"));
    }
    let bar_name = format!(
        "bars right of t = {n}: {:.0}% intervals of σ({n}) over {} redrawn batches",
        100.0 * ci.level,
        ci.draws - ci.failed
    );
    (names, Some(bar_name))
}

/// Fig. 3 (right) with the random-direction band; with `intervals` (the redrawn batches of
/// `--bootstrap`), each curve's σ(n) interval as a bar right of `t = n` and in its legend entry.
pub fn fig3_silhouette(
    run: &Path,
    c: &SilhouetteCurves,
    normal: usize,
    anomalous: usize,
    intervals: Option<&SilhouetteIntervals>,
) -> Result<FigureFile> {
    let lower: Vec<f64> = c
        .random_mean
        .iter()
        .zip(&c.random_sd)
        .map(|(m, s)| m - s)
        .collect();
    let upper: Vec<f64> = c
        .random_mean
        .iter()
        .zip(&c.random_sd)
        .map(|(m, s)| m + s)
        .collect();
    let n = c.sigma.len();
    let bars = intervals.map(|ci| end_bars(n, ci));
    let (names, bar_name) = silhouette_labels(c, intervals);
    let colors = [Rgb::palette(0), Rgb::palette(1), Rgb::palette(2), Rgb::GRAY];
    let ys: [&[f64]; 4] = [&c.sigma, &c.pca, &c.koopman, &c.random_mean];
    let mut curves: Vec<Curve> = (0..4)
        .map(|j| Curve {
            color: Some(colors[j]),
            ..Curve::new(&names[j], ys[j])
        })
        .collect();
    if let Some(bars) = &bars {
        for (j, (x, y)) in bars.iter().enumerate() {
            curves.push(Curve {
                name: if j == 3 {
                    bar_name.as_deref().unwrap_or("")
                } else {
                    ""
                },
                x: Some(&x[..]),
                y: &y[..],
                color: Some(colors[j]),
            });
        }
    }
    let bands = [Band {
        name: "5 random directions: mean ± sd",
        lower: &lower,
        upper: &upper,
        color: Some(Rgb::GRAY),
    }];
    let title =
        format!("Cumulative silhouette σ(t) of {normal} normal vs {anomalous} anomalous beats");
    let p = kann_plot::silhouette_curves(
        run,
        "fig3_silhouette",
        &SilhouetteFigure {
            title: &title,
            curves: &curves,
            bands: &bands,
            x_label: "t",
            y_label: "silhouette score σ(t)",
            y_range: None,
        },
    )?;
    let mut caption = "Fig. 3 (right): cumulative silhouette of normal vs anomalous states on H B, PCA-5 and Koopman-5, with 5 random orthonormal directions (mean ± sd over draws) as the baseline".to_string();
    if let Some(b) = &bar_name {
        caption.push_str(&format!("; {b}"));
    }
    figure_file(run, &p, &caption)
}

/// Fig. 4 (right): loss histograms of the network, KANN and the trivial predictor.
pub fn fig4_histogram(
    run: &Path,
    losses: &Losses,
    a: &EcgAgreement,
    threshold: f64,
) -> Result<FigureFile> {
    let hist = [
        HistogramSeries {
            name: "network (h_T)",
            values: &losses.network,
            color: None,
        },
        HistogramSeries {
            name: "KANN (h_(T-1) B C Bᵀ)",
            values: &losses.kann,
            color: None,
        },
        HistogramSeries {
            name: "trivial (h_(T-1))",
            values: &losses.trivial,
            color: Some(Rgb::GRAY),
        },
    ];
    // The figure appends KANN's agreement to the title.
    let title = format!(
        "ECG, {} normal beats (trivial h_(T-1): {:.1}%)",
        a.beats,
        100.0 * a.trivial_agreement
    );
    let p = kann_plot::loss_histogram(
        run,
        "fig4_loss_histogram",
        &LossHistogramFigure {
            title: &title,
            series: &hist,
            bins: 40,
            threshold: Some(threshold),
            agreement: Some(a.agreement),
            agreement_ci: a.intervals.as_ref().map(|ci| ci.kann_ci),
            x_label: "summed L1 reconstruction loss",
        },
    )?;
    figure_file(
        run,
        &p,
        "Fig. 4 (right): histogram of the per-beat summed L1 loss, network vs KANN-predicted latent vs the trivial predictor h_(T-1), with the threshold",
    )
}

/// ROC of the network on all test beats with the threshold marked.
pub fn roc(run: &Path, fpr: &[f64], tpr: &[f64], t: &EcgThresholdAccuracy) -> Result<FigureFile> {
    let label = format!("threshold {}", t.threshold);
    let pt = [LabelledPoint {
        x: 1.0 - t.normal,
        y: t.anomalous,
        label: &label,
    }];
    let curves = [RocCurve {
        name: "network",
        fpr,
        tpr,
        auc: Some(t.roc_auc),
        color: None,
    }];
    let p = kann_plot::roc_curve(
        run,
        "roc",
        &RocFigure {
            title: "ECG anomaly detection by summed L1 loss (test beats)",
            curves: &curves,
            points: &pt,
        },
    )?;
    figure_file(
        run,
        &p,
        "ROC of 'anomalous iff loss >= t' on all test beats, the threshold marked",
    )
}
