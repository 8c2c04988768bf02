//! Figures of a sweep over cells and seeds (`analyze compare`, paper App. C): the runs' spectra
//! overlaid per cell, and their key numbers side by side.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colors::Rgb;
use crate::common::{
    DrawResult, Figure, FigurePaths, PlotError, font, invalid, padded_range, render, title_area,
};

const SPECTRA_NAME: &str = "sweep_spectra";
const NUMBERS_NAME: &str = "sweep_numbers";

/// One run's slowest eigenvalues.
#[derive(Clone, Debug)]
pub struct RunSpectrum<'a> {
    /// Legend text (e.g. `"seed 1"`).
    pub label: String,
    /// Eigenvalues `(re, im)`.
    pub eigenvalues: &'a [(f64, f64)],
}

/// Input of [`sweep_spectra`]: one panel per group (cell), each with its runs.
#[derive(Clone, Debug)]
pub struct SweepSpectraFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// `(panel title, runs)`.
    pub panels: Vec<(String, Vec<RunSpectrum<'a>>)>,
}

/// Renders each group's runs over each other in the complex plane (one colour per run, the unit
/// circle for reference), zoomed onto the region the eigenvalues occupy. Writes
/// `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn sweep_spectra(
    dir: &Path,
    stem: &str,
    fig: &SweepSpectraFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for SweepSpectraFigure<'_> {
    const NAME: &'static str = SPECTRA_NAME;

    fn validate(&self) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(invalid(SPECTRA_NAME, "no groups given"));
        }
        for (name, runs) in &self.panels {
            if runs.iter().all(|r| r.eigenvalues.is_empty()) {
                return Err(invalid(SPECTRA_NAME, format!("{name}: no eigenvalues")));
            }
            for r in runs {
                if r.eigenvalues
                    .iter()
                    .any(|(a, b)| !a.is_finite() || !b.is_finite())
                {
                    return Err(invalid(
                        SPECTRA_NAME,
                        format!("{name}, {}: non-finite eigenvalue", r.label),
                    ));
                }
            }
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((560 * self.panels.len().max(1) as u32, 620))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let all = || {
            self.panels
                .iter()
                .flat_map(|(_, runs)| runs.iter().flat_map(|r| r.eigenvalues.iter()))
        };
        // One range for every panel, so the groups compare by eye; 1 is always in view.
        let (x0, x1) = padded_range(all().map(|e| e.0).chain([1.0]), 0.08);
        let (y0, y1) = padded_range(all().map(|e| e.1).chain([0.0]), 0.12);
        for ((name, runs), panel) in self
            .panels
            .iter()
            .zip(area.split_evenly((1, self.panels.len())))
        {
            let mut chart = ChartBuilder::on(&panel)
                .caption(name, font(19.0))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc("Re λ")
                .y_desc("Im λ")
                .label_style(font(14.0))
                .axis_desc_style(font(16.0))
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(218, 218, 218))
                .draw()?;
            let circle: Vec<(f64, f64)> = (0..=2000)
                .map(|i| {
                    let t = i as f64 / 2000.0 * std::f64::consts::TAU;
                    (t.cos(), t.sin())
                })
                .filter(|(x, y)| (x0..=x1).contains(x) && (y0..=y1).contains(y))
                .collect();
            chart
                .draw_series(
                    circle
                        .iter()
                        .map(|&p| Circle::new(p, 1, RGBColor(90, 90, 90))),
                )?
                .label("unit circle")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(90, 90, 90)));
            for (i, run) in runs.iter().enumerate() {
                let c = Rgb::palette(i).rgb();
                chart
                    .draw_series(
                        run.eigenvalues
                            .iter()
                            .map(move |&p| Cross::new(p, 5, c.stroke_width(2))),
                    )?
                    .label(format!(
                        "{} ({} eigenvalues)",
                        run.label,
                        run.eigenvalues.len()
                    ))
                    .legend(move |(x, y)| Cross::new((x + 8, y), 5, c.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .label_font(font(13.0))
                .draw()?;
        }
        Ok(())
    }
}

/// One number of every run: `(group index, label, value)`.
#[derive(Clone, Debug)]
pub struct SweepMetric {
    /// Panel title (e.g. `"e_rel"`).
    pub name: String,
    /// `(group index, value)` per run.
    pub values: Vec<(usize, f64)>,
}

/// Input of [`sweep_numbers`].
#[derive(Clone, Debug)]
pub struct SweepNumbersFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Group names (cells), the horizontal categories of every panel.
    pub groups: Vec<String>,
    /// One panel per number.
    pub metrics: Vec<SweepMetric>,
}

/// Renders one small panel per number: each run a dot above its group (seeds spread slightly
/// sideways), the group mean a bar. Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn sweep_numbers(
    dir: &Path,
    stem: &str,
    fig: &SweepNumbersFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl SweepNumbersFigure<'_> {
    fn grid(&self) -> (usize, usize) {
        let n = self.metrics.len().max(1);
        let cols = n.min(4);
        (n.div_ceil(cols), cols)
    }
}

impl Figure for SweepNumbersFigure<'_> {
    const NAME: &'static str = NUMBERS_NAME;

    fn validate(&self) -> Result<(), PlotError> {
        if self.groups.is_empty() || self.metrics.is_empty() {
            return Err(invalid(NUMBERS_NAME, "no groups or no numbers given"));
        }
        for m in &self.metrics {
            if let Some((g, v)) = m
                .values
                .iter()
                .find(|(g, v)| *g >= self.groups.len() || !v.is_finite())
            {
                return Err(invalid(
                    NUMBERS_NAME,
                    format!(
                        "{}: value {v} of group {g} is out of range or not finite",
                        m.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        let (rows, cols) = self.grid();
        Ok((330 * cols as u32, 60 + 300 * rows as u32))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let (rows, cols) = self.grid();
        let ng = self.groups.len();
        for (m, panel) in self.metrics.iter().zip(area.split_evenly((rows, cols))) {
            let (y0, y1) = if m.values.is_empty() {
                (0.0, 1.0)
            } else {
                padded_range(m.values.iter().map(|v| v.1), 0.15)
            };
            let mut chart = ChartBuilder::on(&panel)
                .caption(&m.name, font(16.0))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(55)
                .build_cartesian_2d(-0.5f64..ng as f64 - 0.5, y0..y1)?;
            let groups = self.groups.clone();
            chart
                .configure_mesh()
                .x_labels(ng)
                .x_label_formatter(&move |x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < groups.len() {
                        groups[i as usize].clone()
                    } else {
                        String::new()
                    }
                })
                .disable_x_mesh()
                .label_style(font(13.0))
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(220, 220, 220))
                .draw()?;
            for g in 0..ng {
                let vals: Vec<f64> = m
                    .values
                    .iter()
                    .filter(|(i, _)| *i == g)
                    .map(|v| v.1)
                    .collect();
                if vals.is_empty() {
                    continue;
                }
                let c = Rgb::palette(g).rgb();
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                chart.draw_series(std::iter::once(PathElement::new(
                    [(g as f64 - 0.3, mean), (g as f64 + 0.3, mean)],
                    c.stroke_width(3),
                )))?;
                let n = vals.len();
                chart.draw_series(vals.iter().enumerate().map(|(j, &v)| {
                    let dx = if n > 1 {
                        -0.15 + 0.3 * j as f64 / (n - 1) as f64
                    } else {
                        0.0
                    };
                    Circle::new((g as f64 + dx, v), 5, c.filled())
                }))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_figures_write_and_refuse_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let a = [(0.99, 0.0), (0.9, 0.1), (0.9, -0.1)];
        let b = [(0.98, 0.0), (0.7, 0.0)];
        let fig = SweepSpectraFigure {
            title: "t",
            panels: vec![(
                "gru".into(),
                vec![
                    RunSpectrum {
                        label: "seed 1".into(),
                        eigenvalues: &a,
                    },
                    RunSpectrum {
                        label: "seed 2".into(),
                        eigenvalues: &b,
                    },
                ],
            )],
        };
        let p = sweep_spectra(dir.path(), "s", &fig).unwrap();
        assert!(p.png.is_file() && p.svg.is_file());
        let nan = [(f64::NAN, 0.0)];
        let bad = SweepSpectraFigure {
            title: "t",
            panels: vec![(
                "gru".into(),
                vec![RunSpectrum {
                    label: "x".into(),
                    eigenvalues: &nan,
                }],
            )],
        };
        assert!(sweep_spectra(dir.path(), "s", &bad).is_err());

        let fig = SweepNumbersFigure {
            title: "t",
            groups: vec!["gru".into(), "lstm".into()],
            metrics: vec![SweepMetric {
                name: "e_rel".into(),
                values: vec![(0, 0.1), (0, 0.2), (1, 0.3)],
            }],
        };
        let p = sweep_numbers(dir.path(), "n", &fig).unwrap();
        assert!(p.png.is_file());
        let bad = SweepNumbersFigure {
            metrics: vec![SweepMetric {
                name: "x".into(),
                values: vec![(2, 0.1)],
            }],
            ..fig
        };
        assert!(sweep_numbers(dir.path(), "n", &bad).is_err());
    }
}
