//! Helpers shared by the reliability tests: run the `train` binary from the workspace root with
//! one rayon thread and no test hook, and read its output.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn train() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    // Tests never reach the network: missing data is an error (tests/fetch.rs serves its own).
    c.current_dir(workspace())
        .env("RAYON_NUM_THREADS", "1")
        .env("KANN_OFFLINE", "1")
        .env_remove("KANN_TEST_HOOK");
    c
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run train");
    assert!(out.status.success(), "train failed:\n{}", text(&out));
    text(&out)
}

pub fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run train");
    assert!(
        !out.status.success(),
        "train should have failed:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `train <task> --config <config> --out <out>`.
pub fn start(task: &str, config: &Path, out: &Path) -> Command {
    let mut c = train();
    c.args([task, "--config"]).arg(config).arg("--out").arg(out);
    c
}

/// A fresh copy-task run of `configs/copy-smoke.toml` (no data files, about a second).
pub fn start_copy_smoke(out: &Path) -> Command {
    start("copy", &workspace().join("configs/copy-smoke.toml"), out)
}

/// `train <task> --resume --out <out>`.
pub fn resume(task: &str, out: &Path) -> Command {
    let mut c = train();
    c.args([task, "--resume", "--out"]).arg(out);
    c
}

/// `metrics.csv` of a run without its two timing columns.
pub fn metrics_without_times(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f[..f.len() - 2].join(",")
        })
        .collect()
}

/// Burnpack bytes with every tensor's `param_id` zeroed: burn draws those ids at random in each
/// process, so they differ between two runs that hold the same numbers.
pub fn without_param_ids(mut bytes: Vec<u8>) -> Vec<u8> {
    // CBOR in the header: the text "param_id" (0x68 + 8 bytes), then a u64 (0x1b + 8 bytes).
    let key = b"\x68param_id\x1b";
    let mut i = 0;
    while i + key.len() + 8 <= bytes.len() {
        if &bytes[i..i + key.len()] == key {
            let start = i + key.len();
            bytes[start..start + 8].fill(0);
            i = start + 8;
        } else {
            i += 1;
        }
    }
    bytes
}
