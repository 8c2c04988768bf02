//! Renders every figure of `kann-plot` from synthetic-but-plausible data into `/tmp/kann-gallery/`
//! (or the folder given as the first argument) for visual review:
//! `cargo run -p kann-plot --example gallery [-- <dir>]`.

use std::f64::consts::PI;
use std::path::PathBuf;

use kann_plot::*;

/// A small deterministic generator (SplitMix64) so the gallery needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
}

fn gauss(t: f64, c: f64, w: f64) -> f64 {
    (-((t - c) / w).powi(2)).exp()
}

/// A normal ECG5000-like beat over t = 1..=140.
fn beat(t: f64) -> f64 {
    -3.2 * gauss(t, 3.0, 3.0)
        + 0.9 * gauss(t, 55.0, 18.0)
        + 1.4 * gauss(t, 103.0, 10.0)
        + 0.6 * gauss(t, 133.0, 6.0)
        - 0.4
}

fn main() -> Result<(), PlotError> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("/tmp/kann-gallery"), PathBuf::from);
    let mut rng = Rng(7);
    let mut written: Vec<PathBuf> = Vec::new();

    // 1. Spectrum: the paper's four dominant eigenvalues, one on the unit circle, the rest inside.
    let mut ev = vec![
        (0.9999, 0.0),
        (0.9965, 0.0),
        (0.9942, 0.0035),
        (0.9942, -0.0035),
    ];
    for _ in 0..60 {
        let r = 0.97 * rng.uniform().sqrt();
        let th = PI * rng.uniform();
        ev.push((r * th.cos(), r * th.sin()));
        ev.push((r * th.cos(), -r * th.sin()));
    }
    ev.push((1.0, 0.0));
    ev.sort_by(|a, b| b.0.hypot(b.1).total_cmp(&a.0.hypot(a.1)));
    let p = spectrum(
        &dir,
        "spectrum",
        &SpectrumFigure::new("Koopman spectrum of the GRU states (IMDB)", &ev),
    )?;
    written.extend([p.png, p.svg]);

    // 2. Word highlight (Fig. 1).
    let review = "what a mess of a movie ! if it was nt for eric roberts and sus ##an sara ##ndon ' s \
                  performances , this movie would be a total waste ! a very mud ##dled plot and phony \
                  dialogue . eric roberts debut . where did his career go from this movie on ? now \
                  nowhere but down !";
    let tokens: Vec<String> = review.split_whitespace().map(String::from).collect();
    let negative = ["mess", "waste", "mud", "##dled", "phony", "nowhere", "down"];
    let mut level = 0.0f64;
    let scores: Vec<f64> = tokens
        .iter()
        .map(|t| {
            if negative.contains(&t.as_str()) {
                level += 1.0;
            } else {
                level *= 0.9;
            }
            level + 0.05 * rng.uniform()
        })
        .collect();
    let neg = HighlightedText {
        colormap: ColorMap::Reds,
        ..HighlightedText::new(
            "A negative review projected onto {u3, u4}",
            &tokens,
            &scores,
        )
    };
    let p = word_highlight(&dir, "word_highlight_negative", &neg)?;
    written.extend([p.png, p.svg]);
    let review2 = "watched this on k ##q ##ed , with frank baxter comment ##ing , as i recall . \
                   have never seen it since , but would like to find out where it is available . \
                   it is amazing how good something can be , but be in black and white , and have \
                   zero special effects . in fact , amazing how much better something like that is !";
    let tokens2: Vec<String> = review2.split_whitespace().map(String::from).collect();
    let positive = ["amazing", "special", "better", "good"];
    let mut level = 0.0f64;
    let scores2: Vec<f64> = tokens2
        .iter()
        .map(|t| {
            level = if positive.contains(&t.as_str()) {
                level + 0.8
            } else {
                level * 0.85
            };
            level
        })
        .collect();
    let pos = HighlightedText::new(
        "A positive review projected onto {u1, u2}",
        &tokens2,
        &scores2,
    );
    let p = word_highlight(&dir, "word_highlight_positive", &pos)?;
    written.extend([p.png, p.svg]);
    let review3 = "one of the actors is george clooney and i ' m not a fan but this roll is not bad . \
                   the actors are quite ok and the story goes terribly wrong .";
    let tokens3: Vec<String> = review3.split_whitespace().map(String::from).collect();
    let scores3: Vec<f64> = tokens3
        .windows(2)
        .map(|w| {
            if matches!(
                (w[0].as_str(), w[1].as_str()),
                ("not", "bad") | ("quite", "ok") | ("terribly", "wrong")
            ) {
                1.0
            } else {
                0.1
            }
        })
        .chain([0.1])
        .collect();
    let ctx = HighlightedText {
        colormap: ColorMap::Greens,
        ..HighlightedText::new(
            "A review with contextual information projected onto {u8}",
            &tokens3,
            &scores3,
        )
    };
    let p = word_highlight(&dir, "word_highlight_context", &ctx)?;
    written.extend([p.png, p.svg]);
    written.push(word_highlight_html(
        &dir,
        "word_highlight",
        "Fig. 1: reviews shaded by projection magnitude",
        &[pos.clone(), neg.clone(), ctx.clone()],
    )?);

    // 3. Median panels (Fig. 2).
    let n = 140;
    let t: Vec<f64> = (1..=n).map(|t| t as f64).collect();
    let mu: Vec<f64> = t.iter().map(|&t| beat(t)).collect();
    let mu_r: Vec<f64> = t
        .iter()
        .map(|&t| beat(t) + 0.04 * (t / 9.0).sin())
        .collect();
    let mad_mu: Vec<f64> = t.iter().map(|&t| 0.25 + 0.1 * gauss(t, 3.0, 6.0)).collect();
    let features = [
        (3.0, 4.0, -2.6),
        (55.0, 20.0, 0.8),
        (103.0, 10.0, 1.3),
        (133.0, 7.0, 0.55),
    ];
    let pair_medians: Vec<Vec<f64>> = features
        .iter()
        .map(|&(c, w, a)| t.iter().map(|&t| a * gauss(t, c, w) - 0.3).collect())
        .collect();
    let pair_mads: Vec<Vec<f64>> = features
        .iter()
        .map(|&(c, w, _)| t.iter().map(|&t| 0.12 + 0.25 * gauss(t, c, w)).collect())
        .collect();
    let markers = [
        vec![TimeMarker {
            t: 3.0,
            label: "min t=3",
        }],
        vec![
            TimeMarker {
                t: 35.0,
                label: "t=35",
            },
            TimeMarker {
                t: 75.0,
                label: "t=75",
            },
        ],
        vec![TimeMarker {
            t: 103.0,
            label: "max t=103",
        }],
        vec![TimeMarker {
            t: 133.0,
            label: "peak t=133",
        }],
    ];
    let names = ["pair 58–59", "pair 25–26", "pair 9–10", "pair 50–51"];
    let panels: Vec<MedianPanel> = (0..4)
        .map(|k| MedianPanel {
            series: MedianSeries::new(names[k], &pair_medians[k], Some(&pair_mads[k])),
            markers: &markers[k],
            spread: &[],
        })
        .collect();
    let p = median_panels(
        &dir,
        "median_panels",
        &MedianPanelsFigure {
            title: "Normal beats reconstructed from dominant Koopman pairs (Eq. 11)",
            original: MedianSeries::new("μ (original beats)", &mu, None),
            reconstruction: MedianSeries::new("μ_r (network reconstruction)", &mu_r, None),
            panels: &panels,
            time: None,
            columns: 0,
            x_label: "t",
            y_label: "amplitude",
        },
    )?;
    written.extend([p.png, p.svg]);

    // 4. Median comparison (Fig. 3 left).
    let an: Vec<f64> = t
        .iter()
        .map(|&t| -2.0 * gauss(t, 8.0, 6.0) + 0.6 * gauss(t, 70.0, 30.0) - 0.2 * (t / 20.0).cos())
        .collect();
    let an_r: Vec<f64> = an.iter().zip(&mu).map(|(a, m)| 0.7 * a + 0.3 * m).collect();
    let mad_an: Vec<f64> = t
        .iter()
        .map(|&t| 0.45 + 0.15 * (t / 15.0).sin().abs())
        .collect();
    let mad_r: Vec<f64> = mad_mu.iter().map(|m| m * 0.8).collect();
    let series = [
        MedianSeries {
            color: Some(Rgb::BLUE),
            ..MedianSeries::new("normal", &mu, Some(&mad_mu))
        },
        MedianSeries {
            color: Some(Rgb::GREEN),
            ..MedianSeries::new("normal reconstructed", &mu_r, Some(&mad_r))
        },
        MedianSeries {
            color: Some(Rgb::ORANGE),
            ..MedianSeries::new("anomalous", &an, Some(&mad_an))
        },
        MedianSeries {
            color: Some(Rgb::BROWN),
            ..MedianSeries::new("anomalous reconstructed", &an_r, Some(&mad_an))
        },
    ];
    let p = median_comparison(
        &dir,
        "median_comparison",
        &MedianComparisonFigure {
            title: "Medians of normal and anomalous beats and their reconstructions",
            series: &series,
            time: None,
            x_label: "t",
            y_label: "amplitude",
        },
    )?;
    written.extend([p.png, p.svg]);

    // 5. Silhouette curves (Fig. 3 right).
    let sig: Vec<f64> = t
        .iter()
        .map(|&t| 0.42 + 0.12 * (1.0 - (-t / 30.0).exp()))
        .collect();
    let sig_pca: Vec<f64> = t
        .iter()
        .map(|&t| 0.47 + 0.15 * (1.0 - (-t / 25.0).exp()))
        .collect();
    let sig_k: Vec<f64> = t
        .iter()
        .map(|&t| 0.05 + 0.06 * (1.0 - (-t / 40.0).exp()))
        .collect();
    let curves = [
        Curve::new("σ", &sig),
        Curve::new("σ_PCA", &sig_pca),
        Curve::new("σ_Koopman", &sig_k),
    ];
    let p = silhouette_curves(
        &dir,
        "silhouette",
        &SilhouetteFigure {
            title: "Silhouette score σ(t) of normal vs anomalous states",
            curves: &curves,
            bands: &[],
            x_label: "t",
            y_label: "silhouette score σ(t)",
            y_range: Some((0.0, 0.7)),
        },
    )?;
    written.extend([p.png, p.svg]);

    // 6. Agreement bars (Fig. 4 left).
    let sources = [
        ConfusionCounts {
            name: "network",
            tp: 10_912,
            tn: 10_870,
            fp: 1_630,
            fn_: 1_588,
        },
        ConfusionCounts {
            name: "KANN",
            tp: 10_880,
            tn: 10_905,
            fp: 1_595,
            fn_: 1_620,
        },
    ];
    let p = agreement_bars(
        &dir,
        "agreement_bars",
        &AgreementBarsFigure {
            title: "IMDB test set: network vs KANN",
            sources: &sources,
            agreement: Some(0.9934),
            agreement_ci: None,
        },
    )?;
    written.extend([p.png, p.svg]);

    // 7. Loss histogram (Fig. 4 right).
    let net: Vec<f64> = (0..145)
        .map(|i| {
            if i % 48 == 0 {
                88.0 + 4.0 * rng.normal()
            } else {
                (11.0 + 3.5 * rng.normal()).max(2.0)
            }
        })
        .collect();
    let kann: Vec<f64> = net.iter().map(|l| l + 1.5 + 0.8 * rng.normal()).collect();
    let hist = [
        HistogramSeries {
            name: "network",
            values: &net,
            color: None,
        },
        HistogramSeries {
            name: "KANN",
            values: &kann,
            color: None,
        },
    ];
    let p = loss_histogram(
        &dir,
        "loss_histogram",
        &LossHistogramFigure {
            title: "ECG normal test beats",
            series: &hist,
            bins: 40,
            threshold: Some(26.0),
            agreement: Some(0.979),
            agreement_ci: None,
            x_label: "summed L1 reconstruction loss",
        },
    )?;
    written.extend([p.png, p.svg]);

    // 8. ROC from synthetic loss scores: normal ~ 12, anomalous ~ 45.
    let normal: Vec<f64> = (0..300)
        .map(|_| (12.0 + 5.0 * rng.normal()).max(0.0))
        .collect();
    let anomalous: Vec<f64> = (0..200)
        .map(|_| (45.0 + 15.0 * rng.normal()).max(0.0))
        .collect();
    let (mut fpr, mut tpr) = (Vec::new(), Vec::new());
    for k in 0..=200 {
        let th = k as f64 * 0.5;
        fpr.push(normal.iter().filter(|&&l| l > th).count() as f64 / normal.len() as f64);
        tpr.push(anomalous.iter().filter(|&&l| l > th).count() as f64 / anomalous.len() as f64);
    }
    let fpr26 = normal.iter().filter(|&&l| l > 26.0).count() as f64 / normal.len() as f64;
    let tpr26 = anomalous.iter().filter(|&&l| l > 26.0).count() as f64 / anomalous.len() as f64;
    let roc = [RocCurve {
        name: "network",
        fpr: &fpr,
        tpr: &tpr,
        auc: None,
        color: None,
    }];
    let points = [LabelledPoint {
        x: fpr26,
        y: tpr26,
        label: "threshold 26",
    }];
    let p = roc_curve(
        &dir,
        "roc",
        &RocFigure {
            title: "ECG anomaly detection by reconstruction loss",
            curves: &roc,
            points: &points,
        },
    )?;
    written.extend([p.png, p.svg]);

    // 9. Training curves.
    let tl = [0.52, 0.33, 0.25, 0.2, 0.17];
    let vl = [0.41, 0.34, 0.32, 0.33, 0.35];
    let ta = [0.74, 0.86, 0.9, 0.92, 0.93];
    let va = [0.82, 0.86, 0.87, 0.87, 0.87];
    let metrics = [
        MetricSeries {
            metric: "loss",
            split: "train",
            epochs: None,
            values: &tl,
        },
        MetricSeries {
            metric: "loss",
            split: "valid",
            epochs: None,
            values: &vl,
        },
        MetricSeries {
            metric: "accuracy",
            split: "train",
            epochs: None,
            values: &ta,
        },
        MetricSeries {
            metric: "accuracy",
            split: "valid",
            epochs: None,
            values: &va,
        },
    ];
    let p = training_curves(
        &dir,
        "training_curves",
        &TrainingCurvesFigure {
            title: "GRU on IMDB: training",
            series: &metrics,
        },
    )?;
    written.extend([p.png, p.svg]);

    for path in &written {
        println!("{}", path.display());
    }
    Ok(())
}
