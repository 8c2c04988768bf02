//! `analyze states --html PAGE`: the page exists, is self-contained, holds the verdict table and
//! the numbers of the `--out` JSON; the JSON without `--html` is unchanged by it; the page is
//! never written over an input.

use kann_koopman::io::{NpyDtype, write_float_npy};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn normal(r: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = r.random::<f64>().max(1e-300);
    let u2: f64 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// GRU-like states `[s, n, k]`: `h ← 0.9 h + 0.1 tanh(W h + u x_t)`, random inputs.
fn leaky_rnn(s: usize, n: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..k * k)
        .map(|_| 1.2 * normal(&mut r) / (k as f64).sqrt())
        .collect();
    let u: Vec<f64> = (0..k).map(|_| normal(&mut r)).collect();
    let mut data = Vec::with_capacity(s * n * k);
    for _ in 0..s {
        let mut h = vec![0.0; k];
        for _ in 0..n {
            let x = 0.3 * normal(&mut r);
            h = (0..k)
                .map(|a| {
                    let z: f64 = (0..k).map(|b| w[a * k + b] * h[b]).sum::<f64>() + u[a] * x;
                    0.9 * h[a] + 0.1 * z.tanh()
                })
                .collect();
            data.extend_from_slice(&h);
        }
    }
    data
}

fn states(dir: &Path, s: usize) -> std::path::PathBuf {
    let file = dir.join("h.npy");
    write_float_npy(&file, &leaky_rnn(s, 60, 6, 3), &[s, 60, 6], NpyDtype::F64).unwrap();
    file
}

fn run(args: &[&Path], flags: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
        .arg("states")
        .args(args)
        .args(flags)
        .output()
        .unwrap()
}

fn run_ok(file: &Path, flags: &[&str]) -> String {
    let o = run(&[file], flags);
    assert!(
        o.status.success(),
        "{flags:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_page_is_self_contained_and_holds_the_json_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = states(dir.path(), 10);
    let (json, html, plain) = (
        dir.path().join("r.json"),
        dir.path().join("r.html"),
        dir.path().join("plain.json"),
    );
    let f = |p: &Path| p.to_str().unwrap().to_string();
    run_ok(&file, &["--bootstrap", "30", "--out", &f(&plain)]);
    run_ok(
        &file,
        &["--bootstrap", "30", "--out", &f(&json), "--html", &f(&html)],
    );
    let page = std::fs::read_to_string(&html).unwrap();
    kann_plot::check_self_contained(&page).unwrap();
    let lower = page.to_ascii_lowercase();
    for bad in ["src=\"http", "href=\"http", "src='http", "href='http"] {
        assert!(!lower.contains(bad), "external reference {bad}");
    }
    assert!(page.len() < kann_plot::MAX_HTML_BYTES);
    assert!(page.contains("<svg"), "spectrum not inlined");
    assert!(page.contains("id=\"verdict-table\""));
    assert_eq!(
        page.matches("<td class=\"v-").count(),
        2,
        "two verdict rows"
    );

    // The page's numbers are the JSON's.
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &rep["e_rel_trivial"];
    let ci = &c["intervals"];
    assert!(ci.is_object(), "intervals with --bootstrap 30: {c}");
    for v in [
        &ci["kann"],
        &ci["trivial"],
        &ci["kann_ci"][0],
        &ci["trivial_ci"][1],
    ] {
        let s = format!("{:.4}", v.as_f64().unwrap());
        assert!(page.contains(&s), "{s} not on the page");
    }
    let e_rel = format!("{:.6}", rep["relative_error"]["e_rel"].as_f64().unwrap());
    assert!(page.contains(&e_rel), "e_rel {e_rel} not on the page");
    let b = &rep["bootstrap"]["num_dominant_ci"];
    let count = format!(
        "{} [{}, {}]",
        rep["num_dominant"],
        b[0].as_f64().unwrap(),
        b[1].as_f64().unwrap()
    );
    assert!(page.contains(&count), "count {count} not on the page");
    // The e_rel row's verdict follows the interval rule (margin 10% of the trivial e_rel).
    let verdict = kann_plot::verdict_from_interval(
        [
            ci["difference_ci"][0].as_f64().unwrap(),
            ci["difference_ci"][1].as_f64().unwrap(),
        ],
        0.1 * ci["trivial"].as_f64().unwrap(),
    )
    .label();
    let first = page.split("<td class=\"v-").nth(1).unwrap();
    let shown = &first[first.find('>').unwrap() + 1..first.find('<').unwrap()];
    assert_eq!(shown, verdict, "the e_rel verdict does not follow the rule");

    // Without --html the JSON is as before: the page adds e_rel_trivial only.
    let mut with: Value = rep.clone();
    with.as_object_mut().unwrap().remove("e_rel_trivial");
    let without: Value = serde_json::from_str(&std::fs::read_to_string(&plain).unwrap()).unwrap();
    assert!(without.get("e_rel_trivial").is_none());
    assert_eq!(with, without);
}

#[test]
fn one_sequence_gives_the_point_verdict_without_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let file = states(dir.path(), 1);
    let html = dir.path().join("one.html");
    run_ok(&file, &["--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("no interval: one sequence"), "{page}");
}

#[test]
fn the_page_is_never_written_over_an_input_or_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = states(dir.path(), 4);
    let before = std::fs::read(&file).unwrap();
    let o = run(&[&file], &["--html", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--html") && err.contains("is the input"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before, "input changed");
    let same = dir.path().join("r.out");
    let s = same.to_str().unwrap();
    let o = run(&[&file], &["--out", s, "--html", s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("both name"));
    assert!(!same.exists(), "nothing written");
}
