//! Every figure renders from synthetic input into a temporary folder: the PNG decodes with the
//! expected size and non-uniform pixels, text is really drawn, the SVG parses as XML and contains the
//! title; bad input gives clear errors and writes nothing.

use std::path::Path;

use kann_plot::*;

fn decode(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .to_rgb8()
}

/// Checks both files and returns the decoded PNG.
fn check(paths: &FigurePaths, size: (u32, u32), title: &str) -> image::RgbImage {
    assert!(paths.png.ends_with(paths.png.file_name().unwrap()));
    let img = decode(&paths.png);
    assert_eq!(img.dimensions(), size, "{}", paths.png.display());
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 20,
        "{}: only {} colours",
        paths.png.display(),
        colours.len()
    );

    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    let doc = roxmltree::Document::parse(&svg)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", paths.svg.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        texts.contains(title),
        "{} lacks title {title:?}",
        paths.svg.display()
    );

    // No temporary files are left behind.
    let dir = paths.png.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "leftover {name}");
    }
    img
}

/// The trimmed text runs of an SVG file.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

/// Number of dark pixels (text strokes) in a band of rows.
fn dark_pixels(img: &image::RgbImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = img.get_pixel(x, y).0;
            u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 200
        })
        .count()
}

fn sine(n: usize, phase: f64) -> Vec<f64> {
    (0..n).map(|t| (t as f64 / 9.0 + phase).sin()).collect()
}

fn eigenvalues() -> Vec<(f64, f64)> {
    let mut ev = vec![
        (0.9999, 0.0),
        (0.9965, 0.0),
        (0.9942, 0.0035),
        (0.9942, -0.0035),
    ];
    for k in 0..30 {
        let r = 0.3 + 0.02 * k as f64;
        let th = 0.2 * k as f64;
        ev.push((r * th.cos(), r * th.sin()));
        ev.push((r * th.cos(), -r * th.sin()));
    }
    ev.push((1.0, 0.0));
    ev
}

#[test]
fn spectrum_renders_and_text_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let ev = eigenvalues();
    let paths = spectrum(
        dir.path(),
        "spectrum",
        &SpectrumFigure::new("Spectrum test", &ev),
    )
    .unwrap();
    assert_eq!(paths.png, dir.path().join("spectrum.png"));
    assert_eq!(paths.svg, dir.path().join("spectrum.svg"));
    let img = check(&paths, (1700, 640), "Spectrum test");
    // The title band holds glyphs: text really renders with the bundled font.
    assert!(dark_pixels(&img, 0..40) > 200, "title not drawn");
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(svg.contains("λ1"), "dominant eigenvalue not labelled");
    assert!(svg.contains("τ = ∞"), "infinite horizon not shown");
    // The text-only variant draws the same SVG and writes nothing.
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    let text = spectrum_svg(&SpectrumFigure::new("Spectrum test", &ev)).unwrap();
    assert_eq!(text, svg, "spectrum_svg differs from the written SVG");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before);
    assert!(spectrum_svg(&SpectrumFigure::new("t", &[])).is_err());

    // Without the memory-horizon panel the figure is narrower.
    let fig = SpectrumFigure {
        epsilon: None,
        ..SpectrumFigure::new("Spectrum test", &ev)
    };
    let paths = spectrum(dir.path(), "spectrum_plain", &fig).unwrap();
    check(&paths, (1140, 640), "Spectrum test");
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(svg.contains("eigenvalues λ of C"), "default operator name");

    // The matrix is named in the first panel (a Jacobian's spectrum, `analyze fixed-points`).
    let fig = SpectrumFigure {
        operator: "J = dF/ds",
        ..SpectrumFigure::new("Spectrum test", &ev)
    };
    let paths = spectrum(dir.path(), "spectrum_jacobian", &fig).unwrap();
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(
        svg.contains("eigenvalues λ of J = dF/ds"),
        "operator name not drawn"
    );
    assert!(!svg.contains("λ of C"));
}

#[test]
fn word_highlight_renders_png_svg_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<String> = "what a mess of a movie ! a very mud ##dled plot & <phony> dialogue"
        .split_whitespace()
        .map(String::from)
        .collect();
    let scores: Vec<f64> = (0..tokens.len()).map(|i| (i % 5) as f64).collect();
    let text = HighlightedText {
        colormap: ColorMap::Reds,
        ..HighlightedText::new("Negative review", &tokens, &scores)
    };
    let paths = word_highlight(dir.path(), "words", &text).unwrap();
    let img = decode(&paths.png);
    check(&paths, img.dimensions(), "Negative review");
    assert_eq!(img.width(), 1100);
    // Joined word pieces appear as one word in the SVG text runs: "mud" and "dled" without "##".
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(svg.contains("dled") && !svg.contains("##"));

    let html =
        word_highlight_html(dir.path(), "words", "Page <title>", &[text.clone(), text]).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Page &lt;title&gt;"));
    assert!(page.contains("&lt;phony&gt;") && page.contains("&amp;"));
    assert!(!page.contains("<phony>"));
    assert_eq!(page.matches("<section>").count(), 2);
    assert!(page.contains("linear-gradient"));
}

#[test]
fn median_figures_render() {
    let dir = tempfile::tempdir().unwrap();
    let n = 140;
    let mu = sine(n, 0.0);
    let mu_r = sine(n, 0.05);
    let mad = vec![0.2; n];
    let pairs: Vec<Vec<f64>> = (0..4).map(|k| sine(n, k as f64)).collect();
    let markers = [TimeMarker {
        t: 3.0,
        label: "min t=3",
    }];
    let shifted = sine(n, 0.3);
    let spread: [&[f64]; 2] = [&mu_r, &shifted];
    let panels: Vec<MedianPanel> = pairs
        .iter()
        .map(|p| MedianPanel {
            series: MedianSeries::new("pair", p, Some(&mad)),
            markers: &markers,
            spread: &spread,
        })
        .collect();
    let fig = MedianPanelsFigure {
        title: "Median panels test",
        original: MedianSeries::new("μ", &mu, None),
        reconstruction: MedianSeries::new("μ_r", &mu_r, Some(&mad)),
        panels: &panels,
        time: None,
        columns: 0,
        x_label: "t",
        y_label: "amplitude",
    };
    let paths = median_panels(dir.path(), "panels", &fig).unwrap();
    check(&paths, (1440, 56 + 34 + 2 * 430), "Median panels test");
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(svg.contains("min t=3"));

    let series = [
        MedianSeries::new("normal", &mu, Some(&mad)),
        MedianSeries::new("anomalous", &mu_r, Some(&mad)),
    ];
    let fig = MedianComparisonFigure {
        title: "Comparison test",
        series: &series,
        time: None,
        x_label: "t",
        y_label: "amplitude",
    };
    check(
        &median_comparison(dir.path(), "cmp", &fig).unwrap(),
        (960, 600),
        "Comparison test",
    );

    let curves = [Curve::new("σ", &mu), Curve::new("σ_Koopman", &mu_r)];
    let lo: Vec<f64> = mu_r.iter().map(|v| v - 0.2).collect();
    let hi: Vec<f64> = mu_r.iter().map(|v| v + 0.2).collect();
    let bands = [Band {
        name: "random mean ± sd",
        lower: &lo,
        upper: &hi,
        color: None,
    }];
    let fig = SilhouetteFigure {
        title: "Silhouette test",
        curves: &curves,
        bands: &bands,
        x_label: "t",
        y_label: "σ(t)",
        y_range: None,
    };
    check(
        &silhouette_curves(dir.path(), "sil", &fig).unwrap(),
        (960, 600),
        "Silhouette test",
    );
}

#[test]
fn quality_figures_render() {
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        ConfusionCounts {
            name: "network",
            tp: 120,
            tn: 110,
            fp: 12,
            fn_: 9,
        },
        ConfusionCounts {
            name: "KANN",
            tp: 118,
            tn: 111,
            fp: 11,
            fn_: 10,
        },
    ];
    let fig = AgreementBarsFigure {
        title: "Bars test",
        sources: &sources,
        agreement: Some(0.9912),
        agreement_ci: None,
    };
    let paths = agreement_bars(dir.path(), "bars", &fig).unwrap();
    check(&paths, (900, 600), "Bars test — agreement 99.1%");
    let texts = svg_texts(&paths.svg);
    for count in ["120", "110", "12", "9", "118", "111", "11", "10"] {
        assert!(
            texts.iter().any(|t| t == count),
            "count {count} not on top of a bar"
        );
    }

    let net: Vec<f64> = (0..145).map(|i| 10.0 + (i % 13) as f64).collect();
    let kann: Vec<f64> = net.iter().map(|l| l + 1.5).collect();
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
    let fig = LossHistogramFigure {
        title: "Histogram test",
        series: &hist,
        bins: 30,
        threshold: Some(26.0),
        agreement: Some(0.979),
        agreement_ci: None,
        x_label: "loss",
    };
    check(
        &loss_histogram(dir.path(), "hist", &fig).unwrap(),
        (960, 600),
        "Histogram test — agreement 97.9%",
    );

    let fpr = [0.0, 0.1, 0.3, 1.0];
    let tpr = [0.0, 0.7, 0.9, 1.0];
    let roc = [RocCurve {
        name: "network",
        fpr: &fpr,
        tpr: &tpr,
        auc: None,
        color: None,
    }];
    // Trapezoid AUC of the points above.
    let auc = 0.1 * 0.35 + 0.2 * 0.8 + 0.7 * 0.95;
    assert!((roc[0].area() - auc).abs() < 1e-12);
    let points = [LabelledPoint {
        x: 0.1,
        y: 0.7,
        label: "threshold 26",
    }];
    let fig = RocFigure {
        title: "ROC test",
        curves: &roc,
        points: &points,
    };
    let paths = roc_curve(dir.path(), "roc", &fig).unwrap();
    check(&paths, (760, 720), "ROC test");
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(svg.contains(&format!("AUC = {auc:.3}")));

    let l = [0.5, 0.3, 0.2];
    let a = [0.7, 0.8, 0.9];
    let series = [
        MetricSeries {
            metric: "loss",
            split: "train",
            epochs: None,
            values: &l,
        },
        MetricSeries {
            metric: "accuracy",
            split: "train",
            epochs: None,
            values: &a,
        },
        MetricSeries {
            metric: "accuracy",
            split: "valid",
            epochs: None,
            values: &l,
        },
    ];
    let fig = TrainingCurvesFigure {
        title: "Training test",
        series: &series,
    };
    check(
        &training_curves(dir.path(), "train", &fig).unwrap(),
        (1320, 540),
        "Training test",
    );
}

/// Asserts an invalid-input error whose message mentions `needle`, and that nothing was written.
fn assert_invalid<T: std::fmt::Debug>(dir: &Path, r: Result<T, PlotError>, needle: &str) {
    match r {
        Err(e @ PlotError::InvalidInput { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
        }
        other => panic!("expected InvalidInput mentioning {needle:?}, got {other:?}"),
    }
    let written = std::fs::read_dir(dir).map_or(0, |d| d.count());
    assert_eq!(written, 0, "files written for bad input");
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let ev = [(0.5, f64::NAN)];
    assert_invalid(
        d,
        spectrum(d, "s", &SpectrumFigure::new("t", &ev)),
        "eigenvalues[0]",
    );
    assert_invalid(
        d,
        spectrum(d, "s", &SpectrumFigure::new("t", &[])),
        "eigenvalues is empty",
    );
    let ev = [(0.5, 0.1)];
    let fig = SpectrumFigure {
        epsilon: Some(2.0),
        ..SpectrumFigure::new("t", &ev)
    };
    assert_invalid(d, spectrum(d, "s", &fig), "epsilon");
    assert_invalid(
        d,
        spectrum(d, "../escape", &SpectrumFigure::new("t", &ev)),
        "file stem",
    );

    let tokens: Vec<String> = vec!["a".into(), "b".into()];
    assert_invalid(
        d,
        word_highlight(d, "w", &HighlightedText::new("r", &tokens, &[1.0])),
        "2 tokens but 1 scores",
    );
    assert_invalid(
        d,
        word_highlight(
            d,
            "w",
            &HighlightedText::new("r", &tokens, &[1.0, f64::NAN]),
        ),
        "scores[1]",
    );
    assert_invalid(
        d,
        word_highlight(d, "w", &HighlightedText::new("r", &tokens, &[1.0, -1.0])),
        "scores[1]",
    );
    assert_invalid(
        d,
        word_highlight(d, "w", &HighlightedText::new("r", &[], &[])),
        "tokens is empty",
    );
    assert_invalid(d, word_highlight_html(d, "w", "p", &[]), "no reviews");

    let mu = [0.0, 1.0, 2.0];
    let short = [0.0, 1.0];
    let nan = [0.0, f64::NAN, 1.0];
    let panel = [MedianPanel {
        series: MedianSeries::new("pair 1-2", &short, None),
        markers: &[],
        spread: &[],
    }];
    let fig = MedianPanelsFigure {
        title: "t",
        original: MedianSeries::new("μ", &mu, None),
        reconstruction: MedianSeries::new("μ_r", &mu, None),
        panels: &panel,
        time: None,
        columns: 0,
        x_label: "t",
        y_label: "y",
    };
    assert_invalid(
        d,
        median_panels(d, "m", &fig),
        "\"pair 1-2\" median has 2 values but the time axis has 3",
    );
    let fig = MedianPanelsFigure { panels: &[], ..fig };
    assert_invalid(d, median_panels(d, "m", &fig), "no panels");
    let series = [MedianSeries::new("normal", &mu, Some(&nan))];
    let fig = MedianComparisonFigure {
        title: "t",
        series: &series,
        time: None,
        x_label: "",
        y_label: "",
    };
    assert_invalid(
        d,
        median_comparison(d, "c", &fig),
        "\"normal\" mad[1] = NaN",
    );
    let fig = MedianComparisonFigure { series: &[], ..fig };
    assert_invalid(d, median_comparison(d, "c", &fig), "no series");
    let curves = [Curve {
        x: Some(&short),
        ..Curve::new("σ", &mu)
    }];
    let fig = SilhouetteFigure {
        title: "t",
        curves: &curves,
        bands: &[],
        x_label: "",
        y_label: "",
        y_range: None,
    };
    assert_invalid(
        d,
        silhouette_curves(d, "s", &fig),
        "has 2 values but its y has 3",
    );
    let curves = [Curve::new("σ", &[])];
    let fig = SilhouetteFigure {
        curves: &curves,
        ..fig
    };
    assert_invalid(d, silhouette_curves(d, "s", &fig), "\"σ\" y is empty");
    let curves = [Curve::new("σ", &mu)];
    let lower = [0.0, 2.0, 0.0];
    let bands = [Band {
        name: "random",
        lower: &lower,
        upper: &mu,
        color: None,
    }];
    let fig = SilhouetteFigure {
        curves: &curves,
        bands: &bands,
        ..fig
    };
    assert_invalid(
        d,
        silhouette_curves(d, "s", &fig),
        "band \"random\": lower[1] = 2 > upper[1] = 1",
    );
    let spread: [&[f64]; 1] = [&short];
    let panel = [MedianPanel {
        series: MedianSeries::new("pair 1-2", &mu, None),
        markers: &[],
        spread: &spread,
    }];
    let fig = MedianPanelsFigure {
        title: "t",
        original: MedianSeries::new("μ", &mu, None),
        reconstruction: MedianSeries::new("μ_r", &mu, None),
        panels: &panel,
        time: None,
        columns: 0,
        x_label: "t",
        y_label: "y",
    };
    assert_invalid(
        d,
        median_panels(d, "m", &fig),
        "spread curve 0 has 2 values but the time axis has 3",
    );

    let fig = AgreementBarsFigure {
        title: "t",
        sources: &[],
        agreement: None,
        agreement_ci: None,
    };
    assert_invalid(d, agreement_bars(d, "a", &fig), "no sources");
    let src = [ConfusionCounts {
        name: "n",
        tp: 1,
        tn: 1,
        fp: 0,
        fn_: 0,
    }];
    let fig = AgreementBarsFigure {
        title: "t",
        sources: &src,
        agreement: Some(99.0),
        agreement_ci: None,
    };
    assert_invalid(d, agreement_bars(d, "a", &fig), "fraction");
    // An interval is checked (ordered fractions) and shown after the agreement in the title.
    let fig = AgreementBarsFigure {
        title: "t",
        sources: &src,
        agreement: Some(0.95),
        agreement_ci: Some([0.97, 0.93]),
    };
    assert_invalid(d, agreement_bars(d, "a", &fig), "ordered fractions");
    let fig = AgreementBarsFigure {
        agreement_ci: Some([0.93, 0.97]),
        ..fig
    };
    let good = tempfile::tempdir().unwrap();
    let paths = agreement_bars(good.path(), "a_ci", &fig).unwrap();
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    assert!(
        svg.contains("agreement 95.0% [93.0, 97.0]"),
        "title without the interval"
    );
    let hist = [HistogramSeries {
        name: "KANN",
        values: &nan,
        color: None,
    }];
    let fig = LossHistogramFigure {
        title: "t",
        series: &hist,
        bins: 10,
        threshold: None,
        agreement: None,
        agreement_ci: None,
        x_label: "",
    };
    assert_invalid(d, loss_histogram(d, "h", &fig), "\"KANN\"[1] = NaN");
    let hist = [HistogramSeries {
        name: "KANN",
        values: &mu,
        color: None,
    }];
    let fig = LossHistogramFigure {
        series: &hist,
        bins: 0,
        ..fig
    };
    assert_invalid(d, loss_histogram(d, "h", &fig), "bins = 0");
    let roc = [RocCurve {
        name: "n",
        fpr: &[0.0, 1.0],
        tpr: &[0.0],
        auc: None,
        color: None,
    }];
    assert_invalid(
        d,
        roc_curve(
            d,
            "r",
            &RocFigure {
                title: "t",
                curves: &roc,
                points: &[],
            },
        ),
        "fpr has 2 values but tpr has 1",
    );
    let roc = [RocCurve {
        name: "n",
        fpr: &[0.0, 1.5],
        tpr: &[0.0, 1.0],
        auc: None,
        color: None,
    }];
    assert_invalid(
        d,
        roc_curve(
            d,
            "r",
            &RocFigure {
                title: "t",
                curves: &roc,
                points: &[],
            },
        ),
        "fpr[1] = 1.5",
    );
    let series = [MetricSeries {
        metric: "loss",
        split: "train",
        epochs: Some(&short),
        values: &mu,
    }];
    let fig = TrainingCurvesFigure {
        title: "t",
        series: &series,
    };
    assert_invalid(d, training_curves(d, "t", &fig), "train loss");
    let fig = TrainingCurvesFigure {
        title: "t",
        series: &[],
    };
    assert_invalid(d, training_curves(d, "t", &fig), "no series");
}

#[test]
fn output_replaces_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let ev = eigenvalues();
    std::fs::write(dir.path().join("s.png"), b"old").unwrap();
    let paths = spectrum(dir.path(), "s", &SpectrumFigure::new("Again", &ev)).unwrap();
    check(&paths, (1700, 640), "Again");
    // A missing nested folder is created.
    let nested = dir.path().join("a/b");
    let paths = spectrum(&nested, "s", &SpectrumFigure::new("Nested", &ev)).unwrap();
    check(&paths, (1700, 640), "Nested");
}

#[test]
fn degenerate_but_valid_inputs_render() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A single eigenvalue at 0 (tau = 0) and nothing above the threshold.
    let ev = [(0.0, 0.0)];
    check(
        &spectrum(d, "s0", &SpectrumFigure::new("Zero spectrum", &ev)).unwrap(),
        (1700, 640),
        "Zero spectrum",
    );
    // All scores zero: everything unshaded, no division by zero.
    let tokens: Vec<String> = vec!["flat".into(), "##ly".into(), "scored".into()];
    let h = HighlightedText::new("All zero", &tokens, &[0.0, 0.0, 0.0]);
    let p = word_highlight(d, "w0", &h).unwrap();
    check(&p, decode(&p.png).dimensions(), "All zero");
    // Constant single-point series.
    let one = [3.0];
    let curves = [Curve::new("flat", &one)];
    let fig = SilhouetteFigure {
        title: "Single point",
        curves: &curves,
        bands: &[],
        x_label: "t",
        y_label: "σ",
        y_range: None,
    };
    check(
        &silhouette_curves(d, "c0", &fig).unwrap(),
        (960, 600),
        "Single point",
    );
    // Identical values in a histogram, zero counts in the bars.
    let same = [5.0; 10];
    let hist = [HistogramSeries {
        name: "same",
        values: &same,
        color: None,
    }];
    let fig = LossHistogramFigure {
        title: "Constant",
        series: &hist,
        bins: 5,
        threshold: None,
        agreement: None,
        agreement_ci: None,
        x_label: "loss",
    };
    check(
        &loss_histogram(d, "h0", &fig).unwrap(),
        (960, 600),
        "Constant",
    );
    let src = [ConfusionCounts {
        name: "empty",
        tp: 0,
        tn: 0,
        fp: 0,
        fn_: 0,
    }];
    let fig = AgreementBarsFigure {
        title: "Zero counts",
        sources: &src,
        agreement: Some(1.0),
        agreement_ci: None,
    };
    check(
        &agreement_bars(d, "a0", &fig).unwrap(),
        (900, 600),
        "Zero counts — agreement 100.0%",
    );
}

#[test]
fn two_spectra_render_in_one_plane_and_bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let koopman = eigenvalues();
    let jac: Vec<(f64, f64)> = (0..40).map(|k| (0.9 + 0.0025 * k as f64, 0.0)).collect();
    let fig = SpectraFigure {
        title: "Spectra test",
        first: ("J", &jac),
        second: ("C", &koopman),
        zoom_from: 0.95,
    };
    let paths = spectra(dir.path(), "spectra", &fig).unwrap();
    check(&paths, (1240, 640), "Spectra test");
    let texts = svg_texts(&paths.svg);
    let slow_j = jac.iter().filter(|v| v.0 > 0.99).count();
    let near_j = jac.iter().filter(|v| v.0 >= 0.95).count();
    let near_c = koopman.iter().filter(|v| v.0.hypot(v.1) >= 0.95).count();
    assert!(
        texts
            .iter()
            .any(|t| t == &format!("J: 40 shown, {slow_j} with |λ| > 0.99")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("J: {near_j} shown"))),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("C: {near_c} shown"))),
        "{texts:?}"
    );
    let d = dir.path();
    for bad in [
        SpectraFigure {
            first: ("J", &[]),
            ..fig.clone()
        },
        SpectraFigure {
            second: ("C", &[(f64::NAN, 0.0)]),
            ..fig.clone()
        },
        SpectraFigure {
            zoom_from: 1.0,
            ..fig.clone()
        },
    ] {
        assert!(spectra(d, "bad", &bad).is_err());
    }
}
