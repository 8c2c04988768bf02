//! `analyze copy` (App. D): planted systems whose answer is known, then end to end on a run
//! trained from `configs/copy-smoke.toml` (no data files needed: the task is generated).

mod html_check;

use std::path::{Path, PathBuf};

use analyze::CommonArgs;
use analyze::copy::predict::{ClassReadout, Predictor, one_step, rollout};
use analyze::copy::{CopyArgs, CopyReport, EXACT, KOOPMAN, LIN_BLANK, TRIVIAL, fixed_points_at};
use analyze::fixed_points::Trajectories;
use kann_data::copy::{CopyTask, generate};
use kann_dynamics::{Cell, CellKind, FixedPointOptions, Linearisation};

/// A linear shift register that stores the string perfectly: slot `k` (one-hot over the
/// alphabet) holds the symbol read `k` steps ago, `h_t = shift(h_{t−1}) + E x_t`, and the
/// readout reads the oldest slot (`memory_span` steps back) with the blank class at a constant
/// 0.5. It solves the copy task exactly, and it is linear, so the Koopman operator fitted on its
/// states must reproduce its outputs one step ahead and rolled out from the cue.
fn shift_register(
    task: &CopyTask,
    n: usize,
    seed: u64,
) -> (Trajectories, Vec<Vec<usize>>, ClassReadout) {
    let (a, d) = (task.symbols, task.memory_span());
    let k = (d + 1) * a;
    let seqs = generate(task, n, seed, "planted");
    let mut states = Vec::new();
    let mut inputs = Vec::new();
    for s in &seqs {
        let mut h = vec![0.0; k];
        let (mut st, mut xs) = (Vec::new(), Vec::new());
        for &tok in &s.input {
            let mut next = vec![0.0; k];
            next[a..].copy_from_slice(&h[..k - a]);
            if tok < a {
                next[tok] = 1.0;
            }
            h = next;
            st.extend_from_slice(&h);
            let mut x = vec![0.0; task.input_tokens()];
            x[tok] = 1.0;
            xs.extend_from_slice(&x);
        }
        states.push(st);
        inputs.push(xs);
    }
    let c = task.classes();
    let mut w = vec![0.0; k * c];
    for sym in 0..a {
        w[(d * a + sym) * c + sym] = 1.0;
    }
    let mut b = vec![0.0; c];
    b[task.blank()] = 0.5;
    let traj = Trajectories {
        state_dim: k,
        hidden: k,
        input_dim: task.input_tokens(),
        states,
        inputs,
        unit: "string",
    };
    let strings = seqs.iter().map(|s| s.string.clone()).collect();
    (traj, strings, ClassReadout::new(w, b, k).unwrap())
}

#[test]
fn koopman_reproduces_a_planted_linear_memory_and_the_trivial_predictor_does_not() {
    let task = CopyTask::new(3, 4, 2).unwrap();
    let (fit_traj, _, _) = shift_register(&task, 64, 1);
    let (held, strings, readout) = shift_register(&task, 64, 2);
    // The register itself recalls every string.
    let rec = task.recall_start();
    for (i, s) in strings.iter().enumerate() {
        for (j, &sym) in s.iter().enumerate() {
            assert_eq!(readout.class(held.state(i, rec + j)), sym);
        }
    }
    let k = held.hidden;
    let fit = analyze::kann::fit(&fit_traj.hidden_states().unwrap(), Some(k)).unwrap();
    let maps: Vec<_> = (1..=task.len)
        .map(|l| fit.model.multi_step_map(l))
        .collect();
    let koop = Predictor::Koopman(&maps);
    let one = one_step(&koop, &held, &strings, rec, &readout).unwrap();
    let roll = rollout(&koop, &held, &strings, rec, &readout).unwrap();
    assert!(one.agreement >= 0.99 && one.accuracy >= 0.99, "{one:?}");
    assert!(
        roll.symbol_accuracy >= 0.99 && roll.string_accuracy >= 0.97,
        "{roll:?}"
    );
    // Memory: the shift has eigenvalue 0 (nilpotent), yet its rolled-out powers keep the
    // string: memory here is the delay line, not |λ| near 1.
    let trivial = one_step(&Predictor::Trivial, &held, &strings, rec, &readout).unwrap();
    let trivial_roll = rollout(&Predictor::Trivial, &held, &strings, rec, &readout).unwrap();
    assert!(trivial.agreement < 0.6, "{trivial:?}");
    assert!(trivial_roll.string_accuracy < 0.2, "{trivial_roll:?}");
    // Too short a trajectory for the recall window is an error, not a panic.
    assert!(one_step(&koop, &held, &strings, 8, &readout).is_err());
}

/// A GRU whose weights are zero and whose biases are planted: `F(s) = (1 − z) ⊙ tanh(b_n) + z ⊙ s`
/// with `z = σ(b_z)`, so the fixed point is `tanh(b_n)` and the Jacobian is `diag(z)`; `F` is
/// affine, so its linearisation is exact.
#[test]
fn a_planted_gru_fixed_point_and_its_linearisation_are_found() {
    let (x_dim, h) = (6usize, 4usize);
    let bz = [5.0, 5.5, -1.0, 0.0];
    let bn = [0.3, -0.2, 0.5, 0.1];
    let mut b_x = vec![0.0; 3 * h];
    b_x[..h].copy_from_slice(&bz);
    b_x[2 * h..].copy_from_slice(&bn);
    let cell = Cell::new(
        CellKind::Gru,
        x_dim,
        h,
        vec![0.0; x_dim * 3 * h],
        b_x,
        vec![0.0; h * 3 * h],
        vec![0.0; 3 * h],
    )
    .unwrap();
    let readout = ClassReadout::new(
        (0..h * 5)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0)
            .collect(),
        vec![0.0; 5],
        h,
    )
    .unwrap();
    let starts: Vec<Vec<f64>> = (0..8)
        .map(|i| (0..h).map(|j| ((i + j) as f64 * 0.37).sin()).collect())
        .collect();
    let mut blank = vec![0.0; x_dim];
    blank[4] = 1.0;
    let (side, pts) = fixed_points_at(
        "blank",
        &cell,
        &blank,
        &starts,
        &FixedPointOptions::default(),
        &readout,
        0.99,
    )
    .unwrap();
    assert_eq!(pts.len(), 1, "{side:?}");
    for (j, v) in pts[0].iter().enumerate() {
        assert!((v - f64::tanh(bn[j])).abs() < 1e-8, "{:?}", pts[0]);
    }
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let top = &side.points[0].top_eigenvalues;
    assert!((top[0].modulus - sig(5.5)).abs() < 1e-10, "{top:?}");
    assert!((top[1].modulus - sig(5.0)).abs() < 1e-10, "{top:?}");
    assert_eq!(side.points[0].count_above_099, 2);
    assert!(!side.line_attractor);
    // Trajectories of the cell on copy-task inputs; the linearisation is the map itself.
    let task = CopyTask::new(2, 4, 3).unwrap();
    let seqs = generate(&task, 5, 3, "gru");
    let mut states = Vec::new();
    let mut inputs = Vec::new();
    for s in &seqs {
        let mut st = vec![0.0; h];
        let (mut ss, mut xs) = (Vec::new(), Vec::new());
        for &tok in &s.input {
            let mut x = vec![0.0; x_dim];
            x[tok] = 1.0;
            st = cell.map(&st, &cell.project_input(&x).unwrap()).unwrap();
            ss.extend_from_slice(&st);
            xs.extend_from_slice(&x);
        }
        states.push(ss);
        inputs.push(xs);
    }
    let traj = Trajectories {
        state_dim: h,
        hidden: h,
        input_dim: x_dim,
        states,
        inputs,
        unit: "string",
    };
    let strings: Vec<Vec<usize>> = seqs.iter().map(|s| s.string.clone()).collect();
    let lins = vec![Linearisation::new(&cell, &pts[0], &blank).unwrap()];
    let lin = Predictor::Linearised {
        points: &lins,
        input_term: true,
    };
    let r = task.recall_start();
    let one = one_step(&lin, &traj, &strings, r, &readout).unwrap();
    let roll = rollout(&lin, &traj, &strings, r, &readout).unwrap();
    let exact = rollout(&Predictor::Exact(&cell), &traj, &strings, r, &readout).unwrap();
    assert!(one.e_rel < 1e-20 && roll.e_rel < 1e-20, "{one:?} {roll:?}");
    assert_eq!(
        (one.agreement, roll.agreement, exact.agreement),
        (1.0, 1.0, 1.0)
    );
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn train_then_analyse_the_smoke_config_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("copy-smoke");
    let out = train::run_copy(&train::TrainArgs {
        config: Some(workspace().join("configs/copy-smoke.toml")),
        out: Some(run.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(out, run);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let acc = summary["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{summary}");
    assert!(run.join("copy_metrics.csv").is_file());
    let args = CopyArgs {
        common: CommonArgs {
            run: Some(run.clone()),
            batch: 32,
            ..Default::default()
        },
        held_out: 64,
        starts: 16,
        ..Default::default()
    };
    let report = analyze::copy::run_copy(&args).unwrap();
    // What was written is what was returned, and the analysis finished.
    let back: CopyReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    // (JSON keeps floats to the last digit or so, not bit for bit.)
    assert_eq!(
        (&back.command, &back.figures),
        (&report.command, &report.figures)
    );
    assert_eq!(back.predictors.len(), report.predictors.len());
    assert_eq!(back.koopman.rank, report.koopman.rank);
    assert!(!run.join("analysis.incomplete").exists());
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.contains("Which reproduces the network's outputs?"),
        "{md}"
    );
    // report.html and the verdict table of report.md, computed from report.json.
    let claims = analyze::report_html::copy::claims(&back);
    assert_eq!(claims.len(), 4);
    let html = html_check::check_report_html(&run, &claims, 2);
    assert!(!html.contains("<script"), "the copy page is static");
    assert_eq!((report.analysis_batch, report.held_out_batch), (32, 64));
    assert_eq!(report.task.memory_span, 3 + 4 + 1);
    let k = &report.koopman;
    assert_eq!(k.eigenvalues.len(), k.rank);
    assert!(k.modulus_for_span > 0.5 && k.modulus_for_span < 1.0);
    assert!(k.e_rel_fit.is_finite() && k.e_rel_fit >= 0.0);
    // The exact map in f64 is the network: it must reproduce every output.
    let exact = report.predictor(EXACT).unwrap();
    assert!(exact.one_step.e_rel < 1e-8, "{exact:?}");
    assert!(exact.rollout.agreement >= 0.99, "{exact:?}");
    assert!(
        (exact.rollout.symbol_accuracy - report.task.network_symbol_accuracy).abs() < 0.02,
        "{exact:?} vs {:?}",
        report.task
    );
    for name in [KOOPMAN, TRIVIAL] {
        let p = report.predictor(name).unwrap();
        assert_eq!(p.one_step.targets, 64 * 3);
        for v in [
            p.one_step.e_rel,
            p.one_step.agreement,
            p.rollout.symbol_accuracy,
        ] {
            assert!(v.is_finite() && v >= 0.0, "{name}: {p:?}");
        }
    }
    one_step_intervals_of_the_copy_run(&report, &back, &md);
    assert_eq!(report.fixed_points.len(), 2);
    if report.fixed_points[0].points.is_empty() {
        assert!(report.predictor(LIN_BLANK).is_none());
    }
    for f in report.figures.iter().filter(|f| f.ends_with(".png")) {
        let img = image::open(run.join(f)).unwrap().to_rgb8();
        assert!(img.width() > 100 && img.height() > 100, "{f}");
    }
    assert!(report.figures.iter().any(|f| f == "copy_predictors.png"));
    // Bad input: more sequences asked for than the run has, named with the config.
    let e = analyze::copy::run_copy(&CopyArgs {
        held_out: 1000,
        ..args.clone()
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("test sequences"), "{e:#}");
    fixed_points_on_the_copy_run(&run);
    training_on_the_copy_run(&run);
}

/// The bootstrap intervals of the one-step agreements (default `--bootstrap 200`): Koopman's
/// point is the report's, every interval is ordered and within [0, 1], Koopman's contains its
/// point; `report.json` and `report.md` carry them; the verdict rows are decided by them.
fn one_step_intervals_of_the_copy_run(report: &CopyReport, back: &CopyReport, md: &str) {
    let c = report
        .one_step_intervals
        .as_ref()
        .expect("intervals by default");
    assert_eq!(
        back.one_step_intervals
            .as_ref()
            .map(|b| b.resampling.replicates),
        Some(200)
    );
    assert_eq!(
        (
            c.resampling.replicates,
            c.held_out_sequences,
            c.batch_sequences
        ),
        (200, 64, 32)
    );
    assert!(c.resampling.failed < 10, "{c:?}");
    let k = report.predictor(KOOPMAN).unwrap();
    assert_eq!(c.targets, k.one_step.targets);
    assert!(
        (c.koopman.agreement - k.one_step.agreement).abs() < 1e-9,
        "{c:?} {k:?}"
    );
    let t = report.predictor(TRIVIAL).unwrap();
    assert_eq!(c.trivial.agreement, t.one_step.agreement);
    let [lo, hi] = c.koopman.agreement_ci;
    assert!(
        lo <= c.koopman.agreement && c.koopman.agreement <= hi,
        "{c:?}"
    );
    for a in [Some(&c.koopman), c.linearised.as_ref(), Some(&c.trivial)]
        .into_iter()
        .flatten()
    {
        let [lo, hi] = a.agreement_ci;
        assert!(0.0 <= lo && lo <= hi && hi <= 1.0, "{a:?}");
    }
    for d in [
        c.koopman_minus_linearised.as_ref(),
        Some(&c.koopman_minus_trivial),
    ]
    .into_iter()
    .flatten()
    {
        assert!(d.difference_ci[0] <= d.difference_ci[1], "{d:?}");
        assert!((-1.0..=1.0).contains(&d.difference), "{d:?}");
    }
    assert_eq!(c.linearised.is_some(), c.koopman_minus_linearised.is_some());
    assert!(md.contains("One-step agreement with the network, 95% percentile intervals over"));
    let claims = analyze::report_html::copy::claims(report);
    assert_eq!(
        claims[2].verdict,
        kann_plot::verdict_from_interval(c.koopman_minus_trivial.difference_ci, 0.01)
    );
    assert!(
        claims[2].ours.contains("Koopman − trivial"),
        "{:?}",
        claims[2]
    );
    if let Some(d) = &c.koopman_minus_linearised {
        assert_eq!(
            claims[3].verdict,
            kann_plot::verdict_from_interval(d.difference_ci, 0.01)
        );
    }
}

/// `analyze training` into the run folder runs under the analysis guard: its three reports are
/// written and no marker is left; `analyze copy`'s report is untouched.
fn training_on_the_copy_run(run: &Path) {
    let copy_json = std::fs::read(run.join("report.json")).unwrap();
    let args = analyze::training::TrainingArgs {
        runs: vec![run.to_path_buf()],
        out: None,
        k: 4,
    };
    let r = analyze::training::run_training(&args).unwrap();
    assert_eq!(r.runs.len(), 1);
    for f in ["training.json", "training.md", "training.html"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    assert!(!run.join("analysis.incomplete").exists());
    assert_eq!(std::fs::read(run.join("report.json")).unwrap(), copy_json);
}

/// `analyze fixed-points` on the copy run: the zero and the blank input, the readout's classes
/// scored, `analyze copy`'s report left alone; then a failure after a figure changed removes
/// the three fixed-point reports and leaves the marker.
fn fixed_points_on_the_copy_run(run: &Path) {
    let copy_page = std::fs::read(run.join("report.html")).unwrap();
    let args = analyze::fixed_points::FixedPointArgs {
        common: CommonArgs {
            run: Some(run.to_path_buf()),
            batch: 16,
            ..Default::default()
        },
        starts: 16,
        ..Default::default()
    };
    let r = analyze::fixed_points::run_fixed_points(&args).unwrap();
    assert_eq!((r.task.as_str(), r.batch), ("copy", 16));
    let inputs: Vec<&str> = r.inputs.iter().map(|i| i.input.as_str()).collect();
    assert_eq!(inputs, ["zero", "blank"]);
    for p in r.inputs.iter().flat_map(|i| &i.points) {
        assert!(p.class.is_some() && p.logit.is_none(), "{p:?}");
    }
    for c in &r.comparisons {
        let all = c.agreement_all_steps.expect("copy's classes are scored");
        assert_eq!(all.exact_map, 1.0, "{c:?}");
        assert!(c.e_rel.exact_map < 1e-8, "{c:?}");
    }
    for f in ["fixed_points.json", "fixed_points.md", "fixed_points.html"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    assert_eq!(std::fs::read(run.join("report.html")).unwrap(), copy_page);
    // A figure that cannot be replaced (a folder at its name), after the first figure changed.
    let blocked = run.join("fixed_point_spectra.svg");
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), "").unwrap();
    let err = format!(
        "{:#}",
        analyze::fixed_points::run_fixed_points(&args).unwrap_err()
    );
    assert!(err.contains("fixed_point_spectra.svg"), "{err}");
    for f in ["fixed_points.json", "fixed_points.md", "fixed_points.html"] {
        assert!(!run.join(f).exists(), "a stale {f} was left: {err}");
    }
    let marker = std::fs::read_to_string(run.join("analysis.incomplete")).expect("marker");
    assert!(marker.contains("It failed"), "{marker}");
    assert_eq!(std::fs::read(run.join("report.html")).unwrap(), copy_page);
}
