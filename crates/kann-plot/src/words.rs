//! Fig. 1: reviews with every token shaded by its projection magnitude `s(j, h_t)` (Eq. 10).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colors::ColorMap;
use crate::common::{
    DrawResult, Figure, FigurePaths, PlotError, bold, font, invalid, render, validate_stem,
    write_atomic,
};
use crate::fonts::{ensure_fonts, text_width};

const NAME: &str = "word_highlight";
const NAME_HTML: &str = "word_highlight_html";

/// Input of [`word_highlight`] and [`word_highlight_html`]: one review as tokens with one score each.
#[derive(Clone, Debug)]
pub struct HighlightedText<'a> {
    /// Title of the figure (PNG/SVG) or heading of this review (HTML), e.g.
    /// `"A positive review projected onto {u1, u2}"`.
    pub title: &'a str,
    /// The tokens in reading order (WordPiece strings; a `##` prefix marks a continuation piece).
    pub tokens: &'a [String],
    /// One score per token, e.g. `sum_j s(j, h_t)` (Eq. 10) or its change from the previous
    /// token. Must be finite, and `>= 0` unless `min_score` is given.
    pub scores: &'a [f64],
    /// The score mapped to the darkest colour (the right end of the colour bar); `None` uses the
    /// largest score. Scores above it are clamped.
    pub max_score: Option<f64>,
    /// The score mapped to the left end of the colour bar; `None` means 0 (and scores must then be
    /// `>= 0`). With a diverging map, give a symmetric range (`-m`, `m`) so that 0 is white.
    pub min_score: Option<f64>,
    /// The colour map (Fig. 1: blues for `U_12`, reds for `U_34`, greens for `u_8`).
    pub colormap: ColorMap,
    /// Join `##` continuation pieces to the previous piece without the `##` and without a space
    /// (each piece keeps its own shade); `false` shows the raw tokens separated by spaces.
    pub join_pieces: bool,
    /// Label of the colour bar, e.g. `"projection magnitude s (Eq. 10)"`.
    pub score_label: &'a str,
    /// One flag per token: `true` draws a dark bar under the token (e.g. issue #23's stability
    /// mark: the shading's sign agrees in at least 90% of bootstrap refits). `None`: no marks.
    pub marks: Option<&'a [bool]>,
    /// What a mark means, written beside the colour bar's label (empty: nothing).
    pub mark_label: &'a str,
}

impl<'a> HighlightedText<'a> {
    /// A review with default options: blues, joined word pieces, maximum = largest score.
    pub fn new(title: &'a str, tokens: &'a [String], scores: &'a [f64]) -> Self {
        Self {
            title,
            tokens,
            scores,
            max_score: None,
            min_score: None,
            colormap: ColorMap::Blues,
            join_pieces: true,
            score_label: "projection magnitude s (Eq. 10)",
            marks: None,
            mark_label: "",
        }
    }

    fn validate(&self, figure: &'static str) -> Result<(), PlotError> {
        if self.tokens.is_empty() {
            return Err(invalid(
                figure,
                format!("{:?}: tokens is empty", self.title),
            ));
        }
        if self.tokens.len() != self.scores.len() {
            return Err(invalid(
                figure,
                format!(
                    "{:?}: {} tokens but {} scores",
                    self.title,
                    self.tokens.len(),
                    self.scores.len()
                ),
            ));
        }
        if let Some((i, s)) = self
            .scores
            .iter()
            .enumerate()
            .find(|(_, s)| !s.is_finite() || (self.min_score.is_none() && **s < 0.0))
        {
            let need = if self.min_score.is_none() {
                "finite and >= 0 (give min_score for signed scores)"
            } else {
                "finite"
            };
            return Err(invalid(
                figure,
                format!(
                    "{:?}: scores[{i}] = {s} (token {:?}) must be {need}",
                    self.title, self.tokens[i]
                ),
            ));
        }
        if let Some(marks) = self.marks
            && marks.len() != self.tokens.len()
        {
            return Err(invalid(
                figure,
                format!(
                    "{:?}: {} tokens but {} marks",
                    self.title,
                    self.tokens.len(),
                    marks.len()
                ),
            ));
        }
        if let Some(m) = self.min_score
            && !m.is_finite()
        {
            return Err(invalid(
                figure,
                format!("{:?}: min_score = {m} must be finite", self.title),
            ));
        }
        if let Some(m) = self.max_score
            && !(m.is_finite() && m > self.min())
        {
            return Err(invalid(
                figure,
                format!(
                    "{:?}: max_score = {m} must be finite and > min_score ({})",
                    self.title,
                    self.min()
                ),
            ));
        }
        Ok(())
    }

    /// The score of the left end of the colour bar.
    fn min(&self) -> f64 {
        self.min_score.unwrap_or(0.0)
    }

    /// The score of the darkest colour.
    fn max(&self) -> f64 {
        self.max_score
            .unwrap_or_else(|| self.scores.iter().copied().fold(self.min(), f64::max))
    }

    /// Normalised shade of token `i` in `[0, 1]`.
    fn shade(&self, i: usize) -> f64 {
        let (lo, hi) = (self.min(), self.max());
        if hi > lo {
            ((self.scores[i] - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Words as lists of `(token index, displayed text)`.
    fn words(&self) -> Vec<Vec<(usize, String)>> {
        let mut words: Vec<Vec<(usize, String)>> = Vec::new();
        for (i, tok) in self.tokens.iter().enumerate() {
            if tok.is_empty() {
                continue;
            }
            match tok.strip_prefix("##") {
                Some(rest) if self.join_pieces && !rest.is_empty() && !words.is_empty() => {
                    if let Some(last) = words.last_mut() {
                        last.push((i, rest.to_string()));
                    }
                }
                _ => words.push(vec![(i, tok.clone())]),
            }
        }
        words
    }
}

/// A piece of text placed on a line.
struct Placed {
    token: usize,
    text: String,
    x: i32,
    w: i32,
}

const WIDTH: u32 = 1100;
/// Colour of the bar under a marked token ([`HighlightedText::marks`]).
const MARK_COLOR: RGBColor = RGBColor(20, 20, 20);
const MARGIN: i32 = 32;
const TEXT_SIZE: f64 = 20.0;
const LINE_H: i32 = 34;
const TITLE_H: i32 = 64;
const BAR_H: i32 = 86;

/// Wraps the words into lines no wider than `WIDTH - 2 MARGIN`, measuring with the bundled font.
fn layout(text: &HighlightedText) -> Result<Vec<Vec<Placed>>, PlotError> {
    let max_x = WIDTH as i32 - MARGIN;
    let space = text_width("a b", TEXT_SIZE)? as i32 - text_width("ab", TEXT_SIZE)? as i32;
    let mut lines: Vec<Vec<Placed>> = vec![Vec::new()];
    let mut x = MARGIN;
    for word in text.words() {
        let mut pieces = Vec::with_capacity(word.len());
        for (token, piece) in word {
            let w = text_width(&piece, TEXT_SIZE)? as i32 + 2;
            pieces.push((token, piece, w));
        }
        let word_w: i32 = pieces.iter().map(|p| p.2).sum();
        let start = if x == MARGIN { x } else { x + space };
        if start + word_w > max_x && x > MARGIN {
            lines.push(Vec::new());
            x = MARGIN;
        } else {
            x = start;
        }
        for (token, piece, w) in pieces {
            // A single word wider than the line is broken between pieces.
            if x + w > max_x && x > MARGIN {
                lines.push(Vec::new());
                x = MARGIN;
            }
            if let Some(line) = lines.last_mut() {
                line.push(Placed {
                    token,
                    text: piece,
                    x,
                    w,
                });
            }
            x += w;
        }
    }
    Ok(lines)
}

/// Renders one review as wrapped text, each token on a background shaded by its score with the chosen
/// colour map, with a title and a colour bar (Fig. 1). Text is measured with the bundled font.
/// Writes `dir/<stem>.png` and `dir/<stem>.svg`.
pub fn word_highlight(
    dir: &Path,
    stem: &str,
    text: &HighlightedText,
) -> Result<FigurePaths, PlotError> {
    render(text, dir, stem)
}

impl Figure for HighlightedText<'_> {
    const NAME: &'static str = NAME;

    fn validate(&self) -> Result<(), PlotError> {
        HighlightedText::validate(self, NAME)
    }

    fn size(&self) -> Result<(u32, u32), PlotError> {
        let lines = layout(self)?.len() as i32;
        Ok((WIDTH, (TITLE_H + lines * LINE_H + 16 + BAR_H) as u32))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let lines = layout(self).map_err(|e| crate::common::DrawError(e.to_string()))?;
        root.draw(&Text::new(
            self.title.to_string(),
            (MARGIN, 22),
            bold(24.0).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        for (k, line) in lines.iter().enumerate() {
            let top = TITLE_H + k as i32 * LINE_H;
            for p in line {
                let bg = self.colormap.color(self.shade(p.token));
                root.draw(&Rectangle::new(
                    [(p.x, top), (p.x + p.w, top + LINE_H - 4)],
                    bg.rgb().filled(),
                ))?;
                let fg = if bg.luminance() < 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    p.text.clone(),
                    (p.x + 1, top + (LINE_H - 4) / 2),
                    font(TEXT_SIZE)
                        .color(&fg)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
                if self.marks.is_some_and(|m| m[p.token]) {
                    // in the white gap under the token's box, 1 px below it: visible on any shade
                    root.draw(&Rectangle::new(
                        [
                            (p.x + 1, top + LINE_H - 3),
                            (p.x + p.w - 1, top + LINE_H - 1),
                        ],
                        MARK_COLOR.filled(),
                    ))?;
                }
            }
        }
        // Colour bar.
        let top = TITLE_H + lines.len() as i32 * LINE_H + 22;
        let (bar_x, bar_w, bar_h) = (MARGIN, 360, 16);
        for k in 0..bar_w {
            let c = self.colormap.color(f64::from(k) / f64::from(bar_w - 1));
            root.draw(&Rectangle::new(
                [(bar_x + k, top), (bar_x + k + 1, top + bar_h)],
                c.rgb().filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bar_x, top), (bar_x + bar_w, top + bar_h)],
            RGBColor(120, 120, 120),
        ))?;
        let (lo, hi) = (self.min(), self.max());
        for (frac, value) in [(0.0, lo), (0.5, (lo + hi) / 2.0), (1.0, hi)] {
            let x = bar_x + (frac * f64::from(bar_w)) as i32;
            root.draw(&PathElement::new(
                vec![(x, top + bar_h), (x, top + bar_h + 5)],
                RGBColor(120, 120, 120),
            ))?;
            root.draw(&Text::new(
                format_score(value),
                (x, top + bar_h + 8),
                font(15.0).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        root.draw(&Text::new(
            self.score_label.to_string(),
            (bar_x + bar_w + 24, top + bar_h / 2),
            font(16.0).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        if self.marks.is_some() && !self.mark_label.is_empty() {
            let (x, y) = (bar_x + bar_w + 24, top + bar_h + 22);
            root.draw(&Rectangle::new(
                [(x, y - 2), (x + 28, y + 1)],
                MARK_COLOR.filled(),
            ))?;
            root.draw(&Text::new(
                self.mark_label.to_string(),
                (x + 36, y),
                font(15.0).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}

/// Three significant digits, trailing zeros trimmed (`0`, `0.5`, `0.842`, `1.68`, `463`).
fn format_score(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (3.0 - v.abs().log10().ceil()).clamp(0.0, 8.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Writes a standalone HTML page (inline CSS, escaped text) with one section per review: its
/// heading, the tokens shaded as in [`word_highlight`] (the score in each token's tooltip) and a
/// colour legend. Written atomically to `dir/<stem>.html`; returns that path.
pub fn word_highlight_html(
    dir: &Path,
    stem: &str,
    page_title: &str,
    texts: &[HighlightedText],
) -> Result<PathBuf, PlotError> {
    validate_stem(NAME_HTML, stem)?;
    if texts.is_empty() {
        return Err(invalid(NAME_HTML, "no reviews given"));
    }
    for t in texts {
        t.validate(NAME_HTML)?;
    }
    ensure_fonts()?;
    let mut html = page_start(page_title);
    for t in texts {
        let _ = write!(
            html,
            "<section>\n<h2>{}</h2>\n{}</section>\n",
            escape_html(t.title),
            view_html(t)
        );
    }
    html.push_str("</body>\n</html>\n");
    std::fs::create_dir_all(dir).map_err(|error| PlotError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let path = dir.join(format!("{stem}.html"));
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The start of a word-highlight page: head, styles (with those of the view selector) and the
/// page title as `<h1>`.
fn page_start(page_title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
<style>\n\
body {{ font-family: \"DejaVu Sans\", Verdana, sans-serif; max-width: 62em; margin: 2em auto; padding: 0 1em; color: #111; }}\n\
h1 {{ font-size: 1.5em; }}\n\
h2 {{ font-size: 1.1em; margin-top: 2em; }}\n\
p.review {{ line-height: 2.0; font-size: 1.05em; }}\n\
span.tok {{ padding: 0.15em 0.05em; border-radius: 2px; }}\n\
div.legend {{ display: flex; align-items: center; gap: 0.6em; font-size: 0.85em; color: #333; }}\n\
div.legend span.bar {{ display: inline-block; width: 16em; height: 0.9em; border: 1px solid #888; }}\n\
div.controls {{ position: sticky; top: 0; background: #fff; padding: 0.5em 0; border-bottom: 1px solid #ccc; }}\n\
</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape_html(page_title),
        escape_html(page_title)
    )
}

/// One review with several shadings of its tokens (e.g. the level and the per-word change of
/// the projection on several sets of eigenvectors), for [`word_highlight_html_views`].
#[derive(Clone, Debug)]
pub struct ReviewViews<'a> {
    /// Heading of the review, e.g. `"Negative review 1234_2 (logit -2.1)"`.
    pub heading: String,
    /// `(view name, shading)`; the view names are what the page's selector offers, e.g.
    /// `"change on {u1,u2}"`. The tokens of all views must be the same.
    pub views: Vec<(String, HighlightedText<'a>)>,
}

/// The shaded tokens and legend of one view, as HTML.
fn view_html(t: &HighlightedText) -> String {
    let mut html = String::from("<p class=\"review\">");
    for (k, word) in t.words().iter().enumerate() {
        if k > 0 {
            html.push(' ');
        }
        for (token, piece) in word {
            let bg = t.colormap.color(t.shade(*token));
            let fg = if bg.luminance() < 0.5 { "#fff" } else { "#000" };
            let mark = if t.marks.is_some_and(|m| m[*token]) {
                "; border-bottom: 3px solid #141414"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<span class=\"tok\" style=\"background-color: {}; color: {fg}{mark}\" title=\"{}\">{}</span>",
                bg.css(),
                format_score(t.scores[*token]),
                escape_html(piece)
            );
        }
    }
    let stops: Vec<String> = (0..=8)
        .map(|k| t.colormap.color(f64::from(k) / 8.0).css())
        .collect();
    let _ = write!(
        html,
        "</p>\n<div class=\"legend\"><span>{}</span><span class=\"bar\" style=\"background: linear-gradient(to right, {});\"></span><span>{}</span><span>{} ({})</span></div>\n",
        format_score(t.min()),
        stops.join(", "),
        format_score(t.max()),
        escape_html(t.score_label),
        t.colormap.name()
    );
    if t.marks.is_some() && !t.mark_label.is_empty() {
        let _ = writeln!(
            html,
            "<div class=\"legend\"><span style=\"border-bottom: 3px solid #141414\">underlined</span><span>{}</span></div>",
            escape_html(t.mark_label)
        );
    }
    html
}

/// Writes a standalone HTML page with one section per review and a selector at the top that
/// switches every review to the chosen view (set of eigenvectors and mode); a review without
/// that view says so. Without JavaScript each review shows its first view. Written atomically
/// to `dir/<stem>.html`; returns that path.
pub fn word_highlight_html_views(
    dir: &Path,
    stem: &str,
    page_title: &str,
    reviews: &[ReviewViews],
) -> Result<PathBuf, PlotError> {
    validate_stem(NAME_HTML, stem)?;
    if reviews.is_empty() {
        return Err(invalid(NAME_HTML, "no reviews given"));
    }
    let mut names: Vec<&str> = Vec::new();
    for r in reviews {
        if r.views.is_empty() {
            return Err(invalid(NAME_HTML, format!("{:?}: no views", r.heading)));
        }
        for (name, t) in &r.views {
            t.validate(NAME_HTML)?;
            if t.tokens != r.views[0].1.tokens {
                return Err(invalid(
                    NAME_HTML,
                    format!("{:?}: view {name:?} has other tokens", r.heading),
                ));
            }
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    ensure_fonts()?;
    let mut html = page_start(page_title);
    html.push_str("<div class=\"controls\"><label>View: <select id=\"view\">");
    for (i, name) in names.iter().enumerate() {
        let _ = write!(html, "<option value=\"{i}\">{}</option>", escape_html(name));
    }
    html.push_str("</select></label></div>\n");
    for r in reviews {
        let _ = writeln!(html, "<section>\n<h2>{}</h2>", escape_html(&r.heading));
        for (k, (name, t)) in r.views.iter().enumerate() {
            let i = names.iter().position(|n| n == name).unwrap_or(0);
            let hidden = if k == 0 {
                ""
            } else {
                " style=\"display: none\""
            };
            let _ = write!(
                html,
                "<div class=\"view\" data-view=\"{i}\"{hidden}>\n<p><em>{}</em></p>\n{}</div>\n",
                escape_html(t.title),
                view_html(t)
            );
        }
        html.push_str(
            "<p class=\"missing\" style=\"display: none\"><em>(this view is not available for this review)</em></p>\n</section>\n",
        );
    }
    html.push_str(
        "<script>\n\
const sel = document.getElementById('view');\n\
function show() {\n\
  for (const sec of document.querySelectorAll('section')) {\n\
    let found = false;\n\
    for (const v of sec.querySelectorAll('div.view')) {\n\
      const on = v.dataset.view === sel.value;\n\
      v.style.display = on ? '' : 'none';\n\
      found = found || on;\n\
    }\n\
    sec.querySelector('p.missing').style.display = found ? 'none' : '';\n\
  }\n\
}\n\
sel.addEventListener('change', show);\n\
show();\n\
</script>\n</body>\n</html>\n",
    );
    std::fs::create_dir_all(dir).map_err(|error| PlotError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let path = dir.join(format!("{stem}.html"));
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn pieces_join_to_words() {
        let t = toks("watched this on k ##q ##ed , with");
        let s = vec![0.0; t.len()];
        let h = HighlightedText::new("x", &t, &s);
        let words = h.words();
        assert_eq!(words.len(), 6);
        assert_eq!(
            words[3],
            vec![(3, "k".into()), (4, "q".into()), (5, "ed".into())]
        );
        let raw = HighlightedText {
            join_pieces: false,
            ..h
        };
        assert_eq!(raw.words().len(), 8);
    }

    #[test]
    fn layout_wraps_within_width() {
        let t = toks(&"what a mess of a movie ! if it was nt for eric roberts ".repeat(12));
        let s = vec![1.0; t.len()];
        let lines = layout(&HighlightedText::new("x", &t, &s)).unwrap();
        assert!(lines.len() > 3, "{} lines", lines.len());
        for line in &lines {
            let last = line.last().unwrap();
            assert!(last.x + last.w <= WIDTH as i32 - MARGIN);
        }
    }

    #[test]
    fn high_score_background_differs_from_zero_score() {
        let dir = tempfile::tempdir().unwrap();
        let t = toks("zero middle high");
        let s = [0.0, 0.5, 2.0];
        for map in [ColorMap::Blues, ColorMap::Reds, ColorMap::Greens] {
            let h = HighlightedText {
                colormap: map,
                ..HighlightedText::new("x", &t, &s)
            };
            let lines = layout(&h).unwrap();
            assert_eq!(lines.len(), 1);
            let paths = word_highlight(dir.path(), "w", &h).unwrap();
            let img = image::open(&paths.png).unwrap().to_rgb8();
            // The top-left pixel of each token's box is background (text starts 1 px in).
            let bg = |p: &Placed| img.get_pixel(p.x as u32, TITLE_H as u32).0;
            let [zero, middle, high] = [0, 1, 2].map(|k| bg(&lines[0][k]));
            let expect = |v: f64| {
                let c = map.color(v);
                [c.0, c.1, c.2]
            };
            assert_eq!(zero, expect(0.0), "{map:?}");
            assert_eq!(middle, expect(0.25), "{map:?}");
            assert_eq!(high, expect(1.0), "{map:?}");
            assert_ne!(zero, high);
        }
    }

    #[test]
    fn marked_tokens_get_a_dark_bar_and_a_wrong_count_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let t = toks("plain marked plain");
        let s = [0.0, 0.0, 0.0];
        let marks = [false, true, false];
        let h = HighlightedText {
            marks: Some(&marks),
            mark_label: "sign agrees in >= 90% of refits",
            ..HighlightedText::new("x", &t, &s)
        };
        let lines = layout(&h).unwrap();
        let paths = word_highlight(dir.path(), "m", &h).unwrap();
        let img = image::open(&paths.png).unwrap().to_rgb8();
        // the pixel row of the bar, in the middle of each token's box
        let y = (TITLE_H + LINE_H - 2) as u32;
        let at = |p: &Placed| img.get_pixel((p.x + p.w / 2) as u32, y).0;
        assert_eq!(at(&lines[0][1]), [20, 20, 20]);
        // one white row between the token's box and its bar, so the bar shows on dark shades
        let gap = img
            .get_pixel((lines[0][1].x + lines[0][1].w / 2) as u32, y - 2)
            .0;
        assert_eq!(gap, [255, 255, 255]);
        assert_ne!(at(&lines[0][0]), [20, 20, 20]);
        assert_ne!(at(&lines[0][2]), [20, 20, 20]);
        let svg = std::fs::read_to_string(&paths.svg).unwrap();
        assert!(
            svg.contains("sign agrees in &gt;= 90% of refits")
                || svg.contains("sign agrees in >= 90% of refits")
        );
        let html = view_html(&h);
        assert_eq!(
            html.matches("border-bottom: 3px").count(),
            2,
            "one token and the legend"
        );
        let short = [true];
        let bad = HighlightedText {
            marks: Some(&short),
            ..h
        };
        let err = word_highlight(dir.path(), "bad", &bad).unwrap_err();
        assert!(err.to_string().contains("3 tokens but 1 marks"), "{err}");
    }

    #[test]
    fn signed_scores_on_a_diverging_range() {
        let t = toks("down flat up");
        let s = [-2.0, 0.0, 1.0];
        let h = HighlightedText {
            min_score: Some(-2.0),
            max_score: Some(2.0),
            colormap: ColorMap::RedBlue,
            ..HighlightedText::new("x", &t, &s)
        };
        h.validate(NAME).unwrap();
        assert_eq!(h.shade(0), 0.0);
        assert_eq!(h.shade(1), 0.5);
        assert_eq!(h.shade(2), 0.75);
        // Without min_score, negative scores are refused.
        let plain = HighlightedText::new("x", &t, &s);
        assert!(plain.validate(NAME).is_err());
    }

    #[test]
    fn views_page_has_a_selector_and_every_view() {
        let dir = tempfile::tempdir().unwrap();
        let t = toks("not bad at all");
        let (a, b) = ([0.0, 1.0, 0.5, 0.2], [0.0, -1.0, 0.5, 0.0]);
        let level = HighlightedText::new("level", &t, &a);
        let change = HighlightedText {
            min_score: Some(-1.0),
            max_score: Some(1.0),
            colormap: ColorMap::RedBlue,
            ..HighlightedText::new("change", &t, &b)
        };
        let reviews = [ReviewViews {
            heading: "r1".into(),
            views: vec![("level {u1}".into(), level), ("change {u1}".into(), change)],
        }];
        let p = word_highlight_html_views(dir.path(), "v", "t", &reviews).unwrap();
        let html = std::fs::read_to_string(p).unwrap();
        assert!(html.contains("<select id=\"view\">"));
        assert!(html.contains("change {u1}") && html.contains("level {u1}"));
        assert_eq!(html.matches("class=\"view\"").count(), 2);
    }

    #[test]
    fn score_labels() {
        let got: Vec<String> = [0.0, 0.5, 1.0, 0.8421, 1.6834, 463.2]
            .map(format_score)
            .to_vec();
        assert_eq!(got, ["0", "0.5", "1", "0.842", "1.68", "463"]);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html("<br /> & \"x\""),
            "&lt;br /&gt; &amp; &quot;x&quot;"
        );
    }
}
