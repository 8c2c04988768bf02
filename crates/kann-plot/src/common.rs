//! Errors, validation helpers and the atomic PNG + SVG writer shared by all figures.

use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;

use crate::fonts::ensure_fonts;

/// Errors of the figure functions. Bad input is reported with the figure, the series and the index
/// at fault; nothing panics on bad input.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The input data cannot be drawn (empty, non-finite, mismatched lengths, ...).
    #[error("{figure}: invalid input: {message}")]
    InvalidInput {
        /// The figure function that rejected the input.
        figure: &'static str,
        /// What is wrong, naming the series and index.
        message: String,
    },
    /// plotters failed while drawing.
    #[error("{figure}: drawing failed: {message}")]
    Draw {
        /// The figure function.
        figure: &'static str,
        /// The backend's message.
        message: String,
    },
    /// Creating the folder or writing/renaming a file failed. (The OS error is part of the
    /// message, not the error's `source()`, so a printed error chain names it once.)
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file or folder at fault (the figure's own name, not a temporary file).
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A bundled font could not be parsed.
    #[error("bundled font {name} could not be registered with plotters")]
    Font {
        /// The font file name.
        name: &'static str,
    },
}

/// The two files written for one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FigurePaths {
    /// The bitmap (`<stem>.png`).
    pub png: PathBuf,
    /// The vector graphic (`<stem>.svg`).
    pub svg: PathBuf,
}

/// A drawing error inside a figure's draw function (converted to [`PlotError::Draw`]).
#[derive(Debug)]
pub(crate) struct DrawError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

pub(crate) type DrawResult = Result<(), DrawError>;

/// A figure: validated input, a pixel size and a drawing routine generic over the backend.
pub(crate) trait Figure {
    /// The public function name (for error messages).
    const NAME: &'static str;
    /// Checks the input; called before anything is written.
    fn validate(&self) -> Result<(), PlotError>;
    /// Size in pixels (may measure text, fonts are registered before).
    fn size(&self) -> Result<(u32, u32), PlotError>;
    /// Draws onto a white root area.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Rejects stems that would escape the folder or produce odd file names.
pub(crate) fn validate_stem(figure: &'static str, stem: &str) -> Result<(), PlotError> {
    let ok = !stem.is_empty()
        && !stem.starts_with('.')
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            figure,
            format!(
                "file stem {stem:?} must be non-empty ASCII letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        ))
    }
}

pub(crate) fn invalid(figure: &'static str, message: impl Into<String>) -> PlotError {
    PlotError::InvalidInput {
        figure,
        message: message.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PlotError + '_ {
    move |error| PlotError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` atomically, with the workspace's one writer (`kann_run::atomic`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    kann_run::atomic::write_atomic(path, bytes).map_err(|e| io_err(path)(e.into_io().1))
}

/// Validates `fig`, loads the fonts and returns its size in pixels, refusing a size of 0 or
/// above 20,000 on a side.
fn checked_size<F: Figure>(fig: &F) -> Result<(u32, u32), PlotError> {
    fig.validate()?;
    ensure_fonts()?;
    let (w, h) = fig.size()?;
    if w == 0 || h == 0 || w > 20_000 || h > 20_000 {
        return Err(invalid(
            F::NAME,
            format!("figure size {w}x{h} pixels is out of range"),
        ));
    }
    Ok((w, h))
}

/// Validates `fig`, then renders it into `dir/<stem>.png` and `dir/<stem>.svg`, atomically.
pub(crate) fn render<F: Figure>(fig: &F, dir: &Path, stem: &str) -> Result<FigurePaths, PlotError> {
    validate_stem(F::NAME, stem)?;
    let (w, h) = checked_size(fig)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let draw_err = |e: DrawError| PlotError::Draw {
        figure: F::NAME,
        message: e.0,
    };

    // PNG: the bitmap backend encodes to the temporary path on `present`.
    let png = dir.join(format!("{stem}.png"));
    // The temporary file keeps the `.png` extension: the bitmap encoder picks the format from it.
    let tmp = kann_run::atomic::temp_path_with_extension(&png, "png");
    let mut presenting = false;
    let result = (|| -> DrawResult {
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw(&root)?;
        presenting = true;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        // `present` encodes and writes the file: its errors are about the PNG file.
        return Err(if presenting {
            PlotError::Io {
                path: png,
                error: std::io::Error::other(e.0),
            }
        } else {
            draw_err(e)
        });
    }
    kann_run::atomic::commit(&tmp, &png).map_err(|e| io_err(&png)(e.into_io().1))?;

    // SVG: rendered into a string, then written atomically.
    let svg = dir.join(format!("{stem}.svg"));
    let text = draw_svg(fig, (w, h))?;
    write_atomic(&svg, text.as_bytes())?;
    Ok(FigurePaths { png, svg })
}

/// Draws `fig` (already validated, fonts registered) as SVG text of `size` pixels.
fn draw_svg<F: Figure>(fig: &F, size: (u32, u32)) -> Result<String, PlotError> {
    let mut text = String::new();
    (|| -> DrawResult {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw(&root)?;
        root.present()?;
        Ok(())
    })()
    .map_err(|e| PlotError::Draw {
        figure: F::NAME,
        message: e.0,
    })?;
    Ok(text)
}

/// Validates `fig` and renders it as SVG text only, writing no file (for a page that inlines
/// the figure and should leave nothing else behind).
pub(crate) fn render_svg<F: Figure>(fig: &F) -> Result<String, PlotError> {
    let (w, h) = checked_size(fig)?;
    draw_svg(fig, (w, h))
}

/// Checks that a series is non-empty and finite; names the series and the first bad index.
pub(crate) fn check_finite(
    figure: &'static str,
    what: &str,
    values: &[f64],
) -> Result<(), PlotError> {
    if values.is_empty() {
        return Err(invalid(figure, format!("{what} is empty")));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(invalid(figure, format!("{what}[{i}] = {v} is not finite")));
    }
    Ok(())
}

/// Checks that two series have the same length.
/// Every eigenvalue `(re, im)` of the series `name` is finite; the first that is not is named.
pub(crate) fn check_eigenvalues(
    figure: &'static str,
    name: &str,
    eigenvalues: &[(f64, f64)],
) -> Result<(), PlotError> {
    match eigenvalues
        .iter()
        .enumerate()
        .find(|(_, (re, im))| !re.is_finite() || !im.is_finite())
    {
        Some((j, v)) => Err(invalid(
            figure,
            format!("{name}: eigenvalue {j} = {} + {}i is not finite", v.0, v.1),
        )),
        None => Ok(()),
    }
}

/// A zoom panel's lower modulus lies in `[0, 1)`.
pub(crate) fn check_zoom(figure: &'static str, zoom_from: f64) -> Result<(), PlotError> {
    if zoom_from.is_finite() && (0.0..1.0).contains(&zoom_from) {
        Ok(())
    } else {
        Err(invalid(
            figure,
            format!("zoom_from = {zoom_from} must lie in [0, 1)"),
        ))
    }
}

pub(crate) fn check_same_len(
    figure: &'static str,
    what_a: &str,
    a: usize,
    what_b: &str,
    b: usize,
) -> Result<(), PlotError> {
    if a != b {
        return Err(invalid(
            figure,
            format!("{what_a} has {a} values but {what_b} has {b}"),
        ));
    }
    Ok(())
}

/// `(min, max)` of finite values, widened by `pad` (fraction of the span) on both sides; a zero
/// span is widened to a unit interval around the value.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - pad * span, hi + pad * span)
}

/// Font helpers: the bundled family at a pixel size.
pub(crate) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((crate::fonts::FONT_FAMILY, size).into_font())
}

pub(crate) fn bold(size: f64) -> TextStyle<'static> {
    // `FontDesc::style` keeps the regular face's data in plotters 0.3.7; build the bold face anew.
    TextStyle::from(FontDesc::new(
        FontFamily::Name(crate::fonts::FONT_FAMILY),
        size,
        FontStyle::Bold,
    ))
}

/// Default sizes of text.
pub(crate) const TITLE_SIZE: f64 = 26.0;
pub(crate) const CAPTION_SIZE: f64 = 20.0;
pub(crate) const LABEL_SIZE: f64 = 18.0;
pub(crate) const TICK_SIZE: f64 = 15.0;
pub(crate) const LEGEND_SIZE: f64 = 15.0;

/// Draws the figure title centred at the top; returns the remaining area.
pub(crate) fn title_area<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, DrawError> {
    if title.is_empty() {
        return Ok(root.clone());
    }
    let (area, _) = split_top(root, 48);
    Ok(root
        .titled(title, bold(title_size(title, root.dim_in_pixel().0)))
        .map(|_| area)?)
}

/// [`TITLE_SIZE`], or smaller (down to 14) where the title would not fit the figure's width
/// with a margin (the bold face is taken as 18% wider than the regular one that
/// [`crate::fonts::text_width`] measures).
fn title_size(title: &str, width: u32) -> f64 {
    let room = f64::from(width.saturating_sub(24));
    size_to_fit(title, (TITLE_SIZE, 14.0), room, 1.18)
}

/// The largest size from `max` down to `min`, in steps of 1, at which `text` (measured by
/// [`crate::fonts::text_width`] in the regular face, times `widen`) is at most `room` pixels
/// wide; `min` when none is, `max` when the text cannot be measured.
pub(crate) fn size_to_fit(text: &str, (max, min): (f64, f64), room: f64, widen: f64) -> f64 {
    let mut size = max;
    while size > min {
        match crate::fonts::text_width(text, size) {
            Ok(w) if f64::from(w) * widen > room => size -= 1.0,
            _ => break,
        }
    }
    size
}

/// Splits off the top `h` pixels; returns (rest, top).
pub(crate) fn split_top<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    h: u32,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (top, rest) = area.split_vertically(h);
    (rest, top)
}

/// Tick label for a value on an axis spanning `span`: as many decimals as a tenth of the span
/// needs, trailing zeros trimmed, no negative zero (`20`, `0.35`, `1e-05`).
pub(crate) fn fmt_tick(v: f64, span: f64) -> String {
    let step = (span / 10.0).abs();
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 8.0) as usize
    } else {
        2
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" { "0".to_string() } else { s }
}

/// An eigenvalue as the reports and captions write it: `0.9950` when real (|Im| < 1e-12),
/// else `0.9950+0.0300i`.
pub fn fmt_lambda(re: f64, im: f64) -> String {
    if im.abs() < 1e-12 {
        format!("{re:.4}")
    } else {
        format!(
            "{re:.4}{}{:.4}i",
            if im < 0.0 { "-" } else { "+" },
            im.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels() {
        assert_eq!(fmt_tick(20.0, 139.0), "20");
        assert_eq!(fmt_tick(0.35, 0.4), "0.35");
        assert_eq!(fmt_tick(0.5, 0.4), "0.5");
        assert_eq!(fmt_tick(-0.0001, 2.0), "0");
        assert_eq!(fmt_tick(12000.0, 13000.0), "12000");
        assert_eq!(fmt_tick(0.9965, 0.006), "0.9965");
    }

    #[test]
    fn stems_are_checked() {
        assert!(validate_stem("x", "fig-1_a.b").is_ok());
        for bad in ["", ".hidden", "a/b", "../x", "a b"] {
            assert!(validate_stem("x", bad).is_err(), "{bad:?}");
        }
    }
}
