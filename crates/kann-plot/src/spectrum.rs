//! The spectrum of the Koopman operator `C` (Eq. 4): eigenvalues in the complex plane and their memory
//! horizons (Eq. 9).

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colors::Rgb;
use crate::common::{
    CAPTION_SIZE, DrawResult, Figure, FigurePaths, LABEL_SIZE, LEGEND_SIZE, PlotError, TICK_SIZE,
    bold, check_eigenvalues, check_zoom, fmt_tick, font, invalid, render, render_svg, title_area,
};
use crate::fonts::text_width;

const NAME: &str = "spectrum";

/// Memory horizon of an eigenvalue with modulus `modulus` (Eq. 9):
/// `tau(epsilon) = log(epsilon) / log(|lambda|)`, the number of steps after which `|lambda|^tau =
/// epsilon`: [`kann_koopman::memory_horizon`] with no tolerance around 1, as `f64::INFINITY` for
/// `|lambda| >= 1` (no decay: infinite memory, or growth for `|lambda| > 1`) and `0` for
/// `lambda = 0`. `epsilon` must lie in (0, 1) (the figure checks it; outside, NaN).
pub fn memory_horizon(modulus: f64, epsilon: f64) -> f64 {
    let lambda = kann_koopman::faer::c64::new(modulus, 0.0);
    kann_koopman::memory_horizon(lambda, epsilon, 0.0)
        .map_or(f64::NAN, |h| h.tau.unwrap_or(f64::INFINITY))
}

/// Input of [`spectrum`]: the eigenvalues `lambda_j` of the Koopman operator `C`.
#[derive(Clone, Debug)]
pub struct SpectrumFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Eigenvalues as `(re, im)`. Labels use their 1-based position in this slice (`lambda_1`, ...),
    /// so pass them sorted by decreasing modulus to match the paper's numbering.
    pub eigenvalues: &'a [(f64, f64)],
    /// Eigenvalues with `|lambda| > label_threshold` are highlighted and labelled (paper: 0.99).
    pub label_threshold: f64,
    /// `epsilon` of the memory horizon panel (Eq. 9; paper: 0.01); `None` leaves the panel out.
    pub epsilon: Option<f64>,
    /// At most this many labelled eigenvalues are listed (the rest are counted).
    pub max_labels: usize,
    /// The matrix whose eigenvalues these are, as named in the first panel's caption (`C` for
    /// the Koopman operator; e.g. `J` for a Jacobian).
    pub operator: &'a str,
    /// Resampling intervals of some eigenvalues (issue #23; empty: none drawn): each labelled
    /// eigenvalue with one gets its λ box in the zoom, its `|λ|` interval in the list and as a
    /// bar in the memory-horizon panel.
    pub intervals: &'a [EigenBox],
    /// What the intervals are, for the legend (e.g. `95% bootstrap, 200 replicates`).
    pub interval_label: &'a str,
}

/// The resampling interval of one eigenvalue as [`SpectrumFigure`] draws it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EigenBox {
    /// Index of the eigenvalue in [`SpectrumFigure::eigenvalues`].
    pub index: usize,
    /// Percentile interval of `Re λ` over the replicates.
    pub re: [f64; 2],
    /// Percentile interval of `Im λ`.
    pub im: [f64; 2],
    /// Percentile interval of `|λ|`.
    pub modulus: [f64; 2],
}

impl<'a> SpectrumFigure<'a> {
    /// The paper's defaults: threshold 0.99, `epsilon = 0.01`, up to 10 labels.
    pub fn new(title: &'a str, eigenvalues: &'a [(f64, f64)]) -> Self {
        Self {
            title,
            eigenvalues,
            label_threshold: 0.99,
            epsilon: Some(0.01),
            max_labels: 10,
            operator: "C",
            intervals: &[],
            interval_label: "",
        }
    }

    /// The interval of eigenvalue `j`, if one is given.
    fn interval(&self, j: usize) -> Option<&EigenBox> {
        self.intervals.iter().find(|b| b.index == j)
    }

    fn modulus(&self, j: usize) -> f64 {
        let (re, im) = self.eigenvalues[j];
        re.hypot(im)
    }

    /// Indices of the labelled eigenvalues, by decreasing modulus.
    fn dominant(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.eigenvalues.len())
            .filter(|&j| self.modulus(j) > self.label_threshold)
            .collect();
        idx.sort_by(|&a, &b| self.modulus(b).total_cmp(&self.modulus(a)).then(a.cmp(&b)));
        idx
    }
}

/// Renders the spectrum figure: (1) all eigenvalues in the complex plane with the unit circle,
/// those with `|lambda| > label_threshold` in red; (2) a zoom onto the labelled eigenvalues with
/// their indices and a list of their values; (3) if `epsilon` is set, the memory horizon
/// `tau_j(epsilon)` (Eq. 9, log scale) against `|lambda_j|`, infinite horizons (`|lambda| >= 1`)
/// drawn as triangles on the top edge. Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn spectrum(dir: &Path, stem: &str, fig: &SpectrumFigure) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

/// The figure of [`spectrum`] as SVG text, writing no file (for a self-contained page such as
/// `analyze states --html`).
pub fn spectrum_svg(fig: &SpectrumFigure) -> Result<String, PlotError> {
    render_svg(fig)
}

impl Figure for SpectrumFigure<'_> {
    const NAME: &'static str = NAME;

    fn validate(&self) -> Result<(), PlotError> {
        if self.eigenvalues.is_empty() {
            return Err(invalid(NAME, "eigenvalues is empty"));
        }
        if let Some((j, v)) = self
            .eigenvalues
            .iter()
            .enumerate()
            .find(|(_, (re, im))| !re.is_finite() || !im.is_finite())
        {
            return Err(invalid(
                NAME,
                format!("eigenvalues[{j}] = {} + {}i is not finite", v.0, v.1),
            ));
        }
        if !(self.label_threshold.is_finite() && self.label_threshold >= 0.0) {
            return Err(invalid(
                NAME,
                format!(
                    "label_threshold = {} must be finite and >= 0",
                    self.label_threshold
                ),
            ));
        }
        if let Some(eps) = self.epsilon
            && !(eps > 0.0 && eps < 1.0)
        {
            return Err(invalid(NAME, format!("epsilon = {eps} must lie in (0, 1)")));
        }
        for b in self.intervals {
            let ends = [b.re, b.im, b.modulus];
            if b.index >= self.eigenvalues.len()
                || ends.iter().flatten().any(|v| !v.is_finite())
                || ends.iter().any(|[lo, hi]| lo > hi)
            {
                return Err(invalid(
                    NAME,
                    format!(
                        "interval of eigenvalue {} ({b:?}) is outside the {} eigenvalues or not an ordered finite pair",
                        b.index,
                        self.eigenvalues.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok(if self.epsilon.is_some() {
            (1700, 640)
        } else {
            (1140, 640)
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let (w, _) = area.dim_in_pixel();
        let dominant = self.dominant();
        let (plane, rest) = area.split_horizontally(570);
        self.draw_plane(&plane, &dominant)?;
        if self.epsilon.is_some() {
            let (zoom, horizon) = rest.split_horizontally(540.min(w.saturating_sub(570)));
            self.draw_zoom(&zoom, &dominant)?;
            self.draw_horizon(&horizon, &dominant)?;
        } else {
            self.draw_zoom(&rest, &dominant)?;
        }
        Ok(())
    }
}

impl SpectrumFigure<'_> {
    fn draw_plane<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        dominant: &[usize],
    ) -> DrawResult {
        let r = (0..self.eigenvalues.len())
            .map(|j| self.modulus(j))
            .fold(1.0f64, f64::max)
            * 1.08;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("eigenvalues λ of {}", self.operator),
                font(CAPTION_SIZE),
            )
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(62)
            .build_cartesian_2d(-r..r, -r..r)?;
        chart
            .configure_mesh()
            .x_desc("Re λ")
            .y_desc("Im λ")
            .x_label_formatter(&|v| fmt_tick(*v, 2.0 * r))
            .y_label_formatter(&|v| fmt_tick(*v, 2.0 * r))
            .axis_desc_style(font(LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                (0..=720).map(|k| {
                    let t = f64::from(k) / 720.0 * std::f64::consts::TAU;
                    (t.cos(), t.sin())
                }),
                RGBColor(90, 90, 90).stroke_width(2),
            ))?
            .label("unit circle |λ| = 1")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 22, y)],
                    RGBColor(90, 90, 90).stroke_width(2),
                )
            });
        let blue = Rgb::BLUE.rgb();
        let red = Rgb::RED.rgb();
        chart
            .draw_series(
                (0..self.eigenvalues.len())
                    .filter(|j| !dominant.contains(j))
                    .map(|j| Circle::new(self.eigenvalues[j], 3, blue.mix(0.75).filled())),
            )?
            .label(format!("|λ| ≤ {}", self.label_threshold))
            .legend(move |(x, y)| Circle::new((x + 11, y), 4, blue.filled()));
        chart
            .draw_series(
                dominant
                    .iter()
                    .map(|&j| Circle::new(self.eigenvalues[j], 5, red.filled())),
            )?
            .label(format!(
                "|λ| > {} ({})",
                self.label_threshold,
                dominant.len()
            ))
            .legend(move |(x, y)| Circle::new((x + 11, y), 5, red.filled()));
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    }

    fn draw_zoom<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        dominant: &[usize],
    ) -> DrawResult {
        let (_, h) = area.dim_in_pixel();
        if dominant.is_empty() {
            area.draw(&Text::new(
                format!("no eigenvalue with |λ| > {}", self.label_threshold),
                (30, (h / 2) as i32),
                font(CAPTION_SIZE),
            ))?;
            return Ok(());
        }
        let shown = &dominant[..dominant.len().min(self.max_labels.max(1))];
        let has_boxes = shown.iter().any(|&j| self.interval(j).is_some());
        let list_h = 34
            + 24 * (shown.len() as u32
                + u32::from(shown.len() < dominant.len())
                + u32::from(has_boxes));
        let (chart_area, list_area) = area.split_vertically(h.saturating_sub(list_h).max(200));

        // A square window around the labelled eigenvalues.
        let mut pts: Vec<(f64, f64)> = shown.iter().map(|&j| self.eigenvalues[j]).collect();
        for b in shown.iter().filter_map(|&j| self.interval(j)) {
            pts.extend([(b.re[0], b.im[0]), (b.re[1], b.im[1])]);
        }
        let (x0, x1) = min_max(pts.iter().map(|p| p.0));
        let (y0, y1) = min_max(pts.iter().map(|p| p.1));
        let half = ((x1 - x0).max(y1 - y0).max(2e-3)) * 0.75;
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let (xr, yr) = ((cx - half)..(cx + half), (cy - half)..(cy + half));
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(
                format!("zoom: |λ| > {}", self.label_threshold),
                font(CAPTION_SIZE),
            )
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(xr.clone(), yr.clone())?;
        chart
            .configure_mesh()
            .x_desc("Re λ")
            .y_desc("Im λ")
            .axis_desc_style(font(LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .x_labels(5)
            .y_labels(7)
            .x_label_formatter(&|v| fmt_tick(*v, 2.0 * half))
            .y_label_formatter(&|v| fmt_tick(*v, 2.0 * half))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        // The unit circle through the window, sampled densely and clipped to it.
        let inside = |p: &(f64, f64)| xr.contains(&p.0) && yr.contains(&p.1);
        let theta = cy.atan2(cx);
        let dtheta = (2.0 * half * 1.5).min(std::f64::consts::PI);
        let arc: Vec<(f64, f64)> = (0..=4000)
            .map(|k| {
                let t = theta - dtheta + 2.0 * dtheta * f64::from(k) / 4000.0;
                (t.cos(), t.sin())
            })
            .filter(inside)
            .collect();
        if arc.len() > 1 {
            chart.draw_series(LineSeries::new(arc, RGBColor(90, 90, 90).stroke_width(2)))?;
        }
        let red = Rgb::RED.rgb();
        let boxes: Vec<&EigenBox> = shown.iter().filter_map(|&j| self.interval(j)).collect();
        if !boxes.is_empty() {
            chart
                .draw_series(boxes.iter().map(|b| {
                    Rectangle::new(
                        [(b.re[0], b.im[0]), (b.re[1], b.im[1])],
                        red.mix(0.18).filled(),
                    )
                }))?
                .label(format!("λ box: {}", self.interval_label))
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 2, y - 6), (x + 20, y + 6)], red.mix(0.18).filled())
                });
            chart.draw_series(boxes.iter().map(|b| {
                Rectangle::new(
                    [(b.re[0], b.im[0]), (b.re[1], b.im[1])],
                    red.mix(0.6).stroke_width(1),
                )
            }))?;
        }
        chart.draw_series(
            shown
                .iter()
                .map(|&j| Circle::new(self.eigenvalues[j], 6, red.filled())),
        )?;
        // Labels: the first free slot around each point, so close eigenvalues stay readable.
        let mut boxes: Vec<(i32, i32, i32, i32)> = Vec::new();
        for &j in shown {
            let label = format!("λ{}", j + 1);
            let (px, py) = chart.backend_coord(&self.eigenvalues[j]);
            let w = text_width(&label, LABEL_SIZE).map_or(30, |w| w as i32 + 6);
            let h = 22;
            let mut candidates = vec![(9, -24), (9, 4), (-w - 9, -24), (-w - 9, 4)];
            for k in 1..12 {
                candidates.push((9, -24 - 24 * k));
                candidates.push((9, 4 + 24 * k));
            }
            let free = |dx: i32, dy: i32| {
                let (x0, y0) = (px + dx, py + dy);
                boxes
                    .iter()
                    .all(|&(a0, b0, a1, b1)| x0 + w <= a0 || a1 <= x0 || y0 + h <= b0 || b1 <= y0)
            };
            let (k, (dx, dy)) = candidates
                .iter()
                .copied()
                .enumerate()
                .find(|&(_, (dx, dy))| free(dx, dy))
                .unwrap_or((0, candidates[0]));
            boxes.push((px + dx, py + dy, px + dx + w, py + dy + h));
            let leader = if k >= 4 {
                vec![(0, 0), (dx + 2, dy + h / 2)]
            } else {
                vec![(0, 0), (0, 0)]
            };
            chart.draw_series(std::iter::once(
                EmptyElement::at(self.eigenvalues[j])
                    + PathElement::new(leader, RGBColor(120, 120, 120))
                    + Text::new(label, (dx + 3, dy), bold(LABEL_SIZE)),
            ))?;
        }

        // The list of values.
        let mut y = 12;
        list_area.draw(&Text::new(
            format!("eigenvalues with |λ| > {}:", self.label_threshold),
            (24, y),
            bold(LEGEND_SIZE),
        ))?;
        if has_boxes {
            y += 24;
            list_area.draw(&Text::new(
                format!("[|λ| interval], boxes: λ region; {}", self.interval_label),
                (24, y),
                font(LEGEND_SIZE),
            ))?;
        }
        y += 26;
        for &j in shown {
            let (re, im) = self.eigenvalues[j];
            let sign = if im < 0.0 { '−' } else { '+' };
            let mut line = format!(
                "λ{} = {re:.4} {sign} {:.4}i   |λ| = {:.4}",
                j + 1,
                im.abs(),
                self.modulus(j)
            );
            if let Some(b) = self.interval(j) {
                let _ = write!(line, " [{:.4}, {:.4}]", b.modulus[0], b.modulus[1]);
            }
            if let Some(eps) = self.epsilon {
                let tau = memory_horizon(self.modulus(j), eps);
                if tau.is_finite() {
                    let _ = write!(line, "   τ = {tau:.0}");
                } else {
                    line.push_str("   τ = ∞");
                }
            }
            list_area.draw(&Text::new(line, (24, y), font(LEGEND_SIZE)))?;
            y += 24;
        }
        if shown.len() < dominant.len() {
            list_area.draw(&Text::new(
                format!("… and {} more", dominant.len() - shown.len()),
                (24, y),
                font(LEGEND_SIZE),
            ))?;
        }
        Ok(())
    }

    fn draw_horizon<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        dominant: &[usize],
    ) -> DrawResult {
        let Some(eps) = self.epsilon else {
            return Ok(());
        };
        let n = self.eigenvalues.len();
        let taus: Vec<f64> = (0..n)
            .map(|j| memory_horizon(self.modulus(j), eps))
            .collect();
        let finite_pos = taus.iter().copied().filter(|t| t.is_finite() && *t > 0.0);
        let (lo, hi) = min_max(finite_pos);
        let (lo, hi) = if lo.is_finite() {
            (lo, hi)
        } else {
            (1.0, 10.0)
        };
        let y_lo = 10f64.powf((lo / 2.0).log10().floor());
        let y_hi = 10f64.powf((hi * 5.0).log10().ceil()).max(y_lo * 100.0);
        // Infinite horizons sit just below the top edge.
        let y_inf = y_hi / 1.6;
        let x_hi = (0..n).map(|j| self.modulus(j)).fold(1.0f64, f64::max) * 1.02;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("memory horizon τ(ε = {eps}), Eq. 9"),
                font(CAPTION_SIZE),
            )
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..x_hi, (y_lo..y_hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("|λ|")
            .y_desc("τ (steps, log scale)")
            .axis_desc_style(font(LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .y_label_formatter(&|v| format_log_tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let blue = Rgb::BLUE.rgb();
        let red = Rgb::RED.rgb();
        let orange = Rgb::ORANGE.rgb();
        let point = |j: usize| (self.modulus(j), taus[j].max(y_lo));
        chart
            .draw_series(
                (0..n)
                    .filter(|&j| taus[j].is_finite() && !dominant.contains(&j))
                    .map(|j| Circle::new(point(j), 3, blue.mix(0.75).filled())),
            )?
            .label("finite τ")
            .legend(move |(x, y)| Circle::new((x + 11, y), 4, blue.filled()));
        chart
            .draw_series(
                dominant
                    .iter()
                    .filter(|&&j| taus[j].is_finite())
                    .map(|&j| Circle::new(point(j), 5, red.filled())),
            )?
            .label(format!("|λ| > {}", self.label_threshold))
            .legend(move |(x, y)| Circle::new((x + 11, y), 5, red.filled()));
        chart.draw_series(DashedLineSeries::new(
            [(0.0, y_inf), (x_hi, y_inf)],
            6,
            5,
            orange.mix(0.6).stroke_width(1),
        ))?;
        chart
            .draw_series(
                (0..n)
                    .filter(|&j| !taus[j].is_finite())
                    .map(|j| TriangleMarker::new((self.modulus(j), y_inf), 8, orange.filled())),
            )?
            .label("τ = ∞ (|λ| ≥ 1)")
            .legend(move |(x, y)| TriangleMarker::new((x + 11, y), 7, orange.filled()));
        // Each interval of |λ| as a bar at its eigenvalue's height.
        let bars: Vec<(f64, [f64; 2])> = dominant
            .iter()
            .filter_map(|&j| {
                let b = self.interval(j)?;
                let y = if taus[j].is_finite() {
                    point(j).1
                } else {
                    y_inf
                };
                Some((y, b.modulus))
            })
            .collect();
        if !bars.is_empty() {
            chart
                .draw_series(bars.iter().map(|&(y, [lo, hi])| {
                    PathElement::new(vec![(lo, y), (hi, y)], red.mix(0.7).stroke_width(3))
                }))?
                .label(format!("|λ| interval: {}", self.interval_label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x + 2, y), (x + 20, y)], red.mix(0.7).stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

fn min_max(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Tick label of a log axis: powers of ten as `10^k`, others plainly.
fn format_log_tick(v: f64) -> String {
    let k = v.log10();
    if (k - k.round()).abs() < 1e-9 {
        match k.round() as i32 {
            0 => "1".into(),
            1 => "10".into(),
            2 => "100".into(),
            3 => "1000".into(),
            e => format!("1e{e}"),
        }
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_horizon_matches_eq_9() {
        // |lambda|^tau = epsilon.
        let tau = memory_horizon(0.9942, 0.01);
        assert!((0.9942f64.powf(tau) - 0.01).abs() < 1e-12);
        assert!(tau > 790.0 && tau < 800.0, "{tau}");
        assert_eq!(memory_horizon(1.0, 0.01), f64::INFINITY);
        assert_eq!(memory_horizon(1.2, 0.01), f64::INFINITY);
        assert_eq!(memory_horizon(0.0, 0.01), 0.0);
    }

    #[test]
    fn intervals_are_drawn_and_checked() {
        let ev = [(0.9995, 0.0), (0.995, 0.02), (0.995, -0.02), (0.5, 0.0)];
        let plain = SpectrumFigure::new("t", &ev);
        let boxes = [EigenBox {
            index: 1,
            re: [0.993, 0.997],
            im: [0.015, 0.025],
            modulus: [0.9935, 0.9972],
        }];
        let with = SpectrumFigure {
            intervals: &boxes,
            interval_label: "95% bootstrap, 200 replicates",
            ..plain.clone()
        };
        let (a, b) = (spectrum_svg(&plain).unwrap(), spectrum_svg(&with).unwrap());
        assert!(!a.contains("bootstrap") && b.contains("95% bootstrap, 200 replicates"));
        assert!(b.contains("[0.9935, 0.9972]"), "the |λ| interval is listed");
        let bad = [EigenBox {
            index: 9,
            ..boxes[0]
        }];
        let e = spectrum_svg(&SpectrumFigure {
            intervals: &bad,
            ..plain.clone()
        })
        .unwrap_err();
        assert!(e.to_string().contains("eigenvalue 9"), "{e}");
        let unordered = [EigenBox {
            modulus: [0.999, 0.99],
            ..boxes[0]
        }];
        assert!(
            spectrum_svg(&SpectrumFigure {
                intervals: &unordered,
                ..plain
            })
            .is_err()
        );
    }

    #[test]
    fn horizon_is_kann_koopmans_without_tolerance() {
        assert!((memory_horizon(0.9, 0.01) - 0.01f64.ln() / 0.9f64.ln()).abs() < 1e-12);
        assert!(memory_horizon(1.0 - 1e-12, 0.01).is_finite());
    }

    #[test]
    fn dominant_sorted_by_modulus() {
        let ev = [(0.5, 0.0), (0.9965, 0.0), (0.9999, 0.0), (0.2, 0.1)];
        let fig = SpectrumFigure::new("t", &ev);
        assert_eq!(fig.dominant(), vec![2, 1]);
    }
}

const SPECTRA_NAME: &str = "spectra";

/// Input of [`spectra`]: two spectra in one complex plane, e.g. the Jacobian `J = ∂F/∂s` of a
/// cell at a fixed point beside the Koopman operator `C` fitted on the same states.
#[derive(Clone, Debug)]
pub struct SpectraFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Name and eigenvalues `(re, im)` of the first spectrum (drawn as blue circles).
    pub first: (&'a str, &'a [(f64, f64)]),
    /// Name and eigenvalues of the second spectrum (drawn as red crosses).
    pub second: (&'a str, &'a [(f64, f64)]),
    /// The zoom panel shows `|λ| ≥ zoom_from` (e.g. 0.95): where the slow modes are.
    pub zoom_from: f64,
}

/// Renders two spectra over each other: (1) the complex plane with the unit circle; (2) a zoom
/// onto the eigenvalues with `|λ| ≥ zoom_from` near `λ = 1`, with how many of each lie there and
/// above 0.99. Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn spectra(dir: &Path, stem: &str, fig: &SpectraFigure) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for SpectraFigure<'_> {
    const NAME: &'static str = SPECTRA_NAME;

    fn validate(&self) -> Result<(), PlotError> {
        for (name, ev) in [self.first, self.second] {
            if ev.is_empty() {
                return Err(invalid(SPECTRA_NAME, format!("{name}: no eigenvalues")));
            }
            check_eigenvalues(SPECTRA_NAME, name, ev)?;
        }
        check_zoom(SPECTRA_NAME, self.zoom_from)
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((1240, 640))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let (plane, zoom) = area.split_horizontally(600);
        let modulus = |&(re, im): &(f64, f64)| re.hypot(im);
        let r = self
            .first
            .1
            .iter()
            .chain(self.second.1)
            .map(modulus)
            .fold(1.0f64, f64::max)
            * 1.08;
        self.draw_panel(&plane, "complex plane", (-r..r, -r..r), |_| true)?;
        // Zoom: the eigenvalues with |λ| ≥ zoom_from, framed around them and λ = 1.
        let near: Vec<(f64, f64)> = self
            .first
            .1
            .iter()
            .chain(self.second.1)
            .filter(|v| modulus(v) >= self.zoom_from)
            .copied()
            .collect();
        let (x0, x1) = near
            .iter()
            .map(|v| v.0)
            .chain([self.zoom_from, 1.0])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        let ymax = near
            .iter()
            .map(|v| v.1.abs())
            .fold(0.0f64, f64::max)
            .max(0.05 * (x1 - x0));
        let pad = 0.05 * (x1 - x0).max(1e-6);
        let zf = self.zoom_from;
        self.draw_panel(
            &zoom,
            &format!("zoom: |λ| ≥ {zf}"),
            ((x0 - pad)..(x1 + pad), (-1.15 * ymax)..(1.15 * ymax)),
            move |v| modulus(v) >= zf,
        )
    }
}

impl SpectraFigure<'_> {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        (xs, ys): (std::ops::Range<f64>, std::ops::Range<f64>),
        keep: impl Fn(&(f64, f64)) -> bool,
    ) -> DrawResult {
        let (xspan, yspan) = (xs.end - xs.start, ys.end - ys.start);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, font(CAPTION_SIZE))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(xs.clone(), ys.clone())?;
        chart
            .configure_mesh()
            .x_desc("Re λ")
            .y_desc("Im λ")
            .x_label_formatter(&|v| fmt_tick(*v, xspan))
            .y_label_formatter(&|v| fmt_tick(*v, yspan))
            .axis_desc_style(font(LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let gray = RGBColor(90, 90, 90);
        // The visible arcs of the unit circle, each drawn on its own: one polyline through all
        // visible points would join the arc leaving the panel to the arc entering it.
        let mut arcs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for k in 0..=2880 {
            let t = f64::from(k) / 2880.0 * std::f64::consts::TAU;
            let p = (t.cos(), t.sin());
            if xs.contains(&p.0) && ys.contains(&p.1) {
                arcs.last_mut().expect("one arc").push(p);
            } else if !arcs.last().expect("one arc").is_empty() {
                arcs.push(Vec::new());
            }
        }
        for arc in arcs.iter().skip(1).filter(|a| !a.is_empty()) {
            chart.draw_series(LineSeries::new(arc.iter().copied(), gray.stroke_width(2)))?;
        }
        chart
            .draw_series(LineSeries::new(
                arcs[0].iter().copied(),
                gray.stroke_width(2),
            ))?
            .label("unit circle |λ| = 1")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], gray.stroke_width(2))
            });
        let count = |ev: &[(f64, f64)]| {
            let shown = ev.iter().filter(|v| keep(v)).count();
            let slow = ev.iter().filter(|v| v.0.hypot(v.1) > 0.99).count();
            (shown, slow)
        };
        let blue = Rgb::BLUE.rgb();
        let red = Rgb::RED.rgb();
        let (n1, s1) = count(self.first.1);
        chart
            .draw_series(
                self.first
                    .1
                    .iter()
                    .filter(|v| keep(v))
                    .map(|&v| Circle::new(v, 4, blue.mix(0.8).filled())),
            )?
            .label(format!(
                "{}: {n1} shown, {s1} with |λ| > 0.99",
                self.first.0
            ))
            .legend(move |(x, y)| Circle::new((x + 11, y), 4, blue.filled()));
        let (n2, s2) = count(self.second.1);
        chart
            .draw_series(
                self.second
                    .1
                    .iter()
                    .filter(|v| keep(v))
                    .map(|&v| Cross::new(v, 6, red.stroke_width(2))),
            )?
            .label(format!(
                "{}: {n2} shown, {s2} with |λ| > 0.99",
                self.second.0
            ))
            .legend(move |(x, y)| Cross::new((x + 11, y), 6, red.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    }
}

/// The legend of every spectrum panel: at `position`, on a translucent white box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(LEGEND_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .draw()?;
    Ok(())
}
