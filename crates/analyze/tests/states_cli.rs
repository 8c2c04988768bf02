//! `analyze states` end to end: a known linear system written as .npy, read back by the binary.

use kann_koopman::io::{NpyDtype, write_float_npy};
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
        assert_eq!(e["stability"], "Marginal");
    }
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
}
