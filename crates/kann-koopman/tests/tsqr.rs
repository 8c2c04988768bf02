//! The TSQR fit ([`TsqrAccumulator`]) against the Gram fit: the same estimator on well-conditioned
//! data, independent of the merge order, and markedly more accurate on ill-conditioned states.

mod common;

use common::*;
use kann_koopman::faer::{Mat, MatRef, c64};
use kann_koopman::*;

fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut d = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            d = d.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    d
}

fn max_abs(a: MatRef<'_, f64>) -> f64 {
    max_abs_diff(a, Mat::<f64>::zeros(a.nrows(), a.ncols()).as_ref())
}

/// `Ω` entry-wise relative to the largest entry of `b`.
fn rel_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    max_abs_diff(a, b) / max_abs(b).max(f64::MIN_POSITIVE)
}

fn eigenvalues(model: &KoopmanModel) -> Vec<c64> {
    Spectrum::new(model).unwrap().eigenvalues
}

fn gram_fit(states: &States, options: &FitOptions) -> KoopmanModel {
    let mut acc = GramAccumulator::new(states.hidden());
    acc.push(states).unwrap();
    acc.finish(options).unwrap()
}

fn tsqr_fit(states: &States, options: &FitOptions) -> KoopmanModel {
    let mut acc = TsqrAccumulator::new(states.hidden());
    acc.push_states(states).unwrap();
    acc.finish(options).unwrap()
}

/// Nonlinear RNN states (well conditioned) with ragged lengths, so that the sequences' seams
/// and padding matter.
fn ragged_rnn() -> States {
    let states = simulate_rnn(10, 7, 50, 3);
    let lengths = vec![50, 1, 17, 2, 50, 33, 8];
    states.with_lengths(lengths).unwrap()
}

#[test]
fn r_factor_holds_the_grams() {
    let states = ragged_rnn();
    let k = states.hidden();
    let mut gram = GramAccumulator::new(k);
    gram.push(&states).unwrap();
    let grams = gram.grams();
    let mut tsqr = TsqrAccumulator::new(k);
    tsqr.push_states(&states).unwrap();
    let r = tsqr.r();
    let (r11, r12, r22) = (
        r.submatrix(0, 0, k, k),
        r.submatrix(0, k, k, k),
        r.submatrix(k, k, k, k),
    );
    // Upper triangular with a non-negative diagonal.
    for j in 0..2 * k {
        assert!(r[(j, j)] >= 0.0);
        for i in j + 1..2 * k {
            assert_eq!(r[(i, j)], 0.0, "R[{i}, {j}]");
        }
    }
    let g0 = r11.transpose() * r11;
    let g01 = r11.transpose() * r12;
    let g1 = r12.transpose() * r12 + r22.transpose() * r22;
    let g = &g0 + tsqr.r_last().transpose() * tsqr.r_last();
    for (name, got, want) in [
        ("G0", &g0, &grams.g0),
        ("G01", &g01, &grams.g01),
        ("G1", &g1, &grams.g1),
        ("G", &g, &grams.g),
    ] {
        let d = rel_diff(got.as_ref(), want.as_ref());
        assert!(d < 1e-13, "{name}: relative difference {d:e}");
    }
    assert_eq!(tsqr.num_states(), grams.num_states);
    assert_eq!(tsqr.num_pairs(), grams.num_pairs);
    assert_eq!(tsqr.num_states(), 50 + 1 + 17 + 2 + 50 + 33 + 8);
    assert_eq!(tsqr.num_pairs(), tsqr.num_states() - 7);
}

#[test]
fn tsqr_fit_equals_gram_fit_for_every_estimator() {
    let states = ragged_rnn();
    let estimators = [
        Estimator::LeastSquares,
        Estimator::ExactDmd,
        Estimator::TotalLeastSquares,
        Estimator::Ridge { alpha: 0.05 },
    ];
    for estimator in estimators {
        for rank in [Rank::Fixed(6), Rank::ReferenceDefault, Rank::Energy(0.9)] {
            let options = FitOptions {
                rank,
                estimator,
                ..FitOptions::default()
            };
            let g = gram_fit(&states, &options);
            let t = tsqr_fit(&states, &options);
            let what = format!("{estimator} {rank:?}");
            assert_eq!(t.method, FitMethod::Tsqr);
            assert_eq!(g.rank(), t.rank(), "{what}");
            for (name, a, b) in [
                ("basis", &t.basis, &g.basis),
                ("operator", &t.koopman_operator, &g.koopman_operator),
                ("readout", &t.readout, &g.readout),
                ("A0", &t.coefficient_grams.a0, &g.coefficient_grams.a0),
                ("A01", &t.coefficient_grams.a01, &g.coefficient_grams.a01),
                ("A1", &t.coefficient_grams.a1, &g.coefficient_grams.a1),
            ] {
                let d = rel_diff(a.as_ref(), b.as_ref());
                assert!(d < 1e-10, "{what}: {name} differs by {d:e}");
            }
            for (x, y) in t.singular_values.iter().zip(&g.singular_values) {
                assert!(
                    (x - y).abs() < 1e-10 * g.singular_values[0],
                    "{what}: σ {x} {y}"
                );
            }
            assert!(
                (t.condition / g.condition - 1.0).abs() < 1e-8,
                "{what}: condition {} vs {}",
                t.condition,
                g.condition
            );
            let d = eig_distance(&eigenvalues(&t), &eigenvalues(&g));
            assert!(d < 1e-10, "{what}: eigenvalues differ by {d:e}");
            assert_eq!((t.num_states, t.num_pairs), (g.num_states, g.num_pairs));
        }
    }
}

#[test]
fn batches_of_f32_and_f64_with_lengths_equal_one_push() {
    let states = ragged_rnn();
    let (s, n, k) = (7, 50, states.hidden());
    let lengths = states.lengths().to_vec();
    let whole = tsqr_fit(&states, &FitOptions::default());
    // The padded data (zeros past each length) in two batches, given as f32 and as f64.
    let mut data = vec![0.0f64; s * n * k];
    for (i, &len) in lengths.iter().enumerate() {
        data[i * n * k..(i * n + len) * k].copy_from_slice(states.sequence_slice(i));
    }
    let mut acc = TsqrAccumulator::new(k);
    acc.push_f64(&data[..3 * n * k], 3, n, Some(&lengths[..3]))
        .unwrap();
    acc.push_f64(&data[3 * n * k..], 4, n, Some(&lengths[3..]))
        .unwrap();
    assert_eq!(acc.num_sequences(), 7);
    let batched = acc.finish(&FitOptions::default()).unwrap();
    let d = rel_diff(
        batched.koopman_operator.as_ref(),
        whole.koopman_operator.as_ref(),
    );
    assert!(d < 1e-12, "{d:e}");
    // f32 input: the same as the Gram fit of the same f32 values.
    let f32s: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    let mut t = TsqrAccumulator::new(k);
    t.push_f32(&f32s, s, n, Some(&lengths)).unwrap();
    let mut g = GramAccumulator::new(k);
    g.push_f32(&f32s, s, n, Some(&lengths)).unwrap();
    let (t, g) = (
        t.finish(&FitOptions::default()).unwrap(),
        g.finish(&FitOptions::default()).unwrap(),
    );
    let d = rel_diff(t.koopman_operator.as_ref(), g.koopman_operator.as_ref());
    assert!(d < 1e-10, "{d:e}");
}

/// A long batch (more pairs than one core's gathering buffer) so that several QRs per core and
/// the stacking of the cores' factors run.
#[test]
fn long_sequences_equal_the_gram_fit() {
    let states = simulate_rnn(12, 3, 900, 11);
    let options = FitOptions {
        rank: Rank::Fixed(10),
        ..FitOptions::default()
    };
    let g = gram_fit(&states, &options);
    let t = tsqr_fit(&states, &options);
    let d = rel_diff(t.koopman_operator.as_ref(), g.koopman_operator.as_ref());
    assert!(d < 1e-10, "{d:e}");
    let d = eig_distance(&eigenvalues(&t), &eigenvalues(&g));
    assert!(d < 1e-10, "{d:e}");
}

#[test]
fn merge_order_does_not_matter() {
    let states = simulate_rnn(8, 12, 40, 5);
    let k = states.hidden();
    let parts: Vec<TsqrAccumulator> = (0..6)
        .map(|p| {
            let mut acc = TsqrAccumulator::new(k);
            let lengths: Vec<usize> = (0..2).map(|i| 10 + 5 * p + 3 * i).collect();
            let mut data = Vec::new();
            for i in 0..2 {
                data.extend_from_slice(states.sequence_slice(2 * p + i));
            }
            acc.push_f64(&data, 2, 40, Some(&lengths)).unwrap();
            acc
        })
        .collect();
    let mut sequential = parts[0].clone();
    for p in &parts[1..] {
        sequential.merge(p).unwrap();
    }
    // ((0 + 1) + (2 + 3)) + (5 + 4): a tree, with one pair swapped.
    let pair = |a: &TsqrAccumulator, b: &TsqrAccumulator| {
        let mut m = a.clone();
        m.merge(b).unwrap();
        m
    };
    let left = pair(&pair(&parts[0], &parts[1]), &pair(&parts[2], &parts[3]));
    let tree = pair(&left, &pair(&parts[5], &parts[4]));
    assert_eq!(tree.num_sequences(), 12);
    assert_eq!(tree.num_pairs(), sequential.num_pairs());
    let d = rel_diff(tree.r(), sequential.r());
    assert!(d < 1e-12, "R differs by {d:e}");
    let options = FitOptions {
        rank: Rank::Fixed(8),
        ..FitOptions::default()
    };
    let (a, b) = (
        tree.finish(&options).unwrap(),
        sequential.finish(&options).unwrap(),
    );
    let d = rel_diff(a.koopman_operator.as_ref(), b.koopman_operator.as_ref());
    assert!(d < 1e-12, "operator differs by {d:e}");
    let d = eig_distance(&eigenvalues(&a), &eigenvalues(&b));
    assert!(d < 1e-12, "eigenvalues differ by {d:e}");
    // And the parts' round trip through plain data changes nothing.
    let back = TsqrAccumulator::from_parts(&tree.to_parts()).unwrap();
    assert_eq!(back.to_parts(), tree.to_parts());
}

/// A planted linear system whose states are badly conditioned although its operator is not:
/// `x_t = P D^t c` with `D` block diagonal (eigenvalues known), a random well-conditioned `P`,
/// and the mode of eigenvalue 0.9 excited `1e-6` times less than the others (`c` standard
/// normal but that coordinate). The states have a singular value ~1e-6 of the largest (above the
/// numerical-rank cut of `1e-7`), so `X~ᵀX~` has condition ~4e12, while the operator (`D`
/// conjugated by `P`) has well-conditioned eigenvectors. Noise free, so the least squares is exact and every
/// error is rounding. Returns the states `[20, 60, 6]` and the planted spectrum.
fn ill_conditioned_system() -> (States, Vec<c64>) {
    let mut r = rng(7);
    let truth = [
        c64::new(0.97, 0.12),
        c64::new(0.9, 0.0),
        c64::new(0.7, 0.0),
        c64::new(-0.5, 0.0),
        c64::new(0.3, 0.0),
    ];
    let k = 6;
    let mut d = Mat::<f64>::zeros(k, k);
    let (re, im) = (truth[0].re, truth[0].im);
    d[(0, 0)] = re;
    d[(0, 1)] = -im;
    d[(1, 0)] = im;
    d[(1, 1)] = re;
    for (i, l) in truth[1..].iter().enumerate() {
        d[(i + 2, i + 2)] = l.re;
    }
    let p = Mat::<f64>::from_fn(k, k, |a, b| {
        (if a == b { 1.0 } else { 0.0 }) + 0.3 * normal(&mut r)
    });
    let (s, n) = (20, 60);
    let mut data = Vec::with_capacity(s * n * k);
    for _ in 0..s {
        let mut c = Mat::<f64>::from_fn(k, 1, |_, _| normal(&mut r));
        c[(2, 0)] *= 1e-6; // the mode of eigenvalue 0.9
        for _ in 0..n {
            let x = p.as_ref() * c.as_ref();
            data.extend((0..k).map(|i| x[(i, 0)]));
            c = d.as_ref() * c.as_ref();
        }
    }
    (
        States::from_f64(data, s, n, k).unwrap(),
        full_spectrum(&truth),
    )
}

#[test]
fn ill_conditioned_system_tsqr_beats_gram() {
    let (states, truth) = ill_conditioned_system();
    let options = FitOptions {
        rank: Rank::Fixed(states.hidden()),
        ..FitOptions::default()
    };
    let g = gram_fit(&states, &options);
    let t = tsqr_fit(&states, &options);
    let err_gram = eig_distance(&eigenvalues(&g), &truth);
    let err_tsqr = eig_distance(&eigenvalues(&t), &truth);
    eprintln!(
        "condition of X~ᵀX~: gram {:.3e}, tsqr {:.3e}; max |Δλ| against the planted eigenvalues: gram {err_gram:.2e}, tsqr {err_tsqr:.2e}",
        g.condition, t.condition
    );
    assert!(t.condition > 1e12, "not ill conditioned: {:e}", t.condition);
    assert!(err_tsqr < 1e-8, "TSQR error {err_tsqr:e}");
    assert!(
        err_gram > 1e-6 && err_gram > 1e4 * err_tsqr,
        "Gram {err_gram:e} vs TSQR {err_tsqr:e}"
    );
    // The Gram fit warns about its condition; the QR system (its square root) is fine.
    assert!(g.warnings.iter().any(|w| w.contains("condition")));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // The in-memory fit's fallback (SVD + QR on all the data) agrees with TSQR.
    let direct = koopman_operator(&states, &options).unwrap();
    assert_eq!(direct.method, FitMethod::DirectLstsq);
    let d = eig_distance(&eigenvalues(&direct), &truth);
    assert!(d < 1e-8, "direct error {d:e}");
}

#[test]
fn bad_input_is_an_error() {
    let states = ragged_rnn();
    let mut a = TsqrAccumulator::new(10);
    a.push_states(&states).unwrap();
    let mut b = TsqrAccumulator::new(9);
    assert!(matches!(b.merge(&a), Err(KoopmanError::Shape(_))));
    assert!(matches!(
        b.push_states(&states),
        Err(KoopmanError::Shape(_))
    ));
    assert!(matches!(
        b.push_f64(&[0.0; 10], 1, 1, None),
        Err(KoopmanError::Shape(_))
    ));
    assert!(matches!(
        b.push_f64(&[f64::NAN; 9], 1, 1, None),
        Err(KoopmanError::NonFinite { .. })
    ));
    assert_eq!(b.num_states(), 0, "a bad batch adds nothing");
    // Parts of the wrong size, non-finite, or not triangular.
    let good = a.to_parts();
    let mut short = good.clone();
    short.r.pop();
    assert!(matches!(
        TsqrAccumulator::from_parts(&short),
        Err(KoopmanError::Shape(_))
    ));
    let mut nan = good.clone();
    nan.r_last[0] = f64::NAN;
    assert!(TsqrAccumulator::from_parts(&nan).is_err());
    let mut lower = good.clone();
    lower.r[20] = 1.0; // row 1, column 0 of the 20 × 20 R
    let e = TsqrAccumulator::from_parts(&lower).unwrap_err();
    assert!(e.to_string().contains("upper triangular"), "{e}");
    // Nothing to fit: no pairs, or a rank the data cannot support.
    let mut single = TsqrAccumulator::new(3);
    single.push_f64(&[1.0, 2.0, 3.0], 1, 1, None).unwrap();
    assert!(matches!(
        single.finish(&FitOptions::default()),
        Err(KoopmanError::NotEnoughData(_))
    ));
    let too_big = FitOptions {
        rank: Rank::Fixed(11),
        ..FitOptions::default()
    };
    assert!(matches!(
        a.finish(&too_big),
        Err(KoopmanError::InvalidRank { .. })
    ));
}
