//! Writes a demonstration `report.html` (a spectrum figure and two claims) into the folder named
//! by the first argument, for looking at the page in a browser:
//! `cargo run -p kann-plot --example report_html_demo -- /tmp/demo`.

use kann_plot::{Claim, HtmlReport, Section, SpectrumFigure, spectrum, verdict, write_report_html};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: report_html_demo DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let ev = [(0.999, 0.0), (0.95, 0.2), (0.95, -0.2), (0.5, 0.0)];
    let paths = spectrum(&dir, "spectrum", &SpectrumFigure::new("Demo spectrum", &ev))?;
    let report = HtmlReport {
        title: "Demonstration page (made-up numbers, not a result)".into(),
        claims: vec![
            Claim {
                claim: "demo claim A".into(),
                paper: "0.90".into(),
                ours: "0.81".into(),
                baseline: "0.50".into(),
                verdict: verdict(0.81, 0.50, 0.05),
            },
            Claim {
                claim: "demo claim B".into(),
                paper: "0.90".into(),
                ours: "0.49".into(),
                baseline: "0.50".into(),
                verdict: verdict(0.49, 0.50, 0.05),
            },
        ],
        sections: vec![Section {
            heading: "Spectrum (Eq. 4, Eq. 9)".into(),
            svg: Some(std::fs::read_to_string(&paths.svg)?),
            numbers: vec![("|λ1|".into(), "0.999".into())],
            paragraph: "Demonstration section.".into(),
            ..Section::default()
        }],
        ..HtmlReport::default()
    };
    let out = dir.join("report.html");
    write_report_html(&report, &out)?;
    println!("{}", out.display());
    Ok(())
}
