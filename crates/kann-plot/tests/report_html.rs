//! `report.html` (issue 25): self-contained, verdict table with its rule, figures inlined, size bound.

use kann_plot::{
    Claim, HtmlReport, MAX_HTML_BYTES, Section, SpectrumFigure, VERDICT_RULE, Verdict,
    check_self_contained, render_report_html, spectrum, verdict, verdict_from_interval,
    verdict_table_markdown, write_report_html,
};

fn claims() -> Vec<Claim> {
    vec![
        Claim {
            claim: "Sentiment read from a few modes (Sec. 4.1)".into(),
            paper: "acc 0.89".into(),
            ours: "0.81".into(),
            baseline: "majority 0.50".into(),
            verdict: verdict(0.81, 0.50, 0.05),
        },
        Claim {
            claim: "Copy <task> & memory <horizon>".into(),
            paper: "-".into(),
            ours: "0.49".into(),
            baseline: "0.50".into(),
            verdict: verdict(0.49, 0.50, 0.05),
        },
    ]
}

#[test]
fn verdict_rule_is_the_stated_one() {
    assert_eq!(verdict(0.81, 0.5, 0.05), Verdict::Holds);
    assert_eq!(verdict(0.5, 0.5, 0.05), Verdict::DoesNotHold);
    assert_eq!(verdict(0.52, 0.5, 0.05), Verdict::Inconclusive);
    assert_eq!(verdict(f64::NAN, 0.5, 0.05), Verdict::Inconclusive);
    // With an interval of the difference, the interval decides against the margin.
    assert_eq!(verdict_from_interval([0.06, 0.2], 0.05), Verdict::Holds);
    assert_eq!(
        verdict_from_interval([0.001, 0.04], 0.05),
        Verdict::DoesNotHold
    );
    assert_eq!(
        verdict_from_interval([0.02, 0.08], 0.05),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict_from_interval([f64::NAN, 0.2], 0.05),
        Verdict::Inconclusive
    );
    assert_eq!(
        verdict_from_interval([0.2, 0.1], 0.05),
        Verdict::Inconclusive
    );
}

#[test]
fn page_is_self_contained_with_verdicts_and_inline_figure() {
    let dir = tempfile::tempdir().unwrap();
    let ev = [(0.999, 0.0), (0.9, 0.1), (0.9, -0.1), (0.3, 0.0)];
    let paths = spectrum(
        dir.path(),
        "spectrum",
        &SpectrumFigure::new("Spectrum", &ev),
    )
    .unwrap();
    let svg = std::fs::read_to_string(&paths.svg).unwrap();
    let report = HtmlReport {
        title: "IMDB <analysis>".into(),
        claims: claims(),
        sections: vec![Section {
            heading: "Spectrum (Eq. 4, Eq. 9)".into(),
            svg: Some(svg),
            numbers: vec![("|λ1|".into(), "0.999".into())],
            paragraph: "One eigenvalue sits on the unit circle.".into(),
            ..Section::default()
        }],
        ..HtmlReport::default()
    };
    let out = dir.path().join("report.html");
    write_report_html(&report, &out).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.len() <= MAX_HTML_BYTES);
    check_self_contained(&html).unwrap();
    assert!(html.contains("id=\"verdict-table\""));
    assert!(html.contains("holds</td>") && html.contains("does not hold</td>"));
    assert!(html.contains(VERDICT_RULE));
    assert!(html.contains("IMDB &lt;analysis&gt;"), "title escaped");
    assert!(
        html.contains("<figure><svg"),
        "figure inlined without XML prolog"
    );
    assert!(html.contains("λ1"));
    assert!(html.contains("prefers-color-scheme:dark"));
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| !n.to_string_lossy().contains("tmp")),
        "{names:?}"
    );
}

#[test]
fn external_references_are_refused() {
    assert!(check_self_contained("<img src=\"https://x.org/a.png\">").is_err());
    assert!(check_self_contained("<link href='//cdn.x/a.css'>").is_err());
    assert!(check_self_contained("<script>fetch('a')</script>").is_err());
    assert!(check_self_contained("<a href=\"#s1\">x</a>").is_ok());
    let bad = HtmlReport {
        title: "t".into(),
        claims: vec![],
        sections: vec![Section {
            heading: "h".into(),
            svg: Some("<svg><image href=\"http://x/y.png\"/></svg>".into()),
            ..Section::default()
        }],
        ..HtmlReport::default()
    };
    assert!(render_report_html(&bad).is_err());
}

#[test]
fn markdown_table_matches_verdicts_and_escapes_pipes() {
    let md = verdict_table_markdown(&claims());
    assert!(md.starts_with("| Claim | Paper | Ours | Baseline | Verdict |"));
    assert!(md.contains("**holds**") && md.contains("**does not hold**"));
    assert!(md.contains(VERDICT_RULE));
    let c = Claim {
        claim: "a|b".into(),
        paper: "p".into(),
        ours: "o".into(),
        baseline: "b".into(),
        verdict: Verdict::Inconclusive,
    };
    assert!(verdict_table_markdown(&[c]).contains("a\\|b"));
}

#[test]
fn inline_script_is_allowed_by_its_hash_and_data_cannot_close_its_element() {
    // SHA-256 of the empty string and of "abc" (FIPS 180-2 test vectors), base64.
    assert_eq!(
        kann_plot::script_hash(""),
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    );
    assert_eq!(
        kann_plot::script_hash("abc"),
        "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='"
    );
    let script = "document.body.dataset.ready = '1';";
    let page = HtmlReport {
        title: "t".into(),
        data: Some("{\"word\":\"</script><script>alert(1)</script>\"}".into()),
        script: Some(script.into()),
        sections: vec![Section {
            heading: "h".into(),
            html: Some("<div id=\"widget\"></div>".into()),
            ..Section::default()
        }],
        ..HtmlReport::default()
    };
    let html = render_report_html(&page).unwrap();
    let csp = format!("script-src {}", kann_plot::script_hash(script));
    assert!(html.contains(&csp), "CSP allows the script by hash");
    assert!(
        !html.contains("unsafe-inline'; script") && !html.contains("script-src 'unsafe-inline'")
    );
    assert!(html.contains(&format!("<script>{script}</script>")));
    assert!(html.contains("<div id=\"widget\"></div>"));
    // Exactly one executable script and one data block; the data's "</script>" is escaped.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert!(html.contains("\\u003c/script>\\u003cscript>alert(1)"));
    // A static page has no script-src at all (default-src 'none' blocks every script).
    let plain = render_report_html(&HtmlReport::default()).unwrap();
    assert!(!plain.contains("script-src") && !plain.contains("<script"));
    // A script that would close its own element is refused.
    let bad = HtmlReport {
        script: Some("x = '</script>';".into()),
        ..HtmlReport::default()
    };
    assert!(render_report_html(&bad).is_err());
}
