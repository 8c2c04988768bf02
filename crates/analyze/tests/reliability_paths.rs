//! Reliability, second pass (issue 19): `analyze` never writes its report over its own input
//! (class 2), never hangs on a FIFO given as input (class 8), and leaves no `run.lock` in a
//! folder that is not a run (class 9).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn analyze_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_analyze"));
    c.current_dir(workspace()).env("RAYON_NUM_THREADS", "1");
    c
}

/// A small, well-formed [B=4, T=12, H=3] float32 states array.
fn states_npy(path: &Path) {
    let data: Vec<f32> = (0..4 * 12 * 3)
        .map(|i| ((i as f32) * 0.37).sin() * 0.5 + ((i / 3) as f32 * 0.11).cos() * 0.2)
        .collect();
    kann_koopman::io::write_f32_npy(path, &data, &[4, 12, 3]).unwrap();
}

#[test]
fn states_refuses_to_write_its_report_over_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("x.npy");
    states_npy(&input);
    let before = std::fs::read(&input).unwrap();
    // The same file, and the same file through a link.
    let link = tmp.path().join("link.npy");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, &link).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(&input, &link).unwrap();
    for out in [&input, &link] {
        let o = analyze_bin()
            .arg("states")
            .arg(&input)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "accepted --out {}", out.display());
        assert!(err.contains("is the input"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_fifo_as_input_is_an_error_not_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("states.npy");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let mut child = analyze_bin()
        .arg("states")
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("analyze states hung on a FIFO");
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn analyze_on_a_folder_that_is_not_a_run_leaves_no_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let o = analyze_bin()
        .args(["copy", "--run"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a run folder"), "{err}");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notes.txt"]);
}

/// Class 3: `train --resume` marks the old analysis stale (the marker `analysis.incomplete`),
/// so it is never read as describing the new weights; `analyze compare` names a path that does
/// not exist instead of skipping it.
#[test]
fn resume_marks_the_old_analysis_stale_and_compare_names_a_missing_path() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("copy");
    let args = train::TrainArgs {
        config: Some(workspace().join("configs/copy-smoke.toml")),
        out: Some(run.clone()),
        ..Default::default()
    };
    train::run_copy(&args).expect("train copy smoke");
    let o = analyze_bin()
        .args(["copy", "--batch", "32", "--held-out", "64", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let marker = run.join(kann_models::run::ANALYSIS_INCOMPLETE_FILE);
    assert!(run.join("report.json").is_file() && !marker.exists());
    assert!(kann_models::run::report_is_current(&run));
    train::run_copy(&train::TrainArgs {
        config: None,
        resume: true,
        epochs: Some(3),
        ..args.clone()
    })
    .expect("resume to epoch 3");
    let text = std::fs::read_to_string(&marker).expect("resume left the old report unmarked");
    assert!(text.contains("stale"), "{text}");
    assert!(!kann_models::run::report_is_current(&run));
    // compare: a path that does not exist is an error naming it, not skipped.
    let missing = tmp.path().join("no-such-run");
    let o = analyze_bin()
        .arg("compare")
        .arg(&run)
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no-such-run"), "{err}");
}
