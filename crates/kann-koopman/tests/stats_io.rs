//! Statistics, `.npy` I/O and bad-input handling.

mod common;

use common::*;
use kann_koopman::faer::{Mat, c64};
use kann_koopman::io::*;
use kann_koopman::*;

#[test]
fn silhouette_matches_hand_computed_values() {
    // Cluster A = {0, 1}, cluster B = {4, 6} on a line.
    let pts = Mat::<f64>::from_fn(4, 1, |i, _| [0.0, 1.0, 4.0, 6.0][i]);
    let s = silhouette(pts.as_ref(), &[0, 0, 1, 1]).unwrap();
    let want = [
        (5.0 - 1.0) / 5.0,
        (4.0 - 1.0) / 4.0,
        (3.5 - 2.0) / 3.5,
        (5.5 - 2.0) / 5.5,
    ];
    for (a, b) in s.values.iter().zip(want) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    assert!((s.mean - want.iter().sum::<f64>() / 4.0).abs() < 1e-15);
    // 2-D, three clusters, one singleton (its value is 0).
    let pts = Mat::<f64>::from_fn(4, 2, |i, j| {
        [[0.0, 0.0], [3.0, 4.0], [0.0, 8.0], [10.0, 0.0]][i][j]
    });
    let s = silhouette(pts.as_ref(), &[7, 7, 2, 9]).unwrap();
    // point 0: a = 5, b = min(d to {2}) = 8, d to {3} = 10 -> (8-5)/8
    assert!((s.values[0] - 3.0 / 8.0).abs() < 1e-15);
    // point 1: a = 5, to point 2: sqrt(9+16)=5, to 3: sqrt(49+16)=sqrt(65) -> b = 5 -> 0
    assert!(s.values[1].abs() < 1e-15);
    assert_eq!(s.values[2], 0.0);
    assert_eq!(s.values[3], 0.0);
    assert!(silhouette(pts.as_ref(), &[1, 1, 1, 1]).is_err());
    assert!(silhouette(pts.as_ref(), &[1, 2]).is_err());
}

#[test]
fn silhouette_over_time_and_cumulative_average() {
    // s = 4 samples, n = 2 steps, d = 1; step 0 as above, step 1 all far apart.
    let data = [0.0, 0.0, 1.0, 10.0, 4.0, 20.0, 6.0, 30.0];
    let per = silhouette_over_time(&data, 4, 2, 1, &[0, 0, 1, 1]).unwrap();
    assert_eq!(per.len(), 2);
    let cum = cumulative_time_average(&per);
    assert!((cum[0] - per[0].mean).abs() < 1e-15);
    assert!((cum[1] - 0.5 * (per[0].mean + per[1].mean)).abs() < 1e-15);
}

#[test]
fn median_and_mad() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    // [s=3, n=2]: columns (1, 2, 9) and (0, 0, 4)
    let (m, d) = median_mad_over_time(&[1.0, 0.0, 2.0, 0.0, 9.0, 4.0], 3, 2).unwrap();
    assert_eq!(m, vec![2.0, 0.0]);
    assert_eq!(d, vec![1.0, 0.0]);
}

#[test]
fn pca_finds_the_dominant_direction() {
    let mut r = rng(11);
    let dir = [0.6, 0.8, 0.0];
    let pts = Mat::<f64>::from_fn(500, 3, |_, _| 0.0);
    let mut pts = pts;
    for i in 0..500 {
        let a = 3.0 * normal(&mut r);
        for j in 0..3 {
            pts[(i, j)] = 5.0 + a * dir[j] + 0.01 * normal(&mut r);
        }
    }
    let pca = Pca::fit(pts.as_ref(), 2).unwrap();
    let c0: Vec<f64> = (0..3).map(|j| pca.components[(j, 0)]).collect();
    let dot: f64 = c0.iter().zip(dir).map(|(a, b)| a * b).sum();
    assert!(dot.abs() > 0.9999, "{c0:?}");
    assert!(pca.explained_variance_ratio[0] > 0.999);
    assert!((pca.mean[0] - 5.0).abs() < 0.5);
    let scores = pca.transform(pts.as_ref()).unwrap();
    assert_eq!(scores.ncols(), 2);
    assert!(Pca::fit(pts.as_ref(), 4).is_err());
}

#[test]
fn npy_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let states = simulate_rnn(5, 3, 7, 12);
    let p64 = dir.path().join("h64.npy");
    write_states_npy(&p64, &states, NpyDtype::F64).unwrap();
    let back = read_states_npy(&p64).unwrap();
    assert_eq!(back, states);
    let p32 = dir.path().join("h32.npy");
    write_states_npy(&p32, &states, NpyDtype::F32).unwrap();
    let back = read_states_npy(&p32).unwrap();
    for (a, b) in back.data().iter().zip(states.data()) {
        assert_eq!(*a, (*b as f32) as f64);
    }
    // [n, k] is one sequence.
    let p2 = dir.path().join("one.npy");
    write_float_npy(&p2, &states.data()[..7 * 5], &[7, 5], NpyDtype::F64).unwrap();
    let one = read_states_npy(&p2).unwrap();
    assert_eq!(
        (one.num_sequences(), one.seq_len(), one.hidden()),
        (1, 7, 5)
    );
    // lengths as [s] integers and as [s, n] mask.
    let pl = dir.path().join("len.npy");
    npyz::to_file_1d(&pl, vec![7i64, 3, 5]).unwrap();
    assert_eq!(read_lengths_npy(&pl, 3, 7).unwrap(), vec![7, 3, 5]);
    let pm = dir.path().join("mask.npy");
    let mask: Vec<f64> = (0..21)
        .map(|p| if p % 7 < [7, 3, 5][p / 7] { 1.0 } else { 0.0 })
        .collect();
    write_float_npy(&pm, &mask, &[3, 7], NpyDtype::F32).unwrap();
    assert_eq!(read_lengths_npy(&pm, 3, 7).unwrap(), vec![7, 3, 5]);
    // JSON.
    let pj = dir.path().join("r.json");
    write_json_atomic(&pj, &vec![1.0, 2.5]).unwrap();
    let v: Vec<f64> = serde_json::from_str(&std::fs::read_to_string(&pj).unwrap()).unwrap();
    assert_eq!(v, vec![1.0, 2.5]);
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| !n.to_string_lossy().contains(".tmp")),
        "{names:?}"
    );
}

#[test]
fn bad_npy_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pi = dir.path().join("ints.npy");
    npyz::to_file_1d(&pi, vec![1i32, 2, 3]).unwrap();
    let e = read_states_npy(&pi).unwrap_err().to_string();
    assert!(
        e.contains("ints.npy") && e.contains("not float32/float64"),
        "{e}"
    );
    let p1 = dir.path().join("flat.npy");
    write_float_npy(&p1, &[1.0, 2.0], &[2], NpyDtype::F32).unwrap();
    let e = read_states_npy(&p1).unwrap_err().to_string();
    assert!(e.contains("flat.npy") && e.contains("shape"), "{e}");
    let e = read_states_npy(dir.path().join("missing.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.npy"), "{e}");
    let pg = dir.path().join("garbage.npy");
    std::fs::write(&pg, b"not numpy").unwrap();
    assert!(
        read_states_npy(&pg)
            .unwrap_err()
            .to_string()
            .contains("garbage.npy")
    );
    // lengths longer than the sequence / wrong shape / not a prefix.
    let pl = dir.path().join("len.npy");
    npyz::to_file_1d(&pl, vec![3i64, 9]).unwrap();
    let e = read_lengths_npy(&pl, 2, 5).unwrap_err().to_string();
    assert!(e.contains("len.npy") && e.contains("length 9"), "{e}");
    assert!(
        read_lengths_npy(&pl, 3, 5)
            .unwrap_err()
            .to_string()
            .contains("shape")
    );
    let pm = dir.path().join("mask.npy");
    write_float_npy(&pm, &[1.0, 0.0, 1.0, 1.0, 1.0, 0.0], &[2, 3], NpyDtype::F64).unwrap();
    let e = read_lengths_npy(&pm, 2, 3).unwrap_err().to_string();
    assert!(e.contains("not a prefix"), "{e}");
    // NaN / Inf in a written file are named by index.
    let mut data = vec![0.5; 2 * 3 * 4];
    data[(3 + 2) * 4 + 1] = f64::INFINITY;
    let pn = dir.path().join("nan.npy");
    write_float_npy(&pn, &data, &[2, 3, 4], NpyDtype::F32).unwrap();
    let e = read_states_npy(&pn).unwrap_err().to_string();
    assert!(e.contains("sequence 1, time 2, unit 1"), "{e}");
}

#[test]
fn bad_inputs_give_errors_not_panics() {
    // NaN names its index.
    let mut data = vec![1.0; 2 * 4 * 3];
    data[(4 + 1) * 3 + 2] = f64::NAN;
    let e = States::from_f64(data.clone(), 2, 4, 3).unwrap_err();
    assert!(
        matches!(
            e,
            KoopmanError::NonFinite {
                seq: 1,
                time: 1,
                unit: 2,
                ..
            }
        ),
        "{e}"
    );
    // ... but NaN in padding is fine.
    assert!(States::new_with_lengths(data, 2, 4, 3, vec![4, 1]).is_ok());
    // Shape mismatch.
    assert!(States::from_f64(vec![0.0; 5], 2, 2, 2).is_err());
    // Lengths longer than the sequence, zero, wrong count.
    assert!(States::new_with_lengths(vec![0.0; 8], 2, 2, 2, vec![3, 1]).is_err());
    assert!(States::new_with_lengths(vec![0.0; 8], 2, 2, 2, vec![0, 1]).is_err());
    assert!(States::new_with_lengths(vec![0.0; 8], 2, 2, 2, vec![2]).is_err());
    // Fewer than two time steps: no pair.
    let one_step = States::from_f64(vec![1.0, 2.0, 3.0, 4.0], 2, 1, 2).unwrap();
    let e = koopman_operator(&one_step, &FitOptions::default()).unwrap_err();
    assert!(matches!(e, KoopmanError::NotEnoughData(_)), "{e}");
    assert!(relative_error(&one_step, &dummy_model(2)).is_err());
    // Rank larger than the data allows.
    let states = simulate_rnn(6, 2, 3, 13);
    for r in [0, 5, 7] {
        let e = koopman_operator(
            &states,
            &FitOptions {
                rank: Rank::Fixed(r),
                ..FitOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(e, KoopmanError::InvalidRank { .. }),
            "rank {r}: {e}"
        );
    }
    // Rank above the numerical rank of rank-deficient states.
    let mut r = rng(14);
    let a = matrix_with_eigenvalues(&[c64::new(0.9, 0.2)], &mut r);
    let lat = simulate_linear(&a, 3, 20, &mut r);
    let data: Vec<f64> = lat
        .chunks(2)
        .flat_map(|x| [x[0], x[1], x[0] + x[1]])
        .collect();
    let lowrank = States::from_f64(data, 3, 20, 3).unwrap();
    let e = koopman_operator(
        &lowrank,
        &FitOptions {
            rank: Rank::Fixed(3),
            ..FitOptions::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("numerical rank 2"), "{e}");
    let m = koopman_operator(&lowrank, &FitOptions::default()).unwrap();
    assert_eq!(m.rank(), 2);
    // Bad parameters.
    assert!(
        koopman_operator(
            &states,
            &FitOptions {
                rank: Rank::Energy(1.5),
                ..FitOptions::default()
            }
        )
        .is_err()
    );
    assert!(
        koopman_operator(
            &states,
            &FitOptions {
                estimator: Estimator::Ridge { alpha: -1.0 },
                ..FitOptions::default()
            }
        )
        .is_err()
    );
    // Streaming: wrong batch size, NaN in a batch adds nothing.
    let mut acc = GramAccumulator::new(3);
    assert!(acc.push_f32(&[0.0; 5], 1, 2, None).is_err());
    assert!(
        acc.push_f32(&[0.0, 1.0, f32::NAN, 1.0, 1.0, 1.0], 1, 2, None)
            .is_err()
    );
    assert_eq!(acc.num_states(), 0);
    assert!(acc.push_f32(&[0.0; 6], 1, 2, Some(&[3])).is_err());
    assert!(acc.push(&states).is_err(), "hidden dimension mismatch");
}

fn dummy_model(k: usize) -> KoopmanModel {
    let states = simulate_rnn(k, 3, 10, 15);
    koopman_operator(&states, &FitOptions::default()).unwrap()
}

#[test]
fn ill_conditioned_eigenvectors_are_refused() {
    // A defective operator (Jordan block): V is singular.
    let mut model = dummy_model(3);
    let r = model.rank();
    let mut c = Mat::<f64>::zeros(r, r);
    for i in 0..r {
        c[(i, i)] = 0.9;
        if i + 1 < r {
            c[(i, i + 1)] = 1.0;
        }
    }
    model.koopman_operator = c;
    let e = Spectrum::new(&model).unwrap_err();
    assert!(
        matches!(e, KoopmanError::IllConditionedEigenvectors { .. }),
        "{e}"
    );
    // A strict limit refuses an ordinary spectrum too.
    let model = dummy_model(6);
    let s = Spectrum::new(&model).unwrap();
    assert!(s.v_condition >= 1.0);
    assert!(Spectrum::with_condition_limit(&model, 0.5).is_err());
}

#[test]
fn analyze_states_report_is_consistent() {
    let states = simulate_rnn(10, 6, 40, 16);
    let rep = analyze_states(&states, &AnalysisOptions::default()).unwrap();
    assert_eq!(rep.rank, 9);
    assert_eq!(rep.eigen.len(), 9);
    assert_eq!(rep.num_pairs, 6 * 39);
    let mut ranks: Vec<usize> = rep.eigen.iter().map(|e| e.dominance_rank).collect();
    ranks.sort();
    assert_eq!(ranks, (0..9).collect::<Vec<_>>());
    let json = serde_json::to_string(&rep).unwrap();
    let back: StatesReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.rank, rep.rank);
}
