//! Fig. 1: how a review is shaded by a set of eigenvectors (the rule of `analyze imdb`).
//!
//! Two modes, for a set `S` and the projection magnitudes `m_S(h_t) = Σ_{j∈S} s(j, h_t)`
//! (Eq. 10):
//! - **level** (the paper's figure): `m_S(h_t)` at each piece, on a sequential map whose range is
//!   the review's own 2nd to 98th percentile (the slowest modes carry a large, slowly varying
//!   offset: a range from 0 would make every word equally dark);
//! - **change**: `m_S(h_t) − m_S(h_{t−1})`, what reading piece `t` did to the projection, on a
//!   diverging map symmetric about 0 whose range is the review's 95th percentile of `|change|`.
//!   The first piece (a change from the zero initial state) is shown as 0.
//!
//! `analyze imdb` and the Python package both shade with it (it lives here, without burn, so that
//! a notebook draws what `analyze imdb` draws), with its labels.

use crate::colors::ColorMap;

/// Colour-bar label of the level mode in `analyze imdb`'s figures.
pub const LEVEL_LABEL: &str = "m_S(h_t), Eq. 10 (range: review's 2nd-98th pct)";
/// Colour-bar label of the change mode in `analyze imdb`'s figures.
pub const CHANGE_LABEL: &str = "m_S(h_t) - m_S(h_t-1) (range: review's 95th pct)";

/// The shading mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadeMode {
    /// `m_S(h_t)`.
    Level,
    /// `m_S(h_t) − m_S(h_{t−1})`.
    Change,
}

/// Scores of one review in one mode, with the colour range.
#[derive(Debug, Clone, PartialEq)]
pub struct Shading {
    /// The mode.
    pub mode: ShadeMode,
    /// One score per piece.
    pub scores: Vec<f64>,
    /// Left end of the colour range.
    pub lo: f64,
    /// Right end of the colour range (`> lo`).
    pub hi: f64,
    /// Colour map.
    pub colormap: ColorMap,
}

/// The `q`-quantile (`0 ≤ q ≤ 1`, linear interpolation, as numpy's default) of `v`; 0 for an
/// empty slice.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < s.len() {
        s[i] + f * (s[i + 1] - s[i])
    } else {
        s[i]
    }
}

/// Shades `levels` (one `m_S(h_t)` per piece) in `mode`; `level_map` is the sequential map of
/// the level mode (the change mode is always red-white-blue).
pub fn shade(levels: &[f64], mode: ShadeMode, level_map: ColorMap) -> Shading {
    match mode {
        ShadeMode::Level => {
            let (mut lo, mut hi) = (quantile(levels, 0.02), quantile(levels, 0.98));
            if hi <= lo {
                hi = lo + 1e-12_f64.max(lo.abs() * 1e-9);
                lo -= 1e-12;
            }
            Shading {
                mode,
                scores: levels.to_vec(),
                lo,
                hi,
                colormap: level_map,
            }
        }
        ShadeMode::Change => {
            let mut d = vec![0.0; levels.len()];
            for t in 1..levels.len() {
                d[t] = levels[t] - levels[t - 1];
            }
            let abs: Vec<f64> = d.iter().skip(1).map(|x| x.abs()).collect();
            let m = quantile(&abs, 0.95).max(1e-12);
            Shading {
                mode,
                scores: d,
                lo: -m,
                hi: m,
                colormap: ColorMap::RedBlue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_mode_is_centred_and_ignores_the_offset() {
        // a large offset (100) with two word-level steps
        let levels = [100.0, 100.1, 103.1, 103.0, 100.0, 100.1];
        let s = shade(&levels, ShadeMode::Change, ColorMap::Blues);
        assert_eq!(s.scores[0], 0.0);
        assert!((s.scores[2] - 3.0).abs() < 1e-12 && (s.scores[4] + 3.0).abs() < 1e-12);
        assert_eq!(s.lo, -s.hi);
        assert!(s.hi > 2.0 && s.hi <= 3.0);
        assert_eq!(s.colormap, ColorMap::RedBlue);
        // level mode: the range is the review's own, not [0, max]
        let l = shade(&levels, ShadeMode::Level, ColorMap::Blues);
        assert!(l.lo > 99.0 && l.hi < 104.0);
    }

    #[test]
    fn constant_levels_still_have_a_valid_range() {
        for mode in [ShadeMode::Level, ShadeMode::Change] {
            let s = shade(&[2.0, 2.0, 2.0], mode, ColorMap::Reds);
            assert!(s.hi > s.lo);
        }
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
