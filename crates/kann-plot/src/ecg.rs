//! ECG figures: medians with median-absolute-deviation envelopes (Fig. 2, Fig. 3 left, App. B) and
//! silhouette curves (Fig. 3 right).

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::colors::Rgb;
use crate::common::{
    CAPTION_SIZE, DrawResult, Figure, FigurePaths, LABEL_SIZE, LEGEND_SIZE, PlotError, TICK_SIZE,
    check_finite, check_same_len, fmt_tick, font, invalid, padded_range, render, title_area,
};

/// A median over samples with its median absolute deviation, per time step.
#[derive(Clone, Copy, Debug)]
pub struct MedianSeries<'a> {
    /// Legend name, e.g. `"μ"`, `"μ_r"`, `"μ_58,59"`.
    pub name: &'a str,
    /// The median `mu(t)` per time step.
    pub median: &'a [f64],
    /// The median absolute deviation per time step (same length, `>= 0`); drawn as a translucent
    /// envelope `mu ± MAD`. `None` draws the median alone.
    pub mad: Option<&'a [f64]>,
    /// Line colour; `None` picks the figure's default.
    pub color: Option<Rgb>,
}

impl<'a> MedianSeries<'a> {
    /// A series with an envelope and the default colour.
    pub fn new(name: &'a str, median: &'a [f64], mad: Option<&'a [f64]>) -> Self {
        Self {
            name,
            median,
            mad,
            color: None,
        }
    }

    fn validate(&self, figure: &'static str, n: usize) -> Result<(), PlotError> {
        let what = format!("series {:?} median", self.name);
        check_finite(figure, &what, self.median)?;
        check_same_len(figure, &what, self.median.len(), "the time axis", n)?;
        if let Some(mad) = self.mad {
            let what = format!("series {:?} mad", self.name);
            check_finite(figure, &what, mad)?;
            check_same_len(figure, &what, mad.len(), "its median", self.median.len())?;
            if let Some((i, v)) = mad.iter().enumerate().find(|(_, v)| **v < 0.0) {
                return Err(invalid(figure, format!("{what}[{i}] = {v} is negative")));
            }
        }
        Ok(())
    }

    /// All values of the series and its envelope (for axis ranges).
    fn extent(&self) -> impl Iterator<Item = f64> + '_ {
        self.median.iter().enumerate().flat_map(move |(i, &m)| {
            let d = self.mad.map_or(0.0, |mad| mad[i]);
            [m - d, m + d]
        })
    }
}

/// A vertical dashed marker line with a label, e.g. `t = 3` labelled `"min t=3"`.
#[derive(Clone, Copy, Debug)]
pub struct TimeMarker<'a> {
    /// Position on the time axis (same units as the figure's time axis).
    pub t: f64,
    /// Label drawn next to the top of the line.
    pub label: &'a str,
}

/// One panel of [`median_panels`]: the median of the beats reconstructed from one component pair
/// (Eq. 11), with its markers.
#[derive(Clone, Copy, Debug)]
pub struct MedianPanel<'a> {
    /// The pair's median and MAD; its name is the panel caption (e.g. `"pair 58–59"`).
    pub series: MedianSeries<'a>,
    /// Vertical dashed marker lines.
    pub markers: &'a [TimeMarker<'a>],
    /// Other curves of the same panel drawn thin and translucent in the panel's colour behind
    /// its median (e.g. the medians under random sign patterns of the basis); may be empty.
    pub spread: &'a [&'a [f64]],
}

/// Input of [`median_panels`] (Fig. 2 and App. B).
#[derive(Clone, Debug)]
pub struct MedianPanelsFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The original beats' median `mu` (drawn purple in every panel unless coloured).
    pub original: MedianSeries<'a>,
    /// The reconstruction's median `mu_r` (drawn blue in every panel unless coloured).
    pub reconstruction: MedianSeries<'a>,
    /// One panel per component pair (default colours orange, green, red, brown, then the palette).
    pub panels: &'a [MedianPanel<'a>],
    /// The time axis; `None` uses `t = 1, ..., n` as in the paper.
    pub time: Option<&'a [f64]>,
    /// Number of panel columns (0 picks 2, or 1 for a single panel).
    pub columns: usize,
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
}

/// Default colours of the component-pair medians in Fig. 2.
const PANEL_COLORS: [Rgb; 4] = [Rgb::ORANGE, Rgb::GREEN, Rgb::RED, Rgb::BROWN];

/// Renders one panel per component pair (Fig. 2, App. B): in each, the original median `mu`
/// (purple) and the reconstruction median `mu_r` (blue), the pair's median with its MAD envelope
/// (filled, translucent) and dashed labelled marker lines. All panels share the y range.
/// Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn median_panels(
    dir: &Path,
    stem: &str,
    fig: &MedianPanelsFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl MedianPanelsFigure<'_> {
    fn n(&self) -> usize {
        self.original.median.len()
    }

    fn grid(&self) -> (usize, usize) {
        let cols = match self.columns {
            0 if self.panels.len() <= 1 => 1,
            0 => 2,
            c => c.min(self.panels.len().max(1)),
        };
        (self.panels.len().div_ceil(cols), cols)
    }
}

const MEDIAN_PANELS: &str = "median_panels";

impl Figure for MedianPanelsFigure<'_> {
    const NAME: &'static str = MEDIAN_PANELS;

    fn validate(&self) -> Result<(), PlotError> {
        let n = self.n();
        if self.panels.is_empty() {
            return Err(invalid(MEDIAN_PANELS, "no panels given"));
        }
        if let Some(t) = self.time {
            check_finite(MEDIAN_PANELS, "time", t)?;
        }
        let n_time = self.time.map_or(n, <[f64]>::len);
        self.original.validate(MEDIAN_PANELS, n_time)?;
        self.reconstruction.validate(MEDIAN_PANELS, n_time)?;
        for (k, p) in self.panels.iter().enumerate() {
            p.series.validate(MEDIAN_PANELS, n_time)?;
            for (c, curve) in p.spread.iter().enumerate() {
                let what = format!("panel {k} ({:?}) spread curve {c}", p.series.name);
                check_finite(MEDIAN_PANELS, &what, curve)?;
                check_same_len(MEDIAN_PANELS, &what, curve.len(), "the time axis", n_time)?;
            }
            if let Some(m) = p.markers.iter().find(|m| !m.t.is_finite()) {
                return Err(invalid(
                    MEDIAN_PANELS,
                    format!(
                        "panel {k} ({:?}): marker {:?} at t = {}",
                        p.series.name, m.label, m.t
                    ),
                ));
            }
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        let (rows, cols) = self.grid();
        Ok((cols as u32 * 720, 56 + 34 + rows as u32 * 430))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let orig = self.original.color.unwrap_or(Rgb::PURPLE);
        let rec = self.reconstruction.color.unwrap_or(Rgb::BLUE);
        // One legend row for all panels (the pair's own median is named by the panel caption).
        let (legend_row, area) = area.split_vertically(34);
        let mut items = vec![
            (
                self.original.name.to_string(),
                orig,
                false,
                self.original.mad.is_some(),
            ),
            (
                self.reconstruction.name.to_string(),
                rec,
                true,
                self.reconstruction.mad.is_some(),
            ),
        ];
        let first = self.panels[0].series.color.unwrap_or(PANEL_COLORS[0]);
        items.push((
            "pair median ± MAD (colour per panel)".to_string(),
            first,
            false,
            true,
        ));
        legend_row_draw(&legend_row, &items)?;
        let xs = time_axis(self.time, self.n());
        let x_range = padded_range(xs.iter().copied(), 0.0);
        let all = self
            .panels
            .iter()
            .flat_map(|p| {
                p.series
                    .extent()
                    .chain(p.spread.iter().flat_map(|c| c.iter().copied()))
            })
            .chain(self.original.extent())
            .chain(self.reconstruction.extent());
        let (y0, y1) = padded_range(all, 0.05);
        // Head room for the marker labels.
        let y_range = y0..(y1 + 0.08 * (y1 - y0));
        let cells = area.split_evenly(self.grid());
        for (k, (panel, cell)) in self.panels.iter().zip(cells.iter()).enumerate() {
            let color = panel
                .series
                .color
                .unwrap_or_else(|| PANEL_COLORS.get(k).copied().unwrap_or(Rgb::palette(k + 4)));
            let mut chart = ChartBuilder::on(cell)
                .caption(panel.series.name, font(CAPTION_SIZE))
                .margin(10)
                .margin_right(22)
                .x_label_area_size(46)
                .y_label_area_size(64)
                .build_cartesian_2d(x_range.0..x_range.1, y_range.clone())?;
            mesh(&mut chart, self.x_label, self.y_label, false)?;
            draw_median(&mut chart, &xs, &self.original, orig, false)?;
            draw_median(&mut chart, &xs, &self.reconstruction, rec, true)?;
            for curve in panel.spread {
                let line: Vec<(f64, f64)> = xs.iter().copied().zip(curve.iter().copied()).collect();
                chart.draw_series(LineSeries::new(line, color.rgb().mix(0.45).stroke_width(1)))?;
            }
            draw_median(&mut chart, &xs, &panel.series, color, false)?;
            for m in panel.markers {
                draw_marker(&mut chart, m, &x_range, &y_range)?;
            }
        }
        Ok(())
    }
}

/// A horizontal legend centred in `area`: per item a line sample (dashed or solid, with a band
/// when it has an envelope) and its name.
fn legend_row_draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, Rgb, bool, bool)],
) -> DrawResult {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let widths: Vec<i32> = items
        .iter()
        .map(|(name, ..)| crate::fonts::text_width(name, LEGEND_SIZE).map_or(120, |w| w as i32))
        .collect();
    let total: i32 = widths.iter().map(|w| w + 30 + 36).sum();
    let (w, h) = area.dim_in_pixel();
    let mut x = ((w as i32 - total) / 2).max(8);
    let y = h as i32 / 2;
    for ((name, color, dashed, band), tw) in items.iter().zip(widths) {
        let c = color.rgb();
        if *band {
            area.draw(&Rectangle::new(
                [(x, y - 7), (x + 26, y + 7)],
                c.mix(0.18).filled(),
            ))?;
        }
        if *dashed {
            for s in [0, 10, 20] {
                area.draw(&PathElement::new(
                    vec![(x + s, y), (x + s + 6, y)],
                    c.stroke_width(3),
                ))?;
            }
        } else {
            area.draw(&PathElement::new(
                vec![(x, y), (x + 26, y)],
                c.stroke_width(3),
            ))?;
        }
        area.draw(&Text::new(
            name.clone(),
            (x + 32, y),
            font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += tw + 30 + 36;
    }
    Ok(())
}

/// Input of [`median_comparison`] (Fig. 3 left).
#[derive(Clone, Debug)]
pub struct MedianComparisonFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The series (e.g. normal, normal reconstructed, anomalous, anomalous reconstructed); default
    /// colours follow the palette (blue, orange, green, red, ...).
    pub series: &'a [MedianSeries<'a>],
    /// The time axis; `None` uses `t = 1, ..., n`.
    pub time: Option<&'a [f64]>,
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
}

const MEDIAN_COMPARISON: &str = "median_comparison";

/// Renders the medians of several named series with their MAD envelopes on one axis (Fig. 3 left).
/// Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn median_comparison(
    dir: &Path,
    stem: &str,
    fig: &MedianComparisonFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for MedianComparisonFigure<'_> {
    const NAME: &'static str = MEDIAN_COMPARISON;

    fn validate(&self) -> Result<(), PlotError> {
        let Some(first) = self.series.first() else {
            return Err(invalid(MEDIAN_COMPARISON, "no series given"));
        };
        if let Some(t) = self.time {
            check_finite(MEDIAN_COMPARISON, "time", t)?;
        }
        let n = self.time.map_or(first.median.len(), <[f64]>::len);
        for s in self.series {
            s.validate(MEDIAN_COMPARISON, n)?;
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((960, 600))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let xs = time_axis(self.time, self.series[0].median.len());
        let x_range = padded_range(xs.iter().copied(), 0.0);
        let (y0, y1) = padded_range(self.series.iter().flat_map(|s| s.extent()), 0.05);
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(26)
            .x_label_area_size(50)
            .y_label_area_size(68)
            .build_cartesian_2d(x_range.0..x_range.1, y0..y1)?;
        mesh(&mut chart, self.x_label, self.y_label, false)?;
        for (k, s) in self.series.iter().enumerate() {
            draw_median(
                &mut chart,
                &xs,
                s,
                s.color.unwrap_or(Rgb::palette(k)),
                false,
            )?;
        }
        let pts = self
            .series
            .iter()
            .map(|s| xs.iter().copied().zip(s.median.iter().copied()).collect())
            .collect::<Vec<Vec<_>>>();
        legend(&mut chart, best_corner(&pts, &x_range, &(y0, y1)))?;
        Ok(())
    }
}

/// A named curve `y(x)`.
#[derive(Clone, Copy, Debug)]
pub struct Curve<'a> {
    /// Legend name, e.g. `"σ_Koopman"`.
    pub name: &'a str,
    /// X values; `None` uses `1, ..., n`.
    pub x: Option<&'a [f64]>,
    /// Y values.
    pub y: &'a [f64],
    /// Line colour; `None` follows the palette.
    pub color: Option<Rgb>,
}

impl<'a> Curve<'a> {
    /// A curve over `x = 1, ..., n` with the palette colour.
    pub fn new(name: &'a str, y: &'a [f64]) -> Self {
        Self {
            name,
            x: None,
            y,
            color: None,
        }
    }

    pub(crate) fn validate(&self, figure: &'static str) -> Result<(), PlotError> {
        check_finite(figure, &format!("curve {:?} y", self.name), self.y)?;
        if let Some(x) = self.x {
            let what = format!("curve {:?} x", self.name);
            check_finite(figure, &what, x)?;
            check_same_len(figure, &what, x.len(), "its y", self.y.len())?;
        }
        Ok(())
    }

    pub(crate) fn points(&self) -> Vec<(f64, f64)> {
        time_axis(self.x, self.y.len())
            .into_iter()
            .zip(self.y.iter().copied())
            .collect()
    }
}

/// A band `lower(x) ≤ y ≤ upper(x)` drawn translucent behind the curves, with a legend entry
/// (e.g. mean ± sd of a random baseline).
#[derive(Clone, Copy, Debug)]
pub struct Band<'a> {
    /// Legend name.
    pub name: &'a str,
    /// Lower edge over `x = 1, ..., n`.
    pub lower: &'a [f64],
    /// Upper edge (same length, `≥ lower`).
    pub upper: &'a [f64],
    /// Colour; `None` is grey.
    pub color: Option<Rgb>,
}

/// Input of [`silhouette_curves`] (Fig. 3 right).
#[derive(Clone, Debug)]
pub struct SilhouetteFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The curves, e.g. `σ`, `σ_PCA`, `σ_Koopman` over `t`.
    pub curves: &'a [Curve<'a>],
    /// Bands drawn behind the curves (e.g. a random baseline's mean ± sd); may be empty.
    pub bands: &'a [Band<'a>],
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
    /// Fixed y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
}

const SILHOUETTE: &str = "silhouette_curves";

/// Renders several named curves `sigma(t)` over `t` (Fig. 3 right: silhouette scores of the original,
/// PCA and Koopman embeddings). Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn silhouette_curves(
    dir: &Path,
    stem: &str,
    fig: &SilhouetteFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for SilhouetteFigure<'_> {
    const NAME: &'static str = SILHOUETTE;

    fn validate(&self) -> Result<(), PlotError> {
        if self.curves.is_empty() {
            return Err(invalid(SILHOUETTE, "no curves given"));
        }
        for c in self.curves {
            c.validate(SILHOUETTE)?;
        }
        for b in self.bands {
            let what = format!("band {:?} lower", b.name);
            check_finite(SILHOUETTE, &what, b.lower)?;
            check_finite(SILHOUETTE, &format!("band {:?} upper", b.name), b.upper)?;
            check_same_len(SILHOUETTE, &what, b.lower.len(), "its upper", b.upper.len())?;
            if let Some(i) = (0..b.lower.len()).find(|&i| b.lower[i] > b.upper[i]) {
                return Err(invalid(
                    SILHOUETTE,
                    format!(
                        "band {:?}: lower[{i}] = {} > upper[{i}] = {}",
                        b.name, b.lower[i], b.upper[i]
                    ),
                ));
            }
        }
        if let Some((lo, hi)) = self.y_range
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return Err(invalid(
                SILHOUETTE,
                format!("y_range ({lo}, {hi}) is not an interval"),
            ));
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((960, 600))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let lines: Vec<LineSpec> = self
            .curves
            .iter()
            .enumerate()
            .map(|(k, c)| LineSpec {
                name: c.name.to_string(),
                points: c.points(),
                color: c.color.unwrap_or(Rgb::palette(k)),
                dashed: false,
                markers: c.y.len() <= 40,
            })
            .collect();
        let bands: Vec<BandSpec> = self
            .bands
            .iter()
            .map(|b| BandSpec {
                name: b.name.to_string(),
                lower: time_axis(None, b.lower.len())
                    .into_iter()
                    .zip(b.lower.iter().copied())
                    .collect(),
                upper: b.upper.to_vec(),
                color: b.color.unwrap_or(Rgb::GRAY),
            })
            .collect();
        line_chart_with_bands(
            &area,
            "",
            self.x_label,
            self.y_label,
            &lines,
            &bands,
            self.y_range,
            false,
        )
    }
}

/// `t = 1, ..., n` or the given axis.
pub(crate) fn time_axis(time: Option<&[f64]>, n: usize) -> Vec<f64> {
    match time {
        Some(t) => t.to_vec(),
        None => (1..=n).map(|t| t as f64).collect(),
    }
}

pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Grid, axis labels and tick labels in the common style.
pub(crate) fn mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    x_label: &str,
    y_label: &str,
    integer_x: bool,
) -> DrawResult {
    let xr = chart.x_range();
    let yr = chart.y_range();
    let (dx, dy) = (xr.end - xr.start, yr.end - yr.start);
    let fx = move |v: &f64| {
        if integer_x && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            fmt_tick(*v, dx)
        }
    };
    let fy = move |v: &f64| fmt_tick(*v, dy);
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .axis_desc_style(font(LABEL_SIZE))
        .label_style(font(TICK_SIZE))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    Ok(())
}

/// A median line with its translucent MAD envelope, registered in the legend.
fn draw_median<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    xs: &[f64],
    s: &MedianSeries,
    color: Rgb,
    dashed: bool,
) -> DrawResult {
    let c = color.rgb();
    if let Some(mad) = s.mad {
        let upper = xs
            .iter()
            .zip(s.median)
            .zip(mad)
            .map(|((&x, &m), &d)| (x, m + d));
        let lower = xs
            .iter()
            .zip(s.median)
            .zip(mad)
            .map(|((&x, &m), &d)| (x, m - d));
        let mut poly: Vec<(f64, f64)> = upper.collect();
        poly.extend(lower.rev());
        chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
    }
    let line: Vec<(f64, f64)> = xs.iter().copied().zip(s.median.iter().copied()).collect();
    let style = c.stroke_width(if dashed { 2 } else { 3 });
    let anno = if dashed {
        chart.draw_series(DashedLineSeries::new(line, 9, 5, style))?
    } else {
        chart.draw_series(LineSeries::new(line, style))?
    };
    let label = if s.mad.is_some() {
        format!("{} ± MAD", s.name)
    } else {
        s.name.to_string()
    };
    let has_mad = s.mad.is_some();
    anno.label(label).legend(move |(x, y)| {
        let band = if has_mad { c.mix(0.18) } else { TRANSPARENT };
        EmptyElement::at((x, y))
            + Rectangle::new([(0, -6), (24, 6)], band.filled())
            + PathElement::new(vec![(0, 0), (24, 0)], style)
    });
    Ok(())
}

/// A dashed black vertical line with its label near the top.
fn draw_marker<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    m: &TimeMarker,
    x_range: &(f64, f64),
    y_range: &Range<f64>,
) -> DrawResult {
    chart.draw_series(DashedLineSeries::new(
        [(m.t, y_range.start), (m.t, y_range.end)],
        8,
        6,
        BLACK.stroke_width(2),
    ))?;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let right_side = (m.t - x_range.0) > 0.75 * (x_range.1 - x_range.0);
    let (dx, h) = if right_side {
        (-6, HPos::Right)
    } else {
        (6, HPos::Left)
    };
    chart.draw_series(std::iter::once(
        EmptyElement::at((m.t, y_range.end))
            + Text::new(
                m.label.to_string(),
                (dx, 6),
                font(LEGEND_SIZE).pos(Pos::new(h, VPos::Top)),
            ),
    ))?;
    Ok(())
}

/// A plain line for [`line_chart`].
pub(crate) struct LineSpec {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: Rgb,
    pub dashed: bool,
    pub markers: bool,
}

/// A translucent band for [`line_chart_with_bands`]: `lower` as points `(x, y)`, `upper` the
/// upper `y` at the same `x`.
pub(crate) struct BandSpec {
    pub name: String,
    pub lower: Vec<(f64, f64)>,
    pub upper: Vec<f64>,
    pub color: Rgb,
}

/// A chart of several lines with a legend in the emptiest corner.
pub(crate) fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_label: &str,
    y_label: &str,
    lines: &[LineSpec],
    y_range: Option<(f64, f64)>,
    integer_x: bool,
) -> DrawResult {
    line_chart_with_bands(
        area,
        caption,
        x_label,
        y_label,
        lines,
        &[],
        y_range,
        integer_x,
    )
}

/// [`line_chart`] with translucent bands behind the lines.
#[allow(clippy::too_many_arguments)]
pub(crate) fn line_chart_with_bands<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_label: &str,
    y_label: &str,
    lines: &[LineSpec],
    bands: &[BandSpec],
    y_range: Option<(f64, f64)>,
    integer_x: bool,
) -> DrawResult {
    let band_points = || {
        bands.iter().flat_map(|b| {
            b.lower
                .iter()
                .copied()
                .chain(b.lower.iter().zip(&b.upper).map(|(p, &u)| (p.0, u)))
        })
    };
    let all = || {
        lines
            .iter()
            .flat_map(|l| l.points.iter().copied())
            .chain(band_points())
    };
    let x_range = padded_range(all().map(|p| p.0), 0.02);
    let y_range = y_range.unwrap_or_else(|| padded_range(all().map(|p| p.1), 0.06));
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(14)
        .margin_right(26)
        .x_label_area_size(50)
        .y_label_area_size(72);
    if !caption.is_empty() {
        builder.caption(caption, font(CAPTION_SIZE));
    }
    let mut chart = builder.build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
    mesh(&mut chart, x_label, y_label, integer_x)?;
    for b in bands {
        let c = b.color.rgb();
        let mut poly: Vec<(f64, f64)> = b
            .lower
            .iter()
            .zip(&b.upper)
            .map(|(p, &u)| (p.0, u))
            .collect();
        poly.extend(b.lower.iter().rev().copied());
        chart
            .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.25).filled())))?
            .label(b.name.clone())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 24, y + 6)], c.mix(0.25).filled())
            });
    }
    for l in lines {
        let c = l.color.rgb();
        let style = c.stroke_width(3);
        let anno = if l.dashed {
            chart.draw_series(DashedLineSeries::new(l.points.clone(), 9, 6, style))?
        } else {
            chart.draw_series(LineSeries::new(l.points.clone(), style))?
        };
        // A line without a name (a later segment of a broken line) gets no legend entry.
        if !l.name.is_empty() {
            anno.label(l.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        if l.markers {
            chart.draw_series(l.points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
    }
    let mut pts: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.points.clone()).collect();
    for b in bands {
        pts.push(b.lower.clone());
        pts.push(
            b.lower
                .iter()
                .zip(&b.upper)
                .map(|(p, &u)| (p.0, u))
                .collect(),
        );
    }
    legend(&mut chart, best_corner(&pts, &x_range, &y_range))?;
    Ok(())
}

/// The legend box in the common style.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    pos: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(pos)
        .margin(12)
        .legend_area_size(30)
        .label_font(font(LEGEND_SIZE))
        .background_style(WHITE.mix(0.88))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

/// The legend position (a corner, or the middle of a side) whose box the polylines cross least, so
/// the legend hides little data. Segments are sampled densely, so steep lines count too.
pub(crate) fn best_corner(
    lines: &[Vec<(f64, f64)>],
    x: &(f64, f64),
    y: &(f64, f64),
) -> SeriesLabelPosition {
    let (xw, yh) = (x.1 - x.0, y.1 - y.0);
    let mut samples: Vec<(f64, f64)> = Vec::new();
    for line in lines {
        if let [p] = line.as_slice() {
            samples.push(((p.0 - x.0) / xw, (p.1 - y.0) / yh));
        }
        for w in line.windows(2) {
            let a = ((w[0].0 - x.0) / xw, (w[0].1 - y.0) / yh);
            let b = ((w[1].0 - x.0) / xw, (w[1].1 - y.0) / yh);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            let k = ((len / 0.005).ceil() as usize).clamp(1, 400);
            samples.extend((0..k).map(|i| {
                let f = i as f64 / k as f64;
                (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1))
            }));
        }
    }
    // Candidate boxes as (position, x interval, y interval) in axis fractions; corners first so
    // they win ties.
    let candidates = [
        (SeriesLabelPosition::UpperRight, (0.6, 1.0), (0.65, 1.0)),
        (SeriesLabelPosition::UpperLeft, (0.0, 0.4), (0.65, 1.0)),
        (SeriesLabelPosition::LowerRight, (0.6, 1.0), (0.0, 0.35)),
        (SeriesLabelPosition::LowerLeft, (0.0, 0.4), (0.0, 0.35)),
        (SeriesLabelPosition::MiddleRight, (0.6, 1.0), (0.3, 0.7)),
        (SeriesLabelPosition::MiddleLeft, (0.0, 0.4), (0.3, 0.7)),
        (SeriesLabelPosition::UpperMiddle, (0.3, 0.7), (0.65, 1.0)),
        (SeriesLabelPosition::LowerMiddle, (0.3, 0.7), (0.0, 0.35)),
    ];
    let count = |bx: (f64, f64), by: (f64, f64)| {
        samples
            .iter()
            .filter(|(fx, fy)| bx.0 <= *fx && *fx <= bx.1 && by.0 <= *fy && *fy <= by.1)
            .count()
    };
    candidates
        .into_iter()
        .map(|(p, bx, by)| (p, count(bx, by)))
        .min_by_key(|(_, c)| *c)
        .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_avoids_steep_lines() {
        // A steep dip in the lower left and a flat line at mid height: lower right is free.
        let dip = vec![(0.0, 0.5), (1.0, 0.0), (2.0, 0.5), (10.0, 0.5)];
        let marker = vec![(9.5, 0.0), (9.5, 1.0)];
        let pos = best_corner(std::slice::from_ref(&dip), &(0.0, 10.0), &(0.0, 1.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperRight), "{pos:?}");
        let pos = best_corner(&[dip, marker], &(0.0, 10.0), &(0.0, 1.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperLeft), "{pos:?}");
        // Lines along the top and the bottom: the middle right is free.
        let top = vec![(0.0, 0.9), (10.0, 0.9)];
        let bottom = vec![(0.0, 0.1), (10.0, 0.1)];
        let pos = best_corner(&[top, bottom], &(0.0, 10.0), &(0.0, 1.0));
        assert!(matches!(pos, SeriesLabelPosition::MiddleRight), "{pos:?}");
    }
}
