//! `analyze states --bootstrap N`: resampling intervals on every eigenpair, end to end through
//! the binary on a planted noisy linear system written as .npy.

use kann_koopman::io::{NpyDtype, write_float_npy};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn normal(r: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u: f64 = r.random_range(1e-12..1.0);
    let v: f64 = r.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// `x_{t+1} = A x_t + 0.1 ξ_t`, `A` block-diagonal: a rotation by 0.3 rad scaled to 0.95 and
/// the real modes 0.8 and -0.5 (known eigenvalues); `[s = 30, n = 60, k = 4]`.
fn planted_states() -> (Vec<f64>, [usize; 3]) {
    let (s, n, k) = (30, 60, 4);
    let (c, si) = (0.95 * 0.3f64.cos(), 0.95 * 0.3f64.sin());
    let mut r = ChaCha8Rng::seed_from_u64(7);
    let mut data = Vec::with_capacity(s * n * k);
    for _ in 0..s {
        let mut x: Vec<f64> = (0..k).map(|_| 2.0 * normal(&mut r)).collect();
        for _ in 0..n {
            data.extend_from_slice(&x);
            let e: Vec<f64> = (0..k).map(|_| 0.1 * normal(&mut r)).collect();
            x = vec![
                c * x[0] - si * x[1] + e[0],
                si * x[0] + c * x[1] + e[1],
                0.8 * x[2] + e[2],
                -0.5 * x[3] + e[3],
            ];
        }
    }
    (data, [s, n, k])
}

fn write_planted(dir: &Path) -> String {
    let (data, shape) = planted_states();
    let file = dir.join("h.npy");
    write_float_npy(&file, &data, &shape, NpyDtype::F64).unwrap();
    file.to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
        .arg("states")
        .args(args)
        .output()
        .unwrap()
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "analyze states {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The report with every resampling field taken out.
fn without_intervals(mut rep: Value) -> Value {
    rep.as_object_mut().unwrap().remove("bootstrap");
    for e in rep["eigen"].as_array_mut().unwrap() {
        let e = e.as_object_mut().unwrap();
        for key in [
            "modulus_ci",
            "tau_ci",
            "re_ci",
            "im_ci",
            "match_fraction",
            "pair_fraction",
        ] {
            e.remove(key);
        }
    }
    rep
}

#[test]
fn bootstrap_zero_is_the_plain_analysis_and_intervals_leave_the_estimates_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_planted(dir.path());
    let plain: Value =
        serde_json::from_str(&run_ok(&[&file, "--json", "--bootstrap", "0"])).unwrap();
    assert!(plain.get("bootstrap").is_none());
    assert!(plain["eigen"][0].get("modulus_ci").is_none());
    let boot: Value =
        serde_json::from_str(&run_ok(&[&file, "--json", "--bootstrap", "30"])).unwrap();
    assert!(boot.get("bootstrap").is_some());
    // Every point estimate, count and warning is the same with or without intervals.
    assert_eq!(without_intervals(boot), plain);
    // The table: no interval columns with --bootstrap 0, and they appear with N > 0.
    let text = run_ok(&[&file, "--bootstrap", "0"]);
    assert!(!text.contains("interval"), "{text}");
    let text = run_ok(&[&file, "--bootstrap", "30"]);
    assert!(
        text.contains("|lambda| interval")
            && text.contains("30 bootstrap replicates of the 30 sequences"),
        "{text}"
    );
}

#[test]
fn seeded_runs_are_identical_and_the_seed_matters() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_planted(dir.path());
    let args = |seed: &'static str| [file.as_str(), "--json", "--bootstrap", "40", "--seed", seed];
    let first = run_ok(&args("3"));
    let second = run_ok(&args("3"));
    assert_eq!(first, second);
    let other = run_ok(&args("4"));
    assert_ne!(first, other);
}

#[test]
fn intervals_exist_and_bracket_the_planted_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_planted(dir.path());
    for scheme in ["bootstrap", "subsample"] {
        let rep: Value = serde_json::from_str(&run_ok(&[
            &file,
            "--json",
            "--rank",
            "4",
            "--bootstrap",
            "200",
            "--scheme",
            scheme,
            "--seed",
            "1",
        ]))
        .unwrap();
        let b = &rep["bootstrap"];
        assert_eq!(b["scheme"], scheme);
        assert_eq!(b["replicates"], 200);
        assert_eq!(b["failed"], 0);
        assert_eq!(b["level"], 0.95);
        assert_eq!(b["seed"], 1);
        assert_eq!(b["sequences"], 30);
        // Two modes above 0.99? None: 0.95 is the largest, and every replicate agrees.
        assert_eq!(b["num_dominant_ci"], serde_json::json!([0.0, 0.0]));
        let eig = rep["eigen"].as_array().unwrap();
        assert_eq!(eig.len(), 4);
        let truth = [0.95, 0.95, 0.8, 0.5];
        for (e, t) in eig.iter().zip(truth) {
            let m = e["modulus"].as_f64().unwrap();
            let ci = e["modulus_ci"].as_array().unwrap();
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            assert!(lo <= m && m <= hi, "{scheme}: {m} not in [{lo}, {hi}]");
            // Narrow on this well-determined system, and near the planted modulus.
            assert!(hi - lo < 0.05, "{scheme}: [{lo}, {hi}]");
            assert!((m - t).abs() < 0.03, "{scheme}: {m} vs planted {t}");
            for (key, point) in [("re_ci", "re"), ("im_ci", "im")] {
                let ci = e[key].as_array().unwrap();
                let p = e[point].as_f64().unwrap();
                assert!(
                    ci[0].as_f64().unwrap() <= p && p <= ci[1].as_f64().unwrap(),
                    "{scheme} {key}: {p} not in {ci:?}"
                );
            }
            let tau = e["tau"].as_f64().unwrap();
            let tci = e["tau_ci"].as_array().unwrap();
            assert!(tci[0].as_f64().unwrap() <= tau && tau <= tci[1].as_f64().unwrap());
            // Well separated modes: every replicate has its match, and the pair stays a pair.
            assert_eq!(e["match_fraction"], 1.0);
            if e["im"].as_f64().unwrap() != 0.0 {
                assert_eq!(e["pair_fraction"], 1.0);
            } else {
                assert!(e["pair_fraction"].is_null());
            }
        }
    }
}

#[test]
fn one_sequence_gets_no_intervals_and_asking_for_them_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (data, [_, n, k]) = planted_states();
    let file = dir.path().join("one.npy");
    write_float_npy(&file, &data[..n * k], &[n, k], NpyDtype::F64).unwrap();
    let f = file.to_str().unwrap();
    let rep: Value = serde_json::from_str(&run_ok(&[f, "--json"])).unwrap();
    assert!(rep.get("bootstrap").is_none());
    let warned = rep["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("only one"));
    assert!(warned, "{rep}");
    let out = run(&[f, "--bootstrap", "10"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("one.npy") && err.contains("at least 2"),
        "{err}"
    );
    let out = run(&[f, "--level", "1.5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--level"));
}
