//! The bundled DejaVu Sans font, registered with plotters' `ab_glyph` text backend.

use std::sync::OnceLock;

use plotters::style::{FontStyle, IntoFont, register_font};

use crate::common::PlotError;

/// The font family name every figure uses. The bundled DejaVu Sans (regular and bold) is registered
/// under it, and SVG output names it so viewers fall back to their own sans-serif face.
pub const FONT_FAMILY: &str = "sans-serif";

static REGULAR: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

static REGISTERED: OnceLock<Result<(), &'static str>> = OnceLock::new();

/// Registers the bundled fonts once per process (idempotent, thread-safe).
pub(crate) fn ensure_fonts() -> Result<(), PlotError> {
    let result = REGISTERED.get_or_init(|| {
        // plotters falls back to the family's normal style for any style not registered.
        for family in [FONT_FAMILY, "serif", "monospace"] {
            register_font(family, FontStyle::Normal, REGULAR).map_err(|_| "DejaVuSans.ttf")?;
            register_font(family, FontStyle::Bold, BOLD).map_err(|_| "DejaVuSans-Bold.ttf")?;
        }
        Ok(())
    });
    result.map_err(|name| PlotError::Font { name })
}

/// Width and height in pixels of `text` at font size `size` (pixels) in the bundled DejaVu Sans,
/// as used for wrapping text in [`crate::word_highlight`].
pub fn text_width(text: &str, size: f64) -> Result<u32, PlotError> {
    ensure_fonts()?;
    let font = (FONT_FAMILY, size).into_font();
    font.box_size(text)
        .map(|(w, _)| w)
        .map_err(|e| PlotError::Draw {
            figure: "text_width",
            message: format!("cannot measure {text:?}: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_measures_text() {
        let w_short = text_width("i", 20.0).unwrap();
        let w_long = text_width("muddled plot and phony dialogue", 20.0).unwrap();
        assert!(w_short > 0, "width of 'i' is {w_short}");
        assert!(w_long > 10 * w_short, "{w_long} vs {w_short}");
        // Twice the size, about twice the width.
        let w_big = text_width("muddled plot and phony dialogue", 40.0).unwrap();
        assert!((w_big as f64 / w_long as f64 - 2.0).abs() < 0.1);
    }
}
