//! Reliability, second pass (issue 19), on the copy task (configs/copy-smoke.toml: no data files,
//! a run takes a second or two): a fresh run never overwrites what it did not write (class 1),
//! a symlinked `run.lock` is refused without touching its target (class 2), and a config that is
//! not a regular file is named as such (class 9).

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{run_err, run_ok, start_copy_smoke as start, train};

/// Every file under `dir` (relative name -> bytes); `run.lock` aside.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name() != "run.lock" {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_fresh_run_never_overwrites_files_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    // The user's own files of run-file names: refused, untouched, no run.lock left.
    for name in ["summary.json", "config.toml", "model.bpk"] {
        let dir = tmp.path().join(format!("user-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), "the user's own").unwrap();
        let err = run_err(&mut start(&dir));
        assert!(
            err.contains("kann did not write") || err.contains("already holds"),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            "the user's own"
        );
        assert!(!dir.join("run.lock").exists(), "{name}: run.lock left");
    }
    // A finished run whose checkpoint/LATEST was lost is still a run: not replaced.
    let run = tmp.path().join("finished");
    run_ok(&mut start(&run));
    std::fs::remove_file(run.join("checkpoint/LATEST")).unwrap();
    let before = tree(&run);
    let err = run_err(&mut start(&run));
    assert!(err.contains("already holds"), "{err}");
    assert!(!err.contains("--resume to continue"), "{err}");
    assert_eq!(tree(&run), before, "the finished run was changed");
}

#[cfg(unix)]
#[test]
fn a_symlinked_run_lock_is_refused_and_its_target_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    run_ok(&mut start(&run));
    let precious = tmp.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    std::fs::remove_file(run.join("run.lock")).unwrap();
    std::os::unix::fs::symlink(&precious, run.join("run.lock")).unwrap();
    let err = run_err(
        train()
            .args(["copy", "--resume", "--epochs", "3", "--out"])
            .arg(&run),
    );
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}

#[cfg(unix)]
#[test]
fn a_config_that_is_not_a_regular_file_is_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let err = run_err(
        train()
            .args(["copy", "--config", "/dev/zero", "--out"])
            .arg(tmp.path().join("r")),
    );
    assert!(err.contains("not a regular file"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    assert!(!tmp.path().join("r").exists());
}
