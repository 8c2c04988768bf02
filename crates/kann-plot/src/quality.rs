//! How well KANN reproduces the network (Fig. 4: agreement bars, loss histograms), ROC curves and
//! training curves.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colors::Rgb;
use crate::common::{
    DrawResult, Figure, FigurePaths, LEGEND_SIZE, PlotError, TICK_SIZE, bold, check_finite, font,
    invalid, render, title_area,
};
use crate::ecg::{Chart, Curve, LineSpec, best_corner, legend, line_chart, mesh};

/// Confusion counts of one source (the network, or KANN, Eq. 6) against the labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfusionCounts<'a> {
    /// Source name, e.g. `"network"` or `"KANN"`.
    pub name: &'a str,
    /// True positives.
    pub tp: u64,
    /// True negatives.
    pub tn: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
}

/// Input of [`agreement_bars`] (Fig. 4 left).
#[derive(Clone, Debug)]
pub struct AgreementBarsFigure<'a> {
    /// Title; the agreement is appended as `" — agreement 99.3%"`.
    pub title: &'a str,
    /// One entry per source (usually network and KANN); default colours blue, orange, ...
    pub sources: &'a [ConfusionCounts<'a>],
    /// Fraction in `[0, 1]` of samples on which KANN's class equals the network's (accuracy error,
    /// Sec. 4.3); `None` leaves it out of the title.
    pub agreement: Option<f64>,
    /// Its resampling interval (fractions), shown after it in the title.
    pub agreement_ci: Option<[f64; 2]>,
}

const AGREEMENT: &str = "agreement_bars";

/// Renders grouped bars TP / TN / FP / FN, one bar per source, with the counts on top and the
/// agreement in percent in the title (Fig. 4 left). Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn agreement_bars(
    dir: &Path,
    stem: &str,
    fig: &AgreementBarsFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

fn check_agreement(
    figure: &'static str,
    a: Option<f64>,
    ci: Option<[f64; 2]>,
) -> Result<(), PlotError> {
    match (a, ci) {
        (Some(a), _) if !(0.0..=1.0).contains(&a) => Err(invalid(
            figure,
            format!("agreement = {a} must be a fraction in [0, 1]"),
        )),
        (_, Some([lo, hi])) if !(0.0 <= lo && lo <= hi && hi <= 1.0) => Err(invalid(
            figure,
            format!("agreement interval [{lo}, {hi}] must be ordered fractions in [0, 1]"),
        )),
        _ => Ok(()),
    }
}

/// The title with the agreement in percent and, if given, its interval.
fn with_agreement(title: &str, a: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (a, ci) {
        (Some(a), Some([lo, hi])) => format!(
            "{title} — agreement {:.1}% [{:.1}, {:.1}]",
            100.0 * a,
            100.0 * lo,
            100.0 * hi
        ),
        (Some(a), None) => format!("{title} — agreement {:.1}%", 100.0 * a),
        (None, _) => title.to_string(),
    }
}

impl Figure for AgreementBarsFigure<'_> {
    const NAME: &'static str = AGREEMENT;

    fn validate(&self) -> Result<(), PlotError> {
        if self.sources.is_empty() {
            return Err(invalid(AGREEMENT, "no sources given"));
        }
        check_agreement(AGREEMENT, self.agreement, self.agreement_ci)
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((900, 600))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(
            root,
            &with_agreement(self.title, self.agreement, self.agreement_ci),
        )?;
        let cats = ["TP", "TN", "FP", "FN"];
        let value = |s: &ConfusionCounts, k: usize| [s.tp, s.tn, s.fp, s.fn_][k];
        let max = self
            .sources
            .iter()
            .flat_map(|s| (0..4).map(move |k| value(s, k)))
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(26)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..3.5f64, 0.0..max * 1.18)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(4)
            .x_label_formatter(&|v| {
                let k = v.round();
                if (v - k).abs() < 1e-6 && (0.0..4.0).contains(&k) {
                    cats[k as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| crate::common::fmt_tick(*v, max))
            .y_desc("number of samples")
            .axis_desc_style(font(18.0))
            .label_style(font(TICK_SIZE))
            .x_label_style(bold(17.0))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let m = self.sources.len() as f64;
        let group = 0.8;
        let bar = group / m;
        // The counts above the bars: at most LEGEND_SIZE, smaller where the widest would spill
        // over its bar (4 bars of 5-digit counts per category do at 900 px).
        let bar_px = f64::from(chart.plotting_area().dim_in_pixel().0) / 4.0 * bar;
        let count_size = crate::common::size_to_fit(
            &(max as u64).to_string(),
            (LEGEND_SIZE, 8.0),
            0.96 * bar_px,
            1.0,
        );
        for (j, s) in self.sources.iter().enumerate() {
            let c = Rgb::palette(j).rgb();
            let x_of = |k: usize| k as f64 - group / 2.0 + bar * j as f64;
            chart
                .draw_series((0..4).map(|k| {
                    let x = x_of(k);
                    Rectangle::new(
                        [(x + 0.02 * bar, 0.0), (x + 0.98 * bar, value(s, k) as f64)],
                        c.filled(),
                    )
                }))?
                .label(s.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 22, y + 7)], c.filled()));
            chart.draw_series((0..4).map(|k| {
                Text::new(
                    value(s, k).to_string(),
                    (x_of(k) + bar / 2.0, value(s, k) as f64 + max * 0.015),
                    font(count_size).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .margin(12)
            .label_font(font(LEGEND_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        Ok(())
    }
}

/// One histogram of [`loss_histogram`].
#[derive(Clone, Copy, Debug)]
pub struct HistogramSeries<'a> {
    /// Legend name, e.g. `"network"` or `"KANN"`.
    pub name: &'a str,
    /// The values (e.g. the summed L1 reconstruction loss per beat).
    pub values: &'a [f64],
    /// Bar colour; `None` follows the palette (blue, orange).
    pub color: Option<Rgb>,
}

/// Input of [`loss_histogram`] (Fig. 4 right).
#[derive(Clone, Debug)]
pub struct LossHistogramFigure<'a> {
    /// Title; the agreement is appended as `" — agreement 97.9%"`.
    pub title: &'a str,
    /// The histograms (usually network vs KANN), drawn translucent over shared bins.
    pub series: &'a [HistogramSeries<'a>],
    /// Number of bins spanning all values.
    pub bins: usize,
    /// The classification threshold (paper: 26), drawn as a dashed vertical line.
    pub threshold: Option<f64>,
    /// Fraction in `[0, 1]` of samples classified alike by both sources.
    pub agreement: Option<f64>,
    /// Its resampling interval (fractions), shown after it in the title.
    pub agreement_ci: Option<[f64; 2]>,
    /// X axis label, e.g. `"summed L1 loss"`.
    pub x_label: &'a str,
}

const HISTOGRAM: &str = "loss_histogram";

/// Renders overlaid translucent histograms with shared bins and a dashed vertical threshold line,
/// the agreement in percent in the title (Fig. 4 right). Writes `dir/<stem>.png` and
/// `dir/<stem>.svg`.
pub fn loss_histogram(
    dir: &Path,
    stem: &str,
    fig: &LossHistogramFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl LossHistogramFigure<'_> {
    /// Shared bin edges `(lo, width)` over all values and the threshold.
    fn bins_range(&self) -> (f64, f64) {
        let vals = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .chain(self.threshold);
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let span = if hi > lo { hi - lo } else { 1.0 };
        (lo, span * 1.000_001 / self.bins as f64)
    }

    fn counts(&self, values: &[f64]) -> Vec<u64> {
        let (lo, w) = self.bins_range();
        let mut c = vec![0u64; self.bins];
        for v in values {
            let k = (((v - lo) / w).floor().max(0.0) as usize).min(self.bins - 1);
            c[k] += 1;
        }
        c
    }
}

impl Figure for LossHistogramFigure<'_> {
    const NAME: &'static str = HISTOGRAM;

    fn validate(&self) -> Result<(), PlotError> {
        if self.series.is_empty() {
            return Err(invalid(HISTOGRAM, "no series given"));
        }
        for s in self.series {
            check_finite(HISTOGRAM, &format!("series {:?}", s.name), s.values)?;
        }
        if self.bins == 0 || self.bins > 10_000 {
            return Err(invalid(
                HISTOGRAM,
                format!("bins = {} must be in 1..=10000", self.bins),
            ));
        }
        if let Some(t) = self.threshold
            && !t.is_finite()
        {
            return Err(invalid(HISTOGRAM, format!("threshold = {t} is not finite")));
        }
        check_agreement(HISTOGRAM, self.agreement, self.agreement_ci)
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((960, 600))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(
            root,
            &with_agreement(self.title, self.agreement, self.agreement_ci),
        )?;
        let (lo, w) = self.bins_range();
        let hi = lo + w * self.bins as f64;
        let counts: Vec<Vec<u64>> = self.series.iter().map(|s| self.counts(s.values)).collect();
        let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let pad = 0.02 * (hi - lo);
        let x_range = (lo - pad, hi + pad);
        let y_range = (0.0, max * 1.12);
        let mut chart: Chart<'_, DB> = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(26)
            .x_label_area_size(50)
            .y_label_area_size(72)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
        mesh(&mut chart, self.x_label, "number of samples", false)?;
        let mut pts = Vec::new();
        for (j, (s, c)) in self.series.iter().zip(&counts).enumerate() {
            let color = s.color.unwrap_or(Rgb::palette(j)).rgb();
            chart
                .draw_series(
                    c.iter()
                        .enumerate()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, &n)| {
                            let x0 = lo + w * k as f64;
                            Rectangle::new(
                                [(x0, 0.0), (x0 + w, n as f64)],
                                color.mix(0.45).filled(),
                            )
                        }),
                )?
                .label(s.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 7), (x + 22, y + 7)], color.mix(0.45).filled())
                });
            // Outlines keep overlapping bars readable.
            chart.draw_series(
                c.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, &n)| {
                        let x0 = lo + w * k as f64;
                        Rectangle::new([(x0, 0.0), (x0 + w, n as f64)], color.stroke_width(1))
                    }),
            )?;
            // Each bar as a vertical segment from 0 to its count.
            pts.extend(
                c.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, &n)| {
                        let x = lo + w * (k as f64 + 0.5);
                        vec![(x, 0.0), (x, n as f64)]
                    }),
            );
        }
        if let Some(t) = self.threshold {
            chart
                .draw_series(DashedLineSeries::new(
                    [(t, 0.0), (t, y_range.1)],
                    9,
                    6,
                    BLACK.stroke_width(2),
                ))?
                .label(format!("threshold = {}", trim_float(t)))
                .legend(|(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (9, 0)], BLACK.stroke_width(2))
                        + PathElement::new(vec![(15, 0), (24, 0)], BLACK.stroke_width(2))
                });
            pts.push(vec![(t, 0.0), (t, y_range.1)]);
        }
        legend(&mut chart, best_corner(&pts, &x_range, &y_range))?;
        Ok(())
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A point with a label, e.g. the operating point of the chosen threshold on a ROC curve.
#[derive(Clone, Copy, Debug)]
pub struct LabelledPoint<'a> {
    /// X coordinate.
    pub x: f64,
    /// Y coordinate.
    pub y: f64,
    /// Label, e.g. `"threshold 26"`.
    pub label: &'a str,
}

/// One ROC curve.
#[derive(Clone, Copy, Debug)]
pub struct RocCurve<'a> {
    /// Legend name; the AUC is appended.
    pub name: &'a str,
    /// False positive rates in `[0, 1]`.
    pub fpr: &'a [f64],
    /// True positive rates in `[0, 1]`, same length.
    pub tpr: &'a [f64],
    /// Area under the curve; `None` computes it with the trapezoid rule over the points sorted by
    /// false positive rate.
    pub auc: Option<f64>,
    /// Line colour; `None` follows the palette.
    pub color: Option<Rgb>,
}

impl RocCurve<'_> {
    /// The given AUC or the trapezoid-rule area under the points (sorted by fpr, then tpr).
    pub fn area(&self) -> f64 {
        if let Some(a) = self.auc {
            return a;
        }
        let mut pts: Vec<(f64, f64)> = self
            .fpr
            .iter()
            .copied()
            .zip(self.tpr.iter().copied())
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        pts.windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum()
    }
}

/// Input of [`roc_curve`].
#[derive(Clone, Debug)]
pub struct RocFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The curves.
    pub curves: &'a [RocCurve<'a>],
    /// Marked operating points (e.g. the threshold chosen in training).
    pub points: &'a [LabelledPoint<'a>],
}

const ROC: &str = "roc_curve";

/// Renders ROC curves (true vs false positive rate) with their AUC in the legend, the chance
/// diagonal and labelled operating points (the ECG threshold report). Writes `dir/<stem>.png` and
/// `dir/<stem>.svg`.
pub fn roc_curve(dir: &Path, stem: &str, fig: &RocFigure) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for RocFigure<'_> {
    const NAME: &'static str = ROC;

    fn validate(&self) -> Result<(), PlotError> {
        if self.curves.is_empty() {
            return Err(invalid(ROC, "no curves given"));
        }
        for c in self.curves {
            for (what, v) in [("fpr", c.fpr), ("tpr", c.tpr)] {
                let what = format!("curve {:?} {what}", c.name);
                check_finite(ROC, &what, v)?;
                if let Some((i, x)) = v
                    .iter()
                    .enumerate()
                    .find(|(_, x)| !(0.0..=1.0).contains(*x))
                {
                    return Err(invalid(ROC, format!("{what}[{i}] = {x} is outside [0, 1]")));
                }
            }
            if c.fpr.len() != c.tpr.len() {
                return Err(invalid(
                    ROC,
                    format!(
                        "curve {:?}: fpr has {} values but tpr has {}",
                        c.name,
                        c.fpr.len(),
                        c.tpr.len()
                    ),
                ));
            }
            if let Some(a) = c.auc
                && !(0.0..=1.0).contains(&a)
            {
                return Err(invalid(
                    ROC,
                    format!("curve {:?}: auc = {a} is outside [0, 1]", c.name),
                ));
            }
        }
        if let Some(p) = self
            .points
            .iter()
            .find(|p| !(p.x.is_finite() && p.y.is_finite()))
        {
            return Err(invalid(
                ROC,
                format!("point {:?} at ({}, {}) is not finite", p.label, p.x, p.y),
            ));
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((760, 720))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let mut chart: Chart<'_, DB> = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.01f64..1.01, -0.01f64..1.01)?;
        mesh(
            &mut chart,
            "false positive rate",
            "true positive rate",
            false,
        )?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                8,
                6,
                RGBColor(140, 140, 140).stroke_width(2),
            ))?
            .label("chance (AUC = 0.5)")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    RGBColor(140, 140, 140).stroke_width(2),
                )
            });
        for (k, c) in self.curves.iter().enumerate() {
            let color = c.color.unwrap_or(Rgb::palette(k)).rgb();
            let mut pts: Vec<(f64, f64)> =
                c.fpr.iter().copied().zip(c.tpr.iter().copied()).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let style = color.stroke_width(3);
            chart
                .draw_series(LineSeries::new(pts, style))?
                .label(format!("{} (AUC = {:.3})", c.name, c.area()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        chart.draw_series(self.points.iter().map(|p| {
            EmptyElement::at((p.x, p.y))
                + Circle::new((0, 0), 6, BLACK.filled())
                + Text::new(
                    p.label.to_string(),
                    (10, 4),
                    font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
                )
        }))?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}

/// One metric of one split over epochs, e.g. the validation accuracy.
#[derive(Clone, Copy, Debug)]
pub struct MetricSeries<'a> {
    /// Metric name; one panel per distinct metric, e.g. `"loss"`, `"accuracy"`.
    pub metric: &'a str,
    /// Split name, e.g. `"train"`, `"valid"`, `"test"` (colours blue, orange, green).
    pub split: &'a str,
    /// Epoch numbers; `None` uses `1, ..., n`.
    pub epochs: Option<&'a [f64]>,
    /// One value per epoch.
    pub values: &'a [f64],
}

/// Input of [`training_curves`].
#[derive(Clone, Debug)]
pub struct TrainingCurvesFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The series; grouped into panels by metric (in order of first appearance).
    pub series: &'a [MetricSeries<'a>],
}

const TRAINING: &str = "training_curves";

/// Renders per-epoch metrics, one panel per metric (e.g. loss, accuracy) with one line per split.
/// Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn training_curves(
    dir: &Path,
    stem: &str,
    fig: &TrainingCurvesFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl TrainingCurvesFigure<'_> {
    fn metrics(&self) -> Vec<&str> {
        let mut m: Vec<&str> = Vec::new();
        for s in self.series {
            if !m.contains(&s.metric) {
                m.push(s.metric);
            }
        }
        m
    }
}

/// Rows and columns of panels: up to three per row.
fn grid(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 3);
    (n.div_ceil(cols).max(1), cols)
}

fn split_color(split: &str, k: usize) -> Rgb {
    match split.to_ascii_lowercase().as_str() {
        "train" | "training" => Rgb::BLUE,
        "valid" | "val" | "validation" => Rgb::ORANGE,
        "test" => Rgb::GREEN,
        _ => Rgb::palette(k + 3),
    }
}

impl Figure for TrainingCurvesFigure<'_> {
    const NAME: &'static str = TRAINING;

    fn validate(&self) -> Result<(), PlotError> {
        if self.series.is_empty() {
            return Err(invalid(TRAINING, "no series given"));
        }
        for s in self.series {
            Curve {
                name: &format!("{} {}", s.split, s.metric),
                x: s.epochs,
                y: s.values,
                color: None,
            }
            .validate(TRAINING)?;
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        let (rows, cols) = grid(self.metrics().len());
        Ok((660 * cols as u32, 56 + 484 * rows as u32))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let metrics = self.metrics();
        let cells = area.split_evenly(grid(metrics.len()));
        for (metric, cell) in metrics.iter().zip(cells.iter()) {
            let lines: Vec<LineSpec> = self
                .series
                .iter()
                .filter(|s| s.metric == *metric)
                .enumerate()
                .map(|(k, s)| {
                    let c = Curve {
                        name: s.split,
                        x: s.epochs,
                        y: s.values,
                        color: None,
                    };
                    LineSpec {
                        name: s.split.to_string(),
                        points: c.points(),
                        color: split_color(s.split, k),
                        dashed: false,
                        markers: s.values.len() <= 60,
                    }
                })
                .collect();
            line_chart(cell, metric, "epoch", metric, &lines, None, true)?;
        }
        Ok(())
    }
}
