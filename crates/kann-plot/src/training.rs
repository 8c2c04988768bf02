//! Figures of the Koopman probe during training (`analyze training`): the spectra of every probe
//! in one complex plane coloured by epoch, and panels of traces against epoch.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colors::Rgb;
use crate::common::{
    CAPTION_SIZE, DrawResult, Figure, FigurePaths, LABEL_SIZE, PlotError, TICK_SIZE,
    check_eigenvalues, check_zoom, fmt_tick, font, invalid, render, title_area,
};
use crate::ecg::{LineSpec, legend, line_chart};

const SPECTRA: &str = "training_spectra";
const TRACES: &str = "training_traces";

/// The eigenvalues of one probe.
#[derive(Clone, Copy, Debug)]
pub struct ProbeSpectrum<'a> {
    /// Training time of the probe in epochs (fractions for probes inside an epoch).
    pub epoch: f64,
    /// Eigenvalues `(re, im)`.
    pub eigenvalues: &'a [(f64, f64)],
}

/// Input of [`training_spectra`].
#[derive(Clone, Debug)]
pub struct TrainingSpectraFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// The probes, in training order.
    pub probes: &'a [ProbeSpectrum<'a>],
    /// The zoom panel shows `|λ| ≥ zoom_from`, near `λ = 1`.
    pub zoom_from: f64,
}

/// Renders every probe's eigenvalues in the complex plane, coloured from light (untrained) to
/// dark (last epoch), with the unit circle and the `|λ| = 0.99` circle; the second panel zooms
/// onto `|λ| ≥ zoom_from`. Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn training_spectra(
    dir: &Path,
    stem: &str,
    fig: &TrainingSpectraFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

/// The colour of training time `f ∈ [0, 1]`: a viridis-like ramp from yellow (start) through
/// teal to dark purple (end).
pub fn epoch_color(f: f64) -> Rgb {
    const STOPS: [(f64, f64, f64); 3] = [
        (253.0, 231.0, 37.0),
        (33.0, 145.0, 140.0),
        (68.0, 1.0, 84.0),
    ];
    let f = f.clamp(0.0, 1.0) * 2.0;
    let (a, b, t) = if f <= 1.0 {
        (STOPS[0], STOPS[1], f)
    } else {
        (STOPS[1], STOPS[2], f - 1.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl TrainingSpectraFigure<'_> {
    fn color(&self, epoch: f64) -> Rgb {
        let (lo, hi) = self
            .probes
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.epoch), h.max(p.epoch))
            });
        epoch_color(if hi > lo {
            (epoch - lo) / (hi - lo)
        } else {
            1.0
        })
    }

    /// The probes named in the legend: the first, the middle and the last.
    fn labelled(&self) -> Vec<usize> {
        let n = self.probes.len();
        let mut v = vec![0, n / 2, n - 1];
        v.dedup();
        v
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        x: (f64, f64),
        y: (f64, f64),
        keep: impl Fn(&(f64, f64)) -> bool,
    ) -> DrawResult {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, font(CAPTION_SIZE))
            .margin(12)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(66)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        let (xs, ys) = (x.1 - x.0, y.1 - y.0);
        chart
            .configure_mesh()
            .x_desc("Re λ")
            .y_desc("Im λ")
            .x_label_formatter(&|v| fmt_tick(*v, xs))
            .y_label_formatter(&|v| fmt_tick(*v, ys))
            .axis_desc_style(font(LABEL_SIZE))
            .label_style(font(TICK_SIZE))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        // The arc of radius r inside the panel, as one unbroken polyline: angles where the circle
        // lies right of x.0 and within the panel's height.
        let circle = |r: f64| {
            let right = if x.0 <= -r {
                std::f64::consts::PI
            } else {
                (x.0 / r).clamp(-1.0, 1.0).acos()
            };
            let up = if y.1 >= r {
                std::f64::consts::PI
            } else {
                (y.1 / r).clamp(-1.0, 1.0).asin()
            };
            let half = if y.1 >= r { right } else { right.min(up) };
            (0..=2880).map(move |k| {
                let t = -half + 2.0 * half * f64::from(k) / 2880.0;
                (r * t.cos(), r * t.sin())
            })
        };
        let inside = |p: &(f64, f64)| p.0 >= x.0 && p.0 <= x.1 && p.1 >= y.0 && p.1 <= y.1;
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(LineSeries::new(circle(1.0), grey.stroke_width(2)))?
            .label("|λ| = 1")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], grey.stroke_width(2))
            });
        let red = Rgb::RED.rgb();
        chart
            .draw_series(DashedLineSeries::new(
                circle(0.99),
                6,
                5,
                red.stroke_width(2),
            ))?
            .label("|λ| = 0.99")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], red.stroke_width(2)));
        let labelled = self.labelled();
        for (i, p) in self.probes.iter().enumerate() {
            let c = self.color(p.epoch).rgb();
            let series = chart.draw_series(
                p.eigenvalues
                    .iter()
                    .filter(|e| keep(e) && inside(e))
                    .map(|&e| Circle::new(e, 4, c.mix(0.85).filled())),
            )?;
            if labelled.contains(&i) {
                series
                    .label(format!("epoch {}", fmt_epoch(p.epoch)))
                    .legend(move |(x, y)| Circle::new((x + 11, y), 5, c.filled()));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// `3`, or `2.50` for a probe inside an epoch.
fn fmt_epoch(e: f64) -> String {
    if (e - e.round()).abs() < 1e-9 {
        format!("{}", e.round())
    } else {
        format!("{e:.2}")
    }
}

impl Figure for TrainingSpectraFigure<'_> {
    const NAME: &'static str = SPECTRA;

    fn validate(&self) -> Result<(), PlotError> {
        if self.probes.is_empty() {
            return Err(invalid(SPECTRA, "no probes given"));
        }
        for (i, p) in self.probes.iter().enumerate() {
            if !p.epoch.is_finite() {
                return Err(invalid(
                    SPECTRA,
                    format!("probe {i}: epoch {} is not finite", p.epoch),
                ));
            }
            check_eigenvalues(SPECTRA, &format!("probe {i}"), p.eigenvalues)?;
        }
        check_zoom(SPECTRA, self.zoom_from)
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((1240, 640))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let (plane, zoom) = area.split_horizontally(600);
        let all = || self.probes.iter().flat_map(|p| p.eigenvalues.iter());
        let r = all().map(|e| e.0.hypot(e.1)).fold(1.0f64, f64::max) * 1.08;
        self.draw_panel(
            &plane,
            "eigenvalues of every probe",
            (-r, r),
            (-r, r),
            |_| true,
        )?;
        let z = self.zoom_from;
        let near = |e: &(f64, f64)| e.0.hypot(e.1) >= z;
        let x_hi = all()
            .filter(|e| near(e))
            .map(|e| e.0)
            .fold(1.0f64, f64::max)
            + 0.005;
        let y_hi = all()
            .filter(|e| near(e))
            .map(|e| e.1.abs())
            .fold(0.02f64, f64::max)
            * 1.1;
        self.draw_panel(
            &zoom,
            &format!("zoom: |λ| ≥ {z}"),
            (z - 0.005, x_hi),
            (-y_hi, y_hi),
            near,
        )
    }
}

/// One line of a [`TracePanel`].
#[derive(Clone, Copy, Debug)]
pub struct TraceLine<'a> {
    /// Legend name.
    pub name: &'a str,
    /// Points `(epoch, value)`; non-finite values are left out (a gap).
    pub points: &'a [(f64, f64)],
    /// Dashed (a reference line) or solid.
    pub dashed: bool,
}

/// One panel of [`TrainingTracesFigure`].
#[derive(Clone, Copy, Debug)]
pub struct TracePanel<'a> {
    /// Caption above the panel.
    pub caption: &'a str,
    /// Y-axis label.
    pub y_label: &'a str,
    /// The lines (palette colours in order).
    pub lines: &'a [TraceLine<'a>],
    /// Fixed y range, or `None` to fit the data.
    pub y_range: Option<(f64, f64)>,
}

/// Input of [`training_traces`].
#[derive(Clone, Debug)]
pub struct TrainingTracesFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Panels, two per row.
    pub panels: &'a [TracePanel<'a>],
}

/// Renders panels of quantities against epoch (two per row; one panel alone fills the width). Writes `dir/<stem>.png` and
/// `dir/<stem>.svg`.
pub fn training_traces(
    dir: &Path,
    stem: &str,
    fig: &TrainingTracesFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for TrainingTracesFigure<'_> {
    const NAME: &'static str = TRACES;

    fn validate(&self) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(invalid(TRACES, "no panels given"));
        }
        for p in self.panels {
            let finite = p
                .lines
                .iter()
                .flat_map(|l| l.points.iter())
                .filter(|q| q.0.is_finite() && q.1.is_finite())
                .count();
            if finite == 0 {
                return Err(invalid(
                    TRACES,
                    format!("panel \"{}\": no finite point", p.caption),
                ));
            }
            if let Some((lo, hi)) = p.y_range
                && !(lo.is_finite() && hi.is_finite() && lo < hi)
            {
                return Err(invalid(
                    TRACES,
                    format!("panel \"{}\": y range {lo}..{hi}", p.caption),
                ));
            }
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        let cols = self.panels.len().min(2) as u32;
        let rows = self.panels.len().div_ceil(2) as u32;
        Ok((660 * cols, 56 + 460 * rows))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let rows = self.panels.len().div_ceil(2);
        let cells = area.split_evenly((rows, self.panels.len().min(2)));
        for (p, cell) in self.panels.iter().zip(cells.iter()) {
            // A non-finite value breaks its line into segments (no line across the gap); the
            // first segment carries the name.
            let mut lines: Vec<LineSpec> = Vec::new();
            for (k, l) in p.lines.iter().enumerate() {
                let color = if l.dashed { Rgb::GRAY } else { Rgb::palette(k) };
                let mut named = false;
                for seg in l.points.split(|q| !(q.0.is_finite() && q.1.is_finite())) {
                    if seg.is_empty() {
                        continue;
                    }
                    lines.push(LineSpec {
                        name: if named {
                            String::new()
                        } else {
                            l.name.to_string()
                        },
                        points: seg.to_vec(),
                        color,
                        dashed: l.dashed,
                        markers: l.points.len() <= 60,
                    });
                    named = true;
                }
            }
            // Epochs are labelled as whole numbers (probes between epochs still sit at their
            // fractional epoch).
            line_chart(cell, p.caption, "epoch", p.y_label, &lines, p.y_range, true)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_colours_run_from_yellow_to_purple() {
        assert_eq!(epoch_color(0.0), Rgb(253, 231, 37));
        assert_eq!(epoch_color(0.5), Rgb(33, 145, 140));
        assert_eq!(epoch_color(1.0), Rgb(68, 1, 84));
        assert_eq!(epoch_color(7.0), epoch_color(1.0));
    }

    #[test]
    fn both_figures_render_and_bad_input_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = [(0.5, 0.0), (0.9, 0.1), (0.9, -0.1)];
        let b = [(0.995, 0.0), (0.97, 0.05), (0.97, -0.05)];
        let probes = [
            ProbeSpectrum {
                epoch: 0.0,
                eigenvalues: &a,
            },
            ProbeSpectrum {
                epoch: 1.0,
                eigenvalues: &b,
            },
        ];
        let fig = TrainingSpectraFigure {
            title: "t",
            probes: &probes,
            zoom_from: 0.9,
        };
        let paths = training_spectra(dir.path(), "s", &fig).unwrap();
        assert!(paths.png.is_file() && paths.svg.is_file());
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)];
        let lines = [TraceLine {
            name: "x",
            points: &pts,
            dashed: false,
        }];
        let panels = [TracePanel {
            caption: "c",
            y_label: "y",
            lines: &lines,
            y_range: None,
        }];
        let traces = TrainingTracesFigure {
            title: "t",
            panels: &panels,
        };
        assert!(
            training_traces(dir.path(), "t", &traces)
                .unwrap()
                .png
                .is_file()
        );
        let nan = [(f64::NAN, 0.0)];
        let bad = [ProbeSpectrum {
            epoch: 1.0,
            eigenvalues: &nan,
        }];
        let err = training_spectra(
            dir.path(),
            "bad",
            &TrainingSpectraFigure {
                title: "t",
                probes: &bad,
                zoom_from: 0.9,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("probe 0: eigenvalue 0"), "{err}");
    }
}
