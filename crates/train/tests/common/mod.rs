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
