//! A self-contained `report.html` (issue 25): a verdict table, one row per claim of the paper,
//! followed by sections in the paper's order, each with its figure inlined as SVG text, its
//! numbers and one paragraph. CSS is inline; the page loads nothing from any network and opens
//! from disk. Light and dark mode follow `prefers-color-scheme`.
//!
//! Verdict rule ([`verdict`]), for a measure where higher supports the claim: the claim **holds**
//! when ours exceeds the baseline that could explain it away by at least the stated margin; it
//! **does not hold** when ours is at or below the baseline; otherwise it is **inconclusive**. A
//! non-finite number is inconclusive. The rule is printed on the page ([`VERDICT_RULE`]).
//! Where the analysis has a bootstrap interval of the difference ours − baseline
//! ([`verdict_from_interval`]), the interval replaces the point: the claim holds when the whole
//! interval is at or above the margin, does not hold when the whole interval is below it, and is
//! inconclusive when the interval straddles it.

use std::fmt::Write as _;
use std::path::Path;

use crate::common::{PlotError, invalid, write_atomic};

/// The size bound of a written `report.html`, in bytes (8 MiB); [`write_report_html`] refuses a
/// larger page.
pub const MAX_HTML_BYTES: usize = 8 * 1024 * 1024;

/// The verdict rule as printed under the verdict table.
pub const VERDICT_RULE: &str = "Rule: a claim holds when our number exceeds the baseline that \
could explain it away by at least the stated margin; it does not hold when ours is at or below \
that baseline; otherwise it is inconclusive (also when a number is missing or not finite). Where a row gives a bootstrap interval of the difference, the interval decides: holds when all of it is at or above the margin, does not hold when all of it is below the margin, inconclusive otherwise.";

/// The verdict on one claim of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ours beats the baseline by at least the margin.
    Holds,
    /// Ours is at or below the baseline.
    DoesNotHold,
    /// In between, or a number is missing.
    Inconclusive,
}

impl Verdict {
    /// The word printed in the table.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Applies the stated rule ([`VERDICT_RULE`]) to a measure where higher supports the claim.
pub fn verdict(ours: f64, baseline: f64, margin: f64) -> Verdict {
    if !(ours.is_finite() && baseline.is_finite() && margin.is_finite()) {
        Verdict::Inconclusive
    } else if ours >= baseline + margin.abs() {
        Verdict::Holds
    } else if ours <= baseline {
        Verdict::DoesNotHold
    } else {
        Verdict::Inconclusive
    }
}

/// The rule with an interval `[low, high]` of the difference ours − baseline: holds when
/// `low ≥ margin`, does not hold when `high < margin`, inconclusive otherwise (or when a bound
/// is not finite).
pub fn verdict_from_interval(difference_ci: [f64; 2], margin: f64) -> Verdict {
    let [low, high] = difference_ci;
    let margin = margin.abs();
    if !(low.is_finite() && high.is_finite() && margin.is_finite()) || low > high {
        Verdict::Inconclusive
    } else if low >= margin {
        Verdict::Holds
    } else if high < margin {
        Verdict::DoesNotHold
    } else {
        Verdict::Inconclusive
    }
}

/// One row of the verdict table.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The claim, in a few words, with its place in the paper.
    pub claim: String,
    /// The paper's number, as printed.
    pub paper: String,
    /// Our number.
    pub ours: String,
    /// The baseline that could explain the number away.
    pub baseline: String,
    /// The verdict by the stated rule.
    pub verdict: Verdict,
}

/// One section of the page.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The heading (paper's order).
    pub heading: String,
    /// The figure's SVG text (as written by the figure functions), inlined; `None` for no figure.
    pub svg: Option<String>,
    /// Numbers as (name, value) rows.
    pub numbers: Vec<(String, String)>,
    /// One paragraph of reading.
    pub paragraph: String,
    /// A trusted HTML fragment placed after the figure (an interactive view built by the
    /// caller, driven by [`HtmlReport::script`]); `None` for none. It is checked like the rest
    /// of the page by [`check_self_contained`].
    pub html: Option<String>,
}

/// A whole page.
#[derive(Debug, Clone, Default)]
pub struct HtmlReport {
    /// The page title.
    pub title: String,
    /// The verdict table's rows.
    pub claims: Vec<Claim>,
    /// The sections, in the paper's order.
    pub sections: Vec<Section>,
    /// Extra CSS for the interactive views, appended to the page's own.
    pub css: String,
    /// JSON data for the script, embedded as `<script type="application/json"
    /// id="report-data">` (not executed; `<` is written as `\u003c` so the text cannot close
    /// the element). `None` for none.
    pub data: Option<String>,
    /// One inline script (`None` for a static page). The Content-Security-Policy allows exactly
    /// this script by its SHA-256 hash ([`script_hash`]), never `'unsafe-inline'`.
    pub script: Option<String>,
}

/// The CSP source of an inline script: `'sha256-<base64 of SHA-256 of its text>'`, the form
/// that `script-src` accepts (CSP Level 2, "hash-source").
pub fn script_hash(script: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(script.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

use crate::words::escape_html as esc;

/// Drops an XML prolog or doctype before the `<svg` element so the text can be inlined.
fn inline_svg(svg: &str) -> Result<&str, PlotError> {
    let start = svg
        .find("<svg")
        .ok_or_else(|| invalid("report_html", "figure text has no <svg element"))?;
    Ok(svg[start..].trim_end())
}

const CSS: &str = "
:root{color-scheme:light dark;--bg:#fff;--fg:#1a1a1a;--mute:#555;--line:#ccc;--ok:#1b7f3b;--no:#b3261e;--mid:#8a6d00}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e6e6e6;--mute:#aaa;--line:#444;--ok:#5cd68a;--no:#ff8a80;--mid:#f2c94c}
 figure svg{background:#fff;border-radius:4px}}
body{margin:0 auto;max-width:72rem;padding:1rem;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,sans-serif}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
.v-holds{color:var(--ok);font-weight:600}.v-does-not-hold{color:var(--no);font-weight:600}.v-inconclusive{color:var(--mid);font-weight:600}
.rule{color:var(--mute);font-size:.9em}figure{margin:0;overflow-x:auto}figure svg{max-width:100%;height:auto}
@media (max-width:600px){body{font-size:14px;padding:.5rem}th,td{padding:.2rem .3rem}}
";

/// Renders the page as one HTML string (no external resource).
pub fn render_report_html(report: &HtmlReport) -> Result<String, PlotError> {
    let mut h = String::new();
    let script_src = report
        .script
        .as_deref()
        .map(|s| format!("; script-src {}", script_hash(s)))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:{script_src}\">\
<title>{}</title><style>{CSS}{}</style></head><body>\n<h1>{}</h1>\n",
        esc(&report.title),
        report.css,
        esc(&report.title)
    );
    h.push_str("<section id=\"verdicts\"><h2>Verdicts</h2>\n<table id=\"verdict-table\"><thead><tr><th>Claim</th><th>Paper</th><th>Ours</th><th>Baseline</th><th>Verdict</th></tr></thead><tbody>\n");
    for c in &report.claims {
        let v = c.verdict.label();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"v-{}\">{}</td></tr>",
            esc(&c.claim),
            esc(&c.paper),
            esc(&c.ours),
            esc(&c.baseline),
            v.replace(' ', "-"),
            v
        );
    }
    let _ = writeln!(
        h,
        "</tbody></table>\n<p class=\"rule\">{}</p></section>",
        esc(VERDICT_RULE)
    );
    for (i, s) in report.sections.iter().enumerate() {
        let _ = writeln!(h, "<section id=\"s{i}\"><h2>{}</h2>", esc(&s.heading));
        if let Some(svg) = &s.svg {
            let _ = writeln!(h, "<figure>{}</figure>", inline_svg(svg)?);
        }
        if let Some(frag) = &s.html {
            h.push_str(frag);
            h.push('\n');
        }
        if !s.numbers.is_empty() {
            h.push_str("<table>");
            for (k, v) in &s.numbers {
                let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
            }
            h.push_str("</table>\n");
        }
        let _ = writeln!(h, "<p>{}</p></section>", esc(&s.paragraph));
    }
    if let Some(data) = &report.data {
        let _ = writeln!(
            h,
            "<script type=\"application/json\" id=\"report-data\">{}</script>",
            data.replace('<', "\\u003c")
        );
    }
    if let Some(script) = &report.script {
        if script.contains("</script") {
            return Err(invalid("report_html", "the script contains </script"));
        }
        let _ = writeln!(h, "<script>{script}</script>");
    }
    h.push_str("</body></html>\n");
    check_self_contained(&h)?;
    Ok(h)
}

/// Checks that `html` requests nothing from a network: no `src`/`href`/`url(` naming
/// `http:`, `https:` or a protocol-relative `//` address, and no `fetch(` or `XMLHttpRequest`.
pub fn check_self_contained(html: &str) -> Result<(), PlotError> {
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "url(", "@import"] {
        for (pos, _) in lower.match_indices(attr) {
            let rest = lower[pos + attr.len()..].trim_start_matches(['"', '\'', ' ']);
            if rest.starts_with("http:") || rest.starts_with("https:") || rest.starts_with("//") {
                return Err(invalid(
                    "report_html",
                    format!(
                        "external reference at byte {pos}: {attr}{}",
                        &rest[..rest.len().min(40)]
                    ),
                ));
            }
        }
    }
    for call in ["fetch(", "xmlhttprequest", "websocket("] {
        if lower.contains(call) {
            return Err(invalid(
                "report_html",
                format!("network call {call} in the page"),
            ));
        }
    }
    Ok(())
}

/// Renders `report` and writes it to `path` atomically (temporary file, then rename), refusing a
/// page over [`MAX_HTML_BYTES`].
pub fn write_report_html(report: &HtmlReport, path: &Path) -> Result<(), PlotError> {
    let html = render_report_html(report)?;
    if html.len() > MAX_HTML_BYTES {
        return Err(invalid(
            "report_html",
            format!(
                "{} would be {} bytes, over the bound of {MAX_HTML_BYTES}",
                path.display(),
                html.len()
            ),
        ));
    }
    write_atomic(path, html.as_bytes())
}

/// The same verdict table as Markdown, for the top of `report.md` (issue 25 item 3).
pub fn verdict_table_markdown(claims: &[Claim]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut m =
        String::from("| Claim | Paper | Ours | Baseline | Verdict |\n|---|---|---|---|---|\n");
    for c in claims {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | **{}** |",
            cell(&c.claim),
            cell(&c.paper),
            cell(&c.ours),
            cell(&c.baseline),
            c.verdict.label()
        );
    }
    let _ = writeln!(m, "\n{VERDICT_RULE}");
    m
}
