//! App. A: a scatter of words, one point per word, with the most extreme words labelled (e.g.
//! the word's polarity in the training labels against the mean change of a projection at it).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colors::Rgb;
use crate::common::{
    DrawResult, Figure, FigurePaths, PlotError, check_finite, check_same_len, font, invalid,
    padded_range, render, title_area,
};

const NAME: &str = "word_scatter";

/// Input of [`word_scatter`].
#[derive(Clone, Debug)]
pub struct WordScatterFigure<'a> {
    /// Figure title.
    pub title: &'a str,
    /// Label of the horizontal axis.
    pub x_label: &'a str,
    /// Label of the vertical axis.
    pub y_label: &'a str,
    /// Horizontal coordinate of each point.
    pub x: &'a [f64],
    /// Vertical coordinate of each point (same length).
    pub y: &'a [f64],
    /// Points to label: `(index into x/y, text)`; drawn darker with the text beside them.
    pub labels: &'a [(usize, String)],
    /// A note drawn in the top-left corner of the plot, e.g. `"Spearman ρ = 0.61"`.
    pub note: &'a str,
}

/// Renders a scatter of points (light grey), the labelled ones dark with their text, and a
/// dashed zero line on both axes. Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn word_scatter(
    dir: &Path,
    stem: &str,
    fig: &WordScatterFigure,
) -> Result<FigurePaths, PlotError> {
    render(fig, dir, stem)
}

impl Figure for WordScatterFigure<'_> {
    const NAME: &'static str = NAME;

    fn validate(&self) -> Result<(), PlotError> {
        if self.x.is_empty() {
            return Err(invalid(NAME, "no points given"));
        }
        check_finite(NAME, "x", self.x)?;
        check_finite(NAME, "y", self.y)?;
        check_same_len(NAME, "x", self.x.len(), "y", self.y.len())?;
        if let Some((i, _)) = self.labels.iter().find(|(i, _)| *i >= self.x.len()) {
            return Err(invalid(
                NAME,
                format!("label index {i} is out of range ({} points)", self.x.len()),
            ));
        }
        Ok(())
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        Ok((1100, 820))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = title_area(root, self.title)?;
        let (x0, x1) = padded_range(self.x.iter().copied(), 0.08);
        let (y0, y1) = padded_range(self.y.iter().copied(), 0.08);
        let mut chart = ChartBuilder::on(&area)
            .margin(14)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(font(15.0))
            .axis_desc_style(font(17.0))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let zero = RGBColor(120, 120, 120).stroke_width(1);
        if x0 < 0.0 && x1 > 0.0 {
            chart.draw_series(DashedLineSeries::new([(0.0, y0), (0.0, y1)], 6, 5, zero))?;
        }
        if y0 < 0.0 && y1 > 0.0 {
            chart.draw_series(DashedLineSeries::new([(x0, 0.0), (x1, 0.0)], 6, 5, zero))?;
        }
        let grey = RGBColor(170, 170, 170);
        chart.draw_series(
            self.x
                .iter()
                .zip(self.y)
                .map(|(&x, &y)| Circle::new((x, y), 2, grey.filled())),
        )?;
        let dark = Rgb::BLUE.rgb();
        chart.draw_series(self.labels.iter().map(|(i, text)| {
            let (x, y) = (self.x[*i], self.y[*i]);
            let anchor = if x > (x0 + x1) / 2.0 {
                (Pos::new(HPos::Right, VPos::Center), -6)
            } else {
                (Pos::new(HPos::Left, VPos::Center), 6)
            };
            EmptyElement::at((x, y))
                + Circle::new((0, 0), 4, dark.filled())
                + Text::new(text.clone(), (anchor.1, 0), font(14.0).pos(anchor.0))
        }))?;
        let (px, py) = chart.backend_coord(&(x0, y1));
        area.draw(&Text::new(
            self.note.to_string(),
            (px + 10, py + 10),
            font(17.0).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg_and_rejects_bad_labels() {
        let dir = tempfile::tempdir().unwrap();
        let x = [-1.0, 0.0, 2.0];
        let y = [0.5, -0.2, 1.0];
        let labels = [(0, "awful".to_string()), (2, "great".to_string())];
        let fig = WordScatterFigure {
            title: "t",
            x_label: "polarity",
            y_label: "mean change",
            x: &x,
            y: &y,
            labels: &labels,
            note: "Spearman 0.5",
        };
        let p = word_scatter(dir.path(), "s", &fig).unwrap();
        assert!(p.png.is_file() && p.svg.is_file());
        let bad = [(3, "x".to_string())];
        let fig = WordScatterFigure {
            labels: &bad,
            ..fig
        };
        assert!(word_scatter(dir.path(), "s", &fig).is_err());
    }
}
