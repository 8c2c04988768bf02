//! `analyze` never leaves a run folder that silently mixes two analyses, names the file a
//! failed write was for, prints errors on one line, and lists only each task's own flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use analyze::{CommonArgs, EcgArgs};
use kann_models::run::ANALYSIS_INCOMPLETE_FILE;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn analyze_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_analyze"));
    c.current_dir(workspace());
    c
}

fn figures(run: &Path) -> Vec<String> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    report["figures"]
        .as_array()
        .expect("report.json lists its figures")
        .iter()
        .map(|f| f["png"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_failed_analysis_is_marked_incomplete_and_never_beside_a_report() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("ecg");
    train::run_ecg(&train::TrainArgs {
        config: Some(workspace().join("configs/ecg-smoke.toml")),
        out: Some(run.clone()),
        data_dir: Some(data.clone()),
        ..Default::default()
    })
    .expect("train ecg smoke");
    let args: EcgArgs = CommonArgs {
        run: Some(run.clone()),
        data_dir: Some(data.clone()),
        batch: 32,
        // The guard is under test, not the intervals (e2e checks those): no resampling.
        bootstrap: 0,
        ..Default::default()
    }
    .into();
    let marker = run.join(ANALYSIS_INCOMPLETE_FILE);
    analyze::run_ecg(&args).expect("first analysis");
    assert!(!marker.exists() && run.join("report.json").is_file());
    let pngs = figures(&run);

    // A figure that cannot be written (a folder sits at its name): the error names the file,
    // and the folder holds either the old report and no marker (nothing was touched) or a
    // marker and no report.
    let blocked = run.join(&pngs[pngs.len() / 2]);
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), "").unwrap();
    let err = format!("{:#}", analyze::run_ecg(&args).unwrap_err());
    let name = blocked.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains(&name), "the error does not name {name}: {err}");
    assert_ne!(
        marker.exists(),
        run.join("report.json").exists(),
        "report.json beside a marker, or neither: {err}"
    );
    std::fs::remove_dir_all(&blocked).unwrap();

    // The disk "fills" at the very end (report.json cannot be written): every figure is new,
    // so the report goes and the marker names the error and the files written.
    analyze::run_ecg(&args).expect("analysis after unblocking");
    std::fs::remove_file(run.join("report.json")).unwrap();
    std::fs::create_dir(run.join("report.json")).unwrap();
    std::fs::write(run.join("report.json").join("keep"), "").unwrap();
    let err = format!("{:#}", analyze::run_ecg(&args).unwrap_err());
    assert!(err.contains(ANALYSIS_INCOMPLETE_FILE), "{err}");
    let note = std::fs::read_to_string(&marker).expect("marker left");
    assert!(
        note.contains("It failed") && note.contains("report.json"),
        "{note}"
    );
    assert!(note.contains(&pngs[0]), "{note}");
    assert!(
        !run.join("report.md").exists(),
        "a stale report.md was left"
    );
    assert!(
        !run.join("report.html").exists(),
        "a stale report.html was left"
    );

    // Running again repairs it: report back, marker gone.
    std::fs::remove_dir_all(run.join("report.json")).unwrap();
    analyze::run_ecg(&args).expect("analysis after repair");
    assert!(!marker.exists() && run.join("report.json").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn errors_are_one_line_without_a_backtrace() {
    let out = analyze_bin()
        .args(["ecg", "--run", "/nonexistent/run-folder"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("run-folder"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn help_lists_each_tasks_own_flags() {
    let help = |task: &str| {
        let out = analyze_bin().args([task, "--help"]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Flags of one task only, by task.
    let imdb_only = [
        "--context-cap",
        "--stream-batch",
        "--fit-steps",
        "--min-word-count",
        "--min-word-test-count",
    ];
    let ecg_only = ["--pairing", "--skip-robustness"];
    let (ecg, imdb) = (help("ecg"), help("imdb"));
    for (text, own, other) in [
        (&ecg, &ecg_only[..], &imdb_only[..]),
        (&imdb, &imdb_only, &ecg_only),
    ] {
        for flag in own {
            assert!(text.contains(flag), "{flag} missing:\n{text}");
        }
        for flag in other {
            assert!(!text.contains(flag), "{flag} listed:\n{text}");
        }
        // The shared flags, with their defaults.
        for flag in [
            "--run <RUN>",
            "--data-dir",
            "--batch <BATCH>",
            "--rank",
            "--seed <SEED>",
        ] {
            assert!(text.contains(flag), "{flag} missing:\n{text}");
        }
        assert!(
            text.contains("[default: 64]") && text.contains("[default: 0]"),
            "{text}"
        );
        assert!(text.contains("results/ of the workspace"), "{text}");
    }
    assert!(imdb.contains("[default: real]") && ecg.contains("[default: conjugate]"));
}
