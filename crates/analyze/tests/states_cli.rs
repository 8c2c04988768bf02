//! `analyze states` end to end: a known linear system written as .npy, read back by the binary.

use kann_koopman::io::{NpyDtype, write_float_npy};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// States of `x_{t+1} = A x_t` with `A` block-diagonal: a rotation by 0.3 rad on the unit
/// circle and a real mode 0.9, from different initial states; `[s = 4, n = 30, k = 3]`.
fn linear_states() -> Vec<f64> {
    let (s, n) = (4, 30);
    let (c, si) = (0.3f64.cos(), 0.3f64.sin());
    let mut data = Vec::with_capacity(s * n * 3);
    for i in 0..s {
        let mut x = [1.0 + i as f64, 0.5 - 0.3 * i as f64, 2.0 - 0.7 * i as f64];
        for _ in 0..n {
            data.extend_from_slice(&x);
            x = [c * x[0] - si * x[1], si * x[0] + c * x[1], 0.9 * x[2]];
        }
    }
    data
}

fn analyze() -> Command {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
}

#[test]
fn states_json_reports_the_known_spectrum() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.npy");
    write_float_npy(&file, &linear_states(), &[4, 30, 3], NpyDtype::F64).unwrap();
    let out = analyze()
        .args(["states", file.to_str().unwrap(), "--rank", "3", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let eig = rep["eigen"].as_array().unwrap();
    assert_eq!(eig.len(), 3);
    // The rotation pair first (|lambda| = 1, infinite memory), then 0.9 with tau of Eq. 9.
    for e in &eig[..2] {
        assert!((e["modulus"].as_f64().unwrap() - 1.0).abs() < 1e-9);
        assert!(e["tau"].is_null());
        assert_eq!(e["memory"], "infinite");
        assert_eq!(e["stability"], "Marginal");
    }
    assert_eq!(eig[2]["memory"], "finite");
    // An exact system: every mode resolved; the summary counts |lambda| > 0.99.
    assert_eq!(rep["num_spurious"], 0);
    assert_eq!(rep["num_dominant"], 2);
    assert_eq!(rep["num_infinite"], 2);
    assert_eq!(rep["input"]["file"], file.to_str().unwrap());
    assert_eq!(rep["input"]["read_as"], serde_json::json!([4, 30, 3]));
    assert_eq!(rep["input"]["lengths_applied"], false);
    assert_eq!(rep["fit_steps"], "real");
    assert!((eig[0]["im"].as_f64().unwrap() - 0.3f64.sin()).abs() < 1e-9);
    let tau = eig[2]["tau"].as_f64().unwrap();
    assert!((tau - 0.01f64.ln() / 0.9f64.ln()).abs() < 1e-6);
    assert!(rep["relative_error"]["e_rel"].as_f64().unwrap() < 1e-20);
    // The readable table says the same.
    let out = analyze()
        .args(["states", file.to_str().unwrap(), "--rank", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("inf") && text.contains("43.7"), "{text}");
    assert!(
        text.contains("spectrum: 3 eigenvalues; 2 with |lambda| > 0.99 (2 of infinite memory, 0 unstable); 0 unresolved"),
        "{text}"
    );
    assert!(
        text.contains("read as [B=4, T=30, H=3] (--layout bth"),
        "{text}"
    );
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn states_bad_inputs_fail_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.npy");
    write_float_npy(&file, &linear_states(), &[4, 30, 3], NpyDtype::F32).unwrap();
    let run = |args: &[&str]| {
        let out = analyze().arg("states").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let f = file.to_str().unwrap();
    let err = run(&[f, "--rank", "7"]);
    assert!(err.contains("invalid rank 7"), "{err}");
    let missing = dir.path().join("nope.npy");
    let err = run(&[missing.to_str().unwrap()]);
    assert!(err.contains("nope.npy"), "{err}");
    let lengths = dir.path().join("len.npy");
    write_float_npy(&lengths, &[30.0, 31.0, 2.0, 3.0], &[4], NpyDtype::F64).unwrap();
    let err = run(&[f, "--lengths", lengths.to_str().unwrap()]);
    assert!(err.contains("len.npy") && err.contains("31"), "{err}");
    let err = run(&[f, "--eps", "2"]);
    assert!(err.contains("eps"), "{err}");
    // Bad numeric settings are refused with the flag and its range named (issue 12 item 6).
    for (flag, value) in [
        ("--unit-tol", "-1"),
        ("--unit-tol", "nan"),
        ("--min-snr", "nan"),
        ("--ridge-alpha", "-1"),
    ] {
        let arg = format!("{flag}={value}");
        let err = run(&[f, &arg]);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

fn normal(r: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = r.random::<f64>().max(1e-300);
    let u2: f64 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// GRU-like states `[s, n, k]`: `h ← 0.8 h + 0.2 tanh(W h + u x_t)` from `h = 0`, random inputs.
fn leaky_rnn(s: usize, n: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..k * k)
        .map(|_| 1.2 * normal(&mut r) / (k as f64).sqrt())
        .collect();
    let u: Vec<f64> = (0..k).map(|_| normal(&mut r)).collect();
    let mut data = vec![0.0; s * n * k];
    for i in 0..s {
        let mut h = vec![0.0; k];
        for t in 0..n {
            let x = 0.3 * normal(&mut r);
            h = (0..k)
                .map(|a| {
                    let z: f64 = (0..k).map(|b| w[a * k + b] * h[b]).sum::<f64>() + u[a] * x;
                    0.8 * h[a] + 0.2 * z.tanh()
                })
                .collect();
            data[(i * n + t) * k..(i * n + t + 1) * k].copy_from_slice(&h);
        }
    }
    data
}

fn run_ok(args: &[&str]) -> String {
    let out = analyze().arg("states").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn run_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&run_ok(&all)).unwrap()
}

fn run_err(args: &[&str]) -> String {
    let out = analyze().arg("states").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail cleanly");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn eigenvalues(rep: &Value) -> Vec<(f64, f64)> {
    rep["eigen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["re"].as_f64().unwrap(), e["im"].as_f64().unwrap()))
        .collect()
}

/// A zero-padded batch `[6, 40, 8]` as the hooks of `analyze imdb` write it: states.npy (f32),
/// lengths.npy (u64).
fn padded_batch(dir: &Path, nan_in_padding: bool) -> (String, String, Vec<usize>) {
    let (b, t, h) = (6, 40, 8);
    let lengths = vec![40usize, 25, 31, 12, 40, 18];
    let mut data = leaky_rnn(b, t, h, 11);
    for (i, &len) in lengths.iter().enumerate() {
        for x in &mut data[(i * t + len) * h..(i + 1) * t * h] {
            *x = 0.0;
        }
    }
    if nan_in_padding {
        data[(3 * t + 20) * h + 2] = f64::NAN;
    }
    let states = dir.join(if nan_in_padding {
        "nan.npy"
    } else {
        "states.npy"
    });
    write_float_npy(&states, &data, &[b, t, h], NpyDtype::F32).unwrap();
    let len_file = dir.join("lengths.npy");
    let l64: Vec<u64> = lengths.iter().map(|&l| l as u64).collect();
    kann_models::npy::write_u64(&len_file, &[l64.len()], &l64).unwrap();
    (s(&states).to_string(), s(&len_file).to_string(), lengths)
}

#[test]
fn padded_batches_warn_without_lengths_and_fit_all_scores_real_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (f, l, lengths) = padded_batch(dir.path(), false);
    let real_targets: usize = lengths.iter().map(|l| l - 1).sum();
    let padded = 6 * 40 - lengths.iter().sum::<usize>();
    // No lengths: the zero padding is fitted as data, and the output says so.
    let text = run_ok(&[&f]);
    assert!(
        text.contains(&format!("{padded} of 240 rows"))
            && text.contains("looks like zero padding")
            && text.contains("pass --lengths"),
        "{text}"
    );
    assert!(
        text.contains("e_rel (Eq. 12) on all steps (no --lengths given"),
        "{text}"
    );
    let none = run_json(&[&f]);
    // With lengths, fit and score the real steps: no warning, labelled e_rel.
    let text = run_ok(&[&f, "--lengths", &l]);
    assert!(!text.contains("warning"), "{text}");
    assert!(
        text.contains("e_rel (Eq. 12) on real steps (1 <= t < length) = ")
            && text.contains(&format!("over {real_targets} targets")),
        "{text}"
    );
    assert!(
        text.contains("e_rel (Eq. 12) on all steps incl. padding"),
        "{text}"
    );
    let real = run_json(&[&f, "--lengths", &l]);
    // The [B, T] u8 mask that `StateHooks::write_npy` writes gives the same analysis.
    let mask: Vec<u8> = (0..6 * 40)
        .map(|p| u8::from(p % 40 < lengths[p / 40]))
        .collect();
    let mask_file = dir.path().join("mask.npy");
    kann_models::npy::write_u8(&mask_file, &[6, 40], &mask).unwrap();
    let masked = run_json(&[&f, "--lengths", s(&mask_file)]);
    assert_eq!(eigenvalues(&masked), eigenvalues(&real));
    assert_eq!(masked["relative_error"], real["relative_error"]);
    assert_eq!(real["input"]["lengths_applied"], true);
    assert_eq!(real["input"]["padded_steps"], padded);
    assert_eq!(real["fit_steps"], "real");
    assert_eq!(real["num_pairs"], real_targets);
    assert_eq!(real["relative_error"]["count"], real_targets);
    // Fit on all steps, score on real: the operator is the one fitted without lengths, e_rel
    // covers the real steps, and e_rel on all steps equals the no-lengths e_rel.
    let all = run_json(&[&f, "--lengths", &l, "--fit-steps", "all"]);
    assert_eq!(all["fit_steps"], "all");
    assert_eq!(all["num_pairs"], 6 * 39);
    assert_eq!(eigenvalues(&all), eigenvalues(&none));
    assert_eq!(all["relative_error"]["count"], real_targets);
    assert_eq!(all["relative_error_all_steps"], none["relative_error"]);
    assert_ne!(all["relative_error"], none["relative_error"]);
    assert_ne!(eigenvalues(&all), eigenvalues(&real));
}

#[test]
fn nan_in_padded_steps_is_allowed_unless_the_padding_is_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let (f, l, _) = padded_batch(dir.path(), true);
    let rep = run_json(&[&f, "--lengths", &l]);
    assert!(rep["relative_error"]["e_rel"].as_f64().unwrap().is_finite());
    assert!(rep["relative_error_all_steps"].is_null());
    let text = run_ok(&[&f, "--lengths", &l]);
    assert!(text.contains("padded steps are not finite"), "{text}");
    let err = run_err(&[&f, "--lengths", &l, "--fit-steps", "all"]);
    assert!(
        err.contains("sequence 3, time 20, unit 2") && err.contains("--fit-steps all"),
        "{err}"
    );
    let err = run_err(&[&f]);
    assert!(
        err.contains("nan.npy") && err.contains("sequence 3, time 20") && err.contains("--lengths"),
        "{err}"
    );
}

#[test]
fn time_major_and_stacked_arrays_are_read_as_declared_or_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let (b, t, h) = (8, 50, 6);
    let data = leaky_rnn(b, t, h, 12);
    let bth = dir.path().join("bth.npy");
    write_float_npy(&bth, &data, &[b, t, h], NpyDtype::F64).unwrap();
    let mut tm = Vec::with_capacity(data.len());
    for step in 0..t {
        for i in 0..b {
            tm.extend_from_slice(&data[(i * t + step) * h..(i * t + step + 1) * h]);
        }
    }
    let tbh = dir.path().join("tbh.npy");
    write_float_npy(&tbh, &tm, &[t, b, h], NpyDtype::F64).unwrap();
    let flat = dir.path().join("flat.npy");
    write_float_npy(&flat, &data, &[b * t, h], NpyDtype::F64).unwrap();

    let want = run_json(&[s(&bth)]);
    assert!(want["warnings"].as_array().unwrap().is_empty(), "{want}");
    // Time-major read with --layout tbh: the same analysis, and the reading is echoed.
    let got = run_json(&[s(&tbh), "--layout", "tbh"]);
    assert_eq!(got["input"]["layout"], "tbh");
    assert_eq!(got["input"]["file_shape"], serde_json::json!([t, b, h]));
    assert_eq!(got["input"]["read_as"], serde_json::json!([b, t, h]));
    assert_eq!(eigenvalues(&got), eigenvalues(&want));
    assert_eq!(got["relative_error"], want["relative_error"]);
    let text = run_ok(&[s(&tbh), "--layout", "tbh"]);
    assert!(
        text.contains("read as [B=8, T=50, H=6] (--layout tbh: time, batch, hidden)"),
        "{text}"
    );
    // ... and without it: a worse e_rel, and a warning that names the fix.
    let text = run_ok(&[s(&tbh)]);
    assert!(
        text.contains("read as [B=50, T=8, H=6]") && text.contains("pass --layout tbh"),
        "{text}"
    );
    let wrong = run_json(&[s(&tbh)]);
    let e = |r: &Value| r["relative_error"]["e_rel"].as_f64().unwrap();
    assert!(e(&wrong) > 3.0 * e(&want), "{} vs {}", e(&wrong), e(&want));
    // Stacked [B*T, H]: flagged with the period, and --seq-len reads it right.
    let text = run_ok(&[s(&flat)]);
    assert!(
        text.contains("looks like 8 sequences of 50 steps stacked")
            && text.contains("--seq-len 50"),
        "{text}"
    );
    let split = run_json(&[s(&flat), "--seq-len", "50"]);
    assert_eq!(eigenvalues(&split), eigenvalues(&want));
    assert!(split["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn crafted_headers_fail_with_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, shape: &str| {
        let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let p = write("empty.npy", "(1000000000000, 0, 8)");
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 128);
    let err = run_err(&[s(&p)]);
    assert!(
        err.contains("empty.npy") && err.contains("empty dimension"),
        "{err}"
    );
    let p = write("huge.npy", "(9223372036854775808, 2, 1)");
    let err = run_err(&[s(&p)]);
    assert!(err.contains("huge.npy") && err.contains("2^64"), "{err}");
}
