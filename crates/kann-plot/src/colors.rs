//! Colours: a plain RGB triple, the paper's (matplotlib "tab10") palette and sequential colour maps.

use plotters::style::RGBColor;

/// An sRGB colour with 8 bits per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Blue of the paper's figures (network, `mu_r`).
    pub const BLUE: Rgb = Rgb(31, 119, 180);
    /// Orange (KANN, pair 58-59 in Fig. 2).
    pub const ORANGE: Rgb = Rgb(255, 127, 14);
    /// Green (pair 25-26 in Fig. 2).
    pub const GREEN: Rgb = Rgb(44, 160, 44);
    /// Red (pair 9-10 in Fig. 2).
    pub const RED: Rgb = Rgb(214, 39, 40);
    /// Purple (original median `mu` in Fig. 2).
    pub const PURPLE: Rgb = Rgb(148, 103, 189);
    /// Brown (pair 50-51 in Fig. 2).
    pub const BROWN: Rgb = Rgb(140, 86, 75);
    /// Pink.
    pub const PINK: Rgb = Rgb(227, 119, 194);
    /// Grey.
    pub const GRAY: Rgb = Rgb(127, 127, 127);
    /// Olive.
    pub const OLIVE: Rgb = Rgb(188, 189, 34);
    /// Cyan.
    pub const CYAN: Rgb = Rgb(23, 190, 207);
    /// Black.
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// The default categorical palette (matplotlib's "tab10", as in the paper's figures).
    pub const PALETTE: [Rgb; 10] = [
        Rgb::BLUE,
        Rgb::ORANGE,
        Rgb::GREEN,
        Rgb::RED,
        Rgb::PURPLE,
        Rgb::BROWN,
        Rgb::PINK,
        Rgb::GRAY,
        Rgb::OLIVE,
        Rgb::CYAN,
    ];

    /// The `i`-th palette colour (cycling).
    pub fn palette(i: usize) -> Rgb {
        Self::PALETTE[i % Self::PALETTE.len()]
    }

    /// Relative luminance in `[0, 1]` (ITU-R BT.709 weights on the gamma-encoded channels), used to
    /// choose black or white text on a shaded background.
    pub fn luminance(self) -> f64 {
        (0.2126 * f64::from(self.0) + 0.7152 * f64::from(self.1) + 0.0722 * f64::from(self.2))
            / 255.0
    }

    /// CSS notation `rgb(r, g, b)`.
    pub fn css(self) -> String {
        format!("rgb({}, {}, {})", self.0, self.1, self.2)
    }

    pub(crate) fn rgb(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
}

/// Sequential colour maps from white (score 0) to a dark saturated colour (maximal score), after
/// ColorBrewer's single-hue schemes. Fig. 1 uses blues (positive words), reds (negative words) and
/// greens (context words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ColorMap {
    /// White to dark blue.
    #[default]
    Blues,
    /// White to dark red.
    Reds,
    /// White to dark green.
    Greens,
    /// Diverging: dark red (most negative) through white (the middle of the range) to dark blue
    /// (most positive), after ColorBrewer's RdBu. For signed scores such as the per-word change
    /// of a projection magnitude, drawn on a range symmetric about 0.
    RedBlue,
}

impl ColorMap {
    fn anchors(self) -> [Rgb; 5] {
        match self {
            ColorMap::Blues => [
                Rgb(247, 251, 255),
                Rgb(198, 219, 239),
                Rgb(107, 174, 214),
                Rgb(33, 113, 181),
                Rgb(8, 48, 107),
            ],
            ColorMap::Reds => [
                Rgb(255, 245, 240),
                Rgb(252, 187, 161),
                Rgb(251, 106, 74),
                Rgb(203, 24, 29),
                Rgb(103, 0, 13),
            ],
            ColorMap::Greens => [
                Rgb(247, 252, 245),
                Rgb(199, 233, 192),
                Rgb(116, 196, 118),
                Rgb(35, 139, 69),
                Rgb(0, 68, 27),
            ],
            ColorMap::RedBlue => [
                Rgb(178, 24, 43),
                Rgb(239, 138, 98),
                Rgb(247, 247, 247),
                Rgb(103, 169, 207),
                Rgb(33, 102, 172),
            ],
        }
    }

    /// The colour of a normalised value `v` in `[0, 1]` (values outside are clamped, NaN maps to 0),
    /// interpolated linearly between the map's anchors.
    pub fn color(self, v: f64) -> Rgb {
        let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        let a = self.anchors();
        let pos = v * (a.len() - 1) as f64;
        let i = (pos.floor() as usize).min(a.len() - 2);
        let f = pos - i as f64;
        let mix = |x: u8, y: u8| (f64::from(x) + f * (f64::from(y) - f64::from(x))).round() as u8;
        Rgb(
            mix(a[i].0, a[i + 1].0),
            mix(a[i].1, a[i + 1].1),
            mix(a[i].2, a[i + 1].2),
        )
    }

    /// Lower-case name (`"blues"`, `"reds"`, `"greens"`).
    pub fn name(self) -> &'static str {
        match self {
            ColorMap::Blues => "blues",
            ColorMap::Reds => "reds",
            ColorMap::Greens => "greens",
            ColorMap::RedBlue => "red-white-blue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_map_is_white_in_the_middle_and_dark_at_both_ends() {
        let m = ColorMap::RedBlue;
        assert_eq!(m.color(0.5), Rgb(247, 247, 247));
        assert!(m.color(0.0).luminance() < 0.4 && m.color(1.0).luminance() < 0.45);
        assert!(m.color(0.0).0 > m.color(0.0).2, "negative end is red");
        assert!(m.color(1.0).2 > m.color(1.0).0, "positive end is blue");
    }

    #[test]
    fn colormap_ends_and_monotone_darkening() {
        for map in [ColorMap::Blues, ColorMap::Reds, ColorMap::Greens] {
            assert_eq!(map.color(0.0), map.anchors()[0]);
            assert_eq!(map.color(1.0), map.anchors()[4]);
            assert_eq!(map.color(f64::NAN), map.anchors()[0]);
            assert_eq!(map.color(7.0), map.anchors()[4]);
            let mut last = f64::INFINITY;
            for k in 0..=20 {
                let l = map.color(f64::from(k) / 20.0).luminance();
                assert!(l <= last + 1e-9, "{map:?} not darkening at {k}");
                last = l;
            }
        }
    }
}
