//! A tiny sweep end to end: `train sweep` (ECG smoke config, two cells x two seeds) trains four
//! runs, a second call skips them all, and `analyze compare` analyses them and writes one table
//! with per-cell statistics, spectral distances and figures.

use std::path::{Path, PathBuf};

use kann_models::cells::CellKind;
use kann_models::config::Task;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn tiny_ecg_sweep_trains_skips_and_compares() {
    let Some(data) = kann_data::testdata::shared_data_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let opts = train::sweep::SweepOptions {
        task: Task::Ecg,
        cells: vec![CellKind::Gru, CellKind::Lstm],
        seeds: vec![1, 2],
        epochs: Some(1),
        config: Some(workspace().join("configs/ecg-smoke.toml")),
        data_dir: Some(data.clone()),
        out: out.clone(),
    };
    let runs = train::sweep::run(&opts).expect("sweep");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r.status == "trained"), "{runs:?}");
    assert!(runs.iter().all(|r| r.test_accuracy.is_some()));
    assert_eq!(
        runs.iter()
            .map(|r| r.dir.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        ["gru-s1", "gru-s2", "lstm-s1", "lstm-s2"]
    );
    // Resumable: finished runs are skipped.
    let again = train::sweep::run(&opts).expect("second sweep");
    assert!(again.iter().all(|r| r.status == "skipped"), "{again:?}");
    assert!(out.join("sweep.json").is_file());

    let dirs: Vec<PathBuf> = runs.iter().map(|r| r.dir.clone()).collect();
    let args = analyze::CompareArgs {
        runs: dirs
            .iter()
            .cloned()
            .chain([out.join("sweep.json")])
            .collect(),
        out: None,
        reanalyze: false,
        k: 8,
        data_dir: Some(data),
        batch: 32,
        seed: 0,
    };
    let report = analyze::compare::run_compare(&args).expect("compare");
    assert_eq!(
        report.rows.len(),
        4,
        "sweep.json is not a run and is ignored"
    );
    for r in &report.rows {
        for key in [
            "test_accuracy",
            "count_above_099",
            "e_rel",
            "agreement_kann",
            "sigma_koopman",
        ] {
            assert!(r.values[key].is_some(), "{} has no {key}", r.run.display());
        }
        assert!(!r.top_eigenvalues.is_empty());
        assert!(r.run.join("report.json").is_file(), "each run analysed");
    }
    assert_eq!(report.cells.len(), 2);
    assert_eq!(report.cells["gru"]["e_rel"].n, 2);
    let d = &report.distances;
    for (i, row) in d.iter().enumerate() {
        assert_eq!(row[i], 0.0);
        for (j, &dij) in row.iter().enumerate() {
            assert!((dij - d[j][i]).abs() < 1e-12 && dij.is_finite());
        }
    }
    assert!(report.mean_distance_within_cells.is_some());
    for f in [
        "compare.md",
        "compare.json",
        "compare.csv",
        "compare_spectra.png",
        "compare_numbers.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "header + one row per run");
    // compare.html: self-contained, the verdict rows of the cells, the numbers of compare.json.
    let page = std::fs::read_to_string(out.join("compare.html")).expect("compare.html");
    kann_plot::check_self_contained(&page).unwrap();
    assert!(page.len() < kann_plot::MAX_HTML_BYTES);
    assert_eq!(page.matches("<svg").count(), 2, "both figures inline");
    let verdicts = page.matches("<td class=\"v-").count();
    assert_eq!(
        verdicts, 3,
        "one agreement row per cell and the distance row"
    );
    let within = format!("{:.4}", report.mean_distance_within_cells.unwrap());
    assert!(page.contains(&within), "{within} not on the page");
    let e = report.cells["gru"]["e_rel"];
    let cell = format!("{:.4} ± {:.4} (n=2)", e.mean, e.sd);
    assert!(page.contains(&cell), "{cell} not on the page");

    // Runs of two tasks are refused.
    let imdb_like = tmp.path().join("not-a-run");
    std::fs::create_dir_all(&imdb_like).unwrap();
    let err = analyze::compare::run_compare(&analyze::CompareArgs {
        runs: vec![dirs[0].clone(), imdb_like],
        ..args
    })
    .expect_err("a folder without config.toml");
    assert!(format!("{err:#}").contains("not-a-run"), "{err:#}");
}
