//! Issue 10: reading states safely (sizes checked before allocation), padded batches (NaN in
//! padding, fit on all steps / score on real ones), the layout checks and the residual flag.

mod common;

use common::*;
use kann_koopman::checks::{axis_smoothness, stacked_sequences, zero_rows};
use kann_koopman::faer::{Mat, c64};
use kann_koopman::io::*;
use kann_koopman::*;
use rand::RngExt;
use std::io::Write;

/// A version-1 `.npy` file with the given header dict and raw data bytes.
fn crafted_npy(path: &std::path::Path, dict: &str, data: &[u8]) {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(data).unwrap();
}

#[test]
fn an_array_larger_than_memory_is_an_error_naming_its_shape_not_an_abort() {
    // A valid header and a sparse file of the full size (64 GiB of f32, 128 GiB as f64): no disk
    // is used, and no machine this runs on has that much memory free.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.npy");
    crafted_npy(
        &path,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 1048576, 1024), }",
        &[],
    );
    let header = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(header + 16 * 1048576 * 1024 * 4).unwrap();
    let err = read_states_npy(&path).unwrap_err().to_string();
    assert!(
        err.contains("huge.npy")
            && err.contains("[16, 1048576, 1024]")
            && err.contains("128.0 GiB"),
        "{err}"
    );
}

#[test]
fn crafted_headers_give_errors_before_any_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    // A valid 128-byte file of shape (10^12, 0, 8): empty, and it must not size anything.
    crafted_npy(
        &p("empty.npy"),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 0, 8), }",
        &[],
    );
    assert_eq!(std::fs::metadata(p("empty.npy")).unwrap().len(), 128);
    let e = read_states_npy(p("empty.npy")).unwrap_err().to_string();
    assert!(
        e.contains("empty.npy") && e.contains("empty dimension"),
        "{e}"
    );
    let (data, shape) = read_float_npy(p("empty.npy")).unwrap();
    assert!(data.is_empty());
    assert_eq!(shape, vec![1_000_000_000_000, 0, 8]);
    // The same with the zero first: npyz's own stride arithmetic would overflow here.
    crafted_npy(
        &p("empty0.npy"),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775808, 4), }",
        &[],
    );
    let e = read_states_npy(p("empty0.npy")).unwrap_err().to_string();
    assert!(e.contains("empty dimension"), "{e}");
    // (2^63, 2, 1): the element count overflows 64 bits.
    crafted_npy(
        &p("huge.npy"),
        "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775808, 2, 1), }",
        &[0; 16],
    );
    let e = read_states_npy(p("huge.npy")).unwrap_err().to_string();
    assert!(e.contains("huge.npy") && e.contains("2^64"), "{e}");
    // A plausible shape the file does not hold the data for.
    crafted_npy(
        &p("short.npy"),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000, 256), }",
        &[0; 64],
    );
    let e = read_states_npy(p("short.npy")).unwrap_err().to_string();
    assert!(
        e.contains("needs 1024000000 data bytes, the file holds 64"),
        "{e}"
    );
    // A dimension beyond u64, a negative one, a structured dtype.
    for (name, dict, want) in [
        (
            "big_dim.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }",
            "not an integer below 2^64",
        ),
        (
            "neg.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 2), }",
            "not an integer",
        ),
        (
            "struct.npy",
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3, 2), }",
            "structured",
        ),
    ] {
        crafted_npy(&p(name), dict, &[0; 24]);
        let e = read_states_npy(p(name)).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(want), "{e}");
    }
    // A version-2 header length of 4 GiB in a 20-byte file.
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"{'descr'");
    std::fs::write(p("hdr.npy"), &bytes).unwrap();
    let e = read_states_npy(p("hdr.npy")).unwrap_err().to_string();
    assert!(e.contains("header length 4294967295"), "{e}");
    // Lengths with a huge shape are refused before reading as well.
    crafted_npy(
        &p("len.npy"),
        "{'descr': '<i8', 'fortran_order': False, 'shape': (9223372036854775808,), }",
        &[0; 8],
    );
    let e = read_lengths_npy(p("len.npy"), 4, 30)
        .unwrap_err()
        .to_string();
    assert!(e.contains("len.npy"), "{e}");
}

/// A GRU-like leaky tanh recurrence driven by inputs, `[s, n, k]`: states move a little per
/// step (`h ← 0.8 h + 0.2 tanh(W h + U x)`), as trained recurrent states do.
fn leaky_rnn(s: usize, n: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut r = rng(seed);
    let w = Mat::<f64>::from_fn(k, k, |_, _| 1.2 * normal(&mut r) / (k as f64).sqrt());
    let u: Vec<f64> = (0..k).map(|_| normal(&mut r)).collect();
    let mut data = vec![0.0; s * n * k];
    for i in 0..s {
        let mut h = vec![0.0; k];
        for t in 0..n {
            let x = 0.3 * normal(&mut r);
            h = (0..k)
                .map(|a| {
                    let z: f64 = (0..k).map(|b| w[(a, b)] * h[b]).sum::<f64>() + u[a] * x;
                    0.8 * h[a] + 0.2 * z.tanh()
                })
                .collect();
            data[(i * n + t) * k..(i * n + t + 1) * k].copy_from_slice(&h);
        }
    }
    data
}

#[test]
fn padded_steps_may_be_nan_and_fit_steps_all_scores_the_real_steps() {
    let (s, n, k) = (6, 40, 8);
    let lengths = vec![40, 25, 31, 12, 40, 18];
    let mut data = leaky_rnn(s, n, k, 1);
    for (i, &len) in lengths.iter().enumerate() {
        for x in &mut data[(i * n + len) * k..(i + 1) * n * k] {
            *x = 0.0;
        }
    }
    let padded = States::new_with_lengths(data.clone(), s, n, k, lengths.clone()).unwrap();
    assert!(padded.is_padded());
    let opts = |fit_steps| AnalysisOptions {
        fit_steps,
        ..AnalysisOptions::default()
    };
    // Fit on all steps == the fit on the zero-padded batch taken as it is; e_rel is scored on
    // the real steps, and on all steps separately.
    let all = analyze_states(&padded, &opts(FitSteps::All)).unwrap();
    let whole = States::from_f64(data.clone(), s, n, k).unwrap();
    let model = koopman_operator(&whole, &FitOptions::default()).unwrap();
    let spec = Spectrum::new(&model).unwrap();
    assert_eq!(all.num_pairs, s * (n - 1));
    assert_eq!(all.num_real_states, lengths.iter().sum::<usize>());
    for (e, l) in all.eigen.iter().zip(&spec.eigenvalues) {
        assert!((e.re - l.re).abs() < 1e-12 && (e.im - l.im).abs() < 1e-12);
    }
    let real = relative_error(&padded, &model).unwrap();
    assert_eq!(all.relative_error, real);
    assert_eq!(real.count, lengths.iter().map(|l| l - 1).sum::<usize>());
    let every = all.relative_error_all_steps.unwrap();
    assert_eq!(every, relative_error(&whole, &model).unwrap());
    // The zero padding is skipped as zero-norm targets on all steps, not on real steps.
    assert_eq!(
        every.zero_norm_skipped,
        s * n - lengths.iter().sum::<usize>()
    );
    assert_eq!(all.relative_error.zero_norm_skipped, 0);
    assert!(all.e_rel_steps.contains("real steps"));
    // Fit on real steps is a different fit (the padding no longer enters it).
    let real_fit = analyze_states(&padded, &opts(FitSteps::Real)).unwrap();
    assert_eq!(
        real_fit.num_pairs,
        lengths.iter().map(|l| l - 1).sum::<usize>()
    );
    assert!(real_fit.relative_error.e_rel != all.relative_error.e_rel);

    // NaN in the padded steps: reading and a fit on the real steps work, all steps cannot.
    let mut nan = data.clone();
    nan[(3 * n + 20) * k + 2] = f64::NAN; // sequence 3 has length 12
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nan.npy");
    write_float_npy(&file, &nan, &[s, n, k], NpyDtype::F32).unwrap();
    assert!(read_states_npy(&file).is_err(), "NaN read as a real step");
    let with_nan = read_states_array(&file, Layout::Bth, None)
        .unwrap()
        .into_states_with_lengths(lengths.clone())
        .unwrap();
    let rep = analyze_states(&with_nan, &opts(FitSteps::Real)).unwrap();
    assert!(rep.relative_error.e_rel.is_finite());
    assert!(rep.relative_error_all_steps.is_none());
    let e = analyze_states(&with_nan, &opts(FitSteps::All)).unwrap_err();
    assert!(
        matches!(
            e,
            KoopmanError::NonFinite {
                seq: 3,
                time: 20,
                unit: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(with_nan.with_all_steps().is_err());
}

#[test]
fn layouts_are_read_as_declared_and_mistakes_are_detected() {
    let (s, n, k) = (8, 50, 6);
    let data = leaky_rnn(s, n, k, 2);
    let dir = tempfile::tempdir().unwrap();
    // The same states written batch-major, time-major and stacked.
    let bth = dir.path().join("bth.npy");
    write_float_npy(&bth, &data, &[s, n, k], NpyDtype::F64).unwrap();
    let mut tbh_data = Vec::with_capacity(data.len());
    for t in 0..n {
        for i in 0..s {
            tbh_data.extend_from_slice(&data[(i * n + t) * k..(i * n + t + 1) * k]);
        }
    }
    let tbh = dir.path().join("tbh.npy");
    write_float_npy(&tbh, &tbh_data, &[n, s, k], NpyDtype::F64).unwrap();
    let flat = dir.path().join("flat.npy");
    write_float_npy(&flat, &data, &[s * n, k], NpyDtype::F64).unwrap();

    let a = read_states_array(&bth, Layout::Bth, None).unwrap();
    let b = read_states_array(&tbh, Layout::Tbh, None).unwrap();
    let c = read_states_array(&flat, Layout::Bth, Some(n)).unwrap();
    assert_eq!((b.s, b.n, b.k), (s, n, k));
    assert_eq!(b.file_shape, vec![n, s, k]);
    assert_eq!(a.data, b.data);
    assert_eq!(a.data, c.data);
    assert_eq!((c.s, c.n), (s, n));
    let e = read_states_array(&flat, Layout::Bth, Some(7)).unwrap_err();
    assert!(e.to_string().contains("not a whole number"), "{e}");

    let right = a.into_states().unwrap();
    assert!(!axis_smoothness(&right).looks_transposed());
    assert!(stacked_sequences(&right).is_none());
    // Time-major read as batch-major: the first axis is the smooth one.
    let wrong = read_states_array(&tbh, Layout::Bth, None)
        .unwrap()
        .into_states()
        .unwrap();
    let sm = axis_smoothness(&wrong);
    assert!(sm.looks_transposed(), "{sm:?}");
    // Stacked sequences: jumps every n steps.
    let one = read_states_npy(&flat).unwrap();
    let st = stacked_sequences(&one).expect("stacking not detected");
    assert_eq!((st.seq_len, st.sequences), (n, s));
    // A genuine long sequence, and a linear rotation, show no period.
    let long = States::from_f64(leaky_rnn(1, 400, k, 3), 1, 400, k).unwrap();
    assert!(stacked_sequences(&long).is_none());
    let rot = States::from_f64(
        (0..300)
            .flat_map(|t| {
                let a = 0.2 * t as f64;
                [a.cos(), a.sin()]
            })
            .collect(),
        1,
        300,
        2,
    )
    .unwrap();
    assert!(stacked_sequences(&rot).is_none());
    // e_rel of the right reading beats both wrong ones.
    let e = |st: &States| {
        let m = koopman_operator(st, &FitOptions::default()).unwrap();
        relative_error(st, &m).unwrap().e_rel
    };
    let (good, transposed, stacked) = (e(&right), e(&wrong), e(&one));
    assert!(
        transposed > 3.0 * good && stacked > good,
        "{good} {transposed} {stacked}"
    );
}

#[test]
fn zero_rows_are_counted_with_their_trailing_runs() {
    let (s, n, k) = (3, 10, 2);
    let mut data = vec![1.0; s * n * k];
    for t in 6..10 {
        data[(n + t) * k] = 0.0;
        data[(n + t) * k + 1] = 0.0;
    }
    data[2 * n * k + 4] = 0.0; // row (2, 2) half zero: not a zero row
    data[2 * n * k + 6] = 0.0;
    data[2 * n * k + 7] = 0.0; // row (2, 3) zero, not trailing
    let z = zero_rows(&States::from_f64(data.clone(), s, n, k).unwrap());
    assert_eq!(
        (z.rows, z.zero, z.trailing, z.sequences_with_trailing),
        (30, 5, 4, 1)
    );
    let z = zero_rows(&States::new_with_lengths(data, s, n, k, vec![10, 6, 10]).unwrap());
    assert_eq!((z.rows, z.zero, z.trailing), (26, 1, 0));
}

/// Two true modes pairs (a rotation 0.97∠0.2 and one 0.9∠0.6) in 4 latent dimensions embedded
/// in `k = 16` with isotropic measurement noise: rank 15 gives 4 true eigenvalues and 11 that
/// only fit noise.
fn embedded_system(noise: f64, seed: u64) -> (States, Vec<c64>) {
    let mut r = rng(seed);
    let truth = [
        c64::new(0.97 * 0.2f64.cos(), 0.97 * 0.2f64.sin()),
        c64::new(0.9 * 0.6f64.cos(), 0.9 * 0.6f64.sin()),
    ];
    let a = matrix_with_eigenvalues(&truth, &mut r);
    let (s, n, k, d) = (20, 60, 16, 4);
    let lat = simulate_linear(&a, s, n, &mut r);
    let emb = Mat::<f64>::from_fn(d, k, |_, _| normal(&mut r));
    let mut data = vec![0.0; s * n * k];
    for p in 0..s * n {
        for j in 0..k {
            let x: f64 = (0..d).map(|c| lat[p * d + c] * emb[(c, j)]).sum();
            data[p * k + j] = x + noise * normal(&mut r);
        }
    }
    (
        States::from_f64(data, s, n, k).unwrap(),
        full_spectrum(&truth),
    )
}

#[test]
fn residual_flag_marks_the_noise_modes_and_only_them() {
    let (states, truth) = embedded_system(1e-2, 7);
    let rep = analyze_states(&states, &AnalysisOptions::default()).unwrap();
    assert_eq!(rep.rank, 15);
    let mut true_modes = 0;
    for e in &rep.eigen {
        let l = c64::new(e.re, e.im);
        let is_true = truth.iter().any(|t| (l - t).norm() < 0.02);
        true_modes += usize::from(is_true);
        assert_eq!(e.spurious, !is_true, "{e:?}");
        assert!((e.snr - e.modulus / e.residual).abs() <= 1e-12 * e.snr);
    }
    assert_eq!(true_modes, 4);
    assert_eq!(rep.num_spurious, 11);
    // At ten times the noise a true mode has a residual above 0.1 (the old absolute rule
    // would call it spurious), yet it is resolved: its |lambda| / residual is far above 1.
    let (loud, _) = embedded_system(1e-1, 7);
    let rep = analyze_states(&loud, &AnalysisOptions::default()).unwrap();
    let true_modes: Vec<&EigenReport> = rep
        .eigen
        .iter()
        .filter(|e| {
            truth
                .iter()
                .any(|t| (c64::new(e.re, e.im) - t).norm() < 0.05)
        })
        .collect();
    assert_eq!(true_modes.len(), 4);
    assert!(
        true_modes.iter().any(|e| e.residual > 0.1),
        "{true_modes:?}"
    );
    assert!(true_modes.iter().all(|e| !e.spurious && e.snr > 3.0));
    assert_eq!(rep.num_spurious, 11);
    // Permutation null: with the time order shuffled within each sequence there are no
    // dynamics left to resolve, and the flag marks every mode.
    let (s, n, k) = (states.num_sequences(), states.seq_len(), states.hidden());
    let mut r = rng(8);
    let mut data = states.data().to_vec();
    for i in 0..s {
        for t in (1..n).rev() {
            let u = (r.random::<u64>() % (t as u64 + 1)) as usize;
            for j in 0..k {
                data.swap((i * n + t) * k + j, (i * n + u) * k + j);
            }
        }
    }
    let shuffled = States::from_f64(data, s, n, k).unwrap();
    let rep = analyze_states(&shuffled, &AnalysisOptions::default()).unwrap();
    assert_eq!(rep.num_spurious, 15, "{:?}", rep.eigen);
}

#[test]
fn residual_flag_does_not_fire_on_nearly_every_mode_of_gru_like_states() {
    // The old absolute rule (residual > 0.1) flagged 246 of 255 eigenvalues on real GRU states;
    // on these GRU-like states it flags 29 of 31. The data-relative flag keeps the slow modes.
    let (s, n, k) = (64, 200, 32);
    let states = States::from_f64(leaky_rnn(s, n, k, 2), s, n, k).unwrap();
    let rep = analyze_states(&states, &AnalysisOptions::default()).unwrap();
    let old = rep.eigen.iter().filter(|e| e.residual > 0.1).count();
    assert_eq!(rep.rank, 31);
    assert!(old >= 25, "old rule flagged {old}");
    assert!(rep.num_spurious <= 8, "{:?}", rep.eigen);
    assert!(
        rep.eigen
            .iter()
            .filter(|e| e.modulus > 0.9)
            .all(|e| !e.spurious)
    );
}
