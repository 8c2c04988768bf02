//! Checks of `report.html` and of the verdict table at the top of `report.md` shared by the
//! end-to-end tests (issue 25).

use std::path::Path;

use kann_plot::{Claim, MAX_HTML_BYTES, check_self_contained, script_hash, verdict_table_markdown};

/// `report.html` of `run` passes [`check_page`]; `report.md` opens with the same table.
/// Returns the page.
pub fn check_report_html(run: &Path, claims: &[Claim], min_figures: usize) -> String {
    let html = check_page(run, "report.html", claims, min_figures);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.starts_with(&verdict_table_markdown(claims)),
        "report.md opens with the verdict table:\n{}",
        &md[..md.len().min(600)]
    );
    html
}

/// The page `name` of `run` is self-contained, within the size bound, opens with a verdict table
/// whose rows are `claims` (in order, with their verdicts), inlines at least `min_figures` SVG
/// figures, allows its script (if any) by hash only. Returns the page.
pub fn check_page(run: &Path, name: &str, claims: &[Claim], min_figures: usize) -> String {
    let path = run.join(name);
    let html = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    assert!(html.len() <= MAX_HTML_BYTES, "{} bytes", html.len());
    check_self_contained(&html).expect("no external reference");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("default-src 'none'"),
        "CSP blocks every request"
    );
    // The verdict table comes first, one row per claim, the verdicts in order.
    let table = html
        .find("<table id=\"verdict-table\">")
        .expect("verdict table");
    let first_section = html.find("<section id=\"s0\">").expect("a section");
    assert!(table < first_section, "the verdict table opens the page");
    let body_start = table + html[table..].find("<tbody>").unwrap();
    let body_end = body_start + html[body_start..].find("</tbody>").unwrap();
    let rows: Vec<&str> = html[body_start..body_end].matches("<tr>").collect();
    assert_eq!(rows.len(), claims.len(), "one row per claim");
    let verdicts: Vec<String> = html[body_start..body_end]
        .split("<td class=\"v-")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].replace('-', " "))
        .collect();
    let expected: Vec<String> = claims.iter().map(|c| c.verdict.label().into()).collect();
    assert_eq!(verdicts, expected);
    assert!(
        html.matches("<figure><svg").count() >= min_figures,
        "figures inlined"
    );
    // The script, if any, is allowed by its hash and nothing else.
    if let Some(start) = html.find("<script>") {
        let end = start + html[start..].find("</script>").unwrap();
        let script = &html[start + "<script>".len()..end];
        assert!(html.contains(&format!("script-src {}", script_hash(script))));
        assert!(!html.contains("script-src 'unsafe-inline'"));
        assert!(!html.contains("'unsafe-eval'"));
        assert!(html.contains("id=\"report-data\""), "the script's data");
    }
    html
}
